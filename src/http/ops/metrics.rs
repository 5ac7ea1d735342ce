//! `GET /metrics`: Prometheus text format, encoded by `prometheus-client` from the live counters
//! at scrape time (nothing is kept twice).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::http::AppState;
use crate::stats::Stats;

/// Mailboxes labelled one by one (the largest); the rest are summed under `mailbox="_other"`, so
/// a thousand CI jobs never make a thousand series.
pub const MAX_MAILBOX_LABELS: usize = 50;

/// Messages and unread messages per mailbox, labelled, within [`MAX_MAILBOX_LABELS`].
fn mailbox_gauges(e: &mut DescriptorEncoder, state: &AppState) -> Result<(), std::fmt::Error> {
    let mut boxes = state.mailboxes.list();
    gauge(e, "mailsnare_mailboxes", "Mailboxes", boxes.len() as i64)?;
    if boxes.is_empty() {
        return Ok(());
    }
    boxes.sort_by(|a, b| {
        b.counts
            .total
            .cmp(&a.counts.total)
            .then(a.name.cmp(&b.name))
    });
    let mut rows: Vec<(String, usize, usize)> = boxes
        .iter()
        .take(MAX_MAILBOX_LABELS)
        .map(|b| (b.name.to_string(), b.counts.total, b.counts.unread))
        .collect();
    if boxes.len() > MAX_MAILBOX_LABELS {
        let rest = &boxes[MAX_MAILBOX_LABELS..];
        rows.push((
            "_other".into(),
            rest.iter().map(|b| b.counts.total).sum(),
            rest.iter().map(|b| b.counts.unread).sum(),
        ));
    }
    for (name, help, pick) in [
        (
            "mailsnare_mailbox_messages",
            "Messages in each mailbox",
            (|r: &(String, usize, usize)| r.1) as fn(&(String, usize, usize)) -> usize,
        ),
        (
            "mailsnare_mailbox_messages_unread",
            "Unread messages in each mailbox",
            |r: &(String, usize, usize)| r.2,
        ),
    ] {
        let probe = ConstGauge::new(0i64);
        let mut family = e.encode_descriptor(name, help, None, probe.metric_type())?;
        for row in &rows {
            let labels = [("mailbox".to_string(), row.0.clone())];
            let value = i64::try_from(pick(row)).unwrap_or(i64::MAX);
            ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

/// Reads the store, the counters and the event hub when Prometheus scrapes.
#[derive(Debug)]
struct Snapshot {
    state: AppState,
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for Snapshot {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let counts = self.state.store.counts();
        let stats = &self.state.stats;
        let activity = self.state.store.activity();
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        gauge(
            &mut e,
            "mailsnare_messages",
            "Messages stored",
            as_i64(counts.total as u64),
        )?;
        gauge(
            &mut e,
            "mailsnare_messages_unread",
            "Unread messages stored",
            as_i64(counts.unread as u64),
        )?;
        gauge(
            &mut e,
            "mailsnare_stored_bytes",
            "Raw bytes of the messages stored",
            as_i64(counts.bytes),
        )?;
        counter(
            &mut e,
            "mailsnare_smtp_sessions",
            "SMTP sessions started",
            Stats::get(&stats.smtp_sessions),
        )?;
        gauge(
            &mut e,
            "mailsnare_smtp_connections",
            "SMTP connections open",
            as_i64(Stats::get(&stats.smtp_open)),
        )?;
        counter(
            &mut e,
            "mailsnare_smtp_tls_sessions",
            "SMTP sessions encrypted with TLS",
            Stats::get(&stats.smtp_tls_sessions),
        )?;
        counter(
            &mut e,
            "mailsnare_smtp_accepted",
            "Messages accepted over SMTP",
            Stats::get(&stats.smtp_accepted),
        )?;
        counter(
            &mut e,
            "mailsnare_smtp_accepted_bytes",
            "Bytes of messages accepted over SMTP",
            Stats::get(&stats.smtp_accepted_size),
        )?;
        counter(
            &mut e,
            "mailsnare_smtp_rejected",
            "SMTP transaction steps refused (MAIL, RCPT, DATA, size, store)",
            Stats::get(&stats.smtp_rejected),
        )?;
        counter(
            &mut e,
            "mailsnare_messages_deleted",
            "Messages deleted by clients",
            activity.deleted,
        )?;
        counter(
            &mut e,
            "mailsnare_messages_evicted",
            "Messages evicted by the store's limits",
            activity.evicted,
        )?;
        gauge(
            &mut e,
            "mailsnare_websocket_clients",
            "Live-update clients (WebSocket and event streams)",
            as_i64(self.state.hub.client_count() as u64),
        )?;
        gauge(
            &mut e,
            "mailsnare_waiting_requests",
            "Long polls (wait=) waiting for a matching message",
            as_i64(
                self.state
                    .waiting
                    .load(std::sync::atomic::Ordering::Relaxed) as u64,
            ),
        )?;
        // At the root only: a mailbox's own metrics are its store's, above.
        if !self.state.store.is_mailbox() {
            mailbox_gauges(&mut e, &self.state)?;
        }
        gauge(
            &mut e,
            "mailsnare_uptime_seconds",
            "Seconds since start",
            as_i64(stats.started.elapsed().as_secs()),
        )?;
        gauge(
            &mut e,
            "mailsnare_resident_memory_bytes",
            "Resident memory",
            as_i64(crate::stats::resident_bytes()),
        )?;
        Ok(())
    }
}

/// GET /metrics
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot { state }));
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &registry) {
        tracing::warn!("encoding metrics failed: {e}");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

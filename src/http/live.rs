//! Live updates, for both APIs, from one hub. The hub task turns each store event into the frames
//! of every wire format that has clients, once per format: Mailpit's WebSocket frames
//! (`/api/events`: `new`, `delete`, `truncate`, `update`, `stats`), MailHog's WebSocket frames
//! (`/api/v2/websocket`: each new message's JSON) and MailHog's Server-Sent Events
//! (`/api/v1/events`: the same JSON as `data:`). Every client forwards the shared bytes.
//!
//! Each client has its own queue, bounded in bytes: a client that stops reading is dropped (a
//! WebSocket is closed with code 1013, "reload") instead of holding memory or slowing anyone else.
//! The number of clients is bounded too.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::ws::Utf8Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};

use super::AppState;
use super::error::AppError;
use super::mailhog::model::Message as MailhogMessage;
use super::mailpit::model::MessageSummary;
use super::websocket::{Incoming, Socket, Upgrade};
use crate::store::{Event, Store};

/// WebSocket close code 1013 ("try again later"): the client fell behind and must reload.
pub const CLOSE_LAGGED: u16 = 1013;
/// How often the hub looks at the event rate.
pub const WINDOW: Duration = Duration::from_millis(100);
/// More events than this in one window is a flood (500/s): Mailpit frames are coalesced.
pub const FLOOD_EVENTS: usize = 50;
/// More frame deliveries than this in one window (events times clients, 20 000/s) is a flood
/// too: with many clients, writing every frame to each would take the CPU from ingest.
pub const FLOOD_DELIVERIES: usize = 2000;
/// How often an idle event stream sends a comment, so proxies and clients keep the connection.
pub const KEEPALIVE: Duration = Duration::from_secs(15);
/// Frames written per flush: a client that has fallen behind catches up in few syscalls.
const WRITE_BATCH: usize = 64;
/// EXT frame: changes were coalesced; reload what is shown.
pub const RESYNC: &str = r#"{"Type":"resync","Data":null}"#;

/// Bounds of the live streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveLimits {
    /// Bytes queued for one client before it is dropped.
    pub client_queue: usize,
    /// Concurrent live clients (all formats together); more are answered 503.
    pub max_clients: usize,
}

impl Default for LiveLimits {
    fn default() -> Self {
        LiveLimits {
            client_queue: crate::config::DEFAULT_LIVE_CLIENT_QUEUE as usize,
            max_clients: crate::config::DEFAULT_MAX_LIVE_CLIENTS,
        }
    }
}

/// The wire formats, each serialized once per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `/api/events`: Mailpit's typed frames.
    Mailpit,
    /// `/api/v2/websocket`: MailHog Message JSON per new message.
    MailhogSocket,
    /// `/api/v1/events`: the same JSON as Server-Sent Events.
    MailhogEvents,
}

/// The shared hub: clients subscribe; [`Hub::run`] feeds them. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    limits: LiveLimits,
    clients: Mutex<HashMap<u64, Client>>,
    next_id: AtomicU64,
    /// Live clients of this hub and its siblings (the mailboxes' hubs): `max_clients` bounds
    /// them all together.
    total: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct Client {
    format: Format,
    tx: mpsc::UnboundedSender<Utf8Bytes>,
    /// Bytes handed to this client and not yet written by it.
    queued: Arc<AtomicUsize>,
}

/// One client's end: frames in order, until it lags, the hub ends or the client goes.
#[derive(Debug)]
pub struct Subscription {
    id: u64,
    rx: mpsc::UnboundedReceiver<Utf8Bytes>,
    queued: Arc<AtomicUsize>,
    hub: Arc<Inner>,
}

/// What a subscription yields.
#[derive(Debug)]
pub enum Next {
    Frame(Utf8Bytes),
    /// The client fell more than its queue behind and was dropped.
    Lagged,
}

impl Hub {
    pub fn new(limits: LiveLimits) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                limits,
                clients: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                total: Arc::default(),
            }),
        }
    }

    /// A hub of its own (a mailbox's) whose clients count against this one's bound.
    pub fn sibling(&self) -> Hub {
        Hub {
            inner: Arc::new(Inner {
                limits: self.inner.limits,
                clients: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                total: Arc::clone(&self.inner.total),
            }),
        }
    }

    fn clients(&self) -> MutexGuard<'_, HashMap<u64, Client>> {
        lock(&self.inner)
    }

    /// A new client of `format`; `None` when the client limit is reached.
    pub fn subscribe(&self, format: Format) -> Option<Subscription> {
        let mut clients = self.clients();
        let total = &self.inner.total;
        if total.fetch_add(1, Ordering::Relaxed) >= self.inner.limits.max_clients {
            total.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        clients.insert(
            id,
            Client {
                format,
                tx,
                queued: Arc::clone(&queued),
            },
        );
        Some(Subscription {
            id,
            rx,
            queued,
            hub: Arc::clone(&self.inner),
        })
    }

    /// The bounds this hub was made with.
    pub fn limits(&self) -> LiveLimits {
        self.inner.limits
    }

    /// How many live clients are connected.
    pub fn client_count(&self) -> usize {
        self.clients().len()
    }

    fn has(&self, format: Format) -> bool {
        self.clients().values().any(|c| c.format == format)
    }

    fn count(&self, format: Format) -> usize {
        self.clients()
            .values()
            .filter(|c| c.format == format)
            .count()
    }

    /// Hands `frame` to every client of `format`; drops those whose queue would overflow.
    fn send(&self, format: Format, frame: &Utf8Bytes) {
        let budget = self.inner.limits.client_queue;
        let mut clients = self.clients();
        clients.retain(|_, client| {
            if client.format != format {
                return true;
            }
            let queued = client.queued.fetch_add(frame.len(), Ordering::Relaxed) + frame.len();
            // One frame larger than the whole budget still goes to a client that is keeping up.
            if queued > budget && queued > frame.len() {
                return false;
            }
            client.tx.send(frame.clone()).is_ok()
        });
    }

    /// Feeds clients from `events` until the store is gone. Under a flood (a test suite sending
    /// thousands of messages a second) per-message Mailpit frames would cost every client a frame
    /// per message and take CPU from ingest, and no person can read them: Mailpit clients then
    /// get an EXT `resync` frame and the totals once per window, and a last `resync` when the
    /// flood ends. MailHog clients get every new message (their tests wait for specific ones).
    pub async fn run(self, store: Store, mut events: broadcast::Receiver<Event>) {
        let mut tick = tokio::time::interval(WINDOW);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut in_window = 0usize;
        let mut flooding = false;
        // Changes were coalesced since the last `resync`.
        let mut dirty = false;
        loop {
            tokio::select! {
                event = events.recv() => {
                    let event = match event {
                        Ok(event) => event,
                        // The hub itself fell behind: what clients hold is stale.
                        Err(RecvError::Lagged(_)) => {
                            flooding = true;
                            dirty = true;
                            continue;
                        }
                        Err(RecvError::Closed) => return,
                    };
                    self.mailhog(&event);
                    in_window += 1;
                    // Counting clients takes the lock: only while not yet known to be flooding.
                    if !flooding
                        && (in_window > FLOOD_EVENTS
                            || in_window.saturating_mul(self.count(Format::Mailpit))
                                > FLOOD_DELIVERIES)
                    {
                        flooding = true;
                    }
                    if flooding {
                        dirty = true;
                        continue;
                    }
                    if !self.has(Format::Mailpit) {
                        continue;
                    }
                    self.send(Format::Mailpit, &mailpit_frame(&event));
                    // One stats frame per burst, not per event: sent once the queue is drained.
                    if events.is_empty() {
                        self.send(Format::Mailpit, &stats_frame(&store));
                    }
                }
                _ = tick.tick() => {
                    if dirty && self.has(Format::Mailpit) {
                        self.send(Format::Mailpit, &Utf8Bytes::from_static(RESYNC));
                        self.send(Format::Mailpit, &stats_frame(&store));
                    }
                    dirty = false;
                    let deliveries = in_window.saturating_mul(self.count(Format::Mailpit));
                    if in_window <= FLOOD_EVENTS && deliveries <= FLOOD_DELIVERIES {
                        flooding = false;
                    }
                    in_window = 0;
                }
            }
        }
    }

    /// MailHog's streams carry only new messages, serialized once for both of them.
    fn mailhog(&self, event: &Event) {
        let Event::New(message) = event else {
            return;
        };
        let (socket, events) = (
            self.has(Format::MailhogSocket),
            self.has(Format::MailhogEvents),
        );
        if !socket && !events {
            return;
        }
        let json = match serde_json::to_string(&MailhogMessage::new(message)) {
            Ok(json) => json,
            Err(e) => {
                tracing::warn!(id = %message.id, "cannot serialize message: {e}");
                return;
            }
        };
        if events {
            self.send(
                Format::MailhogEvents,
                &Utf8Bytes::from(format!("data: {json}\n\n")),
            );
        }
        if socket {
            self.send(Format::MailhogSocket, &Utf8Bytes::from(json));
        }
    }
}

fn lock(inner: &Inner) -> MutexGuard<'_, HashMap<u64, Client>> {
    // Client bookkeeping stays consistent whatever panicked while holding the lock.
    inner.clients.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Subscription {
    /// The next frame; `None` when the hub or the server is gone.
    pub async fn next(&mut self) -> Option<Next> {
        match self.rx.recv().await {
            Some(frame) => Some(Next::Frame(frame)),
            None => self.ended(),
        }
    }

    /// A frame already queued, without waiting.
    fn try_next(&mut self) -> Option<Next> {
        match self.rx.try_recv() {
            Ok(frame) => Some(Next::Frame(frame)),
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => self.ended(),
        }
    }

    /// The channel closed: lagged if the hub dropped this client while it still exists.
    fn ended(&self) -> Option<Next> {
        let dropped = !lock(&self.hub).contains_key(&self.id);
        dropped.then_some(Next::Lagged)
    }

    /// Records that `bytes` of the queue were written out.
    fn written(&self, bytes: usize) {
        self.queued.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        lock(&self.hub).remove(&self.id);
        self.hub.total.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The Mailpit frame for one store event.
pub fn mailpit_frame(event: &Event) -> Utf8Bytes {
    let value = match event {
        Event::New(m) => json!({"Type": "new", "Data": MessageSummary::new(m)}),
        Event::Deleted(id) => json!({"Type": "delete", "Data": {"ID": id.to_string()}}),
        Event::Cleared => json!({"Type": "truncate", "Data": null}),
        Event::Read { id, read } => {
            json!({"Type": "update", "Data": {"ID": id.to_string(), "Read": read}})
        }
        Event::Tags { id, tags } => {
            json!({"Type": "update", "Data": {"ID": id.to_string(), "Tags": tags}})
        }
    };
    Utf8Bytes::from(value.to_string())
}

fn stats_frame(store: &Store) -> Utf8Bytes {
    let counts = store.counts();
    let stats = json!({"Type": "stats", "Data": {"Total": counts.total, "Unread": counts.unread,
        "Version": env!("CARGO_PKG_VERSION")}});
    Utf8Bytes::from(stats.to_string())
}

fn too_many() -> AppError {
    AppError::Unavailable("too many live-update clients; try again later")
}

/// A WebSocket handler for `format`: forwards the hub's frames until the client goes.
pub async fn websocket(state: AppState, upgrade: Upgrade, format: Format) -> Response {
    let Some(frames) = state.hub.subscribe(format) else {
        return too_many().into_response();
    };
    let stopping = state.stopping();
    upgrade.on_upgrade(move |socket| forward(socket, frames, stopping))
}

/// GET /api/events (Mailpit).
pub async fn mailpit_socket(State(state): State<AppState>, upgrade: Upgrade) -> Response {
    websocket(state, upgrade, Format::Mailpit).await
}

/// GET /api/v2/websocket (MailHog): one text frame per new message, nothing else.
pub async fn mailhog_socket(State(state): State<AppState>, upgrade: Upgrade) -> Response {
    websocket(state, upgrade, Format::MailhogSocket).await
}

/// Writes the hub's frames to the client; a reader task answers the client's pings and closes
/// (reading is not cancel-safe, so it never races the writes in one `select!`).
async fn forward(socket: Socket, mut frames: Subscription, stopping: impl Future<Output = ()>) {
    let Socket {
        mut reader,
        mut writer,
    } = socket;
    let (control, mut controls) = mpsc::channel::<Incoming>(4);
    let reading = tokio::spawn(async move {
        loop {
            let incoming = reader.next().await;
            let last = !matches!(incoming, Incoming::Ping(_) | Incoming::Other);
            if !matches!(incoming, Incoming::Other) && control.send(incoming).await.is_err() {
                return;
            }
            if last {
                return;
            }
        }
    });
    let mut stopping = std::pin::pin!(stopping);
    loop {
        tokio::select! {
            () = &mut stopping => {
                let _ = writer.close(Some(1001), "server shutting down").await;
                break;
            }
            control = controls.recv() => match control {
                Some(Incoming::Ping(payload)) => {
                    if writer.pong(&payload).await.is_err() {
                        break;
                    }
                }
                Some(Incoming::Refused(code)) => {
                    let _ = writer.close(Some(code), "frame refused").await;
                    break;
                }
                Some(Incoming::Close) | None => {
                    let _ = writer.close(Some(1000), "").await;
                    break;
                }
                Some(Incoming::Other) => {}
            },
            next = frames.next() => {
                // Everything already queued goes out together, flushed every WRITE_BATCH frames.
                let mut next = next;
                let mut written = 0;
                let mut ended = false;
                while let Some(item) = next.take() {
                    match item {
                        Next::Frame(frame) => {
                            let sent = writer.text(&frame).await;
                            frames.written(frame.len());
                            if sent.is_err() {
                                ended = true;
                                break;
                            }
                        }
                        Next::Lagged => {
                            let _ = writer.close(Some(CLOSE_LAGGED), "lagged: reload").await;
                            ended = true;
                            break;
                        }
                    }
                    written += 1;
                    if written % WRITE_BATCH == 0 && writer.flush().await.is_err() {
                        ended = true;
                        break;
                    }
                    next = frames.try_next();
                }
                // `None` from the hub: the server is going away.
                if ended || written == 0 || writer.flush().await.is_err() {
                    break;
                }
            }
        }
    }
    reading.abort();
}

/// GET /api/v1/events (MailHog): one `data:` event per new message, and a keepalive comment when
/// idle. The stream ends at shutdown, or graceful shutdown would wait for it forever.
pub async fn mailhog_events(State(state): State<AppState>) -> Response {
    let Some(frames) = state.hub.subscribe(Format::MailhogEvents) else {
        return too_many().into_response();
    };
    let stopping = Box::pin(state.stopping());
    let stream = futures_util::stream::unfold(
        (frames, stopping),
        |(mut frames, mut stopping)| async move {
            let next = tokio::select! {
                () = &mut stopping => return None,
                next = tokio::time::timeout(KEEPALIVE, frames.next()) => next,
            };
            let bytes = match next {
                Err(_idle) => Bytes::from_static(b":\n\n"),
                Ok(Some(Next::Frame(frame))) => {
                    frames.written(frame.len());
                    Bytes::from(frame)
                }
                Ok(Some(Next::Lagged) | None) => return None,
            };
            Some((Ok::<_, Infallible>(bytes), (frames, stopping)))
        },
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_stops_reading_is_dropped_at_its_byte_budget() {
        let hub = Hub::new(LiveLimits {
            client_queue: 1000,
            max_clients: 2,
        });
        let mut slow = hub.subscribe(Format::Mailpit).expect("room");
        let mut fast = hub.subscribe(Format::Mailpit).expect("room");
        assert!(hub.subscribe(Format::MailhogSocket).is_none(), "client cap");
        let frame = Utf8Bytes::from("x".repeat(300));
        for _ in 0..3 {
            hub.send(Format::Mailpit, &frame);
            // The fast client writes each frame out.
            match fast.try_next() {
                Some(Next::Frame(f)) => fast.written(f.len()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(hub.client_count(), 2);
        hub.send(Format::Mailpit, &frame);
        assert_eq!(
            hub.client_count(),
            1,
            "1200 queued bytes is over the slow client's budget"
        );
        let mut got = 0;
        while let Some(next) = slow.try_next() {
            match next {
                Next::Frame(_) => got += 1,
                Next::Lagged => break,
            }
        }
        assert_eq!(got, 3, "what was queued before the drop is still delivered");
        assert!(matches!(fast.try_next(), Some(Next::Frame(_))));
        drop(fast);
        assert_eq!(hub.client_count(), 0);
    }

    #[test]
    fn one_frame_bigger_than_the_budget_reaches_a_client_that_keeps_up() {
        let hub = Hub::new(LiveLimits {
            client_queue: 10,
            max_clients: 1,
        });
        let mut client = hub.subscribe(Format::MailhogSocket).expect("room");
        hub.send(Format::MailhogSocket, &Utf8Bytes::from("y".repeat(100)));
        assert!(matches!(client.try_next(), Some(Next::Frame(f)) if f.len() == 100));
    }
}

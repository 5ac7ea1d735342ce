//! Live-update fan-out benchmark: SMTP ingest rate (driven by postfix's `smtp-source`, 16 kept-alive
//! sessions) with no WebSocket clients, then with 200 clients on `/api/events`; prints both rates,
//! the change, and how each client ended up (a frame per message, or a final `resync` when the hub
//! coalesced a flood, or told to reload).
//!
//! Run: `cargo bench --bench fanout` (needs postfix's smtp-source: `apt-get install postfix`).
//! `BENCH_MESSAGES` (default 20 000) and `BENCH_CLIENTS` (default 200) change the load. Under
//! `cargo test` it runs 500 messages and 20 clients as a smoke test.

#[path = "common/mod.rs"]
mod common;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mailsnare::{Config, Server};
use tokio_tungstenite::tungstenite::Message;

#[derive(Default)]
struct Tally {
    /// Per-message `new` frames received.
    new_frames: AtomicUsize,
    /// The last `new` or `resync` frame was a `resync`: whatever was coalesced before it, the
    /// client's view is whole again.
    resynced_after: AtomicBool,
    /// Closed with 1013: told to reload.
    lagged: AtomicBool,
}

async fn connect(http: std::net::SocketAddr, count: usize) -> Vec<Arc<Tally>> {
    let mut tallies = Vec::new();
    for _ in 0..count {
        let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{http}/api/events"))
            .await
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let tally = Arc::new(Tally::default());
        tallies.push(Arc::clone(&tally));
        tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                match frame {
                    Message::Text(text) if text.contains("\"Type\":\"new\"") => {
                        tally.new_frames.fetch_add(1, Ordering::Relaxed);
                        tally.resynced_after.store(false, Ordering::Relaxed);
                    }
                    Message::Text(text) if text.contains("\"Type\":\"resync\"") => {
                        tally.resynced_after.store(true, Ordering::Relaxed);
                    }
                    Message::Close(Some(close)) if u16::from(close.code) == 1013 => {
                        tally.lagged.store(true, Ordering::Relaxed);
                        return;
                    }
                    _ => {}
                }
            }
        });
    }
    tallies
}

/// Runs smtp-source against a fresh server with `clients` WebSocket clients; returns msg/s.
async fn run(messages: usize, clients: usize) -> f64 {
    let mut config = Config::ephemeral();
    config.store.max_messages = messages * 2;
    config.store.max_bytes = 8 << 30;
    let server = Server::bind(config)
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let smtp = server.smtp_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    let http = server.http_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    let store = server.store();
    let (stop_server, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let tallies = connect(http, clients).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        // Debian installs it in /usr/sbin, which is not on every user's PATH.
        let program = ["/usr/sbin/smtp-source", "/usr/bin/smtp-source"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("smtp-source");
        std::process::Command::new(program)
            .args([
                "-d",
                "-s",
                "16",
                "-m",
                &messages.to_string(),
                "-l",
                "2048",
                "-f",
                "a@example.com",
                "-t",
                "b@example.com",
            ])
            .arg(smtp.to_string())
            .status()
    })
    .await
    .unwrap_or_else(|e| panic!("smtp-source task: {e}"))
    .unwrap_or_else(|e| panic!("smtp-source (apt-get install postfix): {e}"));
    let elapsed = started.elapsed();
    assert!(status.success(), "smtp-source failed: {status}");
    assert_eq!(
        store.counts().total,
        messages,
        "every acknowledged message is stored"
    );
    let rate = messages as f64 / elapsed.as_secs_f64();

    // The hub sends its final resync within a window or two of the flood ending.
    tokio::time::sleep(Duration::from_secs(2)).await;
    if clients > 0 {
        let every = tallies
            .iter()
            .filter(|t| t.new_frames.load(Ordering::Relaxed) == messages)
            .count();
        let resynced = tallies
            .iter()
            .filter(|t| t.resynced_after.load(Ordering::Relaxed))
            .count();
        let lagged = tallies
            .iter()
            .filter(|t| t.lagged.load(Ordering::Relaxed))
            .count();
        let frames: Vec<usize> = tallies
            .iter()
            .map(|t| t.new_frames.load(Ordering::Relaxed))
            .collect();
        println!(
            "  {clients} clients: {every} got a frame per message, {resynced} a final resync, {lagged} were told to \
             reload (1013); per-message frames each: min {} max {}",
            frames.iter().min().copied().unwrap_or(0),
            frames.iter().max().copied().unwrap_or(0)
        );
        let whole = tallies
            .iter()
            .filter(|t| {
                t.new_frames.load(Ordering::Relaxed) == messages
                    || t.resynced_after.load(Ordering::Relaxed)
                    || t.lagged.load(Ordering::Relaxed)
            })
            .count();
        assert_eq!(
            whole, clients,
            "every client ends whole: every frame, a final resync, or told to reload"
        );
    }
    let _ = stop_server.send(());
    let _ = tokio::time::timeout(Duration::from_secs(20), running).await;
    rate
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let env = common::setting;
    let messages = env("BENCH_MESSAGES", if benching { 20_000 } else { 500 });
    let clients = env("BENCH_CLIENTS", if benching { 200 } else { 20 });
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let alone = run(messages, 0).await;
        println!("ingest, no WebSocket clients: {alone:.0} msg/s ({messages} messages)");
        let watched = run(messages, clients).await;
        println!("ingest, {clients} WebSocket clients: {watched:.0} msg/s");
        println!("change: {:+.1} %", (watched / alone - 1.0) * 100.0);
    });
}

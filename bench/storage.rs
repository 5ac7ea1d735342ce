//! Persistence benchmark: durable ingest rate into a `--storage` directory (16 writer threads, as
//! 16 SMTP sessions would), then how long a restart takes to load everything back.
//!
//! Run: `cargo bench --bench storage` (100 000 messages; `BENCH_MESSAGES=N` to change). Under
//! `cargo test` it runs with 500 messages as a smoke test.

use std::time::Instant;

use mailsnare::message::{Envelope, StoredMessage};
use mailsnare::store::maildir::Maildir;
use mailsnare::store::{Store, StoreLimits};

const WRITERS: usize = 16;

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let count: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 100_000 } else { 500 });
    let dir = std::env::temp_dir().join(format!("mailsnare-bench-storage-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let limits = StoreLimits {
        max_messages: count * 2,
        max_bytes: 16 << 30,
        ..StoreLimits::default()
    };

    let maildir = Maildir::open(&dir).unwrap_or_else(|e| panic!("open: {e}"));
    let (store, _) = Store::persistent(limits, maildir, Default::default())
        .unwrap_or_else(|e| panic!("load: {e}"));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let store = store.clone();
            scope.spawn(move || {
                for i in (w..count).step_by(WRITERS) {
                    let raw = format!(
                        "From: sender{w}@example.com\r\nTo: user{i}@example.net\r\nSubject: stored {i}\r\n\r\n{}\r\n",
                        "A line of an ordinary message body. ".repeat(40)
                    );
                    let envelope = Envelope {
                        mail_from: format!("sender{w}@example.com"),
                        rcpt_to: vec![format!("user{i}@example.net")],
                        ..Envelope::default()
                    };
                    store.insert(StoredMessage::new(envelope, raw.into_bytes())).unwrap_or_else(|e| panic!("insert: {e}"));
                }
            });
        }
    });
    let ingest = started.elapsed();
    let bytes = store.counts().bytes;
    drop(store);
    println!(
        "durable ingest: {count} messages ({:.1} MiB) in {:.2} s = {:.0} msg/s ({WRITERS} writers, fsync per message)",
        bytes as f64 / 1048576.0,
        ingest.as_secs_f64(),
        count as f64 / ingest.as_secs_f64()
    );

    let started = Instant::now();
    let maildir = Maildir::open(&dir).unwrap_or_else(|e| panic!("open: {e}"));
    let (store, report) = Store::persistent(limits, maildir, Default::default())
        .unwrap_or_else(|e| panic!("load: {e}"));
    let load = started.elapsed();
    assert_eq!(store.counts().total, count, "every message loads back");
    println!(
        "restart: loaded {} messages in {:.2} s = {:.0} msg/s",
        report.loaded,
        load.as_secs_f64(),
        report.loaded as f64 / load.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

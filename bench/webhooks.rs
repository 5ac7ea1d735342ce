//! Webhook benchmark: SMTP ingest with no webhook against ingest with a webhook whose receiver
//! accepts connections and never answers (every attempt waits out its timeout), in alternating
//! rounds of 5 000 small messages over 8 kept-alive sessions. A hook must never slow ingest: the
//! ratio should be about 1.
//!
//! Run: `cargo bench --bench webhooks` (`BENCH_WEBHOOK_MESSAGES`, `BENCH_ROUNDS`). Under `cargo
//! test` it runs small, as a smoke test. Each server runs on one worker thread, as the binary
//! does by default; the clients run on another runtime.

use std::net::SocketAddr;

use mailsnare::webhooks::HookSpec;

#[path = "common/mod.rs"]
mod common;

const SESSIONS: usize = 8;

fn body(i: usize) -> String {
    format!(
        "From: app@example.com\r\nTo: user@example.net\r\nSubject: Hook {i}\r\n\r\n{}\r\n",
        "some ordinary words in a line of text for the benchmark\r\n".repeat(32)
    )
}

/// A receiver that takes every connection and never reads or answers; returns its address.
fn dead_receiver() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
}

/// A server (one worker thread) with `hooks`; its SMTP address and its store.
fn start(hooks: Vec<HookSpec>) -> (SocketAddr, mailsnare::store::Store) {
    common::start_server(
        move |config| {
            config.webhooks.hooks = hooks;
            config.webhooks.limits.allow_internal = true;
        },
        |server| {
            (
                server.smtp_addr().unwrap_or_else(|e| panic!("{e}")),
                server.store(),
            )
        },
    )
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let messages = common::setting("BENCH_WEBHOOK_MESSAGES", if benching { 5_000 } else { 200 });
    let rounds = common::setting("BENCH_ROUNDS", if benching { 5 } else { 1 });
    let dead = dead_receiver();
    let hook =
        HookSpec::parse(&format!("http://{dead}/never secret=x")).unwrap_or_else(|e| panic!("{e}"));
    let (plain, _) = start(Vec::new());
    let (hooked, hooked_store) = start(vec![hook]);
    let client_rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let to = |_| "user@example.net".to_string();
    let mut ratios = Vec::new();
    client_rt.block_on(async {
        for round in 0..rounds {
            // Alternate which goes first, so neither always gets the warmer machine.
            let (without, with) = if round % 2 == 0 {
                let a = common::ingest(plain, SESSIONS, messages, to, body).await;
                (a, common::ingest(hooked, SESSIONS, messages, to, body).await)
            } else {
                let b = common::ingest(hooked, SESSIONS, messages, to, body).await;
                (common::ingest(plain, SESSIONS, messages, to, body).await, b)
            };
            println!(
                "round {round}: no hook {without:.0} msg/s, a dead hook {with:.0} msg/s, ratio {:.2}",
                with / without
            );
            ratios.push(with / without);
        }
    });
    assert_eq!(
        hooked_store.counts().total,
        messages / SESSIONS * SESSIONS * rounds,
        "every message was stored while the hook hung"
    );
    ratios.sort_by(f64::total_cmp);
    println!(
        "webhooks: ingest with a dead hook / without, median of {rounds} rounds: {:.2}",
        ratios[ratios.len() / 2]
    );
}

//! API latency benchmark: fills the store with 100 000 messages, then prints p50/p99 latency of
//! list, search, get and the wait endpoint's wake-up, measured over real HTTP on loopback.
//!
//! Run: `cargo bench --bench api` (`BENCH_MESSAGES=10000` for a quicker run). Under `cargo test`
//! it runs with 2 000 messages as a smoke test. Each search checks its match count, so a fast
//! wrong answer cannot pass for a fast right one. `BENCH_INPROCESS=1` adds the same searches timed
//! in-process (no HTTP), and the cost of taking and dropping the store's snapshot.

use std::time::{Duration, Instant};

use mailsnare::message::{Envelope, StoredMessage};
use mailsnare::{Config, Server};

#[path = "common/mod.rs"]
mod common;
use common::{json, report, timed};

/// A ~1.5 KB message; every 100th mentions "zebra", recipients cycle over 500 addresses.
fn message(i: usize) -> StoredMessage {
    let word = if i.is_multiple_of(100) {
        "zebra"
    } else {
        "update"
    };
    let raw = format!(
        "From: Sender {i} <sender{s}@example.com>\r\nTo: user{r}@example.net\r\nSubject: Weekly {word} number {i}\r\n\
         Message-ID: <{i}@bench.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        s = i % 50,
        r = i % 500,
        body =
            format!("Hello user, this is message {i} with some ordinary words in it. ").repeat(20),
    );
    let envelope = Envelope {
        helo: "bench".into(),
        mail_from: format!("sender{}@example.com", i % 50),
        rcpt_to: vec![format!("user{}@example.net", i % 500)],
        ..Envelope::default()
    };
    StoredMessage::new(envelope, raw.into_bytes())
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(run());
}

async fn run() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this too, as a quick smoke test.
    let benching = std::env::args().any(|a| a == "--bench");
    let count: usize = std::env::var("BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 100_000 } else { 2_000 });
    let mut config = Config::ephemeral();
    config.store.max_messages = count * 2;
    config.store.max_bytes = 8 << 30;
    let server = Server::bind(config)
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let http = server.http_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    let store = server.store();
    tokio::spawn(server.run(std::future::pending()));

    let started = Instant::now();
    for i in 0..count {
        store
            .insert(message(i))
            .unwrap_or_else(|e| panic!("insert: {e}"));
    }
    let fill = started.elapsed();
    let base = format!("http://{http}");
    let client = reqwest::Client::new();
    let info = json(&client, &format!("{base}/api/v1/info")).await;
    let rss = info["RuntimeStats"]["Memory"].as_f64().unwrap_or(0.0);
    println!(
        "filled {count} messages ({:.1} MiB raw) in {:.2} s; RSS {:.1} MiB ({:.0} bytes per message)",
        store.counts().bytes as f64 / 1048576.0,
        fill.as_secs_f64(),
        rss / 1048576.0,
        rss / count as f64
    );

    let ids: Vec<String> = store
        .page(0, count)
        .0
        .iter()
        .map(|m| m.id.to_string())
        .collect();
    let mut samples = Vec::new();
    for _ in 0..200 {
        samples.push(timed(&client, &format!("{base}/api/v1/messages?limit=50")).await);
    }
    report("list limit=50", samples);
    let mut samples = Vec::new();
    for i in 0..100 {
        samples.push(
            timed(
                &client,
                &format!(
                    "{base}/api/v1/messages?limit=50&start={}",
                    i * (count / 100)
                ),
            )
            .await,
        );
    }
    report("list limit=50, deep pages", samples);
    let mut samples = Vec::new();
    for i in 0..200 {
        let id = &ids[(i * 7919) % ids.len()];
        samples.push(timed(&client, &format!("{base}/api/v1/message/{id}")).await);
    }
    report("get message", samples);
    if std::env::var("BENCH_INPROCESS").is_ok() {
        for _ in 0..3 {
            let t = Instant::now();
            let all = store.snapshot();
            let snap = t.elapsed();
            let t = Instant::now();
            drop(all);
            println!("snapshot {:?} drop {:?}", snap, t.elapsed());
        }
        for q in [
            "zebra",
            "\"weekly zebra number\"",
            "to:user7@",
            "-update",
            "nonexistentword",
        ] {
            let query = mailsnare::search::Query::parse(q).unwrap_or_else(|e| panic!("{e:?}"));
            let all = store.snapshot();
            let cancel = mailsnare::search::Cancel::new(Duration::from_secs(60));
            let mut times = Vec::new();
            let mut n = 0;
            for _ in 0..5 {
                let t = Instant::now();
                n = query.run(&all, &cancel).map_or(0, |f| f.len());
                times.push(t.elapsed());
            }
            println!("in-process {q:<28} found {n:<6} {times:?}");
        }
    }
    // (label, query, matches): the word and phrase hit 1%, `to:` one recipient in 500, the
    // negation every message it must read and rule out, the last nothing at all.
    let searches: [(&str, String, usize); 5] = [
        (
            "search word (1% match)",
            "zebra".into(),
            count.div_ceil(100),
        ),
        (
            "search phrase (1% match)",
            "%22weekly+zebra+number%22".into(),
            count.div_ceil(100),
        ),
        (
            "search to: filter",
            "to%3Auser7%40".into(),
            (count + 492) / 500,
        ),
        (
            "search negation (1% match)",
            "-update".into(),
            count.div_ceil(100),
        ),
        (
            "search word, no match (full scan)",
            "nonexistentword".into(),
            0,
        ),
    ];
    for (label, query, expected) in searches {
        let url = format!("{base}/api/v1/search?query={query}&limit=50");
        let found = json(&client, &url).await;
        assert_eq!(
            found["messages_count"].as_u64(),
            Some(expected as u64),
            "{label}: {url}"
        );
        let mut samples = Vec::new();
        for _ in 0..30 {
            samples.push(timed(&client, &url).await);
        }
        report(label, samples);
    }

    // Scans share a snapshot until the store changes: the first search after a new message
    // makes the next one (and, for a word in every field, gathers the short fields).
    for (label, query) in [
        ("search after a new message, word", "nonexistentword"),
        ("search after a new message, negation", "-update"),
    ] {
        let mut samples = Vec::new();
        for i in 0..10 {
            store
                .insert(message(count + i))
                .unwrap_or_else(|e| panic!("insert: {e}"));
            let url = format!("{base}/api/v1/search?query={query}&limit=50");
            samples.push(timed(&client, &url).await);
        }
        report(label, samples);
    }

    // Wake-up: a waiter is parked, then the matching message is stored; time store → response.
    let mut samples = Vec::new();
    for i in 0..50 {
        let url = format!("{base}/api/v1/message/latest?query=subject%3Awakeup-{i}&wait=10");
        let waiter = tokio::spawn({
            let client = client.clone();
            async move {
                let response = client
                    .get(url)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("wait: {e}"));
                assert!(
                    response.status().is_success(),
                    "wait: {}",
                    response.status()
                );
                let _ = response.bytes().await;
                Instant::now()
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let raw = format!("Subject: wakeup-{i}\r\n\r\nx\r\n").into_bytes();
        let stored_at = Instant::now();
        store
            .insert(StoredMessage::new(Envelope::default(), raw))
            .unwrap_or_else(|e| panic!("insert: {e}"));
        let answered = waiter.await.unwrap_or_else(|e| panic!("waiter: {e}"));
        samples.push(answered.saturating_duration_since(stored_at));
    }
    report("wait wake-up (store -> response)", samples);
}

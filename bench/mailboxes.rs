//! Mailbox benchmark: one server holding 1 000 mailboxes of 100 messages each against one holding
//! the same 100 000 messages in its root view alone. Prints, for each:
//! - SMTP ingest of 20 000 small messages over 16 kept-alive sessions (one command at a time, as
//!   smtp-source sends them), each message routed by its `+tag` to one of the 1 000 mailboxes;
//! - p50/p99 of list and get inside one mailbox (and at the root of the one-mailbox server);
//! - a search inside one mailbox of 100 messages, beside the same search over all 100 000.
//!
//! Run: `cargo bench --bench mailboxes` (`BENCH_MAILBOXES=100` for a quicker run). Under
//! `cargo test` it runs small, as a smoke test. Each server runs on a runtime of one worker
//! thread, as the binary does by default; the clients run on another.

use std::time::Duration;

use mailsnare::mailbox::{Rule, Rules};
use mailsnare::message::Envelope;

#[path = "common/mod.rs"]
mod common;
use common::{json, report, timed};

const SESSIONS: usize = 16;

/// A ~2 KB message, as smtp-source's: every 10th mentions "zebra".
fn body(i: usize) -> String {
    let word = if i.is_multiple_of(10) {
        "zebra"
    } else {
        "update"
    };
    format!(
        "From: app@example.com\r\nTo: user@example.net\r\nSubject: Weekly {word} number {i}\r\n\r\n{}\r\n",
        "some ordinary words in a line of text for the benchmark\r\n".repeat(32)
    )
}

struct Running {
    smtp: std::net::SocketAddr,
    base: String,
}

/// Starts a server (one worker thread, the binary's default) routing by `rules`.
fn start(rules: Rules) -> (Running, mailsnare::mailbox::Mailboxes) {
    common::start_server(
        move |config| {
            config.mailboxes.rules = rules;
            config.mailboxes.limits.store = config.store;
        },
        |server| {
            let smtp = server.smtp_addr().unwrap_or_else(|e| panic!("{e}"));
            let http = server.http_addr().unwrap_or_else(|e| panic!("{e}"));
            (
                Running {
                    smtp,
                    base: format!("http://{http}"),
                },
                server.mailboxes(),
            )
        },
    )
}

async fn fill(
    mailboxes: &mailsnare::mailbox::Mailboxes,
    boxes: usize,
    per_box: usize,
    routed: bool,
) {
    for i in 0..boxes * per_box {
        let name = format!("box-{:04}", i % boxes);
        let envelope = Envelope {
            mail_from: "app@example.com".into(),
            rcpt_to: vec![format!("app+{name}@example.net")],
            ..Envelope::default()
        };
        let store = if routed {
            mailboxes
                .get_or_create(&name)
                .unwrap_or_else(|e| panic!("{e}"))
                .store
        } else {
            mailboxes.root().clone()
        };
        store
            .receive(envelope, body(i).into_bytes())
            .await
            .unwrap_or_else(|e| panic!("fill: {e}"));
    }
}

/// 20 000 messages (or `messages`) over [`SESSIONS`] kept-alive sessions, each `+tag`ged for one
/// of `boxes` mailboxes; messages per second.
async fn ingest(addr: std::net::SocketAddr, messages: usize, boxes: usize) -> f64 {
    common::ingest(
        addr,
        SESSIONS,
        messages,
        move |i| format!("app+box-{:04}@example.net", i % boxes),
        body,
    )
    .await
}

/// The first message ids of a list under `prefix`.
async fn ids_of(client: &reqwest::Client, base: &str, prefix: &str) -> Vec<String> {
    let url = format!("{base}{prefix}/api/v1/messages?limit=50");
    let list = json(client, &url).await;
    let ids: Vec<String> = list["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["ID"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert!(!ids.is_empty(), "{url}: no messages");
    ids
}

/// p99 of list and get at `a` and at `b` (each a base URL and a prefix), requests alternating
/// between the two so that drift on a busy machine falls on both alike.
async fn reads(
    client: &reqwest::Client,
    a: (&str, &str),
    b: (&str, &str),
) -> [(Duration, Duration); 2] {
    const N: usize = 2000;
    let targets = [a, b];
    let mut ids = Vec::new();
    for (base, prefix) in targets {
        ids.push(ids_of(client, base, prefix).await);
    }
    let mut lists = [Vec::new(), Vec::new()];
    let mut gets = [Vec::new(), Vec::new()];
    for i in 0..N {
        for (t, (base, prefix)) in targets.iter().enumerate() {
            lists[t].push(timed(client, &format!("{base}{prefix}/api/v1/messages?limit=50")).await);
            let id = &ids[t][i % ids[t].len()];
            gets[t].push(timed(client, &format!("{base}{prefix}/api/v1/message/{id}")).await);
        }
    }
    let mut out = [(Duration::ZERO, Duration::ZERO); 2];
    for (t, (_, prefix)) in targets.iter().enumerate() {
        let label = if prefix.is_empty() { "(root)" } else { prefix };
        let list = report(
            &format!("list limit=50 {label}"),
            std::mem::take(&mut lists[t]),
        );
        let get = report(
            &format!("get message {label}"),
            std::mem::take(&mut gets[t]),
        );
        out[t] = (list, get);
    }
    out
}

async fn search(client: &reqwest::Client, base: &str, prefix: &str, expected: u64) -> Duration {
    let url = format!("{base}{prefix}/api/v1/search?query=zebra&limit=50");
    let found = json(client, &url).await;
    assert_eq!(found["messages_count"].as_u64(), Some(expected), "{url}");
    let mut samples = Vec::new();
    for _ in 0..50 {
        samples.push(timed(client, &url).await);
    }
    report(&format!("search word {prefix} ({expected} found)"), samples)
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let env = common::setting;
    let boxes = env("BENCH_MAILBOXES", if benching { 1000 } else { 20 });
    let per_box = env("BENCH_PER_MAILBOX", if benching { 100 } else { 10 });
    let messages = env("BENCH_INGEST", if benching { 20_000 } else { 320 });
    let rounds = env("BENCH_ROUNDS", if benching { 7 } else { 1 });
    let client_rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let plus = Rules::new(vec![
        Rule::parse("*=plus").unwrap_or_else(|e| panic!("{e}")),
    ]);
    println!(
        "{boxes} mailboxes x {per_box} messages vs {} in the root alone; ingest {messages} x ~2 KB over {SESSIONS} kept-alive sessions",
        boxes * per_box
    );
    client_rt.block_on(async {
        let client = reqwest::Client::new();
        let rss = || mailsnare::stats::resident_bytes() as f64 / 1048576.0;
        let before = rss();
        let (one, one_boxes) = start(Rules::default());
        fill(&one_boxes, boxes, per_box, false).await;
        let after_one = rss();
        let (many, many_boxes) = start(plus);
        fill(&many_boxes, boxes, per_box, true).await;
        let after_many = rss();
        println!(
            "memory: the root alone {:.1} MiB, {boxes} mailboxes {:.1} MiB (RSS growth of this process)",
            after_one - before,
            after_many - after_one
        );
        assert_eq!(many_boxes.list().len(), boxes);

        // Alternating which goes first (ABBA), so drift on a busy machine falls on both alike; the
        // median of the rounds' ratios is the number.
        println!("ingest (msg/s), alternating:");
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let (x, y) = if round % 2 == 0 {
                let x = ingest(one.smtp, messages, boxes).await;
                (x, ingest(many.smtp, messages, boxes).await)
            } else {
                let y = ingest(many.smtp, messages, boxes).await;
                (ingest(one.smtp, messages, boxes).await, y)
            };
            println!(
                "  round {round}: one mailbox {x:>8.0}   {boxes} mailboxes {y:>8.0}   ratio {:.3}",
                y / x
            );
            ratios.push(y / x);
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "  median ratio {:.3} over {rounds} rounds",
            ratios[ratios.len() / 2]
        );

        println!("reads:");
        let [(l1, g1), (l2, g2)] =
            reads(&client, (&one.base, ""), (&many.base, "/mailbox/box-0007")).await;
        println!(
            "  p99 ratio inside a mailbox / root of one: list {:.2}, get {:.2}",
            l2.as_secs_f64() / l1.as_secs_f64(),
            g2.as_secs_f64() / g1.as_secs_f64()
        );

        println!("search:");
        let root = search(&client, &many.base, "", count_zebra(&many_boxes)).await;
        // box-0000 holds messages 0, 1000, 2000…: every one says "zebra".
        let inside = search(
            &client,
            &many.base,
            "/mailbox/box-0000",
            count_zebra_in(&many_boxes, "box-0000"),
        )
        .await;
        println!(
            "  p99 inside one mailbox / over the whole root: {:.3}",
            inside.as_secs_f64() / root.as_secs_f64()
        );
    });
}

fn count_zebra(mailboxes: &mailsnare::mailbox::Mailboxes) -> u64 {
    count_in(mailboxes.root())
}

fn count_zebra_in(mailboxes: &mailsnare::mailbox::Mailboxes, name: &str) -> u64 {
    count_in(
        &mailboxes
            .get(name)
            .unwrap_or_else(|| panic!("{name}"))
            .store,
    )
}

fn count_in(store: &mailsnare::store::Store) -> u64 {
    let (page, _) = store.page(0, usize::MAX);
    page.iter()
        .filter(|m| m.summary.subject.contains("zebra"))
        .count() as u64
}

//! Abuse tests against the real `mailsnare` binary: many idle connections, oversized and endless
//! input, garbage, clients that vanish mid-message, a flood past the store limit, and a soak with
//! SMTP senders, API readers and WebSocket clients at once. Memory is read from /proc.
//!
//! `MAILSNARE_SOAK_SECS` shortens or lengthens the soak (default 60).

mod common;

use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{RssSampler, Server, Smtp, ensure_open_files};
use serde_json::Value;

/// Read/write timeout of every test socket: generous, a hang still fails.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
const MIB: u64 = 1024 * 1024;
const IDLE_CONNECTIONS: usize = 1000;

/// A message with `subject` and about `size` bytes of body text.
fn message(subject: &str, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Sender <sender@example.com>\r\nTo: rcpt@example.net\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@abuse.test>\r\n\r\n"
    )
    .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n";
    while m.len() < size {
        m.extend_from_slice(line);
    }
    m
}

/// `GET /api/v1/info`'s counters: (Messages, SMTPAccepted, MessagesDeleted, MessagesEvicted).
fn counters(server: &Server) -> (u64, u64, u64, u64) {
    let info = server.get_json("/api/v1/info");
    let n = |v: &Value| {
        v.as_u64()
            .unwrap_or_else(|| panic!("not a count: {v} in {info:#}"))
    };
    let stats = &info["RuntimeStats"];
    (
        n(&info["Messages"]),
        n(&stats["SMTPAccepted"]),
        n(&stats["MessagesDeleted"]),
        n(&server.get_json("/api/v1/about")["Activity"]["MessagesEvicted"]),
    )
}

// ---------------------------------------------------------------------------------------------
// Open files: 1 000 sockets need more than a 1 024 soft limit leaves once the harness has its own.
// ---------------------------------------------------------------------------------------------

/// Opens `n` connections and reads each greeting; returns the raw sockets.
fn open_idle(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(addr)
                .unwrap_or_else(|e| panic!("idle connection {i} of {n}: {e}"));
            s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            let mut greeting = Vec::new();
            while !greeting.ends_with(b"\r\n") {
                let mut buf = [0u8; 256];
                let got = s
                    .read(&mut buf)
                    .unwrap_or_else(|e| panic!("greeting of idle connection {i}: {e}"));
                assert!(got > 0, "idle connection {i} closed before its greeting");
                greeting.extend_from_slice(&buf[..got]);
            }
            assert!(
                greeting.starts_with(b"220 "),
                "idle connection {i}: {}",
                common::show(&greeting)
            );
            s
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_thousand_idle_connections_do_not_stop_a_new_client() {
    ensure_open_files(IDLE_CONNECTIONS as u64 + 500);
    let server = Server::start();
    let mut idle = open_idle(server.smtp, IDLE_CONNECTIONS);

    let started = Instant::now();
    let mut client = Smtp::connect(server.smtp);
    client.expect("EHLO new.example", "250");
    let id = client.send_message("rcpt@example.net", &message("past the idle crowd", 500));
    client.expect("QUIT", "221");
    let served_in = started.elapsed();
    assert!(
        served_in < Duration::from_secs(5),
        "a new client took {served_in:?} beside {IDLE_CONNECTIONS} idle ones"
    );
    assert_eq!(server.message(&id)["Subject"], "past the idle crowd");

    // The default idle timeout is minutes: every idle connection is still open.
    for (i, s) in idle.iter_mut().enumerate() {
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        match s.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("idle connection {i} should be open and silent: {other:?}"),
        }
    }
}

#[test]
fn idle_timeout_closes_every_idle_connection() {
    ensure_open_files(IDLE_CONNECTIONS as u64 + 500);
    let server = Server::start_with(&["--idle-timeout", "2"]);
    let first_greeted = Instant::now();
    let mut idle = open_idle(server.smtp, IDLE_CONNECTIONS);
    let last_greeted = Instant::now();

    for (i, s) in idle.iter_mut().enumerate() {
        let mut got = Vec::new();
        let end = s.read_to_end(&mut got);
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.starts_with("421 4.4.2 ") && end.is_ok(),
            "idle connection {i}: {text:?}, {end:?}"
        );
        if i == 0 {
            let after = first_greeted.elapsed();
            assert!(
                after >= Duration::from_millis(1500),
                "closed {after:?} after its greeting, before the 2 s timeout"
            );
        }
    }
    let all_closed = last_greeted.elapsed();
    assert!(
        all_closed < Duration::from_secs(8),
        "the last idle connection was closed {all_closed:?} after it was opened (timeout 2 s)"
    );

    let mut client = Smtp::connect(server.smtp);
    client.expect("EHLO after.example", "250");
    client.send_message("rcpt@example.net", &message("after the timeouts", 200));
    server.wait_for_count(1);
}

#[test]
fn two_hundred_megabytes_of_data_get_552_with_bounded_memory() {
    let server = Server::start();
    let baseline = server.rss_bytes();
    let mut client = Smtp::connect(server.smtp);
    client.expect("EHLO big.example", "250");
    client.expect("MAIL FROM:<big@example.com>", "250");
    client.expect("RCPT TO:<rcpt@example.net>", "250");
    client.expect("DATA", "354");

    let sampler = RssSampler::start(server.pid());
    let mut line = vec![b'x'; 998];
    line.extend_from_slice(b"\r\n");
    let block = line.repeat(1024); // 1 000 KiB of 1000-byte lines
    let started = Instant::now();
    let total = 200 * MIB;
    let mut sent = 0;
    while sent < total {
        client.send(&block);
        sent += block.len() as u64;
    }
    client.send(b".\r\n");
    let reply = client.reply();
    let took = started.elapsed();
    let peak = sampler.peak();
    assert!(
        reply.starts_with("552 5.3.4 "),
        "{} MiB of DATA: {reply:?}",
        sent / MIB
    );
    eprintln!(
        "200 MiB DATA: 552 after {took:?}; server RSS {} MiB before, peak {} MiB",
        baseline / MIB,
        peak / MIB
    );
    assert!(
        peak < 150 * MIB,
        "the server's RSS peaked at {} MiB for a message over the 50 MiB limit",
        peak / MIB
    );

    // The same session goes on.
    let id = client.send_message("rcpt@example.net", &message("after the big one", 1000));
    client.expect("QUIT", "221");
    let list = server.wait_for_count(1);
    assert_eq!(list["messages"][0]["ID"], id.as_str());
    assert!(list["messages"][0]["Size"].as_u64().unwrap() < 2000);
    assert_eq!(
        counters(&server).1,
        1,
        "only the small message was accepted"
    );
}

#[test]
fn a_megabyte_command_line_gets_500_and_the_session_continues() {
    let server = Server::start();
    let mut client = Smtp::connect(server.smtp);
    client.expect("EHLO long.example", "250");
    let mut long = b"MAIL FROM:<".to_vec();
    long.extend(std::iter::repeat_n(b'a', 1 << 20));
    long.extend_from_slice(b"@example.com>\r\n");
    client.send(&long);
    let reply = client.reply();
    assert_eq!(reply, "500 5.5.6 Line too long\r\n");
    client.expect("NOOP", "250");
    let id = client.send_message("rcpt@example.net", &message("after the long line", 300));
    client.expect("QUIT", "221");
    assert_eq!(server.wait_for_count(1)["messages"][0]["ID"], id.as_str());
}

#[test]
fn binary_garbage_is_answered_then_closed_and_others_are_served() {
    let server = Server::start();
    let mut client = Smtp::connect(server.smtp);
    // 1 MiB from xorshift: deterministic, and with a line end every ~256 bytes.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let garbage: Vec<u8> = (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let mut writer = client.writer.try_clone().unwrap();
    // The server stops reading once it gives up, so the write may fail: that is expected.
    let write = std::thread::spawn(move || writer.write_all(&garbage).is_ok());
    let (replies, end) = client.read_to_close();
    let _ = write.join().unwrap();
    let lines: Vec<&str> = replies.lines().collect();
    assert!(
        lines.len() >= 20 && lines[..lines.len() - 1].iter().all(|l| l.starts_with('5')),
        "every garbage line gets a 5xx reply: {replies:?}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("421 4.7.0 ") && l.contains("Too many errors")),
        "the server gives up with 421 after its error limit: {:?} (end: {end:?})",
        lines.last()
    );
    assert!(
        matches!(&end, Ok(())) || matches!(&end, Err(e) if e.kind() == ErrorKind::ConnectionReset),
        "the connection ends: {end:?}"
    );

    let mut other = Smtp::connect(server.smtp);
    other.expect("EHLO fine.example", "250");
    other.send_message("rcpt@example.net", &message("after the garbage", 300));
    server.wait_for_count(1);
}

#[test]
fn clients_vanishing_mid_data_or_mid_bdat_store_nothing() {
    let server = Server::start();
    let start = |server: &Server| {
        let mut c = Smtp::connect(server.smtp);
        c.expect("EHLO vanish.example", "250");
        c.expect("MAIL FROM:<gone@example.com>", "250");
        c.expect("RCPT TO:<rcpt@example.net>", "250");
        c
    };
    // Mid-DATA, between lines.
    let mut c = start(&server);
    c.expect("DATA", "354");
    c.send(&message("never finished", 20_000));
    drop(c);
    // Mid-DATA, after a lone dot without its line end.
    let mut c = start(&server);
    c.expect("DATA", "354");
    c.send(b"Subject: almost\r\n\r\nbody\r\n.");
    drop(c);
    // Mid-BDAT chunk.
    let mut c = start(&server);
    c.send(b"BDAT 10000 LAST\r\n");
    c.send(&[b'b'; 5000]);
    drop(c);
    // Between BDAT chunks, before LAST.
    let mut c = start(&server);
    c.send(b"BDAT 10\r\n0123456789");
    let reply = c.reply();
    assert!(reply.starts_with("250 "), "first chunk: {reply:?}");
    drop(c);

    // The server noticed each disconnect (no transaction left open), stored nothing, serves on.
    server.wait_for_metric("mailsnare_smtp_connections", 0.0);
    let mut ok = Smtp::connect(server.smtp);
    ok.expect("EHLO fine.example", "250");
    let id = ok.send_message("rcpt@example.net", &message("the only one", 300));
    ok.expect("QUIT", "221");
    let list = server.wait_for_count(1);
    assert_eq!(list["messages"][0]["ID"], id.as_str());
    let (stored, accepted, _, _) = counters(&server);
    assert_eq!(
        (stored, accepted),
        (1, 1),
        "nothing of the vanished clients"
    );
}

#[test]
fn a_flood_past_max_messages_keeps_memory_flat_and_the_newest() {
    const LIMIT: usize = 500;
    const TOTAL: usize = 5000;
    const BATCH: usize = 50;
    let server = Server::start_with(&["--max-messages", "500"]);
    let mut client = Smtp::connect(server.smtp);
    client.expect("EHLO flood.example", "250");
    let subject = |i: usize| format!("flood-{i:05}-x");
    let mut ids = Vec::with_capacity(TOTAL);
    let mut rss_at_1000 = 0;
    let started = Instant::now();
    for batch in 0..TOTAL / BATCH {
        let messages: Vec<(String, Vec<u8>)> = (batch * BATCH..(batch + 1) * BATCH)
            .map(|i| {
                (
                    "rcpt@example.net".to_string(),
                    message(&subject(i), 16 * 1024),
                )
            })
            .collect();
        ids.extend(client.send_batch(&messages));
        if ids.len() == 1000 {
            rss_at_1000 = server.rss_bytes();
        }
    }
    let rss_at_5000 = server.rss_bytes();
    eprintln!(
        "flood: {TOTAL} messages of 16 KiB in {:?}; RSS {} MiB after 1000, {} MiB after {TOTAL}",
        started.elapsed(),
        rss_at_1000 / MIB,
        rss_at_5000 / MIB
    );
    // 4 000 more messages of 16 KiB would be 62 MiB if any were kept.
    assert!(
        rss_at_5000 < rss_at_1000 + 24 * MIB,
        "RSS grew from {} MiB to {} MiB though the store holds {LIMIT} messages",
        rss_at_1000 / MIB,
        rss_at_5000 / MIB
    );
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), TOTAL);

    let (stored, accepted, deleted, evicted) = counters(&server);
    assert_eq!(
        (stored, accepted, deleted, evicted),
        (LIMIT as u64, TOTAL as u64, 0, (TOTAL - LIMIT) as u64)
    );
    // The newest 500, newest first, in the list and in a search alike.
    let list = server.get_json("/api/v1/messages?start=0&limit=1000");
    assert_eq!(list["total"], LIMIT);
    let listed: Vec<&str> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ID"].as_str().unwrap())
        .collect();
    let newest: Vec<&str> = ids[TOTAL - LIMIT..]
        .iter()
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(listed, newest, "the list holds exactly the newest {LIMIT}");
    assert_eq!(list["messages"][0]["Subject"], subject(TOTAL - 1));
    let found = server.get_json("/api/v1/search?query=flood&start=0&limit=1000");
    assert_eq!(found["messages_count"], LIMIT);
    let searched: Vec<&str> = found["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ID"].as_str().unwrap())
        .collect();
    assert_eq!(searched, listed, "search and list agree");
    let count =
        |q: &str| server.get_json(&format!("/api/v1/search?query={q}"))["messages_count"].clone();
    assert_eq!(
        count(&format!("subject:{}", subject(0))),
        0,
        "the oldest is gone"
    );
    assert_eq!(count(&format!("subject:{}", subject(TOTAL - LIMIT - 1))), 0);
    assert_eq!(count(&format!("subject:{}", subject(TOTAL - LIMIT))), 1);
    assert_eq!(
        server.get(&format!("/api/v1/message/{}", ids[0])).status,
        404
    );
    assert_eq!(
        server.message(&ids[TOTAL - LIMIT])["Subject"],
        subject(TOTAL - LIMIT)
    );
}

// ---------------------------------------------------------------------------------------------
// The soak.
// ---------------------------------------------------------------------------------------------

/// What a WebSocket client must have seen by the end of the soak.
#[derive(Debug, Clone, Default)]
struct Expected {
    /// Sent after the flood, slowly: each must come as its own `new` frame.
    new_ids: HashSet<String>,
    /// Deleted after the flood, slowly: each must come as its own `delete` frame.
    deleted_ids: HashSet<String>,
    /// The store's final count, which the last `stats` frame must carry.
    total: u64,
}

/// What one WebSocket client saw.
#[derive(Debug, Default)]
struct Watched {
    new_frames: usize,
    new_ids: HashSet<String>,
    deleted_ids: HashSet<String>,
    /// EXT `resync` frames: changes were coalesced under a flood.
    resyncs: usize,
    last_total: Option<u64>,
    /// The close code, if the server closed the socket.
    closed: Option<u16>,
    error: Option<String>,
}

impl Watched {
    fn has_seen(&self, expected: &Expected) -> bool {
        self.new_ids.is_superset(&expected.new_ids)
            && self.deleted_ids.is_superset(&expected.deleted_ids)
            && self.last_total == Some(expected.total)
    }
}

/// Records frames until the client has seen everything `expected` names (once it is known), or
/// 30 s after that.
async fn watch_events<S>(
    mut ws: S,
    expected: tokio::sync::watch::Receiver<Option<Expected>>,
) -> Watched
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut seen = Watched::default();
    let mut deadline = None;
    loop {
        let target = expected.borrow().clone();
        if let Some(target) = target {
            if seen.has_seen(&target) {
                return seen;
            }
            deadline.get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_secs(30));
        }
        let until =
            deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_millis(200));
        let frame = match tokio::time::timeout_at(until, ws.next()).await {
            Ok(frame) => frame,
            Err(_) if deadline.is_some() => return seen,
            Err(_) => continue,
        };
        match frame {
            Some(Ok(Message::Text(text))) => {
                let v: Value = serde_json::from_str(&text).expect("frames are JSON");
                let id = || v["Data"]["ID"].as_str().unwrap_or_default().to_string();
                match v["Type"].as_str() {
                    Some("new") => {
                        seen.new_frames += 1;
                        seen.new_ids.insert(id());
                    }
                    Some("delete") => {
                        seen.deleted_ids.insert(id());
                    }
                    Some("resync") => seen.resyncs += 1,
                    Some("stats") => seen.last_total = v["Data"]["Total"].as_u64(),
                    _ => {}
                }
            }
            Some(Ok(Message::Close(frame))) => {
                seen.closed = Some(frame.map_or(1005, |f| u16::from(f.code)));
                return seen;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                seen.error = Some(e.to_string());
                return seen;
            }
            None => {
                seen.error = Some("stream ended without a close frame".into());
                return seen;
            }
        }
    }
}

/// Sends messages until `until`, 50 per connection, at most about `rate` a second but for every
/// other 3 s, when it sends 20 a second; returns the queued ids.
fn soak_sender(addr: SocketAddr, n: usize, until: Instant, rate: u32) -> Vec<String> {
    let started = Instant::now();
    let mut ids = Vec::new();
    while Instant::now() < until {
        let mut c = Smtp::connect(addr);
        c.expect(&format!("EHLO sender{n}.example"), "250");
        for _ in 0..50 {
            if Instant::now() >= until {
                break;
            }
            let i = ids.len();
            // Mostly small, every tenth larger, every seventh a pipelined pair.
            let size = if i % 10 == 0 { 20_000 } else { 1_500 };
            let count = if i % 7 == 0 { 2 } else { 1 };
            let batch: Vec<(String, Vec<u8>)> = (0..count)
                .map(|k| {
                    let subject = format!("soak s{n} #{i}.{k}");
                    ("rcpt@example.net".to_string(), message(&subject, size))
                })
                .collect();
            let calm = (started.elapsed().as_secs() / 3) % 2 == 1;
            let pace = Duration::from_secs(1) / if calm { 20 } else { rate };
            let sent_at = Instant::now();
            ids.extend(c.send_batch(&batch));
            std::thread::sleep((pace * count as u32).saturating_sub(sent_at.elapsed()));
        }
        c.expect("QUIT", "221");
    }
    ids
}

/// Lists, searches, reads and deletes by id until `until`; returns how many rounds it made.
/// Every id it deletes goes into `deleted` first, so no two readers delete the same one.
async fn soak_reader(
    client: reqwest::Client,
    http: SocketAddr,
    until: Instant,
    deleted: Arc<Mutex<HashSet<String>>>,
) -> usize {
    let base = format!("http://{http}");
    let mut rounds = 0;
    while Instant::now() < until {
        rounds += 1;
        let list: Value = client
            .get(format!("{base}/api/v1/messages?start=0&limit=20"))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("list JSON");
        let messages = list["messages"].as_array().expect("messages array");
        assert!(list["total"].as_u64().unwrap() >= messages.len() as u64);
        let found: Value = client
            .get(format!("{base}/api/v1/search?query=soak&limit=5"))
            .send()
            .await
            .expect("search")
            .json()
            .await
            .expect("search JSON");
        assert!(
            found["messages_count"].as_u64().is_some(),
            "search: {found}"
        );
        for m in messages.iter().take(3) {
            let id = m["ID"].as_str().unwrap().to_string();
            let resp = client
                .get(format!("{base}/api/v1/message/{id}"))
                .send()
                .await
                .expect("get one");
            match resp.status().as_u16() {
                200 => {
                    let full: Value = resp.json().await.expect("message JSON");
                    assert_eq!(full["ID"], id.as_str());
                }
                // Only ever because another reader deleted it.
                404 => assert!(deleted.lock().unwrap().contains(&id), "{id} vanished"),
                other => panic!("GET message {id}: {other}"),
            }
        }
        // Every other round, delete the oldest on the page.
        if rounds % 2 == 0
            && let Some(id) = messages.last().and_then(|m| m["ID"].as_str())
            && deleted.lock().unwrap().insert(id.to_string())
        {
            delete_by_id(&client, &base, id).await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rounds
}

async fn delete_by_id(client: &reqwest::Client, base: &str, id: &str) {
    let resp = client
        .delete(format!("{base}/api/v1/messages"))
        .json(&serde_json::json!({ "IDs": [id] }))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status().as_u16(), 200, "DELETE {id}");
}

/// Hostile traffic until `until`, in turns: a mail nested 2 000 multiparts deep, an SMTP session of
/// garbage, half-sent HTTP requests left open, a search far over the bounds. Returns the ids of
/// the nested mails (accepted like any other).
fn soak_attacker(smtp: SocketAddr, http: SocketAddr, until: Instant) -> Vec<String> {
    let mut nested_ids = Vec::new();
    let mut half_open: Vec<TcpStream> = Vec::new();
    let deep = common::nested(2_000);
    let terms: Vec<String> = (0..1_000).map(|i| format!("-%C3%BC{i}")).collect();
    let search = format!("/api/v1/search?query={}", terms.join("+"));
    let mut turn = 0;
    while Instant::now() < until {
        match turn % 4 {
            0 => nested_ids.push(common::send_mail(smtp, &["deep@example.net"], &deep)),
            1 => {
                let mut s = TcpStream::connect(smtp).expect("connect");
                s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
                let junk: Vec<u8> = (0..3_000u32).map(|i| (i * 131 % 251) as u8 | 1).collect();
                // The server may close mid-write after 20 errors.
                let _ = s.write_all(&junk);
                let _ = s.write_all(&b"\r\nBAD\r\n".repeat(30));
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest);
            }
            2 => {
                if half_open.len() >= 50 {
                    half_open.drain(..10);
                }
                for _ in 0..10 {
                    let mut s = TcpStream::connect(http).expect("connect");
                    s.write_all(b"GET /api/v1/mess").unwrap();
                    half_open.push(s);
                }
            }
            _ => {
                let host = http.to_string();
                let response = common::http_with(http, "GET", &search, &[("Host", &host)], b"");
                assert_eq!(
                    response.status,
                    400,
                    "an over-long search: {}",
                    response.text()
                );
            }
        }
        turn += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    nested_ids
}

/// For `secs` (60 by default): SMTP senders at about 600 messages a second in all (a flood for
/// the live-update hub, which then coalesces frames), every other 3 s at 60 a second (no flood), API readers that list, search, read and delete, and WebSocket clients.
/// Then a slow phase whose every message and delete must reach each client as its own frame.
/// Checks: every 250 is counted in SMTPAccepted; accepted == stored + deleted, id for id; no
/// client saw a `new` frame twice or for a message never queued; a client that missed `new`
/// frames was sent `resync`; every client ends on the store's true total. Meanwhile an attacker
/// sends deeply nested mail, garbage sessions, half-sent HTTP requests and over-long searches,
/// and five MailHog WebSocket clients never read: every message acknowledged is still stored
/// and readable at the end.
#[test]
fn soak_senders_readers_and_websockets_agree() {
    const SENDERS: usize = 3;
    const READERS: usize = 2;
    const WATCHERS: usize = 3;
    const SLOW: usize = 20;
    let secs: u64 = std::env::var("MAILSNARE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut server = Server::start_with(&["--max-messages", "1000000", "--max-bytes", "4GiB"]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let base = format!("http://{}", server.http);
    let (expected_tx, expected_rx) = tokio::sync::watch::channel(None);
    let watchers: Vec<_> = (0..WATCHERS)
        .map(|_| {
            let url = format!("ws://{}/api/events", server.http);
            // Connected (and so subscribed) before the first message is sent.
            let (ws, _) = runtime
                .block_on(tokio_tungstenite::connect_async(url))
                .expect("WebSocket connects");
            runtime.spawn(watch_events(ws, expected_rx.clone()))
        })
        .collect();

    // The flood.
    let until = Instant::now() + Duration::from_secs(secs);
    let deleted = Arc::new(Mutex::new(HashSet::new()));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let reader = soak_reader(http.clone(), server.http, until, Arc::clone(&deleted));
            runtime.spawn(reader)
        })
        .collect();
    let smtp = server.smtp;
    let stalled: Vec<TcpStream> = (0..5)
        .map(|_| common::stalled_socket(server.http, "/api/v2/websocket"))
        .collect();
    let attacker = {
        let http = server.http;
        std::thread::spawn(move || soak_attacker(smtp, http, until))
    };
    let senders: Vec<_> = (0..SENDERS)
        .map(|n| std::thread::spawn(move || soak_sender(smtp, n, until, 200)))
        .collect();
    let mut queued: Vec<String> = senders
        .into_iter()
        .flat_map(|s| s.join().expect("sender"))
        .collect();
    let nested = attacker.join().expect("attacker");
    eprintln!("attacker: {} nested mails accepted", nested.len());
    assert!(!nested.is_empty());
    queued.extend(nested);
    drop(stalled);
    let rounds: usize = readers
        .into_iter()
        .map(|r| runtime.block_on(r).expect("reader"))
        .sum();
    let flood_ids: HashSet<String> = queued.iter().cloned().collect();

    // The slow phase, once the hub has seen a quiet window.
    std::thread::sleep(Duration::from_secs(1));
    let mut slow = Expected::default();
    let mut client = Smtp::connect(server.smtp);
    client.expect("EHLO slow.example", "250");
    for i in 0..SLOW {
        let id = client.send_message("rcpt@example.net", &message(&format!("slow #{i}"), 800));
        slow.new_ids.insert(id.clone());
        queued.push(id);
        std::thread::sleep(Duration::from_millis(20));
    }
    client.expect("QUIT", "221");
    // Delete five of the slow ones (the readers only ever saw flood messages).
    for id in queued.iter().rev().take(5) {
        assert!(
            deleted.lock().unwrap().insert(id.clone()),
            "{id} deleted once"
        );
        runtime.block_on(delete_by_id(&http, &base, id));
        slow.deleted_ids.insert(id.clone());
        std::thread::sleep(Duration::from_millis(20));
    }

    let queued_set: HashSet<String> = queued.iter().cloned().collect();
    assert_eq!(queued_set.len(), queued.len(), "queued ids are unique");
    let deleted = deleted.lock().unwrap().clone();
    let (stored, accepted, deleted_count, evicted) = counters(&server);
    eprintln!(
        "soak {secs} s: {accepted} accepted ({} in the flood), {stored} stored, {deleted_count} \
         deleted, {evicted} evicted; {rounds} reader rounds",
        flood_ids.len()
    );
    assert_eq!(
        accepted,
        queued.len() as u64,
        "SMTPAccepted counts every 250"
    );
    assert_eq!(evicted, 0, "nothing evicted under these limits");
    assert_eq!(
        deleted_count,
        deleted.len() as u64,
        "every delete by id found its message"
    );
    assert_eq!(
        accepted,
        stored + deleted_count,
        "accepted == stored + deleted"
    );
    let list = server.get_json(&format!("/api/v1/messages?start=0&limit={}", accepted + 1));
    let listed: HashSet<String> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len() as u64, stored);
    assert!(
        listed.is_disjoint(&deleted),
        "a deleted message is still listed"
    );
    let union: HashSet<String> = listed.union(&deleted).cloned().collect();
    assert!(
        union == queued_set,
        "stored ∪ deleted is exactly what was queued"
    );
    // Readable too: one in twenty, read whole.
    for id in listed.iter().step_by(20) {
        let resp = server.get(&format!("/api/v1/message/{id}"));
        assert_eq!(resp.status, 200, "GET {id} after the soak");
    }

    slow.total = stored;
    expected_tx.send(Some(slow.clone())).unwrap();
    for (i, w) in watchers.into_iter().enumerate() {
        let seen = runtime.block_on(w).expect("watcher");
        let missed = flood_ids.difference(&seen.new_ids).count();
        eprintln!(
            "WebSocket client {i}: {} `new` frames for {} flood messages ({missed} coalesced), \
             {} resyncs, closed {:?}",
            seen.new_frames,
            flood_ids.len(),
            seen.resyncs,
            seen.closed
        );
        assert_eq!(seen.error, None, "WebSocket client {i}");
        if seen.closed == Some(1013) {
            // Lagged clients are told so; nothing more can be checked of them.
            continue;
        }
        assert_eq!(seen.closed, None, "WebSocket client {i} was closed");
        assert_eq!(
            seen.new_frames,
            seen.new_ids.len(),
            "WebSocket client {i} got a `new` frame twice"
        );
        assert!(
            seen.new_ids.is_subset(&queued_set),
            "WebSocket client {i} got a `new` frame for a message never queued"
        );
        assert!(
            missed == 0 || seen.resyncs > 0,
            "WebSocket client {i} missed {missed} `new` frames without a `resync`"
        );
        assert!(
            seen.new_ids.is_superset(&slow.new_ids),
            "WebSocket client {i} missed a `new` frame after the flood: {:?}",
            slow.new_ids.difference(&seen.new_ids).collect::<Vec<_>>()
        );
        assert!(
            seen.deleted_ids.is_superset(&slow.deleted_ids),
            "WebSocket client {i} missed a `delete` frame after the flood"
        );
        assert_eq!(
            seen.last_total,
            Some(stored),
            "WebSocket client {i}'s last stats frame has the store's total"
        );
    }
    assert!(server.is_running(), "the server survived the soak");
}

//! Mail-reading benchmark (POP3 and IMAP) over a store of 10 000 small messages:
//! - POP3: one session lists them all (UIDL, then LIST) and fetches 1 000 whole (RETR, one at a
//!   time, as a mail client does);
//! - IMAP: one session lists them all (`UID FETCH 1:* (FLAGS)`) and fetches 1 000 whole
//!   (`UID FETCH n BODY.PEEK[]`, one at a time);
//! - IDLE: 100 clients idle in INBOX while messages arrive over SMTP; the wake-up latency is the
//!   time from the SMTP `250` to each client's `* n EXISTS`, p50 and p99 over every client and
//!   arrival.
//!
//! Prints messages per second for each and the process's RSS at each stage.
//!
//! Run: `cargo bench --bench readers` (`BENCH_READ_MESSAGES`, `BENCH_READ_FETCH`,
//! `BENCH_IDLE_CLIENTS`, `BENCH_IDLE_ROUNDS` change the sizes). Under `cargo test` it runs small,
//! as a smoke test. The server runs on a runtime of one worker thread, as the binary does by
//! default; the clients run on another.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mailsnare::message::{Envelope, StoredMessage};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

#[path = "common/mod.rs"]
mod common;
use common::{percentile, setting};

/// A ~2 KB message.
fn body(i: usize) -> Vec<u8> {
    format!(
        "From: app@example.com\r\nTo: user@example.net\r\nSubject: Reading {i}\r\nMessage-ID: <r{i}@bench>\r\n\r\n{}",
        "some ordinary words in a line of text for the benchmark\r\n".repeat(32)
    )
    .into_bytes()
}

struct Running {
    smtp: SocketAddr,
    pop3: SocketAddr,
    imap: SocketAddr,
}

/// Starts a server with POP3 and IMAP (one worker thread) and fills its store with `messages`
/// messages.
fn start(messages: usize) -> Running {
    common::start_server(
        |config| {
            config.pop3.addr = Some("127.0.0.1:0".into());
            config.imap.addr = Some("127.0.0.1:0".into());
        },
        move |server| {
            let store = server.store();
            for i in 0..messages {
                let envelope = Envelope {
                    mail_from: "app@example.com".into(),
                    rcpt_to: vec!["user@example.net".into()],
                    ..Envelope::default()
                };
                store
                    .insert(StoredMessage::new(envelope, body(i)))
                    .unwrap_or_else(|e| panic!("insert: {e}"));
            }
            Running {
                smtp: server.smtp_addr().unwrap_or_else(|e| panic!("{e}")),
                pop3: server
                    .pop3_addrs()
                    .0
                    .unwrap_or_else(|| panic!("no POP3 listener")),
                imap: server
                    .imap_addrs()
                    .0
                    .unwrap_or_else(|| panic!("no IMAP listener")),
            }
        },
    )
}

/// A line-oriented client connection.
struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    line: String,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        let mut client = Client {
            reader: BufReader::with_capacity(64 * 1024, r),
            writer: w,
            line: String::new(),
        };
        client.read_line().await; // greeting
        client
    }

    async fn send(&mut self, line: &str) {
        self.writer
            .write_all(line.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
    }

    /// The next line, without its CRLF.
    async fn read_line(&mut self) -> &str {
        self.line.clear();
        let n = self
            .reader
            .read_line(&mut self.line)
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
        assert!(n > 0, "the server closed the connection");
        self.line.trim_end_matches(['\r', '\n'])
    }

    /// Reads a POP3 multi-line answer after its `+OK` line; returns how many lines it had.
    async fn pop3_multiline(&mut self) -> usize {
        let first = self.read_line().await.to_string();
        assert!(first.starts_with("+OK"), "POP3 said {first:?}");
        let mut lines = 0;
        while self.read_line().await != "." {
            lines += 1;
        }
        lines
    }

    async fn pop3_ok(&mut self, command: &str) {
        self.send(command).await;
        let line = self.read_line().await;
        assert!(line.starts_with("+OK"), "{command:?}: POP3 said {line:?}");
    }

    /// Reads IMAP responses up to the tagged one for `tag` (which must be OK), taking literals
    /// whole; returns how many untagged responses came.
    async fn imap_until(&mut self, tag: &str) -> usize {
        let mut untagged = 0;
        loop {
            let line = self.read_line().await.to_string();
            if let Some(rest) = line.strip_prefix(&format!("{tag} ")) {
                assert!(rest.starts_with("OK"), "IMAP {tag}: {line}");
                return untagged;
            }
            if line.starts_with("* ") {
                untagged += 1;
            }
            // A literal `{n}` ends the line: its bytes follow, then the rest of the response.
            let mut line = line;
            while let Some(n) = literal_length(&line) {
                let mut bytes = vec![0u8; n];
                self.reader
                    .read_exact(&mut bytes)
                    .await
                    .unwrap_or_else(|e| panic!("read literal: {e}"));
                line = self.read_line().await.to_string();
            }
        }
    }

    async fn imap(&mut self, tag: &str, command: &str) -> usize {
        self.send(&format!("{tag} {command}\r\n")).await;
        self.imap_until(tag).await
    }
}

fn literal_length(line: &str) -> Option<usize> {
    let open = line.rfind('{')?;
    let inner = line[open + 1..].strip_suffix('}')?;
    inner.trim_end_matches('+').parse().ok()
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn rss() -> f64 {
    mailsnare::stats::resident_bytes() as f64 / 1_048_576.0
}

async fn pop3(addr: SocketAddr, messages: usize, fetch: usize) {
    let mut c = Client::connect(addr).await;
    c.pop3_ok("USER bench\r\n").await;
    c.pop3_ok("PASS bench\r\n").await;
    let started = Instant::now();
    c.send("UIDL\r\n").await;
    let listed = c.pop3_multiline().await;
    let uidl = started.elapsed();
    assert_eq!(listed, messages, "UIDL lists every message");
    let started = Instant::now();
    c.send("LIST\r\n").await;
    assert_eq!(c.pop3_multiline().await, messages);
    let list = started.elapsed();
    let started = Instant::now();
    for n in 1..=fetch {
        c.send(&format!("RETR {n}\r\n")).await;
        assert!(c.pop3_multiline().await > 30, "RETR {n} gives the message");
    }
    let retr = started.elapsed();
    c.pop3_ok("QUIT\r\n").await;
    println!(
        "pop3: UIDL of {messages} in {:.1} ms ({:.0} msg/s), LIST {:.1} ms ({:.0} msg/s), RETR x {fetch} {:.0} msg/s; RSS {:.0} MiB",
        uidl.as_secs_f64() * 1e3,
        rate(messages, uidl),
        list.as_secs_f64() * 1e3,
        rate(messages, list),
        rate(fetch, retr),
        rss()
    );
}

async fn imap_login(addr: SocketAddr) -> Client {
    let mut c = Client::connect(addr).await;
    c.imap("a1", "LOGIN bench bench").await;
    c.imap("a2", "SELECT INBOX").await;
    c
}

async fn imap(addr: SocketAddr, messages: usize, fetch: usize) {
    let mut c = imap_login(addr).await;
    let started = Instant::now();
    let listed = c.imap("b1", "UID FETCH 1:* (FLAGS)").await;
    let flags = started.elapsed();
    assert_eq!(listed, messages, "UID FETCH 1:* lists every message");
    let started = Instant::now();
    for n in 1..=fetch {
        let got = c
            .imap(&format!("c{n}"), &format!("FETCH {n} (BODY.PEEK[])"))
            .await;
        assert_eq!(got, 1, "FETCH {n} gives one message");
    }
    let bodies = started.elapsed();
    c.imap("z", "LOGOUT").await;
    println!(
        "imap: UID FETCH 1:* (FLAGS) of {messages} in {:.1} ms ({:.0} msg/s), FETCH BODY.PEEK[] x {fetch} {:.0} msg/s; RSS {:.0} MiB",
        flags.as_secs_f64() * 1e3,
        rate(messages, flags),
        rate(fetch, bodies),
        rss()
    );
}

/// Sends one small message over SMTP and returns when the server has said 250 to its DATA.
async fn smtp_send(c: &mut Client, i: usize) {
    let message = format!(
        "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nSubject: idle {i}\r\n\r\nhello\r\n.\r\n"
    );
    c.send(&message).await;
    for _ in 0..4 {
        let line = c.read_line().await.to_string();
        assert!(
            line.starts_with('2') || line.starts_with('3'),
            "SMTP said {line:?}"
        );
    }
}

async fn idle(running: &Running, clients: usize, rounds: usize, messages: usize) {
    let before = rss();
    let mut idlers = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut c = imap_login(running.imap).await;
        c.send(&format!("i{i} IDLE\r\n")).await;
        let line = c.read_line().await.to_string();
        assert!(line.starts_with('+'), "IDLE answered {line:?}");
        idlers.push(c);
    }
    let held = rss() - before;
    let mut smtp = Client::connect(running.smtp).await;
    smtp.send("EHLO bench\r\n").await;
    while !smtp.read_line().await.starts_with("250 ") {}
    let mut latencies = Vec::with_capacity(clients * rounds);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    for (i, mut c) in idlers.into_iter().enumerate() {
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                let line = c.read_line().await.to_string();
                if line.ends_with(" EXISTS") && tx.send((i, Instant::now())).is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    for round in 0..rounds {
        let sent = Instant::now();
        smtp_send(&mut smtp, messages + round).await;
        let acked = Instant::now();
        let mut seen = 0;
        while seen < clients {
            let (_, at) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("round {round}: only {seen} of {clients} clients woke"))
                .unwrap_or_else(|| panic!("the idling clients are gone"));
            latencies.push(at.saturating_duration_since(acked));
            seen += 1;
        }
        let _ = sent;
    }
    latencies.sort();
    println!(
        "idle: {clients} clients x {rounds} arrivals, wake-up after the SMTP 250: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {clients} idling connections hold {held:.1} MiB",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let messages = setting("BENCH_READ_MESSAGES", if benching { 10_000 } else { 200 });
    let fetch = setting("BENCH_READ_FETCH", if benching { 1_000 } else { 50 }).min(messages);
    let clients = setting("BENCH_IDLE_CLIENTS", if benching { 100 } else { 10 });
    let rounds = setting("BENCH_IDLE_ROUNDS", if benching { 20 } else { 3 });
    let base = rss();
    let running = start(messages);
    println!(
        "{messages} messages of ~2 KB in the store; RSS {:.0} MiB ({:.0} MiB before filling)",
        rss(),
        base
    );
    let client_rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    client_rt.block_on(async {
        pop3(running.pop3, messages, fetch).await;
        imap(running.imap, messages, fetch).await;
        idle(&running, clients, rounds, messages).await;
    });
}

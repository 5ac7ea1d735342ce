//! What the benchmarks share: a server on a runtime of its own, percentiles and their report
//! line, a timed GET, kept-alive SMTP ingest, and the `BENCH_*` settings read from the environment. Each benchmark includes it with
//! `#[path = "common/mod.rs"] mod common;` (they are separate crates).

#![allow(dead_code)]

use std::time::{Duration, Instant};

/// The `p` quantile (0 to 1) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// Prints `name`, the count, p50, p99 and max in ms; returns p99.
pub fn report(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p99 = percentile(&samples, 0.99);
    println!(
        "{name:<44} n={:<4} p50={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(p99),
        ms(samples.last().copied().unwrap_or_default()),
    );
    p99
}

/// How long a GET of `url` takes, body read; panics unless it succeeds.
pub async fn timed(client: &reqwest::Client, url: &str) -> Duration {
    let started = Instant::now();
    let response = client
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    let _ = response.bytes().await;
    started.elapsed()
}

/// The JSON a GET of `url` answers; panics unless it succeeds.
pub async fn json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// `BENCH_…` setting `name`, or `default`.
pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One kept-alive SMTP session sending messages `first..first + count`, one command at a time
/// (as smtp-source sends them): recipient `to(i)`, body `body(i)`.
pub async fn smtp_session(
    addr: std::net::SocketAddr,
    first: usize,
    count: usize,
    to: impl Fn(usize) -> String,
    body: impl Fn(usize) -> String,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream.set_nodelay(true).ok();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    async fn reply(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, line: &mut String) {
        loop {
            line.clear();
            read.read_line(line)
                .await
                .unwrap_or_else(|e| panic!("read: {e}"));
            assert!(
                line.starts_with('2') || line.starts_with('3'),
                "reply {line:?}"
            );
            if line.as_bytes().get(3) != Some(&b'-') {
                return;
            }
        }
    }
    reply(&mut read, &mut line).await;
    write.write_all(b"EHLO bench\r\n").await.ok();
    reply(&mut read, &mut line).await;
    for i in first..first + count {
        for command in [
            "MAIL FROM:<app@example.com>\r\n".to_string(),
            format!("RCPT TO:<{}>\r\n", to(i)),
            "DATA\r\n".to_string(),
        ] {
            write.write_all(command.as_bytes()).await.ok();
            reply(&mut read, &mut line).await;
        }
        write.write_all(body(i).as_bytes()).await.ok();
        write.write_all(b".\r\n").await.ok();
        reply(&mut read, &mut line).await;
    }
    write.write_all(b"QUIT\r\n").await.ok();
}

/// `messages` messages over `sessions` concurrent [`smtp_session`]s; messages per second.
pub async fn ingest<T, B>(
    addr: std::net::SocketAddr,
    sessions: usize,
    messages: usize,
    to: T,
    body: B,
) -> f64
where
    T: Fn(usize) -> String + Clone + Send + 'static,
    B: Fn(usize) -> String + Clone + Send + 'static,
{
    let started = Instant::now();
    let per = messages / sessions;
    let tasks: Vec<_> = (0..sessions)
        .map(|s| {
            tokio::spawn(smtp_session(
                addr,
                1_000_000 + s * per,
                per,
                to.clone(),
                body.clone(),
            ))
        })
        .collect();
    for t in tasks {
        t.await.unwrap_or_else(|e| panic!("{e}"));
    }
    (per * sessions) as f64 / started.elapsed().as_secs_f64()
}

/// Starts a server on a runtime of its own with one worker thread (the binary's default), its
/// store's limits raised for benchmark sizes. `configure` adjusts the configuration; `ready` takes
/// what the benchmark needs from the bound server, on that runtime, before it starts serving.
pub fn start_server<T: Send + 'static>(
    configure: impl FnOnce(&mut mailsnare::Config) + Send + 'static,
    ready: impl FnOnce(&mailsnare::Server) -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        runtime.block_on(async move {
            let mut config = mailsnare::Config::ephemeral();
            config.store.max_messages = 1_000_000;
            config.store.max_bytes = 8 << 30;
            configure(&mut config);
            let server = mailsnare::Server::bind(config)
                .await
                .unwrap_or_else(|e| panic!("bind: {e}"));
            let _ = tx.send(ready(&server));
            let _ = server.run(std::future::pending()).await;
        });
    });
    rx.recv()
        .unwrap_or_else(|e| panic!("server did not start: {e}"))
}

//! What the benchmarks share: percentiles and their report line, a timed GET, and the
//! `BENCH_*` settings read from the environment. Each benchmark includes it with
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

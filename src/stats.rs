//! Runtime counters of the SMTP side (reported by `/api/v1/info` and `/metrics`): lock-free
//! atomics, owned by the server and handed to the SMTP listeners and the HTTP state. The store
//! counts its own deletions and evictions.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Counters since startup.
#[derive(Debug)]
pub struct Stats {
    pub started: Instant,
    /// SMTP sessions started.
    pub smtp_sessions: AtomicU64,
    /// SMTP connections open right now.
    pub smtp_open: AtomicU64,
    /// SMTP sessions that ran over TLS (implicit or after STARTTLS).
    pub smtp_tls_sessions: AtomicU64,
    /// Messages acknowledged with 250.
    pub smtp_accepted: AtomicU64,
    /// Bytes of those messages.
    pub smtp_accepted_size: AtomicU64,
    /// Transaction steps refused: MAIL, RCPT or DATA refused (size, TLS or AUTH required, chaos,
    /// allowed recipients, no recipients), messages the store could not keep.
    pub smtp_rejected: AtomicU64,
    /// Messages accepted with 250 but not stored because every recipient was ignored
    /// (`--smtp-ignore-rejected-recipients`).
    pub smtp_ignored: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            smtp_sessions: AtomicU64::new(0),
            smtp_open: AtomicU64::new(0),
            smtp_tls_sessions: AtomicU64::new(0),
            smtp_accepted: AtomicU64::new(0),
            smtp_accepted_size: AtomicU64::new(0),
            smtp_rejected: AtomicU64::new(0),
            smtp_ignored: AtomicU64::new(0),
        }
    }
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Resident memory of this process, from /proc (0 where there is none).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|pages| pages.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

//! Runtime counters shared by SMTP and HTTP (reported by `/api/v1/info`): lock-free atomics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Counters since startup.
#[derive(Debug)]
pub struct Stats {
    pub started: Instant,
    /// SMTP sessions started.
    pub smtp_sessions: AtomicU64,
    /// SMTP sessions that ran over TLS (implicit or after STARTTLS).
    pub smtp_tls_sessions: AtomicU64,
    /// Messages acknowledged with 250.
    pub smtp_accepted: AtomicU64,
    /// Bytes of those messages.
    pub smtp_accepted_size: AtomicU64,
    /// Messages refused (size, store, chaos) after MAIL FROM began.
    pub smtp_rejected: AtomicU64,
    /// Messages deleted by clients (not counting evictions).
    pub messages_deleted: AtomicU64,
    /// Messages evicted to stay within the store's limits.
    pub messages_evicted: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            smtp_sessions: AtomicU64::new(0),
            smtp_tls_sessions: AtomicU64::new(0),
            smtp_accepted: AtomicU64::new(0),
            smtp_accepted_size: AtomicU64::new(0),
            smtp_rejected: AtomicU64::new(0),
            messages_deleted: AtomicU64::new(0),
            messages_evicted: AtomicU64::new(0),
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

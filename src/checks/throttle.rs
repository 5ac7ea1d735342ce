//! How hard the link checker may knock on one site: a token bucket and a concurrency cap per site,
//! and a short-lived cache of results, so that checking the same newsletter again (or an API loop
//! checking it a thousand times) does not turn mailsnare into a load generator. The numbers are
//! Mailpit's. Time is passed in, so the arithmetic is tested without sleeping.
//!
//! The state sits behind `std::sync::Mutex`es held for a few map operations and never across an
//! `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// Requests a site may get at once, before its bucket refills (a fresh 100-link check never waits).
pub const SITE_BURST: f64 = 100.0;
/// Sustained requests per second to one site, across every check.
pub const SITE_REFILL_PER_SECOND: f64 = 1.0;
/// Requests in flight to one site at once.
pub const SITE_CONCURRENCY: usize = 2;
/// Sites (and cached results, twice this) remembered at most; bounds memory whatever the mail.
pub const MAX_SITES: usize = 10_000;
/// How long a link's result is reused.
pub const RESULT_TTL: Duration = Duration::from_secs(60);

/// The key requests are counted under: the host's last two labels, so that `a.example.com` and
/// `b.example.com` share one bucket (wildcard DNS cannot multiply the rate); IP literals as they
/// are. Without a public-suffix list, `x.co.uk` and `y.co.uk` share one too: stricter, never looser.
pub fn site_of(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return host;
    }
    let mut labels = host.rsplitn(3, '.');
    match (labels.next(), labels.next()) {
        (Some(tld), Some(name)) => format!("{name}.{tld}"),
        _ => host,
    }
}

/// A token bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(now: Instant) -> Bucket {
        Bucket {
            tokens: SITE_BURST,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * SITE_REFILL_PER_SECOND).min(SITE_BURST);
        self.at = now;
    }

    /// Takes a token now, or tells how long until one is free without taking it.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / SITE_REFILL_PER_SECOND,
            ))
        }
    }

    fn is_full(&self, now: Instant) -> bool {
        let mut copy = *self;
        copy.refill(now);
        copy.tokens >= SITE_BURST
    }
}

#[derive(Debug)]
struct Site {
    bucket: Bucket,
    slots: Arc<Semaphore>,
    used: Instant,
}

/// Per-site buckets and concurrency slots.
#[derive(Debug, Default)]
pub struct Sites {
    sites: Mutex<HashMap<String, Site>>,
}

/// Permission to send one request to a site: its bucket gave a token; hold the slot while the
/// request runs.
#[derive(Debug)]
pub struct Admission {
    pub slots: Arc<Semaphore>,
}

impl Sites {
    /// A token from `site`'s bucket and the semaphore of its concurrency slots, or how long
    /// until the bucket has a token (nothing is taken then).
    pub fn admit(&self, site: &str, now: Instant) -> Result<Admission, Duration> {
        let Ok(mut sites) = self.sites.lock() else {
            // A poisoned lock means a panic elsewhere; throttling must not become a failure.
            return Ok(Admission {
                slots: Arc::new(Semaphore::new(SITE_CONCURRENCY)),
            });
        };
        if !sites.contains_key(site) && sites.len() >= MAX_SITES {
            evict(&mut sites, now);
        }
        let entry = sites.entry(site.to_string()).or_insert_with(|| Site {
            bucket: Bucket::full(now),
            slots: Arc::new(Semaphore::new(SITE_CONCURRENCY)),
            used: now,
        });
        entry.used = now;
        entry.bucket.take(now)?;
        Ok(Admission {
            slots: Arc::clone(&entry.slots),
        })
    }

    pub fn len(&self) -> usize {
        self.sites.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes room: first drop sites that are idle and whose bucket is full again (forgetting them
/// changes nothing), else the least recently used one.
fn evict(sites: &mut HashMap<String, Site>, now: Instant) {
    sites
        .retain(|_, s| !(s.bucket.is_full(now) && s.slots.available_permits() == SITE_CONCURRENCY));
    if sites.len() < MAX_SITES {
        return;
    }
    if let Some(oldest) = sites
        .iter()
        .min_by_key(|(_, s)| s.used)
        .map(|(k, _)| k.clone())
    {
        sites.remove(&oldest);
    }
}

/// Results of recent checks, by URL and whether redirects were followed.
#[derive(Debug)]
pub struct Cache<V> {
    entries: Mutex<HashMap<(String, bool), (V, Instant)>>,
}

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Cache {
            entries: Mutex::default(),
        }
    }
}

impl<V: Clone> Cache<V> {
    pub fn get(&self, url: &str, follow: bool, now: Instant) -> Option<V> {
        let mut entries = self.entries.lock().ok()?;
        let key = (url.to_string(), follow);
        match entries.get(&key) {
            Some((value, expires)) if *expires > now => Some(value.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, url: &str, follow: bool, value: V, now: Instant) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= 2 * MAX_SITES {
            entries.retain(|_, (_, expires)| *expires > now);
            if entries.len() >= 2 * MAX_SITES {
                // All fresh: an API loop over many distinct links. Start over rather than grow.
                entries.clear();
            }
        }
        entries.insert((url.to_string(), follow), (value, now + RESULT_TTL));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_group_subdomains() {
        assert_eq!(site_of("a.Example.com"), "example.com");
        assert_eq!(site_of("b.c.example.com."), "example.com");
        assert_eq!(site_of("example.com"), "example.com");
        assert_eq!(site_of("localhost"), "localhost");
        assert_eq!(site_of("127.0.0.1"), "127.0.0.1");
        assert_eq!(site_of("[::1]"), "[::1]");
    }

    #[test]
    fn a_burst_then_one_per_second() {
        let sites = Sites::default();
        let start = Instant::now();
        for _ in 0..SITE_BURST as usize {
            assert!(sites.admit("example.com", start).is_ok());
        }
        let wait = sites.admit("example.com", start).err();
        assert_eq!(
            wait,
            Some(Duration::from_secs(1)),
            "empty: a token a second"
        );
        // Refusing took nothing: half a second later the wait is half as long.
        let half = start + Duration::from_millis(500);
        let wait = sites.admit("example.com", half).err().unwrap_or_default();
        assert!(
            wait > Duration::from_millis(400) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert!(
            sites
                .admit("example.com", start + Duration::from_secs(1))
                .is_ok()
        );
        // Another site has its own bucket.
        assert!(sites.admit("example.org", start).is_ok());
    }

    #[test]
    fn sites_are_bounded() {
        let sites = Sites::default();
        let now = Instant::now();
        for i in 0..MAX_SITES + 50 {
            let _ = sites.admit(&format!("10.0.{}.{}", i / 256, i % 256), now);
        }
        assert!(sites.len() <= MAX_SITES, "{}", sites.len());
    }

    #[test]
    fn results_expire_and_are_bounded() {
        let cache = Cache::default();
        let now = Instant::now();
        cache.put("http://a.test/", false, 200, now);
        assert_eq!(cache.get("http://a.test/", false, now), Some(200));
        assert_eq!(
            cache.get("http://a.test/", true, now),
            None,
            "following redirects may give another answer"
        );
        assert_eq!(cache.get("http://a.test/", false, now + RESULT_TTL), None);
        for i in 0..2 * MAX_SITES + 10 {
            cache.put(&format!("http://a.test/{i}"), false, 1, now);
        }
        assert!(cache.len() <= 2 * MAX_SITES);
    }
}

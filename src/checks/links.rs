//! The link check (`GET /api/v1/message/{ID}/link-check`, Mailpit's): every `http(s)` link of a
//! message (HTML `href` and `src`, then the text body), deduplicated and capped, is asked for its
//! status with `HEAD` (and `GET` when a server refuses `HEAD`), and answered as
//! `{Errors, Links[{URL, StatusCode, Status}]}`.
//!
//! The links are written by whoever sent the mail, so every connection goes through the
//! [`AddressPolicy`]: names are resolved by us, every address vetted, and the connector is handed
//! only those addresses (no second lookup it could be tricked by); IP literals and every redirect
//! hop are vetted the same way; proxies from the environment are ignored, since a proxy would
//! resolve names itself. Requests are bounded in number, time and rate per site
//! ([`super::throttle`]), and results are reused for a minute.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lol_html::{HtmlRewriter, MemorySettings, Settings, element};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use tokio::sync::Semaphore;

use super::address_policy::{
    AddressPolicy, Refusal, Resolver, SystemResolver, Vetting, ip_literal,
};
use super::throttle::{Cache, Sites, site_of};

/// URLs one link may visit when following redirects: the link and two redirects, as Mailpit
/// (Go's client with `len(via) >= 3`). Each hop is a `HEAD`, plus a `GET` where `HEAD` is refused.
pub const MAX_HOPS: usize = 3;
/// What the HTML scan may allocate; larger documents are scanned up to where it gave up.
const SCAN_MEMORY: usize = 16 * 1024 * 1024;
/// Mailpit's status for a refused address (with code 451); its UI shows it as is.
pub const BLOCKED: &str = "Blocked private/reserved address";

/// How links are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkCheckConfig {
    /// Reach loopback, private, link-local and other internal addresses
    /// (`--allow-internal-http-requests`).
    pub allow_internal: bool,
    /// Accept any TLS certificate (`--allow-untrusted-tls`).
    pub allow_untrusted_tls: bool,
    /// Per-site rate and concurrency limits and the result cache (off with
    /// `--disable-link-check-rate-limit`).
    pub rate_limit: bool,
    /// The longest one link may take, redirects included (`--link-check-timeout`).
    pub timeout: Duration,
    /// Most distinct links checked per message (`--link-check-max-links`).
    pub max_links: usize,
    /// Most link requests in flight at once, across all checks (`--link-check-concurrency`).
    pub concurrency: usize,
}

impl Default for LinkCheckConfig {
    fn default() -> Self {
        LinkCheckConfig {
            allow_internal: false,
            allow_untrusted_tls: false,
            rate_limit: true,
            timeout: crate::config::DEFAULT_LINK_CHECK_TIMEOUT,
            max_links: crate::config::DEFAULT_LINK_CHECK_MAX_LINKS,
            concurrency: crate::config::DEFAULT_LINK_CHECK_CONCURRENCY,
        }
    }
}

/// Mailpit's `LinkCheckResponse`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LinkReport {
    /// Links that failed: status 400 and above, or no status at all.
    #[serde(rename = "Errors")]
    pub errors: usize,
    #[serde(rename = "Links")]
    pub links: Vec<Link>,
}

/// One checked link.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Link {
    #[serde(rename = "URL")]
    pub url: String,
    /// The HTTP status; 0 when there was none (timeout, refused connection, bad URL), 451 for an
    /// address the policy refused.
    #[serde(rename = "StatusCode")]
    pub status_code: u16,
    /// The status's reason phrase (`OK`, `Not Found`), or what went wrong.
    #[serde(rename = "Status")]
    pub status: String,
}

impl Link {
    fn failed(url: &str, status: impl Into<String>) -> Link {
        Link {
            url: url.to_string(),
            status_code: 0,
            status: status.into(),
        }
    }

    fn is_error(&self) -> bool {
        self.status_code == 0 || self.status_code >= 400
    }
}

/// Why a link has no status.
#[derive(Debug)]
enum Failure {
    Blocked(Refusal),
    NoSuchHost,
    Timeout,
    TooManyRedirects,
    Other(String),
}

impl Failure {
    fn into_link(self, url: &str) -> Link {
        match self {
            Failure::Blocked(refusal) => {
                tracing::debug!("link check: {refusal}");
                Link {
                    url: url.to_string(),
                    status_code: 451,
                    status: BLOCKED.into(),
                }
            }
            Failure::NoSuchHost => Link::failed(url, "no such host"),
            Failure::Timeout => Link::failed(url, "timeout"),
            Failure::TooManyRedirects => Link::failed(url, "too many redirects"),
            Failure::Other(text) => Link::failed(url, text),
        }
    }

    /// What a client error comes down to: our own refusal when the resolver gave one, else the
    /// innermost cause in words (`connection refused`, `connection reset by peer`).
    fn from_request(err: &reqwest::Error) -> Failure {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
        let mut innermost = err.to_string();
        while let Some(e) = source {
            if let Some(refusal) = e.downcast_ref::<Refusal>() {
                return match refusal {
                    Refusal::Internal { .. } => Failure::Blocked(refusal.clone()),
                    Refusal::NoAddress { .. } | Refusal::Lookup { .. } => Failure::NoSuchHost,
                };
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind::*;
                match io.kind() {
                    ConnectionRefused => return Failure::Other("connection refused".into()),
                    ConnectionReset => return Failure::Other("connection reset by peer".into()),
                    ConnectionAborted => return Failure::Other("connection aborted".into()),
                    TimedOut => return Failure::Timeout,
                    _ => {}
                }
            }
            innermost = e.to_string();
            source = e.source();
        }
        if err.is_timeout() {
            return Failure::Timeout;
        }
        Failure::Other(innermost)
    }
}

/// The link checker a server shares between requests: its client, limits and cache.
pub struct LinkChecker {
    config: LinkCheckConfig,
    policy: AddressPolicy,
    resolver: Arc<dyn Resolver>,
    /// Built on first use: most servers never check a link, and building loads the trust roots.
    client: OnceLock<Result<reqwest::Client, String>>,
    requests: Semaphore,
    sites: Sites,
    cache: Cache<Link>,
}

impl std::fmt::Debug for LinkChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkChecker")
            .field("config", &self.config)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Default for LinkChecker {
    fn default() -> Self {
        LinkChecker::new(LinkCheckConfig::default())
    }
}

impl LinkChecker {
    /// A checker with the standard policy and the system resolver.
    pub fn new(config: LinkCheckConfig) -> LinkChecker {
        let policy = AddressPolicy::new(config.allow_internal);
        LinkChecker::with_parts(config, policy, Arc::new(SystemResolver))
    }

    /// A checker with its own policy and resolver (tests: names that resolve to loopback
    /// servers, one of which the policy treats as public).
    pub fn with_parts(
        config: LinkCheckConfig,
        policy: AddressPolicy,
        resolver: Arc<dyn Resolver>,
    ) -> LinkChecker {
        LinkChecker {
            requests: Semaphore::new(config.concurrency.max(1)),
            config,
            policy,
            resolver,
            client: OnceLock::new(),
            sites: Sites::default(),
            cache: Cache::default(),
        }
    }

    pub fn config(&self) -> &LinkCheckConfig {
        &self.config
    }

    fn client(&self) -> Result<&reqwest::Client, &str> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .user_agent(concat!("mailsnare/", env!("CARGO_PKG_VERSION")))
                    // Redirects are followed by hand, so each hop is vetted and counted.
                    .redirect(reqwest::redirect::Policy::none())
                    // A proxy would resolve names itself, past the policy.
                    .no_proxy()
                    .dns_resolver(Arc::new(Vetting::new(
                        self.policy.clone(),
                        Arc::clone(&self.resolver),
                    )))
                    .connect_timeout(self.config.timeout)
                    .timeout(self.config.timeout)
                    // Nothing to reuse between links worth the open descriptors.
                    .pool_max_idle_per_host(0)
                    .referer(false)
                    .danger_accept_invalid_certs(self.config.allow_untrusted_tls)
                    .build()
                    .map_err(|e| {
                        tracing::error!("link check: cannot build the HTTP client: {e}");
                        format!("link checker unavailable: {e}")
                    })
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Checks `links` (already deduplicated and capped, see [`extract`]) at once, within the
    /// bounds; the order of the answer is the order of `links`.
    pub async fn check(&self, links: &[String], follow: bool) -> LinkReport {
        let links: Vec<Link> =
            futures_util::future::join_all(links.iter().map(|url| self.check_one(url, follow)))
                .await;
        let blocked = links
            .iter()
            .filter(|l| l.status_code == 451 && l.status == BLOCKED);
        let blocked = blocked.count();
        if blocked > 0 {
            // Once per check, not per link: a local app's mail may link nowhere else.
            tracing::info!(
                "link check: {blocked} links to internal addresses refused (--allow-internal-http-requests allows them)"
            );
        }
        LinkReport {
            errors: links.iter().filter(|l| l.is_error()).count(),
            links,
        }
    }

    async fn check_one(&self, url: &str, follow: bool) -> Link {
        if self.config.rate_limit
            && let Some(cached) = self.cache.get(url, follow, Instant::now())
        {
            return cached;
        }
        let Some(parsed) = parse_link(url) else {
            return Link::failed(url, "invalid URL");
        };
        let link = self.request(url, parsed, follow).await;
        if self.config.rate_limit {
            self.cache.put(url, follow, link.clone(), Instant::now());
        }
        link
    }

    async fn request(&self, url: &str, parsed: Url, follow: bool) -> Link {
        let client = match self.client() {
            Ok(client) => client,
            Err(e) => return Link::failed(url, e),
        };
        // A site's turn first, then a global slot: waiting for one site must not hold a slot
        // that links to other sites could use.
        let _site = if self.config.rate_limit {
            let host = parsed.host_str().unwrap_or_default();
            match self.site_slot(&site_of(host)).await {
                Some(permit) => Some(permit),
                None => {
                    return Link::failed(
                        url,
                        "rate limited: too many recent requests to this site",
                    );
                }
            }
        } else {
            None
        };
        let Ok(_request) = self.requests.acquire().await else {
            return Link::failed(url, "link checker unavailable");
        };
        match tokio::time::timeout(self.config.timeout, self.probe(client, parsed, follow)).await {
            Ok(Ok(status)) => Link {
                url: url.to_string(),
                status_code: status.as_u16(),
                status: status.canonical_reason().unwrap_or_default().to_string(),
            },
            Ok(Err(failure)) => failure.into_link(url),
            Err(_) => Failure::Timeout.into_link(url),
        }
    }

    /// Waits for `site`'s bucket and one of its concurrency slots; `None` when the bucket would
    /// not have a token within the link timeout (the caller reports it rather than hang).
    async fn site_slot(&self, site: &str) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let deadline = Instant::now() + self.config.timeout;
        let slots = loop {
            let now = Instant::now();
            match self.sites.admit(site, now) {
                Ok(admission) => break admission.slots,
                Err(wait) if now + wait <= deadline => tokio::time::sleep(wait).await,
                Err(_) => return None,
            }
        };
        slots.acquire_owned().await.ok()
    }

    /// The status of `url`: `HEAD` (then `GET` if the server does not do `HEAD`), following
    /// redirects for at most [`MAX_HOPS`] URLs in all when `follow` is set.
    async fn probe(
        &self,
        client: &reqwest::Client,
        mut url: Url,
        follow: bool,
    ) -> Result<StatusCode, Failure> {
        for _ in 0..MAX_HOPS {
            self.vet_literal(&url)?;
            let mut response = self.send(client, Method::HEAD, &url).await?;
            if matches!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
            ) {
                // The body is never read: dropping the response closes the connection.
                response = self.send(client, Method::GET, &url).await?;
            }
            let status = response.status();
            let redirect = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            let (true, true, Some(location)) = (follow, redirect, location) else {
                return Ok(status);
            };
            let next = url
                .join(location)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| {
                    Failure::Other(format!("blocked redirect to invalid URL: {location}"))
                })?;
            url = next;
        }
        Err(Failure::TooManyRedirects)
    }

    /// IP literals never reach the resolver, so they are vetted here. The URL parser has
    /// already turned disguised forms (`2130706433`, `0x7f.1`) into plain addresses.
    fn vet_literal(&self, url: &Url) -> Result<(), Failure> {
        let host = url.host_str().unwrap_or_default();
        match ip_literal(host) {
            Some(ip) => self.policy.check_ip(host, ip).map_err(Failure::Blocked),
            None => Ok(()),
        }
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        method: Method,
        url: &Url,
    ) -> Result<reqwest::Response, Failure> {
        client
            .request(method, url.clone())
            .send()
            .await
            .map_err(|e| Failure::from_request(&e))
    }
}

/// `url` when it is an absolute `http`/`https` URL with a host.
fn parse_link(url: &str) -> Option<Url> {
    Url::parse(url).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
    })
}

/// Collects distinct links up to a cap.
struct Collector {
    links: Vec<String>,
    max: usize,
}

impl Collector {
    fn full(&self) -> bool {
        self.links.len() >= self.max
    }

    /// Adds `link` if it is an `http(s)` URL not seen yet; false once the cap is reached.
    fn add(&mut self, link: &str) -> bool {
        let link = link.trim();
        if !self.full() && parse_link(link).is_some() && !self.links.iter().any(|l| l == link) {
            self.links.push(link.to_string());
        }
        !self.full()
    }
}

/// The links to check in a message: `href` and `src` attributes of its HTML body in document
/// order, then the URLs in its text body; `http(s)` only, each once, at most `max`.
pub fn extract(html: &str, text: &str, max: usize) -> Vec<String> {
    let mut collector = Collector {
        links: Vec::new(),
        max,
    };
    if max == 0 {
        return collector.links;
    }
    html_links(html, &mut collector);
    text_links(text, &mut collector);
    collector.links
}

/// The `http(s)` URLs in plain text, in order, each once, at most `max`.
pub fn text_urls(text: &str, max: usize) -> Vec<String> {
    let mut collector = Collector {
        links: Vec::new(),
        max,
    };
    if max > 0 {
        text_links(text, &mut collector);
    }
    collector.links
}

fn html_links(html: &str, collector: &mut Collector) {
    if html.is_empty() || collector.full() {
        return;
    }
    let collector = std::cell::RefCell::new(collector);
    let handler = |attribute: &'static str| {
        let collector = &collector;
        move |el: &mut lol_html::html_content::Element<'_, '_>| {
            if let Some(value) = el.get_attribute(attribute) {
                let value = crate::mime::html::decode_entities(&value);
                if !collector.borrow_mut().add(&value) {
                    // Enough links: an error from a handler stops the scan.
                    return Err("link cap reached".into());
                }
            }
            Ok(())
        }
    };
    let settings = Settings::new()
        .append_element_content_handler(element!("[href]", handler("href")))
        .append_element_content_handler(element!("[src]", handler("src")))
        .with_memory_settings(MemorySettings::new().with_max_allowed_memory_usage(SCAN_MEMORY));
    let mut scanner = HtmlRewriter::new(settings, |_: &[u8]| {});
    // An error is the cap, or the memory bound: either way, what was found so far stands.
    if scanner.write(html.as_bytes()).is_ok() {
        let _ = scanner.end();
    }
}

/// URLs in plain text: `<…>`-delimited ones may span lines (RFC 3986 appendix C: white space
/// inside is dropped); bare ones end at white space and lose trailing punctuation.
fn text_links(text: &str, collector: &mut Collector) {
    let mut rest = text;
    while let Some(at) = find_scheme(rest) {
        let delimited = rest[..at].ends_with('<');
        let tail = &rest[at..];
        let (link, used) = if delimited {
            match tail.find('>') {
                Some(end) => (
                    tail[..end]
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect::<String>(),
                    end,
                ),
                None => bare(tail),
            }
        } else {
            bare(tail)
        };
        if !collector.add(&link) {
            return;
        }
        rest = &tail[used.max(1)..];
    }
}

/// A bare URL at the start of `text` and how many bytes it spans.
fn bare(text: &str) -> (String, usize) {
    let end = text
        .find(|c: char| {
            c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`' | '{' | '}' | '|' | '\\' | '^')
        })
        .unwrap_or(text.len());
    let mut link = &text[..end];
    // Sentence punctuation after a link is not part of it; a `)` only if it opens none.
    loop {
        let trimmed = link.trim_end_matches(['.', ',', ';', ':', '!', '?', '\'']);
        let trimmed = if trimmed.ends_with(')')
            && trimmed.matches('(').count() < trimmed.matches(')').count()
        {
            &trimmed[..trimmed.len() - 1]
        } else {
            trimmed
        };
        if trimmed.len() == link.len() {
            break;
        }
        link = trimmed;
    }
    (link.to_string(), end)
}

/// Where the next `http://` or `https://` (any case) starts.
fn find_scheme(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(found) = memchr::memchr2(b'h', b'H', &bytes[from..]) {
        let at = from + found;
        let rest = &bytes[at..];
        let matches = |scheme: &[u8]| {
            rest.len() >= scheme.len() && rest[..scheme.len()].eq_ignore_ascii_case(scheme)
        };
        if matches(b"http://") || matches(b"https://") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_then_text_links_each_once() {
        let html = r#"<html><head><link rel="stylesheet" href="https://cdn.test/a.css"></head>
            <body><a href="https://shop.test/?a=1&amp;b=2">shop</a>
            <img src="http://img.test/x.png"><a href="mailto:me@test">mail</a>
            <a href="/relative">rel</a><a href=" https://shop.test/?a=1&b=2 ">again</a>
            <script src="https://js.test/s.js"></script><a href="javascript:alert(1)">x</a></body>"#;
        let text = "Shop: https://shop.test/?a=1&b=2.\n\
            See <https://docs.test/very/\n long/path> or (https://paren.test/x) and \
            HTTPS://UPPER.test/Y, https://wiki.test/A_(b)";
        assert_eq!(
            extract(html, text, 100),
            [
                "https://cdn.test/a.css",
                "https://shop.test/?a=1&b=2",
                "http://img.test/x.png",
                "https://js.test/s.js",
                "https://docs.test/very/long/path",
                "https://paren.test/x",
                "HTTPS://UPPER.test/Y",
                "https://wiki.test/A_(b)",
            ]
        );
    }

    #[test]
    fn links_are_capped() {
        let html: String = (0..50)
            .map(|i| format!(r#"<a href="https://h.test/{i}">x</a>"#))
            .collect();
        let text: String = (0..50).map(|i| format!("https://t.test/{i} ")).collect();
        let links = extract(&html, &text, 60);
        assert_eq!(links.len(), 60);
        assert_eq!(links[49], "https://h.test/49");
        assert_eq!(links[59], "https://t.test/9");
        assert_eq!(extract(&html, &text, 0), Vec::<String>::new());
        assert_eq!(extract("", "", 10), Vec::<String>::new());
        assert_eq!(
            extract("<a href='http://'>", "http:// https://", 10),
            Vec::<String>::new()
        );
    }

    #[test]
    fn reports_count_errors_as_mailpit_does() {
        let link = |code: u16| Link {
            url: String::new(),
            status_code: code,
            status: String::new(),
        };
        assert!(!link(200).is_error());
        assert!(!link(301).is_error());
        assert!(link(404).is_error());
        assert!(link(451).is_error());
        assert!(link(0).is_error());
        let json = serde_json::to_value(LinkReport {
            errors: 1,
            links: vec![Link {
                url: "https://x.test/".into(),
                status_code: 404,
                status: "Not Found".into(),
            }],
        })
        .unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"Errors": 1, "Links": [{"URL": "https://x.test/", "StatusCode": 404, "Status": "Not Found"}]})
        );
    }

    #[tokio::test]
    async fn literal_internal_links_are_refused_without_a_request() {
        // Only 127.0.0.1 in disguises, so even a bug sends nothing off the host; nothing listens
        // on port 9, so a connection attempt would end in "connection refused", not 451.
        let checker = LinkChecker::default();
        let links: Vec<String> = [
            "http://127.0.0.1:9/",
            "http://2130706433:9/",
            "http://0x7f.1:9/",
            "http://[::ffff:127.0.0.1]:9/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let report = checker.check(&links, true).await;
        assert_eq!(report.errors, links.len());
        for link in &report.links {
            assert_eq!(
                (link.status_code, link.status.as_str()),
                (451, BLOCKED),
                "{}",
                link.url
            );
        }
    }
}

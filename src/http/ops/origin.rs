//! The origin policy: which browser requests mailsnare serves. One middleware in front of every
//! route, so no handler can forget it (../shared/spec/security.md):
//!
//! - **Host** (DNS rebinding): a rebinding page needs a public, dotted DNS name, so only IP
//!   literals, `localhost`/`*.localhost`, single-label names (a compose service such as `mail`)
//!   and the names of `--allowed-hosts` are served, on any port. `*` turns the check off.
//! - **Origin** (cross-site requests): WebSocket and Server-Sent Events handshakes and every unsafe
//!   method must come without an `Origin` (curl, test clients), from the same origin, or from an
//!   origin that `--cors-origin` allows; without an `Origin`, `Sec-Fetch-Site` must not say another
//!   site sent it. With `--cors-origin` set, any cross-origin request from another origin is
//!   refused too, as Mailpit does, and allowed origins get CORS headers and preflight answers.
//! - **Bodies** (CSRF by simple requests): a POST or PUT body must be `application/json`; a form
//!   or `text/plain` body, which a page can send without a CORS preflight, gets 415.
//! - **Headers on every response**: a default Content-Security-Policy (sandboxed, nothing loads)
//!   and `X-Content-Type-Options: nosniff` unless the handler set its own.
//!
//! Refusals are JSON errors and are logged once per client and reason.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The policy for responses whose handler set none: nothing loads, nothing runs, nobody frames
/// it. JSON, raw mail and downloads opened in a tab are inert documents.
pub const DEFAULT_CSP: &str =
    "sandbox; default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// How many (client, reason) pairs are remembered so each refusal is logged once.
const LOGGED_REFUSALS: usize = 4096;

/// A host-name pattern of `--allowed-hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// `mail.team.example`
    Exact(String),
    /// `*.team.example`: any name ending in `.team.example`.
    Suffix(String),
}

/// Origins that `--cors-origin` allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// CORS off: only same-origin browser requests.
    Off,
    /// `*`: any origin.
    Any,
    /// `https://app.example` (scheme, host and port must match) or `app.example` (any scheme and
    /// port), lower-cased.
    List(Vec<String>),
}

/// The policy, built once from the configuration.
#[derive(Debug)]
pub struct OriginPolicy {
    /// `None` when the Host check is off (`--allowed-hosts '*'`).
    allowed_hosts: Option<Vec<HostPattern>>,
    cors: CorsOrigins,
    /// Path prefix (`--webroot`), for the health paths.
    webroot: String,
    logged: Mutex<HashSet<(Option<IpAddr>, &'static str)>>,
}

/// Why a request was refused; the text is the JSON error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    status: StatusCode,
    /// A short key for the once-per-client log.
    kind: &'static str,
    message: String,
}

impl OriginPolicy {
    /// `allowed_hosts`: comma- or space-separated names, `*.suffix` patterns, or `*`.
    /// `cors`: comma- or space-separated origins or host names, `*` anywhere meaning any.
    pub fn new(allowed_hosts: Option<&str>, cors: Option<&str>, webroot: &str) -> OriginPolicy {
        OriginPolicy {
            allowed_hosts: parse_allowed_hosts(allowed_hosts.unwrap_or_default()),
            cors: CorsOrigins::parse(cors.unwrap_or_default()),
            webroot: webroot.to_string(),
            logged: Mutex::new(HashSet::new()),
        }
    }

    /// The path prefix the policy was built for.
    pub fn webroot(&self) -> &str {
        &self.webroot
    }

    fn is_health(&self, path: &str) -> bool {
        is_health_path(&self.webroot, path)
    }

    /// The Host rule alone: true when `host` (a Host header value, with or without port) may be
    /// served.
    pub fn host_allowed(&self, host: &str) -> bool {
        let Some(patterns) = &self.allowed_hosts else {
            return true;
        };
        let Some(name) = host_name(host) else {
            return false;
        };
        if name.parse::<IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost") {
            return true;
        }
        if !name.contains('.') && !name.is_empty() {
            return true;
        }
        patterns.iter().any(|p| match p {
            HostPattern::Exact(exact) => *exact == name,
            HostPattern::Suffix(suffix) => {
                name.len() > suffix.len() && name.ends_with(suffix.as_str())
            }
        })
    }

    /// Decides on one request. `Ok` carries the CORS origin to echo, if any.
    pub fn check(&self, method: &Method, headers: &HeaderMap, path: &str) -> Result<Cors, Refusal> {
        if self.is_health(path) {
            return Ok(Cors::None);
        }
        let host = request_host(headers);
        if let Some(host) = host
            && !self.host_allowed(host)
        {
            return Err(Refusal {
                status: StatusCode::FORBIDDEN,
                kind: "host",
                message: format!(
                    "host {host:?} is not served (a DNS-rebinding guard); start mailsnare with \
                     --allowed-hosts {} to serve it",
                    host_name(host).unwrap_or_default()
                ),
            });
        }
        let origin = headers
            .get(header::ORIGIN)
            .map(|v| v.to_str().unwrap_or("null").trim().to_ascii_lowercase());
        let same_origin = match (&origin, host) {
            (Some(origin), Some(host)) => {
                same_authority(origin, host)
                    || forwarded_host(headers).is_some_and(|fwd| same_authority(origin, fwd))
            }
            _ => false,
        };
        let cross_origin = origin.is_some() && !same_origin;
        let allowed = origin
            .as_deref()
            .is_some_and(|origin| cross_origin && self.cors.allows(origin));
        if *method == Method::OPTIONS
            && cross_origin
            && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            let origin = origin.unwrap_or_else(|| "null".into());
            return if allowed {
                Ok(Cors::Preflight(self.cors.echo(&origin)))
            } else {
                Err(self.foreign(&origin))
            };
        }
        let guarded = is_unsafe(method) || is_stream(headers);
        if cross_origin && !allowed && (guarded || self.cors != CorsOrigins::Off) {
            return Err(self.foreign(origin.as_deref().unwrap_or("null")));
        }
        if origin.is_none()
            && guarded
            && let Some(site) = other_site(headers)
        {
            return Err(Refusal {
                status: StatusCode::FORBIDDEN,
                kind: "sec-fetch-site",
                message: format!("a request sent by another site ({site}) is refused"),
            });
        }
        if matches!(*method, Method::POST | Method::PUT) && has_body(headers) && !is_json(headers) {
            return Err(Refusal {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                kind: "content-type",
                message: "send the body as JSON, with Content-Type: application/json".into(),
            });
        }
        Ok(match (allowed, origin) {
            (true, Some(origin)) => Cors::Simple(self.cors.echo(&origin)),
            _ => Cors::None,
        })
    }

    fn foreign(&self, origin: &str) -> Refusal {
        let hint = match &self.cors {
            CorsOrigins::Off => {
                format!("; to allow it, start mailsnare with --cors-origin {origin}")
            }
            _ => String::new(),
        };
        Refusal {
            status: StatusCode::FORBIDDEN,
            kind: "origin",
            message: format!("cross-origin request from {origin} refused{hint}"),
        }
    }

    /// Logs a refusal unless this client was already told about this reason.
    fn log_once(&self, client: Option<IpAddr>, refusal: &Refusal, method: &Method, path: &str) {
        let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
        if logged.len() >= LOGGED_REFUSALS {
            logged.clear();
        }
        if logged.insert((client, refusal.kind)) {
            let client = client.map(|c| c.to_string()).unwrap_or_else(|| "?".into());
            tracing::warn!(
                %client,
                "refused {method} {path}: {} (logged once per client)",
                refusal.message
            );
        }
    }
}

/// The browser's `Sec-Fetch-Site` when it says another site sent the request (`cross-site`,
/// `same-site`); `None` for this UI, a typed address, or a client that is not a browser.
pub fn other_site(headers: &HeaderMap) -> Option<&str> {
    let site = headers.get("sec-fetch-site")?.to_str().ok()?.trim();
    matches!(site, "cross-site" | "same-site").then_some(site)
}

/// True for exactly the health-check paths (at the root, and under the webroot): probes need no
/// credentials and no particular host name, and the answer reveals nothing.
pub fn is_health_path(webroot: &str, path: &str) -> bool {
    let health = |p: &str| matches!(p, "/livez" | "/readyz");
    health(path) || (!webroot.is_empty() && path.strip_prefix(webroot).is_some_and(health))
}

/// The address of the HTTP client, for logs; recorded by the I/O loop ([`crate::http::serve`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// What the CORS layer adds to an allowed request's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    None,
    /// A cross-origin request from an allowed origin: announce it.
    Simple(HeaderValue),
    /// A preflight from an allowed origin: answer it here.
    Preflight(HeaderValue),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "Error": self.message })),
        )
            .into_response()
    }
}

impl CorsOrigins {
    pub fn parse(text: &str) -> CorsOrigins {
        let items: Vec<String> = text
            .split([',', ' '])
            .map(|s| s.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        if items.is_empty() {
            CorsOrigins::Off
        } else if items.iter().any(|s| s == "*") {
            CorsOrigins::Any
        } else {
            CorsOrigins::List(items)
        }
    }

    /// True when `origin` (lower-cased) may make cross-origin requests.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            CorsOrigins::Off => false,
            CorsOrigins::Any => true,
            CorsOrigins::List(items) => items.iter().any(|item| {
                if item.contains("://") {
                    *item == origin
                } else {
                    origin_host(origin).is_some_and(|host| host == *item)
                }
            }),
        }
    }

    /// The `Access-Control-Allow-Origin` value: `*` when any origin is allowed (so browsers never
    /// send credentials with it), else the caller's origin.
    fn echo(&self, origin: &str) -> HeaderValue {
        match self {
            CorsOrigins::Any => HeaderValue::from_static("*"),
            _ => HeaderValue::from_str(origin).unwrap_or(HeaderValue::from_static("null")),
        }
    }
}

fn parse_allowed_hosts(text: &str) -> Option<Vec<HostPattern>> {
    let mut patterns = Vec::new();
    for item in text
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let item = item.to_ascii_lowercase();
        if item == "*" {
            return None;
        }
        let name = host_name(&item).unwrap_or_else(|| item.clone());
        patterns.push(match name.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') => HostPattern::Suffix(suffix.to_string()),
            _ => HostPattern::Exact(name),
        });
    }
    Some(patterns)
}

/// The request's host: the Host header, or the URI's authority (HTTP/2).
fn request_host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or("\u{0}"))
}

fn forwarded_host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
}

/// The name part of `host[:port]` or `[v6]:port`, lower-cased, without a trailing dot; `None`
/// when it is not a plausible host.
fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map(|(v6, _)| v6)?
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
            Some(_) => return None,
            None => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    let plausible = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    plausible.then_some(name)
}

/// `https://host:port` → `host` (lower-cased).
fn origin_host(origin: &str) -> Option<String> {
    let (_, authority) = origin.split_once("://")?;
    host_name(authority)
}

/// True when the Origin's authority (scheme defaults applied) is the request's `host`.
fn same_authority(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme {
        "http" | "ws" => "80",
        "https" | "wss" => "443",
        _ => return false,
    };
    let normalize = |authority: &str| -> Option<(String, String)> {
        let authority = authority.trim().to_ascii_lowercase();
        let name = host_name(&authority)?;
        let port = match authority.rsplit_once(':') {
            Some((before, port))
                if !before.ends_with('[')
                    && port.chars().all(|c| c.is_ascii_digit())
                    && !authority.ends_with(']') =>
            {
                port.to_string()
            }
            _ => default_port.to_string(),
        };
        Some((name, port))
    };
    match (normalize(authority), normalize(host)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A WebSocket or Server-Sent Events handshake: a stream of every new mail.
fn is_stream(headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let event_stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("text/event-stream"));
    upgrade || event_stream
}

fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match length {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
        .unwrap_or(false)
}

/// The middleware: checks the request, answers preflights, adds CORS and default headers.
pub async fn enforce(
    State(policy): State<Arc<OriginPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let client = request
        .extensions()
        .get::<ConnectInfo<ClientAddr>>()
        .map(|info| info.0.0.ip());
    let decision = policy.check(request.method(), request.headers(), request.uri().path());
    let mut response = match &decision {
        Err(refusal) => {
            policy.log_once(client, refusal, request.method(), request.uri().path());
            refusal.clone().into_response()
        }
        Ok(Cors::Preflight(origin)) => preflight(origin.clone(), request.headers()),
        Ok(_) => next.run(request).await,
    };
    let headers = response.headers_mut();
    if let Ok(Cors::Simple(origin)) = &decision {
        allow_origin(headers, origin.clone());
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    response
}

fn allow_origin(headers: &mut HeaderMap, origin: HeaderValue) {
    let any = origin == "*";
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    if !any {
        // Basic-auth credentials may go with a named origin, never with `*`.
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

fn preflight(origin: HeaderValue, request: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow_origin(headers, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    let asked = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static("Content-Type, Authorization"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn policy() -> OriginPolicy {
        OriginPolicy::new(None, None, "")
    }

    #[test]
    fn hosts_that_a_rebinding_page_cannot_have_are_served() {
        let p = policy();
        for ok in [
            "127.0.0.1:8025",
            "127.0.0.1",
            "[::1]:8025",
            "localhost:8025",
            "LOCALHOST",
            "app.localhost:8025",
            "mail:8025",
            "mailhog",
            "localhost.",
            "10.0.0.5:8025",
        ] {
            assert!(p.host_allowed(ok), "{ok}");
        }
        for refused in [
            "evil.example:8025",
            "rebind.attacker.test",
            "127.0.0.1.nip.io:8025",
            "localhost.evil.example",
            "",
            "a b",
            "host:notaport",
        ] {
            assert!(!p.host_allowed(refused), "{refused}");
        }
        let team = OriginPolicy::new(Some("mail.team.example, *.staging.example"), None, "");
        assert!(team.host_allowed("mail.team.example:443"));
        assert!(team.host_allowed("a.staging.example"));
        assert!(!team.host_allowed("staging.example"));
        assert!(!team.host_allowed("other.example"));
        assert!(OriginPolicy::new(Some("*"), None, "").host_allowed("anything.example"));
    }

    #[test]
    fn unsafe_methods_and_streams_need_the_same_origin() {
        let p = policy();
        let same = headers(&[
            ("host", "127.0.0.1:8025"),
            ("origin", "http://127.0.0.1:8025"),
        ]);
        let foreign = headers(&[
            ("host", "127.0.0.1:8025"),
            ("origin", "http://evil.example"),
        ]);
        assert_eq!(
            p.check(&Method::DELETE, &same, "/api/v1/messages"),
            Ok(Cors::None)
        );
        assert!(
            p.check(&Method::DELETE, &foreign, "/api/v1/messages")
                .is_err()
        );
        assert!(p.check(&Method::POST, &foreign, "/api/v1/send").is_err());
        // Reading is protected by the browser's CORS rules; only streams and changes are refused.
        assert_eq!(
            p.check(&Method::GET, &foreign, "/api/v1/messages"),
            Ok(Cors::None)
        );
        let mut ws = foreign.clone();
        ws.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(p.check(&Method::GET, &ws, "/api/events").is_err());
        let mut sse = foreign.clone();
        sse.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        assert!(p.check(&Method::GET, &sse, "/api/v1/events").is_err());
        let null = headers(&[("host", "127.0.0.1:8025"), ("origin", "null")]);
        assert!(p.check(&Method::PUT, &null, "/api/v1/messages").is_err());
        // No Origin (curl, test clients) is fine unless the browser says another site sent it.
        let bare = headers(&[("host", "127.0.0.1:8025")]);
        assert!(p.check(&Method::DELETE, &bare, "/api/v1/messages").is_ok());
        let cross = headers(&[("host", "127.0.0.1:8025"), ("sec-fetch-site", "cross-site")]);
        assert!(
            p.check(&Method::DELETE, &cross, "/api/v1/messages")
                .is_err()
        );
        assert!(p.check(&Method::GET, &cross, "/api/v1/messages").is_ok());
        // Default ports and a reverse proxy's forwarded host count as the same origin.
        let port80 = headers(&[("host", "mail"), ("origin", "http://mail:80")]);
        assert!(p.check(&Method::DELETE, &port80, "/x").is_ok());
        let proxied = headers(&[
            ("host", "127.0.0.1:8025"),
            ("origin", "https://mail.localhost"),
            ("x-forwarded-host", "mail.localhost"),
        ]);
        assert!(p.check(&Method::DELETE, &proxied, "/x").is_ok());
    }

    #[test]
    fn cors_origins_are_a_list_matched_case_insensitively() {
        let p = OriginPolicy::new(None, Some("https://App.example, tools.example"), "");
        let app = headers(&[
            ("host", "127.0.0.1:8025"),
            ("origin", "https://app.EXAMPLE"),
        ]);
        assert!(matches!(
            p.check(&Method::DELETE, &app, "/api/v1/messages"),
            Ok(Cors::Simple(_))
        ));
        let tools = headers(&[
            ("host", "127.0.0.1:8025"),
            ("origin", "http://tools.example:3000"),
        ]);
        assert!(matches!(
            p.check(&Method::GET, &tools, "/api/v1/messages"),
            Ok(Cors::Simple(_))
        ));
        let other = headers(&[
            ("host", "127.0.0.1:8025"),
            ("origin", "https://other.example"),
        ]);
        assert_eq!(
            p.check(&Method::GET, &other, "/api/v1/messages")
                .map_err(|r| r.status),
            Err(StatusCode::FORBIDDEN),
            "with CORS on, Mailpit refuses other origins outright"
        );
        let mut preflight = app.clone();
        preflight.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("PUT"),
        );
        assert!(matches!(
            p.check(&Method::OPTIONS, &preflight, "/api/v1/messages"),
            Ok(Cors::Preflight(_))
        ));
        let any = OriginPolicy::new(None, Some("https://a.example *"), "");
        assert_eq!(
            any.check(&Method::POST, &other, "/api/v1/x"),
            Ok(Cors::Simple(HeaderValue::from_static("*")))
        );
    }

    #[test]
    fn post_and_put_bodies_must_be_json() {
        let p = policy();
        let form = headers(&[
            ("host", "127.0.0.1:8025"),
            ("content-type", "application/x-www-form-urlencoded"),
            ("content-length", "10"),
        ]);
        let refused = p.check(&Method::POST, &form, "/api/v1/send");
        assert_eq!(
            refused.map_err(|r| r.status),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        let text = headers(&[
            ("host", "h"),
            ("content-type", "text/plain"),
            ("content-length", "2"),
        ]);
        assert!(p.check(&Method::PUT, &text, "/api/v1/chaos").is_err());
        let json = headers(&[
            ("host", "h"),
            ("content-type", "application/json; charset=utf-8"),
            ("content-length", "2"),
        ]);
        assert!(p.check(&Method::POST, &json, "/api/v1/send").is_ok());
        let empty = headers(&[("host", "h"), ("content-length", "0")]);
        assert!(p.check(&Method::POST, &empty, "/api/v2/jim").is_ok());
        // DELETE takes any body: PyPI mailpit-api-client sends a form one (compat.md).
        assert!(p.check(&Method::DELETE, &form, "/api/v1/messages").is_ok());
    }

    #[test]
    fn health_paths_are_exact() {
        let p = OriginPolicy::new(None, None, "/mail");
        let evil = headers(&[("host", "evil.example")]);
        assert!(p.check(&Method::GET, &evil, "/livez").is_ok());
        assert!(p.check(&Method::GET, &evil, "/mail/readyz").is_ok());
        assert!(
            p.check(&Method::GET, &evil, "/api/v1/message/livez")
                .is_err()
        );
    }
}

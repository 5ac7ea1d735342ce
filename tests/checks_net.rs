//! The message checks that use the network, end to end: the link check against local HTTP
//! servers (statuses, redirects, timeouts, resets, the cache) and its address policy (internal
//! addresses, redirect hops into them and DNS rebinding are refused, and the internal server
//! sees no connection at all); the spam check against a real spamd.
//!
//! No test sends a packet outside 127.0.0.0/8: every server here is on loopback, names are given
//! addresses by an injected resolver, and spamd runs with `--local` (no network tests). Private and
//! metadata ranges are proven refused by the address policy's unit tests, without connecting.
//!
//! The spam test needs spamd (Debian: `apt-get install -y spamassassin spamd`); without it, it
//! fails saying so, unless `MAILSNARE_SKIP_SPAMD=1`.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use common::{Server, TempDir, send_mail};
use mailsnare::checks::address_policy::{AddressPolicy, Lookup, Resolver, internal_range};
use mailsnare::checks::links::{BLOCKED, LinkCheckConfig, LinkChecker};
use mailsnare::http::{AppState, router};
use mailsnare::message::{Envelope, StoredMessage};
use mailsnare::store::{Store, StoreLimits};

// ---------------------------------------------------------------------------------------------
// A local HTTP server whose paths choose the answer, counting connections and requests.

#[derive(Default)]
struct Seen {
    accepts: AtomicUsize,
    requests: Mutex<Vec<String>>,
}

struct Site {
    addr: SocketAddr,
    seen: Arc<Seen>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Site {
    fn start(ip: &str) -> Site {
        Site::try_start(&format!("{ip}:0"), None).unwrap_or_else(|e| {
            panic!("cannot listen on {ip}: {e} (all of 127.0.0.0/8 is loopback on Linux)")
        })
    }

    /// HTTPS on 127.0.0.1 with a self-signed certificate for that address.
    fn start_tls() -> Site {
        let acceptor = mailsnare::tls::CertSource::SelfSigned {
            names: vec!["127.0.0.1".into()],
        }
        .acceptor()
        .expect("a self-signed certificate");
        Site::try_start("127.0.0.1:0", Some(acceptor)).expect("listening")
    }

    /// Serves on a thread of its own, so the blocking clients of the tests never stall it.
    fn try_start(addr: &str, tls: Option<tokio_rustls::TlsAcceptor>) -> std::io::Result<Site> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let seen = Arc::new(Seen::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = Arc::clone(&seen);
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let accept = async {
                    while let Ok((stream, _)) = listener.accept().await {
                        shared.accepts.fetch_add(1, Ordering::SeqCst);
                        let seen = Arc::clone(&shared);
                        match tls.clone() {
                            None => {
                                tokio::spawn(answer(stream, seen, |s| {
                                    let _ = s.set_zero_linger();
                                }));
                            }
                            Some(acceptor) => {
                                tokio::spawn(async move {
                                    if let Ok(stream) = acceptor.accept(stream).await {
                                        answer(stream, seen, |s| {
                                            let _ = s.get_ref().0.set_zero_linger();
                                        })
                                        .await;
                                    }
                                });
                            }
                        }
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Ok(Site {
            addr,
            seen,
            stop: Some(stop),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn accepts(&self) -> usize {
        self.seen.accepts.load(Ordering::SeqCst)
    }

    /// `METHOD path` of every request so far, sorted.
    fn requests(&self) -> Vec<String> {
        let mut requests = self.seen.requests.lock().expect("not poisoned").clone();
        requests.sort();
        requests
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One connection: reads the request head, records it, answers by path. `zero_linger` makes
/// closing the connection send RST.
async fn answer<S>(mut stream: S, seen: Arc<Seen>, zero_linger: fn(&S))
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let path = words.next().unwrap_or_default().to_string();
    seen.requests
        .lock()
        .expect("not poisoned")
        .push(format!("{method} {path}"));
    let (code, reason, location) = match path.as_str() {
        p if p.starts_with("/ok") => (200, "OK", None),
        "/chain1" => (301, "Moved Permanently", Some("/chain2".to_string())),
        "/chain2" => (302, "Found", Some("/ok-end".to_string())),
        "/loop" => (301, "Moved Permanently", Some("/loop".to_string())),
        "/nohead" if method == "HEAD" => (405, "Method Not Allowed", None),
        "/nohead" => (200, "OK", None),
        "/slow" => {
            // Holds the connection without a word; the client's timeout must end it.
            tokio::time::sleep(Duration::from_secs(600)).await;
            return;
        }
        "/reset" => {
            // Linger 0: closing sends RST, not FIN.
            zero_linger(&stream);
            return;
        }
        p if p.starts_with("/redirect/") => (
            301,
            "Moved Permanently",
            Some(p["/redirect/".len()..].to_string()),
        ),
        _ => (404, "Not Found", None),
    };
    let mut reply =
        format!("HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n");
    if let Some(location) = location {
        reply.push_str(&format!("Location: {location}\r\n"));
    }
    reply.push_str("\r\n");
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A port on 127.0.0.1 that nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

// ---------------------------------------------------------------------------------------------
// Messages and calls.

/// A multipart/alternative message whose HTML links `html` and whose text mentions `text`.
fn message_with_links(html: &[String], text: &[String]) -> Vec<u8> {
    let anchors: String = html
        .iter()
        .enumerate()
        .map(|(i, url)| {
            if i % 2 == 0 {
                format!("<p><a href=\"{url}\">link {i}</a></p>\r\n")
            } else {
                format!("<p><img src=\"{url}\" alt=\"{i}\"></p>\r\n")
            }
        })
        .collect();
    let mentions: String = text.iter().map(|url| format!("See {url}.\r\n")).collect();
    format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: links\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{mentions}\r\n\
         --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>\r\n{anchors}</body></html>\r\n\
         --b--\r\n"
    )
    .into_bytes()
}

fn store_links(server: &Server, html: &[String], text: &[String]) -> String {
    send_mail(
        server.smtp,
        &["b@example.com"],
        &message_with_links(html, text),
    )
}

/// `(URL, StatusCode, Status)` of every link, in the answer's order.
fn statuses(report: &Value) -> Vec<(String, u64, String)> {
    report["Links"]
        .as_array()
        .unwrap_or_else(|| panic!("no Links in {report}"))
        .iter()
        .map(|l| {
            (
                l["URL"].as_str().unwrap_or_default().to_string(),
                l["StatusCode"].as_u64().unwrap_or(999),
                l["Status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn row(url: String, code: u64, status: &str) -> (String, u64, String) {
    (url, code, status.to_string())
}

// ---------------------------------------------------------------------------------------------
// Link check against the real binary.

#[test]
fn link_check_reports_each_link_once_with_its_status() {
    let site = Site::start("127.0.0.1");
    let server = Server::start_with(&["--allow-internal-http-requests"]);
    let html = [
        site.url("/ok"),
        site.url("/missing"),
        site.url("/chain1"),
        site.url("/nohead"),
    ];
    // The text repeats an HTML link (checked once) and adds one of its own.
    let text = [site.url("/ok"), site.url("/ok-text")];
    let id = store_links(&server, &html, &text);

    let path = format!("/api/v1/message/{id}/link-check");
    let report = server.get_json(&path);
    assert_eq!(
        statuses(&report),
        [
            row(site.url("/ok"), 200, "OK"),
            row(site.url("/missing"), 404, "Not Found"),
            row(site.url("/chain1"), 301, "Moved Permanently"),
            row(site.url("/nohead"), 200, "OK"),
            row(site.url("/ok-text"), 200, "OK"),
        ],
        "{report}"
    );
    assert_eq!(report["Errors"], 1, "only the 404 is an error: {report}");
    // HEAD first, GET only where HEAD is refused; a redirect is not followed unless asked.
    let expected = [
        "GET /nohead",
        "HEAD /chain1",
        "HEAD /missing",
        "HEAD /nohead",
        "HEAD /ok",
        "HEAD /ok-text",
    ];
    assert_eq!(site.requests(), expected);

    // Asked again within a minute: the same answer from the cache, no new request.
    assert_eq!(server.get_json(&path), report);
    assert_eq!(site.requests(), expected, "served from the cache");

    // follow=true (and Mailpit's `1`): the end of the chain.
    for follow in ["true", "1"] {
        let followed = server.get_json(&format!("{path}?follow={follow}"));
        let chain = &statuses(&followed)[2];
        assert_eq!(chain, &row(site.url("/chain1"), 200, "OK"), "{followed}");
    }
    let requests = site.requests();
    for hop in ["HEAD /chain2", "HEAD /ok-end"] {
        assert_eq!(
            requests.iter().filter(|r| *r == hop).count(),
            1,
            "{hop} once (follow=1 was cached under follow=true): {requests:?}"
        );
    }
    // Checking is not reading.
    assert_eq!(server.list()["messages"][0]["Read"], false);

    let unknown = server.get("/api/v1/message/00000000-0000-7000-8000-000000000000/link-check");
    assert_eq!(unknown.status, 404, "{}", unknown.text());
}

#[test]
fn link_check_failures_are_statuses_with_time_bounds() {
    let site = Site::start("127.0.0.1");
    let server = Server::start_with(&[
        "--allow-internal-http-requests",
        "--link-check-timeout",
        "1s",
    ]);
    let refused = format!("http://127.0.0.1:{}/ok", closed_port());
    let html = [
        site.url("/slow"),
        site.url("/reset"),
        site.url("/loop"),
        refused.clone(),
    ];
    let id = store_links(&server, &html, &[]);
    let started = Instant::now();
    let report = server.get_json(&format!("/api/v1/message/{id}/link-check?follow=true"));
    let took = started.elapsed();
    assert_eq!(
        statuses(&report),
        [
            row(site.url("/slow"), 0, "timeout"),
            row(site.url("/reset"), 0, "connection reset by peer"),
            row(site.url("/loop"), 0, "too many redirects"),
            row(refused, 0, "connection refused"),
        ],
        "{report}"
    );
    assert_eq!(report["Errors"], 4);
    // The links run at once and the slow one is cut at --link-check-timeout (not the 5 s default).
    assert!(took < Duration::from_secs(4), "took {took:?}");
    let loops = site
        .requests()
        .iter()
        .filter(|r| *r == "HEAD /loop")
        .count();
    assert_eq!(loops, 3, "a link visits at most three URLs");
}

#[test]
fn internal_links_are_refused_by_default_and_never_contacted() {
    let site = Site::start("127.0.0.1");
    let port = site.addr.port();
    // 127.0.0.1 in the spellings a URL allows; each would connect to the site if let through.
    let html = [
        site.url("/ok"),
        format!("http://2130706433:{port}/ok"),
        format!("http://0x7f.0.0.1:{port}/ok"),
        format!("http://[::ffff:127.0.0.1]:{port}/ok"),
    ];
    let server = Server::start();
    let id = store_links(&server, &html, &[]);
    let report = server.get_json(&format!("/api/v1/message/{id}/link-check?follow=true"));
    let expected: Vec<_> = html.iter().map(|u| row(u.clone(), 451, BLOCKED)).collect();
    assert_eq!(statuses(&report), expected, "{report}");
    assert_eq!(report["Errors"], 4);
    assert_eq!(site.accepts(), 0, "the internal server saw a connection");
    let about = server.get_json("/api/v1/about");
    assert_eq!(about["Checks"]["LinkCheckInternal"], false, "{about}");

    // The control: with the flag the same links reach the site, so the zero above means refusal.
    let open = Server::start_with(&["--allow-internal-http-requests"]);
    let id = store_links(&open, &html[..1], &[]);
    let report = open.get_json(&format!("/api/v1/message/{id}/link-check"));
    assert_eq!(statuses(&report), [row(site.url("/ok"), 200, "OK")]);
    assert_eq!(site.accepts(), 1);
    assert_eq!(
        open.get_json("/api/v1/about")["Checks"]["LinkCheckInternal"],
        true
    );
}

#[test]
fn untrusted_certificates_fail_unless_allowed() {
    let site = Site::start_tls();
    let link = [site.url("/ok").replacen("http:", "https:", 1)];
    let strict = Server::start_with(&["--allow-internal-http-requests"]);
    let id = store_links(&strict, &link, &[]);
    let report = strict.get_json(&format!("/api/v1/message/{id}/link-check"));
    let (_, code, status) = &statuses(&report)[0];
    assert_eq!(*code, 0, "{report}");
    assert!(status.contains("certificate"), "{report}");
    assert_eq!(
        site.requests(),
        Vec::<String>::new(),
        "no request over an untrusted link"
    );

    let lax = Server::start_with(&["--allow-internal-http-requests", "--allow-untrusted-tls"]);
    let id = store_links(&lax, &link, &[]);
    let report = lax.get_json(&format!("/api/v1/message/{id}/link-check"));
    assert_eq!(statuses(&report), [row(link[0].clone(), 200, "OK")]);
    assert_eq!(
        lax.get_json("/api/v1/about")["Checks"]["LinkCheckUntrustedTLS"],
        true
    );
}

// ---------------------------------------------------------------------------------------------
// Redirect hops and DNS rebinding, through the library with an injected resolver. 127.0.0.2
// stands for a public server (the classifier says so); 127.0.0.1 is the internal network.

fn public_is_127_0_0_2(ip: std::net::IpAddr) -> Option<&'static str> {
    if ip == std::net::IpAddr::from([127, 0, 0, 2]) {
        None
    } else {
        internal_range(ip)
    }
}

/// Test names: fixed answers, and `rebind.test` that answers public first and internal after.
#[derive(Default)]
struct Names {
    calls: Mutex<HashMap<String, usize>>,
}

impl Resolver for Names {
    fn lookup(&self, host: &str) -> Lookup {
        let call = {
            let mut calls = self.calls.lock().expect("not poisoned");
            let n = calls.entry(host.to_string()).or_default();
            *n += 1;
            *n
        };
        let public = std::net::IpAddr::from([127, 0, 0, 2]);
        let internal = std::net::IpAddr::from([127, 0, 0, 1]);
        let answer = match host {
            "public.test" => Ok(vec![public]),
            "internal.test" => Ok(vec![internal]),
            "both.test" => Ok(vec![public, internal]),
            "rebind.test" if call == 1 => Ok(vec![public]),
            "rebind.test" => Ok(vec![internal]),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such host",
            )),
        };
        Box::pin(async move { answer })
    }
}

/// A public site on 127.0.0.2 and an internal one on 127.0.0.1 with the same port, so that a
/// rebinding name would reach either with one URL.
fn twin_sites() -> (Site, Site) {
    for _ in 0..20 {
        let public = Site::start("127.0.0.2");
        if let Ok(internal) = Site::try_start(&format!("127.0.0.1:{}", public.addr.port()), None) {
            return (public, internal);
        }
    }
    panic!("no port free on both 127.0.0.1 and 127.0.0.2");
}

async fn link_check(state: &AppState, id: &str, follow: bool) -> Value {
    let uri = format!("/api/v1/message/{id}/link-check?follow={follow}");
    let request = Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("request");
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), 200);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    serde_json::from_slice(&body).expect("JSON")
}

#[tokio::test]
async fn redirects_and_rebinding_cannot_reach_internal_addresses() {
    let (public, internal) = twin_sites();
    let port = public.addr.port();
    let names = Arc::new(Names::default());
    let mut state = AppState::for_store(Store::new(StoreLimits::default()));
    state.checks = Arc::new(mailsnare::checks::Checks {
        links: LinkChecker::with_parts(
            LinkCheckConfig::default(),
            AddressPolicy::with_classifier(false, public_is_127_0_0_2),
            names.clone(),
        ),
        spamassassin: None,
    });
    let at = |host: &str, path: &str| format!("http://{host}:{port}{path}");
    let html = [
        // Redirects from the public server into the internal one, as a literal and by name.
        at(
            "public.test",
            &format!("/redirect/http://127.0.0.1:{port}/secret"),
        ),
        at(
            "public.test",
            &format!("/redirect/http://internal.test:{port}/secret"),
        ),
        at(
            "public.test",
            &format!("/redirect/http://[::ffff:127.0.0.1]:{port}/secret"),
        ),
        // One internal address among the answers refuses the name.
        at("both.test", "/ok-both"),
        // Vetted once, connected to what was vetted: the second answer is never used.
        at("rebind.test", "/ok-rebind"),
        at("public.test", "/ok"),
    ];
    let raw = message_with_links(&html, &[]);
    let stored = state
        .store
        .insert(StoredMessage::new(Envelope::default(), raw))
        .expect("stored");
    let id = stored.id.to_string();

    let report = link_check(&state, &id, true).await;
    assert_eq!(
        statuses(&report),
        [
            row(html[0].clone(), 451, BLOCKED),
            row(html[1].clone(), 451, BLOCKED),
            row(html[2].clone(), 451, BLOCKED),
            row(html[3].clone(), 451, BLOCKED),
            row(html[4].clone(), 200, "OK"),
            row(html[5].clone(), 200, "OK"),
        ],
        "{report}"
    );
    assert_eq!(report["Errors"], 4);
    assert_eq!(internal.accepts(), 0, "the internal server was reached");
    let secret = format!("/redirect/http://127.0.0.1:{port}/secret");
    let by_name = format!("/redirect/http://internal.test:{port}/secret");
    let mapped = format!("/redirect/http://[::ffff:127.0.0.1]:{port}/secret");
    let mut expected = vec![
        format!("HEAD {mapped}"),
        format!("HEAD {by_name}"),
        format!("HEAD {secret}"),
        "HEAD /ok".to_string(),
        "HEAD /ok-rebind".to_string(),
    ];
    expected.sort();
    assert_eq!(public.requests(), expected, "each public hop once");
    let calls = names.calls.lock().expect("not poisoned").clone();
    assert_eq!(
        calls.get("rebind.test"),
        Some(&1),
        "one lookup per name: {calls:?}"
    );

    // Without following, the redirects' own status is the answer and no hop is tried at all.
    let lookups = |name: &str| names.calls.lock().expect("not poisoned").get(name).copied();
    let before = lookups("internal.test");
    let report = link_check(&state, &id, false).await;
    let codes: Vec<u64> = statuses(&report).iter().map(|(_, c, _)| *c).collect();
    assert_eq!(codes[..3], [301, 301, 301], "{report}");
    assert_eq!(internal.accepts(), 0);
    assert_eq!(
        lookups("internal.test"),
        before,
        "a hop not followed is not even resolved"
    );
}

// ---------------------------------------------------------------------------------------------
// Spam check.

/// A spamd of our own on a free loopback port, network tests off; stopped on drop.
struct Spamd {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: TempDir,
}

/// How long spamd may take to compile its rules and answer PING on a loaded runner.
const SPAMD_STARTUP: Duration = Duration::from_secs(90);

impl Spamd {
    /// The running spamd, or `None` when it is not installed and `MAILSNARE_SKIP_SPAMD=1`.
    fn start() -> Option<Spamd> {
        let Some(program) = ["/usr/sbin/spamd", "/usr/bin/spamd"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
        else {
            if std::env::var("MAILSNARE_SKIP_SPAMD").as_deref() == Ok("1") {
                eprintln!(
                    "MAILSNARE_SKIP_SPAMD=1: spamd is not installed, spam check test skipped"
                );
                return None;
            }
            panic!(
                "spamd is required by this test and is not installed: \
                 apt-get install -y spamassassin spamd (or set MAILSNARE_SKIP_SPAMD=1 to skip)"
            );
        };
        let dir = TempDir::new("spamd");
        let port = closed_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let log = dir.path("spamd.log");
        let mut command = Command::new(&program);
        command.args([
            "--local",
            &format!("--listen={addr}"),
            "--allowed-ips=127.0.0.1",
            "--max-children=1",
            "--nouser-config",
            "--syslog=stderr",
            &format!("--pidfile={}", dir.path("spamd.pid").display()),
        ]);
        // spamd will not run children as root; give it its own user.
        if is_root() {
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            let user = if passwd.lines().any(|l| l.starts_with("debian-spamd:")) {
                "debian-spamd"
            } else {
                "nobody"
            };
            command.args(["-u", user]);
        }
        let stderr = std::fs::File::create(&log).expect("spamd log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut spamd = Spamd {
            child,
            addr,
            log,
            _dir: dir,
        };
        spamd.wait_ready();
        Some(spamd)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Until spamd answers PING (polling the port: spamd has no readiness signal of its own).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + SPAMD_STARTUP;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("spamd exited during startup ({status}):\n{}", self.log());
            }
            if let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
                let mut reply = String::new();
                if stream.write_all(b"PING SPAMC/1.5\r\n\r\n").is_ok()
                    && stream.read_to_string(&mut reply).is_ok()
                    && reply.contains("PONG")
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "spamd did not answer PING within {SPAMD_STARTUP:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Spamd {
    fn drop(&mut self) {
        // SIGTERM lets spamd stop its children; a kill would orphan them.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

const CLEAN: &str = "From: Alice Example <alice@example.com>\r\nTo: Bob Example <bob@example.com>\r\n\
Subject: Notes from Tuesday's planning meeting\r\nDate: Tue, 02 Jan 2024 10:00:00 +0000\r\n\
Message-ID: <20240102100000.12345.planning@mail.example.com>\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\
Hi Bob,\r\n\r\nThanks for joining the planning meeting on Tuesday. As agreed, I will send the\r\n\
draft schedule by Friday, and Carol will look at the budget.\r\n\r\nSee you next week,\r\nAlice\r\n";

const SPAMMY: &str = "From: \"WINNER NOTIFICATION\" <winner@lottery-prize.example>\r\n\
To: undisclosed-recipients:;\r\n\
Subject: URGENT!!! YOU HAVE WON $1,000,000 - CLAIM YOUR FREE PRIZE NOW!!!\r\n\
Date: Tue, 02 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<html><body><font size=\"7\" color=\"red\"><b>CONGRATULATIONS DEAR FRIEND!!!</b></font>\r\n\
<p>You have been selected to receive ONE MILLION DOLLARS (US$1,000,000.00). This is not spam.\r\n\
100% FREE, NO RISK, MONEY BACK GUARANTEE. Act now! Limited time offer! Click here to claim\r\n\
your prize: send your bank account details and a processing fee via Western Union.\r\n\
Cheap viagra, cialis, lose weight fast, work from home and earn extra cash!!!\r\n\
Dear beneficiary, I am a barrister and the next of kin of a deceased client with\r\n\
a fund of US$25,500,000 in a bank; reply with your full name, telephone and bank account.</p>\r\n\
</body></html>\r\n";

/// SpamAssassin's test string: a message containing it always scores 1000.
const GTUBE: &str = "From: a@example.com\r\nTo: b@example.com\r\nSubject: test\r\n\
Date: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\n\
XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n";

fn rule_names(report: &Value) -> Vec<String> {
    report["Rules"]
        .as_array()
        .unwrap_or_else(|| panic!("no Rules in {report}"))
        .iter()
        .map(|r| r["Name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn spam_check_with_a_real_spamd() {
    let Some(spamd) = Spamd::start() else {
        return;
    };
    let target = spamd.addr.to_string();
    let server = Server::start_with(&["--enable-spamassassin", &target]);
    let check = |raw: &str| {
        let id = send_mail(server.smtp, &["b@example.com"], raw.as_bytes());
        let report = server.get_json(&format!("/api/v1/message/{id}/sa-check"));
        assert_eq!(report["Error"], "", "{report}\nspamd log:\n{}", spamd.log());
        report
    };
    let clean = check(CLEAN);
    let spammy = check(SPAMMY);
    let gtube = check(GTUBE);
    let score = |r: &Value| r["Score"].as_f64().unwrap_or(f64::NAN);
    assert!(
        score(&spammy) > score(&clean) + 5.0,
        "spammy {} vs clean {}",
        spammy,
        clean
    );
    assert_eq!(clean["IsSpam"], false, "{clean}");
    assert_eq!(spammy["IsSpam"], true, "{spammy}");
    assert_eq!(gtube["IsSpam"], true);
    assert!(score(&gtube) >= 1000.0, "{gtube}");
    let gtube_rule = gtube["Rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["Name"] == "GTUBE")
        .unwrap_or_else(|| panic!("GTUBE not named: {gtube}"));
    assert_eq!(gtube_rule["Score"], 1000.0);
    assert!(
        gtube_rule["Description"]
            .as_str()
            .is_some_and(|d| d.contains("Generic Test for Unsolicited Bulk Email")),
        "{gtube_rule}"
    );
    assert!(!rule_names(&spammy).contains(&"GTUBE".to_string()));
    assert!(!rule_names(&clean).contains(&"GTUBE".to_string()));
    // Every rule of the spammy one has a name and a description, and the scores add up.
    let rules = spammy["Rules"].as_array().cloned().unwrap_or_default();
    assert!(rules.len() >= 3, "{spammy}");
    assert!(
        rules
            .iter()
            .all(|r| !r["Name"].as_str().unwrap_or_default().is_empty()
                && !r["Description"].as_str().unwrap_or_default().is_empty()),
        "{spammy}"
    );
    let sum: f64 = rules.iter().filter_map(|r| r["Score"].as_f64()).sum();
    assert!(
        (sum - score(&spammy)).abs() < 1.0,
        "rules {sum} vs total {}",
        score(&spammy)
    );

    assert_eq!(server.get_json("/api/v1/webui")["SpamAssassin"], true);
    assert_eq!(
        server.get_json("/api/v1/about")["Checks"]["SpamAssassin"],
        target
    );
}

#[test]
fn spam_check_failures_are_answers_not_server_errors() {
    // Nobody listens: the check answers at once with Error.
    let down = format!("127.0.0.1:{}", closed_port());
    let server = Server::start_with(&["--enable-spamassassin", &down]);
    let id = send_mail(server.smtp, &["b@example.com"], CLEAN.as_bytes());
    let response = server.get(&format!("/api/v1/message/{id}/sa-check"));
    assert_eq!(response.status, 200, "{}", response.text());
    let report: Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(report["IsSpam"], false);
    assert_eq!(report["Score"], 0.0);
    assert_eq!(report["Rules"], json!([]));
    let error = report["Error"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot reach spamd") && error.contains(&down),
        "{report}"
    );

    // A spamd that accepts and never answers: the time limit ends it.
    let silent = TcpListener::bind("127.0.0.1:0").expect("listener");
    let silent_addr = silent.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().flatten() {
            held.push(stream);
        }
    });
    let server = Server::start_with(&[
        "--enable-spamassassin",
        &silent_addr.to_string(),
        "--spamassassin-timeout",
        "1s",
    ]);
    let id = send_mail(server.smtp, &["b@example.com"], CLEAN.as_bytes());
    let started = Instant::now();
    let report = server.get_json(&format!("/api/v1/message/{id}/sa-check"));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        report["Error"]
            .as_str()
            .is_some_and(|e| e.contains("did not answer within")),
        "{report}"
    );

    // Not enabled: no such check, as in Mailpit, and the UI is told.
    let plain = Server::start();
    let id = send_mail(plain.smtp, &["b@example.com"], CLEAN.as_bytes());
    let response = plain.get(&format!("/api/v1/message/{id}/sa-check"));
    assert_eq!(response.status, 404, "{}", response.text());
    assert!(response.text().contains("--enable-spamassassin"));
    assert_eq!(plain.get_json("/api/v1/webui")["SpamAssassin"], false);
    assert_eq!(
        plain.get_json("/api/v1/about")["Checks"]["SpamAssassin"],
        Value::Null
    );
}

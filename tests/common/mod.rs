//! Shared helpers for the end-to-end tests: start a real `mailsnare` process on ephemeral ports,
//! talk to its HTTP API with a tiny blocking HTTP/1.1 client, and run external SMTP clients.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long the server may take to print both listening addresses.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `wait_for_count` polls before giving up.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Read/write timeout of one HTTP request.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `mailsnare` child process. Killed (and reaped) on drop.
pub struct Server {
    child: Child,
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    /// The implicit-TLS listener, when started with `--smtps`.
    pub smtps: Option<SocketAddr>,
    /// The POP3 and IMAP listeners (plain, implicit TLS), when started with their flags.
    pub pop3: Option<SocketAddr>,
    pub pop3s: Option<SocketAddr>,
    pub imap: Option<SocketAddr>,
    pub imaps: Option<SocketAddr>,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `mailsnare --smtp 127.0.0.1:0 --http 127.0.0.1:0`.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts the server with extra command-line arguments appended.
    pub fn start_with(extra: &[&str]) -> Server {
        Server::start_configured(extra, |_| {})
    }

    /// Like `start_with`, letting `configure` adjust the command first (e.g. its resource limits).
    pub fn start_configured(extra: &[&str], configure: impl FnOnce(&mut Command)) -> Server {
        // MAILSNARE_TEST_BIN runs the same tests against another build (e.g. to show that a
        // regression test fails on the code before its fix).
        let bin = std::env::var("MAILSNARE_TEST_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mailsnare").to_string());
        let bin = bin.as_str();
        let mut command = Command::new(bin);
        configure(&mut command);
        let mut child = command
            .args(["--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(extra)
            // Make sure the info-level "listening" lines are printed, without colour codes.
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));

        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        {
            let log = Arc::clone(&log);
            // Reads stderr for the whole life of the child so the pipe never fills up.
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stderr);
                let mut buf = Vec::new();
                loop {
                    buf.clear();
                    match reader.read_until(b'\n', &mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            let line = strip_ansi(&String::from_utf8_lossy(&buf));
                            log.lock().unwrap().push_str(&line);
                            // The receiver is gone after startup; keep draining regardless.
                            let _ = tx.send(line);
                        }
                    }
                }
            });
        }

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let (mut smtp, mut http, mut smtps) = (None, None, None);
        // Printed before the HTTP line, so they are in once it is.
        let (mut pop3, mut pop3s, mut imap, mut imaps) = (None, None, None, None);
        let wants_smtps = extra.contains(&"--smtps");
        while smtp.is_none() || http.is_none() || (wants_smtps && smtps.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    smtp = smtp.or_else(|| address_after(&line, "SMTP listening on "));
                    http = http
                        .or_else(|| address_after(&line, "HTTP listening on "))
                        .or_else(|| address_after(&line, "HTTPS listening on "));
                    smtps = smtps.or_else(|| address_after(&line, "SMTPS listening on "));
                    pop3 = pop3.or_else(|| address_after(&line, "POP3 listening on "));
                    pop3s = pop3s.or_else(|| address_after(&line, "POP3S listening on "));
                    imap = imap.or_else(|| address_after(&line, "IMAP listening on "));
                    imaps = imaps.or_else(|| address_after(&line, "IMAPS listening on "));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "mailsnare did not print both listening addresses within {STARTUP_TIMEOUT:?}; stderr so far:\n{}",
                        log.lock().unwrap()
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait();
                    panic!(
                        "mailsnare exited during startup ({status:?}); stderr:\n{}",
                        log.lock().unwrap()
                    );
                }
            }
        }
        Server {
            child,
            smtp: smtp.unwrap(),
            http: http.unwrap(),
            smtps,
            pop3,
            pop3s,
            imap,
            imaps,
            log,
        }
    }

    pub fn smtp_port(&self) -> u16 {
        self.smtp.port()
    }

    /// Everything the server wrote to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        http_request(self.http, "GET", path)
    }

    pub fn delete(&self, path: &str) -> HttpResponse {
        http_request(self.http, "DELETE", path)
    }

    /// GET `path`, asserting 200 and a JSON body.
    pub fn get_json(&self, path: &str) -> Value {
        let resp = self.get(path);
        assert_eq!(resp.status, 200, "GET {path}: {}", resp.text());
        serde_json::from_slice(&resp.body)
            .unwrap_or_else(|e| panic!("GET {path}: body is not JSON ({e}): {}", resp.text()))
    }

    /// `GET /api/v1/messages?start=0&limit=50`.
    pub fn list(&self) -> Value {
        self.get_json("/api/v1/messages?start=0&limit=50")
    }

    /// Polls the list until `total == n` and returns it; panics after `WAIT_TIMEOUT`.
    pub fn wait_for_count(&self, n: u64) -> Value {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let list = self.list();
            if list["total"].as_u64() == Some(n) {
                return list;
            }
            if Instant::now() >= deadline {
                panic!(
                    "expected {n} stored messages, the list says: {list:#}\nserver stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The value of a `/metrics` sample (`name value`), if the server exports it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let text = self.get("/metrics").text();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// Polls `/metrics` until `name` is `value`; panics after `WAIT_TIMEOUT`.
    pub fn wait_for_metric(&self, name: &str, value: f64) {
        let deadline = Instant::now() + WAIT_TIMEOUT;
        loop {
            let now = self.metric(name);
            if now == Some(value) {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{name} is {now:?}, expected {value}; server stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The list's message summaries (after waiting for exactly `n`).
    pub fn summaries(&self, n: u64) -> Vec<Value> {
        let list = self.wait_for_count(n);
        let msgs = list["messages"]
            .as_array()
            .expect("messages is an array")
            .clone();
        assert_eq!(msgs.len() as u64, n, "messages array length: {list:#}");
        msgs
    }

    /// The one summary whose Subject is `subject` (among the newest 50).
    pub fn summary_by_subject(&self, subject: &str) -> Value {
        let list = self.list();
        let found: Vec<&Value> = list["messages"]
            .as_array()
            .expect("messages is an array")
            .iter()
            .filter(|m| m["Subject"] == subject)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "exactly one message with Subject {subject:?} expected in {list:#}"
        );
        found[0].clone()
    }

    /// `GET /api/v1/message/{id}`, asserting 200.
    pub fn message(&self, id: &str) -> Value {
        self.get_json(&format!("/api/v1/message/{id}"))
    }

    /// `GET /api/v1/message/{id}/raw`, asserting 200.
    /// `GET /api/v1/message/{id}/envelope` (EXT): how the message arrived.
    pub fn envelope(&self, id: &str) -> Value {
        self.get_json(&format!("/api/v1/message/{id}/envelope"))
    }

    pub fn raw(&self, id: &str) -> Vec<u8> {
        let resp = self.get(&format!("/api/v1/message/{id}/raw"));
        assert_eq!(resp.status, 200, "GET raw of {id}: {}", resp.text());
        resp.body
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes ANSI escape sequences (`ESC [ ... letter`) in case the log is coloured anyway.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses the socket address that follows `marker` in `line`, if any.
fn address_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let token: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']'))
        .collect();
    token.trim_end_matches(['.', ':']).parse().ok()
}

// ---------------------------------------------------------------------------------------------
// A minimal blocking HTTP/1.1 client (Connection: close; Content-Length, chunked or read-to-EOF).
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> HttpResponse {
    let host = addr.to_string();
    http_with(addr, method, path, &[("Host", host.as_str())], b"")
}

/// A request with exactly these headers (give `Host` yourself; `Content-Length` is added for a
/// non-empty body) and body.
pub fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream =
        TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to HTTP {addr}: {e}"));
    stream.set_read_timeout(Some(HTTP_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(HTTP_TIMEOUT)).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("Accept: */*\r\nConnection: close\r\n\r\n");
    let mut request = request.into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).unwrap();
    let mut wire = Vec::new();
    stream
        .read_to_end(&mut wire)
        .unwrap_or_else(|e| panic!("{method} {path}: reading the response: {e}"));

    let head_end = find(&wire, b"\r\n\r\n").unwrap_or_else(|| {
        panic!(
            "{method} {path}: no header end in response {:?}",
            String::from_utf8_lossy(&wire)
        )
    });
    let head = String::from_utf8_lossy(&wire[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let raw_body = &wire[head_end + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(raw_body)
    } else if let Some((_, len)) = headers.iter().find(|(n, _)| n == "content-length") {
        let len: usize = len.parse().expect("numeric Content-Length");
        assert!(
            raw_body.len() >= len,
            "{method} {path}: body shorter than Content-Length"
        );
        raw_body[..len].to_vec()
    } else {
        raw_body.to_vec()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n").expect("chunk size line");
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16)
            .expect("hex chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Number of non-overlapping occurrences of `needle` in `haystack`.
pub fn count(haystack: &[u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut rest = haystack;
    while let Some(p) = find(rest, needle) {
        n += 1;
        rest = &rest[p + needle.len()..];
    }
    n
}

/// Shows bytes readably in assertion messages.
pub fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// Asserts two byte strings are equal, printing them as text on failure.
#[track_caller]
pub fn assert_bytes_eq(actual: &[u8], expected: &[u8], what: &str) {
    if actual != expected {
        let at = actual
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(actual.len().min(expected.len()));
        panic!(
            "{what}: bytes differ (first difference at byte {at}; actual {} bytes, expected {} bytes)\n  actual:   {}\n  expected: {}",
            actual.len(),
            expected.len(),
            show(actual),
            show(expected)
        );
    }
}

/// Asserts that `raw`, a message stored from SMTP, is the client's bytes `sent` exactly, under the
/// trace headers ingest puts on top: `Return-Path: <sender>` (left out when the message already
/// names the sender), a `Received:` line by mailsnare with its continuation lines, and a `Bcc:`
/// when some envelope recipient is in no To/Cc/Bcc header. Returns the trace headers.
#[track_caller]
pub fn assert_stored_as_sent(raw: &[u8], sent: &[u8], what: &str) -> String {
    assert!(
        raw.len() > sent.len(),
        "{what}: no trace headers on top of the sent bytes: {}",
        show(raw)
    );
    let (trace, rest) = raw.split_at(raw.len() - sent.len());
    assert_bytes_eq(rest, sent, &format!("{what} (below the trace headers)"));
    let trace = String::from_utf8(trace.to_vec())
        .unwrap_or_else(|_| panic!("{what}: trace headers are not UTF-8: {}", show(trace)));
    let eol = if trace.ends_with("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    let mut lines: Vec<&str> = trace.split_inclusive(eol).collect();
    assert!(
        lines.iter().all(|l| l.ends_with(eol)),
        "{what}: trace headers end mid-line: {trace:?}"
    );
    if lines
        .first()
        .is_some_and(|l| l.starts_with("Return-Path: <"))
    {
        lines.remove(0);
    }
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("Received: from ")),
        "{what}: no Received line: {trace:?}"
    );
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.starts_with("\tby ") && l.contains(" (mailsnare) with ")),
        "{what}: Received names no receiver: {trace:?}"
    );
    let rest = &lines[2..];
    let continued = rest.iter().take_while(|l| l.starts_with('\t')).count();
    assert!(
        continued <= 1 && rest[..continued].iter().all(|l| l.starts_with("\tfor <")),
        "{what}: unexpected Received continuation: {trace:?}"
    );
    match &rest[continued..] {
        [] => {}
        [bcc] if bcc.starts_with("Bcc: ") => {}
        other => panic!("{what}: unexpected trace lines {other:?} in {trace:?}"),
    }
    assert!(
        !trace.contains("Message-ID"),
        "{what}: a Message-ID was invented: {trace:?}"
    );
    trace
}

/// `{"Name": name, "Address": address}` as the API renders an address.
pub fn addr(name: &str, address: &str) -> Value {
    serde_json::json!({ "Name": name, "Address": address })
}

/// Checks the list's summary for a canonical UUID ID and returns it.
pub fn id_of(summary: &Value) -> String {
    let id = summary["ID"]
        .as_str()
        .unwrap_or_else(|| panic!("summary has no string ID: {summary:#}"));
    assert!(is_uuid(id), "ID {id:?} is not a UUID");
    id.to_string()
}

pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

// ---------------------------------------------------------------------------------------------
// External clients.
// ---------------------------------------------------------------------------------------------

/// Path of an external program, or a panic naming it (CI installs these; never skip silently).
pub fn require_program(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "the external SMTP client `{name}` is required by this test but was not found on PATH; install it (e.g. `apt-get install {name}`, or run scripts/test)"
    );
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// A scratch directory unique to this process and `tag`, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("mailsnare-e2e-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Output of a finished external client.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program args…` with `stdin` piped in, killing it after `timeout`.
pub fn run_with_timeout(program: &Path, args: &[&str], stdin: &[u8], timeout: Duration) -> Run {
    let mut command = Command::new(program);
    command.args(args);
    run_command(command, stdin, timeout)
}

/// Runs a prepared command with `stdin` piped in, killing it after `timeout`.
pub fn run_command(mut command: Command, stdin: &[u8], timeout: Duration) -> Run {
    let what = format!("{:?}", command);
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // A command that exits early (usage errors) closes the pipe; that is not a test failure.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    Run {
        status,
        stdout: String::from_utf8_lossy(&out_t.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_t.join().unwrap()).into_owned(),
    }
}

/// One message for `tests/fixtures/smtplib_client.py`.
pub struct PyMessage {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
    pub mail_options: Vec<String>,
    /// "sendmail" (declares SIZE, raises on errors) or "lowlevel" (mail/rcpt/data, no SIZE).
    pub mode: &'static str,
}

impl PyMessage {
    pub fn new(from: &str, to: &[&str], data: &[u8]) -> PyMessage {
        PyMessage {
            from: from.to_string(),
            to: to.iter().map(|s| s.to_string()).collect(),
            data: data.to_vec(),
            mail_options: Vec::new(),
            mode: "sendmail",
        }
    }
}

/// Sends `messages` over one smtplib connection (optionally after `login = (user, password,
/// mechanism)`), asserts the script succeeded and returns its JSON report.
pub fn smtplib(
    server: &Server,
    login: Option<(&str, &str, Option<&str>)>,
    messages: &[PyMessage],
) -> Value {
    use base64::Engine as _;
    let job = serde_json::json!({
        "host": server.smtp.ip().to_string(),
        "port": server.smtp_port(),
        "login": login.map(|(user, password, mechanism)| serde_json::json!({
            "user": user, "password": password, "mechanism": mechanism,
        })),
        "messages": messages.iter().map(|m| serde_json::json!({
            "from": m.from,
            "to": m.to,
            "data_b64": base64::engine::general_purpose::STANDARD.encode(&m.data),
            "mail_options": m.mail_options,
            "mode": m.mode,
        })).collect::<Vec<_>>(),
    });
    python_job(server, &fixture("smtplib_client.py"), &job, "smtplib")
}

/// Runs a Python client script with `job` as JSON on its stdin, asserting it succeeds; its stdout
/// is its JSON report. `what` names it in failure messages.
pub fn python_job(server: &Server, script: &Path, job: &Value, what: &str) -> Value {
    let python = require_program("python3");
    let run = run_with_timeout(
        &python,
        &[script.to_str().unwrap()],
        job.to_string().as_bytes(),
        Duration::from_secs(60),
    );
    assert!(
        run.status.success(),
        "python {what} client failed ({}):\nstdout: {}\nstderr: {}\nserver stderr:\n{}",
        run.status,
        run.stdout,
        run.stderr,
        server.stderr()
    );
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{what} report is not JSON ({e}): {}", run.stdout))
}

/// Runs swaks against the server with `args` (after `--server`), asserting exit status 0.
pub fn swaks(server: &Server, args: &[&str]) -> Run {
    let swaks = require_program("swaks");
    let target = server.smtp.to_string();
    let mut all = vec!["--server", target.as_str(), "--timeout", "30"];
    all.extend_from_slice(args);
    let run = run_with_timeout(&swaks, &all, b"", Duration::from_secs(60));
    assert!(
        run.status.success(),
        "swaks {all:?} failed ({}):\nstdout: {}\nstderr: {}\nserver stderr:\n{}",
        run.status,
        run.stdout,
        run.stderr,
        server.stderr()
    );
    run
}

// ---------------------------------------------------------------------------------------------
// The server process itself, for the abuse tests.
// ---------------------------------------------------------------------------------------------

impl Server {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory in bytes (`VmRSS` in /proc/<pid>/status).
    pub fn rss_bytes(&self) -> u64 {
        rss_bytes(self.pid()).unwrap_or_else(|| {
            panic!(
                "cannot read the RSS of mailsnare (pid {}): has it exited? stderr:\n{}",
                self.pid(),
                self.stderr()
            )
        })
    }

    /// True while the server process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for the server to exit by itself; its status, or `None` if it did not.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Records the peak RSS of `pid` every 10 ms until dropped.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = rss_bytes(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        RssSampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    pub fn peak(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// Open-file limits (Linux's `struct rlimit`).
#[repr(C)]
pub struct RLimit {
    pub soft: u64,
    pub hard: u64,
}

unsafe extern "C" {
    pub fn getrlimit(resource: i32, limit: *mut RLimit) -> i32;
    pub fn setrlimit(resource: i32, limit: *const RLimit) -> i32;
}

/// Linux x86_64 and aarch64.
pub const RLIMIT_NOFILE: i32 = 7;

/// Makes sure this process (and the server it spawns next, which inherits it) may open `needed`
/// files, raising the soft limit up to the hard one; fails clearly when even that is too low.
pub fn ensure_open_files(needed: u64) {
    let mut limit = RLimit { soft: 0, hard: 0 };
    // SAFETY: getrlimit writes one `struct rlimit` (two 64-bit rlim_t on Linux) into `limit`.
    assert_eq!(unsafe { getrlimit(RLIMIT_NOFILE, &mut limit) }, 0);
    if limit.soft >= needed {
        return;
    }
    assert!(
        limit.hard >= needed,
        "this test needs {needed} open files but the hard limit is {} (ulimit -Hn); raise it",
        limit.hard
    );
    let raised = RLimit {
        soft: needed.max(4096).min(limit.hard),
        hard: limit.hard,
    };
    // SAFETY: setrlimit reads one `struct rlimit` from `raised`.
    let rc = unsafe { setrlimit(RLIMIT_NOFILE, &raised) };
    assert_eq!(rc, 0, "raising the open-file soft limit to {}", raised.soft);
}

/// Resident memory of process `pid` in bytes, from /proc; `None` when it is gone.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

// ---------------------------------------------------------------------------------------------
// A tiny SMTP client for tests that only need mail in the store.
// ---------------------------------------------------------------------------------------------

/// Sends one message (`data` without the final dot; lines starting with `.` are stuffed here)
/// from `a@example.com` to `rcpts` over a fresh connection; returns the stored id from the 250.
pub fn send_mail(smtp: SocketAddr, rcpts: &[&str], data: &[u8]) -> String {
    let stream = TcpStream::connect(smtp).unwrap_or_else(|e| panic!("connect to SMTP {smtp}: {e}"));
    stream.set_read_timeout(Some(HTTP_TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    let mut reply = |code: &str| -> String {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("SMTP reply");
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line;
            }
        }
    };
    reply("220");
    writer.write_all(b"EHLO tests.local\r\n").unwrap();
    reply("250");
    writer.write_all(b"MAIL FROM:<a@example.com>\r\n").unwrap();
    reply("250");
    for rcpt in rcpts {
        writer
            .write_all(format!("RCPT TO:<{rcpt}>\r\n").as_bytes())
            .unwrap();
        reply("250");
    }
    writer.write_all(b"DATA\r\n").unwrap();
    reply("354");
    let mut stuffed = Vec::with_capacity(data.len() + 8);
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            stuffed.push(b'.');
        }
        stuffed.extend_from_slice(line);
    }
    if !stuffed.ends_with(b"\n") {
        stuffed.extend_from_slice(b"\r\n");
    }
    stuffed.extend_from_slice(b".\r\n");
    writer.write_all(&stuffed).unwrap();
    let done = reply("250");
    writer.write_all(b"QUIT\r\n").unwrap();
    done.trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Read/write timeout of a test SMTP socket: generous, a hang still fails.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// A blocking SMTP client.
// ---------------------------------------------------------------------------------------------

pub struct Smtp {
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

impl Smtp {
    /// Connects and reads the 220 greeting.
    pub fn connect(addr: SocketAddr) -> Smtp {
        let stream =
            TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to SMTP {addr}: {e}"));
        stream.set_read_timeout(Some(SMTP_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(SMTP_TIMEOUT)).unwrap();
        let writer = stream.try_clone().unwrap();
        let mut smtp = Smtp {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = smtp.reply();
        assert!(greeting.starts_with("220 "), "greeting: {greeting:?}");
        smtp
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("writing {} bytes to SMTP: {e}", bytes.len()));
    }

    /// One whole reply, every line of a multi-line one included.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = Vec::new();
            let n = self
                .reader
                .read_until(b'\n', &mut line)
                .unwrap_or_else(|e| panic!("reading a reply (so far {all:?}): {e}"));
            assert!(n > 0, "the server closed the connection; so far {all:?}");
            let line = String::from_utf8_lossy(&line).into_owned();
            let last = line.as_bytes().get(3) != Some(&b'-');
            all.push_str(&line);
            if last {
                return all;
            }
        }
    }

    /// Sends `line` and asserts the reply starts with `code`.
    pub fn expect(&mut self, line: &str, code: &str) -> String {
        self.send(format!("{line}\r\n").as_bytes());
        let reply = self.reply();
        let last = reply.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(code),
            "{line:?} → {reply:?}, expected {code}"
        );
        reply
    }

    /// Sends whole transactions in one write (PIPELINING) and returns the queued ids, in order.
    pub fn send_batch(&mut self, messages: &[(String, Vec<u8>)]) -> Vec<String> {
        let mut batch = Vec::new();
        for (rcpt, body) in messages {
            batch.extend_from_slice(
                format!("MAIL FROM:<sender@example.com>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n")
                    .as_bytes(),
            );
            batch.extend_from_slice(&terminated(body));
        }
        self.send(&batch);
        messages
            .iter()
            .map(|_| {
                for code in ["250", "250", "354"] {
                    let reply = self.reply();
                    assert!(reply.starts_with(code), "expected {code}, got {reply:?}");
                }
                queued_id(&self.reply())
            })
            .collect()
    }

    pub fn send_message(&mut self, rcpt: &str, body: &[u8]) -> String {
        self.send_batch(&[(rcpt.to_string(), body.to_vec())])
            .remove(0)
    }

    /// Reads until the server closes; returns what it sent and how the stream ended.
    pub fn read_to_close(&mut self) -> (String, std::io::Result<()>) {
        let mut got = Vec::new();
        let end = self.reader.read_to_end(&mut got).map(drop);
        (String::from_utf8_lossy(&got).into_owned(), end)
    }
}

/// The id in `250 2.0.0 Ok: queued as <id>`.
pub fn queued_id(reply: &str) -> String {
    let id = reply
        .trim_end()
        .strip_prefix("250 2.0.0 Ok: queued as ")
        .unwrap_or_else(|| panic!("not a queued reply: {reply:?}"));
    assert!(is_uuid(id), "queued id {id:?}");
    id.to_string()
}

/// A message body as DATA sends it: no line starts with a dot, so no stuffing, then `.`.
pub fn terminated(body: &[u8]) -> Vec<u8> {
    assert!(!body.starts_with(b".") && !body.windows(2).any(|w| w == b"\n."));
    assert!(body.ends_with(b"\r\n"));
    [body, b".\r\n"].concat()
}

/// A message whose body nests `levels` multiparts, each the only part of its parent.
pub fn nested(levels: usize) -> Vec<u8> {
    let mut mail = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: nested\r\n".to_vec();
    for level in 0..levels {
        mail.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n")
                .as_bytes(),
        );
    }
    mail.extend_from_slice(b"Content-Type: text/plain\r\n\r\ndeepest\r\n");
    for level in (0..levels).rev() {
        mail.extend_from_slice(format!("--b{level}--\r\n").as_bytes());
    }
    mail
}

/// Opens a WebSocket on `path` and never reads from it.
pub fn stalled_socket(http: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(http).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        http
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).expect("handshake"),
            1,
            "handshake cut"
        );
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{path}: {}", show(&head));
    stream
}

//! The `sendmail` and `healthcheck` commands end to end: the real binary submits to, or checks, a
//! real server, and the result is read back through the HTTP API.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Run, Server, TempDir, assert_stored_as_sent};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mailsnare");
const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `program args…` with `stdin` piped in and only the given address variables set (the ones
/// the commands read are cleared first, so the caller's environment cannot leak in).
fn run(program: &Path, args: &[&str], env: &[(&str, String)], stdin: &[u8]) -> Run {
    let mut command = Command::new(program);
    command.args(args);
    for name in mailsnare::config::SENDMAIL_SMTP_ADDR_ENV
        .iter()
        .chain(&mailsnare::config::HTTP_ADDR_ENV)
        .chain(&mailsnare::config::HTTP_TLS_ENV)
    {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    common::run_command(command, stdin, TIMEOUT)
}

/// `mailsnare sendmail --smtp-addr SERVER args…` with `stdin`, asserting success.
fn sendmail(server: &Server, args: &[&str], stdin: &[u8]) -> Run {
    let target = server.smtp.to_string();
    let mut all = vec!["sendmail", "--smtp-addr", target.as_str()];
    all.extend_from_slice(args);
    let run = run(Path::new(BIN), &all, &[], stdin);
    assert_success(&run, server, &all);
    run
}

#[track_caller]
fn assert_success(run: &Run, server: &Server, args: &[&str]) {
    assert!(
        run.status.success(),
        "{args:?} failed ({}):\nstderr: {}\nserver stderr:\n{}",
        run.status,
        run.stderr,
        server.stderr()
    );
}

#[track_caller]
fn assert_exit(run: &Run, code: i32, what: &str) {
    assert_eq!(
        run.status.code(),
        Some(code),
        "{what}: stdout {:?}, stderr {:?}",
        run.stdout,
        run.stderr
    );
}

/// The one stored message: its raw bytes and its full JSON.
fn only_message(server: &Server) -> (Vec<u8>, Value) {
    let summaries = server.summaries(1);
    let id = common::id_of(&summaries[0]);
    (server.raw(&id), server.message(&id))
}

/// The message's envelope (its own route): MAIL FROM and every RCPT TO.
fn envelope(server: &Server, message: &Value) -> (String, Vec<String>) {
    let envelope = server.envelope(message["ID"].as_str().expect("ID"));
    let from = envelope["MailFrom"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let to = envelope["RcptTo"]
        .as_array()
        .unwrap_or_else(|| panic!("no RcptTo in {envelope:#}"))
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_string())
        .collect();
    (from, to)
}

/// A port that nothing listens on (bound, then released).
fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

const COMPLETE: &str = "From: Alice <a@example.com>\r\nTo: Bob <b@example.com>\r\n\
Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <complete@example.com>\r\n\
Subject: complete\r\n\r\nHello Bob,\r\n..a dotted line\r\nBye.\r\n";

#[test]
fn recipients_from_arguments_store_the_message_byte_for_byte() {
    let server = Server::start();
    sendmail(
        &server,
        &["-f", "a@example.com", "b@example.com"],
        COMPLETE.as_bytes(),
    );
    let (raw, message) = only_message(&server);
    assert_stored_as_sent(&raw, COMPLETE.as_bytes(), "stored raw");
    assert_eq!(
        envelope(&server, &message),
        ("a@example.com".into(), vec!["b@example.com".into()])
    );
    assert_eq!(message["Subject"], "complete");
}

#[test]
fn dash_t_reads_to_cc_and_bcc_and_removes_bcc() {
    let server = Server::start();
    let input = "From: a@example.com\r\nTo: \"Doe, Jo\" <jo@example.com>,\r\n bob@example.com\r\n\
Cc: Team: carol@example.com;\r\nBcc: secret@example.com\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
Message-ID: <t@example.com>\r\nSubject: dash t\r\n\r\nbody\r\n";
    sendmail(&server, &["-t", "-f", "a@example.com"], input.as_bytes());
    let (raw, message) = only_message(&server);
    let expected = input.replace("Bcc: secret@example.com\r\n", "");
    assert_stored_as_sent(&raw, expected.as_bytes(), "stored raw without Bcc");
    assert_eq!(
        envelope(&server, &message).1,
        [
            "jo@example.com",
            "bob@example.com",
            "carol@example.com",
            "secret@example.com"
        ]
    );
}

#[test]
fn without_recipients_the_headers_are_read() {
    let server = Server::start();
    let input = COMPLETE.replace(
        "To: Bob <b@example.com>",
        "To: x@example.com, y@example.com",
    );
    sendmail(&server, &["-fa@example.com"], input.as_bytes());
    let (raw, message) = only_message(&server);
    assert_stored_as_sent(&raw, input.as_bytes(), "stored raw");
    assert_eq!(
        envelope(&server, &message).1,
        ["x@example.com", "y@example.com"]
    );
}

#[test]
fn lf_input_becomes_crlf_and_a_lone_dot_ends_it_without_dash_i() {
    let server = Server::start();
    let lf = COMPLETE.replace("\r\n", "\n");
    let with_dot = format!("{lf}.\nafter the dot\n");
    sendmail(
        &server,
        &["-f", "a@example.com", "b@example.com"],
        with_dot.as_bytes(),
    );
    let (raw, _) = only_message(&server);
    assert_stored_as_sent(&raw, COMPLETE.as_bytes(), "LF converted, cut at the dot");

    server.delete("/api/v1/messages");
    server.wait_for_count(0);
    sendmail(
        &server,
        &["-i", "-f", "a@example.com", "b@example.com"],
        with_dot.as_bytes(),
    );
    let (raw, _) = only_message(&server);
    let expected = format!("{COMPLETE}.\r\nafter the dot\r\n");
    assert_stored_as_sent(&raw, expected.as_bytes(), "with -i the dot line is text");
}

#[test]
fn php_invocation_adds_the_missing_headers() {
    // Exactly what the command sent: the headers it adds are the point, not ingest's.
    let server = Server::start_with(&["--smtp-store-exact"]);
    // What PHP's mail() writes: To and Subject, extra headers, the body, LF line ends.
    let input = "To: b@example.com\nSubject: from php\nX-Mailer: PHP\n\nHello\n.\nstill here\n";
    let run = run(
        Path::new(BIN),
        &[
            "sendmail",
            "-t",
            "-i",
            "-f",
            "www@example.com",
            "-F",
            "Web Shop",
        ],
        &[("MAILSNARE_SMTP", server.smtp.to_string())],
        input.as_bytes(),
    );
    assert_success(&run, &server, &["-t", "-i"]);
    let (raw, message) = only_message(&server);
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let original = input.replace('\n', "\r\n");
    let added = raw
        .strip_suffix(&original)
        .unwrap_or_else(|| panic!("the original is not kept at the end: {raw:?}"));
    assert!(
        added.starts_with("From: Web Shop <www@example.com>\r\n"),
        "{added:?}"
    );
    assert!(added.contains("\r\nDate: "), "{added:?}");
    assert!(added.contains("\r\nMessage-ID: <"), "{added:?}");
    assert_eq!(
        envelope(&server, &message),
        ("www@example.com".into(), vec!["b@example.com".into()])
    );
    assert_eq!(message["From"], common::addr("Web Shop", "www@example.com"));
    assert!(
        message["Date"].as_str().is_some_and(|d| d.len() >= 20),
        "{message:#}"
    );
}

#[test]
fn verbose_prints_the_smtp_dialogue() {
    let server = Server::start();
    let run = sendmail(
        &server,
        &["-v", "-f", "a@example.com", "b@example.com"],
        COMPLETE.as_bytes(),
    );
    for expected in [
        "<<< 220 ",
        ">>> EHLO ",
        ">>> MAIL FROM:<a@example.com>",
        ">>> RCPT TO:<b@example.com>",
        "<<< 354 ",
        ">>> QUIT",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} in {}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains("Hello Bob"), "the body is not printed");
}

#[test]
fn a_link_named_sendmail_takes_sendmail_arguments() {
    let server = Server::start();
    let dir = TempDir::new("sendmail-link");
    let link = dir.path("sendmail");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let run = run(
        &link,
        &["-oi", "-t", "-f", "a@example.com"],
        &[(
            "MP_SMTP_BIND_ADDR",
            format!("0.0.0.0:{}", server.smtp_port()),
        )],
        COMPLETE.as_bytes(),
    );
    assert_success(&run, &server, &["sendmail link"]);
    let (raw, message) = only_message(&server);
    assert_stored_as_sent(&raw, COMPLETE.as_bytes(), "stored raw");
    assert_eq!(envelope(&server, &message).1, ["b@example.com"]);
}

#[test]
fn sendmail_exit_codes() {
    let bin = Path::new(BIN);
    let bad_flag = run(bin, &["sendmail", "-X", "b@example.com"], &[], b"x\n");
    assert_exit(&bad_flag, 64, "bad flag");
    assert!(
        bad_flag.stderr.starts_with("mailsnare sendmail: "),
        "{}",
        bad_flag.stderr
    );

    let closed = closed_port().to_string();
    let no_rcpt = run(
        bin,
        &["sendmail", "--smtp-addr", &closed],
        &[],
        b"Subject: nobody\n\nx\n",
    );
    assert_exit(&no_rcpt, 65, "no recipients");

    let refused = run(
        bin,
        &["sendmail", "--smtp-addr", &closed, "b@example.com"],
        &[],
        COMPLETE.as_bytes(),
    );
    assert_exit(&refused, 69, "nothing listening");
    assert!(refused.stderr.contains(&closed), "{}", refused.stderr);

    let server = Server::start_with(&["--chaos-triggers", "Sender:451:100"]);
    let target = server.smtp.to_string();
    let tempfail = run(
        bin,
        &["sendmail", "--smtp-addr", &target, "b@example.com"],
        &[],
        COMPLETE.as_bytes(),
    );
    assert_exit(&tempfail, 75, "451 to MAIL FROM");
    assert!(tempfail.stderr.contains("451"), "{}", tempfail.stderr);
    assert_eq!(server.list()["total"], 0);
}

#[test]
fn healthcheck_against_a_running_server_and_a_closed_port() {
    let server = Server::start();
    let bin = Path::new(BIN);
    let http = server.http.to_string();
    let ok = run(bin, &["healthcheck", "--http", &http], &[], b"");
    assert_exit(&ok, 0, "running server");

    let via_env = run(
        bin,
        &["healthcheck"],
        &[("MAILSNARE_HTTP", format!("0.0.0.0:{}", server.http.port()))],
        b"",
    );
    assert_exit(&via_env, 0, "address from MAILSNARE_HTTP");

    let closed = closed_port().to_string();
    let started = Instant::now();
    let down = run(bin, &["healthcheck", "--http", &closed], &[], b"");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "took {:?}",
        started.elapsed()
    );
    assert_exit(&down, 1, "closed port");
    assert_eq!(
        down.stderr.lines().count(),
        1,
        "one line: {:?}",
        down.stderr
    );
    assert!(down.stderr.contains(&closed), "{}", down.stderr);

    let bad_flag = run(bin, &["healthcheck", "--bogus"], &[], b"");
    assert_exit(&bad_flag, 1, "bad flag");
}

#[test]
fn healthcheck_over_https() {
    let server = Server::start_with(&["--http-tls-cert", "sans:localhost"]);
    let bin = Path::new(BIN);
    let http = server.http.to_string();
    let ok = run(bin, &["healthcheck", "--tls", "--http", &http], &[], b"");
    assert_exit(&ok, 0, "--tls against HTTPS");

    let via_env = run(
        bin,
        &["healthcheck", "--http", &http],
        &[("MAILSNARE_HTTP_TLS_CERT", "sans:localhost".to_string())],
        b"",
    );
    assert_exit(&via_env, 0, "TLS switched on by the certificate variable");

    let plain = run(bin, &["healthcheck", "--http", &http], &[], b"");
    assert_exit(&plain, 1, "plain HTTP against HTTPS");
}

#[test]
fn version() {
    let run = run(Path::new(BIN), &["--version"], &[], b"");
    assert_exit(&run, 0, "--version");
    assert_eq!(run.stdout.trim(), "mailsnare 0.1.0");
}

#[test]
fn sigterm_closes_idle_sessions_and_exits_cleanly() {
    use std::io::{BufRead, BufReader};
    let mut server = common::Server::start();
    let stream = std::net::TcpStream::connect(server.smtp).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut reader = BufReader::new(stream);
    let mut greeting = String::new();
    reader.read_line(&mut greeting).expect("greeting");
    assert!(greeting.starts_with("220 "), "{greeting}");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let mut bye = String::new();
    reader.read_line(&mut bye).expect("shutdown reply");
    assert!(
        bye.starts_with("421 4.3.2"),
        "an idle session is told the server is going away: {bye:?}"
    );
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "exit status {status:?}\n{}",
        server.stderr()
    );
    assert!(server.stderr().contains("shutting down"));
}

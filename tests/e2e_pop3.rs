//! POP3 end to end against the real binary: Python's poplib (plain, STLS, implicit TLS) and curl
//! read what SMTP stored; RETR gives the raw bytes the API serves and marks the message read;
//! DELE applies only at QUIT; logins are checked against a password file with a failure limit;
//! a login named like a mailbox reads that mailbox; the connection bound, the idle timeout and
//! shutdown close sessions with an `-ERR`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Server, WAIT_TIMEOUT, require_program, run_with_timeout, send_mail, swaks};
use serde_json::{Value, json};

const SELF_SIGNED: &str = "sans:localhost,127.0.0.1";

fn pop3_server(extra: &[&str]) -> Server {
    let mut args = vec!["--pop3", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let server = Server::start_with(&args);
    assert!(
        server.pop3.is_some(),
        "no POP3 address: {}",
        server.stderr()
    );
    server
}

fn pop3(server: &Server) -> SocketAddr {
    server.pop3.expect("POP3 listener")
}

/// Runs tests/clients/python/pop3_client.py with `job` (host and port filled in).
fn poplib(server: &Server, addr: SocketAddr, mut job: Value) -> Value {
    job["host"] = json!(addr.ip().to_string());
    job["port"] = json!(addr.port());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients/python/pop3_client.py");
    common::python_job(server, &script, &job, "poplib")
}

fn login_job(user: &str, password: &str, steps: Value) -> Value {
    json!({"user": user, "password": password, "mode": "plain", "steps": steps})
}

fn decoded(step: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(step["data"].as_str().expect("data"))
        .expect("base64")
}

/// Runs curl with `args`, asserting success; returns stdout.
fn curl(server: &Server, args: &[&str]) -> String {
    let curl = require_program("curl");
    let mut all = vec!["--silent", "--show-error", "--max-time", "30"];
    all.extend_from_slice(args);
    let run = run_with_timeout(&curl, &all, b"", Duration::from_secs(60));
    assert!(
        run.status.success(),
        "curl {all:?} failed ({}):\nstdout: {}\nstderr: {}\nserver stderr:\n{}",
        run.status,
        run.stdout,
        run.stderr,
        server.stderr()
    );
    run.stdout
}

/// The summaries in the list, keyed by id: `Read` of message `id`.
fn is_read(server: &Server, id: &str) -> bool {
    let list = server.list();
    list["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["ID"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {list}"))["Read"]
        .as_bool()
        .expect("Read")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT_TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mail(subject: &str, body: &str) -> Vec<u8> {
    format!("From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\n{body}")
        .into_bytes()
}

/// A blocking line-level POP3 client, for what the libraries hide (exact replies, closes).
struct Pop {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Pop {
    fn connect(addr: SocketAddr) -> Pop {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Pop {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a reply line");
        line
    }

    fn cmd(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
        self.line()
    }

    /// Reads until the server closes; what it sent.
    fn rest(&mut self) -> String {
        let mut rest = String::new();
        let _ = self.reader.read_to_string(&mut rest);
        rest
    }
}

#[test]
fn poplib_lists_retrieves_with_stable_uids_and_marks_read() {
    let server = pop3_server(&[]);
    let first = send_mail(server.smtp, &["b@example.com"], &mail("one", "first\r\n"));
    let second = send_mail(
        server.smtp,
        &["b@example.com"],
        &mail("two", "line\r\n.starts with a dot\r\n..two dots\r\n"),
    );
    server.wait_for_count(2);
    assert!(!is_read(&server, &first));
    let steps = json!([
        ["stat"],
        ["list"],
        ["uidl"],
        ["retr", 2],
        ["top", 1, 0],
        ["quit"]
    ]);
    let report = poplib(
        &server,
        pop3(&server),
        login_job("anyone", "anything", steps),
    );
    assert!(report["welcome"].as_str().unwrap().starts_with("+OK "));
    assert!(
        report["login"]
            .as_str()
            .unwrap()
            .starts_with("+OK maildrop has 2 messages"),
        "{report}"
    );
    let steps = &report["steps"];
    let (raw1, raw2) = (server.raw(&first), server.raw(&second));
    // Oldest first; sizes are the stored bytes (all CRLF already).
    assert_eq!(steps[0]["count"], 2);
    assert_eq!(steps[0]["size"], raw1.len() + raw2.len());
    assert_eq!(
        steps[1]["rows"],
        json!([["1", raw1.len().to_string()], ["2", raw2.len().to_string()]])
    );
    assert_eq!(steps[2]["rows"], json!([["1", first], ["2", second]]));
    // RETR: exactly the API's raw bytes, after poplib undoes the stuffing.
    assert_eq!(steps[3]["octets"], raw2.len());
    common::assert_bytes_eq(&decoded(&steps[3]), &raw2, "RETR 2");
    // TOP 1 0: the header and the blank line.
    let head_end = common::find(&raw1, b"\r\n\r\n").expect("a header") + 4;
    common::assert_bytes_eq(&decoded(&steps[4]), &raw1[..head_end], "TOP 1 0");
    assert!(steps[5]["resp"].as_str().unwrap().starts_with("+OK"));
    // RETR marked message 2 read; TOP did not mark message 1.
    wait_until("RETR to mark the message read", || {
        is_read(&server, &second)
    });
    assert!(!is_read(&server, &first));

    // A second session numbers and names them the same.
    let again = poplib(
        &server,
        pop3(&server),
        login_job("anyone", "x", json!([["uidl"], ["quit"]])),
    );
    assert_eq!(
        again["steps"][0]["rows"],
        json!([["1", first], ["2", second]])
    );
    server.wait_for_count(2);
}

#[test]
fn a_large_message_is_retrieved_whole() {
    let server = pop3_server(&[]);
    let mut body = String::new();
    for i in 0..40_000 {
        // Every tenth line starts with a dot, to be stuffed on the way out.
        let dot = if i % 10 == 0 { "." } else { "" };
        body.push_str(&format!(
            "{dot}line {i:06} of a long message, some filler text here\r\n"
        ));
    }
    let id = send_mail(server.smtp, &["b@example.com"], &mail("big", &body));
    server.wait_for_count(1);
    let raw = server.raw(&id);
    assert!(raw.len() > 2_000_000, "{}", raw.len());
    let report = poplib(
        &server,
        pop3(&server),
        login_job("u", "p", json!([["retr", 1], ["quit"]])),
    );
    common::assert_bytes_eq(
        &decoded(&report["steps"][0]),
        &raw,
        "RETR of a 2 MB message",
    );
}

#[test]
fn dele_applies_only_at_quit() {
    let server = pop3_server(&[]);
    let ids: Vec<String> = (0..3)
        .map(|i| {
            send_mail(
                server.smtp,
                &["b@example.com"],
                &mail(&format!("m{i}"), "x\r\n"),
            )
        })
        .collect();
    server.wait_for_count(3);
    let addr = pop3(&server);

    // DELE then RSET then QUIT: nothing deleted.
    let report = poplib(
        &server,
        addr,
        login_job("u", "p", json!([["dele", 1], ["rset"], ["quit"]])),
    );
    assert!(
        report["steps"][0]["resp"]
            .as_str()
            .unwrap()
            .starts_with("+OK")
    );
    // DELE, then the connection dropped without QUIT: nothing deleted.
    poplib(
        &server,
        addr,
        login_job("u", "p", json!([["dele", 2], ["drop"]])),
    );
    // A deleted message is refused for the rest of the session.
    let report = poplib(
        &server,
        addr,
        login_job(
            "u",
            "p",
            json!([
                ["stat"],
                ["dele", 1],
                ["retr", 1],
                ["dele", 2],
                ["stat"],
                ["quit"]
            ]),
        ),
    );
    let steps = &report["steps"];
    assert_eq!(
        steps[0]["count"], 3,
        "RSET and the dropped session deleted nothing"
    );
    assert!(
        steps[2]["error"]
            .as_str()
            .unwrap()
            .contains("already deleted"),
        "{report}"
    );
    assert_eq!(steps[4]["count"], 1);
    assert!(
        steps[5]["resp"]
            .as_str()
            .unwrap()
            .contains("2 messages deleted"),
        "{report}"
    );
    let list = server.wait_for_count(1);
    assert_eq!(list["messages"][0]["ID"], ids[2]);
}

#[test]
fn curl_lists_retrieves_and_deletes() {
    let server = pop3_server(&[]);
    let first = send_mail(
        server.smtp,
        &["b@example.com"],
        &mail("one", ".dotted\r\nplain\r\n"),
    );
    let second = send_mail(server.smtp, &["b@example.com"], &mail("two", "x\r\n"));
    server.wait_for_count(2);
    let url = format!("pop3://{}/", pop3(&server));
    let (raw1, raw2) = (server.raw(&first), server.raw(&second));

    let list = curl(&server, &[&url, "-u", "user:pass"]);
    assert_eq!(list, format!("1 {}\r\n2 {}\r\n", raw1.len(), raw2.len()));
    let retr = curl(&server, &[&format!("{url}1"), "-u", "user:pass"]);
    common::assert_bytes_eq(retr.as_bytes(), &raw1, "curl RETR 1");
    let uidl = curl(&server, &[&url, "-u", "user:pass", "-X", "UIDL"]);
    assert_eq!(uidl, format!("1 {first}\r\n2 {second}\r\n"));

    // SASL PLAIN, with an initial response and through the continuation.
    for extra in [&["--sasl-ir"][..], &[][..]] {
        let mut args = vec![
            url.as_str(),
            "-u",
            "user:pass",
            "--login-options",
            "AUTH=PLAIN",
        ];
        args.extend_from_slice(extra);
        assert_eq!(curl(&server, &args), list, "AUTH PLAIN {extra:?}");
    }

    // DELE, applied at the QUIT curl sends.
    curl(&server, &[&url, "-u", "user:pass", "-X", "DELE 1", "-I"]);
    let left = server.wait_for_count(1);
    assert_eq!(left["messages"][0]["ID"], second);
}

#[test]
fn a_password_file_refuses_wrong_logins_and_the_limit_closes() {
    let server = pop3_server(&["--pop3-auth", "alice:secret", "--max-login-failures", "2"]);
    send_mail(server.smtp, &["b@example.com"], &mail("one", "x\r\n"));
    server.wait_for_count(1);
    let addr = pop3(&server);

    let report = poplib(&server, addr, login_job("alice", "wrong", json!([])));
    assert!(
        report["login_error"]
            .as_str()
            .unwrap()
            .starts_with("-ERR [AUTH]"),
        "{report}"
    );
    let report = poplib(&server, addr, login_job("mallory", "secret", json!([])));
    assert!(
        report["login_error"]
            .as_str()
            .unwrap()
            .starts_with("-ERR [AUTH]")
    );
    let report = poplib(
        &server,
        addr,
        login_job("alice", "secret", json!([["stat"]])),
    );
    assert_eq!(report["steps"][0]["count"], 1, "{report}");

    // Two failures on one connection: the second answer closes it.
    let mut pop = Pop::connect(addr);
    assert!(pop.line().starts_with("+OK"));
    assert!(pop.cmd("USER alice").starts_with("+OK"));
    assert_eq!(
        pop.cmd("PASS no"),
        "-ERR [AUTH] invalid user name or password\r\n"
    );
    assert!(pop.cmd("USER alice").starts_with("+OK"));
    assert!(
        pop.cmd("PASS still no")
            .starts_with("-ERR [AUTH] invalid user name or password; too many failures")
    );
    // The server closed: nothing more comes, whatever is sent.
    let _ = pop.writer.write_all(b"USER alice\r\n");
    assert_eq!(pop.rest(), "");
}

#[test]
fn an_auth_file_checks_passwords_and_a_restricted_user_reads_its_mailbox() {
    let dir = common::TempDir::new("pop3-auth-file");
    let file = dir.path("pop3.passwd");
    std::fs::write(&file, "alice:secret\ncarol:{PLAIN}pw:mailboxes=team\n").unwrap();
    let server = pop3_server(&["--pop3-auth-file", file.to_str().unwrap()]);
    swaks(
        &server,
        &[
            "--to",
            "a@example.com",
            "--from",
            "ci@example.com",
            "--header",
            "Subject: team mail",
            "--auth",
            "PLAIN",
            "--auth-user",
            "team",
            "--auth-password",
            "x",
        ],
    );
    send_mail(server.smtp, &["a@example.com"], &mail("other", "x\r\n"));
    server.wait_for_count(2);
    let addr = pop3(&server);

    let report = poplib(&server, addr, login_job("carol", "nope", json!([])));
    assert!(
        report["login_error"]
            .as_str()
            .unwrap()
            .starts_with("-ERR [AUTH]"),
        "{report}"
    );
    let report = poplib(
        &server,
        addr,
        login_job("carol", "pw", json!([["stat"], ["top", 1, 0]])),
    );
    assert_eq!(report["steps"][0]["count"], 1, "{report}");
    let head = String::from_utf8(decoded(&report["steps"][1])).unwrap();
    assert!(head.contains("Subject: team mail"), "{head}");
    let report = poplib(
        &server,
        addr,
        login_job("alice", "secret", json!([["stat"]])),
    );
    assert_eq!(report["steps"][0]["count"], 2, "{report}");
}

#[test]
fn stls_and_implicit_tls() {
    let server = pop3_server(&["--pop3-tls-cert", SELF_SIGNED, "--pop3s", "127.0.0.1:0"]);
    send_mail(server.smtp, &["b@example.com"], &mail("one", "x\r\n"));
    server.wait_for_count(1);
    let addr = pop3(&server);

    // Offered on the plain listener before login.
    let mut pop = Pop::connect(addr);
    pop.line();
    let mut capa = pop.cmd("CAPA");
    while !capa.ends_with(".\r\n") {
        capa.push_str(&pop.line());
    }
    assert!(capa.contains("\r\nSTLS\r\n"), "{capa}");
    assert_eq!(pop.cmd("QUIT").get(..3), Some("+OK"));

    let job = json!({"user": "u", "password": "p", "mode": "stls",
                     "steps": [["capa"], ["stat"], ["retr", 1], ["quit"]]});
    let report = poplib(&server, addr, job);
    assert!(
        report["stls"].as_str().unwrap().starts_with("+OK"),
        "{report}"
    );
    let capa = report["steps"][0]["capa"].as_array().unwrap();
    assert!(!capa.contains(&json!("STLS")), "{report}");
    assert_eq!(report["steps"][1]["count"], 1);

    let pop3s = server.pop3s.expect("POP3S listener");
    let job = json!({"user": "u", "password": "p", "mode": "ssl",
                     "steps": [["capa"], ["stat"], ["quit"]]});
    let report = poplib(&server, pop3s, job);
    assert!(report["welcome"].as_str().unwrap().starts_with("+OK"));
    let capa = report["steps"][0]["capa"].as_array().unwrap();
    assert!(capa.contains(&json!("TOP")) && !capa.contains(&json!("STLS")));
    assert_eq!(report["steps"][1]["count"], 1);
}

/// Plaintext pipelined after STLS must never be read as if it came inside TLS (the STARTTLS
/// command-injection attack): the server drops the rest of that read.
#[test]
fn commands_pipelined_after_stls_are_dropped() {
    let server = pop3_server(&["--pop3-tls-cert", SELF_SIGNED]);
    let addr = pop3(&server);
    let script = r#"
import socket, ssl, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
f = sock.makefile("rb")
assert f.readline().startswith(b"+OK")
sock.sendall(b"STLS\r\nUSER injected\r\n")
print(f.readline().decode().strip())
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
tls = ctx.wrap_socket(sock, server_hostname="localhost")
t = tls.makefile("rb")
tls.sendall(b"PASS p\r\n")
print(t.readline().decode().strip())
"#;
    let python = require_program("python3");
    let port = addr.port().to_string();
    let run = run_with_timeout(
        &python,
        &["-c", script, &addr.ip().to_string(), &port],
        b"",
        Duration::from_secs(60),
    );
    assert!(run.status.success(), "{}\n{}", run.stdout, run.stderr);
    // Had `USER injected` been kept, PASS would log in.
    assert_eq!(
        run.stdout,
        "+OK begin TLS negotiation\n-ERR USER first\n",
        "{}",
        server.stderr()
    );
}

#[test]
fn a_login_named_like_a_mailbox_reads_only_its_mail() {
    let server = pop3_server(&[]);
    swaks(
        &server,
        &[
            "--to",
            "a@example.com",
            "--from",
            "ci@example.com",
            "--header",
            "Subject: for job1",
            "--auth",
            "PLAIN",
            "--auth-user",
            "job1",
            "--auth-password",
            "secret",
        ],
    );
    send_mail(server.smtp, &["a@example.com"], &mail("no login", "x\r\n"));
    server.wait_for_count(2);
    let addr = pop3(&server);

    let report = poplib(
        &server,
        addr,
        login_job("job1", "x", json!([["stat"], ["retr", 1]])),
    );
    assert_eq!(report["steps"][0]["count"], 1, "{report}");
    let retr = String::from_utf8(decoded(&report["steps"][1])).unwrap();
    assert!(retr.contains("Subject: for job1"), "{retr}");
    // Any other name reads the whole catch.
    let report = poplib(&server, addr, login_job("someone", "x", json!([["stat"]])));
    assert_eq!(report["steps"][0]["count"], 2, "{report}");

    // RETR marked it read in the mailbox; DELE and QUIT remove it from the mailbox.
    let mailbox = "/mailbox/job1/api/v1/messages";
    wait_until("RETR to mark the mailbox's copy read", || {
        server.get_json(mailbox)["messages"][0]["Read"] == true
    });
    let report = poplib(
        &server,
        addr,
        login_job("job1", "x", json!([["dele", 1], ["quit"]])),
    );
    assert!(
        report["steps"][1]["resp"]
            .as_str()
            .unwrap()
            .contains("1 messages deleted")
    );
    assert_eq!(server.get_json(mailbox)["total"], 0);
}

#[test]
fn one_connection_too_many_is_refused() {
    let server = pop3_server(&["--pop3-max-connections", "1"]);
    let addr = pop3(&server);
    let mut first = Pop::connect(addr);
    assert!(first.line().starts_with("+OK"));
    let mut second = Pop::connect(addr);
    assert_eq!(
        second.rest(),
        "-ERR [SYS/TEMP] too many connections, try again later\r\n"
    );
    assert!(first.cmd("QUIT").starts_with("+OK"));
    assert_eq!(first.rest(), "");
    // The slot is free once the first session has ended (asynchronously): a new one is served.
    wait_until("the slot to be free again", || {
        let mut pop = Pop::connect(addr);
        pop.line().starts_with("+OK")
    });
}

#[test]
fn an_idle_client_is_disconnected() {
    let server = pop3_server(&["--pop3-idle-timeout", "1s"]);
    let mut pop = Pop::connect(pop3(&server));
    assert!(pop.line().starts_with("+OK"));
    assert!(pop.cmd("USER u").starts_with("+OK"));
    assert_eq!(pop.rest(), "-ERR idle timeout, closing connection\r\n");
}

#[test]
fn shutdown_closes_sessions_without_applying_deletions() {
    let dir = common::TempDir::new("pop3-shutdown");
    let storage = dir.path("store");
    let storage = storage.to_str().unwrap();
    let mut server = pop3_server(&["--storage", storage]);
    let id = send_mail(server.smtp, &["b@example.com"], &mail("one", "x\r\n"));
    server.wait_for_count(1);
    let mut pop = Pop::connect(pop3(&server));
    assert!(pop.line().starts_with("+OK"));
    assert!(pop.cmd("USER u").starts_with("+OK"));
    assert!(pop.cmd("PASS p").starts_with("+OK maildrop has 1 messages"));
    assert!(pop.cmd("DELE 1").starts_with("+OK"));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    assert_eq!(pop.rest(), "-ERR [SYS/TEMP] server shutting down\r\n");
    let status = server.wait_exit(WAIT_TIMEOUT).expect("the server exits");
    assert!(status.success(), "{status:?}: {}", server.stderr());
    drop(server);
    // The message marked deleted is still stored: only QUIT applies deletions.
    let again = pop3_server(&["--storage", storage]);
    let list = again.wait_for_count(1);
    assert_eq!(list["messages"][0]["ID"], id);
}

#[test]
fn line_level_errors_over_the_wire() {
    let server = pop3_server(&["--reader-max-line", "1024"]);
    let mut pop = Pop::connect(pop3(&server));
    pop.line();
    assert_eq!(
        pop.cmd("STAT"),
        "-ERR not valid in the AUTHORIZATION state\r\n"
    );
    assert_eq!(pop.cmd("STLS"), "-ERR STLS not available\r\n");
    assert_eq!(
        pop.cmd(&format!("NOOP {}", "x".repeat(5000))),
        "-ERR line too long\r\n"
    );
    assert!(pop.cmd("USER u").starts_with("+OK"));
    // Pipelined: one write, the answers in order.
    pop.writer
        .write_all(b"PASS p\r\nSTAT\r\nRETR 1\r\nQUIT\r\n")
        .unwrap();
    assert_eq!(
        pop.rest(),
        "+OK maildrop has 0 messages (0 octets)\r\n+OK 0 0\r\n-ERR no such message\r\n\
         +OK localhost POP3 mailsnare signing off\r\n"
            .replace("localhost", &hostname(&server))
    );
}

/// The host name the server greets with (its default, or `--smtp-hostname`).
fn hostname(server: &Server) -> String {
    let mut pop = Pop::connect(pop3(server));
    let greeting = pop.line();
    greeting
        .strip_prefix("+OK ")
        .and_then(|g| g.split(' ').next())
        .unwrap_or_default()
        .to_string()
}

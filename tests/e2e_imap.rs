//! IMAP end to end against the real binary: Python's imaplib (reads, flags, deletion, APPEND,
//! UIDs, STARTTLS, IMAPS), curl, a raw client in IDLE seeing SMTP and API changes as they happen,
//! mbsync (a strict synchronising client) both ways, the choice of mailbox by login name, and
//! UIDVALIDITY kept across a restart with `--storage`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Server, TempDir, http_with, id_of, require_program, run_command, send_mail, swaks};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

fn mail(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Ann <ann@example.com>\r\nTo: bob@example.org\r\nSubject: {subject}\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// Runs a Python script with `IMAP_PORT` (and `IMAPS_PORT`) set; its stdout is JSON.
fn python(server: &Server, script: &str) -> Value {
    let python = require_program("python3");
    let mut command = std::process::Command::new(python);
    command.arg("-c").arg(script);
    if let Some(imap) = server.imap {
        command.env("IMAP_PORT", imap.port().to_string());
    }
    if let Some(imaps) = server.imaps {
        command.env("IMAPS_PORT", imaps.port().to_string());
    }
    let run = run_command(command, b"", Duration::from_secs(60));
    assert!(
        run.status.success(),
        "python failed:\nstdout: {}\nstderr: {}\nserver:\n{}",
        run.stdout,
        run.stderr,
        server.stderr()
    );
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

fn ids(server: &Server) -> Vec<String> {
    server.list()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

/// Polls the API until `check` holds (the API is the other side of what IMAP did).
fn until(server: &Server, what: &str, check: impl Fn(&Server) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check(server) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn imaplib_reads_flags_deletes_and_appends_what_the_api_holds() {
    let server = Server::start_with(&["--imap", "127.0.0.1:0"]);
    let first = send_mail(server.smtp, &["bob@example.org"], &mail("one", "body one"));
    let second = send_mail(server.smtp, &["bob@example.org"], &mail("two", "body two"));
    server.wait_for_count(2);
    let (raw_first, raw_second) = (server.raw(&first), server.raw(&second));
    let out = python(
        &server,
        r#"
import imaplib, json, os, base64
m = imaplib.IMAP4('127.0.0.1', int(os.environ['IMAP_PORT']))
out = {'caps': list(m.capabilities)}
m.login('someone', 'anything')
typ, data = m.select('INBOX')
out['exists'] = int(data[0])
out['uidvalidity'] = m.response('UIDVALIDITY')[1][0].decode()
typ, data = m.search(None, 'ALL')
out['all'] = data[0].decode()
typ, data = m.search(None, 'SUBJECT', 'two')
out['two'] = data[0].decode()
typ, data = m.uid('SEARCH', None, 'ALL')
out['uids'] = data[0].decode()
bodies = []
for n in (1, 2):
    typ, data = m.fetch(str(n), '(BODY.PEEK[])')
    bodies.append(base64.b64encode(data[0][1]).decode())
out['bodies'] = bodies
typ, data = m.uid('FETCH', '2', '(FLAGS RFC822.SIZE)')
out['uid2'] = data[0].decode()
typ, data = m.uid('FETCH', '99', '(FLAGS)')
out['uid99'] = [d for d in data if d is not None]
m.store('1', '+FLAGS', '\\Seen')
typ, data = m.append('INBOX', '\\Seen', None, b'From: x@example.com\r\nSubject: appended\r\n\r\nhi\r\n')
out['append'] = data[0].decode()
m.store('2', '+FLAGS', '\\Deleted')
typ, data = m.expunge()
out['expunged'] = [d.decode() for d in data if d]
m.logout()
print(json.dumps(out))
"#,
    );
    assert!(
        out["caps"].as_array().unwrap().iter().any(|c| c == "IDLE"),
        "{out}"
    );
    assert_eq!(out["exists"], 2);
    assert_eq!(out["all"], "1 2");
    assert_eq!(out["two"], "2");
    assert_eq!(out["uids"], "1 2");
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    // Oldest first: sequence 1 is the first message sent.
    assert_eq!(
        b64.decode(out["bodies"][0].as_str().unwrap()).unwrap(),
        raw_first
    );
    assert_eq!(
        b64.decode(out["bodies"][1].as_str().unwrap()).unwrap(),
        raw_second
    );
    assert!(out["uid2"].as_str().unwrap().contains("UID 2"), "{out}");
    assert_eq!(out["uid99"], serde_json::json!([]));
    let validity = out["uidvalidity"].as_str().unwrap();
    assert_eq!(
        out["append"].as_str().unwrap(),
        format!("[APPENDUID {validity} 3] APPEND completed")
    );
    assert_eq!(out["expunged"], serde_json::json!(["2"]));
    // What IMAP did, the API shows.
    until(&server, "the second message deleted", |s| {
        !ids(s).contains(&second) && ids(s).len() == 2
    });
    assert_eq!(server.summary_by_subject("one")["Read"], true);
    let appended = server.summary_by_subject("appended");
    assert_eq!(appended["Read"], true);
}

#[test]
fn starttls_and_imaps_with_a_self_signed_certificate() {
    let server = Server::start_with(&[
        "--imap",
        "127.0.0.1:0",
        "--imaps",
        "127.0.0.1:0",
        "--imap-tls-cert",
        "sans:localhost",
    ]);
    send_mail(
        server.smtp,
        &["bob@example.org"],
        &mail("secret", "over tls"),
    );
    server.wait_for_count(1);
    let out = python(
        &server,
        r#"
import imaplib, json, os, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}
m = imaplib.IMAP4('127.0.0.1', int(os.environ['IMAP_PORT']))
out['plain_caps'] = list(m.capabilities)
m.starttls(ssl_context=ctx)
out['tls_caps'] = list(m.capabilities)
m.login('u', 'p')
m.select('INBOX')
out['starttls_subject'] = m.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')[1][0][1].decode().strip()
m.logout()
s = imaplib.IMAP4_SSL('127.0.0.1', int(os.environ['IMAPS_PORT']), ssl_context=ctx)
out['imaps_caps'] = list(s.capabilities)
s.login('u', 'p')
s.select('INBOX')
out['imaps_subject'] = s.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')[1][0][1].decode().strip()
s.logout()
print(json.dumps(out))
"#,
    );
    let caps = |k: &str| -> Vec<String> {
        out[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        caps("plain_caps").contains(&"STARTTLS".to_string()),
        "{out}"
    );
    assert!(!caps("tls_caps").contains(&"STARTTLS".to_string()), "{out}");
    assert!(
        !caps("imaps_caps").contains(&"STARTTLS".to_string()),
        "{out}"
    );
    assert_eq!(out["starttls_subject"], "Subject: secret");
    assert_eq!(out["imaps_subject"], "Subject: secret");
}

fn curl(args: &[&str]) -> String {
    let curl = require_program("curl");
    let mut command = std::process::Command::new(curl);
    command.args(["-sS", "--max-time", "20"]).args(args);
    let run = run_command(command, b"", Duration::from_secs(30));
    assert!(run.status.success(), "curl {args:?}: {}", run.stderr);
    run.stdout
}

#[test]
fn curl_lists_fetches_by_uid_and_sends_custom_commands() {
    let server = Server::start_with(&["--imap", "127.0.0.1:0"]);
    let id = send_mail(
        server.smtp,
        &["bob@example.org"],
        &mail("for curl", "curl body"),
    );
    server.wait_for_count(1);
    let port = server.imap.unwrap().port();
    let base = format!("imap://127.0.0.1:{port}");
    let listed = curl(&[&format!("{base}/INBOX"), "-u", "u:p"]);
    assert!(listed.contains("INBOX"), "{listed}");
    let fetched = curl(&[&format!("{base}/INBOX;UID=1"), "-u", "u:p"]);
    // curl prints the literal as received; the stored bytes use CRLF throughout.
    assert_eq!(fetched.as_bytes(), &server.raw(&id)[..]);
    let searched = curl(&[
        &format!("{base}/INBOX"),
        "-u",
        "u:p",
        "-X",
        "UID SEARCH ALL",
    ]);
    assert_eq!(searched.trim(), "* SEARCH 1");
}

/// A minimal IMAP client over a socket, for what imaplib cannot do (IDLE) and timing.
struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut raw = Raw {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        };
        let greeting = raw.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        raw
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .expect("a line from the server");
        assert!(!line.is_empty(), "the server closed the connection");
        line
    }

    fn send(&mut self, bytes: &str) {
        self.writer.write_all(bytes.as_bytes()).unwrap();
    }

    /// Sends a tagged command and returns every line up to its tagged answer.
    fn command(&mut self, tag: &str, command: &str) -> Vec<String> {
        self.send(&format!("{tag} {command}\r\n"));
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if done {
                return lines;
            }
        }
    }
}

#[test]
fn idle_sees_smtp_mail_api_deletions_and_read_changes_at_once() {
    let server = Server::start_with(&["--imap", "127.0.0.1:0"]);
    let first = send_mail(server.smtp, &["bob@example.org"], &mail("before", "x"));
    server.wait_for_count(1);
    let mut imap = Raw::connect(server.imap.unwrap());
    imap.command("a", "LOGIN u p");
    let selected = imap.command("b", "SELECT INBOX");
    assert!(
        selected.iter().any(|l| l == "* 1 EXISTS\r\n"),
        "{selected:?}"
    );
    imap.send("c IDLE\r\n");
    assert_eq!(imap.line(), "+ idling\r\n");

    let mut latencies = Vec::new();
    let sent = Instant::now();
    let second = send_mail(server.smtp, &["bob@example.org"], &mail("during idle", "y"));
    assert_eq!(imap.line(), "* 2 EXISTS\r\n");
    latencies.push(sent.elapsed());

    let body = format!(r#"{{"IDs":["{second}"],"Read":true}}"#);
    let sent = Instant::now();
    let resp = http_with(
        server.http,
        "PUT",
        "/api/v1/messages",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(imap.line(), "* 2 FETCH (FLAGS (\\Seen))\r\n");
    latencies.push(sent.elapsed());

    let body = format!(r#"{{"IDs":["{first}"]}}"#);
    let sent = Instant::now();
    let resp = http_with(
        server.http,
        "DELETE",
        "/api/v1/messages",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(imap.line(), "* 1 EXPUNGE\r\n");
    latencies.push(sent.elapsed());

    imap.send("DONE\r\n");
    assert_eq!(imap.line(), "c OK IDLE terminated\r\n");
    let fetched = imap.command("d", "UID FETCH 1:* (FLAGS)");
    assert_eq!(fetched[0], "* 1 FETCH (UID 2 FLAGS (\\Seen))\r\n");
    eprintln!(
        "IDLE wake-up latencies (SMTP, read, delete), each including the request: {latencies:?}"
    );
    for latency in latencies {
        assert!(
            latency < Duration::from_secs(2),
            "slow IDLE update: {latency:?}"
        );
    }
}

#[test]
fn a_login_named_like_a_mailbox_sees_only_it() {
    let server = Server::start_with(&["--imap", "127.0.0.1:0"]);
    let swaks_as = |user: &str, subject: &str| {
        let header = format!("Subject: {subject}");
        swaks(
            &server,
            &[
                "--to",
                "x@example.org",
                "--from",
                "app@example.com",
                "--header",
                &header,
                "--auth",
                "PLAIN",
                "--auth-user",
                user,
                "--auth-password",
                "pw",
            ],
        );
    };
    swaks_as("job42", "for the job");
    send_mail(server.smtp, &["y@example.org"], &mail("for the root", "z"));
    server.wait_for_count(2);
    let mut job = Raw::connect(server.imap.unwrap());
    job.command("a", "LOGIN job42 x");
    let lines = job.command("b", "SELECT INBOX");
    assert!(lines.iter().any(|l| l == "* 1 EXISTS\r\n"), "{lines:?}");
    let lines = job.command("c", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(
        lines.iter().any(|l| l.contains("Subject: for the job")),
        "{lines:?}"
    );
    let mut root = Raw::connect(server.imap.unwrap());
    root.command("a", "LOGIN someone x");
    let lines = root.command("b", "SELECT INBOX");
    assert!(lines.iter().any(|l| l == "* 2 EXISTS\r\n"), "{lines:?}");
}

fn maildir_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for sub in ["cur", "new"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            files.extend(entries.flatten().map(|e| e.path()));
        }
    }
    files.sort();
    files
}

#[test]
fn mbsync_syncs_the_catch_to_a_maildir_and_changes_back() {
    let mbsync = require_program("mbsync");
    let server = Server::start_with(&["--imap", "127.0.0.1:0"]);
    for i in 0..3 {
        send_mail(
            server.smtp,
            &["bob@example.org"],
            &mail(&format!("sync {i}"), "z"),
        );
    }
    server.wait_for_count(3);
    let tmp = TempDir::new("mbsync");
    let maildir = tmp.path("mail");
    std::fs::create_dir_all(&maildir).unwrap();
    let rc = tmp.path("mbsyncrc");
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount catch\nHost 127.0.0.1\nPort {port}\nUser tester\nPass secret\nSSLType None\nAuthMechs LOGIN\n\n\
             IMAPStore remote\nAccount catch\n\n\
             MaildirStore local\nPath {dir}/\nInbox {dir}/INBOX\n\n\
             Channel catch\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync All\nExpunge Both\nSyncState *\n",
            port = server.imap.unwrap().port(),
            dir = maildir.display()
        ),
    )
    .unwrap();
    let sync = || {
        let mut command = std::process::Command::new(&mbsync);
        command
            .args(["-c", rc.to_str().unwrap(), "-a"])
            .env("HOME", &tmp.0);
        let run = run_command(command, b"", Duration::from_secs(60));
        assert!(
            run.status.success(),
            "mbsync failed:\nstdout: {}\nstderr: {}\nserver:\n{}",
            run.stdout,
            run.stderr,
            server.stderr()
        );
    };
    sync();
    let inbox = maildir.join("INBOX");
    let files = maildir_files(&inbox);
    assert_eq!(files.len(), 3, "{files:?}");

    // Locally: delete one, mark another seen (the Maildir way: a trailing S flag).
    let mut bodies: Vec<(std::path::PathBuf, String)> = files
        .iter()
        .map(|f| {
            (
                f.clone(),
                String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned(),
            )
        })
        .collect();
    bodies.sort_by_key(|(_, b)| b.contains("sync 0"));
    let (deleted, _) = bodies
        .iter()
        .find(|(_, b)| b.contains("Subject: sync 1"))
        .unwrap()
        .clone();
    let (seen, _) = bodies
        .iter()
        .find(|(_, b)| b.contains("Subject: sync 2"))
        .unwrap()
        .clone();
    std::fs::remove_file(&deleted).unwrap();
    let name = seen.file_name().unwrap().to_string_lossy().into_owned();
    let renamed = if name.contains(":2,") {
        format!("{name}S")
    } else {
        format!("{name}:2,S")
    };
    std::fs::rename(&seen, inbox.join("cur").join(renamed)).unwrap();
    sync();
    until(&server, "the local deletion to reach the server", |s| {
        s.list()["total"] == 2
    });
    let gone = server.list();
    let subjects: Vec<&str> = gone["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Subject"].as_str().unwrap())
        .collect();
    assert!(!subjects.contains(&"sync 1"), "{subjects:?}");
    assert_eq!(server.summary_by_subject("sync 2")["Read"], true);
    assert_eq!(server.summary_by_subject("sync 0")["Read"], false);

    // And new mail on the server arrives locally on the next sync.
    send_mail(server.smtp, &["bob@example.org"], &mail("sync 3", "z"));
    server.wait_for_count(3);
    sync();
    assert_eq!(maildir_files(&inbox).len(), 3);
}

/// The UID map's entries for the root store, read from the sidecar file.
fn sidecar_entries(storage: &Path) -> usize {
    std::fs::read_to_string(storage.join("imap").join("root.uids"))
        .map(|text| text.lines().skip(3).filter(|l| !l.is_empty()).count())
        .unwrap_or(0)
}

fn uid_state(server: &Server) -> (String, Vec<String>) {
    let mut imap = Raw::connect(server.imap.unwrap());
    imap.command("a", "LOGIN u p");
    let lines = imap.command("b", "SELECT INBOX");
    let validity = lines
        .iter()
        .find_map(|l| l.strip_prefix("* OK [UIDVALIDITY "))
        .and_then(|l| l.split(']').next())
        .unwrap()
        .to_string();
    let fetched = imap.command("c", "FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    let mut pairs = Vec::new();
    let mut uid = String::new();
    for line in fetched {
        if let Some(rest) = line.split("(UID ").nth(1) {
            uid = rest.split(' ').next().unwrap().to_string();
        }
        if let Some(subject) = line.strip_prefix("Subject: ") {
            pairs.push(format!("{uid}={}", subject.trim()));
        }
    }
    imap.command("d", "LOGOUT");
    (validity, pairs)
}

#[test]
fn uidvalidity_and_uids_survive_a_restart_with_storage() {
    let storage = TempDir::new("imap-storage");
    let dir = storage.0.to_str().unwrap().to_string();
    let args = ["--imap", "127.0.0.1:0", "--storage", dir.as_str()];
    let (validity, first_id) = {
        let server = Server::start_with(&args);
        let first = send_mail(server.smtp, &["b@example.org"], &mail("keep a", "1"));
        send_mail(server.smtp, &["b@example.org"], &mail("keep b", "2"));
        send_mail(server.smtp, &["b@example.org"], &mail("keep c", "3"));
        server.wait_for_count(3);
        let (validity, pairs) = uid_state(&server);
        assert_eq!(pairs, ["1=keep a", "2=keep b", "3=keep c"]);
        // Deleted while IMAP looks away; its UID must never come back.
        let body = format!(r#"{{"IDs":["{first}"]}}"#);
        let resp = http_with(
            server.http,
            "DELETE",
            "/api/v1/messages",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(resp.status, 200);
        server.wait_for_count(2);
        // The map is written by a background thread: wait for it before stopping.
        let deadline = Instant::now() + WAIT;
        while sidecar_entries(&storage.0) < 3 {
            assert!(Instant::now() < deadline, "the UID map was not written");
            std::thread::sleep(Duration::from_millis(20));
        }
        (validity, first)
    };
    let server = Server::start_with(&args);
    server.wait_for_count(2);
    assert!(!ids(&server).contains(&first_id));
    send_mail(server.smtp, &["b@example.org"], &mail("after restart", "4"));
    server.wait_for_count(3);
    let (again, pairs) = uid_state(&server);
    assert_eq!(again, validity, "UIDVALIDITY changed across the restart");
    assert_eq!(pairs, ["2=keep b", "3=keep c", "4=after restart"]);
}

#[test]
fn uids_a_client_saw_survive_a_kill_right_after() {
    let storage = TempDir::new("imap-kill");
    let dir = storage.0.to_str().unwrap().to_string();
    let args = ["--imap", "127.0.0.1:0", "--storage", dir.as_str()];
    let seen = {
        let server = Server::start_with(&args);
        for i in 0..3 {
            send_mail(
                server.smtp,
                &["b@example.org"],
                &mail(&format!("m{i}"), "x"),
            );
        }
        server.wait_for_count(3);
        uid_state(&server);
        // New mail, seen by a client, then the server is killed (SIGKILL) at once: no time for
        // a background write that was still queued.
        send_mail(server.smtp, &["b@example.org"], &mail("late", "y"));
        server.wait_for_count(4);
        uid_state(&server)
    };
    assert_eq!(seen.1, ["1=m0", "2=m1", "3=m2", "4=late"]);
    let server = Server::start_with(&args);
    server.wait_for_count(4);
    assert_eq!(uid_state(&server), seen, "UIDs changed across the restart");
}

#[test]
fn flags_one_session_sets_are_pushed_to_the_others() {
    let server = Server::start_with(&["--imap", "127.0.0.1:0"]);
    send_mail(server.smtp, &["bob@example.org"], &mail("flag me", "x"));
    server.wait_for_count(1);
    let mut idler = Raw::connect(server.imap.unwrap());
    idler.command("a", "LOGIN u p");
    idler.command("b", "SELECT INBOX");
    idler.send("c IDLE\r\n");
    assert_eq!(idler.line(), "+ idling\r\n");
    let mut setter = Raw::connect(server.imap.unwrap());
    setter.command("a", "LOGIN u p");
    setter.command("b", "SELECT INBOX");
    setter.command("c", "STORE 1 +FLAGS (\\Flagged $Label1)");
    assert_eq!(idler.line(), "* 1 FETCH (FLAGS ($Label1 \\Flagged))\r\n");
    setter.command("d", "STORE 1 -FLAGS.SILENT (\\Flagged)");
    assert_eq!(idler.line(), "* 1 FETCH (FLAGS ($Label1))\r\n");
    idler.send("DONE\r\n");
    assert_eq!(idler.line(), "c OK IDLE terminated\r\n");
    // Not idling: told with the next command's answer.
    setter.command("e", "STORE 1 FLAGS (\\Answered)");
    let lines = idler.command("d", "NOOP");
    assert!(
        lines
            .iter()
            .any(|l| l == "* 1 FETCH (FLAGS (\\Answered))\r\n"),
        "{lines:?}"
    );
}

#[test]
fn bounds_idle_timeout_and_failed_logins() {
    let server = Server::start_with(&[
        "--imap",
        "127.0.0.1:0",
        "--imap-idle-timeout",
        "1s",
        "--imap-auth",
        "alice:secret",
        "--max-login-failures",
        "2",
    ]);
    let mut imap = Raw::connect(server.imap.unwrap());
    let started = Instant::now();
    let no = imap.command("a", "LOGIN alice wrong");
    assert!(no[0].starts_with("a NO [AUTHENTICATIONFAILED]"), "{no:?}");
    let no = imap.command("b", "LOGIN alice wrong");
    assert!(no[0].starts_with("b NO"), "{no:?}");
    assert_eq!(imap.line(), "* BYE too many failed logins\r\n");
    // Two failures: 250 ms then 500 ms of delay.
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );

    let mut imap = Raw::connect(server.imap.unwrap());
    imap.command("a", "LOGIN alice secret");
    imap.send("b IDLE\r\n");
    assert_eq!(imap.line(), "+ idling\r\n");
    assert_eq!(imap.line(), "* BYE idle timeout, closing\r\n");
}

#[test]
fn shutdown_says_bye_to_an_idling_client() {
    let mut server = Server::start_with(&["--imap", "127.0.0.1:0"]);
    let mut imap = Raw::connect(server.imap.unwrap());
    imap.command("a", "LOGIN u p");
    imap.command("b", "SELECT INBOX");
    imap.send("c IDLE\r\n");
    assert_eq!(imap.line(), "+ idling\r\n");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert_eq!(imap.line(), "* BYE server shutting down\r\n");
    assert!(server.wait_exit(WAIT).is_some(), "the server did not exit");
}

#[test]
fn tags_set_over_the_api_are_folders_that_fill_while_idling() {
    let server = Server::start_with(&["--imap", "127.0.0.1:0"]);
    let first = send_mail(server.smtp, &["bob@example.org"], &mail("tag me", "x"));
    let second = send_mail(server.smtp, &["bob@example.org"], &mail("later", "y"));
    server.wait_for_count(2);
    let tag = |ids: &[&str]| {
        let body = serde_json::json!({"Tags": ["Work"], "IDs": ids}).to_string();
        let resp = http_with(
            server.http,
            "PUT",
            "/api/v1/tags",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(resp.status, 200, "{}", resp.text());
    };
    tag(&[&first]);
    let mut imap = Raw::connect(server.imap.unwrap());
    imap.command("a", "LOGIN u p");
    let listed = imap.command("b", "LIST \"\" *");
    assert!(
        listed
            .iter()
            .any(|l| l == "* LIST (\\HasNoChildren) \"/\" \"Work\"\r\n"),
        "{listed:?}"
    );
    let selected = imap.command("c", "SELECT Work");
    assert!(
        selected.iter().any(|l| l == "* 1 EXISTS\r\n"),
        "{selected:?}"
    );
    imap.send("d IDLE\r\n");
    assert_eq!(imap.line(), "+ idling\r\n");
    tag(&[&first, &second]);
    assert_eq!(imap.line(), "* 2 EXISTS\r\n");
    imap.send("DONE\r\n");
    assert_eq!(imap.line(), "d OK IDLE terminated\r\n");
    let fetched = imap.command("e", "FETCH 2 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
    assert!(
        fetched.iter().any(|l| l == "Subject: later\r\n"),
        "{fetched:?}"
    );
}

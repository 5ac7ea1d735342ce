//! End-to-end tests: real SMTP clients (lettre, Python smtplib, swaks) talk to a real `mailsnare`
//! process, and what they sent is checked through the HTTP API, byte for byte where the exact
//! bytes on the wire are known.
//!
//! A note on the expected raw bytes. RFC 5321 4.1.1.4: the end of mail data is `<CRLF>.<CRLF>`, and
//! the first CRLF of that indicator also ends the message's last line. So the stored message is
//! everything the client sent before the final `.<CRLF>` line, dot-unstuffed.
//! - smtplib appends `<CRLF>` only when the data does not already end in one, then `.<CRLF>`:
//!   CRLF-terminated input is stored exactly as given.
//! - lettre (`SmtpConnection::message_iter`) always writes the data followed by `\r\n.\r\n`, even
//!   when the data already ends in CRLF: what it delivers is therefore always `input + "\r\n"`.
//! - swaks converts LF to CRLF, dot-stuffs, and (version dependent) may add one more CRLF.
//!
//! Ingest puts trace headers (Return-Path, Received, Bcc) on top of those bytes; tests check the
//! client's bytes below them exactly (`assert_stored_as_sent`), or run with `--smtp-store-exact`.

mod common;

use std::time::Duration;

use common::{
    PyMessage, Server, TempDir, addr, assert_bytes_eq, assert_stored_as_sent, count, find, id_of,
    is_uuid, show, smtplib, swaks,
};
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::{Message, SmtpTransport, Transport};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

fn lettre_transport(server: &Server) -> SmtpTransport {
    SmtpTransport::builder_dangerous(server.smtp.ip().to_string())
        .port(server.smtp_port())
        .timeout(Some(Duration::from_secs(30)))
        .build()
}

fn lettre_transport_with_auth(
    server: &Server,
    user: &str,
    password: &str,
    mechanism: Mechanism,
) -> SmtpTransport {
    SmtpTransport::builder_dangerous(server.smtp.ip().to_string())
        .port(server.smtp_port())
        .timeout(Some(Duration::from_secs(30)))
        .credentials(Credentials::new(user.to_string(), password.to_string()))
        .authentication(vec![mechanism])
        .build()
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope::new(
        Some(from.parse().unwrap()),
        to.iter().map(|t| t.parse().unwrap()).collect(),
    )
    .unwrap()
}

/// Asserts the reply to the final dot is `250 2.0.0 Ok: queued as <uuid>`; returns the uuid.
#[track_caller]
fn assert_queued(response: &lettre::transport::smtp::response::Response) -> String {
    assert_eq!(
        u16::from(response.code()),
        250,
        "reply after DATA: {response:?}"
    );
    let line = response.first_line().unwrap_or_default();
    let uuid = line
        .strip_prefix("2.0.0 Ok: queued as ")
        .unwrap_or_else(|| {
            panic!("reply text after DATA should be `2.0.0 Ok: queued as <uuid>`, got {line:?}")
        });
    assert!(is_uuid(uuid), "queued-as id {uuid:?} is not a UUID");
    uuid.to_string()
}

/// The first header field `name` in `raw`, with its folded continuation lines, as sent.
fn header_field<'a>(raw: &'a [u8], name: &str) -> &'a [u8] {
    let head_end = find(raw, b"\r\n\r\n").expect("header/body separator") + 2;
    let prefix = format!("{name}:");
    let mut start = 0;
    while start < head_end {
        let line_end = start + find(&raw[start..head_end], b"\r\n").unwrap() + 2;
        let line = &raw[start..line_end];
        if line.len() >= prefix.len()
            && line[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        {
            let mut end = line_end;
            while end < head_end && matches!(raw[end], b' ' | b'\t') {
                end += find(&raw[end..head_end], b"\r\n").unwrap() + 2;
            }
            return &raw[start..end];
        }
        start = line_end;
    }
    panic!("no {name} header in {}", show(raw))
}

fn subjects(list: &Value) -> Vec<String> {
    list["messages"]
        .as_array()
        .expect("messages array")
        .iter()
        .map(|m| m["Subject"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn crlf_to_lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// A message of exactly `total` bytes: a few headers and a body of short lines, CRLF-terminated.
fn sized_message(subject: &str, total: usize) -> Vec<u8> {
    let mut msg =
        format!("From: big@example.com\r\nTo: rcpt@example.com\r\nSubject: {subject}\r\n\r\n")
            .into_bytes();
    assert!(msg.len() + 2 <= total, "size too small for the headers");
    while msg.len() < total {
        let left = total - msg.len();
        // A body line of up to 70 'x' plus CRLF; never leave a remainder under 3 (one char + CRLF).
        let mut take = left.min(72);
        if left - take > 0 && left - take < 3 {
            take -= 3;
        }
        msg.extend(std::iter::repeat_n(b'x', take - 2));
        msg.extend_from_slice(b"\r\n");
    }
    assert_eq!(msg.len(), total);
    msg
}

// ---------------------------------------------------------------------------------------------
// 1. lettre
// ---------------------------------------------------------------------------------------------

#[test]
fn lettre_builder_message_round_trips() {
    let server = Server::start();
    let subject = "Grüße aus Köln ✓ – lettre";
    let body = "Hello Bob,\r\nthis is lettre speaking.\r\n.a line that starts with a dot\r\nümlauts: äöü ß, emoji 📬\r\n";
    let email = Message::builder()
        .from("Alice Ärger <alice@example.com>".parse().unwrap())
        .to("Bob Builder <bob@example.com>".parse().unwrap())
        .to("carol@example.org".parse().unwrap())
        .cc("Dave <dave@example.net>".parse().unwrap())
        .subject(subject)
        .message_id(Some("<lettre-1@example.com>".to_string()))
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .unwrap();
    let formatted = email.formatted();
    let response = lettre_transport(&server).send(&email).expect("lettre send");
    let queued = assert_queued(&response);

    let summaries = server.summaries(1);
    let s = &summaries[0];
    let id = id_of(s);
    assert_eq!(s["Subject"], subject, "{s:#}");
    assert_eq!(s["From"], addr("Alice Ärger", "alice@example.com"), "{s:#}");
    assert_eq!(
        s["To"],
        json!([
            addr("Bob Builder", "bob@example.com"),
            addr("", "carol@example.org")
        ]),
        "{s:#}"
    );
    assert_eq!(s["Cc"], json!([addr("Dave", "dave@example.net")]), "{s:#}");
    assert_eq!(
        s["Bcc"],
        json!([]),
        "every envelope recipient is in To/Cc: {s:#}"
    );
    assert_eq!(s["ReplyTo"], json!([]), "{s:#}");
    assert_eq!(s["Attachments"], 0, "{s:#}");
    assert_eq!(s["Read"], false, "{s:#}");
    assert_eq!(s["Tags"], json!([]), "{s:#}");
    assert_eq!(s["MessageID"], "lettre-1@example.com", "{s:#}");
    assert!(
        s["Snippet"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Hello Bob, this is lettre speaking."),
        "Snippet should start with the body text: {s:#}"
    );

    // Raw: what lettre wrote, then the CRLF lettre always sends before ".\r\n" (see module doc).
    let raw = server.raw(&id);
    assert!(
        find(&raw, header_field(&formatted, "Subject")).is_some(),
        "raw lacks lettre's Subject header {}",
        show(header_field(&formatted, "Subject"))
    );
    for rcpt in ["bob@example.com", "carol@example.org", "dave@example.net"] {
        assert!(
            find(&raw, rcpt.as_bytes()).is_some(),
            "raw lacks recipient {rcpt}: {}",
            show(&raw)
        );
    }
    let mut expected = formatted.clone();
    expected.extend_from_slice(b"\r\n");
    let trace = assert_stored_as_sent(&raw, &expected, "raw of a lettre-built message");
    assert!(
        trace.starts_with("Return-Path: <alice@example.com>\r\n"),
        "{trace}"
    );
    assert!(
        !trace.contains("Bcc:"),
        "every recipient is in To/Cc: {trace}"
    );
    assert_eq!(
        s["Size"],
        raw.len(),
        "Size must be the stored byte count: {s:#}"
    );

    let full = server.message(&id);
    assert_eq!(full["ID"], id.as_str());
    assert_eq!(full["Subject"], subject);
    assert_eq!(full["From"], addr("Alice Ärger", "alice@example.com"));
    assert_eq!(full["Cc"], json!([addr("Dave", "dave@example.net")]));
    let text = full["Text"]
        .as_str()
        .unwrap_or_else(|| panic!("Text is not a string: {full:#}"));
    assert_eq!(
        crlf_to_lf(text).trim_end(),
        crlf_to_lf(body).trim_end(),
        "decoded Text must equal the body lettre encoded"
    );
    assert_eq!(full["HTML"], "", "{full:#}");
    assert_eq!(full["Attachments"], json!([]), "{full:#}");
    // Not a contract point, but a useful hint if it fails: the queued-as id names the message.
    if queued != id {
        eprintln!("note: queued-as id {queued} differs from API ID {id}");
    }
}

#[test]
fn lettre_send_raw_is_byte_exact_and_dot_stuffing_round_trips() {
    // About byte-exactness: stored without the trace headers, the raw is exactly what was sent.
    let server = Server::start_with(&["--smtp-store-exact"]);
    let transport = lettre_transport(&server);

    // CRLF-terminated input with every dot case: stuffed by lettre, unstuffed by the server.
    let input: &[u8] = "From: Sender <sender@example.com>\r\n\
To: to@example.com\r\n\
Subject: dots and bytes\r\n\
Message-ID: <raw-1@example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
.leading dot\r\n\
..two leading dots\r\n\
.\r\n\
not the end yet\r\n\
. \r\n\
.\tdot tab\r\n\
middle . dot and trailing dot.\r\n\
\r\n\
8-bit: Grüße ✓ 📬\r\n\
\x20trailing spaces   \r\n\
last line\r\n"
        .as_bytes();
    let response = transport
        .send_raw(
            &envelope(
                "sender@example.com",
                &["to@example.com", "hidden@example.org"],
            ),
            input,
        )
        .expect("lettre send_raw");
    assert_queued(&response);

    // "A 250 after DATA means stored": no polling here.
    let list = server.list();
    assert_eq!(
        list["total"], 1,
        "message must be listed as soon as 250 was returned: {list:#}"
    );
    let s = list["messages"][0].clone();
    let id = id_of(&s);
    let mut expected = input.to_vec();
    expected.extend_from_slice(b"\r\n"); // lettre always sends "\r\n.\r\n" after the data
    let raw = server.raw(&id);
    assert_bytes_eq(
        &raw,
        &expected,
        "raw of lettre send_raw (CRLF-terminated input)",
    );
    assert_eq!(count(&raw, b"\r\n.leading dot\r\n"), 1, "{}", show(&raw));
    assert_eq!(
        count(&raw, b"\r\n..two leading dots\r\n"),
        1,
        "{}",
        show(&raw)
    );
    assert_eq!(
        count(&raw, b"\r\n.\r\nnot the end yet\r\n"),
        1,
        "lone dot line must survive: {}",
        show(&raw)
    );
    assert_eq!(s["Subject"], "dots and bytes");
    assert_eq!(s["MessageID"], "raw-1@example.com");
    assert_eq!(s["To"], json!([addr("", "to@example.com")]));
    assert_eq!(
        s["Bcc"],
        json!([addr("", "hidden@example.org")]),
        "envelope-only recipient: {s:#}"
    );
    assert_eq!(s["Size"], expected.len());

    let resp = server.get(&format!("/api/v1/message/{id}/raw"));
    let ctype = resp.header("content-type").unwrap_or_default();
    assert!(
        ctype.starts_with("text/plain"),
        "raw Content-Type {ctype:?}"
    );

    // Input that does not end in CRLF: lettre's terminator supplies the final line ending.
    let input2: &[u8] =
        b"Subject: no final newline\r\n\r\n.first\r\n..second\r\nlast line without CRLF";
    let response = transport
        .send_raw(&envelope("sender@example.com", &["to@example.com"]), input2)
        .expect("lettre send_raw 2");
    assert_queued(&response);
    let list = server.list();
    assert_eq!(list["total"], 2, "{list:#}");
    assert_eq!(
        list["messages"][0]["Subject"], "no final newline",
        "newest first: {list:#}"
    );
    let raw2 = server.raw(&id_of(&list["messages"][0]));
    let mut expected2 = input2.to_vec();
    expected2.extend_from_slice(b"\r\n");
    assert_bytes_eq(
        &raw2,
        &expected2,
        "raw of lettre send_raw (input without final CRLF)",
    );
}

#[test]
fn lettre_auth_plain_and_login_set_username() {
    let server = Server::start();
    for (mechanism, user) in [
        (Mechanism::Plain, "lettre-plain-user"),
        (Mechanism::Login, "lettre-login-user"),
    ] {
        let transport = lettre_transport_with_auth(&server, user, "s3cret pass", mechanism);
        let data = format!(
            "Subject: auth {mechanism}\r\nFrom: a@example.com\r\nTo: b@example.com\r\n\r\nbody\r\n"
        );
        let response = transport
            .send_raw(
                &envelope("a@example.com", &["b@example.com"]),
                data.as_bytes(),
            )
            .unwrap_or_else(|e| panic!("lettre send with AUTH {mechanism}: {e}"));
        assert_queued(&response);
    }
    server.wait_for_count(2);
    for (mechanism, user) in [
        ("PLAIN", "lettre-plain-user"),
        ("LOGIN", "lettre-login-user"),
    ] {
        let s = server.summary_by_subject(&format!("auth {mechanism}"));
        assert_eq!(
            s["Username"], user,
            "Username after AUTH {mechanism}: {s:#}"
        );
        assert_eq!(server.message(&id_of(&s))["Username"], user);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Python smtplib
// ---------------------------------------------------------------------------------------------

#[test]
fn python_sendmail_bcc_smtputf8_8bit_is_byte_exact() {
    let server = Server::start();
    let data = "From: Zoë Sender <zoe@example.com>\r\n\
To: Plain To <to@example.com>, Jörg Müller <jörg@example.de>\r\n\
Subject: Grüße – 8-bit ✓\r\n\
Message-ID: <py-a-1@example.com>\r\n\
Date: Mon, 06 Jan 2025 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
Hallo Jörg, ünïcödé body ✓\r\n\
.a line starting with a dot\r\n\
.\r\n\
..\r\n\
last line\r\n"
        .as_bytes();
    let mut msg = PyMessage::new(
        "zoe@example.com",
        &["to@example.com", "jörg@example.de", "hidden@example.net"],
        data,
    );
    msg.mail_options = vec!["SMTPUTF8".into(), "BODY=8BITMIME".into()];
    let report = smtplib(&server, None, &[msg]);
    assert_eq!(report["ehlo"][0], 250, "{report:#}");
    for ext in [
        "pipelining",
        "size",
        "8bitmime",
        "smtputf8",
        "enhancedstatuscodes",
        "chunking",
        "auth",
    ] {
        assert!(
            report["features"].get(ext).is_some(),
            "EHLO lacks {ext}: {report:#}"
        );
    }
    let auth = report["features"]["auth"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        assert!(
            auth.split_whitespace().any(|m| m == mech),
            "AUTH lacks {mech}: {auth:?}"
        );
    }
    assert_eq!(
        report["results"][0],
        json!({"ok": true, "refused": {}}),
        "{report:#}"
    );
    assert_eq!(report["noop"], 250);

    let summaries = server.summaries(1);
    let s = &summaries[0];
    let id = id_of(s);
    let raw = server.raw(&id);
    let trace = assert_stored_as_sent(&raw, data, "raw of smtplib sendmail");
    assert!(
        trace.ends_with("Bcc: hidden@example.net\r\n"),
        "the envelope-only recipient is named: {trace}"
    );
    assert_eq!(s["Subject"], "Grüße – 8-bit ✓", "{s:#}");
    assert_eq!(s["MessageID"], "py-a-1@example.com");
    assert_eq!(s["From"], addr("Zoë Sender", "zoe@example.com"), "{s:#}");
    assert_eq!(
        s["To"],
        json!([
            addr("Plain To", "to@example.com"),
            addr("Jörg Müller", "jörg@example.de")
        ]),
        "{s:#}"
    );
    assert_eq!(s["Cc"], json!([]), "{s:#}");
    assert_eq!(
        s["Bcc"],
        json!([addr("", "hidden@example.net")]),
        "envelope-only recipient: {s:#}"
    );
    assert_eq!(s["Size"], raw.len(), "{s:#}");

    let full = server.message(&id);
    assert_eq!(
        full["Bcc"],
        json!([addr("", "hidden@example.net")]),
        "{full:#}"
    );
    let date = full["Date"].as_str().unwrap_or_default();
    assert!(
        date.starts_with("2025-01-06T10:00:00"),
        "Date (RFC 3339 of the Date header) {date:?}"
    );
    let text = full["Text"].as_str().unwrap_or_default();
    assert_eq!(
        crlf_to_lf(text).trim_end(),
        "Hallo Jörg, ünïcödé body ✓\n.a line starting with a dot\n.\n..\nlast line",
        "{full:#}"
    );
}

#[test]
fn python_many_messages_over_one_connection() {
    let server = Server::start();
    let long_line = "L".repeat(990);
    let datas: Vec<Vec<u8>> = vec![
        b"Subject: batch 1\r\nFrom: one@example.com\r\nTo: r1@example.com\r\n\r\nfirst\r\n".to_vec(),
        b"Subject: batch 2\r\nFrom: two@example.com\r\nTo: r2@example.com\r\n\r\n".to_vec(),
        format!("Subject: batch 3\r\nFrom: three@example.com\r\nTo: r3@example.com\r\n\r\n{long_line}\r\n.\r\n")
            .into_bytes(),
        b"Subject: batch 4\r\nFrom: four@example.com\r\nTo: r4@example.com\r\nCc: c4@example.com\r\n\r\n..\r\n...\r\nend\r\n"
            .to_vec(),
    ];
    let msgs: Vec<PyMessage> = datas
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let from = ["one", "two", "three", "four"][i];
            let to = format!("r{}@example.com", i + 1);
            let mut rcpts = vec![to.as_str()];
            if i == 3 {
                rcpts.push("c4@example.com");
            }
            PyMessage::new(&format!("{from}@example.com"), &rcpts, d)
        })
        .collect();
    let report = smtplib(&server, None, &msgs);
    for (i, r) in report["results"].as_array().unwrap().iter().enumerate() {
        assert_eq!(
            r,
            &json!({"ok": true, "refused": {}}),
            "message {} of one connection: {report:#}",
            i + 1
        );
    }
    assert_eq!(report["noop"], 250);

    let list = server.wait_for_count(4);
    assert_eq!(
        subjects(&list),
        ["batch 4", "batch 3", "batch 2", "batch 1"],
        "newest first: {list:#}"
    );
    for (i, data) in datas.iter().enumerate() {
        let s = server.summary_by_subject(&format!("batch {}", i + 1));
        let raw = server.raw(&id_of(&s));
        assert_stored_as_sent(&raw, data, &format!("raw of batch {}", i + 1));
        assert_eq!(s["Size"], raw.len());
        assert_eq!(s["Bcc"], json!([]), "{s:#}");
    }
    let s4 = server.summary_by_subject("batch 4");
    assert_eq!(s4["Cc"], json!([addr("", "c4@example.com")]));
}

#[test]
fn python_login_sets_username_for_each_mechanism() {
    let server = Server::start();
    // None: smtplib's own choice (it prefers CRAM-MD5 when offered).
    let cases: [(Option<&str>, &str); 4] = [
        (None, "py-default-user"),
        (Some("PLAIN"), "py-plain-user"),
        (Some("LOGIN"), "py-login-user"),
        (Some("CRAM-MD5"), "py-cram-user"),
    ];
    for (mechanism, user) in cases {
        let mech = mechanism.unwrap_or("default");
        let msgs: Vec<PyMessage> = (1..=2)
            .map(|n| {
                let data = format!("Subject: login {mech} {n}\r\nFrom: a@example.com\r\nTo: b@example.com\r\n\r\nhi\r\n");
                PyMessage::new("a@example.com", &["b@example.com"], data.as_bytes())
            })
            .collect();
        let report = smtplib(
            &server,
            Some((user, "any password at all", mechanism)),
            &msgs,
        );
        assert_eq!(report["login"][0], 235, "AUTH {mech}: {report:#}");
        for r in report["results"].as_array().unwrap() {
            assert_eq!(r["ok"], true, "{report:#}");
        }
    }
    server.wait_for_count(8);
    for (mechanism, user) in cases {
        let mech = mechanism.unwrap_or("default");
        for n in 1..=2 {
            let s = server.summary_by_subject(&format!("login {mech} {n}"));
            assert_eq!(
                s["Username"], user,
                "Username after AUTH {mech}, message {n}: {s:#}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. swaks
// ---------------------------------------------------------------------------------------------

#[test]
fn swaks_header_and_body() {
    let server = Server::start();
    swaks(
        &server,
        &[
            "--to",
            "a@example.com",
            "--from",
            "b@example.com",
            "--header",
            "Subject: swaks test",
            "--body",
            "swaks body line one",
        ],
    );
    let summaries = server.summaries(1);
    let s = &summaries[0];
    let id = id_of(s);
    assert_eq!(s["Subject"], "swaks test", "{s:#}");
    assert_eq!(s["From"], addr("", "b@example.com"), "{s:#}");
    assert_eq!(s["To"], json!([addr("", "a@example.com")]), "{s:#}");
    assert_eq!(s["Bcc"], json!([]), "{s:#}");
    let raw = server.raw(&id);
    assert_eq!(
        count(&raw, b"\r\nSubject: swaks test\r\n"),
        1,
        "{}",
        show(&raw)
    );
    assert_eq!(
        count(&raw, b"Subject:"),
        1,
        "--header replaces swaks' own Subject: {}",
        show(&raw)
    );
    assert!(
        find(&raw, b"\r\n\r\nswaks body line one\r\n").is_some(),
        "{}",
        show(&raw)
    );
    assert!(
        find(&raw, b"\r\nX-Mailer: swaks v").is_some(),
        "{}",
        show(&raw)
    );
    assert_eq!(s["Size"], raw.len());
    let full = server.message(&id);
    assert_eq!(
        full["Text"].as_str().unwrap_or_default().trim_end(),
        "swaks body line one",
        "{full:#}"
    );
}

#[test]
fn swaks_pipelining_esmtp_multiple_recipients() {
    let server = Server::start();
    let run = swaks(
        &server,
        &[
            "--pipeline",
            "--protocol",
            "ESMTP",
            "--to",
            "a@example.com,c@example.com",
            "--from",
            "b@example.com",
            "--header",
            "Subject: swaks pipelined",
            "--body",
            "pipelined body",
        ],
    );
    // swaks prints its transcript on stdout; with --pipeline it must have seen PIPELINING.
    assert!(
        run.stdout.contains("PIPELINING"),
        "EHLO transcript lacks PIPELINING:\n{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("<** "),
        "swaks saw an error reply:\n{}",
        run.stdout
    );
    let summaries = server.summaries(1);
    let s = &summaries[0];
    assert_eq!(s["Subject"], "swaks pipelined", "{s:#}");
    assert_eq!(
        s["To"],
        json!([addr("", "a@example.com"), addr("", "c@example.com")]),
        "{s:#}"
    );
    assert_eq!(s["Bcc"], json!([]), "{s:#}");
    let raw = server.raw(&id_of(s));
    assert!(
        find(&raw, b"\r\n\r\npipelined body\r\n").is_some(),
        "{}",
        show(&raw)
    );
}

#[test]
fn swaks_data_file_with_leading_dot_lines() {
    let server = Server::start();
    let dir = TempDir::new("swaks-data");
    let file = dir.path("message.eml");
    let content = "Subject: swaks dot data\nFrom: b@example.com\nMessage-ID: <swaks-dot@example.com>\n\nfirst line\n.dot line\n..two dots\n.\nlast line\n";
    std::fs::write(&file, content).unwrap();
    let data_arg = format!("@{}", file.display());
    swaks(
        &server,
        &[
            "--to",
            "a@example.com",
            "--from",
            "b@example.com",
            "--data",
            &data_arg,
        ],
    );
    let summaries = server.summaries(1);
    let s = &summaries[0];
    assert_eq!(s["Subject"], "swaks dot data", "{s:#}");
    assert_eq!(s["MessageID"], "swaks-dot@example.com", "{s:#}");
    assert_eq!(s["To"], json!([]), "{s:#}");
    assert_eq!(
        s["Bcc"],
        json!([addr("", "a@example.com")]),
        "envelope recipient without To header: {s:#}"
    );
    let raw = server.raw(&id_of(s));
    let expected = content.replace('\n', "\r\n").into_bytes();
    // swaks 20201014 sends one extra CRLF before the final dot; other versions may not.
    let mut expected_extra = expected.clone();
    expected_extra.extend_from_slice(b"\r\n");
    let sent = if raw.ends_with(&expected_extra) {
        &expected_extra
    } else {
        &expected
    };
    let trace = assert_stored_as_sent(&raw, sent, "raw of swaks --data file");
    assert!(trace.contains("\tfor <a@example.com>; "), "{trace}");
    assert!(trace.ends_with("Bcc: a@example.com\r\n"), "{trace}");
    assert_eq!(
        count(&raw, b"\r\n.dot line\r\n"),
        1,
        "dot line stored once, unstuffed: {}",
        show(&raw)
    );
    assert_eq!(count(&raw, b"..dot line"), 0, "{}", show(&raw));
    assert_eq!(count(&raw, b"\r\n..two dots\r\n"), 1, "{}", show(&raw));
    assert_eq!(count(&raw, b"...two dots"), 0, "{}", show(&raw));
    assert_eq!(count(&raw, b"\r\n.\r\nlast line\r\n"), 1, "{}", show(&raw));
}

#[test]
fn swaks_auth_sets_username() {
    let server = Server::start();
    for (mech, user) in [
        ("CRAM-MD5", "swaks-cram-user"),
        ("LOGIN", "swaks-login-user"),
        ("PLAIN", "swaks-plain-user"),
    ] {
        let subject = format!("Subject: swaks auth {mech}");
        swaks(
            &server,
            &[
                "--to",
                "a@example.com",
                "--from",
                "b@example.com",
                "--auth",
                mech,
                "--auth-user",
                user,
                "--auth-password",
                "whatever",
                "--header",
                &subject,
            ],
        );
    }
    server.wait_for_count(3);
    for (mech, user) in [
        ("CRAM-MD5", "swaks-cram-user"),
        ("LOGIN", "swaks-login-user"),
        ("PLAIN", "swaks-plain-user"),
    ] {
        let s = server.summary_by_subject(&format!("swaks auth {mech}"));
        assert_eq!(
            s["Username"], user,
            "Username after swaks AUTH {mech}: {s:#}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. listing order, counts, delete
// ---------------------------------------------------------------------------------------------

#[test]
fn list_is_newest_first_counts_match_and_delete_all_empties_it() {
    let server = Server::start();
    let transport = lettre_transport(&server);
    for n in 1..=5 {
        let data = format!(
            "Subject: order {n}\r\nFrom: a@example.com\r\nTo: b@example.com\r\n\r\nmessage {n}\r\n"
        );
        assert_queued(
            &transport
                .send_raw(
                    &envelope("a@example.com", &["b@example.com"]),
                    data.as_bytes(),
                )
                .unwrap(),
        );
    }
    let list = server.wait_for_count(5);
    assert_eq!(list["total"], 5, "{list:#}");
    assert_eq!(list["count"], 5, "{list:#}");
    assert_eq!(list["messages_count"], 5, "{list:#}");
    assert_eq!(list["unread"], 5, "{list:#}");
    assert_eq!(list["start"], 0, "{list:#}");
    assert_eq!(list["tags"], json!([]), "{list:#}");
    assert_eq!(
        subjects(&list),
        ["order 5", "order 4", "order 3", "order 2", "order 1"],
        "newest first"
    );
    let ids: Vec<String> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "IDs must be distinct: {ids:?}");
    let created: Vec<&str> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Created"].as_str().unwrap_or_default())
        .collect();
    assert!(
        created.iter().all(|c| !c.is_empty()),
        "Created missing: {list:#}"
    );

    let page = server.get_json("/api/v1/messages?start=0&limit=2");
    assert_eq!(page["total"], 5, "{page:#}");
    assert_eq!(page["count"], 2, "{page:#}");
    assert_eq!(subjects(&page), ["order 5", "order 4"]);
    let page = server.get_json("/api/v1/messages?start=2&limit=2");
    assert_eq!(page["start"], 2, "{page:#}");
    assert_eq!(page["count"], 2, "{page:#}");
    assert_eq!(subjects(&page), ["order 3", "order 2"]);

    let resp = server.get("/api/v1/message/00000000-0000-0000-0000-000000000000");
    assert_eq!(resp.status, 404, "unknown message: {}", resp.text());

    let resp = server.delete("/api/v1/messages");
    assert_eq!(resp.status, 200, "DELETE all: {}", resp.text());
    assert!(
        resp.body.is_empty(),
        "DELETE all must answer with an empty body, got {}",
        show(&resp.body)
    );
    let list = server.list();
    assert_eq!(list["total"], 0, "{list:#}");
    assert_eq!(list["count"], 0, "{list:#}");
    assert_eq!(list["messages_count"], 0, "{list:#}");
    assert_eq!(list["unread"], 0, "{list:#}");
    assert_eq!(list["messages"], json!([]), "{list:#}");
    for id in &ids {
        assert_eq!(
            server.get(&format!("/api/v1/message/{id}")).status,
            404,
            "deleted {id}"
        );
        assert_eq!(
            server.get(&format!("/api/v1/message/{id}/raw")).status,
            404,
            "deleted raw {id}"
        );
    }

    // The store keeps working after a delete.
    assert_queued(
        &transport
            .send_raw(
                &envelope("a@example.com", &["b@example.com"]),
                b"Subject: after delete\r\n\r\nx\r\n",
            )
            .unwrap(),
    );
    let list = server.wait_for_count(1);
    assert_eq!(subjects(&list), ["after delete"]);
}

// ---------------------------------------------------------------------------------------------
// 5. size limit
// ---------------------------------------------------------------------------------------------

#[test]
fn oversized_message_is_rejected_with_552_by_lettre_and_next_send_works() {
    let server = Server::start_with(&["--max-message-size", "1000"]);
    let transport = lettre_transport(&server);
    let env = envelope("big@example.com", &["rcpt@example.com"]);

    // lettre declares no SIZE, so the limit is hit after DATA. Stored size = input + CRLF.
    let too_big = sized_message("too big", 2000);
    let err = transport
        .send_raw(&env, &too_big)
        .expect_err("a 2000-byte message must be refused");
    assert_eq!(
        err.status().map(u16::from),
        Some(552),
        "expected a 552 reply, got {err:?}"
    );
    assert!(err.is_permanent(), "{err:?}");
    let list = server.list();
    assert_eq!(list["total"], 0, "nothing may be stored: {list:#}");

    let one_over = sized_message("one over", 999); // 1001 bytes stored
    let err = transport
        .send_raw(&env, &one_over)
        .expect_err("1001 stored bytes exceed 1000");
    assert_eq!(
        err.status().map(u16::from),
        Some(552),
        "expected a 552 reply, got {err:?}"
    );
    assert_eq!(server.list()["total"], 0);

    let at_limit = sized_message("at limit", 998); // exactly 1000 bytes stored
    assert_queued(
        &transport
            .send_raw(&env, &at_limit)
            .expect("exactly 1000 bytes are allowed"),
    );
    let small = sized_message("small", 100);
    assert_queued(
        &transport
            .send_raw(&env, &small)
            .expect("a small message after the rejections"),
    );

    let list = server.wait_for_count(2);
    assert_eq!(subjects(&list), ["small", "at limit"]);
    let mut expected = at_limit.clone();
    expected.extend_from_slice(b"\r\n");
    let raw = server.raw(&id_of(&server.summary_by_subject("at limit")));
    // The limit is on what the client sends; the trace headers come on top.
    assert_eq!(expected.len(), 1000);
    assert_stored_as_sent(&raw, &expected, "raw of the at-limit message");
}

#[test]
fn oversized_message_is_rejected_with_552_by_smtplib_on_the_same_connection() {
    let server = Server::start_with(&["--max-message-size", "1000"]);
    let rcpt = ["rcpt@example.com"];
    let first = sized_message("py first", 300);
    let big = sized_message("py big", 1500);
    let at_limit = sized_message("py at limit", 1000);
    let over_no_size = sized_message("py over without SIZE", 1001);
    let after = sized_message("py after", 200);
    let mut msgs = vec![
        PyMessage::new("big@example.com", &rcpt, &first),
        PyMessage::new("big@example.com", &rcpt, &big),
        PyMessage::new("big@example.com", &rcpt, &at_limit),
        PyMessage::new("big@example.com", &rcpt, &over_no_size),
        PyMessage::new("big@example.com", &rcpt, &after),
    ];
    msgs[3].mode = "lowlevel";
    msgs[4].mode = "lowlevel";
    let report = smtplib(&server, None, &msgs);
    assert_eq!(
        report["features"]["size"], "1000",
        "EHLO must advertise SIZE 1000: {report:#}"
    );
    let results = report["results"].as_array().unwrap();
    assert_eq!(results[0], json!({"ok": true, "refused": {}}), "{report:#}");
    // sendmail declares SIZE=1500 on MAIL FROM: refused there (RFC 1870: 552).
    assert_eq!(results[1]["ok"], false, "{report:#}");
    assert_eq!(results[1]["exception"], "SMTPSenderRefused", "{report:#}");
    assert_eq!(results[1]["code"], 552, "{report:#}");
    assert!(
        results[1]["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("5.3.4"),
        "enhanced status code 5.3.4 expected: {report:#}"
    );
    assert_eq!(
        results[2],
        json!({"ok": true, "refused": {}}),
        "exactly the limit is allowed: {report:#}"
    );
    // No SIZE declared: the data is read to the end, then refused with 552.
    assert_eq!(results[3]["ok"], false, "{report:#}");
    assert_eq!(results[3]["step"], "DATA", "{report:#}");
    assert_eq!(results[3]["code"], 552, "{report:#}");
    assert_eq!(
        results[4]["ok"], true,
        "the same connection keeps working: {report:#}"
    );
    assert_eq!(report["noop"], 250, "{report:#}");

    let list = server.wait_for_count(3);
    assert_eq!(
        subjects(&list),
        ["py after", "py at limit", "py first"],
        "{list:#}"
    );
    for (subject, data) in [
        ("py first", &first),
        ("py at limit", &at_limit),
        ("py after", &after),
    ] {
        let raw = server.raw(&id_of(&server.summary_by_subject(subject)));
        assert_stored_as_sent(&raw, data, subject);
    }
}

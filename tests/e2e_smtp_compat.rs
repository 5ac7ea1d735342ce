//! Mailpit and MailHog SMTP behaviour against the real binary: MailHog mode (DATA without RCPT),
//! the trace headers ingest adds (and `--smtp-store-exact`), recipient filters, inline SMTP
//! credentials, and the startup lines that container wait strategies match.

mod common;

use common::{Server, Smtp, assert_stored_as_sent, id_of};
use serde_json::Value;

/// Reads the header value `name` (first occurrence, folded lines joined) from a raw message.
fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None;
        }
        if let Some((n, value)) = line.split_once(':')
            && n.eq_ignore_ascii_case(name)
        {
            let mut value = value.trim().to_string();
            while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                value.push(' ');
                value.push_str(next.trim());
                lines.next();
            }
            return Some(value);
        }
    }
    None
}

/// The recipients of the message's envelope (its own route).
fn rcpt_to(envelope: &Value) -> Vec<String> {
    envelope["RcptTo"]
        .as_array()
        .unwrap_or_else(|| panic!("no RcptTo in {envelope:#}"))
        .iter()
        .map(|r| r.as_str().unwrap_or_default().to_string())
        .collect()
}

const NO_RCPT: &str =
    "To: Bob <bob@example.net>\r\nCc: carol@example.org\r\nSubject: busybox\r\n\r\nhi\r\n.\r\n";

#[test]
fn data_without_rcpt_is_554_by_default_and_stored_from_headers_with_mailhog_env() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    smtp.expect("EHLO busybox", "250");
    smtp.expect("MAIL FROM:<app@example.com>", "250");
    smtp.expect("DATA", "554");

    // MAILSNARE_MAILHOG=1, as a compose file writes it.
    let server = Server::start_configured(&[], |c| {
        c.env("MAILSNARE_MAILHOG", "1");
    });
    let mut smtp = Smtp::connect(server.smtp);
    smtp.expect("EHLO busybox", "250");
    smtp.expect("MAIL FROM:<app@example.com>", "250");
    smtp.expect("DATA", "354");
    smtp.send(NO_RCPT.as_bytes());
    let reply = smtp.reply();
    assert!(reply.starts_with("250 "), "{reply}");
    smtp.expect("QUIT", "221");
    // The same switch serves MailHog's array at the shared v1 path.
    let list = server.get_json("/api/v1/messages");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list:#}");
    let id = list[0]["ID"].as_str().unwrap_or_default();
    assert_eq!(
        list[0]["Raw"]["To"],
        serde_json::json!(["bob@example.net", "carol@example.org"]),
        "{list:#}"
    );
    assert_eq!(
        rcpt_to(&server.envelope(id)),
        ["bob@example.net", "carol@example.org"]
    );
}

#[test]
fn trace_headers_are_on_top_of_the_clients_bytes_and_store_exact_keeps_them_out() {
    let data = b"From: a@example.com\r\nTo: to@example.com\r\nSubject: traced\r\n\r\nbody\r\n";
    let send = |server: &Server| {
        let mut smtp = Smtp::connect(server.smtp);
        smtp.expect("EHLO client.example", "250");
        smtp.expect("MAIL FROM:<a@example.com>", "250");
        smtp.expect("RCPT TO:<to@example.com>", "250");
        smtp.expect("RCPT TO:<hidden@example.org>", "250");
        smtp.expect("DATA", "354");
        smtp.send(data);
        smtp.send(b".\r\n");
        let reply = smtp.reply();
        assert!(reply.starts_with("250 "), "{reply}");
        smtp.expect("QUIT", "221");
    };
    let server = Server::start();
    send(&server);
    let summary = server.summaries(1).remove(0);
    let id = id_of(&summary);
    let raw = server.raw(&id);
    let trace = assert_stored_as_sent(&raw, data, "stored message");
    assert_eq!(
        header(&raw, "Return-Path").as_deref(),
        Some("<a@example.com>")
    );
    let received = header(&raw, "Received").unwrap_or_default();
    assert!(
        received.starts_with(
            "from client.example ([127.0.0.1]) by mailsnare (mailsnare) with ESMTP id "
        ),
        "{received}"
    );
    assert!(
        received.contains(&format!(" id {id}; ")),
        "names the API ID: {received}"
    );
    assert!(
        !received.contains("for <"),
        "two recipients are not named: {received}"
    );
    assert!(trace.ends_with("Bcc: hidden@example.org\r\n"), "{trace}");
    assert_eq!(summary["Size"], raw.len(), "Size is the stored bytes");
    let headers = server.get_json(&format!("/api/v1/message/{id}/headers"));
    assert_eq!(headers["Return-Path"][0], "<a@example.com>", "{headers:#}");
    assert_eq!(headers["Bcc"][0], "hidden@example.org", "{headers:#}");
    assert!(
        headers["Message-ID"].is_null(),
        "none invented: {headers:#}"
    );

    let exact = Server::start_with(&["--smtp-store-exact"]);
    send(&exact);
    let summary = exact.summaries(1).remove(0);
    assert_eq!(exact.raw(&id_of(&summary)), data, "byte for byte");
    assert_eq!(summary["Size"], data.len());
    assert_eq!(summary["Bcc"][0]["Address"], "hidden@example.org");
}

#[test]
fn allowed_recipients_from_mailpit_variables_refuse_or_drop_the_rest() {
    let server = Server::start_configured(&[], |c| {
        c.env("MP_SMTP_ALLOWED_RECIPIENTS", "@example\\.com$");
    });
    let mut smtp = Smtp::connect(server.smtp);
    smtp.expect("EHLO x", "250");
    smtp.expect("MAIL FROM:<a@example.com>", "250");
    smtp.expect("RCPT TO:<in@example.com>", "250");
    smtp.expect("RCPT TO:<out@example.org>", "550");

    let server = Server::start_configured(&["--max-recipients", "3"], |c| {
        c.env("MP_SMTP_ALLOWED_RECIPIENTS", "@example\\.com$")
            .env("MP_SMTP_IGNORE_REJECTED_RECIPIENTS", "true");
    });
    let mut smtp = Smtp::connect(server.smtp);
    smtp.expect("EHLO x", "250");
    smtp.expect("MAIL FROM:<a@example.com>", "250");
    smtp.expect("RCPT TO:<out@example.org>", "250");
    smtp.expect("DATA", "354");
    smtp.send(b"Subject: dropped\r\n\r\nx\r\n.\r\n");
    assert!(smtp.reply().starts_with("250 "));
    smtp.expect("MAIL FROM:<a@example.com>", "250");
    for n in 1..=3 {
        smtp.expect(&format!("RCPT TO:<r{n}@example.com>"), "250");
    }
    smtp.expect("RCPT TO:<r4@example.com>", "452");
    smtp.expect("DATA", "354");
    smtp.send(b"Subject: kept\r\n\r\nx\r\n.\r\n");
    assert!(smtp.reply().starts_with("250 "));
    smtp.expect("QUIT", "221");
    let list = server.wait_for_count(1);
    assert_eq!(list["messages"][0]["Subject"], "kept", "{list:#}");
}

#[test]
fn inline_credentials_from_mp_smtp_auth() {
    let server = Server::start_configured(&["--smtp-require-auth"], |c| {
        c.env("MP_SMTP_AUTH", "alice:pw1 bob:pw2");
    });
    let mut smtp = Smtp::connect(server.smtp);
    smtp.expect("EHLO x", "250");
    smtp.expect("MAIL FROM:<a@example.com>", "530");
    // "\0bob\0wrong", then "\0bob\0pw2".
    smtp.expect("AUTH PLAIN AGJvYgB3cm9uZw==", "535");
    smtp.expect("AUTH PLAIN AGJvYgBwdzI=", "235");
    smtp.expect("MAIL FROM:<a@example.com>", "250");
}

#[test]
fn startup_lines_match_testcontainers_and_mailhog_wait_strategies() {
    let server = Server::start_with(&["--webroot", "mail"]);
    // Start returns once the "listening" lines are read; the rest follow at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !server.stderr().contains("Serving under") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = server.stderr();
    let (smtp, http) = (server.smtp, server.http);
    for line in [
        format!("SMTP listening on {smtp}"),
        format!("HTTP listening on {http}"),
        format!("[SMTP] Binding to address: {smtp}"),
        format!("[http] accessible via http://{http}/mail/"),
        format!("Serving under http://{http}/mail/"),
    ] {
        assert!(log.contains(&line), "missing {line:?} in {log}");
    }
    assert!(
        log.lines()
            .any(|l| l.contains("accessible via") && l.contains(&http.port().to_string())),
        "Testcontainers' `.*accessible via.*PORT.*`: {log}"
    );
}

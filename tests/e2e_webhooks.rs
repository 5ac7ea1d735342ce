//! Webhooks against local receivers (tests/fixtures/webhook_receiver.py, which checks each
//! signature with Python's own hmac module): signed deliveries retried on 500 until a 200, a
//! receiver that never answers timed out and retried, a 4xx not retried, filters and mailbox
//! scopes, Mailpit's `--webhook-url` with its rate limit, and the address policy.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Server, send_mail};
use serde_json::Value;

/// A running receiver; its report lines arrive on `lines`.
struct Receiver {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<Value>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(secret: &str, statuses: &str) -> Receiver {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/webhook_receiver.py"
        );
        let mut child = Command::new("python3")
            .args([script, secret, statuses])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the receiver");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let (port_tx, port_rx) = mpsc::channel();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { return };
                if let Some(port) = line.strip_prefix("listening ") {
                    let _ = port_tx.send(port.trim().parse::<u16>().expect("a port"));
                } else if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(value);
                }
            }
        });
        let port = port_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the receiver says its port");
        Receiver { child, port, lines }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn next(&self, within: Duration) -> Value {
        self.lines
            .recv_timeout(within)
            .expect("the receiver got a request in time")
    }
}

fn mail(subject: &str) -> Vec<u8> {
    format!("From: app@example.com\r\nTo: x@example.com\r\nSubject: {subject}\r\n\r\nhello\r\n")
        .into_bytes()
}

/// Polls the webhooks API until `done` holds for it (the deliveries are asynchronous).
fn hooks_until(server: &Server, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let hooks = server.get_json("/api/v1/webhooks");
        if done(&hooks) {
            return hooks;
        }
        assert!(Instant::now() < deadline, "{what}: {hooks:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_signed_delivery_is_retried_after_500s_and_logged() {
    let receiver = Receiver::start("s3cret", "500,500,200");
    let spec = format!("{} secret=s3cret", receiver.url("/hook"));
    let server = Server::start_with(&["--allow-internal-http-requests", "--webhook", &spec]);
    let id = send_mail(server.smtp, &["alice@example.com"], &mail("Sign up"));
    let attempts: Vec<Value> = (0..3)
        .map(|_| receiver.next(Duration::from_secs(15)))
        .collect();
    for (n, a) in attempts.iter().enumerate() {
        assert_eq!(
            a["signature"], "ok",
            "attempt {n} is signed with the secret"
        );
        assert_eq!(a["path"], "/hook");
        assert_eq!(a["content_type"], "application/json");
        assert_eq!(a["attempt"], (n + 1).to_string());
        assert_eq!(
            a["delivery"], attempts[0]["delivery"],
            "one delivery id throughout"
        );
        // Mailpit's MessageSummary.
        assert_eq!(a["body"]["ID"], id);
        assert_eq!(a["body"]["Subject"], "Sign up");
        assert_eq!(a["body"]["To"][0]["Address"], "x@example.com");
    }
    let hooks = hooks_until(&server, "delivered after three attempts", |h| {
        h[0]["Delivered"] == 1
    });
    let hook = &hooks[0];
    assert_eq!(hook["URL"], receiver.url("/hook"));
    assert_eq!(hook["Signed"], true);
    assert!(
        !hooks.to_string().contains("s3cret"),
        "the secret is never shown"
    );
    let delivery = &hook["Deliveries"][0];
    assert_eq!(delivery["MessageID"], id);
    assert_eq!(delivery["State"], "delivered");
    let codes: Vec<u64> = delivery["Attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["StatusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200]);
}

#[test]
fn a_receiver_that_never_answers_times_out_and_a_4xx_is_not_retried() {
    let hanging = Receiver::start("", "hang");
    let refusing = Receiver::start("", "400");
    let server = Server::start_with(&[
        "--allow-internal-http-requests",
        "--webhook-timeout",
        "1s",
        "--webhook-retry-for",
        "1m",
        "--webhook",
        &hanging.url("/slow"),
        "--webhook",
        &refusing.url("/no"),
    ]);
    send_mail(server.smtp, &["a@example.com"], &mail("One"));
    let first = hanging.next(Duration::from_secs(15));
    assert_eq!(first["signature"], "absent", "no secret, no signature");
    // It times out and is tried again, with the same delivery id.
    let second = hanging.next(Duration::from_secs(15));
    assert_eq!(second["delivery"], first["delivery"]);
    let hooks = hooks_until(&server, "a timeout logged; the 400 failed once", |h| {
        h[0]["Deliveries"][0]["Attempts"][0]["Error"] == "timed out" && h[1]["Failed"] == 1
    });
    assert_eq!(hooks[0]["Deliveries"][0]["State"], "pending");
    let refused = &hooks[1]["Deliveries"][0];
    assert_eq!(refused["State"], "failed");
    assert_eq!(
        refused["Attempts"].as_array().unwrap().len(),
        1,
        "a 400 is not retried"
    );
    assert_eq!(refused["Attempts"][0]["StatusCode"], 400);
    // Ingest never waits on a hook: more mail is taken while the first still hangs (its cost is
    // measured by `cargo bench --bench webhooks`).
    for i in 0..20 {
        send_mail(server.smtp, &["a@example.com"], &mail(&format!("More {i}")));
    }
    assert_eq!(server.wait_for_count(21)["total"], 21);
    assert_eq!(server.get_json("/api/v1/webhooks")[0]["Delivered"], 0);
}

#[test]
fn filters_and_mailbox_scopes_choose_what_is_sent() {
    let for_alice = Receiver::start("", "200");
    let for_job = Receiver::start("", "200");
    let alice_spec = format!("{} query=to:alice@example.com", for_alice.url("/alice"));
    let job_spec = format!("{} mailbox=job1", for_job.url("/job"));
    let server = Server::start_with(&[
        "--allow-internal-http-requests",
        "--webhook",
        &alice_spec,
        "--webhook",
        &job_spec,
    ]);
    send_mail(server.smtp, &["bob@example.com"], &mail("For Bob"));
    let alice = send_mail(server.smtp, &["alice@example.com"], &mail("For Alice"));
    // Deliveries are in arrival order: had Bob's matched, it would have come first.
    let got = for_alice.next(Duration::from_secs(15));
    assert_eq!(got["body"]["ID"], alice);
    // Mail routed to mailbox job1 (SMTP AUTH as job1, the default rule) reaches its hook.
    common::swaks(
        &server,
        &[
            "--to",
            "ci@example.com",
            "--auth",
            "PLAIN",
            "--auth-user",
            "job1",
            "--auth-password",
            "x",
            "--header",
            "Subject: For job1",
        ],
    );
    let got = for_job.next(Duration::from_secs(15));
    assert_eq!(got["body"]["Subject"], "For job1");
    let hooks = server.get_json("/api/v1/webhooks");
    assert_eq!(hooks[0]["Query"], "to:alice@example.com");
    assert_eq!(
        hooks[0]["Deliveries"].as_array().unwrap().len(),
        1,
        "Bob's was not sent"
    );
    assert_eq!(hooks[1]["Mailbox"], "job1");
    assert_eq!(hooks[1]["Deliveries"].as_array().unwrap().len(), 1);
    // Under the mailbox, only its own hook is shown.
    let scoped = server.get_json("/mailbox/job1/api/v1/webhooks");
    assert_eq!(scoped.as_array().unwrap().len(), 1);
    assert_eq!(scoped[0]["Mailbox"], "job1");
    assert!(for_alice.lines.try_recv().is_err() && for_job.lines.try_recv().is_err());
}

#[test]
fn mailpits_webhook_url_sends_at_most_one_per_interval() {
    let receiver = Receiver::start("", "200");
    let server = Server::start_configured(&["--allow-internal-http-requests"], |c| {
        c.env("MP_WEBHOOK_URL", receiver.url("/mailpit"))
            .env("MP_WEBHOOK_LIMIT", "60");
    });
    let first = send_mail(server.smtp, &["a@example.com"], &mail("First"));
    send_mail(server.smtp, &["a@example.com"], &mail("Second"));
    send_mail(server.smtp, &["a@example.com"], &mail("Third"));
    let got = receiver.next(Duration::from_secs(15));
    assert_eq!(got["body"]["ID"], first);
    let hooks = hooks_until(&server, "two skipped", |h| h[0]["Skipped"] == 2);
    assert_eq!(hooks[0]["Delivered"], 1);
    assert!(
        receiver.lines.try_recv().is_err(),
        "the others were skipped"
    );
}

#[test]
fn a_hook_to_an_internal_address_is_refused_without_the_flag() {
    let receiver = Receiver::start("", "200");
    let server = Server::start_with(&["--webhook", &receiver.url("/x")]);
    send_mail(server.smtp, &["a@example.com"], &mail("Local"));
    let hooks = hooks_until(&server, "refused", |h| h[0]["Failed"] == 1);
    let error = hooks[0]["Deliveries"][0]["Attempts"][0]["Error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(error.contains("--allow-internal-http-requests"), "{error}");
    assert!(
        receiver.lines.try_recv().is_err(),
        "nothing reached the receiver"
    );
}

#[test]
fn bad_webhook_settings_stop_the_server_with_a_clear_error() {
    let bin = env!("CARGO_BIN_EXE_mailsnare");
    for (args, says) in [
        (
            vec!["--webhook", "ftp://x.test"],
            "needs an http:// or https:// URL",
        ),
        (
            vec!["--webhook", "http://x.test colour=red"],
            "unknown webhook option",
        ),
        (vec!["--webhook-url", "not a url"], "--webhook-url"),
    ] {
        let out = Command::new(bin)
            .args(["--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

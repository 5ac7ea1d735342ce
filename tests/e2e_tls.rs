//! TLS and authentication end to end, with real clients: swaks, openssl s_client, Python's smtplib
//! and lettre for SMTP (STARTTLS, implicit TLS, checked AUTH), curl and tokio-tungstenite for the
//! protected and encrypted HTTP side.

mod common;

use std::time::Duration;

use common::{Server, TempDir, require_program, run_with_timeout};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde_json::Value;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
const SELF_SIGNED: &str = "sans:localhost,127.0.0.1";

fn swaks(args: &[&str]) -> common::Run {
    let swaks = require_program("swaks");
    run_with_timeout(&swaks, args, b"", CLIENT_TIMEOUT)
}

fn python(script: &str, args: &[&str]) -> common::Run {
    let python = require_program("python3");
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    run_with_timeout(&python, &all, b"", CLIENT_TIMEOUT)
}

/// The envelope of the newest message with this subject.
fn envelope_by_subject(server: &Server, subject: &str) -> Value {
    let summary = server.summary_by_subject(subject);
    server.envelope(&common::id_of(&summary))
}

fn assert_tls(envelope: &Value, what: &str) {
    assert_eq!(envelope["TLS"], true, "{what}: {envelope:#}");
    let version = envelope["TLSVersion"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("TLSv1."),
        "{what}: TLS version {version:?}"
    );
}

fn lettre_message(subject: &str) -> Message {
    let from: Mailbox = "Sender <sender@example.com>".parse().expect("mailbox");
    let to: Mailbox = "rcpt@example.com".parse().expect("mailbox");
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .body(String::from("over TLS\r\n"))
        .expect("message")
}

/// Asserts an external client exited 0, showing its dialogue when it did not.
fn succeeded(run: &common::Run, what: &str) {
    assert!(
        run.status.success(),
        "{what} failed:\n{}{}",
        run.stdout,
        run.stderr
    );
}

/// lettre over TLS (`Tls::Required` for STARTTLS, `Tls::Wrapper` for implicit TLS) to our port.
fn lettre_tls(port: u16, tls: fn(TlsParameters) -> Tls) -> SmtpTransport {
    SmtpTransport::builder_dangerous("127.0.0.1")
        .port(port)
        .tls(tls(insecure_tls()))
        .timeout(Some(CLIENT_TIMEOUT))
        .build()
}

fn insecure_tls() -> TlsParameters {
    TlsParameters::builder("localhost".into())
        .dangerous_accept_invalid_certs(true)
        .build_rustls()
        .expect("TLS parameters")
}

const PY_STARTTLS: &str = r#"
import smtplib, ssl, sys
port, subject = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
    s.ehlo()
    assert s.has_extn("starttls"), "STARTTLS not offered"
    s.starttls(context=ctx)
    s.ehlo()
    assert not s.has_extn("starttls"), "STARTTLS offered again after TLS"
    s.sendmail("py@example.com", ["rcpt@example.com"], "Subject: %s\r\n\r\nhi\r\n" % subject)
print("ok")
"#;

const PY_SMTPS: &str = r#"
import smtplib, ssl, sys
port, subject = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, timeout=20) as s:
    s.sendmail("py@example.com", ["rcpt@example.com"], "Subject: %s\r\n\r\nhi\r\n" % subject)
print("ok")
"#;

#[test]
fn starttls_with_swaks_openssl_python_and_lettre() {
    let server = Server::start_with(&["--smtp-tls-cert", SELF_SIGNED]);
    let port = server.smtp_port().to_string();
    let addr = format!("127.0.0.1:{port}");

    let run = swaks(&[
        "--server",
        &addr,
        "--tls",
        "--to",
        "rcpt@example.com",
        "--header",
        "Subject: swaks starttls",
    ]);
    succeeded(&run, "swaks --tls");
    assert_tls(
        &envelope_by_subject(&server, "swaks starttls"),
        "swaks --tls",
    );

    let openssl = require_program("openssl");
    let script = "EHLO openssl.test\r\nMAIL FROM:<o@example.com>\r\nRCPT TO:<rcpt@example.com>\r\nDATA\r\n\
        Subject: openssl starttls\r\n\r\nbody\r\n.\r\nQUIT\r\n";
    let run = run_with_timeout(
        &openssl,
        &[
            "s_client",
            "-starttls",
            "smtp",
            "-connect",
            &addr,
            "-quiet",
            "-ign_eof",
        ],
        script.as_bytes(),
        CLIENT_TIMEOUT,
    );
    assert!(
        run.stdout.contains("250 2.0.0 Ok: queued as"),
        "openssl s_client:\n{}{}",
        run.stdout,
        run.stderr
    );
    let envelope = envelope_by_subject(&server, "openssl starttls");
    assert_tls(&envelope, "openssl s_client -starttls smtp");
    assert_eq!(
        envelope["Helo"], "openssl.test",
        "the EHLO after TLS is the one recorded"
    );

    let run = python(PY_STARTTLS, &[&port, "python starttls"]);
    succeeded(&run, "python starttls");
    assert_tls(
        &envelope_by_subject(&server, "python starttls"),
        "smtplib starttls()",
    );

    let mailer = lettre_tls(server.smtp_port(), Tls::Required);
    mailer
        .send(&lettre_message("lettre starttls"))
        .expect("lettre over STARTTLS");
    assert_tls(
        &envelope_by_subject(&server, "lettre starttls"),
        "lettre Tls::Required",
    );
    assert_eq!(server.list()["total"], 4);
}

#[test]
fn implicit_tls_listener() {
    let server = Server::start_with(&["--smtp-tls-cert", SELF_SIGNED, "--smtps", "127.0.0.1:0"]);
    let smtps = server.smtps.expect("SMTPS address logged");
    let addr = smtps.to_string();

    let run = swaks(&[
        "--server",
        &addr,
        "--tls-on-connect",
        "--to",
        "rcpt@example.com",
        "--header",
        "Subject: swaks smtps",
    ]);
    succeeded(&run, "swaks --tls-on-connect");
    assert_tls(
        &envelope_by_subject(&server, "swaks smtps"),
        "swaks --tls-on-connect",
    );

    let run = python(PY_SMTPS, &[&smtps.port().to_string(), "python smtps"]);
    succeeded(&run, "python SMTP_SSL");
    assert_tls(
        &envelope_by_subject(&server, "python smtps"),
        "smtplib SMTP_SSL",
    );

    let mailer = lettre_tls(smtps.port(), Tls::Wrapper);
    mailer
        .send(&lettre_message("lettre smtps"))
        .expect("lettre over implicit TLS");
    let envelope = envelope_by_subject(&server, "lettre smtps");
    assert_tls(&envelope, "lettre Tls::Wrapper");

    // Plain SMTP still works beside it, unencrypted.
    let plain = format!("127.0.0.1:{}", server.smtp_port());
    let run = swaks(&[
        "--server",
        &plain,
        "--to",
        "rcpt@example.com",
        "--header",
        "Subject: plain beside",
    ]);
    assert!(run.status.success(), "{}{}", run.stdout, run.stderr);
    assert_eq!(envelope_by_subject(&server, "plain beside")["TLS"], false);
}

#[test]
fn auth_file_checks_credentials_and_nothing_is_stored_on_failure() {
    let dir = TempDir::new("auth");
    let bcrypted = bcrypt::hash("bcrypt-secret", 4).expect("hash");
    let file = dir.path("smtp.passwd");
    std::fs::write(&file, format!("app:{bcrypted}\nplain:plain-secret\n")).expect("write");
    let file = file.to_string_lossy().to_string();
    let server = Server::start_with(&["--smtp-auth-file", &file, "--smtp-require-auth"]);
    let addr = format!("127.0.0.1:{}", server.smtp_port());

    let run = swaks(&[
        "--server",
        &addr,
        "--to",
        "a@example.com",
        "--header",
        "Subject: no auth",
    ]);
    assert!(!run.status.success());
    assert!(
        run.stdout.contains("530 5.7.0 Authentication required"),
        "{}",
        run.stdout
    );

    for (mech, user, password) in [
        ("PLAIN", "app", "wrong"),
        ("LOGIN", "plain", "bcrypt-secret"),
        ("CRAM-MD5", "plain", "nope"),
        ("PLAIN", "ghost", "x"),
    ] {
        let run = swaks(&[
            "--server",
            &addr,
            "--auth",
            mech,
            "--auth-user",
            user,
            "--auth-password",
            password,
            "--to",
            "a@example.com",
            "--header",
            "Subject: bad auth",
        ]);
        assert!(!run.status.success(), "{mech} {user} must fail");
        assert!(
            run.stdout.contains("535 5.7.8"),
            "{mech} {user}:\n{}",
            run.stdout
        );
    }
    assert_eq!(
        server.list()["total"],
        0,
        "nothing stored after failed logins"
    );

    for (mech, user, password) in [
        ("PLAIN", "app", "bcrypt-secret"),
        ("LOGIN", "app", "bcrypt-secret"),
        ("CRAM-MD5", "plain", "plain-secret"),
    ] {
        let subject = format!("Subject: good {mech}");
        let run = swaks(&[
            "--server",
            &addr,
            "--auth",
            mech,
            "--auth-user",
            user,
            "--auth-password",
            password,
            "--to",
            "a@example.com",
            "--header",
            &subject,
        ]);
        assert!(run.status.success(), "{mech} {user}:\n{}", run.stdout);
        assert!(
            !run.stderr.contains(password) && !server.stderr().contains(password),
            "passwords never logged"
        );
        let summary = server.summary_by_subject(&format!("good {mech}"));
        assert_eq!(summary["Username"], user);
    }

    let mailer = SmtpTransport::builder_dangerous("127.0.0.1")
        .port(server.smtp_port())
        .credentials(Credentials::new("app".into(), "wrong".into()))
        .timeout(Some(CLIENT_TIMEOUT))
        .build();
    let error = mailer
        .send(&lettre_message("lettre bad auth"))
        .expect_err("wrong password");
    assert!(
        error.to_string().contains("535") || format!("{error:?}").contains("535"),
        "{error:?}"
    );
    assert_eq!(server.list()["total"], 3);
}

#[test]
fn require_tls_refuses_plaintext_mail() {
    let server = Server::start_with(&["--smtp-tls-cert", SELF_SIGNED, "--smtp-require-tls"]);
    let addr = format!("127.0.0.1:{}", server.smtp_port());
    let run = swaks(&["--server", &addr, "--to", "a@example.com"]);
    assert!(
        run.stdout
            .contains("530 5.7.0 Must issue a STARTTLS command first"),
        "{}",
        run.stdout
    );
    let run = swaks(&[
        "--server",
        &addr,
        "--tls",
        "--to",
        "a@example.com",
        "--header",
        "Subject: after tls",
    ]);
    assert!(run.status.success(), "{}", run.stdout);
    assert_eq!(server.list()["total"], 1);
}

fn curl(args: &[&str]) -> (u16, String) {
    let curl = require_program("curl");
    let mut all = vec!["-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "20"];
    all.extend_from_slice(args);
    let run = run_with_timeout(&curl, &all, b"", CLIENT_TIMEOUT);
    let (body, code) = run.stdout.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

#[test]
fn http_basic_auth_covers_ui_api_and_websocket() {
    let dir = TempDir::new("http-auth");
    // MailHog's MH_AUTH_FILE format: user:bcrypt.
    let file = dir.path("ui.passwd");
    std::fs::write(
        &file,
        format!("team:{}\n", bcrypt::hash("letmein", 4).expect("hash")),
    )
    .expect("write");
    let file = file.to_string_lossy().to_string();
    let server = Server::start_with(&["--http-auth-file", &file]);
    let base = format!("http://{}", server.http);

    assert_eq!(curl(&[&format!("{base}/api/v1/messages")]).0, 401);
    assert_eq!(curl(&[&format!("{base}/")]).0, 401);
    assert_eq!(
        curl(&["-u", "team:wrong", &format!("{base}/api/v1/messages")]).0,
        401
    );
    assert_eq!(curl(&[&format!("{base}/livez")]).0, 200, "probes stay open");
    assert_eq!(curl(&[&format!("{base}/readyz")]).0, 200);
    let (code, body) = curl(&["-u", "team:letmein", &format!("{base}/api/v1/messages")]);
    assert_eq!(code, 200);
    assert!(body.contains("\"total\":0"), "{body}");
    assert_eq!(curl(&["-u", "team:letmein", &format!("{base}/")]).0, 200);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("ws://{}/api/events", server.http);
        assert!(
            tokio_tungstenite::connect_async(url.as_str())
                .await
                .is_err(),
            "WebSocket needs credentials too"
        );
        let mut request = url.into_client_request().expect("request");
        let token =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "team:letmein");
        request.headers_mut().insert(
            "authorization",
            format!("Basic {token}").parse().expect("header"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("authorized WebSocket");
        let addr = format!("127.0.0.1:{}", server.smtp_port());
        let run = swaks(&[
            "--server",
            &addr,
            "--to",
            "a@example.com",
            "--header",
            "Subject: live behind auth",
        ]);
        assert!(run.status.success());
        let frame = tokio::time::timeout(
            Duration::from_secs(10),
            futures_util::StreamExt::next(&mut socket),
        )
        .await
        .expect("a frame in time");
        let text = format!("{frame:?}");
        assert!(text.contains("live behind auth"), "{text}");
    });
}

#[test]
fn https_with_a_self_signed_certificate_and_cors() {
    let server = Server::start_with(&[
        "--http-tls-cert",
        "sans:localhost",
        "--cors-origin",
        "https://app.example",
    ]);
    let base = format!("https://{}", server.http);
    let (code, body) = curl(&["-k", &format!("{base}/api/v1/messages")]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        curl(&[&format!("http://{}/api/v1/messages", server.http)]).0,
        0,
        "no plaintext on the HTTPS port"
    );
    let curl_bin = require_program("curl");
    let run = run_with_timeout(
        &curl_bin,
        &[
            "-k",
            "-s",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-X",
            "OPTIONS",
            "-H",
            "Origin: https://app.example",
            "-H",
            "Access-Control-Request-Method: DELETE",
            &format!("{base}/api/v1/messages"),
        ],
        b"",
        CLIENT_TIMEOUT,
    );
    let headers = run.stdout.to_ascii_lowercase();
    assert!(
        headers.contains("access-control-allow-origin: https://app.example"),
        "{headers}"
    );
    assert!(headers.contains("delete"), "{headers}");
    let run = run_with_timeout(
        &curl_bin,
        &[
            "-k",
            "-s",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Origin: https://evil.example",
            &format!("{base}/api/v1/messages"),
        ],
        b"",
        CLIENT_TIMEOUT,
    );
    // Another origin is refused outright (as Mailpit does) and never announced.
    let headers = run.stdout.to_ascii_lowercase();
    assert!(headers.starts_with("http/1.1 403"), "{headers}");
    assert!(
        !headers.contains("access-control-allow-origin"),
        "{headers}"
    );
}

#[test]
fn no_cors_headers_unless_configured() {
    let server = Server::start();
    let curl_bin = require_program("curl");
    let run = run_with_timeout(
        &curl_bin,
        &[
            "-s",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-H",
            "Origin: https://app.example",
            &format!("http://{}/api/v1/messages", server.http),
        ],
        b"",
        CLIENT_TIMEOUT,
    );
    assert!(run.stdout.starts_with("HTTP/1.1 200"), "{}", run.stdout);
    assert!(
        !run.stdout
            .to_ascii_lowercase()
            .contains("access-control-allow-origin")
    );
}

//! Hostile input against the real `mailsnare` binary, one test per attack of the security audit
//! (deep MIME nesting, live-stream amplification, slowloris and descriptors, search CPU, send size,
//! SMTP AUTH guessing), each with bounds on memory (from /proc) and time that the build before the
//! fixes broke by far. Every test also checks that the mail accepted before the attack survives.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::{RLIMIT_NOFILE, RLimit, RssSampler, Server, Smtp, ensure_open_files, http_with};
use serde_json::{Value, json};

const MIB: u64 = 1024 * 1024;
/// The memory target for every attack (the audit measured 1.9 GB to 2.6 GB).
const PEAK_RSS: u64 = 150 * MIB;

fn host(server: &Server) -> String {
    server.http.to_string()
}

/// A request with a JSON body.
fn json_request(server: &Server, method: &str, path: &str, body: &Value) -> common::HttpResponse {
    let host = host(server);
    let body = serde_json::to_vec(body).unwrap();
    http_with(
        server.http,
        method,
        path,
        &[("Host", &host), ("Content-Type", "application/json")],
        &body,
    )
}

/// A plain message of about `size` bytes in 76-byte lines.
fn sized(subject: &str, size: usize) -> Vec<u8> {
    let mut mail =
        format!("From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\n")
            .into_bytes();
    let line = format!("{}\r\n", "x".repeat(74));
    while mail.len() < size {
        mail.extend_from_slice(line.as_bytes());
    }
    mail
}

/// The server's CPU time so far (user + system), from /proc/<pid>/stat.
fn cpu_time(server: &Server) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.pid())).expect("stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on every Linux ABI.
    Duration::from_millis(ticks * 10)
}

/// Sends a message that must be readable after the attack; returns its id.
fn witness(server: &Server) -> String {
    common::send_mail(
        server.smtp,
        &["witness@example.com"],
        &sized("witness", 2_000),
    )
}

/// Asserts the peak RSS `sampler` saw stayed under `limit`.
fn assert_peak(sampler: RssSampler, limit: u64, what: &str) {
    let peak = sampler.peak();
    eprintln!("{what}: peak RSS {} MiB", peak / MIB);
    assert!(peak < limit, "{what}: peak RSS {} MiB", peak / MIB);
}

/// Reads (and drops) what `stream` sends until the server closes it; false if it is still open
/// when the stream's read timeout runs out.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut sink = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return true,
            // A last frame or a 408/503 before the close.
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

fn assert_witness(server: &mut Server, id: &str) {
    assert!(server.is_running(), "the server died:\n{}", server.stderr());
    let message = server.message(id);
    assert_eq!(message["Subject"], "witness");
}

#[test]
fn forty_thousand_nested_multiparts_cost_little_memory_and_time() {
    let mut server = Server::start();
    let before = witness(&server);
    let sampler = RssSampler::start(server.pid());
    for levels in [40_000, 60_000] {
        let id = common::send_mail(server.smtp, &["b@example.com"], &common::nested(levels));
        for path in [
            format!("/api/v1/message/{id}"),
            format!("/api/v1/message/{id}/headers"),
            format!("/api/v1/message/{id}/raw"),
            format!("/view/{id}.txt"),
            "/api/v1/messages".to_string(),
            // The newest only: the message just sent.
            "/api/v2/messages?limit=1".to_string(),
            "/api/v1/search?query=deepest".to_string(),
        ] {
            let started = Instant::now();
            let response = server.get(&path);
            let took = started.elapsed();
            eprintln!("{levels} levels: GET {path} {took:?}");
            assert_eq!(response.status, 200, "GET {path} ({levels} levels)");
            // 5 s per GET and 1.9 GB before the bounds, in a release build. This is a debug
            // build, about ten times slower (0.3 s in release for MailHog's list of both): the
            // memory bound below is the sharp one.
            assert!(
                took < Duration::from_secs(10),
                "GET {path} took {took:?} ({levels} levels)"
            );
            if path.ends_with(&id) {
                let truncated = response.header("x-mailsnare-mime-truncated").unwrap_or("");
                assert!(
                    !truncated.is_empty(),
                    "the message route says the structure was cut"
                );
            }
        }
    }
    assert_peak(sampler, PEAK_RSS, "nesting");
    assert_witness(&mut server, &before);
}

#[test]
fn stalled_live_clients_and_slow_list_readers_do_not_multiply_a_big_mail() {
    let mut server = Server::start_with(&["--http-write-timeout", "5s"]);
    let before = witness(&server);
    let stalled: Vec<TcpStream> = (0..20)
        .map(|_| common::stalled_socket(server.http, "/api/v2/websocket"))
        .collect();
    // Mailpit's stream sends summaries only: these stay open, and must cost as little.
    let _summaries: Vec<TcpStream> = (0..20)
        .map(|_| common::stalled_socket(server.http, "/api/events"))
        .collect();
    let sampler = RssSampler::start(server.pid());
    let big = sized("ten megabytes", 10 * MIB as usize);
    for _ in 0..3 {
        common::send_mail(server.smtp, &["b@example.com"], &big);
    }
    // Ten readers of MailHog's list, which carries the whole message, that read nothing.
    let host = host(&server);
    let slow: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = TcpStream::connect(server.http).unwrap();
            let request = format!("GET /api/v2/messages HTTP/1.1\r\nHost: {host}\r\n\r\n");
            s.write_all(request.as_bytes()).unwrap();
            s
        })
        .collect();
    // Meanwhile the API answers.
    let started = Instant::now();
    let info = server.get_json("/api/v1/info");
    assert_eq!(info["Messages"], 4);
    assert!(started.elapsed() < Duration::from_secs(2));
    // Past the write timeout every stalled socket has been closed by the server.
    std::thread::sleep(Duration::from_secs(7));
    assert_peak(sampler, PEAK_RSS, "stalled clients");
    for (i, mut s) in stalled.into_iter().chain(slow).enumerate() {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert!(closed_by_server(&mut s), "stalled socket {i} is still open");
    }
    assert_witness(&mut server, &before);
}

#[test]
fn idle_http_connections_under_a_low_descriptor_limit_do_not_stop_smtp() {
    const IDLE: usize = 1_100;
    ensure_open_files(IDLE as u64 + 200);
    let mut server = Server::start_configured(&["--http-header-timeout", "3s"], |command| {
        // SAFETY: setrlimit is async-signal-safe and the closure touches nothing else.
        unsafe {
            command.pre_exec(|| {
                let limit = RLimit {
                    soft: 1024,
                    hard: 1024,
                };
                if common::setrlimit(RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    });
    let before = witness(&server);
    let sampler = RssSampler::start(server.pid());
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|i| {
            let mut s = TcpStream::connect(server.http)
                .unwrap_or_else(|e| panic!("idle connection {i}: {e}"));
            // Half send half a request line, as a slowloris client does; half send nothing.
            if i % 2 == 0 {
                s.write_all(b"GET /api/v1/mess").unwrap();
            }
            s
        })
        .collect();
    // A new client is still answered at once: served, or told the server is busy.
    let started = Instant::now();
    let response = server.get("/api/v1/info");
    assert!(
        matches!(response.status, 200 | 503),
        "GET /api/v1/info: {}",
        response.status
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    // SMTP is untouched: its descriptors were set aside.
    let mut smtp = Smtp::connect(server.smtp);
    smtp.expect("EHLO busy.example", "250");
    let id = smtp.send_message("b@example.com", &sized("during the siege", 1_000));
    smtp.expect("QUIT", "221");
    // The header timeout closes every idle connection.
    let deadline = Instant::now() + Duration::from_secs(15);
    for (i, mut s) in idle.into_iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        assert!(
            closed_by_server(&mut s),
            "idle connection {i} still open after the header timeout"
        );
    }
    assert_eq!(server.get("/api/v1/info").status, 200);
    assert_eq!(server.message(&id)["Subject"], "during the siege");
    assert_peak(sampler, PEAK_RSS, "idle connections");
    assert_witness(&mut server, &before);
}

#[test]
fn a_search_of_twenty_thousand_terms_is_refused_without_work() {
    let mut server = Server::start();
    let before = witness(&server);
    for i in 0..50 {
        common::send_mail(
            server.smtp,
            &["b@example.com"],
            &sized(&format!("ünïcode {i}"), 100_000),
        );
    }
    let terms: Vec<String> = (0..20_000).map(|i| format!("-ünï{i}")).collect();
    let query = terms.join(" ");
    let cpu = cpu_time(&server);
    let started = Instant::now();
    let response = json_request(
        &server,
        "PUT",
        "/api/v1/messages",
        &json!({ "Search": query, "Read": true }),
    );
    assert_eq!(response.status, 400, "{}", response.text());
    let error: Value = serde_json::from_slice(&response.body).unwrap();
    assert!(
        error["Error"].as_str().unwrap_or("").contains("search"),
        "the error names the search: {error}"
    );
    let took = started.elapsed();
    let spent = cpu_time(&server) - cpu;
    eprintln!("20 000 terms: answered in {took:?}, {spent:?} of server CPU");
    // 12 s of CPU before the bounds.
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(spent < Duration::from_millis(500), "server CPU {spent:?}");
    // Nothing was marked.
    let unread = server.get_json("/api/v1/messages")["unread"].as_u64();
    assert_eq!(unread, Some(51));
    assert_witness(&mut server, &before);
}

#[test]
fn a_send_larger_than_the_message_limit_is_413_and_stores_nothing() {
    let mut server = Server::start_with(&["--max-message-size", "1MiB"]);
    let before = witness(&server);
    let sampler = RssSampler::start(server.pid());
    let big = "y".repeat(2 * MIB as usize);
    let send = json!({
        "From": { "Email": "app@example.com" },
        "To": [{ "Email": "user@example.com" }],
        "Subject": "too big",
        "Text": big,
    });
    // Several at once, as a looping client would.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (addr, body) = (server.http, send.clone());
            std::thread::spawn(move || {
                let host = addr.to_string();
                let body = serde_json::to_vec(&body).unwrap();
                http_with(
                    addr,
                    "POST",
                    "/api/v1/send",
                    &[("Host", &host), ("Content-Type", "application/json")],
                    &body,
                )
                .status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 413);
    }
    // Just under the limit is stored.
    let fits = json!({
        "From": { "Email": "app@example.com" },
        "To": [{ "Email": "user@example.com" }],
        "Subject": "fits",
        "Text": "z".repeat(900_000),
    });
    let response = json_request(&server, "POST", "/api/v1/send", &fits);
    assert_eq!(response.status, 200, "{}", response.text());
    let list = server.get_json("/api/v1/messages");
    assert_eq!(list["total"], 2, "only the witness and the one that fits");
    assert_peak(sampler, 100 * MIB, "send");
    assert_witness(&mut server, &before);
}

/// `AUTH PLAIN` with an initial response for `user`/`password`.
fn auth_plain(user: &str, password: &str) -> String {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
    format!("AUTH PLAIN {token}")
}

#[test]
fn password_guesses_are_slowed_counted_and_cost_the_same_for_unknown_users() {
    let dir = common::TempDir::new("guesses");
    let file = dir.path("smtp.passwd");
    let hash = bcrypt::hash("right", 6).expect("hash");
    std::fs::write(&file, format!("app:{hash}\n")).unwrap();
    let file = file.to_string_lossy().to_string();
    let mut server = Server::start_with(&["--smtp-auth-file", &file]);
    let before = witness(&server);

    let mut smtp = Smtp::connect(server.smtp);
    smtp.expect("EHLO guesser.example", "250");
    let mut known = Duration::ZERO;
    let mut unknown = Duration::ZERO;
    let started = Instant::now();
    for i in 0..4 {
        let user = if i % 2 == 0 { "app" } else { "nobody" };
        let t = Instant::now();
        smtp.expect(&auth_plain(user, &format!("guess{i}")), "535");
        if user == "app" {
            known += t.elapsed();
        } else {
            unknown += t.elapsed();
        }
    }
    let took = started.elapsed();
    eprintln!("4 guesses: {took:?} (known user {known:?}, unknown {unknown:?})");
    // 250 + 500 + 1000 + 2000 ms of delay; the build before answered 100 guesses in 10 ms.
    assert!(
        took >= Duration::from_millis(3_500),
        "4 guesses took {took:?}"
    );
    // An unknown user is not told apart by time (it was 800x faster).
    let per_known = known / 2;
    let per_unknown = unknown / 2;
    assert!(
        per_unknown * 3 >= per_known,
        "unknown users answer faster: {per_unknown:?} vs {per_known:?}"
    );
    // The right password still works in a new session, and the failures counted as errors:
    // this session's next error brings it closer to the limit, not a free retry.
    let mut fresh = Smtp::connect(server.smtp);
    fresh.expect("EHLO app.example", "250");
    fresh.expect(&auth_plain("app", "right"), "235");
    fresh.expect("QUIT", "221");
    assert_witness(&mut server, &before);
}

#[test]
fn no_plaintext_passwords_before_starttls_when_tls_is_configured() {
    let mut server = Server::start_with(&["--smtp-tls-cert", "sans:localhost,127.0.0.1"]);
    let before = witness(&server);
    let mut smtp = Smtp::connect(server.smtp);
    let ehlo = smtp.expect("EHLO plain.example", "250");
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    let auth_line = ehlo.lines().find(|l| l[4..].starts_with("AUTH"));
    assert!(
        auth_line.is_none_or(|l| !l.contains("PLAIN") && !l.contains("LOGIN")),
        "plaintext mechanisms offered before STARTTLS: {ehlo}"
    );
    let reply = smtp.expect(&auth_plain("app", "secret"), "538");
    assert!(reply.contains("5.7.11"), "{reply}");
    smtp.expect("AUTH LOGIN", "538");
    smtp.expect("QUIT", "221");
    assert_witness(&mut server, &before);

    // The switch that allows it.
    let server = Server::start_with(&[
        "--smtp-tls-cert",
        "sans:localhost",
        "--smtp-auth-allow-insecure",
    ]);
    let mut smtp = Smtp::connect(server.smtp);
    let ehlo = smtp.expect("EHLO plain.example", "250");
    assert!(ehlo.contains("PLAIN"), "{ehlo}");
    smtp.expect(&auth_plain("app", "secret"), "235");
}

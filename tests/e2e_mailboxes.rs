//! Mailboxes end to end: swaks logs in as a CI job, the job's mail lands in the mailbox named
//! by its user, and every API under `/mailbox/{name}/` sees that mailbox alone while the root
//! sees all; routing by flags and by a rules file; the EXT routes that list and delete mailboxes.

mod common;

use common::{Server, http_request, swaks};
use serde_json::Value;

fn send_as(server: &Server, user: Option<&str>, to: &str, subject: &str) {
    let header = format!("Subject: {subject}");
    let mut args = vec![
        "--to",
        to,
        "--from",
        "app@example.com",
        "--header",
        header.as_str(),
    ];
    if let Some(user) = user {
        args.extend([
            "--auth",
            "PLAIN",
            "--auth-user",
            user,
            "--auth-password",
            "secret",
        ]);
    }
    swaks(server, &args);
}

fn subjects(server: &Server, path: &str) -> Vec<String> {
    let list = server.get_json(path);
    list["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: {list}"))
        .iter()
        .map(|m| m["Subject"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn each_smtp_user_gets_its_own_mailbox_under_every_api() {
    let server = Server::start();
    send_as(&server, Some("job-1"), "a@example.com", "for job one");
    send_as(&server, Some("job-2"), "a@example.com", "for job two");
    send_as(&server, None, "a@example.com", "no login");

    assert_eq!(
        subjects(&server, "/mailbox/job-1/api/v1/messages"),
        ["for job one"]
    );
    assert_eq!(
        subjects(&server, "/mailbox/job-2/api/v1/messages"),
        ["for job two"]
    );
    assert_eq!(
        subjects(&server, "/api/v1/messages"),
        ["no login", "for job two", "for job one"]
    );
    // A mailbox name is case-insensitive.
    assert_eq!(
        subjects(&server, "/mailbox/JOB-1/api/v1/messages"),
        ["for job one"]
    );

    // Search, MailHog's API and the message routes are scoped too.
    let found = server.get_json("/mailbox/job-2/api/v1/search?query=job");
    assert_eq!(found["messages_count"], 1, "{found}");
    let v2 = server.get_json("/mailbox/job-1/api/v2/messages");
    assert_eq!(v2["total"], 1, "{v2}");
    let job2_id = server.get_json("/mailbox/job-2/api/v1/messages")["messages"][0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let other = http_request(
        server.http,
        "GET",
        &format!("/mailbox/job-1/api/v1/message/{job2_id}"),
    );
    assert_eq!(other.status, 404, "job-1 cannot read job-2's mail");
    let own = http_request(
        server.http,
        "GET",
        &format!("/mailbox/job-2/api/v1/message/{job2_id}"),
    );
    assert_eq!(own.status, 200);
    // The same id in the root view.
    assert_eq!(
        http_request(server.http, "GET", &format!("/api/v1/message/{job2_id}")).status,
        200
    );

    // The UI is there too, with relative links that stay inside the mailbox.
    let page = http_request(server.http, "GET", "/mailbox/job-1/");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<html"), "{}", page.text());
    let bare = http_request(server.http, "GET", "/mailbox/job-1");
    assert_eq!(bare.status, 308);
    assert_eq!(bare.header("location"), Some("job-1/"));

    // Delete-all inside one mailbox leaves the others and the rest of the root view.
    let host = server.http.to_string();
    let deleted = common::http_with(
        server.http,
        "DELETE",
        "/mailbox/job-1/api/v1/messages",
        &[("Host", host.as_str())],
        b"",
    );
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert!(subjects(&server, "/mailbox/job-1/api/v1/messages").is_empty());
    assert_eq!(
        subjects(&server, "/mailbox/job-2/api/v1/messages"),
        ["for job two"]
    );
    assert_eq!(
        subjects(&server, "/api/v1/messages"),
        ["no login", "for job two"]
    );

    // EXT: the list of mailboxes, with counts; delete one.
    let list = server.get_json("/api/v1/mailboxes");
    let rows: Vec<(String, u64)> = list["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["Name"].as_str().unwrap().to_string(),
                m["Total"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("job-1".to_string(), 0), ("job-2".to_string(), 1)]);
    assert_eq!(server.delete("/api/v1/mailboxes/job-2").status, 200);
    assert_eq!(server.delete("/api/v1/mailboxes/job-2").status, 404);
    assert_eq!(subjects(&server, "/api/v1/messages"), ["no login"]);

    // A page elsewhere cannot make mailboxes by loading their URLs (the origin policy lets
    // simple cross-site GETs through); it can reach none it could not read anyway.
    let host = server.http.to_string();
    let cross = common::http_with(
        server.http,
        "GET",
        "/mailbox/made-by-a-page/api/v1/messages",
        &[("Host", host.as_str()), ("Sec-Fetch-Site", "cross-site")],
        b"",
    );
    assert_eq!(cross.status, 404, "{}", cross.text());
    assert!(
        server.get_json("/api/v1/mailboxes")["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["Name"] != "made-by-a-page")
    );

    // Names that are no safe path segment are refused with a reason.
    let bad = http_request(server.http, "GET", "/mailbox/..%2fetc/api/v1/messages");
    assert_eq!(bad.status, 400, "{}", bad.text());
    let body: Value = serde_json::from_slice(&bad.body).unwrap();
    assert!(
        body["Error"]
            .as_str()
            .unwrap()
            .contains("invalid mailbox name"),
        "{body}"
    );
}

#[test]
fn a_waiter_in_a_mailbox_wakes_only_for_its_own_mail() {
    let server = Server::start();
    let http = server.http;
    let waiter = std::thread::spawn(move || {
        http_request(http, "GET", "/mailbox/job-7/api/v1/message/latest?wait=20")
    });
    // Mail for another job and for the root does not wake it.
    send_as(&server, Some("job-8"), "a@example.com", "not yours");
    send_as(&server, None, "a@example.com", "nobody's");
    send_as(&server, Some("job-7"), "a@example.com", "yours");
    let answer = waiter.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    let message: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(message["Subject"], "yours");
}

#[test]
fn rules_from_flags_and_a_file_route_each_recipient() {
    let dir = common::TempDir::new("mailbox-rules");
    let file = dir.path("mailboxes.conf");
    std::fs::write(&file, "# teams\nbilling=to:*@billing.example\n").unwrap();
    let server = Server::start_with(&[
        "--mailbox-file",
        file.to_str().unwrap(),
        "--mailbox",
        "*=plus",
    ]);
    send_as(&server, None, "invoices@billing.example", "invoice");
    send_as(&server, None, "app+job42@example.com", "plus addressed");
    send_as(&server, None, "someone@example.com", "unrouted");
    assert_eq!(
        subjects(&server, "/mailbox/billing/api/v1/messages"),
        ["invoice"]
    );
    assert_eq!(
        subjects(&server, "/mailbox/job42/api/v1/messages"),
        ["plus addressed"]
    );
    assert_eq!(subjects(&server, "/api/v1/messages").len(), 3);
    // `auth` is not among these rules: a login routes nowhere.
    send_as(&server, Some("job-9"), "someone@example.com", "login");
    assert!(
        server.get_json("/api/v1/mailboxes")["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["Name"] != "job-9")
    );
}

#[test]
fn a_bad_rule_stops_the_server_at_startup_with_the_reason() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailsnare"))
        .args([
            "--smtp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--mailbox",
            "x=smoke",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown rule"), "{stderr}");
}

fn get_as(server: &Server, user: &str, path: &str) -> common::HttpResponse {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:pw"));
    let auth = format!("Basic {token}");
    let host = server.http.to_string();
    common::http_with(
        server.http,
        "GET",
        path,
        &[("Host", host.as_str()), ("Authorization", auth.as_str())],
        b"",
    )
}

fn json_of(response: &common::HttpResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("{e}: {}", response.text()))
}

#[test]
fn a_team_user_sees_only_its_mailboxes_and_its_root_view_is_its_mailbox() {
    let dir = common::TempDir::new("mailbox-teams");
    let file = dir.path("users");
    std::fs::write(
        &file,
        "admin:pw\nalice:pw:mailboxes=team-a\nbob:pw:mailboxes=@user,team-a\n",
    )
    .unwrap();
    let server = Server::start_with(&["--http-auth-file", file.to_str().unwrap()]);
    send_as(&server, Some("team-a"), "x@example.com", "for team a");
    send_as(&server, Some("bob"), "x@example.com", "for bob");
    send_as(&server, Some("team-c"), "x@example.com", "for team c");

    // Alice's root view is team-a's mailbox: the list, the count, the message routes.
    let list = json_of(&get_as(&server, "alice", "/api/v1/messages"));
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["messages"][0]["Subject"], "for team a");
    let id = list["messages"][0]["ID"].as_str().unwrap().to_string();
    assert_eq!(
        get_as(&server, "alice", &format!("/api/v1/message/{id}")).status,
        200
    );
    let v2 = json_of(&get_as(&server, "alice", "/api/v2/messages"));
    assert_eq!(v2["total"], 1, "{v2}");
    // Another mailbox, by name or by id through the root, is out of reach.
    assert_eq!(
        get_as(&server, "alice", "/mailbox/team-c/api/v1/messages").status,
        403
    );
    let c_id = json_of(&get_as(&server, "admin", "/mailbox/team-c/api/v1/messages"))["messages"][0]
        ["ID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        get_as(&server, "alice", &format!("/api/v1/message/{c_id}")).status,
        404
    );
    let names = |user| -> Vec<String> {
        json_of(&get_as(&server, user, "/api/v1/mailboxes"))["mailboxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("alice"), ["team-a"]);
    assert_eq!(names("bob"), ["bob", "team-a"]);
    assert_eq!(names("admin"), ["bob", "team-a", "team-c"]);

    // Bob has two mailboxes: each is his, and his root view is both of them, each message once.
    assert_eq!(
        get_as(&server, "bob", "/mailbox/bob/api/v1/messages").status,
        200
    );
    assert_eq!(
        get_as(&server, "bob", "/mailbox/team-a/api/v1/messages").status,
        200
    );
    let root = json_of(&get_as(&server, "bob", "/api/v1/messages"));
    let seen: Vec<&str> = root["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Subject"].as_str().unwrap())
        .collect();
    assert_eq!(seen, ["for bob", "for team a"], "{root}");
    assert_eq!(
        json_of(&get_as(&server, "bob", "/api/v2/messages"))["total"],
        2
    );
    assert_eq!(
        get_as(&server, "bob", "/").status,
        200,
        "his page is his team view"
    );
    // Mail that arrives later is there too; the switcher offers "All mailboxes" (his view).
    send_as(&server, Some("team-a"), "x@example.com", "later for team a");
    assert_eq!(
        json_of(&get_as(&server, "bob", "/api/v1/messages"))["total"],
        3
    );
    assert_eq!(
        json_of(&get_as(&server, "bob", "/api/v1/mailboxes"))["root"],
        true
    );
    assert_eq!(
        json_of(&get_as(&server, "alice", "/api/v1/mailboxes"))["root"],
        false
    );
    // Deleting in his view deletes in the mailbox that held it, and so at the root.
    let later = json_of(&get_as(&server, "bob", "/api/v1/search?query=later"))["messages"][0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    use base64::Engine as _;
    let bob = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("bob:pw")
    );
    let host = server.http.to_string();
    let body = format!(r#"{{"IDs":["{later}"]}}"#);
    let deleted = common::http_with(
        server.http,
        "DELETE",
        "/api/v1/messages",
        &[
            ("Host", host.as_str()),
            ("Authorization", bob.as_str()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    );
    assert_eq!(deleted.status, 200, "{}", deleted.text());
    assert_eq!(
        json_of(&get_as(&server, "alice", "/api/v1/messages"))["total"],
        1
    );
    assert_eq!(
        json_of(&get_as(&server, "admin", "/api/v1/messages"))["total"],
        3
    );
    // The team view is only ever a team user's.
    assert_eq!(
        get_as(&server, "admin", "/.team/api/v1/messages").status,
        404
    );

    // The unrestricted user's root view is everything.
    assert_eq!(
        json_of(&get_as(&server, "admin", "/api/v1/messages"))["total"],
        3
    );
    // Nor may alice delete another team's mailbox.
    let token = base64::engine::general_purpose::STANDARD.encode("alice:pw");
    let auth = format!("Basic {token}");
    let host = server.http.to_string();
    let refused = common::http_with(
        server.http,
        "DELETE",
        "/api/v1/mailboxes/team-c",
        &[("Host", host.as_str()), ("Authorization", auth.as_str())],
        b"",
    );
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(
        json_of(&get_as(&server, "admin", "/api/v1/messages"))["total"],
        3
    );
    // Without credentials, nothing.
    assert_eq!(
        http_request(server.http, "GET", "/mailbox/team-a/api/v1/messages").status,
        401
    );
}

#[test]
fn with_storage_the_mailboxes_come_back_after_a_restart() {
    let dir = common::TempDir::new("mailbox-storage");
    let storage = dir.path("mail");
    let storage = storage.to_str().unwrap();
    let args = ["--storage", storage, "--mailbox", "*=plus"];
    {
        let server = Server::start_with(&args);
        send_as(&server, None, "app+job-1@example.com", "one for job 1");
        send_as(&server, None, "app+job-1@example.com", "two for job 1");
        // One message, two mailboxes: stored once.
        swaks(
            &server,
            &[
                "--to",
                "app+job-1@example.com,app+job-2@example.com",
                "--from",
                "app@example.com",
                "--header",
                "Subject: for both",
            ],
        );
        send_as(&server, None, "plain@example.com", "for nobody");
        let first = server.get_json("/mailbox/job-1/api/v1/search?query=subject:one")["messages"]
            [0]["ID"]
            .as_str()
            .unwrap()
            .to_string();
        let host = server.http.to_string();
        let body = format!(r#"{{"IDs":["{first}"]}}"#);
        let deleted = common::http_with(
            server.http,
            "DELETE",
            "/mailbox/job-1/api/v1/messages",
            &[
                ("Host", host.as_str()),
                ("Content-Type", "application/json"),
            ],
            body.as_bytes(),
        );
        assert_eq!(deleted.status, 200, "{}", deleted.text());
        assert_eq!(
            subjects(&server, "/mailbox/job-1/api/v1/messages"),
            ["for both", "two for job 1"]
        );
    }
    let server = Server::start_with(&args);
    assert_eq!(
        subjects(&server, "/mailbox/job-1/api/v1/messages"),
        ["for both", "two for job 1"]
    );
    assert_eq!(
        subjects(&server, "/mailbox/job-2/api/v1/messages"),
        ["for both"]
    );
    assert_eq!(
        subjects(&server, "/api/v1/messages"),
        ["for nobody", "for both", "two for job 1"]
    );
    // Still one message in two mailboxes: job-2 lets go, job-1 keeps it, the root too.
    let host = server.http.to_string();
    let cleared = common::http_with(
        server.http,
        "DELETE",
        "/mailbox/job-2/api/v1/messages",
        &[("Host", host.as_str())],
        b"",
    );
    assert_eq!(cleared.status, 200);
    assert_eq!(subjects(&server, "/api/v1/messages").len(), 3);
    assert!(
        server
            .stderr()
            .contains("restored 3 messages into 2 mailboxes"),
        "{}",
        server.stderr()
    );
}

#[test]
fn metrics_label_each_mailbox_up_to_a_cap() {
    let server = Server::start();
    send_as(&server, Some("big"), "a@example.com", "one");
    send_as(&server, Some("big"), "a@example.com", "two");
    // A request makes a mailbox too (a job may wait before its first mail).
    for i in 0..55 {
        assert_eq!(
            http_request(
                server.http,
                "GET",
                &format!("/mailbox/m{i:02}/api/v1/messages")
            )
            .status,
            200
        );
    }
    let text = server.get("/metrics").text();
    assert!(text.contains("mailsnare_mailboxes 56"), "{text}");
    assert!(
        text.contains("mailsnare_mailbox_messages{mailbox=\"big\"} 2"),
        "{text}"
    );
    let labelled = text
        .lines()
        .filter(|l| l.starts_with("mailsnare_mailbox_messages{"))
        .count();
    assert_eq!(labelled, 51, "50 mailboxes and the rest as _other:\n{text}");
    assert!(
        text.contains("mailsnare_mailbox_messages{mailbox=\"_other\"} 0"),
        "{text}"
    );
}

fn put_json(server: &Server, path: &str, body: &str) -> common::HttpResponse {
    let host = server.http.to_string();
    common::http_with(
        server.http,
        "PUT",
        path,
        &[
            ("Host", host.as_str()),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

#[test]
fn a_mailbox_keeps_its_own_limits_and_the_count_of_mailboxes_is_bounded() {
    let server = Server::start_with(&["--max-mailboxes", "2"]);
    for i in 0..4 {
        send_as(
            &server,
            Some("small"),
            "a@example.com",
            &format!("small {i}"),
        );
    }
    send_as(&server, Some("other"), "a@example.com", "other 0");
    let set = put_json(&server, "/api/v1/mailboxes/small", r#"{"MaxMessages":2}"#);
    assert_eq!(set.status, 200, "{}", set.text());
    assert_eq!(json_of(&set)["Total"], 2);
    assert_eq!(
        subjects(&server, "/mailbox/small/api/v1/messages"),
        ["small 3", "small 2"]
    );
    // What it evicted leaves the root view; the other mailbox is untouched.
    assert_eq!(
        subjects(&server, "/api/v1/messages"),
        ["other 0", "small 3", "small 2"]
    );
    send_as(&server, Some("small"), "a@example.com", "small 4");
    assert_eq!(
        subjects(&server, "/mailbox/small/api/v1/messages"),
        ["small 4", "small 3"]
    );
    // A third mailbox is one too many: a request is refused, mail stays in the default mailbox.
    let refused = http_request(server.http, "GET", "/mailbox/third/api/v1/messages");
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(
        put_json(&server, "/api/v1/mailboxes/third", "{}").status,
        503
    );
    send_as(&server, Some("third"), "a@example.com", "for a third");
    assert_eq!(subjects(&server, "/api/v1/messages")[0], "for a third");
    assert!(
        server.stderr().contains("too many mailboxes"),
        "{}",
        server.stderr()
    );
}

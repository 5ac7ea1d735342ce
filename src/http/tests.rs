//! Router tests: requests through `router()` with no socket.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, router};
use crate::message::{Envelope, StoredMessage};
use crate::store::{Store, StoreLimits};

fn store_with(messages: &[&[u8]]) -> Store {
    let store = Store::new(StoreLimits::default());
    for raw in messages {
        let envelope = Envelope {
            mail_from: "from@example.com".into(),
            rcpt_to: vec!["to@example.com".into()],
            ..Envelope::default()
        };
        store
            .insert(StoredMessage::new(envelope, raw.to_vec()))
            .expect("stored");
    }
    store
}

/// One request through the whole router; shared by the handler modules' tests.
pub(super) async fn call(
    store: &Store,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, Vec<u8>) {
    call_with(AppState::for_store(store.clone()), method, uri, body).await
}

/// One request through the whole router over `state` (to look at its counters afterwards).
pub(super) async fn call_with(
    state: AppState,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, Vec<u8>) {
    let (status, _, body) = request(router(state), method, uri, body).await;
    (status, body)
}

/// One request through `app`: status, headers and body. A body is sent as JSON.
pub(super) async fn request(
    app: axum::Router,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(uri);
    if !body.is_empty() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(Body::from(body.to_string()))
        .expect("valid request");
    let response = app.oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, bytes.to_vec())
}

async fn get_json(store: &Store, uri: &str) -> (StatusCode, Value) {
    let (status, body) = call(store, "GET", uri, "").await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn list_is_newest_first_with_mailpit_wrapper() {
    let store = store_with(&[
        b"Subject: one\r\n\r\n1\r\n",
        b"Subject: two\r\n\r\n2\r\n",
        b"Subject: three\r\n\r\n3\r\n",
    ]);
    let (status, json) = get_json(&store, "/api/v1/messages?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["total"], 3);
    assert_eq!(json["unread"], 3);
    assert_eq!(json["count"], 2);
    assert_eq!(json["messages_count"], 3);
    assert_eq!(json["start"], 0);
    assert_eq!(json["tags"], json!([]));
    let subjects: Vec<&str> = json["messages"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["Subject"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(subjects, ["three", "two"]);
    let (_, json) = get_json(&store, "/api/v1/messages?start=2&limit=50").await;
    assert_eq!(json["messages"][0]["Subject"], "one");
    assert_eq!(json["start"], 2);
    // Junk paging values fall back to the defaults rather than failing.
    let (status, json) = get_json(&store, "/api/v1/messages?start=x&limit=-3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["count"], 3);
}

#[tokio::test]
async fn empty_store_lists_empty_arrays() {
    let store = store_with(&[]);
    let (_, json) = get_json(&store, "/api/v1/messages").await;
    assert_eq!(
        json,
        json!({"total":0,"unread":0,"count":0,"messages_count":0,"messages_unread":0,"start":0,"tags":[],"messages":[]})
    );
}

#[tokio::test]
async fn get_marks_read_and_raw_is_exact() {
    let raw: &[u8] = b"Subject: caf\xc3\xa9\r\nX-Odd: \xff\r\n\r\nbody\n.\r\n";
    let store = store_with(&[raw]);
    let (_, list) = get_json(&store, "/api/v1/messages").await;
    let id = list["messages"][0]["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(list["messages"][0]["Read"], false);

    let (status, message) = get_json(&store, &format!("/api/v1/message/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(message["ID"], id.as_str());
    assert_eq!(message["Subject"], "café");
    assert_eq!(message["ReturnPath"], "from@example.com");
    assert_eq!(
        message["Bcc"],
        json!([{"Name":"","Address":"to@example.com"}])
    );
    let (_, list) = get_json(&store, "/api/v1/messages").await;
    assert_eq!(list["messages"][0]["Read"], true);
    assert_eq!(list["unread"], 0);

    let (status, body) = call(&store, "GET", &format!("/api/v1/message/{id}/raw"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, raw, "raw must be byte-exact, even invalid UTF-8");
    let (status, latest) = get_json(&store, "/api/v1/message/latest").await;
    assert_eq!(
        (status, latest["ID"].as_str()),
        (StatusCode::OK, Some(id.as_str()))
    );
}

#[tokio::test]
async fn unknown_ids_are_404_json() {
    let store = store_with(&[]);
    for uri in [
        "/api/v1/message/not-a-uuid",
        "/api/v1/message/00000000-0000-0000-0000-000000000000",
        "/api/v1/message/latest",
        "/api/v1/message/00000000-0000-0000-0000-000000000000/raw",
    ] {
        let (status, json) = get_json(&store, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(json["Error"], "message not found", "{uri}");
    }
}

#[tokio::test]
async fn delete_answers_ok_to_a_body_and_nothing_without_one() {
    let store = store_with(&[b"a\r\n", b"b\r\n", b"c\r\n"]);
    let (_, list) = get_json(&store, "/api/v1/messages").await;
    let first = list["messages"][0]["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body = json!({"IDs": [first, "bogus"]}).to_string();
    let (status, bytes) = call(&store, "DELETE", "/api/v1/messages", &body).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &b"ok"[..]));
    assert_eq!(store.counts().total, 2);

    // A body that does not parse (a form, say) deletes everything, as Mailpit does.
    let (status, bytes) = call(&store, "DELETE", "/api/v1/messages", "ids=a&ids=b").await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &b"ok"[..]));
    assert_eq!(store.counts().total, 0);

    // No body: empty, for MailHog clients that JSON-parse any body.
    let store = store_with(&[b"a\r\n"]);
    let (status, bytes) = call(&store, "DELETE", "/api/v1/messages", "").await;
    assert_eq!((status, bytes.len()), (StatusCode::OK, 0));
    assert_eq!(store.counts().total, 0);
    let store = store_with(&[b"a\r\n"]);
    let (status, bytes) = call(&store, "DELETE", "/api/v1/messages", r#"{"IDs":[]}"#).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &b"ok"[..]));
    assert_eq!(store.counts().total, 0);
}

#[tokio::test]
async fn health_checks() {
    let store = store_with(&[]);
    assert_eq!(call(&store, "GET", "/livez", "").await.0, StatusCode::OK);
    assert_eq!(call(&store, "GET", "/readyz", "").await.0, StatusCode::OK);
}

fn ids_by_subject(list: &Value) -> Vec<(String, String)> {
    list["messages"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    (
                        m["Subject"].as_str().unwrap_or_default().to_string(),
                        m["ID"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn subjects(list: &Value) -> Vec<String> {
    ids_by_subject(list).into_iter().map(|(s, _)| s).collect()
}

fn three() -> Store {
    store_with(&[
        b"From: alice@example.com\r\nSubject: Invoice 1\r\n\r\npay now\r\n",
        b"From: bob@example.com\r\nSubject: =?UTF-8?B?UsOpc3Vtw6k=?=\r\nX-Tags: cv\r\n\r\nsee attached\r\n",
        b"From: alice@example.com\r\nSubject: Invoice 2\r\nContent-Transfer-Encoding: base64\r\n\r\ncGF5IGxhdGVy\r\n",
    ])
}

#[tokio::test]
async fn search_pages_over_matches_and_counts_them() {
    let store = three();
    let (status, json) = get_json(&store, "/api/v1/search?query=invoice").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(subjects(&json), ["Invoice 2", "Invoice 1"]);
    assert_eq!(
        (json["messages_count"].as_u64(), json["total"].as_u64()),
        (Some(2), Some(3))
    );
    let (_, json) = get_json(&store, "/api/v1/search?query=invoice&start=1&limit=1").await;
    assert_eq!(subjects(&json), ["Invoice 1"]);
    assert_eq!(json["count"], 1);
    let (_, json) = get_json(&store, "/api/v1/search?query=r%C3%A9sum%C3%A9").await;
    assert_eq!(
        subjects(&json),
        ["Résumé"],
        "RFC 2047 subject, non-ASCII query"
    );
    let (_, json) = get_json(&store, "/api/v1/search?query=%22pay+later%22").await;
    assert_eq!(
        subjects(&json),
        ["Invoice 2"],
        "phrase inside a base64 body"
    );
    let (_, json) = get_json(&store, "/api/v1/search?query=from%3Aalice+-later").await;
    assert_eq!(subjects(&json), ["Invoice 1"]);
    let (_, json) = get_json(&store, "/api/v1/search?query=tag%3Acv").await;
    assert_eq!(json["messages"][0]["Tags"], json!(["cv"]));
    assert_eq!(
        json["tags"],
        json!(["cv"]),
        "the wrapper lists every tag in the store"
    );
    let (status, json) = get_json(&store, "/api/v1/search?query=is%3Amaybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["Error"]
            .as_str()
            .is_some_and(|e| e.contains("is:maybe"))
    );
}

#[tokio::test]
async fn a_page_can_be_placed_around_a_message_wherever_it_is_now() {
    let subjects_of = |n: usize| -> Vec<String> { (0..n).map(|i| format!("m{i}")).collect() };
    let raws: Vec<Vec<u8>> = subjects_of(30)
        .iter()
        .map(|s| format!("Subject: {s}\r\n\r\nbody {s}\r\n").into_bytes())
        .collect();
    let store = store_with(&raws.iter().map(Vec::as_slice).collect::<Vec<_>>());
    let (_, first) = get_json(&store, "/api/v1/messages?start=20&limit=1").await;
    let (subject, id) = ids_by_subject(&first).remove(0);
    assert_eq!(subject, "m9");
    // Five more arrive on top: m9 is now at 25; the page holds it 2 rows from its top.
    for i in 30..35 {
        let raw = format!("Subject: m{i}\r\n\r\nbody\r\n");
        store
            .insert(StoredMessage::new(Envelope::default(), raw.into_bytes()))
            .expect("stored");
    }
    let (status, json) = get_json(
        &store,
        &format!("/api/v1/messages?around={id}&before=2&limit=4&start=0"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["start"], 23);
    assert_eq!(subjects(&json), ["m11", "m10", "m9", "m8"]);
    // Near the top, the page starts at 0; an unknown or junk ID falls back to `start`.
    let (_, newest) = get_json(&store, "/api/v1/messages?limit=1").await;
    let newest = ids_by_subject(&newest).remove(0).1;
    let (_, json) = get_json(
        &store,
        &format!("/api/v1/messages?around={newest}&before=5&limit=2"),
    )
    .await;
    assert_eq!(
        (json["start"].as_u64(), subjects(&json)),
        (Some(0), vec!["m34".into(), "m33".into()])
    );
    let unknown = "0b8f5a52-3c1e-4d7a-9f6e-2a4b6c8d0e1f";
    for around in [unknown.to_string(), "junk".into()] {
        let (status, json) = get_json(
            &store,
            &format!("/api/v1/messages?around={around}&before=2&start=3&limit=1"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (json["start"].as_u64(), subjects(&json)),
            (Some(3), vec!["m31".into()])
        );
    }
    // In a search, the position is among the matches.
    let (_, json) = get_json(
        &store,
        &format!("/api/v1/search?query=body&around={id}&before=1&limit=3"),
    )
    .await;
    assert_eq!(json["start"], 24);
    assert_eq!(subjects(&json), ["m10", "m9", "m8"]);
}

#[tokio::test]
async fn delete_by_search_and_mark_read() {
    let store = three();
    let (status, body) = call(
        &store,
        "PUT",
        "/api/v1/messages",
        r#"{"Search":"invoice","Read":true}"#,
    )
    .await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"ok"[..]));
    assert_eq!(store.counts().unread, 1);
    let (_, json) = get_json(&store, "/api/v1/search?query=is%3Aread").await;
    assert_eq!(json["messages_count"], 2);
    let (_, json) = get_json(&store, "/api/v1/messages").await;
    let ids = ids_by_subject(&json);
    let body = json!({"IDs": [ids[0].1], "Read": false}).to_string();
    assert_eq!(
        call(&store, "PUT", "/api/v1/messages", &body).await.0,
        StatusCode::OK
    );
    assert_eq!(store.counts().unread, 2);
    assert_eq!(
        call(&store, "PUT", "/api/v1/messages", r#"{"Read":true}"#)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(store.counts().unread, 0, "neither IDs nor Search: all");

    assert_eq!(
        call(&store, "DELETE", "/api/v1/search?query=", "").await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, body) = call(&store, "DELETE", "/api/v1/search?query=invoice", "").await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, &b"ok"[..]));
    let (_, json) = get_json(&store, "/api/v1/messages").await;
    assert_eq!(subjects(&json), ["Résumé"]);
    assert_eq!(store.activity().deleted, 2);
}

const WITH_PARTS: &[u8] = b"From: a@x\r\nSubject: parts\r\nX-Dup: 1\r\nX-Dup: 2\r\nContent-Type: multipart/related; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p>hi <img src=\"cid:logo@x\"><script>alert(1)</script></p>\r\n\
--b\r\nContent-Type: image/gif; name=logo.gif\r\nContent-ID: <logo@x>\r\nContent-Disposition: inline; filename=logo.gif\r\n\
Content-Transfer-Encoding: base64\r\n\r\nR0lGODlh\r\n--b--\r\n";

#[tokio::test]
async fn headers_parts_and_views() {
    let store = store_with(&[WITH_PARTS]);
    let id = store.latest().map(|m| m.id.to_string()).unwrap_or_default();
    let (status, headers) = get_json(&store, &format!("/api/v1/message/{id}/headers")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["X-Dup"], json!(["1", "2"]));
    assert_eq!(headers["Subject"], json!(["parts"]));

    let app = router(AppState::for_store(store.clone()));
    let (status, headers, body) = request(
        app.clone(),
        "GET",
        &format!("/api/v1/message/{id}/part/2"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/gif");
    assert_eq!(
        headers["content-disposition"],
        "inline; filename=\"logo.gif\""
    );
    assert_eq!(&body[..], b"GIF89a");
    assert_eq!(
        call(&store, "GET", &format!("/api/v1/message/{id}/part/9"), "")
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let (_, headers, body) = request(app, "GET", &format!("/view/{id}.html"), "").await;
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.starts_with("sandbox") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    // No script may run: neither the sandbox nor the source list allows one. (The sandbox keeps
    // the origin only so the UI can open clicked links itself; without scripts that is inert.)
    assert!(
        !csp.contains("allow-scripts") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(
        !csp.contains("allow-popups") && !csp.contains("allow-top-navigation"),
        "{csp}"
    );
    let html = String::from_utf8_lossy(&body);
    assert!(
        html.contains(&format!("src=\"../api/v1/message/{id}/part/2\"")),
        "{html}"
    );
    let (status, text) = call(&store, "GET", &format!("/view/{id}.txt"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&text).contains("hi"));
    assert_eq!(
        call(&store, "GET", &format!("/view/{id}.pdf"), "").await.0,
        StatusCode::NOT_FOUND
    );
    let plain = store_with(&[b"Subject: plain\r\n\r\ntext only\r\n"]);
    assert_eq!(
        call(&plain, "GET", "/view/latest.html", "").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn message_json_lists_inline_parts() {
    let store = store_with(&[WITH_PARTS]);
    let (_, m) = get_json(&store, "/api/v1/message/latest").await;
    assert_eq!(m["Inline"][0]["PartID"], "2");
    assert_eq!(m["Inline"][0]["ContentID"], "logo@x");
    assert_eq!(m["Inline"][0]["FileName"], "logo.gif");
    assert_eq!(m["Attachments"], json!([]));
    assert!(
        m["HTML"].as_str().is_some_and(|h| h.contains("cid:logo@x")),
        "the JSON keeps the HTML as sent"
    );
}

#[tokio::test]
async fn info_reports_counts() {
    let store = three();
    store.delete_blocking(&[store.latest().map(|m| m.id).unwrap_or_default()]);
    let (status, info) = get_json(&store, "/api/v1/info").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["Messages"], 2);
    assert_eq!(info["Unread"], 2);
    assert_eq!(info["RuntimeStats"]["MessagesDeleted"], 1);
    assert!(
        info["RuntimeStats"]["Memory"]
            .as_u64()
            .is_some_and(|m| m > 0)
    );
    assert_eq!(info["Version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn latest_with_query_and_wait() {
    let store = three();
    let (status, m) = get_json(&store, "/api/v1/message/latest?query=from%3Abob").await;
    assert_eq!(
        (status, m["Subject"].as_str()),
        (StatusCode::OK, Some("Résumé"))
    );
    let (status, _) = get_json(&store, "/api/v1/message/latest?query=nothing-like-this").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A waiter is woken by a matching message stored after it started, not by others.
    let state = AppState::for_store(store.clone());
    let waiter = {
        let state = state.clone();
        tokio::spawn(async move {
            let (status, body) = call_with(
                state,
                "GET",
                "/api/v1/message/latest?query=subject%3Awelcome&wait=10",
                "",
            )
            .await;
            let json: Value = serde_json::from_slice(&body).expect("JSON");
            (status, json)
        })
    };
    // Only once it waits: a message stored before would be found by its first look instead.
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while state.waiting.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the request waits");
    let envelope = Envelope::default();
    store
        .insert(StoredMessage::new(
            envelope.clone(),
            b"Subject: unrelated\r\n\r\nx\r\n".to_vec(),
        ))
        .expect("stored");
    let started = std::time::Instant::now();
    store
        .insert(StoredMessage::new(
            envelope,
            b"Subject: Welcome aboard\r\n\r\nx\r\n".to_vec(),
        ))
        .expect("stored");
    let (status, m) = waiter.await.expect("waiter task");
    assert_eq!(
        (status, m["Subject"].as_str()),
        (StatusCode::OK, Some("Welcome aboard"))
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "woken by the event, not a timeout"
    );

    // `since` skips what is already there; a short wait then times out with 404.
    let newest = store.latest().map(|m| m.id.to_string()).unwrap_or_default();
    let started = std::time::Instant::now();
    let (status, _) = get_json(
        &store,
        &format!("/api/v1/message/latest?query=welcome&since={newest}&wait=0.3"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    let (status, _) = get_json(&store, "/api/v1/message/latest?wait=soon").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A huge wait is capped, not an overflow: with a match present it answers at once.
    let (status, m) = get_json(&store, "/api/v1/message/latest?wait=1e300").await;
    assert_eq!(
        (status, m["Subject"].as_str()),
        (StatusCode::OK, Some("Welcome aboard"))
    );
}

#[tokio::test]
async fn chaos_and_jim_routes() {
    let store = store_with(&[]);
    let state = AppState::for_store(store.clone());
    let chaos = std::sync::Arc::clone(&state.chaos);
    let send = |method: &str, uri: &str, body: &str| {
        let app = router(state.clone());
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body.to_string()))
            .expect("request");
        async move {
            let response = app.oneshot(request).await.expect("infallible");
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let (status, json) = send("GET", "/api/v1/chaos", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["Sender"], json!({"ErrorCode": 451, "Probability": 0}));
    let body = r#"{"Sender":{"ErrorCode":421,"Probability":50},"Recipient":{"ErrorCode":550,"Probability":5},"Authentication":{"ErrorCode":535,"Probability":0}}"#;
    let (status, json) = send("PUT", "/api/v1/chaos", body).await;
    assert_eq!(
        (status, json["Sender"]["Probability"].as_u64()),
        (StatusCode::OK, Some(50))
    );
    assert_eq!(chaos.triggers().recipient.error_code, 550);
    let bad = r#"{"Sender":{"ErrorCode":421,"Probability":500},"Recipient":{"ErrorCode":550,"Probability":5},"Authentication":{"ErrorCode":535,"Probability":0}}"#;
    assert_eq!(
        send("PUT", "/api/v1/chaos", bad).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        chaos.triggers().sender.probability,
        50,
        "a rejected update changes nothing"
    );

    assert_eq!(
        send("GET", "/api/v2/jim", "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send("PUT", "/api/v2/jim", "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send("DELETE", "/api/v2/jim", "").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, json) = send("POST", "/api/v2/jim", "").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(json["AcceptChance"], 0.99);
    assert_eq!(
        send("POST", "/api/v2/jim", "").await.0,
        StatusCode::BAD_REQUEST,
        "already on"
    );
    let update = r#"{"DisconnectChance":0,"AcceptChance":1,"LinkSpeedAffect":0,"LinkSpeedMin":1024,"LinkSpeedMax":10240,"RejectSenderChance":1,"RejectRecipientChance":0,"RejectAuthChance":0}"#;
    assert_eq!(send("PUT", "/api/v2/jim", update).await.0, StatusCode::OK);
    assert_eq!(chaos.jim().map(|j| j.reject_sender_chance), Some(1.0));
    // A partial body keeps the defaults for what it leaves out, as MailHog does.
    let (status, json) = send("PUT", "/api/v2/jim", r#"{"AcceptChance":0.5}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            json["AcceptChance"].as_f64(),
            json["DisconnectChance"].as_f64()
        ),
        (Some(0.5), Some(0.005))
    );
    send("PUT", "/api/v2/jim", update).await;
    let (status, json) = send("GET", "/api/v2/jim", "").await;
    assert_eq!(
        (status, json["RejectSenderChance"].as_f64()),
        (StatusCode::OK, Some(1.0))
    );
    assert_eq!(send("DELETE", "/api/v2/jim", "").await.0, StatusCode::OK);
    assert!(chaos.jim().is_none());
}

#[tokio::test]
async fn send_route_stores_a_listed_message() {
    let store = store_with(&[]);
    let body = json!({"From": {"Email": "app@example.com", "Name": "App"}, "To": [{"Email": "user@example.com"}],
        "Bcc": ["audit@example.com"], "Subject": "Sent via API", "Text": "hello", "Tags": ["api"]})
    .to_string();
    let (status, reply) = call(&store, "POST", "/api/v1/send", &body).await;
    assert_eq!(status, StatusCode::OK);
    let reply: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
    let (_, list) = get_json(&store, "/api/v1/messages").await;
    assert_eq!(list["messages"][0]["ID"], reply["ID"]);
    assert_eq!(list["messages"][0]["Subject"], "Sent via API");
    assert_eq!(
        list["messages"][0]["Bcc"],
        json!([{"Name": "", "Address": "audit@example.com"}])
    );
    assert_eq!(list["tags"], json!(["api"]));
    let (status, _) = call(&store, "POST", "/api/v1/send", "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn ui_and_api_under_a_path_prefix() {
    let store = store_with(&[b"Subject: prefixed\r\n\r\nx\r\n"]);
    let get = |uri: &str| {
        let app = super::router_at("/mail", AppState::for_store(store.clone()));
        let request = Request::get(uri).body(Body::empty()).expect("request");
        async move { app.oneshot(request).await.expect("infallible") }
    };
    let redirect = get("/mail").await;
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.headers()["location"], "/mail/");
    let page = get("/mail/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(get("/mail/api/v1/messages").await.status(), StatusCode::OK);
    assert_eq!(get("/livez").await.status(), StatusCode::OK);
    assert_eq!(
        get("/api/v1/messages").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get("/mail/ui/no-such-file.js").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn tags_are_set_listed_searched_renamed_and_deleted() {
    let store = store_with(&[
        b"Subject: one\r\nX-Tags: Arrived\r\n\r\na\r\n",
        b"Subject: two\r\n\r\nb\r\n",
    ]);
    let (_, list) = get_json(&store, "/api/v1/messages").await;
    let ids: Vec<String> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(list["tags"], json!(["Arrived"]));
    let (_, tags) = get_json(&store, "/api/v1/tags").await;
    assert_eq!(tags, json!(["Arrived"]));

    // Both messages get exactly these (the first loses "Arrived", so it is gone).
    let body =
        json!({"Tags": ["urgent", " Two  words ", "bad/chars", "URGENT"], "IDs": ids}).to_string();
    let (status, bytes) = call(&store, "PUT", "/api/v1/tags", &body).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &b"ok"[..]));
    let (_, tags) = get_json(&store, "/api/v1/tags").await;
    assert_eq!(tags, json!(["Two words", "bad chars", "urgent"]));
    let (_, message) = get_json(&store, &format!("/api/v1/message/{}", ids[0])).await;
    assert_eq!(message["Tags"], json!(["Two words", "bad chars", "urgent"]));
    let (_, info) = get_json(&store, "/api/v1/info").await;
    assert_eq!(info["Tags"]["urgent"], 2);

    let (_, found) = get_json(&store, "/api/v1/search?query=tag:urgent").await;
    assert_eq!(found["messages_count"], 2);
    let (_, found) = get_json(&store, "/api/v1/search?query=is:tagged%20subject:two").await;
    assert_eq!(found["messages_count"], 1);

    let rename = json!({"Name": "later"}).to_string();
    let (status, _) = call(&store, "PUT", "/api/v1/tags/urgent", &rename).await;
    assert_eq!(status, StatusCode::OK);
    let (status, bytes) = call(&store, "PUT", "/api/v1/tags/urgent", &rename).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    let (status, _) = call(&store, "DELETE", "/api/v1/tags/Two%20words", "").await;
    assert_eq!(status, StatusCode::OK);
    let (_, tags) = get_json(&store, "/api/v1/tags").await;
    assert_eq!(tags, json!(["bad chars", "later"]));
    let (_, found) = get_json(&store, "/api/v1/search?query=tag:later").await;
    assert_eq!(found["messages_count"], 2);

    // An empty set removes them all; malformed bodies are errors.
    let body = json!({"Tags": [], "IDs": [ids[1]]}).to_string();
    call(&store, "PUT", "/api/v1/tags", &body).await;
    let (_, found) = get_json(&store, "/api/v1/search?query=is:tagged").await;
    assert_eq!(found["messages_count"], 1);
    let (status, _) = call(&store, "PUT", "/api/v1/tags", "{\"Tags\": 5}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn image_parts_have_thumbnails_and_other_parts_a_blank_one() {
    use base64::Engine;
    let mut png = Vec::new();
    image::RgbImage::from_pixel(400, 300, image::Rgb([0, 160, 0]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let store = store_with(&[]);
    let body = json!({"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}], "Text": "t",
        "Attachments": [{"Content": b64, "Filename": "green.png"}, {"Content": "aGk=", "Filename": "hi.txt"}]})
    .to_string();
    let (status, reply) = call(&store, "POST", "/api/v1/send", &body).await;
    assert_eq!(status, StatusCode::OK);
    let id = serde_json::from_slice::<Value>(&reply).unwrap()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, message) = get_json(&store, &format!("/api/v1/message/{id}")).await;
    let part = |name: &str| {
        message["Attachments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["FileName"] == name)
            .map(|a| a["PartID"].as_str().unwrap().to_string())
            .unwrap()
    };
    let thumb = |part_id: String| {
        let store = store.clone();
        let id = id.clone();
        async move {
            let (status, bytes) = call(
                &store,
                "GET",
                &format!("/api/v1/message/{id}/part/{part_id}/thumb"),
                "",
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            image::load_from_memory(&bytes).expect("a JPEG").to_rgb8()
        }
    };
    let green = thumb(part("green.png")).await;
    assert_eq!(green.dimensions(), (180, 120));
    let p = green.get_pixel(90, 60);
    assert!(p[1] > 120 && p[0] < 60, "the picture: {p:?}");
    let blank = thumb(part("hi.txt")).await;
    assert_eq!(blank.dimensions(), (180, 120));
    assert!(blank.get_pixel(90, 60)[0] > 240, "white");
    let (status, _) = call(
        &store,
        "GET",
        &format!("/api/v1/message/{id}/part/7/thumb"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn html_check_reports_features_and_refuses_what_it_cannot_check() {
    let store = store_with(&[
        b"Subject: text\r\n\r\nno HTML here\r\n",
        b"Subject: html\r\nContent-Type: text/html\r\n\r\n<table><tr><td style=\"display:flex\">x</td></tr></table>\r\n",
    ]);
    let (status, report) = get_json(&store, "/api/v1/message/latest/html-check").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let slugs: Vec<&str> = report["Warnings"]
        .as_array()
        .expect("Warnings")
        .iter()
        .filter_map(|w| w["Slug"].as_str())
        .collect();
    assert!(slugs.contains(&"css-display-flex"), "{slugs:?}");
    assert!(slugs.contains(&"html-table"), "{slugs:?}");
    // The elements as written: table, tr, td (no implied tbody).
    assert_eq!(report["Total"]["Nodes"], 3);
    assert!(report["Platforms"]["windows"].is_array());
    // Checking does not mark the message read.
    let (_, list) = get_json(&store, "/api/v1/messages").await;
    assert_eq!(list["unread"], 2);

    let (_, list) = get_json(&store, "/api/v1/search?query=subject:text").await;
    let text_id = list["messages"][0]["ID"].as_str().expect("ID").to_string();
    let (status, json) = get_json(&store, &format!("/api/v1/message/{text_id}/html-check")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["Error"], "message does not contain HTML");

    for uri in [
        "/api/v1/message/00000000-0000-0000-0000-000000000000/html-check",
        "/api/v1/message/not-a-uuid/html-check",
    ] {
        let (status, json) = get_json(&store, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(json["Error"], "message not found", "{uri}");
    }
}

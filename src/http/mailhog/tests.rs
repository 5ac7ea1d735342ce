//! Router tests for MailHog's API: exact JSON shapes, paging, search, downloads and live updates.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use futures_util::StreamExt as _;
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::{AppState, Message, routes, v1_list};
use crate::http::mailpit::model::rfc3339;
use crate::message::{Envelope, StoredMessage};
use crate::store::{Store, StoreLimits};

const SIMPLE: &str = "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.net>\r\nSubject: Hello\r\n\r\nHi Bob!\r\n";

fn store() -> Store {
    Store::new(StoreLimits::default())
}

fn insert(store: &Store, from: &str, rcpts: &[&str], raw: &str) -> Arc<StoredMessage> {
    let envelope = Envelope {
        helo: "client.example".into(),
        mail_from: from.into(),
        rcpt_to: rcpts.iter().map(|r| r.to_string()).collect(),
        ..Envelope::default()
    };
    store
        .insert(StoredMessage::new(envelope, raw.as_bytes().to_vec()))
        .expect("stored")
}

fn simple(store: &Store) -> Arc<StoredMessage> {
    insert(store, "alice@example.com", &["bob@example.net"], SIMPLE)
}

fn app(store: &Store) -> Router {
    Router::new()
        .merge(routes())
        .with_state(AppState::for_store(store.clone()))
}

async fn call(app: Router, method: &str, uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    crate::http::tests::request(app, method, uri, "").await
}

async fn get_json(store: &Store, uri: &str) -> (StatusCode, Value) {
    let (status, headers, body) = call(app(store), "GET", uri).await;
    assert_eq!(
        headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/json"[..]),
        "{uri}"
    );
    let json = serde_json::from_slice(&body).expect("JSON body");
    (status, json)
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items array")
        .iter()
        .map(|m| m["ID"].as_str().expect("ID").to_string())
        .collect()
}

#[tokio::test]
async fn simple_message_is_exactly_mailhogs_json() {
    let store = store();
    let m = simple(&store);
    let (status, _, body) = call(app(&store), "GET", "/api/v2/messages").await;
    assert_eq!(status, StatusCode::OK);
    // Compared as text: key order is part of the contract.
    let expected = r#"{"total":1,"count":1,"start":0,"items":[{"ID":"<id>","From":{"Relays":null,"Mailbox":"alice","Domain":"example.com","Params":""},"To":[{"Relays":null,"Mailbox":"bob","Domain":"example.net","Params":""}],"Content":{"Headers":{"From":["Alice <alice@example.com>"],"Subject":["Hello"],"To":["Bob <bob@example.net>"]},"Body":"Hi Bob!","Size":<size>,"MIME":null},"Created":"<created>","MIME":null,"Raw":{"From":"alice@example.com","To":["bob@example.net"],"Data":"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.net>\r\nSubject: Hello\r\n\r\nHi Bob!","Helo":"client.example"}}]}"#
        .replace("<id>", &m.id.to_string())
        .replace("<created>", &rfc3339(m.created))
        // MailHog's Size counts `Raw.Data`: the message without its last line break.
        .replace("<size>", &(SIMPLE.len() - 2).to_string());
    assert_eq!(String::from_utf8_lossy(&body), expected);

    let (status, one) = get_json(&store, &format!("/api/v1/messages/{}", m.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        one,
        json!({
            "ID": m.id.to_string(),
            "From": {"Relays": null, "Mailbox": "alice", "Domain": "example.com", "Params": ""},
            "To": [{"Relays": null, "Mailbox": "bob", "Domain": "example.net", "Params": ""}],
            "Content": {
                "Headers": {
                    "From": ["Alice <alice@example.com>"],
                    "Subject": ["Hello"],
                    "To": ["Bob <bob@example.net>"],
                },
                "Body": "Hi Bob!",
                "Size": SIMPLE.len() - 2,
                "MIME": null,
            },
            "Created": rfc3339(m.created),
            "MIME": null,
            "Raw": {
                "From": "alice@example.com",
                "To": ["bob@example.net"],
                "Data": SIMPLE.trim_end_matches("\r\n"),
                "Helo": "client.example",
            },
        })
    );
}

#[tokio::test]
async fn envelope_paths_and_headers_as_sent() {
    let store = store();
    let raw = "Received: from a\r\nReceived: from b\r\n\tby c\r\nreceived: lower\r\nSubject: =?UTF-8?B?SMOpbGxv?=\r\n\r\nline 1\nline 2\n";
    let m = insert(
        &store,
        "",
        &["\"odd@local\"@example.com", "postmaster"],
        raw,
    );
    let (_, json) = get_json(&store, &format!("/api/v1/messages/{}", m.id)).await;
    assert_eq!(json["From"], Value::Null, "null sender");
    assert_eq!(json["Raw"]["From"], "");
    assert_eq!(
        json["To"],
        json!([
            {"Relays": null, "Mailbox": "\"odd@local\"", "Domain": "example.com", "Params": ""},
            {"Relays": null, "Mailbox": "postmaster", "Domain": "", "Params": ""},
        ])
    );
    assert_eq!(
        json["Content"]["Headers"],
        json!({
            "Received": ["from a", "from b\tby c"],
            "received": ["lower"],
            "Subject": ["=?UTF-8?B?SMOpbGxv?="],
        }),
        "every value in order, names as sent, values not decoded"
    );
    assert_eq!(json["Content"]["Body"], "line 1\nline 2");
    assert_eq!(json["Raw"]["Data"], raw.trim_end_matches('\n'));

    let m = insert(&store, "a@b", &[], "Subject: no recipients\r\n\r\n");
    let (_, json) = get_json(&store, &format!("/api/v1/messages/{}", m.id)).await;
    assert_eq!(json["To"], Value::Null);
    assert_eq!(json["Raw"]["To"], json!([]));
    assert_eq!(json["Content"]["Body"], "");
}

const ALTERNATIVE: &str = "content-type: multipart/alternative;\r\n boundary=\"=_alt 1\"\r\nSubject: alt\r\n\r\n\
This is a preamble.\r\n\
--=_alt 1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9\r\n\
--=_alt 1\r\nContent-Type: text/html\r\n\r\n<p>Café</p>\r\n\
--=_alt 1--\r\nepilogue\r\n";

#[tokio::test]
async fn lower_case_multipart_is_split_without_bogus_parts() {
    let store = store();
    let m = insert(&store, "a@example.com", &["b@example.com"], ALTERNATIVE);
    let (_, json) = get_json(&store, &format!("/api/v1/messages/{}", m.id)).await;
    assert_eq!(
        json["Content"]["MIME"],
        Value::Null,
        "top-level parts live in MIME"
    );
    assert_eq!(
        json["Content"]["Size"],
        json["Raw"]["Data"]
            .as_str()
            .map(str::len)
            .unwrap_or_default()
    );
    assert_eq!(json["Content"]["Size"], ALTERNATIVE.trim_end().len());
    let plain = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9";
    let html = "Content-Type: text/html\r\n\r\n<p>Café</p>";
    assert_eq!(
        json["MIME"],
        json!({"Parts": [
            {
                "Headers": {
                    "Content-Transfer-Encoding": ["quoted-printable"],
                    "Content-Type": ["text/plain; charset=utf-8"],
                },
                "Body": "Caf=C3=A9",
                "Size": plain.len(),
                "MIME": null,
            },
            {
                "Headers": {"Content-Type": ["text/html"]},
                "Body": "<p>Café</p>",
                "Size": html.len(),
                "MIME": null,
            },
        ]})
    );
}

const MIXED: &str = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n\
--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n\
--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n--inner--\r\n\
--outer\r\nContent-Type: application/pdf; name=\"ignored.pdf\"\r\nContent-Disposition: attachment; filename=\"report \\\"Q1\\\".pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0x\r\nLjQK\r\n\
--outer\r\nContent-Type: text/plain; name*=UTF-8''%E2%82%AC.txt\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E2=82=AC =\r\n10\r\n\
--outer\r\n\r\nno headers\r\n\
--outer--\r\n";

#[tokio::test]
async fn nested_multipart_puts_parts_in_the_part() {
    let store = store();
    let m = insert(&store, "a@example.com", &["b@example.com"], MIXED);
    let (_, json) = get_json(&store, &format!("/api/v1/messages/{}", m.id)).await;
    let parts = json["MIME"]["Parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 4);
    let inner = &parts[0]["MIME"]["Parts"];
    assert_eq!(inner[0]["Body"], "plain");
    assert_eq!(inner[1]["Body"], "<b>html</b>");
    assert_eq!(inner[1]["Headers"]["Content-Type"], json!(["text/html"]));
    assert_eq!(inner.as_array().map(Vec::len), Some(2));
    assert_eq!(
        parts[1]["Headers"]["Content-Disposition"][0],
        "attachment; filename=\"report \\\"Q1\\\".pdf\""
    );
    assert_eq!(parts[1]["Body"], "JVBERi0x\r\nLjQK");
    assert_eq!(parts[1]["MIME"], Value::Null);
    assert_eq!(parts[3]["Headers"], json!({}));
    assert_eq!(parts[3]["Body"], "no headers");
}

#[tokio::test]
async fn part_download_decodes_and_names_the_file() {
    let store = store();
    let m = insert(&store, "a@example.com", &["b@example.com"], MIXED);
    let part = |n: &str| format!("/api/v1/messages/{}/mime/part/{n}/download", m.id);

    let (status, headers, body) = call(app(&store), "GET", &part("1")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"%PDF-1.4\n");
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/pdf; name=\"ignored.pdf\""
    );
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"report _Q1_.pdf\"; filename*=UTF-8''report%20%22Q1%22.pdf"
    );
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");

    let (status, headers, body) = call(app(&store), "GET", &part("2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        "€ 10".as_bytes(),
        "quoted-printable with a soft break"
    );
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"_.txt\"; filename*=UTF-8''%E2%82%AC.txt",
        "Content-Type name in RFC 2231 form"
    );

    let (status, headers, body) = call(app(&store), "GET", &part("3")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"no headers");
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "text/plain; charset=us-ascii"
    );
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"part-3\""
    );

    for bad in ["4", "-1", "x", "99999999999999999999999"] {
        let (status, _, _) = call(app(&store), "GET", &part(bad)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "part {bad}");
    }
    let plain = simple(&store);
    let uris = [
        format!("/api/v1/messages/{}/mime/part/0/download", plain.id),
        format!(
            "/api/v1/messages/{}/mime/part/0/download",
            uuid::Uuid::nil()
        ),
        "/api/v1/messages/nonsense/mime/part/0/download".to_string(),
    ];
    for uri in uris {
        let (status, _, _) = call(app(&store), "GET", &uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[tokio::test]
async fn download_is_byte_exact() {
    let store = store();
    // Bytes MailHog lost when it rebuilt messages: a repeated header, odd case, 8-bit data.
    let raw = "X-A: 1\r\nx-a: 2\r\nSubject: caf\u{e9}\r\n\r\nbody\r\n..not unstuffed twice\r\n";
    let m = insert(&store, "a@example.com", &["b@example.com"], raw);
    let (status, headers, body) = call(
        app(&store),
        "GET",
        &format!("/api/v1/messages/{}/download", m.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, raw.as_bytes());
    assert_eq!(headers[header::CONTENT_TYPE], "message/rfc822");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"{}.eml\"", m.id).as_str()
    );
    let (status, _, _) = call(
        app(&store),
        "GET",
        &format!("/api/v1/messages/{}/download", uuid::Uuid::nil()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn get_unknown_is_null_and_delete_unknown_is_404() {
    let store = store();
    let m = simple(&store);
    for id in [uuid::Uuid::nil().to_string(), "not-an-id".to_string()] {
        let (status, headers, body) =
            call(app(&store), "GET", &format!("/api/v1/messages/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"null");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let (status, _, _) = call(app(&store), "DELETE", &format!("/api/v1/messages/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let uri = format!("/api/v1/messages/{}", m.id);
    let (status, _, body) = call(app(&store), "DELETE", &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.is_empty(), "clients JSON-parse any non-empty body");
    assert!(store.get(&m.id).is_none());
    let (_, _, body) = call(app(&store), "GET", &uri).await;
    assert_eq!(body, b"null");
    let (status, _, _) = call(app(&store), "DELETE", &uri).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn v2_paging() {
    let store = store();
    let mut all: Vec<String> = (0..260)
        .map(|i| {
            insert(
                &store,
                "a@example.com",
                &["b@example.com"],
                &format!("Subject: {i}\r\n\r\n"),
            )
            .id
            .to_string()
        })
        .collect();
    all.reverse();
    let page = |uri: &'static str| {
        let store = store.clone();
        async move { get_json(&store, uri).await.1 }
    };

    let p = page("/api/v2/messages").await;
    assert_eq!(
        (
            p["total"].as_u64(),
            p["count"].as_u64(),
            p["start"].as_u64()
        ),
        (Some(260), Some(50), Some(0))
    );
    assert_eq!(ids(&p), all[..50], "newest first");

    let p = page("/api/v2/messages?start=3&limit=2").await;
    assert_eq!(
        (p["count"].as_u64(), p["start"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(ids(&p), all[3..5]);

    let p = page("/api/v2/messages?limit=1000").await;
    assert_eq!(p["count"], 250, "capped");

    for junk in [
        "start=-4&limit=0",
        "start=x&limit=-3",
        "start=&limit=ten",
        "start=1.5&limit=2.5",
    ] {
        let store = store.clone();
        let (_, p) = get_json(&store, &format!("/api/v2/messages?{junk}")).await;
        assert_eq!(
            (p["count"].as_u64(), p["start"].as_u64()),
            (Some(50), Some(0)),
            "{junk}"
        );
    }

    let p = page("/api/v2/messages?start=260").await;
    assert_eq!(p["items"], json!([]));
    assert_eq!(
        (p["total"].as_u64(), p["count"].as_u64()),
        (Some(260), Some(0))
    );
}

#[tokio::test]
async fn search_kinds() {
    let store = store();
    let a = insert(
        &store,
        "bounce@sender.test",
        &["bob@example.net"],
        "From: =?UTF-8?Q?Andr=C3=A9?= <andre@example.com>\r\nTo: Bob <bob@example.net>\r\nCc: Carol <carol@example.org>\r\n\
         Subject: =?UTF-8?B?RmFjdHVyZSBuwrAgNDI=?=\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe aus K=C3=B6ln\r\n",
    )
    .id
    .to_string();
    let b = insert(
        &store,
        "other@x.test",
        &["dave@example.com"],
        "From: other@x.test\r\nSubject: Plain\r\n\r\nnothing here\r\n",
    )
    .id
    .to_string();

    let cases: &[(&str, &[&String])] = &[
        ("kind=from&query=SENDER.test", &[&a]),
        ("kind=from&query=andre%40", &[&a]),
        ("kind=from&query=Andr%C3%A9", &[&a]),
        ("kind=from&query=bob", &[]),
        ("kind=to&query=bob%40example", &[&a]),
        ("kind=to&query=carol", &[&a]),
        ("kind=to&query=DAVE", &[&b]),
        ("kind=containing&query=k%C3%B6ln", &[&a]),
        ("kind=containing&query=K%3DC3%3DB6ln", &[&a]),
        ("kind=containing&query=facture", &[&a]),
        ("kind=containing&query=NOTHING", &[&b]),
        ("kind=containing&query=text%2Fplain", &[&a]),
        ("kind=containing&query=x.test", &[&b]),
        ("kind=containing&query=e", &[&b, &a]),
        ("kind=containing&query=e&start=1&limit=1", &[&a]),
        ("kind=containing&query=absent", &[]),
    ];
    for (query, expected) in cases {
        let (status, page) = get_json(&store, &format!("/api/v2/search?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let expected: Vec<String> = expected.iter().map(|id| id.to_string()).collect();
        assert_eq!(ids(&page), expected, "{query}");
    }
    let (_, page) = get_json(
        &store,
        "/api/v2/search?kind=containing&query=e&start=1&limit=1",
    )
    .await;
    assert_eq!(
        (
            page["total"].as_u64(),
            page["count"].as_u64(),
            page["start"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );

    for bad in [
        "kind=subject&query=x",
        "kind=FROM&query=x",
        "query=x",
        "kind=from&query=",
        "kind=from",
    ] {
        let (status, json) = get_json(&store, &format!("/api/v2/search?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(json["Error"].is_string(), "{bad}");
    }
}

#[tokio::test]
async fn v1_list_is_a_plain_array_newest_first() {
    let store = store();
    let older = simple(&store);
    let newer = insert(&store, "", &["x@example.com"], "Subject: two\r\n\r\n");
    let state = AppState::for_store(store.clone());
    let app = Router::new()
        .route("/list", axum::routing::get(v1_list))
        .with_state(state);
    let (status, _, body) = call(app, "GET", "/list").await;
    assert_eq!(status, StatusCode::OK);
    let json: Value = serde_json::from_slice(&body).expect("JSON");
    let list = json.as_array().expect("a plain array");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["ID"], newer.id.to_string());
    assert_eq!(list[1]["ID"], older.id.to_string());
    assert_eq!(list[1]["Content"]["Body"], "Hi Bob!", "full messages");
}

#[tokio::test]
async fn main_router_serves_these_routes_without_collisions() {
    let store = store();
    let m = simple(&store);
    let app = crate::http::router(AppState::for_store(store.clone()));
    let (status, _, body) = call(app.clone(), "GET", "/api/v2/messages").await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains(&m.id.to_string()));
    let (status, _, _) = call(app.clone(), "GET", &format!("/api/v1/messages/{}", m.id)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = call(app, "DELETE", &format!("/api/v1/messages/{}", m.id)).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 0));
}

#[tokio::test]
async fn sse_sends_each_new_message_as_one_data_event() {
    let store = store();
    let gone = simple(&store);
    let request = Request::builder()
        .uri("/api/v1/events")
        .body(Body::empty())
        .expect("valid request");
    let response = app(&store).oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();

    // A deletion is not announced; the first event is the message stored after it.
    store.delete_blocking(&[gone.id]);
    let m = insert(&store, "a@example.com", &["b@example.com"], ALTERNATIVE);
    let expected = format!(
        "data: {}\n\n",
        serde_json::to_string(&Message::new(&m)).expect("serializable")
    );

    let mut received = Vec::new();
    while received.len() < expected.len() {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("an event within 5 s")
            .expect("stream open")
            .expect("no error");
        if let Ok(data) = frame.into_data() {
            received.extend_from_slice(&data);
        }
    }
    assert_eq!(String::from_utf8_lossy(&received), expected);
}

#[tokio::test]
async fn websocket_sends_one_text_frame_per_new_message() {
    use tokio_tungstenite::tungstenite::Message as WsMessage;

    let store = store();
    let gone = simple(&store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let server = tokio::spawn(
        axum::serve(
            listener,
            crate::http::router(AppState::for_store(store.clone())),
        )
        .into_future(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/api/v2/websocket"))
        .await
        .expect("WebSocket handshake");

    store.delete_blocking(&[gone.id]);
    let first = simple(&store);
    let second = insert(&store, "", &["b@example.com"], MIXED);
    for m in [first, second] {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("no error");
        let WsMessage::Text(text) = frame else {
            panic!("expected a text frame, got {frame:?}");
        };
        let expected = serde_json::to_string(&Message::new(&m)).expect("serializable");
        assert_eq!(text.as_str(), expected);
    }
    server.abort();
}

#[tokio::test]
async fn deep_nesting_does_not_multiply_the_message_in_json() {
    let store = store();
    let mut raw = String::from("Subject: nested\r\n");
    for level in 0..200 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n"
        ));
    }
    raw.push_str(&format!(
        "Content-Type: text/plain\r\n\r\n{}\r\n",
        "x".repeat(50_000)
    ));
    for level in (0..200).rev() {
        raw.push_str(&format!("--b{level}--\r\n"));
    }
    let m = insert(&store, "a@example.com", &["b@example.com"], &raw);
    let (status, _, body) = call(app(&store), "GET", &format!("/api/v1/messages/{}", m.id)).await;
    assert_eq!(status, StatusCode::OK);
    // Body and Raw.Data hold the message once each, the parts once more, nested multiparts at
    // most 3 times more (JSON escapes add the rest); without the budget each of the 16 levels
    // shown repeats it.
    assert!(
        body.len() < raw.len() * 8,
        "{} bytes of JSON for {} bytes of mail",
        body.len(),
        raw.len()
    );
    // The structure is still there, down to the depth limit.
    let json: Value = serde_json::from_slice(&body).unwrap();
    let mut part = &json["MIME"]["Parts"][0];
    let mut depth = 1;
    while part["MIME"]["Parts"][0].is_object() {
        part = &part["MIME"]["Parts"][0];
        depth += 1;
    }
    assert!(depth >= 10, "{depth} levels shown");
}

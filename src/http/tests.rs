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

async fn call(store: &Store, method: &str, uri: &str, body: &str) -> (StatusCode, Vec<u8>) {
    let app = router(AppState::new(store.clone()));
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_string()))
        .expect("valid request");
    let response = app.oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, bytes.to_vec())
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
        json!({"total":0,"unread":0,"count":0,"messages_count":0,"start":0,"tags":[],"messages":[]})
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
async fn delete_by_ids_or_all_answers_empty_200() {
    let store = store_with(&[b"a\r\n", b"b\r\n", b"c\r\n"]);
    let (_, list) = get_json(&store, "/api/v1/messages").await;
    let first = list["messages"][0]["ID"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body = json!({"IDs": [first, "bogus"]}).to_string();
    let (status, bytes) = call(&store, "DELETE", "/api/v1/messages", &body).await;
    assert_eq!((status, bytes.len()), (StatusCode::OK, 0));
    assert_eq!(store.counts().total, 2);

    let (status, json) = {
        let (s, b) = call(&store, "DELETE", "/api/v1/messages", "{not json").await;
        (
            s,
            serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null),
        )
    };
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        json["Error"]
            .as_str()
            .is_some_and(|e| e.contains("invalid JSON"))
    );
    assert_eq!(store.counts().total, 2, "a bad request deletes nothing");

    let (status, bytes) = call(&store, "DELETE", "/api/v1/messages", "").await;
    assert_eq!((status, bytes.len()), (StatusCode::OK, 0));
    assert_eq!(store.counts().total, 0);
    let (status, _) = call(&store, "DELETE", "/api/v1/messages", r#"{"IDs":[]}"#).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn health_checks() {
    let store = store_with(&[]);
    assert_eq!(call(&store, "GET", "/livez", "").await.0, StatusCode::OK);
    assert_eq!(call(&store, "GET", "/readyz", "").await.0, StatusCode::OK);
}

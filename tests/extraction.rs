//! Links and codes (EXT `GET /api/v1/message/{ID}/extract`) of mail shaped like what apps send:
//! every `tests/fixtures/extract/NAME.eml` is stored and read back through the router; the answer,
//! its ID replaced by `<id>`, must equal `NAME.extract.json`. `UPDATE_GOLDEN=1 cargo test --test
//! extraction` rewrites the expected files (read each against its `.eml` before keeping it).
//! Then the one-request flow: wait for the mail to alice, and get its link.

use std::path::Path;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use mailsnare::http::{AppState, router};
use mailsnare::message::{Envelope, StoredMessage};
use mailsnare::store::Store;

fn envelope(to: &str) -> Envelope {
    Envelope {
        mail_from: "app@example.com".into(),
        rcpt_to: vec![to.into()],
        ..Envelope::default()
    }
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn fixtures_give_their_links_and_codes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/extract");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    names.sort();
    assert!(names.len() >= 6, "the fixtures are there");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for eml in names {
        let store = Store::new(Default::default());
        let app = router(AppState::for_store(store.clone()));
        let raw = std::fs::read(&eml).unwrap();
        let stored = store
            .insert(StoredMessage::new(envelope("x@example.com"), raw))
            .unwrap();
        let (status, mut got) = get(&app, &format!("/api/v1/message/{}/extract", stored.id)).await;
        assert_eq!(status, StatusCode::OK, "{}", eml.display());
        assert_eq!(got["ID"], stored.id.to_string());
        got["ID"] = Value::String("<id>".into());
        assert!(
            !stored.is_read(),
            "extracting does not mark the message read"
        );
        let expected_path = eml.with_extension("extract.json");
        let pretty = serde_json::to_string_pretty(&got).unwrap() + "\n";
        if update {
            std::fs::write(&expected_path, &pretty).unwrap();
            continue;
        }
        let expected: Value = std::fs::read(&expected_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        if expected != got {
            std::fs::write(expected_path.with_extension("json.failed"), &pretty).unwrap();
            failures.push(eml.display().to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "differ from their .extract.json (see .failed): {failures:?}"
    );
}

#[tokio::test]
async fn one_request_waits_for_the_mail_and_gives_its_link() {
    let store = Store::new(Default::default());
    let state = AppState::for_store(store.clone());
    let app = router(state.clone());
    let other = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/extract/02-password-reset.eml"),
    )
    .unwrap();
    store
        .insert(StoredMessage::new(envelope("bob@example.com"), other))
        .unwrap();
    let waiting = {
        let app = app.clone();
        tokio::spawn(async move {
            get(
                &app,
                "/api/v1/message/latest/extract?query=to:alice@example.com&wait=10",
            )
            .await
        })
    };
    // The request counts itself as waiting once it has looked and found nothing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while state.waiting.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request never waited"
        );
        tokio::task::yield_now().await;
    }
    let signup = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/extract/01-sign-up.eml"),
    )
    .unwrap();
    let stored = store
        .insert(StoredMessage::new(envelope("alice@example.com"), signup))
        .unwrap();
    let (status, got) = waiting.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["ID"], stored.id.to_string());
    assert_eq!(
        got["Links"][0]["URL"],
        "https://app.acme.test/confirm?token=abc123&user=42"
    );
    // Nothing for carol arrives: 404 after the wait.
    let (status, _) = get(
        &app,
        "/api/v1/message/latest/extract?query=to:carol@example.com&wait=0.2",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&app, "/api/v1/message/latest/extract?wait=soon").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

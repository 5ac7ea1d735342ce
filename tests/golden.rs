//! The golden corpus: every `tests/fixtures/mail/NAME.eml` is stored in a fresh store and read back
//! through the router (no socket) as Mailpit's full message, list item and headers and as MailHog's
//! Message. Each answer, with its volatile values replaced by placeholders and pretty-printed in
//! wire order, must equal `NAME.<kind>.json`; a mismatch writes `NAME.<kind>.json.failed` beside it.
//!
//! `UPDATE_GOLDEN=1 cargo test --test golden` (re)writes the expected files. That only records what
//! the code does today: read every changed file against the `.eml` and the contracts
//! (../shared/spec/) before keeping it. Some expected files hold hand-corrected values on purpose.
//!
//! `NAME.envelope.json` (`{"helo","mail_from","rcpt_to":[…]}`) gives the SMTP envelope; without it
//! the envelope is [`DEFAULT_ENVELOPE`]. Placeholders: the message ID → `<id>`, its arrival time
//! (`Created`, the envelope's `Received`, and `Date` when the mail has none) → `<created>`.
//!
//! Beyond the golden files, for every fixture: no route answers 5xx, the raw routes return the input
//! bytes exactly, every array of the contracts is an array (never `null`), and every attachment's
//! part route returns bytes matching its `Size` and `MD5`, under its `ContentType` (no charset
//! claimed for a non-text part).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use md5::{Digest, Md5};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use tower::ServiceExt;

use mailsnare::http::{AppState, router};
use mailsnare::message::{Envelope, StoredMessage};
use mailsnare::store::{Store, StoreLimits};

/// The envelope of a fixture without a sidecar file.
const DEFAULT_ENVELOPE: (&str, &str, &[&str]) = (
    "client.example",
    "sender@example.com",
    &["recipient@example.com"],
);

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

/// A JSON value that keeps object keys in wire order (serde_json's `Value` sorts them here), so the
/// golden files show the field order clients see.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn at(&self, path: &[&str]) -> Option<&Json> {
        path.iter().try_fold(self, |v, key| v.get(key))
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Replaces every string equal to a key of `placeholders` by its placeholder.
    fn normalise(&mut self, placeholders: &[(&str, &str)]) {
        match self {
            Json::String(s) => {
                if let Some((_, p)) = placeholders.iter().find(|(v, _)| v == s) {
                    *s = (*p).to_string();
                }
            }
            Json::Array(items) => items.iter_mut().for_each(|v| v.normalise(placeholders)),
            Json::Object(fields) => fields
                .iter_mut()
                .for_each(|(_, v)| v.normalise(placeholders)),
            _ => {}
        }
    }

    fn pretty(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("serializable");
        text.push('\n');
        text
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        struct JsonVisitor;
        impl<'de> Visitor<'de> for JsonVisitor {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Json, E> {
                serde_json::Number::from_f64(n)
                    .map(Json::Number)
                    .ok_or_else(|| E::custom("non-finite number"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Json>()? {
                    fields.push(entry);
                }
                Ok(Json::Object(fields))
            }
        }
        deserializer.deserialize_any(JsonVisitor)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// The router's answer to one GET.
struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: Vec<u8>,
}

async fn get(store: &Store, uri: &str) -> Answer {
    let request = Request::builder()
        .uri(uri)
        .body(Body::empty())
        .expect("valid request");
    let response = router(AppState::for_store(store.clone()))
        .oneshot(request)
        .await
        .expect("the router is infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

/// Collects problems for one fixture, so one run reports all of them.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }
}

/// GETs `uri` and parses it as JSON; records a problem (and gives `Null`) unless it is a 200.
async fn get_json(store: &Store, uri: &str, problems: &mut Problems) -> Json {
    let answer = get(store, uri).await;
    problems.check(answer.status == StatusCode::OK, || {
        format!("GET {uri} answered {}", answer.status)
    });
    serde_json::from_slice(&answer.body).unwrap_or_else(|e| {
        problems.0.push(format!("GET {uri}: not JSON ({e})"));
        Json::Null
    })
}

fn envelope_for(name: &str) -> Envelope {
    let path = fixture_dir().join(format!("{name}.envelope.json"));
    let (helo, mail_from, rcpt_to) = match std::fs::read(&path) {
        Ok(bytes) => {
            let v: serde_json::Value =
                serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            let text = |key: &str| v[key].as_str().unwrap_or_default().to_string();
            let rcpt_to = v["rcpt_to"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            (text("helo"), text("mail_from"), rcpt_to)
        }
        Err(_) => {
            let (helo, from, to) = DEFAULT_ENVELOPE;
            (
                helo.to_string(),
                from.to_string(),
                to.iter().map(|s| s.to_string()).collect(),
            )
        }
    };
    Envelope {
        helo,
        esmtp: true,
        mail_from,
        rcpt_to,
        ..Envelope::default()
    }
}

/// Records a problem for each of `keys` of `object` that is not a JSON array.
fn arrays(object: Option<&Json>, keys: &[&str], context: &str, problems: &mut Problems) {
    for key in keys {
        let value = object.and_then(|o| o.get(key));
        problems.check(matches!(value, Some(Json::Array(_))), || {
            format!("{context}.{key} must be an array, got {value:?}")
        });
    }
}

/// Every header value list of a Mailpit headers map or a MailHog `Headers` object is an array of
/// strings.
fn header_arrays(headers: Option<&Json>, context: &str, problems: &mut Problems) {
    match headers {
        Some(Json::Object(fields)) => {
            for (name, values) in fields {
                let ok = values
                    .as_array()
                    .is_some_and(|v| v.iter().all(|s| s.as_str().is_some()));
                problems.check(ok, || {
                    format!("{context}[{name:?}] must be an array of strings, got {values:?}")
                });
            }
        }
        other => problems
            .0
            .push(format!("{context} must be an object, got {other:?}")),
    }
}

/// A MailHog `Content` (or the parts under it): headers are arrays, `MIME` is null or has `Parts`.
fn mailhog_content_arrays(content: &Json, context: &str, problems: &mut Problems) {
    header_arrays(
        content.get("Headers"),
        &format!("{context}.Headers"),
        problems,
    );
    mailhog_mime_arrays(content.get("MIME"), &format!("{context}.MIME"), problems);
}

fn mailhog_mime_arrays(mime: Option<&Json>, context: &str, problems: &mut Problems) {
    match mime {
        Some(Json::Null) => {}
        Some(mime) => match mime.get("Parts").and_then(Json::as_array) {
            Some(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    mailhog_content_arrays(part, &format!("{context}.Parts[{i}]"), problems);
                }
            }
            None => problems
                .0
                .push(format!("{context}.Parts must be an array, got {mime:?}")),
        },
        None => problems.0.push(format!("{context} is missing")),
    }
}

/// Compares `actual` with the expected file `NAME.<kind>.json`, writing it under `UPDATE_GOLDEN`
/// and a `.failed` file beside it on a mismatch.
fn compare(name: &str, kind: &str, actual: &Json, update: bool, failures: &mut Vec<String>) {
    let expected_path = fixture_dir().join(format!("{name}.{kind}.json"));
    let failed_path = fixture_dir().join(format!("{name}.{kind}.json.failed"));
    let text = actual.pretty();
    if update {
        std::fs::write(&expected_path, &text).expect("write the expected file");
        let _ = std::fs::remove_file(&failed_path);
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    if expected == text {
        let _ = std::fs::remove_file(&failed_path);
        return;
    }
    std::fs::write(&failed_path, &text).expect("write the .failed file");
    let relative = |p: &Path| {
        p.strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let mut message = format!(
        "{}: mismatch; see: diff -u {} {}",
        relative(&expected_path),
        relative(&expected_path),
        relative(&failed_path)
    );
    if expected.is_empty() {
        message.push_str(" (no expected file: run with UPDATE_GOLDEN=1, then review it)");
    }
    failures.push(message);
}

/// Checks one fixture; returns its problems and golden mismatches.
async fn check_fixture(name: &str, update: bool) -> Vec<String> {
    let raw = std::fs::read(fixture_dir().join(format!("{name}.eml"))).expect("read fixture");
    let store = Store::new(StoreLimits::default());
    let stored = store
        .insert(StoredMessage::new(envelope_for(name), raw.clone()))
        .expect("stored");
    let id = stored.id.to_string();
    let mut problems = Problems::default();
    let mut failures = Vec::new();

    // The list first: reading the full message marks it read.
    let list = get_json(&store, "/api/v1/messages", &mut problems).await;
    problems.check(list.get("total").and_then(Json::as_u64) == Some(1), || {
        format!("list total must be 1: {list:?}")
    });
    arrays(Some(&list), &["tags", "messages"], "list", &mut problems);
    let mut summary = list
        .get("messages")
        .and_then(Json::as_array)
        .and_then(|m| m.first())
        .cloned()
        .unwrap_or(Json::Null);
    arrays(
        Some(&summary),
        &["To", "Cc", "Bcc", "ReplyTo", "Tags"],
        "summary",
        &mut problems,
    );
    problems.check(
        summary.get("ID").and_then(Json::as_str) == Some(&id),
        || format!("the list item's ID is not {id}"),
    );
    let created = summary
        .get("Created")
        .and_then(Json::as_str)
        .unwrap_or("<no Created>")
        .to_string();
    // Mailpit's objects carry the arrival time to the millisecond, MailHog's to the nanosecond.
    let exact = stored
        .created
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    problems.check(
        // `…:42.148Z`: at most three digits before the zone.
        created
            .split_once('.')
            .is_none_or(|(_, fraction)| fraction.len() <= 4),
        || format!("Mailpit's Created has more than milliseconds: {created}"),
    );
    let placeholders = [
        (id.as_str(), "<id>"),
        (created.as_str(), "<created>"),
        (exact.as_str(), "<created>"),
    ];

    let mut headers = get_json(
        &store,
        &format!("/api/v1/message/{id}/headers"),
        &mut problems,
    )
    .await;
    header_arrays(Some(&headers), "headers", &mut problems);

    let mut mailhog = get_json(&store, &format!("/api/v1/messages/{id}"), &mut problems).await;
    if let Some(content) = mailhog.get("Content") {
        mailhog_content_arrays(content, "MailHog.Content", &mut problems);
    }
    mailhog_mime_arrays(mailhog.get("MIME"), "MailHog.MIME", &mut problems);
    arrays(mailhog.get("Raw"), &["To"], "MailHog.Raw", &mut problems);
    problems.check(
        matches!(mailhog.get("To"), Some(Json::Array(_) | Json::Null)),
        || "MailHog.To must be an array or null".into(),
    );
    let expected_data = String::from_utf8_lossy(
        raw.strip_suffix(b"\r\n")
            .or_else(|| raw.strip_suffix(b"\n"))
            .unwrap_or(&raw),
    )
    .into_owned();
    problems.check(
        mailhog.at(&["Raw", "Data"]).and_then(Json::as_str) == Some(&expected_data),
        || "MailHog Raw.Data must be the message without its final CRLF".into(),
    );

    let mut message = get_json(&store, &format!("/api/v1/message/{id}"), &mut problems).await;
    arrays(
        Some(&message),
        &[
            "To",
            "Cc",
            "Bcc",
            "ReplyTo",
            "Tags",
            "Inline",
            "Attachments",
        ],
        "message",
        &mut problems,
    );
    arrays(
        message.get("ListUnsubscribe"),
        &["Links"],
        "message.ListUnsubscribe",
        &mut problems,
    );

    // The raw bytes, exactly, from both APIs.
    for uri in [
        format!("/api/v1/message/{id}/raw"),
        format!("/api/v1/message/{id}/raw?dl=1"),
        format!("/api/v1/messages/{id}/download"),
    ] {
        let answer = get(&store, &uri).await;
        problems.check(answer.status == StatusCode::OK, || {
            format!("GET {uri} answered {}", answer.status)
        });
        problems.check(answer.body == raw, || {
            format!("GET {uri} did not return the input bytes exactly")
        });
    }

    // Every attachment and inline part is served by its PartID with the advertised size and MD5.
    for list_name in ["Inline", "Attachments"] {
        for attachment in message
            .get(list_name)
            .and_then(Json::as_array)
            .unwrap_or(&[])
        {
            let part_id = attachment
                .get("PartID")
                .and_then(Json::as_str)
                .unwrap_or("");
            let uri = format!("/api/v1/message/{id}/part/{part_id}");
            let answer = get(&store, &uri).await;
            problems.check(answer.status == StatusCode::OK, || {
                format!("GET {uri} answered {}", answer.status)
            });
            let content_type = answer.content_type.as_deref().unwrap_or_default();
            let declared = attachment
                .get("ContentType")
                .and_then(Json::as_str)
                .unwrap_or("");
            let media_type = content_type.split(';').next().unwrap_or_default().trim();
            problems.check(
                media_type.eq_ignore_ascii_case(declared)
                    && (declared.starts_with("text/") || !content_type.contains("charset=")),
                || format!("GET {uri}: Content-Type {content_type:?} for a {declared} part"),
            );
            let size = attachment.get("Size").and_then(Json::as_u64);
            let md5 = attachment.at(&["Checksums", "MD5"]).and_then(Json::as_str);
            let got_md5 = Md5::digest(&answer.body)
                .iter()
                .fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                });
            problems.check(
                size == Some(answer.body.len() as u64) && md5 == Some(got_md5.as_str()),
                || {
                    format!(
                        "GET {uri}: {} bytes md5 {got_md5}, but {list_name} says Size {size:?} MD5 {md5:?}",
                        answer.body.len()
                    )
                },
            );
        }
    }

    // No route answers 5xx on this message, however malformed.
    let parts = mailhog
        .at(&["MIME", "Parts"])
        .and_then(Json::as_array)
        .map_or(0, <[Json]>::len);
    let mut uris = vec![
        format!("/view/{id}.html"),
        format!("/view/{id}.txt"),
        "/api/v2/messages".to_string(),
        "/api/v2/search?kind=containing&query=a".to_string(),
        "/api/v1/search?query=a".to_string(),
        "/api/v1/message/latest".to_string(),
        format!("/api/v1/message/{id}/part/1"),
        format!("/api/v1/message/{id}/part/0"),
        format!("/api/v1/messages/{id}/mime/part/{parts}/download"),
    ];
    uris.extend((0..parts).map(|n| format!("/api/v1/messages/{id}/mime/part/{n}/download")));
    for uri in uris {
        let status = get(&store, &uri).await.status;
        problems.check(!status.is_server_error(), || {
            format!("GET {uri} answered {status}")
        });
    }

    summary.normalise(&placeholders);
    headers.normalise(&placeholders);
    message.normalise(&placeholders);
    mailhog.normalise(&placeholders);
    compare(name, "mailpit", &message, update, &mut failures);
    compare(name, "summary", &summary, update, &mut failures);
    compare(name, "headers", &headers, update, &mut failures);
    compare(name, "mailhog", &mailhog, update, &mut failures);

    failures.extend(
        problems
            .0
            .into_iter()
            .map(|p| format!("{name}.eml: {}", p.replace(&id, "<id>"))),
    );
    failures
}

#[tokio::test]
async fn golden_corpus() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("tests/fixtures/mail exists")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "eml").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no fixtures found");
    let mut failures = Vec::new();
    for name in &names {
        failures.extend(check_fixture(name, update).await);
    }
    assert!(
        failures.is_empty(),
        "{} of the golden checks over {} fixtures failed:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}

//! Keeps `src/http/openapi.json` (served at `GET /api/v1/openapi.json`) true to the server:
//!
//! - the document is OpenAPI 3.0.x, served byte for byte, its version is the crate's, every `$ref`
//!   resolves, every path parameter is declared, and its schemas use only keywords and formats the
//!   `jsonschema` validation below checks (so no constraint is silently unchecked), say on every
//!   object whether extra keys are allowed, and all compile;
//! - its paths and methods equal [`ROUTES`], the hand-kept list, which equals the native routes
//!   registered in `src/http/mod.rs`; probing the router shows every documented method served
//!   (a real message ID, so "not found" cannot hide "not routed") and every other method 405;
//! - real responses (list, search, every fixture message with its headers, raw source, parts and
//!   views, `latest` and the wait parameters, info, chaos, send, health, metrics and the error
//!   bodies) have a documented status and media type and validate against the documented schema;
//! - live-update frames over a real WebSocket validate against `LiveEvent`;
//! - the validation itself rejects drifted JSON (missing, extra, mistyped and null keys).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Registry, ValidationError};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

use mailsnare::checks::address_policy::{AddressPolicy, Lookup, Resolver};
use mailsnare::checks::links::{LinkCheckConfig, LinkChecker};
use mailsnare::checks::spam::{SpamConfig, Spamd};
use mailsnare::http::{AppState, router};
use mailsnare::message::{Envelope, StoredMessage};
use mailsnare::store::{Store, StoreLimits};

const DOC_TEXT: &str = include_str!("../src/http/openapi.json");
/// The route tables: the main one and the native API's (MailHog's are not in the document).
const ROUTER_SOURCE: &[&str] = &[
    include_str!("../src/http/mod.rs"),
    include_str!("../src/http/mailpit/mod.rs"),
];

/// The native API, by hand: it must equal the document's paths and the router's native routes.
const ROUTES: &[(&str, &[&str])] = &[
    ("/api/v1/messages", &["get", "put", "delete"]),
    ("/api/v1/search", &["get", "delete"]),
    ("/api/v1/mailboxes", &["get"]),
    ("/api/v1/mailboxes/{Name}", &["put", "delete"]),
    ("/api/v1/message/{ID}", &["get"]),
    ("/api/v1/message/{ID}/headers", &["get"]),
    ("/api/v1/message/{ID}/envelope", &["get"]),
    ("/api/v1/message/{ID}/raw", &["get"]),
    ("/api/v1/message/{ID}/part/{PartID}", &["get"]),
    ("/api/v1/message/{ID}/part/{PartID}/thumb", &["get"]),
    ("/api/v1/message/{ID}/html-check", &["get"]),
    ("/api/v1/message/{ID}/release", &["post"]),
    ("/api/v1/message/{ID}/link-check", &["get"]),
    ("/api/v1/message/{ID}/extract", &["get"]),
    ("/api/v1/message/{ID}/sa-check", &["get"]),
    ("/api/v1/send", &["post"]),
    ("/api/v1/tags", &["get", "put"]),
    ("/api/v1/tags/{tag}", &["put", "delete"]),
    ("/api/v1/info", &["get"]),
    ("/api/v1/webui", &["get"]),
    ("/api/v1/about", &["get"]),
    ("/api/v1/webhooks", &["get"]),
    ("/api/v1/chaos", &["get", "put"]),
    ("/api/v1/openapi.json", &["get"]),
    ("/view/{file}", &["get"]),
    ("/livez", &["get"]),
    ("/readyz", &["get"]),
    ("/metrics", &["get"]),
    ("/api/events", &["get"]),
];

/// Route prefixes the document covers; MailHog's routes live in `src/http/mailhog/`.
const NATIVE_PREFIXES: &[&str] = &[
    "/api/v1/",
    "/view/",
    "/livez",
    "/readyz",
    "/metrics",
    "/api/events",
];

const METHODS: &[&str] = &["get", "post", "put", "delete", "patch"];

fn doc() -> Value {
    serde_json::from_str(DOC_TEXT).expect("openapi.json is JSON")
}

// ---------------------------------------------------------------------------------------------
// Validating replies with `jsonschema`. An OpenAPI 3.0 schema is a draft 4 schema plus
// `nullable`, which `to_json_schema` rewrites in a copy of the document. `jsonschema` ignores
// keywords it does not know, so `check_keywords` refuses every keyword not listed here: nothing
// the document says goes silently unchecked.

/// Keywords with a meaning `jsonschema` checks (`nullable` once rewritten), and annotations that
/// constrain nothing.
const CHECKED: &[&str] = &[
    "$ref",
    "type",
    "nullable",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "allOf",
    "oneOf",
    "enum",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "format",
];
const ANNOTATIONS: &[&str] = &["description", "example", "default", "title"];
const TYPES: &[&str] = &["object", "array", "string", "integer", "number", "boolean"];
/// Formats with a check: `date-time` and `email` are draft 4's, the others [`options`] adds.
const FORMATS: &[&str] = &["uuid", "date-time", "binary", "byte", "email"];
/// The URI the rewritten document is registered under, for `$ref`s into it.
const DOC_URI: &str = "urn:mailsnare:openapi";

fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local $refs: {reference}"));
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("$ref {reference} resolves to nothing"))
}

/// Checks a schema's own keywords (not its subschemas) are ones the validation checks.
fn check_keywords(schema: &Value, at: &str) {
    let object = schema
        .as_object()
        .unwrap_or_else(|| panic!("{at}: a schema must be an object"));
    if object.contains_key("$ref") {
        assert_eq!(object.len(), 1, "{at}: $ref siblings are ignored in 3.0");
    }
    for key in object.keys() {
        assert!(
            CHECKED.contains(&key.as_str()) || ANNOTATIONS.contains(&key.as_str()),
            "{at}: the test's validation does not check keyword {key:?}"
        );
    }
    if let Some(kind) = object.get("type") {
        assert!(
            TYPES.contains(&kind.as_str().unwrap_or_default()),
            "{at}: unknown type {kind}"
        );
    }
    if let Some(format) = object.get("format") {
        assert!(
            FORMATS.contains(&format.as_str().unwrap_or_default()),
            "{at}: unknown format {format}"
        );
    }
    if let Some(pattern) = object.get("pattern") {
        assert!(pattern.is_string(), "{at}: pattern {pattern}");
    }
    if object.get("type") == Some(&json!("object")) {
        assert!(
            object.contains_key("additionalProperties"),
            "{at}: say whether extra keys are allowed (additionalProperties)"
        );
    }
}

/// Walks every schema in the document (components, parameters, bodies, responses).
fn walk_schemas(doc: &Value, schema: &Value, at: &str, seen: &mut usize) {
    check_keywords(schema, at);
    *seen += 1;
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        resolve(doc, reference);
        return;
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub @ Value::Object(_)) = schema.get(key) {
            walk_schemas(doc, sub, &format!("{at}/{key}"), seen);
        }
    }
    for key in ["allOf", "oneOf"] {
        for (i, sub) in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            walk_schemas(doc, sub, &format!("{at}/{key}/{i}"), seen);
        }
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in properties {
            walk_schemas(doc, sub, &format!("{at}/properties/{name}"), seen);
        }
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = required.as_str().unwrap_or_default();
            assert!(
                properties.contains_key(name),
                "{at}: required {name:?} is not a property"
            );
        }
    }
}

fn all_schemas_in(doc: &Value, value: &Value, at: &str, seen: &mut usize) {
    match value {
        Value::Object(object) => {
            for (key, sub) in object {
                let here = format!("{at}/{key}");
                if key == "schema" {
                    walk_schemas(doc, sub, &here, seen);
                } else if key == "$ref" {
                    resolve(doc, sub.as_str().unwrap_or_default());
                } else {
                    all_schemas_in(doc, sub, &here, seen);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                all_schemas_in(doc, item, &format!("{at}/{i}"), seen);
            }
        }
        _ => {}
    }
}

/// Checks the keywords of every schema in `doc` and that every `$ref` resolves; the number walked.
fn check_document_schemas(doc: &Value) -> usize {
    let mut seen = 0;
    all_schemas_in(doc, &doc["paths"], "#/paths", &mut seen);
    for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
        walk_schemas(
            doc,
            schema,
            &format!("#/components/schemas/{name}"),
            &mut seen,
        );
    }
    all_schemas_in(
        doc,
        &doc["components"]["parameters"],
        "#/components/parameters",
        &mut seen,
    );
    seen
}

/// Rewrites `schema` and its subschemas from OpenAPI 3.0 to JSON Schema (draft 4), keeping what
/// `nullable` means: `{"type": T, "nullable": true}` becomes `{"type": [T, "null"]}` (an `enum`
/// still has to list null, as in OpenAPI 3.0.3); a nullable schema without a `type` becomes
/// `{"anyOf": [{"type": "null"}, …]}`; a schema without `type`, `$ref` or `nullable` gets
/// `"not": {"type": "null"}`, since null is only valid where the document says `nullable`.
fn to_json_schema(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    for key in ["items", "additionalProperties"] {
        if let Some(sub @ Value::Object(_)) = object.get_mut(key) {
            to_json_schema(sub);
        }
    }
    for key in ["allOf", "oneOf"] {
        for sub in object
            .get_mut(key)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            to_json_schema(sub);
        }
    }
    if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
        properties.values_mut().for_each(to_json_schema);
    }
    if object.contains_key("$ref") {
        return;
    }
    let nullable = object.remove("nullable") == Some(Value::Bool(true));
    match object.get("type").cloned() {
        Some(kind) if nullable => {
            object.insert("type".into(), json!([kind, "null"]));
        }
        Some(_) => {}
        None if nullable => {
            let rest = schema.take();
            *schema = json!({ "anyOf": [{ "type": "null" }, rest] });
        }
        None => {
            object.insert("not".into(), json!({ "type": "null" }));
        }
    }
}

/// [`to_json_schema`] on every `schema` under `value`.
fn to_json_schema_in(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, sub) in object {
                if key == "schema" {
                    to_json_schema(sub);
                } else {
                    to_json_schema_in(sub);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_json_schema_in),
        _ => {}
    }
}

/// `token` escaped for a JSON pointer.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// `pointer` as a URI fragment: percent-encoded but for the characters a fragment may hold.
fn fragment(pointer: &str) -> String {
    pointer
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'!' | b'$' => {
                (b as char).to_string()
            }
            b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':' | b'@' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The JSON pointers (`#/…`) of every `schema` under `value`, which is at `pointer`.
fn schema_pointers(value: &Value, pointer: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            for (key, sub) in object {
                let here = format!("{pointer}/{}", escape(key));
                if key == "schema" {
                    out.push(here);
                } else {
                    schema_pointers(sub, &here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                schema_pointers(item, &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Draft 4 with every format of [`FORMATS`] checked and any other refused when compiling.
/// `uuid` is not a draft 4 format and `byte` and `binary` are OpenAPI's, so they are added here.
fn options<'a>(registry: &'a Registry<'a>) -> jsonschema::ValidationOptions<'a> {
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .with_registry(registry)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .with_format("uuid", |s: &str| Uuid::parse_str(s).is_ok())
        .with_format("byte", |s: &str| {
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, s).is_ok()
        })
        // Raw bytes: a body of this format is not JSON and `check` does not validate it.
        .with_format("binary", |_: &str| true)
}

/// Every schema of the document, made JSON Schema and compiled, by JSON pointer (`#/…`).
struct Schemas(HashMap<String, jsonschema::Validator>);

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| {
    let doc = doc();
    check_document_schemas(&doc);
    let mut pointers: Vec<String> = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
        .map(|name| format!("#/components/schemas/{}", escape(name)))
        .collect();
    schema_pointers(&doc["paths"], "#/paths", &mut pointers);
    schema_pointers(
        &doc["components"]["parameters"],
        "#/components/parameters",
        &mut pointers,
    );
    let mut json_schema = doc;
    to_json_schema_in(&mut json_schema["paths"]);
    to_json_schema_in(&mut json_schema["components"]["parameters"]);
    for schema in json_schema["components"]["schemas"]
        .as_object_mut()
        .expect("schemas")
        .values_mut()
    {
        to_json_schema(schema);
    }
    let registry = Registry::new()
        .draft(Draft::Draft4)
        .add(DOC_URI, json_schema)
        .and_then(|builder| builder.prepare())
        .expect("the document is a resource");
    let validators = pointers
        .into_iter()
        .map(|pointer| {
            let root = json!({ "$ref": format!("{DOC_URI}#{}", fragment(&pointer[1..])) });
            let validator = options(&registry)
                .build(&root)
                .unwrap_or_else(|e| panic!("{pointer} does not compile: {e}"));
            (pointer, validator)
        })
        .collect();
    Schemas(validators)
});

/// One line per way `error` (and, for `anyOf`/`oneOf`, each option's errors) breaks the schema:
/// where in the instance, what was expected, and the keyword that said so.
fn describe(error: &ValidationError<'_>, prefix: &str, out: &mut Vec<String>) {
    let at = error.instance_path().as_str();
    let keyword = error.absolute_keyword_location().map_or_else(
        || error.schema_path().to_string(),
        |uri| uri.as_str().trim_start_matches(DOC_URI).to_string(),
    );
    out.push(format!(
        "{prefix}{}: {error} ({keyword})",
        if at.is_empty() { "(root)" } else { at }
    ));
    if let ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } =
        error.kind()
    {
        for (i, option) in context.iter().enumerate() {
            for sub in option {
                describe(sub, &format!("{prefix}  option {i}: "), out);
            }
        }
    }
}

/// Every way `value` breaks the document's schema at `schema`, a JSON pointer (`#/…`).
fn errors_for(schema: &str, value: &Value) -> Vec<String> {
    let validator = SCHEMAS
        .0
        .get(schema)
        .unwrap_or_else(|| panic!("the document has no schema at {schema}"));
    let mut errors = Vec::new();
    for error in validator.iter_errors(value) {
        describe(&error, "", &mut errors);
    }
    errors
}

fn schema_ref(name: &str) -> String {
    format!("#/components/schemas/{name}")
}

// ---------------------------------------------------------------------------------------------
// Calling the router and checking replies against the document.

#[derive(Debug)]
struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn call(state: &AppState, method: &str, uri: &str, body: Option<&str>) -> Reply {
    let mut request = Request::builder()
        .method(method.to_ascii_uppercase().as_str())
        .uri(uri);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(Body::from(body.unwrap_or_default().to_string()))
        .expect("valid request");
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Reply {
        status,
        content_type,
        body,
    }
}

/// Counts what the checks covered, so a test can insist the interesting cases were reached.
#[derive(Debug, Default)]
struct Coverage {
    /// `METHOD template status` of every checked reply.
    replies: BTreeSet<String>,
    /// Component schema names that validated a reply body.
    schemas: BTreeMap<String, usize>,
}

/// Asserts `reply` is documented for `method template` (status and media type) and, for JSON and
/// enumerated text, validates the body against the documented schema. Returns parsed JSON bodies.
fn check(doc: &Value, cov: &mut Coverage, method: &str, template: &str, reply: &Reply) -> Value {
    let operation = &doc["paths"][template][method];
    assert!(
        operation.is_object(),
        "{method} {template} is not in the document"
    );
    let status = reply.status.as_str();
    let response = &operation["responses"][status];
    assert!(
        response.is_object(),
        "{method} {template} answered {status}, which the document does not list: {}",
        reply.text()
    );
    cov.replies.insert(format!("{method} {template} {status}"));
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        assert!(
            reply.body.is_empty(),
            "{method} {template} {status}: documented without a body, got {:?}",
            reply.text()
        );
        return Value::Null;
    };
    let media = reply
        .content_type
        .as_deref()
        .unwrap_or_else(|| panic!("{method} {template} {status}: no Content-Type"))
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let media_key = if content.contains_key(&media) {
        media.as_str()
    } else if content.contains_key("*/*") {
        "*/*"
    } else {
        panic!(
            "{method} {template} {status}: media type {media} is not documented ({:?})",
            content.keys().collect::<Vec<_>>()
        )
    };
    let schema = &content[media_key]["schema"];
    let pointer = format!(
        "#/paths/{}/{method}/responses/{status}/content/{}/schema",
        escape(template),
        escape(media_key)
    );
    let value = if media == "application/json" {
        serde_json::from_slice(&reply.body).unwrap_or_else(|e| {
            panic!(
                "{method} {template} {status}: not JSON ({e}): {}",
                reply.text()
            )
        })
    } else if schema.get("format") == Some(&json!("binary")) {
        return Value::Null;
    } else {
        Value::String(
            String::from_utf8(reply.body.clone())
                .unwrap_or_else(|_| panic!("{method} {template} {status}: text is not UTF-8")),
        )
    };
    let errors = errors_for(&pointer, &value);
    assert!(
        errors.is_empty(),
        "{method} {template} {status} does not match the document:\n  {}\nbody: {value}",
        errors.join("\n  ")
    );
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
    {
        *cov.schemas.entry(name.to_string()).or_default() += 1;
    }
    value
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

fn fixture_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail")
}

/// Every `tests/fixtures/mail/*.eml`, with its envelope sidecar when there is one, and connection
/// facts varied so that TLS, AUTH, SMTPUTF8 and client addresses all appear.
fn fixture_messages() -> Vec<(String, StoredMessage)> {
    let mut names: Vec<_> = std::fs::read_dir(fixture_dir())
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 10,
        "expected the fixture corpus, got {names:?}"
    );
    names
        .iter()
        .enumerate()
        .map(|(i, path)| {
            let raw = std::fs::read(path).expect("read fixture");
            let sidecar: Value = std::fs::read(path.with_extension("envelope.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            let text =
                |key: &str, default: &str| sidecar[key].as_str().unwrap_or(default).to_string();
            let rcpt_to = sidecar["rcpt_to"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_else(|| vec!["recipient@example.com".to_string()]);
            let envelope = Envelope {
                helo: text("helo", "client.example"),
                esmtp: i % 2 == 0,
                mail_from: text("mail_from", "sender@example.com"),
                rcpt_to,
                client_addr: (i % 3 != 0)
                    .then(|| SocketAddr::from(([192, 0, 2, 7], 40000 + i as u16))),
                auth_user: (i % 4 == 1).then(|| format!("user{i}")),
                tls: (i % 2 == 1).then(|| "TLSv1.3".to_string()),
                smtputf8: i % 5 == 0,
                ..Envelope::default()
            };
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, StoredMessage::new(envelope, raw))
        })
        .collect()
}

fn simple(subject: &str) -> StoredMessage {
    let envelope = Envelope {
        mail_from: "from@example.com".into(),
        rcpt_to: vec!["to@example.com".into()],
        ..Envelope::default()
    };
    let raw = format!(
        "From: A <a@example.com>\r\nTo: to@example.com\r\nSubject: {subject}\r\n\r\nbody\r\n"
    );
    StoredMessage::new(envelope, raw.into_bytes())
}

/// Gives every name a documentation address, which the offline policy refuses anyway.
struct Nowhere;

impl Resolver for Nowhere {
    fn lookup(&self, _host: &str) -> Lookup {
        Box::pin(async { Ok(vec!["192.0.2.1".parse().expect("an address")]) })
    }
}

/// `state` with checks that send nothing anywhere: the link check refuses every address (no
/// connection is tried, no name leaves the process) and the spam check asks a spamd at a socket
/// path that does not exist, so its 200-with-`Error` answer can be checked.
fn offline_checks(mut state: AppState) -> AppState {
    state.checks = std::sync::Arc::new(mailsnare::checks::Checks {
        links: LinkChecker::with_parts(
            LinkCheckConfig::default(),
            AddressPolicy::with_classifier(false, |_| Some("refused by the test")),
            std::sync::Arc::new(Nowhere),
        ),
        spamassassin: Some(SpamConfig::new(Spamd::Unix(
            "/nonexistent/mailsnare-test/spamd.sock".into(),
        ))),
    });
    state
}

/// A store with a couple of simple messages; the newest one's ID.
fn small_store() -> (AppState, Uuid) {
    let store = Store::new(StoreLimits::default());
    store.insert(simple("first")).expect("stored");
    let newest = store.insert(simple("second")).expect("stored");
    store.set_tags_blocking(&[newest.id], &["probe".to_string()]);
    let state = offline_checks(AppState::for_store(store));
    state.mailboxes.get_or_create("probe").expect("a mailbox");
    (state, newest.id)
}

/// `template` with its parameters filled in for `id`.
fn concrete(template: &str, id: Uuid) -> String {
    template
        .replace("{ID}", &id.to_string())
        .replace("{PartID}", "1")
        .replace("{file}", &format!("{id}.txt"))
        .replace("{tag}", "probe")
        .replace("{Name}", "probe")
}

/// Route paths with parameter names erased: `/a/{id}` and `/a/{ID}` are the same route.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// The literal paths of `.route("…", …)` calls in the router's source.
fn router_source_routes() -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for source in ROUTER_SOURCE {
        let mut rest = *source;
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let trimmed = rest.trim_start();
            if let Some(literal) = trimmed.strip_prefix('"')
                && let Some(end) = literal.find('"')
            {
                routes.insert(literal[..end].to_string());
            }
        }
    }
    routes
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn document_is_openapi_3_0_and_well_formed() {
    let doc = doc();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.0.")),
        "not OpenAPI 3.0.x: {}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(doc["info"]["title"].is_string());
    let paths = doc["paths"].as_object().expect("paths");
    assert!(!paths.is_empty(), "no paths documented");

    // Served verbatim.
    let (state, _) = small_store();
    let reply = call(&state, "get", "/api/v1/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, DOC_TEXT.as_bytes());
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));

    // Every schema uses keywords the validation checks, and every $ref resolves.
    let seen = check_document_schemas(&doc);
    assert!(seen > 100, "walked only {seen} schemas");
    // And every one compiles (formats known, patterns valid): the components, bodies, parameters.
    let components = doc["components"]["schemas"].as_object().expect("schemas");
    for name in components.keys() {
        assert!(SCHEMAS.0.contains_key(&schema_ref(name)), "{name}");
    }
    assert!(
        SCHEMAS.0.len() > components.len() + 40,
        "compiled only {} schemas",
        SCHEMAS.0.len()
    );

    let mut operation_ids = BTreeSet::new();
    for (template, item) in paths {
        assert!(template.starts_with('/'), "{template}");
        // Path-level and operation-level parameters, resolved.
        let declared = |operation: &Value| -> BTreeSet<String> {
            item.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .chain(
                    operation
                        .get("parameters")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten(),
                )
                .map(|p| match p.get("$ref").and_then(Value::as_str) {
                    Some(r) => resolve(&doc, r),
                    None => p,
                })
                .filter(|p| p["in"] == "path")
                .inspect(|p| {
                    assert_eq!(
                        p["required"], true,
                        "{template}: path parameters are required"
                    )
                })
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect()
        };
        let in_template: BTreeSet<String> = template
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(name, _)| name.to_string()))
            .collect();
        for (method, operation) in item.as_object().expect("path item") {
            if method == "parameters" {
                continue;
            }
            assert!(
                METHODS.contains(&method.as_str()),
                "{template}: method {method}"
            );
            assert_eq!(
                declared(operation),
                in_template,
                "{method} {template}: path parameters"
            );
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(
                operation_ids.insert(id.to_string()),
                "duplicate operationId {id}"
            );
            let responses = operation["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {template}: no responses");
            for status in responses.keys() {
                assert!(
                    status.len() == 3
                        && status.parse::<u16>().is_ok_and(|s| (100..600).contains(&s)),
                    "{method} {template}: status {status}"
                );
            }
            // Links name real operations.
            for response in responses.values() {
                for link in response
                    .get("links")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|l| l.values())
                {
                    let target = link["operationId"].as_str().unwrap_or_default();
                    assert!(
                        paths
                            .values()
                            .flat_map(|i| i.as_object().into_iter().flat_map(|o| o.values()))
                            .any(|o| o["operationId"] == target),
                        "link to unknown operation {target}"
                    );
                }
            }
        }
    }
}

#[test]
fn documented_routes_equal_the_list_and_the_router_source() {
    let doc = doc();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|m| *m != "parameters")
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect();
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|(path, methods)| methods.iter().map(|m| (path.to_string(), m.to_string())))
        .collect();
    let missing: Vec<_> = listed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "document and ROUTES differ: undocumented {missing:?}, not in ROUTES {extra:?}"
    );

    let native: BTreeSet<String> = router_source_routes()
        .into_iter()
        .filter(|r| NATIVE_PREFIXES.iter().any(|p| r.starts_with(p)))
        .map(|r| shape(&r))
        .collect();
    let listed_paths: BTreeSet<String> = ROUTES.iter().map(|(p, _)| shape(p)).collect();
    assert!(
        native.len() >= 10,
        "could not read the router's routes: {native:?}"
    );
    assert_eq!(
        native, listed_paths,
        "the router (src/http/mod.rs) and ROUTES disagree"
    );
}

/// Every documented method is served (with a real ID, so a 404 would be the route's own), and
/// every other method on a documented path is 405.
#[tokio::test]
async fn router_serves_exactly_the_documented_methods() {
    let doc = doc();
    let mut cov = Coverage::default();
    for (template, methods) in ROUTES {
        for method in METHODS {
            // A fresh store each time: some probes delete.
            let (state, id) = small_store();
            let mut uri = concrete(template, id);
            if *template == "/api/v1/search" && *method == "delete" {
                uri.push_str("?query=subject:first");
            }
            let body = match (*template, *method) {
                ("/api/v1/send", _) => Some(
                    r#"{"From":{"Email":"a@example.com"},"To":[{"Email":"b@example.com"}],"Subject":"probe"}"#,
                ),
                ("/api/v1/chaos", "put") => Some("{}"),
                ("/api/v1/tags", "put") => Some(r#"{"Tags":["probe"],"IDs":[]}"#),
                ("/api/v1/tags/{tag}", "put") => Some(r#"{"Name":"renamed"}"#),
                ("/api/v1/mailboxes/{Name}", "put") => Some(r#"{"MaxMessages":5}"#),
                _ => None,
            };
            let reply = call(&state, method, &uri, body).await;
            if !methods.contains(method) {
                assert_eq!(
                    reply.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {uri} is served but not documented"
                );
                continue;
            }
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri}"
            );
            assert_ne!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{method} {uri}: {}",
                reply.text()
            );
            // A plain GET is not a WebSocket handshake: the route answers 400, the router 404.
            if *template == "/api/events" {
                assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text());
            } else if *template == "/api/v1/message/{ID}/release" {
                assert_eq!(reply.status, StatusCode::FORBIDDEN, "never relays");
            } else if *template == "/api/v1/message/{ID}/html-check" {
                assert_eq!(reply.status, StatusCode::BAD_REQUEST, "a text-only message");
            } else {
                assert!(
                    reply.status.is_success(),
                    "{method} {uri}: {} {}",
                    reply.status,
                    reply.text()
                );
            }
            check(&doc, &mut cov, method, template, &reply);
        }
    }
    let documented = ROUTES.iter().map(|(_, m)| m.len()).sum::<usize>();
    assert_eq!(cov.replies.len(), documented, "{:?}", cov.replies);

    // An unknown route is the router's bare 404, which the probes above would have caught.
    let (state, id) = small_store();
    let reply = call(&state, "get", &format!("/api/v1/nothing/{id}"), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.body.is_empty());
}

/// Real replies of every native route validate against the document.
#[tokio::test]
async fn responses_validate_against_the_document() {
    let doc = doc();
    let mut cov = Coverage::default();
    let store = Store::new(StoreLimits::default());
    let mut ids = Vec::new();
    for (name, message) in fixture_messages() {
        ids.push((name, store.insert(message).expect("stored").id));
    }
    let state = offline_checks(AppState::for_store(store.clone()));
    let get = |uri: String| {
        let state = state.clone();
        async move { call(&state, "get", &uri, None).await }
    };

    // A path segment that is not UTF-8 is a documented JSON 400 on every route that takes an id.
    for (template, uri) in [
        ("/api/v1/message/{ID}", "/api/v1/message/%FF"),
        (
            "/api/v1/message/{ID}/headers",
            "/api/v1/message/%FF/headers",
        ),
        (
            "/api/v1/message/{ID}/envelope",
            "/api/v1/message/%FF/envelope",
        ),
        ("/api/v1/message/{ID}/raw", "/api/v1/message/%FF/raw"),
        (
            "/api/v1/message/{ID}/part/{PartID}",
            "/api/v1/message/%FF/part/1",
        ),
        (
            "/api/v1/message/{ID}/html-check",
            "/api/v1/message/%FF/html-check",
        ),
        ("/view/{file}", "/view/%FF.txt"),
        (
            "/api/v1/message/{ID}/link-check",
            "/api/v1/message/%FF/link-check",
        ),
        (
            "/api/v1/message/{ID}/extract",
            "/api/v1/message/%FF/extract",
        ),
        (
            "/api/v1/message/{ID}/sa-check",
            "/api/v1/message/%FF/sa-check",
        ),
    ] {
        let reply = get(uri.to_string()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        check(&doc, &mut cov, "get", template, &reply);
    }

    // Lists and searches.
    for uri in [
        "/api/v1/messages",
        "/api/v1/messages?start=3&limit=4",
        "/api/v1/messages?start=1000",
        "/api/v1/messages?start=x&limit=-1",
    ] {
        let reply = get(uri.to_string()).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        check(&doc, &mut cov, "get", "/api/v1/messages", &reply);
    }
    for query in [
        "",
        "has:attachment",
        "is:unread",
        "subject:zzznothing",
        "from:alice",
        "\"a phrase\" -x",
    ] {
        let uri = format!("/api/v1/search?query={}&limit=7", urlencode(query));
        let reply = get(uri.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.text());
        check(&doc, &mut cov, "get", "/api/v1/search", &reply);
    }
    let reply = get("/api/v1/search?query=before:notadate".into()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    check(&doc, &mut cov, "get", "/api/v1/search", &reply);

    // Every fixture: message, headers, raw, parts, views.
    let (mut null_from, mut with_from, mut tls, mut parts) = (0, 0, 0, 0);
    let mut html_checked = 0;
    for (name, id) in &ids {
        let reply = get(format!("/api/v1/message/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        let message = check(&doc, &mut cov, "get", "/api/v1/message/{ID}", &reply);
        if message["From"].is_null() {
            null_from += 1;
        } else {
            with_from += 1;
        }
        let reply = get(format!("/api/v1/message/{id}/envelope")).await;
        let envelope = check(
            &doc,
            &mut cov,
            "get",
            "/api/v1/message/{ID}/envelope",
            &reply,
        );
        if envelope["TLS"] == true {
            tls += 1;
            assert_eq!(envelope["TLSVersion"], "TLSv1.3", "{name}");
        }
        let reply = get(format!("/api/v1/message/{id}/headers")).await;
        check(
            &doc,
            &mut cov,
            "get",
            "/api/v1/message/{ID}/headers",
            &reply,
        );
        let reply = get(format!("/api/v1/message/{id}/envelope")).await;
        assert_eq!(reply.status, StatusCode::OK);
        check(
            &doc,
            &mut cov,
            "get",
            "/api/v1/message/{ID}/envelope",
            &reply,
        );
        for uri in [
            format!("/api/v1/message/{id}/raw"),
            format!("/api/v1/message/{id}/raw?dl=1"),
        ] {
            let reply = get(uri).await;
            assert_eq!(reply.status, StatusCode::OK);
            check(&doc, &mut cov, "get", "/api/v1/message/{ID}/raw", &reply);
        }
        for part in message["Attachments"]
            .as_array()
            .into_iter()
            .chain(message["Inline"].as_array())
            .flatten()
        {
            let part_id = part["PartID"].as_str().expect("PartID");
            let reply = get(format!("/api/v1/message/{id}/part/{part_id}")).await;
            assert_eq!(reply.status, StatusCode::OK, "{name} part {part_id}");
            check(
                &doc,
                &mut cov,
                "get",
                "/api/v1/message/{ID}/part/{PartID}",
                &reply,
            );
            parts += 1;
            let reply = get(format!("/api/v1/message/{id}/part/{part_id}/thumb")).await;
            assert_eq!(reply.status, StatusCode::OK, "{name} thumb {part_id}");
            assert!(
                reply.body.starts_with(&[0xFF, 0xD8]),
                "{name} thumb {part_id} is a JPEG"
            );
            check(
                &doc,
                &mut cov,
                "get",
                "/api/v1/message/{ID}/part/{PartID}/thumb",
                &reply,
            );
        }
        for view in ["html", "txt"] {
            let reply = get(format!("/view/{id}.{view}")).await;
            check(&doc, &mut cov, "get", "/view/{file}", &reply);
        }
        // A report for HTML mail, a 400 for the rest.
        let reply = get(format!("/api/v1/message/{id}/html-check")).await;
        let report = check(
            &doc,
            &mut cov,
            "get",
            "/api/v1/message/{ID}/html-check",
            &reply,
        );
        if reply.status == StatusCode::OK {
            html_checked += 1;
            assert!(report["Total"]["Tests"].as_u64() > Some(0), "{name}");
        }
    }
    assert!(html_checked > 0, "fixtures must cover HTML mail");
    assert!(
        null_from > 0 && with_from > 0,
        "fixtures must cover a null and a set From"
    );
    assert!(tls > 0 && parts > 0, "fixtures must cover TLS and parts");

    // latest and the EXT long-poll parameters.
    let (first_name, first) = &ids[0];
    for (uri, status) in [
        ("/api/v1/message/latest".to_string(), 200),
        (
            "/api/v1/message/latest?query=subject:zzznothing&wait=0".into(),
            404,
        ),
        ("/api/v1/message/latest?query=&wait=0.05".into(), 200),
        ("/api/v1/message/latest?wait=soon".into(), 400),
        ("/api/v1/message/latest?since=yesterday".into(), 400),
        (
            format!("/api/v1/message/latest?since={}", Uuid::now_v7()),
            404,
        ),
        (format!("/api/v1/message/latest?since={first}"), 200),
        (
            "/api/v1/message/latest?since=2000-01-01T00:00:00Z".into(),
            200,
        ),
        (
            "/api/v1/message/latest?since=2999-01-01T00:00:00Z&wait=0".into(),
            404,
        ),
        ("/api/v1/message/latest?query=before:nonsense".into(), 400),
        (format!("/api/v1/message/{}", Uuid::now_v7()), 404),
        ("/api/v1/message/not-a-uuid".into(), 404),
    ] {
        let reply = get(uri.clone()).await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{uri} ({first_name}): {}",
            reply.text()
        );
        check(&doc, &mut cov, "get", "/api/v1/message/{ID}", &reply);
    }

    // The checks of every fixture: each link refused (nothing is contacted), spamd absent.
    let mut links = 0;
    for (name, id) in &ids {
        let reply = get(format!("/api/v1/message/{id}/link-check?follow=true")).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text());
        let report = check(
            &doc,
            &mut cov,
            "get",
            "/api/v1/message/{ID}/link-check",
            &reply,
        );
        for link in report["Links"].as_array().into_iter().flatten() {
            links += 1;
            assert_eq!(link["StatusCode"], 451, "{name}: {link}");
        }
        let reply = get(format!("/api/v1/message/{id}/sa-check")).await;
        let spam = check(
            &doc,
            &mut cov,
            "get",
            "/api/v1/message/{ID}/sa-check",
            &reply,
        );
        assert!(
            spam["Error"].as_str().is_some_and(|e| !e.is_empty()),
            "{name}: {spam}"
        );
    }
    assert!(links > 0, "no fixture has a link");
    // Without --enable-spamassassin there is no spam check, as in Mailpit.
    let plain = AppState::for_store(store.clone());
    let reply = call(
        &plain,
        "get",
        &format!("/api/v1/message/{first}/sa-check"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text());
    check(
        &doc,
        &mut cov,
        "get",
        "/api/v1/message/{ID}/sa-check",
        &reply,
    );
    let reply = call(&plain, "get", "/api/v1/webui", None).await;
    assert_eq!(
        check(&doc, &mut cov, "get", "/api/v1/webui", &reply)["SpamAssassin"],
        false
    );

    // Not found on every per-message route.
    let unknown = Uuid::now_v7();
    let reply = get("/api/v1/about".to_string()).await;
    check(&doc, &mut cov, "get", "/api/v1/about", &reply);
    let reply = get("/api/v1/webhooks".to_string()).await;
    assert_eq!(reply.status, StatusCode::OK);
    check(&doc, &mut cov, "get", "/api/v1/webhooks", &reply);
    // Links and codes of every fixture, and the wait API's bad parameter.
    for (name, id) in &ids {
        let reply = get(format!("/api/v1/message/{id}/extract")).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}: {}", reply.text());
        check(
            &doc,
            &mut cov,
            "get",
            "/api/v1/message/{ID}/extract",
            &reply,
        );
    }
    let reply = get("/api/v1/message/latest/extract?wait=soon".to_string()).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    check(
        &doc,
        &mut cov,
        "get",
        "/api/v1/message/{ID}/extract",
        &reply,
    );
    // Tags (set, list, rename, delete) and mailboxes (list, limits, delete), with each refusal.
    state.mailboxes.get_or_create("job-1").expect("a mailbox");
    let set = format!(r#"{{"Tags":["Red","blue"],"IDs":["{first}"]}}"#);
    for (method, uri, body, status) in [
        ("put", "/api/v1/tags", Some(set.as_str()), 200),
        ("put", "/api/v1/tags", Some("{\"Tags\":5}"), 400),
        ("get", "/api/v1/tags", None, 200),
        ("put", "/api/v1/tags/red", Some("{\"Name\":\"green\"}"), 200),
        (
            "put",
            "/api/v1/tags/green",
            Some("{\"Name\":\"Blue\"}"),
            400,
        ),
        ("delete", "/api/v1/tags/blue", None, 200),
        ("delete", "/api/v1/tags/blue", None, 400),
        ("get", "/api/v1/mailboxes", None, 200),
        (
            "put",
            "/api/v1/mailboxes/job-1",
            Some(r#"{"MaxMessages":3,"MaxBytes":100000}"#),
            200,
        ),
        (
            "put",
            "/api/v1/mailboxes/job-1",
            Some(r#"{"MaxMessages":0}"#),
            400,
        ),
        ("put", "/api/v1/mailboxes/job-1", Some(r#"{"Max":1}"#), 400),
        ("delete", "/api/v1/mailboxes/job-1", None, 200),
        ("delete", "/api/v1/mailboxes/job-1", None, 404),
        ("delete", "/api/v1/mailboxes/..", None, 400),
    ] {
        let reply = call(&state, method, uri, body).await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{method} {uri}: {}",
            reply.text()
        );
        let template = match uri {
            "/api/v1/tags" | "/api/v1/mailboxes" => uri,
            _ if uri.starts_with("/api/v1/tags/") => "/api/v1/tags/{tag}",
            _ => "/api/v1/mailboxes/{Name}",
        };
        check(&doc, &mut cov, method, template, &reply);
    }
    let reply = call(&state, "get", "/api/v1/tags", None).await;
    assert!(
        reply.text().contains("green") && !reply.text().contains("blue"),
        "{}",
        reply.text()
    );
    let reply = get("/api/v1/webui".to_string()).await;
    let webui = check(&doc, &mut cov, "get", "/api/v1/webui", &reply);
    assert_eq!(webui["MessageRelay"]["Enabled"], false);
    assert_eq!(webui["SpamAssassin"], true, "a spamd is configured");
    let reply = call(
        &state,
        "post",
        &format!("/api/v1/message/{first}/release"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    check(
        &doc,
        &mut cov,
        "post",
        "/api/v1/message/{ID}/release",
        &reply,
    );
    for (template, uri) in [
        (
            "/api/v1/message/{ID}/headers",
            format!("/api/v1/message/{unknown}/headers"),
        ),
        (
            "/api/v1/message/{ID}/envelope",
            format!("/api/v1/message/{unknown}/envelope"),
        ),
        (
            "/api/v1/message/{ID}/raw",
            format!("/api/v1/message/{unknown}/raw"),
        ),
        (
            "/api/v1/message/{ID}/part/{PartID}",
            format!("/api/v1/message/{unknown}/part/1"),
        ),
        (
            "/api/v1/message/{ID}/part/{PartID}",
            format!("/api/v1/message/{first}/part/9.9"),
        ),
        (
            "/api/v1/message/{ID}/part/{PartID}/thumb",
            format!("/api/v1/message/{first}/part/9.9/thumb"),
        ),
        (
            "/api/v1/message/{ID}/html-check",
            format!("/api/v1/message/{unknown}/html-check"),
        ),
        ("/view/{file}", format!("/view/{unknown}.html")),
        ("/view/{file}", format!("/view/{first}.pdf")),
        (
            "/api/v1/message/{ID}/link-check",
            format!("/api/v1/message/{unknown}/link-check"),
        ),
        (
            "/api/v1/message/{ID}/extract",
            format!("/api/v1/message/{unknown}/extract"),
        ),
        (
            "/api/v1/message/{ID}/sa-check",
            format!("/api/v1/message/{unknown}/sa-check"),
        ),
    ] {
        let reply = get(uri.clone()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        check(&doc, &mut cov, "get", template, &reply);
    }

    // Info, health, metrics.
    for template in ["/api/v1/info", "/livez", "/readyz", "/metrics"] {
        let reply = get(template.to_string()).await;
        assert_eq!(reply.status, StatusCode::OK, "{template}");
        check(&doc, &mut cov, "get", template, &reply);
    }

    // Chaos.
    let reply = get("/api/v1/chaos".into()).await;
    check(&doc, &mut cov, "get", "/api/v1/chaos", &reply);
    for (body, status) in [
        (
            r#"{"Sender":{"ErrorCode":451,"Probability":50},"Recipient":{"ErrorCode":550,"Probability":100}}"#,
            200,
        ),
        (r#"{"Authentication":{"ErrorCode":535}}"#, 200),
        ("{}", 200),
        (r#"{"Sender":{"ErrorCode":200,"Probability":50}}"#, 400),
        (r#"{"Sender":{"ErrorCode":451,"Probability":101}}"#, 400),
        ("not json", 400),
    ] {
        let reply = call(&state, "put", "/api/v1/chaos", Some(body)).await;
        assert_eq!(reply.status.as_u16(), status, "{body}: {}", reply.text());
        check(&doc, &mut cov, "put", "/api/v1/chaos", &reply);
    }

    // Send, then read what it stored.
    let good = json!({
        "From": {"Email": "app@example.com", "Name": "The App"},
        "To": [{"Email": "user@example.com", "Name": "User"}],
        "Cc": null,
        "Bcc": ["hidden@example.com"],
        "ReplyTo": [{"Email": "support@example.com"}],
        "Subject": "Your receipt",
        "Text": "plain",
        "HTML": "<p>html <img src=\"cid:logo\"></p>",
        "Attachments": [
            {"Content": "SGVsbG8=", "Filename": "receipt.pdf"},
            {"Content": "iVBORw0KGgo=", "Filename": "logo.png", "ContentType": "image/png", "ContentID": "logo"}
        ],
        "Tags": ["receipts", "test"],
        "Headers": {"X-Campaign": "spring"}
    });
    let reply = call(&state, "post", "/api/v1/send", Some(&good.to_string())).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let sent = check(&doc, &mut cov, "post", "/api/v1/send", &reply);
    let sent_id = sent["ID"].as_str().expect("ID").to_string();
    let reply = get(format!("/api/v1/message/{sent_id}")).await;
    let message = check(&doc, &mut cov, "get", "/api/v1/message/{ID}", &reply);
    let reply = get(format!("/api/v1/message/{sent_id}/envelope")).await;
    let envelope = check(
        &doc,
        &mut cov,
        "get",
        "/api/v1/message/{ID}/envelope",
        &reply,
    );
    assert_eq!(envelope["Helo"], "mailsnare-send");
    assert_eq!(message["Inline"].as_array().map(Vec::len), Some(1));
    for body in [
        "{}",
        "not json",
        r#"{"From":null,"To":[{"Email":"b@example.com"}]}"#,
        r#"{"From":{"Email":"a@example.com"}}"#,
        r#"{"From":{"Email":"a@example.com"},"To":[{"Email":"not an address"}]}"#,
        r#"{"From":{"Email":"a@example.com"},"To":[{"Email":"b@example.com"}],"Headers":{"Subject":"x"}}"#,
    ] {
        let reply = call(&state, "post", "/api/v1/send", Some(body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        check(&doc, &mut cov, "post", "/api/v1/send", &reply);
    }

    // Bulk read flags and deletion.
    for (body, status) in [
        (Some(format!(r#"{{"IDs":["{first}"],"Read":false}}"#)), 200),
        (
            Some(r#"{"Search":"has:attachment","Read":true}"#.to_string()),
            200,
        ),
        (None, 200),
        (Some(r#"{"Search":"before:nope"}"#.to_string()), 400),
        (Some("{".to_string()), 400),
    ] {
        let reply = call(&state, "put", "/api/v1/messages", body.as_deref()).await;
        assert_eq!(reply.status.as_u16(), status, "{body:?}: {}", reply.text());
        check(&doc, &mut cov, "put", "/api/v1/messages", &reply);
    }
    for (uri, status) in [
        ("/api/v1/search", 400),
        ("/api/v1/search?query=", 400),
        ("/api/v1/search?query=before:nope", 400),
        ("/api/v1/search?query=subject:zzznothing", 200),
        ("/api/v1/search?query=has:attachment", 200),
    ] {
        let reply = call(&state, "delete", uri, None).await;
        assert_eq!(reply.status.as_u16(), status, "{uri}: {}", reply.text());
        check(&doc, &mut cov, "delete", "/api/v1/search", &reply);
    }
    for (body, status) in [
        (Some(format!(r#"{{"IDs":["{first}","not-an-id"]}}"#)), 200),
        // Not the JSON Mailpit expects: everything goes, as in Mailpit.
        (Some("{\"IDs\":5}".to_string()), 200),
        (None, 200),
    ] {
        let reply = call(&state, "delete", "/api/v1/messages", body.as_deref()).await;
        assert_eq!(reply.status.as_u16(), status, "{body:?}: {}", reply.text());
        check(&doc, &mut cov, "delete", "/api/v1/messages", &reply);
    }
    assert_eq!(
        store.counts().total,
        0,
        "DELETE without a body deletes everything"
    );

    // Everything documented was exercised, each schema at least once.
    for name in [
        "MessagesSummary",
        "Message",
        "Headers",
        "Info",
        "ChaosTriggers",
        "SendResponse",
        "LinkCheckResponse",
        "Extracted",
        "SpamAssassinResponse",
        "HTMLCheckResponse",
        "Error",
    ] {
        assert!(
            cov.schemas.contains_key(name),
            "no reply validated {name}: {:?}",
            cov.schemas
        );
    }
    let mut undocumented_statuses = Vec::new();
    for (template, methods) in ROUTES {
        for method in *methods {
            for status in doc["paths"][template][method]["responses"]
                .as_object()
                .expect("responses")
                .keys()
            {
                let key = format!("{method} {template} {status}");
                if !cov.replies.contains(&key) {
                    undocumented_statuses.push(key);
                }
            }
        }
    }
    // The ones that cannot be provoked here: a WebSocket upgrade (tested below), an oversized send,
    // the openapi route (tested above) and the probes' WebSocket rejections.
    let unreachable = [
        "get /api/events 101",
        "get /api/events 400",
        "get /api/events 426",
        "post /api/v1/send 413",
        "get /api/v1/openapi.json 200",
        // Needs a team user of the HTTP auth file: tests/e2e_mailboxes.rs.
        "delete /api/v1/mailboxes/{Name} 403",
        "put /api/v1/mailboxes/{Name} 403",
        // Needs --max-mailboxes reached: tests/e2e_mailboxes.rs.
        "put /api/v1/mailboxes/{Name} 503",
    ];
    undocumented_statuses.retain(|k| !unreachable.contains(&k.as_str()));
    assert!(
        undocumented_statuses.is_empty(),
        "documented but never exercised: {undocumented_statuses:?}"
    );
}

/// Reads frames, validating each against `LiveEvent`, until a `stats` frame.
async fn next_stats<S>(ws: &mut S, types: &mut BTreeSet<String>)
where
    S: futures_util::Stream<
            Item = Result<
                tokio_tungstenite::tungstenite::Message,
                tokio_tungstenite::tungstenite::Error,
            >,
        > + Unpin,
{
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame in time");
        let Some(Ok(Message::Text(text))) = frame else {
            panic!("unexpected frame {frame:?}");
        };
        let value: Value = serde_json::from_str(&text).expect("frames are JSON");
        let errors = errors_for(&schema_ref("LiveEvent"), &value);
        assert!(
            errors.is_empty(),
            "frame {value} does not match LiveEvent: {errors:?}"
        );
        let kind = value["Type"].as_str().unwrap_or_default().to_string();
        types.insert(kind.clone());
        if kind == "stats" {
            return;
        }
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Frames of a real WebSocket validate against `LiveEvent`, and every frame type appears.
#[tokio::test]
async fn live_event_frames_validate_against_the_document() {
    let server = mailsnare::Server::bind(mailsnare::Config::ephemeral())
        .await
        .expect("bind");
    let http = server.http_addr().expect("http addr");
    let store = server.store();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{http}/api/events"))
        .await
        .expect("WebSocket handshake");

    let mut types = BTreeSet::new();
    let first = store.insert(simple("one")).expect("stored");
    next_stats(&mut ws, &mut types).await;
    store.insert(simple("two")).expect("stored");
    next_stats(&mut ws, &mut types).await;
    store.set_read(vec![first.id], true).await;
    next_stats(&mut ws, &mut types).await;
    store.delete(vec![first.id]).await;
    next_stats(&mut ws, &mut types).await;
    store.clear().await;
    next_stats(&mut ws, &mut types).await;
    let expected: BTreeSet<String> = ["new", "delete", "truncate", "update", "stats"]
        .map(String::from)
        .into();
    assert_eq!(types, expected);

    let _ = stop.send(());
    drop(ws);
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("server stops")
        .expect("joined")
        .expect("clean stop");
}

/// The validator is only worth something if it fails: each drift of a real reply is caught.
#[tokio::test]
async fn validator_rejects_drift() {
    let doc = doc();
    let (state, id) = small_store();
    let reply = call(&state, "get", &format!("/api/v1/message/{id}"), None).await;
    let message: Value = serde_json::from_slice(&reply.body).expect("JSON");
    let schema = schema_ref("Message");
    assert_eq!(errors_for(&schema, &message), Vec::<String>::new());

    type Mutation = (&'static str, Box<dyn Fn(&mut Value)>);
    let mutations: Vec<Mutation> = vec![
        (
            "missing key",
            Box::new(|m| {
                m.as_object_mut().expect("object").remove("ReturnPath");
            }),
        ),
        ("extra key", Box::new(|m| m["Unexpected"] = json!(1))),
        (
            "extra nested key",
            Box::new(|m| m["ListUnsubscribe"]["Header2"] = json!("")),
        ),
        ("string for integer", Box::new(|m| m["Size"] = json!("12"))),
        ("negative size", Box::new(|m| m["Size"] = json!(-1))),
        ("null array", Box::new(|m| m["To"] = Value::Null)),
        ("mistyped nullable", Box::new(|m| m["From"] = json!(5))),
        (
            "bad address in nullable",
            Box::new(|m| m["From"] = json!({"Name": "x"})),
        ),
        ("string for integer", Box::new(|m| m["Size"] = json!("12"))),
        ("not a UUID", Box::new(|m| m["ID"] = json!("12"))),
        (
            "not a date-time",
            Box::new(|m| m["Date"] = json!("yesterday")),
        ),
        ("bad array item", Box::new(|m| m["Tags"] = json!(["a", 1]))),
        (
            "bad checksum",
            Box::new(|m| {
                m["Attachments"] = json!([{"PartID": "2", "FileName": "", "ContentType": "a/b", "ContentID": "",
                "Size": 1, "Checksums": {"MD5": "XYZ", "SHA1": "", "SHA256": ""}}]);
            }),
        ),
    ];
    for (what, mutate) in mutations {
        let mut drifted = message.clone();
        mutate(&mut drifted);
        assert!(
            !errors_for(&schema, &drifted).is_empty(),
            "the validator accepted a {what}: {drifted}"
        );
    }
    // And a null From is fine, as the document says.
    let mut no_from = message.clone();
    no_from["From"] = Value::Null;
    assert_eq!(errors_for(&schema, &no_from), Vec::<String>::new());

    // oneOf: a frame of one type with another's data is rejected.
    let frame = json!({"Type": "delete", "Data": {"ID": id.to_string(), "Read": true}});
    assert!(!errors_for(&schema_ref("LiveEvent"), &frame).is_empty());
    let frame = json!({"Type": "truncate", "Data": {}});
    assert!(!errors_for(&schema_ref("LiveEvent"), &frame).is_empty());

    // An undocumented status or media type fails the reply check.
    let mut cov = Coverage::default();
    let teapot = Reply {
        status: StatusCode::IM_A_TEAPOT,
        content_type: Some("application/json".into()),
        body: b"{}".to_vec(),
    };
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check(&doc, &mut cov, "get", "/api/v1/info", &teapot);
    }));
    assert!(caught.is_err(), "an undocumented status passed");
    let html_info = Reply {
        status: StatusCode::OK,
        content_type: Some("text/html".into()),
        body: b"{}".to_vec(),
    };
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check(&doc, &mut cov, "get", "/api/v1/info", &html_info);
    }));
    assert!(caught.is_err(), "an undocumented media type passed");
}

/// Odd requests that once got a panic or a plain-text framework error: each must get a documented
/// status with a JSON `Error` body.
#[tokio::test]
async fn odd_requests_get_documented_answers() {
    let doc = doc();
    let mut cov = Coverage::default();
    let (state, id) = small_store();
    for (template, uri) in [
        (
            "/api/v1/message/{ID}",
            "/api/v1/message/latest?wait=1e20".to_string(),
        ),
        (
            "/api/v1/messages",
            "/api/v1/messages?start=1&start=2".into(),
        ),
        ("/api/v1/search", "/api/v1/search?query=a&query=b".into()),
        (
            "/api/v1/message/{ID}",
            "/api/v1/message/latest?since=&since=".into(),
        ),
        (
            "/api/v1/message/{ID}/raw",
            format!("/api/v1/message/{id}/raw?dl=1&dl=1"),
        ),
        ("/view/{file}", format!("/view/{id}.html?remote=1&remote=1")),
        ("/api/v1/message/{ID}", "/api/v1/message/%FF".into()),
        (
            "/api/v1/message/{ID}/headers",
            "/api/v1/message/%FF/headers".into(),
        ),
        ("/api/v1/message/{ID}/raw", "/api/v1/message/%FF/raw".into()),
        (
            "/api/v1/message/{ID}/part/{PartID}",
            "/api/v1/message/%FF/part/1".into(),
        ),
        ("/view/{file}", "/view/%FF.txt".into()),
    ] {
        let reply = call(&state, "get", &uri, None).await;
        check(&doc, &mut cov, "get", template, &reply);
    }
}

/// The `jsonschema` validation of the rewritten document fails where it should, saying where and
/// what was expected, and passes right bodies; the keyword and format checks refuse what it would
/// not check.
#[test]
fn schema_validation_rejects_wrong_bodies() {
    let envelope = json!({
        "Helo": "client.example", "ESMTP": true, "MailFrom": "a@example.com",
        "RcptTo": ["b@example.com"], "ClientAddr": "192.0.2.7:40000", "TLS": true,
        "TLSVersion": "TLSv1.3", "AuthUser": "", "SMTPUTF8": false,
        "Received": "2024-05-06T07:08:09.123Z",
    });
    let with = |key: &str, value: Value| {
        let mut changed = envelope.clone();
        changed[key] = value;
        changed
    };
    let mut no_helo = envelope.clone();
    no_helo.as_object_mut().expect("object").remove("Helo");
    let right = [
        ("Envelope", envelope.clone()),
        ("Address", json!({"Name": "", "Address": "a@example.com"})),
        (
            "ChaosTrigger",
            json!({"ErrorCode": 451, "Probability": 100}),
        ),
        ("SendResponse", json!({"ID": Uuid::now_v7().to_string()})),
        (
            "LiveEventTruncate",
            json!({"Type": "truncate", "Data": null}),
        ),
        (
            "SendAttachment",
            json!({"Content": "SGVsbG8=", "Filename": "a\tb", "ContentID": null}),
        ),
    ];
    for (name, body) in right {
        assert_eq!(
            errors_for(&schema_ref(name), &body),
            Vec::<String>::new(),
            "{name}: {body}"
        );
    }

    // (schema, body, the instance path and what an error line must say)
    let wrong = [
        (
            "Envelope",
            no_helo,
            "(root): \"Helo\" is a required property",
        ),
        (
            "Envelope",
            with("Extra", json!(1)),
            "(root): Additional properties are not allowed ('Extra' was unexpected)",
        ),
        (
            "Envelope",
            with("TLS", json!("yes")),
            "/TLS: \"yes\" is not of type \"boolean\"",
        ),
        (
            "Envelope",
            with("RcptTo", json!(["a", 1])),
            "/RcptTo/1: 1 is not of type \"string\"",
        ),
        (
            "Envelope",
            with("Helo", Value::Null),
            "/Helo: null is not of type \"string\"",
        ),
        (
            "Envelope",
            with("Received", json!("yesterday")),
            "/Received: \"yesterday\" is not a \"date-time\"",
        ),
        (
            "SendResponse",
            json!({"ID": "12"}),
            "/ID: \"12\" is not a \"uuid\"",
        ),
        (
            "ChaosTrigger",
            json!({"ErrorCode": 451, "Probability": 101}),
            "/Probability: 101 is greater than the maximum of 100",
        ),
        (
            "ChaosTriggers",
            json!({"Sender": {"ErrorCode": 451, "Probability": 1, "Z": 1},
                   "Recipient": {"ErrorCode": 550, "Probability": 0},
                   "Authentication": {"ErrorCode": 535, "Probability": 0}}),
            "/Sender: Additional properties are not allowed ('Z' was unexpected)",
        ),
        (
            "LiveEventTruncate",
            json!({"Type": "truncate", "Data": {}}),
            "/Data: {} is not one of null",
        ),
        (
            "Checksums",
            json!({"MD5": "XYZ", "SHA1": "", "SHA256": ""}),
            "/MD5: \"XYZ\" does not match \"^[0-9a-f]{32}$\"",
        ),
        (
            "SendAttachment",
            json!({"Content": "SGVsbG8=", "Filename": "a\u{1}b"}),
            "/Filename: \"a\\u0001b\" does not match",
        ),
        (
            "SendAttachment",
            json!({"Content": "not base64!"}),
            "/Content: \"not base64!\" is not a \"byte\"",
        ),
        // A schema without `type` takes no null unless it says `nullable`.
        (
            "LiveEvent",
            Value::Null,
            "(root): null is not valid under any of the schemas",
        ),
        // oneOf: the right type with another type's data; each option's errors are listed.
        (
            "LiveEvent",
            json!({"Type": "delete", "Data": {"ID": Uuid::now_v7().to_string(), "Read": true}}),
            "option 1: /Data: Additional properties are not allowed ('Read' was unexpected)",
        ),
    ];
    for (name, body, expected) in wrong {
        let errors = errors_for(&schema_ref(name), &body);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{name}: {body} should fail with {expected:?}, got {errors:#?}"
        );
    }

    // A response's schema, as `check` finds it by pointer (braces percent-encoded in the `$ref`).
    let message_200 =
        "#/paths/~1api~1v1~1message~1{ID}/get/responses/200/content/application~1json/schema";
    let errors = errors_for(message_200, &json!({"ID": "12"}));
    assert!(
        errors
            .iter()
            .any(|e| e.contains("\"MessageID\" is a required property"))
            && errors
                .iter()
                .any(|e| e.contains("/ID: \"12\" is not a \"uuid\"")),
        "{errors:#?}"
    );

    // The rewrite of `nullable`.
    let mut schema = json!({"type": "string", "nullable": true});
    to_json_schema(&mut schema);
    assert_eq!(schema, json!({"type": ["string", "null"]}));
    let mut schema = json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/Address"}]});
    to_json_schema(&mut schema);
    assert_eq!(
        schema,
        json!({"anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/components/schemas/Address"}]}]})
    );
    let mut schema = json!({"type": "object", "nullable": true, "enum": [null], "properties": {
        "A": {"type": "integer", "nullable": true}, "B": {"oneOf": [{"type": "string"}]}}});
    to_json_schema(&mut schema);
    assert_eq!(
        schema,
        json!({"type": ["object", "null"], "enum": [null], "properties": {
            "A": {"type": ["integer", "null"]},
            "B": {"oneOf": [{"type": "string"}], "not": {"type": "null"}}}})
    );

    // A format nothing checks does not compile; the keyword check refuses what is not checked.
    let registry = Registry::new()
        .draft(Draft::Draft4)
        .add("urn:empty", json!({}))
        .and_then(|builder| builder.prepare())
        .expect("registry");
    assert!(
        options(&registry)
            .build(&json!({"type": "string", "format": "int64"}))
            .is_err(),
        "an unknown format compiled"
    );
    for schema in [
        json!({"type": "string", "minProperties": 1}),
        json!({"type": "string", "format": "int64"}),
        json!({"type": "object", "properties": {}}),
        json!({"type": "str"}),
        json!({"$ref": "#/components/schemas/Address", "nullable": true}),
        json!(true),
    ] {
        let refused = std::panic::catch_unwind(|| check_keywords(&schema, "#/test"));
        assert!(refused.is_err(), "the keyword check accepted {schema}");
    }
}

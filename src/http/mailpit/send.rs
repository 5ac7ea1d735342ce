//! `POST /api/v1/send`: builds a real MIME message from JSON and stores it as if received.
//!
//! The body is Mailpit's send request (field names are case-sensitive, unknown keys are ignored, and
//! `null` is read as an empty value because Go clients marshal nil slices that way). Everything is
//! validated before anything is built, so a 400 never leaves a message behind:
//!
//! - `From.Email` is required; at least one of `To`, `Cc`, `Bcc` must name a recipient.
//! - An address must look like one: a single `@` with text on both sides, at most 254 characters,
//!   no whitespace, control characters or `<>()[],;:"\` (so it cannot break out of its header).
//! - Display names, `Subject`, header values and tags may not contain CR, LF or other control
//!   characters (tab excepted): that would be header injection.
//! - `Headers` names must be RFC 5322 field names (printable ASCII, no `:`). A header that the
//!   request or the MIME structure already sets is refused rather than overridden or duplicated:
//!   `From`, `To`, `Cc`, `Bcc`, `Reply-To`, `Subject`, `Date`, `Message-ID`, `MIME-Version`,
//!   `X-Tags` (use `Tags`) and every `Content-*` header (case-insensitive).
//! - Attachment `Content` is standard base64 (whitespace, missing padding and a `data:…;base64,`
//!   prefix are tolerated). `Filename` is required unless the part is inline (`ContentID` set).
//!   An empty `ContentType` is guessed from the file name, else `application/octet-stream`.
//!
//! The message is `multipart/mixed` when there are attachments, `multipart/alternative` when there
//! is both text and HTML, and inline parts sit with the HTML in `multipart/related`. Bcc addresses
//! go to the envelope only. Sent messages are not counted as SMTP traffic in the runtime stats.
//!
//! A message bigger than the whole store (its byte limit) is answered 400 with the store's reason,
//! as Mailpit answers every failed send with 400; nothing about it can succeed on retry.

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use crate::http::AppState;
use crate::http::error::AppError;
use crate::message::Envelope;
use crate::store::StoreError;

/// The HELO name recorded in the envelope, so a sent message is recognisable as not from SMTP.
pub const SEND_HELO: &str = "mailsnare-send";

/// Largest request body accepted for a message of at most `max_message_size` bytes: its
/// attachments come base64-encoded inside JSON strings (4/3, plus escapes and field names).
pub fn body_limit(max_message_size: usize) -> usize {
    max_message_size
        .saturating_mul(3)
        .saturating_div(2)
        .saturating_add(64 * 1024)
}

/// Longest address accepted (RFC 5321 4.5.3.1.3 limits a path to 256 octets including `<>`).
const MAX_ADDRESS_LEN: usize = 254;

/// Headers the request fields or the MIME structure own; see the module doc.
const RESERVED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Bcc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "X-Tags",
];

/// The request body, as Mailpit names it.
#[derive(Debug, Default, Deserialize)]
pub struct SendRequest {
    #[serde(rename = "From", default, deserialize_with = "nullable")]
    pub from: Recipient,
    #[serde(rename = "To", default, deserialize_with = "nullable")]
    pub to: Vec<Recipient>,
    #[serde(rename = "Cc", default, deserialize_with = "nullable")]
    pub cc: Vec<Recipient>,
    #[serde(rename = "Bcc", default, deserialize_with = "nullable")]
    pub bcc: Vec<String>,
    #[serde(rename = "ReplyTo", default, deserialize_with = "nullable")]
    pub reply_to: Vec<Recipient>,
    #[serde(rename = "Subject", default, deserialize_with = "nullable")]
    pub subject: String,
    #[serde(rename = "Text", default, deserialize_with = "nullable")]
    pub text: String,
    #[serde(rename = "HTML", default, deserialize_with = "nullable")]
    pub html: String,
    #[serde(rename = "Attachments", default, deserialize_with = "nullable")]
    pub attachments: Vec<Attachment>,
    #[serde(rename = "Tags", default, deserialize_with = "nullable")]
    pub tags: Vec<String>,
    #[serde(rename = "Headers", default, deserialize_with = "nullable")]
    pub headers: BTreeMap<String, String>,
}

/// `{"Email", "Name"}`.
#[derive(Debug, Default, Deserialize)]
pub struct Recipient {
    #[serde(rename = "Email", default, deserialize_with = "nullable")]
    pub email: String,
    #[serde(rename = "Name", default, deserialize_with = "nullable")]
    pub name: String,
}

/// `{"Content", "Filename", "ContentType", "ContentID"}`; `Content` is base64.
#[derive(Debug, Default, Deserialize)]
pub struct Attachment {
    #[serde(rename = "Content", default, deserialize_with = "nullable")]
    pub content: String,
    #[serde(rename = "Filename", default, deserialize_with = "nullable")]
    pub filename: String,
    #[serde(rename = "ContentType", default, deserialize_with = "nullable")]
    pub content_type: String,
    #[serde(rename = "ContentID", default, deserialize_with = "nullable")]
    pub content_id: String,
}

/// Reads `null` as the type's empty value.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

/// Why a send request was refused.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("From.Email is required")]
    MissingFrom,
    #[error("no recipients: To, Cc and Bcc are all empty")]
    NoRecipients,
    #[error("{field} {value:?} is not an e-mail address")]
    BadAddress { field: String, value: String },
    #[error("{field} contains a line break or control character")]
    ControlCharacter { field: String },
    #[error("Attachments[{index}].Content is not valid base64: {source}")]
    BadBase64 {
        index: usize,
        source: base64::DecodeError,
    },
    #[error("Attachments[{index}].Filename is required for an attachment without ContentID")]
    MissingFilename { index: usize },
    #[error("Attachments[{index}].ContentType {value:?} is not a MIME type (type/subtype)")]
    BadContentType { index: usize, value: String },
    #[error("Attachments[{index}].ContentID {value:?} is not a valid content ID")]
    BadContentId { index: usize, value: String },
    #[error("header name {0:?} is not a valid field name")]
    BadHeaderName(String),
    #[error("header {0:?} is set by the request or the MIME structure and cannot be overridden")]
    ReservedHeader(String),
    #[error("tag {0:?} contains a comma or a control character")]
    BadTag(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<SendError> for AppError {
    fn from(error: SendError) -> AppError {
        AppError::BadRequest(error.to_string())
    }
}

/// POST /api/v1/send: `{"ID": "<uuid>"}` of the stored message, or 400 `{"Error": "…"}`.
pub async fn send(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    // Mailpit records the Basic-auth user as the sender's `Username`, checked or not.
    let auth_user = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| crate::http::extract::basic_credentials(v.as_bytes()))
        .map(|(user, _)| user)
        .filter(|user| !user.is_empty());
    let mut request: SendRequest = serde_json::from_slice(&body).map_err(SendError::from)?;
    // Copies are the cost of a big send: the JSON text goes as soon as it is parsed, each base64
    // string as soon as it is decoded.
    drop(body);
    let contents = decode_attachments(&mut request)?;
    let outgoing = Outgoing::validate(&request, contents)?;
    let rcpt_to = outgoing.envelope_recipients();
    let raw = match outgoing.build() {
        Ok(raw) => raw,
        Err(error) => {
            // Writing into a Vec cannot fail; answer 500 rather than blame the client if it ever does.
            tracing::error!(%error, "building a sent message failed");
            return Err(AppError::Internal("could not build the message"));
        }
    };
    let limit = state.options.max_message_size;
    if raw.len() > limit {
        return Err(AppError::TooLarge(format!(
            "the message would be {} bytes, over the {limit}-byte limit (--max-message-size)",
            raw.len()
        )));
    }
    let envelope = Envelope {
        helo: SEND_HELO.to_string(),
        // What an SMTP client would have had to ask for to send these addresses.
        smtputf8: !request.from.email.is_ascii() || rcpt_to.iter().any(|a| !a.is_ascii()),
        mail_from: request.from.email.clone(),
        rcpt_to,
        auth_user,
        ..Envelope::default()
    };
    // Stored as Mailpit stores it, with its Return-Path and Bcc on top (no Received: no SMTP).
    let id = Uuid::now_v7();
    let raw = if state.options.store_exact {
        raw
    } else {
        let stamp = crate::smtp::trace::Stamp {
            hostname: &state.about.hostname,
            id: &id.to_string(),
            now: time::OffsetDateTime::now_utc(),
            received: false,
        };
        crate::smtp::trace::stamp(&envelope, raw, &stamp)
    };
    let message = state
        .store
        .receive_as(id, envelope, raw)
        .await
        .map_err(SendError::from)?;
    Ok(Json(serde_json::json!({ "ID": message.id.to_string() })).into_response())
}

/// A validated request, borrowing its strings, with attachments decoded.
#[derive(Debug)]
struct Outgoing<'a> {
    request: &'a SendRequest,
    tags: Vec<&'a str>,
    attachments: Vec<Part<'a>>,
}

/// One decoded attachment or inline part.
#[derive(Debug)]
struct Part<'a> {
    content: Vec<u8>,
    filename: &'a str,
    mime_type: ContentType<'a>,
    /// Without angle brackets; empty for an ordinary attachment.
    content_id: &'a str,
}

/// Decodes every attachment's base64 `Content`, emptying each string once decoded.
fn decode_attachments(request: &mut SendRequest) -> Result<Vec<Vec<u8>>, SendError> {
    request
        .attachments
        .iter_mut()
        .enumerate()
        .map(|(index, attachment)| {
            let content = std::mem::take(&mut attachment.content);
            decode_base64(&content).map_err(|source| SendError::BadBase64 { index, source })
        })
        .collect()
}

impl<'a> Outgoing<'a> {
    fn validate(
        request: &'a SendRequest,
        contents: Vec<Vec<u8>>,
    ) -> Result<Outgoing<'a>, SendError> {
        if request.from.email.is_empty() {
            return Err(SendError::MissingFrom);
        }
        check_recipient("From", &request.from)?;
        for (list, field) in [
            (&request.to, "To"),
            (&request.cc, "Cc"),
            (&request.reply_to, "ReplyTo"),
        ] {
            for (i, recipient) in list.iter().enumerate() {
                check_recipient(&format!("{field}[{i}]"), recipient)?;
            }
        }
        for (i, address) in request.bcc.iter().enumerate() {
            check_address(&format!("Bcc[{i}]"), address)?;
        }
        if request.to.is_empty() && request.cc.is_empty() && request.bcc.is_empty() {
            return Err(SendError::NoRecipients);
        }
        check_text("Subject", &request.subject)?;

        for (name, value) in &request.headers {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                return Err(SendError::BadHeaderName(name.clone()));
            }
            if is_reserved_header(name) {
                return Err(SendError::ReservedHeader(name.clone()));
            }
            check_text(&format!("header {name}"), value)?;
        }

        let mut tags = Vec::with_capacity(request.tags.len());
        for tag in &request.tags {
            // A comma would split the tag in two when the store reads X-Tags back.
            if tag.contains(',') || has_control(tag) {
                return Err(SendError::BadTag(tag.clone()));
            }
            let tag = tag.trim();
            if !tag.is_empty() {
                tags.push(tag);
            }
        }

        let attachments = request
            .attachments
            .iter()
            .zip(contents)
            .enumerate()
            .map(|(index, (attachment, content))| Part::new(index, attachment, content))
            .collect::<Result<_, _>>()?;

        Ok(Outgoing {
            request,
            tags,
            attachments,
        })
    }

    /// To, Cc and Bcc in that order, each address once (compared case-insensitively).
    fn envelope_recipients(&self) -> Vec<String> {
        let request = self.request;
        let all = request
            .to
            .iter()
            .chain(&request.cc)
            .map(|r| r.email.as_str())
            .chain(request.bcc.iter().map(String::as_str));
        let mut out: Vec<String> = Vec::new();
        for address in all {
            if !out.iter().any(|seen| seen.eq_ignore_ascii_case(address)) {
                out.push(address.to_string());
            }
        }
        out
    }

    /// Renders the message. Bcc is deliberately never written as a header.
    fn build(self) -> std::io::Result<Vec<u8>> {
        let request = self.request;
        // Explicit rather than relying on the builder's defaults, whose Message-ID host is "localhost".
        let mut builder = MessageBuilder::new()
            .message_id(format!("{}@mailsnare", Uuid::now_v7().simple()))
            .date(Date::now())
            .from(address(&request.from));
        if !request.to.is_empty() {
            builder = builder.to(address_list(&request.to));
        }
        if !request.cc.is_empty() {
            builder = builder.cc(address_list(&request.cc));
        }
        if !request.reply_to.is_empty() {
            builder = builder.reply_to(address_list(&request.reply_to));
        }
        if !request.subject.is_empty() {
            builder = builder.subject(request.subject.as_str());
        }
        if !self.tags.is_empty() {
            builder = builder.header("X-Tags", header_value(self.tags.join(", ")));
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), header_value(value.as_str()));
        }
        builder.body(self.body()).write_to_vec()
    }

    /// The MIME tree: `mixed[alternative[text, related[html, inline…]], attachment…]`, collapsing
    /// every level that would hold a single part.
    fn body(self) -> MimePart<'a> {
        let request = self.request;
        let (inline, attached): (Vec<Part<'a>>, Vec<Part<'a>>) = self
            .attachments
            .into_iter()
            .partition(|part| !part.content_id.is_empty());

        let text = (!request.text.is_empty()).then(|| text_part("text/plain", &request.text));
        let mut leftover_inline = Vec::new();
        let html = if request.html.is_empty() {
            // With no HTML to reference them, inline parts travel alongside the attachments.
            leftover_inline = inline;
            None
        } else {
            let html = text_part("text/html", &request.html);
            Some(if inline.is_empty() {
                html
            } else {
                let mut parts = vec![html];
                parts.extend(inline.into_iter().map(Part::into_mime));
                MimePart::new(
                    ContentType::new("multipart/related").attribute("type", "text/html"),
                    parts,
                )
            })
        };
        let core = match (text, html) {
            (Some(text), Some(html)) => {
                Some(MimePart::new("multipart/alternative", vec![text, html]))
            }
            (text, html) => text.or(html),
        };

        if leftover_inline.is_empty() && attached.is_empty() {
            return core.unwrap_or_else(|| MimePart::new("text/plain", ""));
        }
        // Even a lone attachment gets the wrapper, so readers list it instead of showing it as the body.
        let mut parts: Vec<MimePart<'a>> = core.into_iter().collect();
        parts.extend(
            leftover_inline
                .into_iter()
                .chain(attached)
                .map(Part::into_mime),
        );
        MimePart::new("multipart/mixed", parts)
    }
}

/// A text part that gives back exactly `text`: with a bare LF in it, base64 (the 7bit and
/// quoted-printable forms would turn it into CRLF).
fn text_part<'a>(content_type: &'static str, text: &'a str) -> MimePart<'a> {
    let bare_lf = text
        .bytes()
        .enumerate()
        .any(|(i, b)| b == b'\n' && (i == 0 || text.as_bytes()[i - 1] != b'\r'));
    if !bare_lf {
        return MimePart::new(content_type, text);
    }
    let mut encoded = Vec::with_capacity(text.len() / 3 * 4 + text.len() / 38 + 4);
    if mail_builder::encoders::base64::base64_encode_mime(text.as_bytes(), &mut encoded, false)
        .is_err()
    {
        // Writing into a Vec cannot fail; the plain form is the fallback.
        return MimePart::new(content_type, text);
    }
    MimePart::new(
        ContentType::new(content_type).attribute("charset", "utf-8"),
        String::from_utf8_lossy(&encoded).into_owned(),
    )
    .transfer_encoding("base64")
}

impl<'a> Part<'a> {
    fn new(
        index: usize,
        attachment: &'a Attachment,
        content: Vec<u8>,
    ) -> Result<Part<'a>, SendError> {
        let content_id = attachment.content_id.trim();
        let content_id = content_id
            .strip_prefix('<')
            .and_then(|id| id.strip_suffix('>'))
            .unwrap_or(content_id);
        if content_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '\\'))
        {
            return Err(SendError::BadContentId {
                index,
                value: attachment.content_id.clone(),
            });
        }
        let filename = attachment.filename.as_str();
        check_text(&format!("Attachments[{index}].Filename"), filename)?;
        if filename.is_empty() && content_id.is_empty() {
            return Err(SendError::MissingFilename { index });
        }
        let mime_type =
            parse_content_type(&attachment.content_type, filename).ok_or_else(|| {
                SendError::BadContentType {
                    index,
                    value: attachment.content_type.clone(),
                }
            })?;
        Ok(Part {
            content,
            filename,
            mime_type,
            content_id,
        })
    }

    fn into_mime(self) -> MimePart<'a> {
        let part = MimePart::new(self.mime_type, self.content);
        if self.content_id.is_empty() {
            return part.attachment(self.filename);
        }
        let mut disposition = ContentType::new("inline");
        if !self.filename.is_empty() {
            disposition = disposition.attribute("filename", self.filename);
        }
        part.header("Content-Disposition", disposition)
            .cid(self.content_id)
    }
}

/// Standard base64, forgiving about line breaks, padding and a browser's data-URL prefix.
fn decode_base64(content: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let content = match content.strip_prefix("data:") {
        // FileReader.readAsDataURL gives `data:image/png;base64,<payload>`.
        Some(rest) => rest.split_once(',').map_or(rest, |(_, payload)| payload),
        None => content,
    };
    crate::mime::decode::decode_base64_checked(content.as_bytes())
}

/// Parses `type/subtype[; name=value]…`, or guesses from the file name when empty. `None` when
/// malformed, which also keeps CR/LF out of the header.
fn parse_content_type<'a>(value: &'a str, filename: &str) -> Option<ContentType<'a>> {
    let value = value.trim();
    if value.is_empty() {
        return Some(ContentType::new(guess_mime_type(filename)));
    }
    let mut pieces = value.split(';');
    let essence = pieces.next()?.trim();
    let (kind, subtype) = essence.split_once('/')?;
    if !is_token(kind) || !is_token(subtype) {
        return None;
    }
    let mut content_type = ContentType::new(essence.to_ascii_lowercase());
    for parameter in pieces {
        let (name, value) = parameter.split_once('=')?;
        let (name, value) = (name.trim(), value.trim());
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if !is_token(name) || has_control(value) {
            return None;
        }
        content_type = content_type.attribute(name, value);
    }
    Some(content_type)
}

/// An RFC 2045 token: printable ASCII without spaces or tspecials.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// The MIME type for the file name's extension; `application/octet-stream` when unknown.
fn guess_mime_type(filename: &str) -> String {
    mime_guess::from_path(filename)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

fn check_recipient(field: &str, recipient: &Recipient) -> Result<(), SendError> {
    check_address(&format!("{field}.Email"), &recipient.email)?;
    check_text(&format!("{field}.Name"), &recipient.name)
}

/// Address-like: see the module doc. Deliberately looser than RFC 5321 (no domain syntax check) but
/// strict about anything that could end the angle-bracketed address in a header.
fn check_address(field: &str, value: &str) -> Result<(), SendError> {
    let well_formed = value.len() <= MAX_ADDRESS_LEN
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !value.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '"' | '\\'
                )
        });
    if well_formed {
        Ok(())
    } else {
        Err(SendError::BadAddress {
            field: field.to_string(),
            value: value.to_string(),
        })
    }
}

/// Refuses CR, LF and other control characters (tab is folding whitespace, so it may stay).
fn check_text(field: &str, value: &str) -> Result<(), SendError> {
    if has_control(value) {
        Err(SendError::ControlCharacter {
            field: field.to_string(),
        })
    } else {
        Ok(())
    }
}

fn has_control(value: &str) -> bool {
    value.chars().any(|c| c.is_control() && c != '\t')
}

fn is_reserved_header(name: &str) -> bool {
    RESERVED_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
        || name
            .get(..8)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("Content-"))
}

/// Values are written as given, folded only: structured custom headers such as `List-Unsubscribe`
/// keep their syntax, and non-ASCII stays raw UTF-8 (RFC 6532) because the parser reads unknown
/// headers, `X-Tags` included, verbatim: RFC 2047 words would come back still encoded.
fn header_value<'a>(value: impl Into<Cow<'a, str>>) -> Raw<'a> {
    Raw::new(value)
}

fn address(recipient: &Recipient) -> Address<'_> {
    let name = (!recipient.name.trim().is_empty()).then_some(recipient.name.as_str());
    Address::new_address(name, recipient.email.as_str())
}

fn address_list(recipients: &[Recipient]) -> Address<'_> {
    Address::new_list(recipients.iter().map(address).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::StatusCode;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use mail_parser::{MessageParser, MimeHeaders};
    use serde_json::{Value, json};

    use super::*;
    use crate::stats::Stats;
    use crate::store::{Store, StoreLimits};

    async fn post(store: &Store, body: &str) -> (StatusCode, Value) {
        let (status, bytes) = crate::http::tests::call(store, "POST", "/api/v1/send", body).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Sends `body`, expects 200, and returns the stored message.
    async fn send_ok(store: &Store, body: Value) -> Arc<crate::message::StoredMessage> {
        let (status, json) = post(store, &body.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        let id = json["ID"].as_str().expect("ID string");
        let id = Uuid::parse_str(id).expect("ID is a UUID");
        store.get(&id).expect("ID names a stored message")
    }

    fn header_section(raw: &[u8]) -> String {
        let text = String::from_utf8_lossy(raw);
        text.split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .to_string()
    }

    #[tokio::test]
    async fn full_message_round_trips() {
        let store = Store::new(StoreLimits::default());
        let binary: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let png = [0x89u8, b'P', b'N', b'G', 0, 1, 2, 3];
        let message = send_ok(
            &store,
            json!({
                "From": {"Email": "sender@example.com", "Name": "Zoë Ünicode"},
                "To": [{"Email": "to1@example.com", "Name": "To One"}, {"Email": "to2@example.com"}],
                "Cc": [{"Email": "cc@example.com", "Name": "Cee"}],
                "Bcc": ["hidden@example.com"],
                "ReplyTo": [{"Email": "reply@example.com", "Name": "Reply"}],
                "Subject": "Grüße — test ✓",
                "Text": "Hello\nplain world",
                "HTML": "<p>Hello <img src=\"cid:logo\"></p>",
                "Attachments": [
                    {"Content": STANDARD.encode(&binary), "Filename": "data.bin", "ContentType": "application/octet-stream"},
                    {"Content": STANDARD.encode("a,b\n1,2\n"), "Filename": "rapport-été.csv", "ContentType": ""},
                    {"Content": STANDARD.encode(png), "Filename": "logo.png", "ContentType": "image/png", "ContentID": "logo"}
                ],
                "Tags": ["alpha", "beta", "ünï"],
                "Headers": {"X-Custom": "custom value", "X-Unicode": "ünï"},
                "Unknown": {"ignored": true}
            }),
        )
        .await;

        let parsed = MessageParser::default()
            .parse(&message.raw)
            .expect("stored bytes parse");
        let from = parsed.from().and_then(|a| a.first()).expect("From");
        assert_eq!(from.address(), Some("sender@example.com"));
        assert_eq!(from.name(), Some("Zoë Ünicode"));
        let to: Vec<_> = parsed
            .to()
            .expect("To")
            .iter()
            .map(|a| (a.name(), a.address()))
            .collect();
        assert_eq!(
            to,
            [
                (Some("To One"), Some("to1@example.com")),
                (None, Some("to2@example.com"))
            ]
        );
        let cc = parsed.cc().and_then(|a| a.first()).expect("Cc");
        assert_eq!(
            (cc.name(), cc.address()),
            (Some("Cee"), Some("cc@example.com"))
        );
        let reply_to = parsed.reply_to().and_then(|a| a.first()).expect("Reply-To");
        assert_eq!(reply_to.address(), Some("reply@example.com"));
        assert_eq!(parsed.subject(), Some("Grüße — test ✓"));
        assert_eq!(parsed.body_text(0).as_deref(), Some("Hello\nplain world"));
        assert_eq!(
            parsed.body_html(0).as_deref(),
            Some("<p>Hello <img src=\"cid:logo\"></p>")
        );
        assert!(
            parsed
                .message_id()
                .is_some_and(|id| id.ends_with("@mailsnare"))
        );
        assert!(parsed.date().is_some());
        assert_eq!(
            parsed.root_part().content_type().map(|c| c.ctype()),
            Some("multipart")
        );
        assert_eq!(
            parsed.root_part().content_type().and_then(|c| c.subtype()),
            Some("mixed")
        );

        let find = |name: &str| {
            parsed
                .attachments()
                .find(|p| p.attachment_name() == Some(name))
                .unwrap_or_else(|| panic!("attachment {name}"))
        };
        let data = find("data.bin");
        assert_eq!(data.contents(), binary.as_slice());
        assert_eq!(
            data.content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("application", Some("octet-stream")))
        );
        let csv = find("rapport-été.csv");
        assert_eq!(csv.contents(), b"a,b\n1,2\n");
        assert_eq!(
            csv.content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("text", Some("csv"))),
            "guessed from the extension"
        );
        let logo = find("logo.png");
        assert_eq!(logo.contents(), png.as_slice());
        assert_eq!(logo.content_id(), Some("logo"));
        assert!(crate::mime::parts::is_inline_part(logo));
        let raw_text = String::from_utf8_lossy(&message.raw);
        assert!(raw_text.contains("multipart/related"));
        assert!(raw_text.contains("multipart/alternative"));

        // Bcc: envelope only.
        assert_eq!(
            message.envelope.rcpt_to,
            [
                "to1@example.com",
                "to2@example.com",
                "cc@example.com",
                "hidden@example.com"
            ]
        );
        assert_eq!(message.envelope.mail_from, "sender@example.com");
        assert_eq!(message.envelope.helo, SEND_HELO);
        // The built message names no Bcc; Mailpit's Return-Path and Bcc go on top, the Bcc listing the envelope recipients no header names, as for SMTP mail.
        let headers = header_section(&message.raw);
        let (trace, built) = headers
            .split_once("\r\nBcc: hidden@example.com\r\n")
            .unwrap_or_else(|| panic!("a trace Bcc: {headers}"));
        assert_eq!(
            trace, "Return-Path: <sender@example.com>",
            "no Received: no SMTP"
        );
        assert!(!built.contains("hidden@example.com"), "{headers}");
        assert!(!built.to_ascii_lowercase().contains("bcc:"), "{headers}");
        assert!(
            message
                .summary
                .bcc
                .iter()
                .any(|a| a.address == "hidden@example.com")
        );

        assert!(headers.contains("X-Custom: custom value\r\n"), "{headers}");
        assert_eq!(
            parsed.header("X-Unicode").and_then(|v| v.as_text()),
            Some("ünï")
        );
        assert!(
            headers.contains("X-Tags: alpha, beta, ünï\r\n"),
            "{headers}"
        );
        assert_eq!(message.summary.x_tags, ["alpha", "beta", "ünï"]);
        assert_eq!(
            message.summary.attachments, 2,
            "the inline part is not counted"
        );
        assert_eq!(message.summary.subject, "Grüße — test ✓");
        assert_eq!(
            message.summary.from.as_ref().map(|a| a.name.as_str()),
            Some("Zoë Ünicode")
        );
        assert_eq!(store.counts().total, 1);
        let state = crate::http::AppState::for_store(store.clone());
        let (status, _) = crate::http::tests::call_with(
            state.clone(),
            "POST",
            "/api/v1/send",
            r#"{"From":{"Email":"a@example.com"},"To":[{"Email":"b@example.com"}]}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(store.counts().total, 2);
        assert_eq!(
            Stats::get(&state.stats.smtp_accepted),
            0,
            "not SMTP traffic"
        );
    }

    #[tokio::test]
    async fn line_breaks_come_back_exactly_as_sent() {
        let store = Store::new(StoreLimits::default());
        for (text, html) in [
            ("a\nb\n\nc", "<p>\n</p>"),
            ("crlf\r\nkept\r\n", "<p>\r\n</p>"),
            ("mixed\r\nand\nbare", "x"),
        ] {
            let message = send_ok(
                &store,
                json!({"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}], "Text": text, "HTML": html}),
            )
            .await;
            let parsed = MessageParser::default()
                .parse(&message.raw)
                .expect("parses");
            assert_eq!(parsed.body_text(0).as_deref(), Some(text));
            assert_eq!(parsed.body_html(0).as_deref(), Some(html));
        }
    }

    #[tokio::test]
    async fn the_basic_auth_user_is_the_username() {
        use axum::body::Body;
        use http_body_util::BodyExt as _;
        use tower::ServiceExt as _;
        let store = Store::new(StoreLimits::default());
        let app = crate::http::router(AppState::for_store(store.clone()));
        let request = axum::http::Request::post("/api/v1/send")
            .header("content-type", "application/json")
            // "ci-bot:secret"
            .header("authorization", "Basic Y2ktYm90OnNlY3JldA==")
            .body(Body::from(
                json!({"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}]})
                    .to_string(),
            ))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let id: Value = serde_json::from_slice(&body).unwrap();
        let id = Uuid::parse_str(id["ID"].as_str().unwrap()).unwrap();
        let message = store.get(&id).unwrap();
        assert_eq!(message.envelope.auth_user.as_deref(), Some("ci-bot"));
        let summary = crate::http::mailpit::model::MessageSummary::new(&message);
        assert_eq!(
            serde_json::to_value(&summary).unwrap()["Username"],
            "ci-bot"
        );
    }

    #[tokio::test]
    async fn text_only_is_a_single_plain_part() {
        let store = Store::new(StoreLimits::default());
        let message = send_ok(
            &store,
            json!({"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}], "Subject": "s", "Text": "just text"}),
        )
        .await;
        let parsed = MessageParser::default()
            .parse(&message.raw)
            .expect("parses");
        let ct = parsed.root_part().content_type().expect("content type");
        assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
        assert_eq!(parsed.body_text(0).as_deref(), Some("just text"));
        assert!(header_section(&message.raw).contains("MIME-Version: 1.0"));
    }

    #[tokio::test]
    async fn text_and_html_make_an_alternative() {
        let store = Store::new(StoreLimits::default());
        let message = send_ok(
            &store,
            json!({"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}], "Text": "t", "HTML": "<b>h</b>"}),
        )
        .await;
        let parsed = MessageParser::default()
            .parse(&message.raw)
            .expect("parses");
        let ct = parsed.root_part().content_type().expect("content type");
        assert_eq!(
            (ct.ctype(), ct.subtype()),
            ("multipart", Some("alternative"))
        );
        assert_eq!(parsed.body_text(0).as_deref(), Some("t"));
        assert_eq!(parsed.body_html(0).as_deref(), Some("<b>h</b>"));
        assert_eq!(parsed.attachment_count(), 0);
    }

    #[tokio::test]
    async fn nulls_bcc_only_and_lenient_base64_are_accepted() {
        let store = Store::new(StoreLimits::default());
        let message = send_ok(
            &store,
            json!({
                "From": {"Email": "a@example.com", "Name": null},
                "To": null, "Cc": null, "ReplyTo": null, "Tags": null, "Headers": null,
                "Bcc": ["only@example.com"],
                "Subject": null, "HTML": null,
                "Attachments": [
                    // unpadded, wrapped, and as a browser data URL
                    {"Content": "aGk", "Filename": "a.txt"},
                    {"Content": "data:text/plain;base64,aGVs\nbG8=", "Filename": "b.txt", "ContentType": "text/plain; charset=\"utf-8\""}
                ]
            }),
        )
        .await;
        assert_eq!(message.envelope.rcpt_to, ["only@example.com"]);
        let parsed = MessageParser::default()
            .parse(&message.raw)
            .expect("parses");
        assert!(parsed.to().is_none());
        let contents: Vec<&[u8]> = parsed.attachments().map(|p| p.contents()).collect();
        assert_eq!(contents, [b"hi".as_slice(), b"hello".as_slice()]);
        assert_eq!(message.summary.attachments, 2);
    }

    #[tokio::test]
    async fn recipients_are_deduplicated_in_the_envelope() {
        let store = Store::new(StoreLimits::default());
        let message = send_ok(
            &store,
            json!({"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}],
                   "Cc": [{"Email": "B@example.com"}], "Bcc": ["c@example.com", "b@example.com"]}),
        )
        .await;
        assert_eq!(message.envelope.rcpt_to, ["b@example.com", "c@example.com"]);
    }

    #[tokio::test]
    async fn bad_input_is_400_and_stores_nothing() {
        let ok = |patch: Value| {
            let mut base = json!({
                "From": {"Email": "a@example.com"},
                "To": [{"Email": "b@example.com"}],
                "Subject": "s",
                "Text": "t"
            });
            if let (Some(base), Some(patch)) = (base.as_object_mut(), patch.as_object()) {
                for (k, v) in patch {
                    base.insert(k.clone(), v.clone());
                }
            }
            base.to_string()
        };
        let cases: Vec<(&str, String)> = vec![
            ("not JSON", "not json".into()),
            ("empty body", String::new()),
            ("array", "[]".into()),
            ("From as a string", ok(json!({"From": "a@example.com"}))),
            (
                "missing From",
                json!({"To": [{"Email": "b@example.com"}]}).to_string(),
            ),
            (
                "empty From.Email",
                ok(json!({"From": {"Email": "", "Name": "x"}})),
            ),
            (
                "lowercase keys",
                json!({"from": {"email": "a@example.com"}, "to": [{"email": "b@example.com"}]})
                    .to_string(),
            ),
            ("no recipients", ok(json!({"To": [], "Cc": [], "Bcc": []}))),
            ("To without @", ok(json!({"To": [{"Email": "nope"}]}))),
            (
                "To with space",
                ok(json!({"To": [{"Email": "a b@example.com"}]})),
            ),
            (
                "To with CRLF",
                ok(json!({"To": [{"Email": "b@example.com\r\nBcc: x@y.z"}]})),
            ),
            (
                "To with angle",
                ok(json!({"To": [{"Email": "b@x.y>, <evil@z.w"}]})),
            ),
            ("To missing Email", ok(json!({"To": [{"Name": "n"}]}))),
            ("Cc empty domain", ok(json!({"Cc": [{"Email": "c@"}]}))),
            ("Bcc empty local", ok(json!({"Bcc": ["@example.com"]}))),
            ("Bcc two @", ok(json!({"Bcc": ["a@b@example.com"]}))),
            ("ReplyTo bad", ok(json!({"ReplyTo": [{"Email": "bad"}]}))),
            ("From bad", ok(json!({"From": {"Email": "bad"}}))),
            (
                "name with CRLF",
                ok(json!({"To": [{"Email": "b@example.com", "Name": "x\r\nBcc: e@x.y"}]})),
            ),
            ("subject with LF", ok(json!({"Subject": "a\nBcc: e@x.y"}))),
            (
                "bad base64",
                ok(json!({"Attachments": [{"Content": "!!!not base64", "Filename": "a.txt"}]})),
            ),
            (
                "missing filename",
                ok(json!({"Attachments": [{"Content": "aGk=", "ContentType": "text/plain"}]})),
            ),
            (
                "content type with CRLF",
                ok(
                    json!({"Attachments": [{"Content": "aGk=", "Filename": "a", "ContentType": "text/plain\r\nX-A: b"}]}),
                ),
            ),
            (
                "content type without subtype",
                ok(
                    json!({"Attachments": [{"Content": "aGk=", "Filename": "a", "ContentType": "text"}]}),
                ),
            ),
            (
                "content id with space",
                ok(json!({"Attachments": [{"Content": "aGk=", "ContentID": "a b"}]})),
            ),
            (
                "filename with LF",
                ok(json!({"Attachments": [{"Content": "aGk=", "Filename": "a\nb"}]})),
            ),
            (
                "header name with CRLF",
                ok(json!({"Headers": {"X-A\r\nBcc": "v"}})),
            ),
            (
                "header name with space",
                ok(json!({"Headers": {"X A": "v"}})),
            ),
            (
                "header name with colon",
                ok(json!({"Headers": {"X-A:": "v"}})),
            ),
            ("empty header name", ok(json!({"Headers": {"": "v"}}))),
            (
                "header value with CRLF",
                ok(json!({"Headers": {"X-A": "v\r\nBcc: e@x.y"}})),
            ),
            (
                "header value not a string",
                ok(json!({"Headers": {"X-A": 1}})),
            ),
            ("tag with comma", ok(json!({"Tags": ["a,b"]}))),
            ("tag with LF", ok(json!({"Tags": ["a\nb"]}))),
        ];
        let reserved = [
            "From",
            "to",
            "CC",
            "Bcc",
            "Reply-To",
            "subject",
            "Date",
            "message-id",
            "MIME-Version",
            "X-Tags",
            "Content-Type",
            "content-transfer-encoding",
        ];
        let reserved_cases = reserved.iter().map(|name| {
            let mut headers = serde_json::Map::new();
            headers.insert((*name).to_string(), json!("x@example.com"));
            (*name, ok(json!({ "Headers": headers })))
        });

        let store = Store::new(StoreLimits::default());
        for (what, body) in cases.into_iter().chain(reserved_cases) {
            let (status, json) = post(&store, &body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {json}");
            let error = json["Error"].as_str().unwrap_or_default();
            assert!(!error.is_empty(), "{what}: {json}");
        }
        assert_eq!(store.counts().total, 0);

        // The same base request is fine, so each case failed for its own reason.
        let (status, _) = post(&store, &ok(json!({}))).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn error_names_the_field() {
        let store = Store::new(StoreLimits::default());
        let body = json!({"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}, {"Email": "oops"}]});
        let (status, json) = post(&store, &body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            json["Error"],
            "To[1].Email \"oops\" is not an e-mail address"
        );
    }

    #[tokio::test]
    async fn message_larger_than_the_store_is_400() {
        let store = Store::new(StoreLimits {
            max_messages: 10,
            max_bytes: 200,
            ..StoreLimits::default()
        });
        let body = json!({"From": {"Email": "a@example.com"}, "To": [{"Email": "b@example.com"}], "Text": "x".repeat(500)});
        let (status, json) = post(&store, &body.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            json["Error"]
                .as_str()
                .is_some_and(|e| e.contains("byte limit")),
            "{json}"
        );
        assert_eq!(store.counts().total, 0);
    }
}

//! Response shapes shared by both APIs: Mailpit's plain `ok`, a stored message's exact bytes (read
//! or downloaded, without copying them), `Content-Disposition` values, and pre-serialized JSON.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::message::StoredMessage;

/// Mailpit answers PUT and DELETE with a plain `ok`.
pub fn ok() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response()
}

/// JSON that was serialized elsewhere (off the async workers).
pub fn json(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Lends a stored message's bytes to a response body without copying them.
struct RawBytes(Arc<StoredMessage>);

impl AsRef<[u8]> for RawBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0.raw
    }
}

/// The message exactly as stored, as `content_type`; with `download`, as the attachment
/// `<ID>.eml`.
pub fn raw_message(
    message: Arc<StoredMessage>,
    content_type: &'static str,
    download: bool,
) -> Response {
    let disposition =
        download.then(|| content_disposition("attachment", &format!("{}.eml", message.id)));
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        Body::from(Bytes::from_owner(RawBytes(message))),
    )
        .into_response();
    if let Some(disposition) = disposition {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, disposition);
    }
    response
}

/// `attachment; filename="…"` (or `inline; …`) with an ASCII stand-in for the name, plus the exact
/// name in RFC 6266 `filename*` form when it is not plain ASCII.
pub fn content_disposition(kind: &'static str, filename: &str) -> HeaderValue {
    let plain = |c: char| c.is_ascii_graphic() || c == ' ';
    let fallback: String = filename
        .chars()
        .map(|c| {
            if plain(c) && !matches!(c, '"' | '\\' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut value = format!("{kind}; filename=\"{fallback}\"");
    if fallback != filename {
        value.push_str("; filename*=UTF-8''");
        for byte in filename.bytes() {
            if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
                value.push(byte as char);
            } else {
                value.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    // Only printable ASCII was written, which is always a valid header value.
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_keep_names_safe_and_exact() {
        assert_eq!(
            content_disposition("attachment", "a.pdf"),
            "attachment; filename=\"a.pdf\""
        );
        assert_eq!(
            content_disposition("inline", "é \"x\".png"),
            "inline; filename=\"_ _x_.png\"; filename*=UTF-8''%C3%A9%20%22x%22.png"
        );
        assert_eq!(
            content_disposition("attachment", "../../etc/passwd\r\n"),
            "attachment; filename=\".._.._etc_passwd__\"; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd%0D%0A"
        );
    }
}

//! MIME: the one place stored bytes are taken apart. Decoded views come from mail-parser, with the
//! repairs every reader wants (a missing closing boundary) and the conversions (HTML bodies as
//! text); the raw structure as sent, header blocks, parameters and transfer decodings are ours.
//!
//! - [`headers`]: header blocks as sent, parameters, encoded words, canonical names.
//! - [`decode`]: base64, quoted-printable, percent-decoding.
//! - [`entity`]: the raw multipart structure (MailHog's view).
//! - [`parts`]: part paths (`1`, `2.1`, …), one part's decoded content, inline vs attachment.
//! - [`html`]: HTML as plain text.

pub mod decode;
pub mod entity;
pub mod headers;
pub mod html;
pub mod parts;

pub use html::html_to_text;

use std::borrow::Cow;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// Parses `raw` and hands the result to `f`. When a multipart's closing boundary is missing (a
/// truncated or hand-made message), the bytes are parsed again with the boundaries closed, so
/// that the last part is decoded like any other.
pub fn with_message<T>(raw: &[u8], f: impl FnOnce(Option<&Message<'_>>) -> T) -> T {
    let parser = MessageParser::default();
    let first = parser.parse(raw);
    match first.as_ref().and_then(|m| close_boundaries(raw, m)) {
        Some(repaired) => f(parser.parse(&repaired[..]).as_ref()),
        None => f(first.as_ref()),
    }
}

/// `raw` with the missing closing delimiters appended (innermost first), or `None` when every
/// multipart is closed.
fn close_boundaries(raw: &[u8], message: &Message<'_>) -> Option<Vec<u8>> {
    let missing: Vec<&str> = message
        .parts
        .iter()
        .filter(|part| matches!(part.body, PartType::Multipart(_)))
        .filter_map(|part| part.content_type()?.attribute("boundary"))
        .filter(|boundary| {
            let closing = format!("--{boundary}--");
            memchr::memmem::find(raw, closing.as_bytes()).is_none()
        })
        .collect();
    if missing.is_empty() {
        return None;
    }
    let mut repaired = raw.to_vec();
    for boundary in missing.iter().rev() {
        repaired.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    }
    Some(repaired)
}

/// The text bodies of a message, decoded; HTML-only bodies are converted to text.
pub fn text_bodies<'a>(message: &'a Message<'a>) -> Vec<Cow<'a, str>> {
    message
        .text_body
        .iter()
        .filter_map(|&id| message.parts.get(id as usize))
        .filter_map(|part| match &part.body {
            PartType::Text(text) => Some(text.clone()),
            PartType::Html(html) => Some(Cow::Owned(html_to_text(html))),
            _ => None,
        })
        .collect()
}

/// The first text body, or an empty string.
pub fn text(message: &Message<'_>) -> String {
    text_bodies(message)
        .into_iter()
        .next()
        .map(Cow::into_owned)
        .unwrap_or_default()
}

/// The first real HTML body (not a text body dressed up as HTML), or an empty string.
pub fn html(message: &Message<'_>) -> String {
    message
        .html_bodies()
        .find_map(|part| match &part.body {
            PartType::Html(html) => Some(html.to_string()),
            _ => None,
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_closing_boundary_is_repaired() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
            --b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n";
        let decoded = with_message(raw, |m| {
            m.and_then(|m| m.attachments().next().map(|p| p.contents().to_vec()))
                .unwrap_or_default()
        });
        assert_eq!(decoded, [0, 1, 2, 3]);
        let closed = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
        let parsed = MessageParser::default().parse(&closed[..]);
        assert!(
            parsed
                .as_ref()
                .and_then(|m| close_boundaries(closed, m))
                .is_none()
        );
    }

    #[test]
    fn text_bodies_convert_html_only_mail() {
        let raw = b"Content-Type: text/html\r\n\r\n<p>Hello</p><p>World</p>\r\n";
        let text = with_message(raw, |m| m.map(text).unwrap_or_default());
        assert_eq!(text, "Hello\nWorld");
    }
}

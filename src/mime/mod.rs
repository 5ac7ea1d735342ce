//! MIME: the one place stored bytes are taken apart. Decoded views come from mail-parser, with the
//! repairs every reader wants (a missing closing boundary) and the conversions (HTML bodies as
//! text); the raw structure as sent, header blocks, parameters and transfer decodings are ours.
//!
//! - [`headers`]: header blocks as sent, parameters, encoded words, canonical names.
//! - [`decode`]: base64, quoted-printable, percent-decoding.
//! - [`entity`]: the raw multipart structure (MailHog's view).
//! - [`structure`]: the bounded walk of the multipart structure, repairs and truncation.
//! - [`parts`]: part paths (`1`, `2.1`, …), one part's decoded content, inline vs attachment.
//! - [`html`]: HTML as plain text.

pub mod decode;
pub mod entity;
pub mod headers;
pub mod html;
pub mod parts;
pub mod structure;

pub use html::html_to_text;

use std::borrow::Cow;

use mail_parser::{Message, MessageParser, PartType};

/// Parses `raw` within `limits` and hands the result to `f`. The structure is walked first
/// ([`structure::prepare`]): a missing closing boundary is repaired, and what goes past a bound
/// becomes one opaque part.
pub fn with_message<T>(
    raw: &[u8],
    limits: &structure::Limits,
    f: impl FnOnce(Option<&Message<'_>>) -> T,
) -> T {
    with_prepared(&structure::prepare(raw, limits), limits, f)
}

/// Parses bytes that [`structure::prepare`] already walked. Should the parser still see more
/// structure than the bounds allow (the walk and the parser disagreeing about some malformed
/// input), the whole body is shown as one opaque part instead.
pub fn with_prepared<T>(
    prepared: &structure::Prepared<'_>,
    limits: &structure::Limits,
    f: impl FnOnce(Option<&Message<'_>>) -> T,
) -> T {
    let parser = MessageParser::default();
    let parsed = parser.parse(&prepared.bytes[..]);
    if parsed.as_ref().is_none_or(|m| within(m, limits)) {
        return f(parsed.as_ref());
    }
    drop(parsed);
    let whole = structure::opaque_whole(&prepared.bytes);
    f(parser.parse(&whole[..]).as_ref())
}

/// True when `message`'s tree is within `limits`, with room for the opaque parts the walk adds.
fn within(message: &Message<'_>, limits: &structure::Limits) -> bool {
    if message.parts.len() > 2 * limits.parts + 16 {
        return false;
    }
    let mut stack = vec![(0usize, 1usize)];
    while let Some((id, depth)) = stack.pop() {
        if depth > limits.depth + 1 {
            return false;
        }
        if let Some(PartType::Multipart(children)) = message.parts.get(id).map(|p| &p.body) {
            stack.extend(children.iter().map(|&c| (c as usize, depth + 1)));
        }
    }
    true
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
        let decoded = with_message(raw, &structure::Limits::default(), |m| {
            m.and_then(|m| m.attachments().next().map(|p| p.contents().to_vec()))
                .unwrap_or_default()
        });
        assert_eq!(decoded, [0, 1, 2, 3]);
        let closed = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
        let prepared = structure::prepare(closed, &structure::Limits::default());
        assert!(
            matches!(prepared.bytes, Cow::Borrowed(_)),
            "nothing to repair"
        );
    }

    #[test]
    fn text_bodies_convert_html_only_mail() {
        let raw = b"Content-Type: text/html\r\n\r\n<p>Hello</p><p>World</p>\r\n";
        let text = with_message(raw, &structure::Limits::default(), |m| {
            m.map(text).unwrap_or_default()
        });
        assert_eq!(text, "Hello\nWorld");
    }
}

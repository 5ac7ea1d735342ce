//! The one place the multipart structure is walked, with bounds: how deep multiparts nest and how
//! many parts a message has. Before mail-parser sees a message, [`prepare`] walks it (iteratively,
//! never deeper than the limit, never past the part budget, finding delimiters exactly where
//! mail-parser does) and, only when something is wrong, hands back a repaired copy:
//!
//! - a multipart whose closing delimiter is missing (a truncated or hand-made message) is closed,
//!   so that its last part is decoded like any other;
//! - a multipart nested deeper than [`Limits::depth`] becomes one opaque part,
//!   `truncated-at-depth-N.mime`;
//! - the parts after the first [`Limits::parts`] become one opaque part,
//!   `truncated-after-N-parts.mime`;
//! - a header block that a line which is not a header ends (no blank line) gets its blank line,
//!   so that line starts the body as RFC 5322 readers take it, at the top and inside parts;
//! - a `Content-Type` with no subtype (`text`) reads as `text/plain`, as RFC 2045 5.2 says an
//!   invalid type does.
//!
//! An opaque part holds the original bytes base64-encoded, so no boundary inside it can split it
//! again. [`super::with_message`] checks what mail-parser made of the result against the bounds
//! too, and should the two ever disagree it shows the whole body as one opaque part.
//!
//! The stored bytes never change; only what the parsed views show. Without the bounds a 3 MB mail
//! of 40 000 nested multiparts cost gigabytes and seconds on every read.

use std::borrow::Cow;
use std::ops::Range;

use base64::Engine as _;

use super::headers::{header, params, split_headers};

/// Bounds on the MIME structure that is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest multipart nesting parsed (the message itself is level 1).
    pub depth: usize,
    /// Most parts (multiparts and leaves, the message excluded) parsed.
    pub parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            depth: crate::config::DEFAULT_MAX_MIME_DEPTH,
            parts: crate::config::DEFAULT_MAX_MIME_PARTS,
        }
    }
}

/// Why parts of a message are shown as one opaque part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// The parser saw more structure than the walk did: the whole body is one opaque part.
    Whole,
    /// Multiparts nested deeper than the depth limit.
    Depth(usize),
    /// More parts than the part limit.
    Parts(usize),
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Truncation::Whole => write!(f, "a structure too large to parse"),
            Truncation::Depth(n) => write!(f, "multiparts nested deeper than {n} levels"),
            Truncation::Parts(n) => write!(f, "more than {n} parts"),
        }
    }
}

/// The bytes to parse and what was done to them.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub bytes: Cow<'a, [u8]>,
    /// The first bound that was reached, if any.
    pub truncated: Option<Truncation>,
}

/// One change to make to the copy.
#[derive(Debug)]
enum Edit {
    /// Replace these bytes with one opaque part (its headers and its base64 body). For a deep
    /// multipart the range is the whole entity; for parts past the budget it is the rest of the
    /// multipart's body, from the line break before the first dropped delimiter, and the
    /// multipart is closed after it unless it was closed already.
    Opaque {
        range: Range<usize>,
        name: String,
        /// `Some(boundary)` when the opaque part continues a multipart: it needs its delimiter
        /// line, and a closing one when `close`.
        multipart: Option<(String, bool)>,
    },
    /// Append a closing delimiter at the end of this multipart's body.
    Close { at: usize, boundary: String },
    /// End a header block with the blank line it lacks, before the line that ends it.
    BlankLine { at: usize },
    /// Put this header field (the whole line, folds included) in place of the one there.
    Field { range: Range<usize>, line: String },
}

impl Edit {
    fn position(&self) -> usize {
        match self {
            Edit::Opaque { range, .. } | Edit::Field { range, .. } => range.start,
            Edit::Close { at, .. } | Edit::BlankLine { at } => *at,
        }
    }
}

/// The repairs an entity's header block needs (see the module doc); `base` is where the entity
/// starts in the message.
fn repair_header_block(
    entity: &[u8],
    headers: &[super::headers::Header<'_>],
    body: &[u8],
    base: usize,
    edits: &mut Vec<Edit>,
) {
    let block = &entity[..entity.len() - body.len()];
    let ended_by_blank_line =
        block.ends_with(b"\n\n") || block.ends_with(b"\n\r\n") || matches!(block, b"\n" | b"\r\n");
    if !body.is_empty() && !ended_by_blank_line {
        edits.push(Edit::BlankLine {
            at: base + block.len(),
        });
    }
    let content_type = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("Content-Type"));
    if let Some(field) = content_type {
        let (media_type, rest) = field.value.split_once(';').unwrap_or((&field.value, ""));
        if !media_type.contains('/') {
            let params = if rest.is_empty() {
                String::new()
            } else {
                format!(";{rest}")
            };
            edits.push(Edit::Field {
                range: base + field.span.start..base + field.span.end,
                line: format!("{}: text/plain{params}\r\n", field.name),
            });
        }
    }
}

/// Walks `raw`'s structure within `limits`; see the module doc.
pub fn prepare<'a>(raw: &'a [u8], limits: &Limits) -> Prepared<'a> {
    let mut edits = Vec::new();
    let mut truncated = None;
    let mut parts = 0usize;
    // (entity range, depth of the entity: the message is 1), depth-first in document order.
    let mut stack = vec![(0..raw.len(), 1usize)];
    while let Some((range, depth)) = stack.pop() {
        let entity = &raw[range.clone()];
        let (headers, body) = split_headers(entity);
        let boundary = boundary_of(&headers);
        if boundary.is_some() && depth > limits.depth {
            truncated.get_or_insert(Truncation::Depth(limits.depth));
            edits.push(Edit::Opaque {
                range,
                name: format!("truncated-at-depth-{}.mime", limits.depth),
                multipart: None,
            });
            continue;
        }
        repair_header_block(entity, &headers, body, range.start, &mut edits);
        let Some(boundary) = boundary else {
            continue;
        };
        let body_start = range.start + (entity.len() - body.len());
        let split = split_as_parsed(body, boundary.as_bytes());
        let offset = |slice: &[u8]| slice.as_ptr() as usize - raw.as_ptr() as usize;
        let budget = limits.parts.saturating_sub(parts);
        let mut children: Vec<Range<usize>> = split
            .parts
            .iter()
            .map(|p| offset(p)..offset(p) + p.len())
            .collect();
        if children.len() > budget {
            truncated.get_or_insert(Truncation::Parts(limits.parts));
            // From the line break that ends the last kept part (or the body's start).
            let from = match budget {
                0 => body_start,
                n => children[n - 1].end,
            };
            let to = match split.closing {
                Some(closing) => body_start + closing,
                None => range.end,
            };
            edits.push(Edit::Opaque {
                range: from..to.max(from),
                name: format!("truncated-after-{}-parts.mime", limits.parts),
                multipart: Some((boundary, split.closing.is_none())),
            });
            children.truncate(budget);
        } else if split.closing.is_none() && !split.parts.is_empty() {
            edits.push(Edit::Close {
                at: range.end,
                boundary,
            });
        }
        parts += children.len();
        // Reversed, so the first child is walked first.
        for child in children.into_iter().rev() {
            stack.push((child, depth + 1));
        }
    }
    if edits.is_empty() {
        return Prepared {
            bytes: Cow::Borrowed(raw),
            truncated,
        };
    }
    Prepared {
        bytes: Cow::Owned(apply(raw, edits)),
        truncated,
    }
}

/// The copy with every edit made. Edits never overlap (nothing inside an opaque region is
/// walked); closings at the same position go innermost first.
fn apply(raw: &[u8], mut edits: Vec<Edit>) -> Vec<u8> {
    // The walk meets an outer multipart before an inner one; at an equal position the inner one's
    // closing must come first, so the order is reversed before the (stable) sort.
    edits.reverse();
    // A header block's repairs come before whatever else starts where its body does.
    edits.sort_by_key(|e| {
        let header_block = matches!(e, Edit::BlankLine { .. } | Edit::Field { .. });
        (e.position(), !header_block)
    });
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 3 + 256);
    let mut copied = 0;
    for edit in edits {
        let at = edit.position().max(copied);
        out.extend_from_slice(&raw[copied..at]);
        copied = at;
        match edit {
            Edit::Opaque {
                range,
                name,
                multipart,
            } => {
                if let Some((boundary, _)) = &multipart {
                    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
                }
                opaque_part(&mut out, raw.get(range.clone()).unwrap_or_default(), &name);
                if let Some((boundary, true)) = &multipart {
                    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
                }
                copied = range.end.max(copied);
            }
            Edit::Close { boundary, .. } => {
                out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            }
            Edit::BlankLine { .. } => out.extend_from_slice(b"\r\n"),
            Edit::Field { range, line } => {
                out.extend_from_slice(line.as_bytes());
                copied = range.end.max(copied);
            }
        }
    }
    out.extend_from_slice(&raw[copied..]);
    out
}

/// Writes an attachment holding `bytes` (base64: no line of it can look like a delimiter).
fn opaque_part(out: &mut Vec<u8>, bytes: &[u8], name: &str) {
    out.extend_from_slice(
        format!(
            "Content-Type: application/octet-stream; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        )
        .as_bytes(),
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

/// The message with its top-level header block and one opaque part for everything after it: the
/// last resort when the parser saw more structure than the walk (see [`super::with_message`]).
pub fn opaque_whole(raw: &[u8]) -> Vec<u8> {
    let (headers, body) = split_headers(raw);
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 3 + 256);
    for header in headers.iter().filter(|h| {
        !h.name.eq_ignore_ascii_case("Content-Type")
            && !h.name.eq_ignore_ascii_case("Content-Transfer-Encoding")
            && !h.name.eq_ignore_ascii_case("Content-Disposition")
    }) {
        out.extend_from_slice(&raw[header.span.clone()]);
    }
    out.extend_from_slice(b"MIME-Version: 1.0\r\n");
    opaque_part(&mut out, body, "truncated-whole-body.mime");
    out
}

/// The boundary of a `multipart/*` Content-Type value (type matched case-insensitively), if any.
pub fn multipart_boundary(content_type: &str) -> Option<String> {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    params(content_type)
        .into_iter()
        .find(|(name, _)| name == "boundary")
        .map(|(_, value)| value)
        .filter(|b| !b.is_empty())
}

/// The boundary of an entity's headers when it is a multipart.
pub fn boundary_of(headers: &[super::headers::Header<'_>]) -> Option<String> {
    multipart_boundary(header(headers, "Content-Type")?)
}

/// Where the line break that ends just before `at` starts (CRLF or a bare LF), or `at` itself.
fn line_break_before(body: &[u8], at: usize) -> usize {
    if at >= 2 && &body[at - 2..at] == b"\r\n" {
        at - 2
    } else if at >= 1 && body[at - 1] == b'\n' {
        at - 1
    } else {
        at
    }
}

/// Splits a multipart body exactly where mail-parser does: at every `--boundary`, wherever it
/// stands (mail-parser does not require a line start, nor that the boundary ends there), the first
/// one followed by `--` closing it. The walk must see at least the structure the parser will.
pub fn split_as_parsed<'a>(body: &'a [u8], boundary: &[u8]) -> Split<'a> {
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);
    let mut parts = Vec::new();
    let mut closing = None;
    // The part that starts after the previous delimiter line, if any.
    let mut open: Option<usize> = None;
    for at in memchr::memmem::find_iter(body, &delimiter) {
        let after = at + delimiter.len();
        let end = line_break_before(body, at);
        if let Some(start) = open.take() {
            parts.push(&body[start.min(end)..end]);
        }
        if body.get(after..after + 2) == Some(b"--") {
            closing = Some(end);
            break;
        }
        let next_line = memchr::memchr(b'\n', &body[after..]).map_or(body.len(), |i| after + i + 1);
        open = Some(next_line);
    }
    if let Some(start) = open {
        let part = &body[start.min(body.len())..];
        if !part.is_empty() {
            parts.push(part);
        }
    }
    Split { parts, closing }
}

/// A multipart body taken apart: its parts' bytes and where its closing delimiter line starts.
#[derive(Debug, PartialEq, Eq)]
pub struct Split<'a> {
    pub parts: Vec<&'a [u8]>,
    /// Offset in the body of the line break before the closing delimiter (or of the delimiter,
    /// when it opens the body), when there is one.
    pub closing: Option<usize>,
}

/// Splits a multipart body into its parts' bytes (RFC 2046 5.1.1): the preamble before the first
/// delimiter line and the epilogue after the closing one are dropped, and the line break before
/// each delimiter belongs to the delimiter. A body that ends without a closing delimiter keeps its
/// last part up to the end.
pub fn split<'a>(body: &'a [u8], boundary: &[u8]) -> Split<'a> {
    let mut delimiter = Vec::with_capacity(boundary.len() + 2);
    delimiter.extend_from_slice(b"--");
    delimiter.extend_from_slice(boundary);

    // (start of the delimiter line, start of the next line, is the closing delimiter)
    let mut lines: Vec<(usize, usize, bool)> = Vec::new();
    for at in memchr::memmem::find_iter(body, &delimiter) {
        if at > 0 && body[at - 1] != b'\n' {
            continue;
        }
        let line_end = memchr::memchr(b'\n', &body[at..]).map_or(body.len(), |i| at + i + 1);
        let mut rest = &body[at + delimiter.len()..line_end];
        let close = rest.starts_with(b"--");
        if close {
            rest = &rest[2..];
        }
        // Only transport padding may follow; anything else is a longer string that merely starts
        // with the boundary.
        if rest
            .iter()
            .all(|&b| b == b' ' || b == b'\t' || b == b'\r' || b == b'\n')
        {
            lines.push((at, line_end, close));
            if close {
                break;
            }
        }
    }

    let mut parts = Vec::new();
    let mut closing = None;
    for (i, &(_, next, close)) in lines.iter().enumerate() {
        if close {
            break;
        }
        let part = match lines.get(i + 1) {
            Some(&(following, _, _)) => &body[next..line_break_before(body, following).max(next)],
            None => &body[next..],
        };
        let last = i + 1 == lines.len();
        if last && part.is_empty() {
            // A final `--boundary` with nothing after it is a truncated message, not a part.
            break;
        }
        parts.push(part);
    }
    if let Some(&(at, _, true)) = lines.last() {
        closing = Some(line_break_before(body, at));
    }
    Split { parts, closing }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> Vec<u8> {
        let mut raw = b"Subject: nest\r\n".to_vec();
        for level in 0..levels {
            raw.extend_from_slice(
                format!(
                    "Content-Type: multipart/mixed; boundary=\"b{level}=\"\r\n\r\n--b{level}=\r\n"
                )
                .as_bytes(),
            );
        }
        raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ndeep\r\n");
        raw
    }

    fn limits(depth: usize, parts: usize) -> Limits {
        Limits { depth, parts }
    }

    #[test]
    fn well_formed_mail_is_parsed_as_it_is() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n";
        let prepared = prepare(raw, &Limits::default());
        assert!(matches!(prepared.bytes, Cow::Borrowed(_)));
        assert_eq!(prepared.truncated, None);
        let plain = prepare(b"Subject: x\r\n\r\nbody", &Limits::default());
        assert!(matches!(plain.bytes, Cow::Borrowed(_)));
    }

    #[test]
    fn header_blocks_get_the_blank_line_and_the_subtype_they_lack() {
        let limits = Limits::default();
        // A line that is not a header ends the block: it starts the body (bare LF too).
        let top = prepare(b"Subject: x\r\nnot a header\r\nmore\r\n", &limits);
        assert_eq!(
            &top.bytes[..],
            b"Subject: x\r\n\r\nnot a header\r\nmore\r\n"
        );
        let lf = prepare(b"Subject: x\nnot a header\n", &limits);
        assert_eq!(&lf.bytes[..], b"Subject: x\n\r\nnot a header\n");
        // Inside a part, and a type with no subtype keeps its parameters as text/plain.
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text; charset=utf-8\r\nline one\r\n--b--\r\n";
        let part = prepare(raw, &limits);
        assert_eq!(
            String::from_utf8_lossy(&part.bytes),
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nline one\r\n--b--\r\n"
        );
        // Nothing to repair: a block ended by a blank line, or with no body, is left as sent.
        for fine in [
            &b"Subject: x\r\n"[..],
            b"Subject: x",
            b"\r\nbody",
            b"Content-Type: text/html\n\nbody",
        ] {
            assert!(
                matches!(prepare(fine, &limits).bytes, Cow::Borrowed(_)),
                "{fine:?}"
            );
        }
        // What mail-parser then makes of it: the text is shown.
        let text = crate::mime::with_message(
            b"Subject: x\r\nContent-Type: text\r\nhello there\r\n",
            &limits,
            |m| m.map(crate::mime::text).unwrap_or_default(),
        );
        assert_eq!(text.trim_end(), "hello there");
    }

    #[test]
    fn missing_closings_are_added_innermost_first() {
        let raw = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n--i\r\n\r\ntext\r\n";
        let prepared = prepare(raw, &Limits::default());
        let text = String::from_utf8_lossy(&prepared.bytes).into_owned();
        assert!(
            text.ends_with("text\r\n\r\n--i--\r\n\r\n--o--\r\n"),
            "{text:?}"
        );
        assert_eq!(prepared.truncated, None);
    }

    #[test]
    fn deep_nesting_becomes_one_opaque_part() {
        let raw = nested(40_000);
        let started = std::time::Instant::now();
        let prepared = prepare(&raw, &limits(16, 512));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(prepared.truncated, Some(Truncation::Depth(16)));
        let text = String::from_utf8_lossy(&prepared.bytes);
        assert_eq!(text.matches("truncated-at-depth-16.mime").count(), 2);
        // Sixteen levels are kept (and closed), the rest is one leaf.
        assert_eq!(text.matches("--b15=--").count(), 1);
        assert!(!text.contains("--b16="), "the rest is base64");
        let parsed = mail_parser::MessageParser::default()
            .parse(&prepared.bytes[..])
            .expect("parses");
        assert!(parsed.parts.len() <= 20, "{} parts", parsed.parts.len());
    }

    #[test]
    fn parts_past_the_budget_become_one_opaque_part_with_their_bytes() {
        let mut raw = b"Content-Type: multipart/mixed; boundary=w\r\n\r\n".to_vec();
        for i in 0..10 {
            raw.extend_from_slice(
                format!("--w\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n").as_bytes(),
            );
        }
        raw.extend_from_slice(b"--w--\r\nepilogue\r\n");
        let prepared = prepare(&raw, &limits(16, 3));
        assert_eq!(prepared.truncated, Some(Truncation::Parts(3)));
        let parsed = mail_parser::MessageParser::default()
            .parse(&prepared.bytes[..])
            .expect("parses");
        let texts: Vec<String> = parsed
            .parts
            .iter()
            .filter_map(|p| p.text_contents().map(str::to_string))
            .collect();
        assert_eq!(texts[..3], ["part 0", "part 1", "part 2"]);
        let opaque = parsed
            .attachments()
            .find(|p| {
                mail_parser::MimeHeaders::attachment_name(*p)
                    == Some("truncated-after-3-parts.mime")
            })
            .expect("the opaque part");
        let rest = String::from_utf8_lossy(opaque.contents()).into_owned();
        assert!(
            rest.starts_with("\r\n--w\r\nContent-Type: text/plain\r\n\r\npart 3"),
            "{rest:?}"
        );
        assert!(rest.ends_with("part 9"), "{rest:?}");
        assert!(String::from_utf8_lossy(&prepared.bytes).ends_with("--w--\r\nepilogue\r\n"));
    }

    #[test]
    fn an_unclosed_multipart_over_budget_is_cut_and_closed() {
        let mut raw = b"Content-Type: multipart/mixed; boundary=w\r\n\r\n".to_vec();
        for i in 0..5 {
            raw.extend_from_slice(format!("--w\r\n\r\n{i}\r\n").as_bytes());
        }
        let prepared = prepare(&raw, &limits(16, 2));
        let text = String::from_utf8_lossy(&prepared.bytes).into_owned();
        assert!(text.ends_with("--w--\r\n"), "{text:?}");
        assert_eq!(
            text.matches("--w\r\n").count(),
            3,
            "two kept, one opaque: {text}"
        );
    }

    #[test]
    fn prefix_boundaries_cannot_smuggle_nesting_past_the_walk() {
        // mail-parser splits `b1` at `--b10`: the walk must see that too.
        let mut raw =
            b"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n\r\nplain\r\n".to_vec();
        raw.extend_from_slice(b"--b10\r\n");
        for level in 0..500 {
            raw.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=z{level}\r\n\r\n--z{level}\r\n")
                    .as_bytes(),
            );
        }
        let prepared = prepare(&raw, &limits(8, 100));
        assert!(prepared.truncated.is_some());
        let parsed = mail_parser::MessageParser::default()
            .parse(&prepared.bytes[..])
            .expect("parses");
        assert!(parsed.parts.len() < 20, "{} parts", parsed.parts.len());
    }

    #[test]
    fn the_whole_body_can_be_made_opaque() {
        let raw = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n";
        let whole = opaque_whole(raw);
        let parsed = mail_parser::MessageParser::default()
            .parse(&whole[..])
            .expect("parses");
        assert_eq!(parsed.subject(), Some("s"));
        assert_eq!(parsed.parts.len(), 1);
        assert_eq!(parsed.parts[0].contents(), b"--x\r\n\r\nhi\r\n--x--\r\n");
    }

    #[test]
    fn splitting_like_the_parser() {
        let s = split_as_parsed(
            b"pre\r\n--b\r\n\r\none\r\n--bx\r\ntwo\r\n--b--\r\nepilogue",
            b"b",
        );
        assert_eq!(s.parts, [&b"\r\none"[..], b"two"]);
        assert!(s.closing.is_some());
    }

    #[test]
    fn splitting_finds_the_closing_delimiter() {
        let s = split(
            b"pre\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\nepilogue",
            b"b",
        );
        assert_eq!(s.parts, [&b"\r\none"[..], b"\r\ntwo"]);
        assert_eq!(s.closing, Some(27));
        assert_eq!(split(b"--b\r\n\r\none\r\n", b"b").closing, None);
    }
}

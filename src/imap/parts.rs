//! A message's MIME tree as IMAP numbers it (RFC 3501 6.4.5): byte ranges into the stored
//! bytes, so `BODY[1.2]`, `BODY[2.HEADER]` and `BODY[1.MIME]` hand out exactly what was
//! received, and BODYSTRUCTURE sizes match. Bounded like the rest of the project: multiparts
//! deeper than the MIME depth limit, or parts past the part budget, stay one opaque leaf.

use std::ops::Range;

use crate::mime::headers::{Header, header, params, split_headers};
use crate::mime::structure::Limits;

/// One entity: its header block and its body, as ranges of the whole message.
#[derive(Debug, Clone)]
pub struct Part {
    /// From the first header line to the end of the blank line.
    pub header: Range<usize>,
    pub body: Range<usize>,
    /// Lower-cased type and subtype, defaulted as RFC 2045 5.2 says.
    pub media: (String, String),
    /// Content-Type parameters, names lower-cased.
    pub params: Vec<(String, String)>,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Leaf,
    Multipart(Vec<Part>),
    /// message/rfc822: the message inside.
    Message(Box<Part>),
}

impl Part {
    /// Parses `raw` within `limits`. Never fails: malformed structure gives leaves.
    pub fn parse(raw: &[u8], limits: &Limits) -> Part {
        let mut budget = limits.parts;
        entity(raw, 0..raw.len(), false, 1, limits.depth, &mut budget)
    }

    /// The headers of this entity.
    pub fn headers<'a>(&self, raw: &'a [u8]) -> Vec<Header<'a>> {
        split_headers(&raw[self.header.clone()]).0
    }

    /// The part a section's numbers name, from the message (`self`).
    pub fn find(&self, path: &[u32]) -> Option<&Part> {
        let mut current = self;
        for (depth, &n) in path.iter().enumerate() {
            let index = usize::try_from(n).ok()?.checked_sub(1)?;
            current = match &current.kind {
                Kind::Multipart(children) => children.get(index)?,
                Kind::Message(inner) if depth > 0 => match &inner.kind {
                    Kind::Multipart(children) => children.get(index)?,
                    _ if index == 0 => inner,
                    _ => return None,
                },
                // The body of a single-part message is its part 1.
                _ if depth == 0 && index == 0 => current,
                Kind::Message(inner) if index == 0 => inner,
                _ => return None,
            };
        }
        Some(current)
    }

    /// The message whose HEADER or TEXT a section names: the message itself without numbers,
    /// the encapsulated one of a message/rfc822 part.
    pub fn message_at(&self, path: &[u32]) -> Option<&Part> {
        if path.is_empty() {
            return Some(self);
        }
        match &self.find(path)?.kind {
            Kind::Message(inner) => Some(inner),
            _ => None,
        }
    }
}

fn entity(
    raw: &[u8],
    range: Range<usize>,
    in_digest: bool,
    depth: usize,
    max_depth: usize,
    budget: &mut usize,
) -> Part {
    let bytes = &raw[range.clone()];
    let (headers, body) = split_headers(bytes);
    let body_start = range.start + (bytes.len() - body.len());
    let (media, params) = match header(&headers, "Content-Type") {
        Some(value) => {
            let media = value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            match media.split_once('/') {
                Some((t, s)) if !t.is_empty() && !s.is_empty() => {
                    ((t.trim().to_string(), s.trim().to_string()), params(value))
                }
                _ => (text_plain(), params(value)),
            }
        }
        None if in_digest => (("message".into(), "rfc822".into()), Vec::new()),
        None => (text_plain(), vec![("charset".into(), "us-ascii".into())]),
    };
    let mut part = Part {
        header: range.start..body_start,
        body: body_start..range.end,
        media,
        params,
        kind: Kind::Leaf,
    };
    if depth >= max_depth {
        return part;
    }
    if part.media.0 == "multipart" {
        let boundary = part
            .params
            .iter()
            .find(|(k, _)| k == "boundary")
            .map(|(_, v)| v.clone());
        if let Some(boundary) = boundary.filter(|b| !b.is_empty()) {
            let digest = part.media.1 == "digest";
            let children = split_multipart(raw, part.body.clone(), boundary.as_bytes())
                .into_iter()
                .map_while(|child| {
                    if *budget == 0 {
                        return None;
                    }
                    *budget -= 1;
                    Some(entity(raw, child, digest, depth + 1, max_depth, budget))
                })
                .collect::<Vec<_>>();
            if !children.is_empty() {
                part.kind = Kind::Multipart(children);
            }
        }
    } else if part.media == ("message".to_string(), "rfc822".to_string()) && *budget > 0 {
        *budget -= 1;
        let inner = entity(raw, part.body.clone(), false, depth + 1, max_depth, budget);
        part.kind = Kind::Message(Box::new(inner));
    }
    part
}

fn text_plain() -> (String, String) {
    ("text".into(), "plain".into())
}

/// The ranges of a multipart body's parts: between delimiter lines, without the line break
/// that belongs to the next delimiter (RFC 2046 5.1.1). An unclosed multipart ends at its end.
fn split_multipart(raw: &[u8], body: Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    let mut pos = body.start;
    while pos < body.end {
        let line_end = memchr::memchr(b'\n', &raw[pos..body.end]).map_or(body.end, |i| pos + i + 1);
        let line = &raw[pos..line_end];
        if let Some(rest) = line.strip_prefix(b"--")
            && let Some(after) = rest.strip_prefix(boundary)
        {
            let closing = after.starts_with(b"--");
            let tail = if closing { &after[2..] } else { after };
            if tail.iter().all(|b| b.is_ascii_whitespace()) {
                if let Some(start) = open.take() {
                    // The CRLF before the delimiter is part of the delimiter.
                    let mut end = pos.max(start);
                    if end > start && raw[end - 1] == b'\n' {
                        end -= 1;
                        if end > start && raw[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                    parts.push(start..end);
                }
                if closing {
                    return parts;
                }
                open = Some(line_end);
            }
        }
        pos = line_end;
    }
    if let Some(start) = open {
        parts.push(start..body.end);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIXED: &[u8] = b"Content-Type: multipart/mixed; boundary=b\r\n\r\npre\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner body\r\n--b--\r\n";

    fn at<'a>(raw: &'a [u8], r: &Range<usize>) -> &'a [u8] {
        &raw[r.clone()]
    }

    #[test]
    fn parts_are_numbered_as_imap_does() {
        let part = Part::parse(MIXED, &Limits::default());
        let one = part.find(&[1]).unwrap();
        assert_eq!(at(MIXED, &one.body), b"hello");
        assert_eq!(at(MIXED, &one.header), b"Content-Type: text/plain\r\n\r\n");
        let two = part.find(&[2]).unwrap();
        assert_eq!(at(MIXED, &two.body), b"Subject: in\r\n\r\ninner body");
        let inner = part.message_at(&[2]).unwrap();
        assert_eq!(at(MIXED, &inner.header), b"Subject: in\r\n\r\n");
        assert_eq!(at(MIXED, &part.find(&[2, 1]).unwrap().body), b"inner body");
        assert!(part.find(&[3]).is_none());
        assert!(part.find(&[1, 1]).is_none());
    }

    #[test]
    fn a_single_part_message_is_its_own_part_one() {
        let raw = b"Subject: x\r\n\r\nbody";
        let part = Part::parse(raw, &Limits::default());
        assert_eq!(at(raw, &part.find(&[1]).unwrap().body), b"body");
        assert_eq!(part.media, ("text".into(), "plain".into()));
    }

    #[test]
    fn depth_is_bounded() {
        let mut raw = Vec::new();
        for _ in 0..100 {
            raw.extend_from_slice(b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n");
        }
        let part = Part::parse(&raw, &Limits::default());
        let mut depth = 0;
        let mut p = &part;
        while let Kind::Multipart(c) = &p.kind {
            p = &c[0];
            depth += 1;
        }
        assert!(depth < Limits::default().depth);
    }
}

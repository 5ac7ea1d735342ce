//! The byte-level structure of a message as it was sent: each entity's header fields (raw, in
//! order), its body still transfer-encoded, and multipart bodies split at their boundary. This is
//! what MailHog's JSON shows; decoded views go through mail-parser ([`super::with_message`]).
//! No I/O and no panics: malformed mail degrades to fewer headers or fewer parts.

use super::decode::{decode_base64, decode_quoted_printable};
use super::headers::{Header, header, is_wsp, param_value, params, split_headers, trim_eol};

/// Deepest multipart nesting that is split; deeper multiparts are shown as leaves. Real mail nests
/// three or four levels; the bound keeps recursion (and the JSON) small on hostile input.
pub const MAX_DEPTH: usize = 16;

/// A message or body part: its bytes, its header fields in order, its body, and its parts when it
/// is a multipart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity<'a> {
    /// Headers and body together.
    pub raw: &'a [u8],
    pub headers: Vec<Header<'a>>,
    /// Everything after the blank line that ends the headers, still transfer-encoded.
    pub body: &'a [u8],
    /// `Some` for a `multipart/*` entity with a boundary, even when no part was found.
    pub parts: Option<Vec<Entity<'a>>>,
}

impl<'a> Entity<'a> {
    pub fn parse(raw: &'a [u8]) -> Entity<'a> {
        Entity::parse_at(raw, 0)
    }

    fn parse_at(raw: &'a [u8], depth: usize) -> Entity<'a> {
        let (headers, body) = split_headers(raw);
        let parts = match multipart_boundary(&headers) {
            Some(boundary) if depth < MAX_DEPTH => Some(
                split_multipart(body, boundary.as_bytes())
                    .into_iter()
                    .map(|part| Entity::parse_at(part, depth + 1))
                    .collect(),
            ),
            _ => None,
        };
        Entity {
            raw,
            headers,
            body,
            parts,
        }
    }

    /// The first value of the header `name`, matched case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body with its Content-Transfer-Encoding (base64 or quoted-printable) undone; other
    /// encodings are identities.
    pub fn decoded_body(&self) -> Vec<u8> {
        let encoding = self
            .header("Content-Transfer-Encoding")
            .map(|e| e.trim().to_ascii_lowercase());
        match encoding.as_deref() {
            Some("base64") => decode_base64(self.body),
            Some("quoted-printable") => decode_quoted_printable(self.body),
            _ => self.body.to_vec(),
        }
    }

    /// The file name from Content-Disposition `filename`, else Content-Type `name`, decoded from
    /// RFC 2231 or RFC 2047 form.
    pub fn filename(&self) -> Option<String> {
        let from = |header: &str, param: &str| {
            self.header(header)
                .and_then(|value| param_value(&params(value), param))
        };
        from("Content-Disposition", "filename")
            .or_else(|| from("Content-Type", "name"))
            .filter(|name| !name.trim().is_empty())
    }
}

/// The boundary of a `multipart/*` Content-Type (type matched case-insensitively), if any.
fn multipart_boundary(headers: &[Header<'_>]) -> Option<String> {
    let content_type = header(headers, "Content-Type")?;
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

/// Splits a multipart body into its parts' bytes (RFC 2046 5.1.1): the preamble before the first
/// delimiter line and the epilogue after the closing one are dropped, and the line break before each
/// delimiter belongs to the delimiter. A body that ends without a closing delimiter keeps its last
/// part up to the end.
pub fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
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
        if rest.iter().all(|&b| is_wsp(b) || b == b'\r' || b == b'\n') {
            lines.push((at, line_end, close));
            if close {
                break;
            }
        }
    }

    let mut parts = Vec::new();
    for (i, &(_, next, close)) in lines.iter().enumerate() {
        if close {
            break;
        }
        let part = match lines.get(i + 1) {
            Some(&(following, _, _)) => trim_eol(&body[next..following.max(next)]),
            None => &body[next..],
        };
        let last = i + 1 == lines.len();
        if last && part.is_empty() {
            // A final `--boundary` with nothing after it is a truncated message, not a part.
            break;
        }
        parts.push(part);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_drops_preamble_epilogue_and_lookalike_boundaries() {
        let body = b"preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--bx\r\nstill one\r\n--b  \r\n\r\ntwo\r\n--b--\r\nepilogue\r\n--b\r\nnot a part\r\n";
        let parts = split_multipart(body, b"b");
        assert_eq!(
            parts,
            [&b"A: 1\r\n\r\none\r\n--bx\r\nstill one"[..], b"\r\ntwo"]
        );
    }

    #[test]
    fn unterminated_multipart_keeps_its_last_part() {
        assert_eq!(
            split_multipart(b"--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n", b"b"),
            [&b"\r\none"[..], b"\r\ntwo\r\n"]
        );
        assert_eq!(
            split_multipart(b"--b\r\n\r\none\r\n--b", b"b"),
            [&b"\r\none"[..]]
        );
        assert!(split_multipart(b"no delimiters at all", b"b").is_empty());
    }

    #[test]
    fn nested_multipart_and_case_insensitive_type() {
        let raw = b"content-type: MULTIPART/mixed; boundary=\"outer b\"\r\n\r\n--outer b\r\nContent-Type: multipart/alternative;\r\n boundary=inner\r\n\r\n--inner\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--inner--\r\n--outer b\r\nContent-Type: text/plain\r\n\r\nafter\r\n--outer b--\r\n";
        let entity = Entity::parse(raw);
        let parts = entity.parts.expect("multipart");
        assert_eq!(parts.len(), 2);
        let inner = parts[0].parts.as_ref().expect("nested multipart");
        assert_eq!(inner.len(), 2);
        assert_eq!(inner[1].body, b"<p>html</p>");
        assert_eq!(inner[1].header("content-type"), Some("text/html"));
        assert!(inner[0].headers.is_empty());
        assert_eq!(inner[0].body, b"plain");
        assert_eq!(parts[1].body, b"after");
        assert!(parts[1].parts.is_none());
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut raw = Vec::new();
        for level in 0..1000 {
            raw.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{level}\r\n\r\n--b{level}\r\n")
                    .as_bytes(),
            );
        }
        let mut entity = Entity::parse(&raw);
        let mut depth = 0;
        while let Some(mut parts) = entity.parts.take() {
            entity = parts.remove(0);
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
    }
}

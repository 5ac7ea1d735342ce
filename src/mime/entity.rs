//! The byte-level structure of a message as it was sent: each entity's header fields (raw, in
//! order), its body still transfer-encoded, and multipart bodies split at their boundary. This is
//! what MailHog's JSON shows; decoded views go through mail-parser ([`super::with_message`]).
//! No I/O and no panics: malformed mail degrades to fewer headers or fewer parts.

use super::decode::{decode_base64, decode_quoted_printable};
use super::headers::{Header, header, param_value, params, split_headers};
use super::structure::{Limits, boundary_of, split};

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
    /// The structure of `raw` within `limits`: multiparts deeper than the depth limit are leaves,
    /// and parts past the part budget are left out (the recursion is as deep as the limit).
    pub fn parse(raw: &'a [u8], limits: &Limits) -> Entity<'a> {
        let mut budget = limits.parts;
        Entity::parse_at(raw, 1, limits.depth, &mut budget)
    }

    fn parse_at(raw: &'a [u8], depth: usize, max_depth: usize, budget: &mut usize) -> Entity<'a> {
        let (headers, body) = split_headers(raw);
        let parts = match boundary_of(&headers) {
            Some(boundary) if depth <= max_depth => {
                let mut children = split(body, boundary.as_bytes()).parts;
                children.truncate(*budget);
                *budget -= children.len();
                Some(
                    children
                        .into_iter()
                        .map(|part| Entity::parse_at(part, depth + 1, max_depth, budget))
                        .collect(),
                )
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_drops_preamble_epilogue_and_lookalike_boundaries() {
        let body = b"preamble\r\n--b\r\nA: 1\r\n\r\none\r\n--bx\r\nstill one\r\n--b  \r\n\r\ntwo\r\n--b--\r\nepilogue\r\n--b\r\nnot a part\r\n";
        let parts = split(body, b"b").parts;
        assert_eq!(
            parts,
            [&b"A: 1\r\n\r\none\r\n--bx\r\nstill one"[..], b"\r\ntwo"]
        );
    }

    #[test]
    fn unterminated_multipart_keeps_its_last_part() {
        assert_eq!(
            split(b"--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n", b"b").parts,
            [&b"\r\none"[..], b"\r\ntwo\r\n"]
        );
        assert_eq!(
            split(b"--b\r\n\r\none\r\n--b", b"b").parts,
            [&b"\r\none"[..]]
        );
        assert!(split(b"no delimiters at all", b"b").parts.is_empty());
    }

    #[test]
    fn nested_multipart_and_case_insensitive_type() {
        let raw = b"content-type: MULTIPART/mixed; boundary=\"outer b\"\r\n\r\n--outer b\r\nContent-Type: multipart/alternative;\r\n boundary=inner\r\n\r\n--inner\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--inner--\r\n--outer b\r\nContent-Type: text/plain\r\n\r\nafter\r\n--outer b--\r\n";
        let entity = Entity::parse(raw, &Limits::default());
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
        let limits = Limits::default();
        let mut entity = Entity::parse(&raw, &limits);
        let mut depth = 0;
        while let Some(mut parts) = entity.parts.take() {
            entity = parts.remove(0);
            depth += 1;
        }
        assert_eq!(depth, limits.depth);
    }

    #[test]
    fn parts_past_the_budget_are_left_out() {
        let mut raw = b"Content-Type: multipart/mixed; boundary=w\r\n\r\n".to_vec();
        for i in 0..100 {
            raw.extend_from_slice(format!("--w\r\n\r\n{i}\r\n").as_bytes());
        }
        let entity = Entity::parse(
            &raw,
            &Limits {
                depth: 16,
                parts: 7,
            },
        );
        assert_eq!(entity.parts.map(|p| p.len()), Some(7));
    }
}

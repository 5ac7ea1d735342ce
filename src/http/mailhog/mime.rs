//! The byte-level MIME view MailHog shows: header blocks kept raw (names as sent, values not
//! RFC 2047-decoded), bodies still transfer-encoded, and multipart bodies split at their boundary.
//! No I/O and no panics: malformed mail degrades to fewer headers or fewer parts.

use std::borrow::Cow;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mail_parser::MessageParser;

/// Deepest multipart nesting that is split; deeper multiparts are shown as leaves. Real mail nests
/// three or four levels; the bound keeps recursion (and the JSON) small on hostile input.
pub const MAX_DEPTH: usize = 16;

/// One header field: the name as sent and the value with folded lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

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

/// The first value of `name` in `headers`, matched case-insensitively.
pub fn header<'h>(headers: &'h [Header<'_>], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_ref())
}

fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// `bytes` without one trailing `\n` or `\r\n`.
pub fn trim_eol(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Where the field name of a header line ends (the colon), when the line is a header line: a name
/// of printable ASCII, optionally followed by white space (obsolete syntax), then a colon.
fn colon_of(line: &[u8]) -> Option<usize> {
    let colon = memchr::memchr(b':', line)?;
    let name = &line[..colon];
    let trimmed = name.trim_ascii_end();
    let printable = |b: &u8| (33..=126).contains(b);
    (!trimmed.is_empty() && trimmed.iter().all(printable)).then_some(colon)
}

/// Splits `raw` into its header fields and its body.
///
/// The header block ends at the first empty line (CRLF or bare LF). A line that is neither a header
/// line nor a continuation also ends it, and that line starts the body: a message without headers
/// is all body. Folded lines are unfolded as MailHog does: the continuation line, with its leading
/// white space, is appended to the value without the line break, so `Subject: a\r\n b` gives `a b`.
pub fn split_headers(raw: &[u8]) -> (Vec<Header<'_>>, &[u8]) {
    let mut headers: Vec<Header<'_>> = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let rest = &raw[pos..];
        let line_end = memchr::memchr(b'\n', rest).map_or(raw.len(), |i| pos + i + 1);
        let line = trim_eol(&raw[pos..line_end]);
        if line.is_empty() {
            return (headers, &raw[line_end..]);
        }
        if is_wsp(line[0]) {
            let Some(last) = headers.last_mut() else {
                break;
            };
            last.value.to_mut().push_str(&lossy(line));
        } else {
            let Some(colon) = colon_of(line) else {
                break;
            };
            headers.push(Header {
                name: lossy(line[..colon].trim_ascii_end()),
                value: lossy(line[colon + 1..].trim_ascii_start()),
            });
        }
        pos = line_end;
    }
    (headers, &raw[pos..])
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

/// The parameters of a structured header value (`type/subtype; name=value; name="quoted"`), names
/// lower-cased, quoted strings unescaped. Everything before the first `;` is skipped.
pub fn params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some((_, mut rest)) = value.split_once(';') else {
        return out;
    };
    loop {
        rest = rest.trim_start_matches(|c: char| c == ';' || c.is_whitespace());
        if rest.is_empty() {
            return out;
        }
        let name_end = rest.find(['=', ';']).unwrap_or(rest.len());
        let name = rest[..name_end].trim().to_ascii_lowercase();
        rest = &rest[name_end..];
        let Some(after_eq) = rest.strip_prefix('=') else {
            continue;
        };
        let after_eq = after_eq.trim_start();
        let (value, tail) = match after_eq.strip_prefix('"') {
            Some(quoted) => unquote(quoted),
            None => {
                let end = after_eq.find(';').unwrap_or(after_eq.len());
                (after_eq[..end].trim_end().to_string(), &after_eq[end..])
            }
        };
        out.push((name, value));
        rest = tail;
    }
}

/// Reads a quoted string whose opening quote is already consumed; returns it unescaped and what
/// follows the closing quote (or nothing, when it is unterminated).
fn unquote(s: &str) -> (String, &str) {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (value, &s[i + 1..]),
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    value.push(escaped);
                }
            }
            c => value.push(c),
        }
    }
    (value, "")
}

/// The value of parameter `name`, with RFC 2231 extended (`name*`) and continued (`name*0`,
/// `name*1*`, …) forms joined and percent-decoded, and RFC 2047 encoded words decoded.
pub fn param_value(params: &[(String, String)], name: &str) -> Option<String> {
    let extended = format!("{name}*");
    if let Some((_, value)) = params.iter().find(|(n, _)| *n == extended) {
        return Some(decode_rfc2231(value, true));
    }
    let mut pieces: Vec<(u32, bool, &str)> = params
        .iter()
        .filter_map(|(n, v)| {
            let index = n.strip_prefix(&extended)?;
            let (index, encoded) = match index.strip_suffix('*') {
                Some(index) => (index, true),
                None => (index, false),
            };
            Some((index.parse().ok()?, encoded, v.as_str()))
        })
        .collect();
    if !pieces.is_empty() {
        pieces.sort_by_key(|&(index, _, _)| index);
        let mut bytes = Vec::new();
        for (index, encoded, value) in pieces {
            if encoded {
                bytes.extend(percent_decode(strip_charset(value, index == 0)));
            } else {
                bytes.extend_from_slice(value.as_bytes());
            }
        }
        return Some(String::from_utf8_lossy(&bytes).into_owned());
    }
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| decode_encoded_words(value))
}

/// Drops the `charset'language'` prefix of an RFC 2231 value (only the first piece carries it).
fn strip_charset(value: &str, first: bool) -> &str {
    if !first {
        return value;
    }
    let mut split = value.splitn(3, '\'');
    match (split.next(), split.next(), split.next()) {
        (Some(_), Some(_), Some(rest)) => rest,
        _ => value,
    }
}

/// Decodes an RFC 2231 value; the charset is assumed to be UTF-8 (or ASCII), which covers what
/// mailers send in practice, and anything else degrades to replacement characters.
fn decode_rfc2231(value: &str, first: bool) -> String {
    String::from_utf8_lossy(&percent_decode(strip_charset(value, first))).into_owned()
}

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = bytes.get(i + 1..i + 3).and_then(hex_pair)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    match pair {
        [hi, lo] => Some((digit(*hi)? * 16 + digit(*lo)?) as u8),
        _ => None,
    }
}

/// Decodes RFC 2047 encoded words (`=?UTF-8?B?…?=`) in a parameter value. Not standard there, but
/// Gmail and Outlook put them in quoted file names. mail-parser's decoder handles the charsets.
fn decode_encoded_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let field = format!("Subject: {value}\r\n\r\n");
    MessageParser::default()
        .parse(field.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| value.to_string())
}

/// Lenient base64: characters outside the alphabet (line breaks, stray spaces) are skipped, input
/// stops at the first `=`, and a dangling final character is dropped, so any input decodes.
pub fn decode_base64(encoded: &[u8]) -> Vec<u8> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let mut clean: Vec<u8> = encoded
        .iter()
        .copied()
        .take_while(|&b| b != b'=')
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    // Only the alphabet remains and the length is valid, so this cannot fail; an empty result
    // would still be a safe answer if it did.
    LENIENT.decode(&clean).unwrap_or_default()
}

/// Quoted-printable (RFC 2045 6.7): `=XX` escapes and `=` soft line breaks are decoded; a malformed
/// `=` is kept literally rather than failing the whole body.
pub fn decode_quoted_printable(encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        let b = encoded[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        if let Some(byte) = encoded.get(i + 1..i + 3).and_then(hex_pair) {
            out.push(byte);
            i += 3;
            continue;
        }
        // A soft line break: `=`, optional transport padding, then the line end (or the end).
        let mut j = i + 1;
        while j < encoded.len() && is_wsp(encoded[j]) {
            j += 1;
        }
        match encoded.get(j) {
            None => i = j,
            Some(b'\n') => i = j + 1,
            Some(b'\r') if encoded.get(j + 1) == Some(&b'\n') => i = j + 2,
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_values<'a>(headers: &'a [Header<'a>]) -> Vec<(&'a str, &'a str)> {
        headers
            .iter()
            .map(|h| (h.name.as_ref(), h.value.as_ref()))
            .collect()
    }

    #[test]
    fn headers_keep_case_order_repeats_and_unfold() {
        let raw = b"Received: one\r\nreceived: two\r\nSubject: a\r\n\tfolded\r\n long\r\nX-Empty:\r\nObs : old\r\n\r\nbody\r\n";
        let (headers, body) = split_headers(raw);
        assert_eq!(
            names_values(&headers),
            [
                ("Received", "one"),
                ("received", "two"),
                ("Subject", "a\tfolded long"),
                ("X-Empty", ""),
                ("Obs", "old"),
            ]
        );
        assert_eq!(body, b"body\r\n");
    }

    #[test]
    fn bare_lf_and_headerless_and_bodiless_input() {
        let (headers, body) = split_headers(b"A: 1\nB: 2\n\nbody");
        assert_eq!(names_values(&headers), [("A", "1"), ("B", "2")]);
        assert_eq!(body, b"body");

        let (headers, body) = split_headers(b"just text, no header\r\nmore\r\n");
        assert!(headers.is_empty());
        assert_eq!(body, b"just text, no header\r\nmore\r\n");

        let (headers, body) = split_headers(b"Subject: only headers");
        assert_eq!(names_values(&headers), [("Subject", "only headers")]);
        assert!(body.is_empty());

        let (headers, body) = split_headers(b" leading continuation\r\n\r\nx");
        assert!(headers.is_empty());
        assert_eq!(body, b" leading continuation\r\n\r\nx");

        for junk in [
            &b""[..],
            b"\r\n",
            b":",
            b"\xff\xfe: \xff\r\n\r\n\xff",
            b"A:\r\n \r\n",
        ] {
            let _ = Entity::parse(junk);
        }
    }

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

    #[test]
    fn parameters() {
        assert_eq!(
            params("attachment; filename=\"a \\\"b\\\"; c.pdf\"; size=3;flag; x = y "),
            [
                ("filename".to_string(), "a \"b\"; c.pdf".to_string()),
                ("size".to_string(), "3".to_string()),
                ("x".to_string(), "y".to_string()),
            ]
        );
        assert!(params("text/plain").is_empty());
        let p = params("attachment; filename*=UTF-8''%E2%82%AC%20rates.txt");
        assert_eq!(param_value(&p, "filename").as_deref(), Some("€ rates.txt"));
        let p = params("attachment; filename*0*=UTF-8''long%20; filename*1=name.txt");
        assert_eq!(
            param_value(&p, "filename").as_deref(),
            Some("long name.txt")
        );
        let p = params("attachment; filename=\"=?UTF-8?B?w6l0w6kucGRm?=\"");
        assert_eq!(param_value(&p, "filename").as_deref(), Some("été.pdf"));
    }

    #[test]
    fn transfer_decoding() {
        assert_eq!(decode_base64(b"aGVs\r\nbG8=\r\n"), b"hello");
        assert_eq!(decode_base64(b"aGVsbG8"), b"hello", "missing padding");
        assert_eq!(decode_base64(b"a"), b"", "dangling character");
        assert_eq!(
            decode_quoted_printable(b"caf=C3=A9 =\r\nsoft=  \r\nhard\r\n=3D =ZZ end="),
            "café softhard\r\n= =ZZ end".as_bytes()
        );
    }
}

//! Header blocks as sent: splitting a header block from its body (names as sent, values with folded
//! lines joined), structured parameters (RFC 2045, RFC 2231 continuations and charsets), RFC 2047
//! encoded words, and the canonical name form Go's textproto uses. No I/O and no panics: malformed
//! input degrades to fewer headers.

use std::borrow::Cow;

use mail_parser::MessageParser;

use super::decode::percent_decode;

/// One header field: the name as sent, the value with folded lines joined, and where the field
/// sits in the input (its first line to the end of its last continuation, line break included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: Cow<'a, str>,
    pub value: Cow<'a, str>,
    pub span: std::ops::Range<usize>,
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

pub(crate) fn is_wsp(b: u8) -> bool {
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
            last.span.end = line_end;
        } else {
            let Some(colon) = colon_of(line) else {
                break;
            };
            headers.push(Header {
                name: lossy(line[..colon].trim_ascii_end()),
                value: lossy(line[colon + 1..].trim_ascii_start()),
                span: pos..line_end,
            });
        }
        pos = line_end;
    }
    (headers, &raw[pos..])
}

/// What ingest reads from a message's header block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressing {
    /// Every address in To, Cc and Bcc, in that order (groups flattened).
    pub recipients: Vec<String>,
    /// The first Return-Path header's address, without angle brackets.
    pub return_path: Option<String>,
}

/// Reads the addressing headers of `raw` (only its header block is parsed). Never fails:
/// malformed headers give fewer addresses.
pub fn addressing(raw: &[u8]) -> Addressing {
    let mut out = Addressing::default();
    if let Some(message) = MessageParser::default().parse_headers(raw) {
        for list in [message.to(), message.cc(), message.bcc()]
            .into_iter()
            .flatten()
        {
            out.recipients.extend(
                list.iter()
                    .filter_map(|a| a.address())
                    .filter(|a| !a.is_empty())
                    .map(str::to_string),
            );
        }
    }
    let (headers, _) = split_headers(raw);
    out.return_path = header(&headers, "Return-Path").map(|v| {
        v.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim()
            .to_string()
    });
    out
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

/// Decodes RFC 2047 encoded words (`=?UTF-8?B?…?=`) anywhere in `value` (also where they are not
/// standard, as in quoted file names, where Gmail and Outlook put them). mail-parser does the
/// decoding, charsets included: `value` is read as the body of an unstructured field.
pub fn decode_encoded_words(value: &str) -> String {
    if !value.contains("=?") {
        return value.to_string();
    }
    let field = format!("Subject: {value}\r\n\r\n");
    MessageParser::default()
        .parse_headers(field.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| value.to_string())
}

/// `content-TYPE` → `Content-Type`, as Go's textproto does.
pub fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.trim().chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// Unfolds a raw header value as Go's net/textproto does (what Mailpit's `/headers` shows): each
/// line trimmed of surrounding blanks, the lines joined with one space; nothing decoded.
pub fn unfold_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for line in value.split('\n') {
        let line = line.trim_matches([' ', '\t', '\r']);
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(line);
    }
    out
}

/// Unfolds a raw header value (line breaks removed, as they were) and decodes RFC 2047 words.
pub fn decode_value(value: &str) -> String {
    let unfolded: String = value
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("");
    decode_encoded_words(unfolded.trim())
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
    fn unfolding_joins_lines_with_one_space_and_decodes_nothing() {
        assert_eq!(unfold_value(" a\r\n\tfolded\r\n   long "), "a folded long");
        assert_eq!(
            unfold_value(" =?utf-8?q?caf=C3=A9?="),
            "=?utf-8?q?caf=C3=A9?="
        );
        assert_eq!(unfold_value(""), "");
        assert_eq!(unfold_value(" x\n y"), "x y");
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
            let _ = crate::mime::entity::Entity::parse(junk, &Default::default());
        }
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
    fn names_and_values() {
        assert_eq!(canonical_name("content-TYPE"), "Content-Type");
        assert_eq!(canonical_name("message-id"), "Message-Id");
        assert_eq!(decode_value("=?ISO-8859-1?Q?caf=E9?=\r\n\t!"), "café !");
        assert_eq!(decode_value("plain"), "plain");
    }
}

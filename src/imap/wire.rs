//! Response bytes: the few shapes IMAP data takes (RFC 3501 4: atoms, numbers, quoted strings,
//! literals, NIL, lists). Strings go quoted when they can and as literals otherwise, so any byte
//! a message holds is sent intact. The tests decode what we write with imap-codec's response
//! parser, so the two grammars cannot drift apart.

/// Appends `bytes` as an IMAP string: quoted when short, printable 7-bit text, a literal otherwise.
pub fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    let quotable = bytes.len() <= 1024
        && bytes
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) || b == b'\t');
    if quotable {
        out.push(b'"');
        for &b in bytes {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, bytes);
    }
}

/// Appends `bytes` as a literal (`{n}` CRLF then the bytes).
pub fn literal(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
}

/// Appends an nstring: NIL for `None`.
pub fn nstring(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(bytes) => string(out, bytes),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// A tagged or untagged status line with an optional response code.
pub fn status(out: &mut Vec<u8>, tag: Option<&str>, kind: &str, code: Option<&str>, text: &str) {
    out.extend_from_slice(tag.unwrap_or("*").as_bytes());
    out.push(b' ');
    out.extend_from_slice(kind.as_bytes());
    out.push(b' ');
    if let Some(code) = code {
        out.push(b'[');
        out.extend_from_slice(code.as_bytes());
        out.extend_from_slice(b"] ");
    }
    // Text may not be empty, nor hold a line break (resp-text, RFC 3501 9).
    let text = if text.is_empty() { "done" } else { text };
    for b in text.bytes() {
        out.push(if b == b'\r' || b == b'\n' { b' ' } else { b });
    }
    out.extend_from_slice(b"\r\n");
}

/// An untagged line, `* ` then `line` then CRLF.
pub fn untagged(out: &mut Vec<u8>, line: &str) {
    out.extend_from_slice(b"* ");
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
pub(crate) mod tests {
    use imap_codec::ResponseCodec;
    use imap_codec::decode::Decoder;

    use super::*;

    /// Every response in `bytes` parses with imap-codec, and nothing is left over.
    pub(crate) fn assert_responses_parse(mut bytes: &[u8]) {
        let codec = ResponseCodec::default();
        while !bytes.is_empty() {
            match codec.decode(bytes) {
                Ok((rest, _)) => bytes = rest,
                Err(e) => panic!(
                    "imap-codec cannot parse {:?}: {e:?}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                ),
            }
        }
    }

    #[test]
    fn strings_are_quoted_or_literal() {
        let mut out = Vec::new();
        string(&mut out, b"a \"b\" \\");
        assert_eq!(out, b"\"a \\\"b\\\" \\\\\"");
        out.clear();
        string(&mut out, "é\r\n".as_bytes());
        assert_eq!(out, b"{4}\r\n\xc3\xa9\r\n");
    }

    #[test]
    fn status_lines_parse() {
        let mut out = Vec::new();
        status(&mut out, Some("a1"), "OK", Some("APPENDUID 3 4"), "");
        status(&mut out, None, "NO", None, "a\r\nb");
        untagged(&mut out, "3 EXISTS");
        assert_responses_parse(&out);
    }
}

//! The one place stored bytes become a parsed message: mail-parser, plus the repairs and
//! conversions every reader wants (a missing closing MIME boundary, HTML bodies as plain text).

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

/// Elements after which text continues on a new line.
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// A readable plain-text rendering of HTML: tags dropped, block elements on their own lines,
/// `script`/`style`/`head` contents skipped, entities decoded, runs of blank lines folded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut skip_until: Option<&'static str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            push_text(&mut out, &rest[..lt]);
        }
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            rest = "";
            break;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        if tag.starts_with("!--") {
            // A comment may contain '>': skip to its real end.
            if let Some(end) = rest.find("-->").map(|i| i + 3) {
                rest = &rest[end..];
            }
            continue;
        }
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(until) = skip_until {
            if closing && name == until {
                skip_until = None;
            }
            continue;
        }
        match name.as_str() {
            "script" if !closing => skip_until = Some("script"),
            "style" if !closing => skip_until = Some("style"),
            "head" if !closing => skip_until = Some("head"),
            "title" if !closing => skip_until = Some("title"),
            // A line break is a line break even on an empty line (`<div><br></div>` is a blank line).
            "br" => out.push('\n'),
            _ if BLOCKS.contains(&name.as_str()) => newline(&mut out),
            _ => {}
        }
    }
    if skip_until.is_none() {
        push_text(&mut out, rest);
    }
    let mut text = String::with_capacity(out.len());
    let mut blank_run = 0;
    for line in out.lines().map(str::trim) {
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 || text.is_empty() {
                continue;
            }
        } else {
            blank_run = 0;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.trim_end().to_string()
}

fn newline(out: &mut String) {
    if !out.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
}

/// Appends text content: whitespace collapsed (as a browser renders it), entities decoded.
fn push_text(out: &mut String, text: &str) {
    let mut last_space = out.ends_with([' ', '\n']) || out.is_empty();
    let decoded = decode_entities(text);
    for c in decoded.chars() {
        if c.is_whitespace() && c != '\u{a0}' {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push(if c == '\u{a0}' { ' ' } else { c });
            last_space = false;
        }
    }
}

fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|&i| i <= 10);
        let decoded = end.and_then(|i| entity(&after[..i]));
        match (end, decoded) {
            (Some(i), Some(c)) => {
                out.push(c);
                rest = &after[i + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "euro" => '€',
        "bull" => '•',
        "middot" => '·',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_keeps_blocks_apart() {
        let html = "<html><head><title>T</title><style>p{color:red}</style></head><body>\
            <h1>This week</h1><div>Three stories&nbsp;you <b>missed</b>.</div><!-- a > b -->\
            <ul><li>One &amp; two</li><li>&#x2713; &#169;</li></ul><script>alert(1)</script>\
            <table><tr><td>a</td><td>b</td></tr></table><p>Unsubscribe</p></body></html>";
        assert_eq!(
            html_to_text(html),
            "This week\nThree stories you missed.\nOne & two\n✓ ©\na\nb\nUnsubscribe"
        );
        assert_eq!(
            html_to_text("plain &unknown; & text"),
            "plain &unknown; & text"
        );
        assert_eq!(html_to_text("a<br>b<br/>c"), "a\nb\nc");
        assert_eq!(html_to_text("<p>unclosed <b"), "unclosed");
        assert_eq!(html_to_text(""), "");
    }

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

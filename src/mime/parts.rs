//! MIME parts: their paths (`1`, `2.1`, …, as the API names them), the decoded content of one,
//! and whether a part is shown inline or is an attachment.

use mail_parser::{MessagePart, MimeHeaders, PartType};

/// A part's `type/subtype`, without parameters.
pub fn content_type(part: &MessagePart<'_>) -> Option<String> {
    part.content_type().map(|ct| match ct.subtype() {
        Some(sub) => format!("{}/{}", ct.ctype(), sub),
        None => ct.ctype().to_string(),
    })
}

/// The MIME path of every part, indexed like `message.parts`: the root's children are `1`, `2`, …,
/// theirs `2.1`, `2.2`, …; a single-part message's body is `1`.
pub fn part_paths(message: &mail_parser::Message<'_>) -> Vec<String> {
    let mut paths = vec![String::new(); message.parts.len()];
    let mut stack = vec![(0usize, String::new())];
    while let Some((id, path)) = stack.pop() {
        let Some(part) = message.parts.get(id) else {
            continue;
        };
        if let PartType::Multipart(children) = &part.body {
            for (i, &child) in children.iter().enumerate() {
                let child_path = if path.is_empty() {
                    (i + 1).to_string()
                } else {
                    format!("{path}.{}", i + 1)
                };
                stack.push((child as usize, child_path));
            }
        }
        let leaf = !matches!(part.body, PartType::Multipart(_));
        if let Some(slot) = paths.get_mut(id) {
            // A single-part message's body is part 1; a multipart root has no path of its own.
            *slot = if path.is_empty() && leaf {
                "1".to_string()
            } else {
                path
            };
        }
    }
    paths
}

/// One MIME part's decoded content, found by its path (`1`, `2.1`, …).
#[derive(Debug)]
pub struct PartContent {
    pub content_type: String,
    pub file_name: String,
    pub body: Vec<u8>,
}

pub fn part(raw: &[u8], part_id: &str) -> Option<PartContent> {
    super::with_message(raw, |message| part_of(message?, part_id))
}

fn part_of(message: &mail_parser::Message<'_>, part_id: &str) -> Option<PartContent> {
    let paths = part_paths(message);
    let index = paths.iter().position(|p| p == part_id)?;
    let part = message.parts.get(index)?;
    if matches!(part.body, PartType::Multipart(_)) {
        return None;
    }
    let mut content_type = content_type(part).unwrap_or_else(|| "text/plain".into());
    // Text parts come out of the parser decoded to UTF-8, so say so (for text/* only: the parser
    // also falls back to text for undecodable binary parts).
    if part.is_text() && content_type.starts_with("text/") {
        content_type.push_str("; charset=utf-8");
    }
    Some(PartContent {
        content_type,
        file_name: part.attachment_name().unwrap_or_default().to_string(),
        body: part.contents().to_vec(),
    })
}

/// An inline part is one shown inside the HTML (`Content-Disposition: inline` with a Content-ID);
/// everything else in the attachment list is an attachment.
pub fn is_inline_part(part: &mail_parser::MessagePart<'_>) -> bool {
    part.content_id().is_some() && part.content_disposition().is_none_or(|d| d.is_inline())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_by_path() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n--b\r\nContent-Type: image/png; name=a.png\r\n\
            Content-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n--b--\r\n";
        let text = part(raw, "1").expect("part 1");
        assert_eq!(
            (text.content_type.as_str(), text.body.as_slice()),
            ("text/plain; charset=utf-8", "café".as_bytes())
        );
        let image = part(raw, "2").expect("part 2");
        assert_eq!(image.content_type, "image/png");
        assert_eq!(image.file_name, "a.png");
        assert_eq!(image.body, [0x89, b'P', b'N', b'G']);
        assert!(part(raw, "3").is_none());
        assert!(part(raw, "").is_none());
    }
}

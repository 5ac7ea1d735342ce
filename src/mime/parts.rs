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

/// Where each part sits: its parent and its position there, indexed like `message.parts`. A
/// path (`2.1`) is built from these only when asked for, and found by walking down, so neither
/// costs more than the depth of the part (paths built for every part of a deep message once cost
/// gigabytes).
#[derive(Debug)]
pub struct PartTree {
    /// `(parent, 1-based position)`; `None` for the root.
    up: Vec<Option<(usize, usize)>>,
}

impl PartTree {
    pub fn new(message: &mail_parser::Message<'_>) -> PartTree {
        let mut up = vec![None; message.parts.len()];
        for (id, part) in message.parts.iter().enumerate() {
            if let PartType::Multipart(children) = &part.body {
                for (i, &child) in children.iter().enumerate() {
                    if let Some(slot) = up.get_mut(child as usize) {
                        *slot = Some((id, i + 1));
                    }
                }
            }
        }
        PartTree { up }
    }

    /// The path of part `id`: the root's children are `1`, `2`, …, theirs `2.1`, `2.2`, …; a
    /// single-part message's body is `1`; a multipart root has none (empty).
    pub fn path(&self, message: &mail_parser::Message<'_>, id: usize) -> String {
        let mut positions = Vec::new();
        let mut at = id;
        while let Some(Some((parent, position))) = self.up.get(at) {
            positions.push(position.to_string());
            at = *parent;
            if positions.len() > self.up.len() {
                break; // a cycle cannot happen in a parsed tree; never loop on one anyway
            }
        }
        if positions.is_empty() {
            let leaf = message
                .parts
                .get(id)
                .is_some_and(|p| !matches!(p.body, PartType::Multipart(_)));
            return if leaf { "1".into() } else { String::new() };
        }
        positions.reverse();
        positions.join(".")
    }

    /// The part a path names.
    pub fn find(message: &mail_parser::Message<'_>, path: &str) -> Option<usize> {
        let root = message.parts.first()?;
        let PartType::Multipart(_) = &root.body else {
            return (path == "1").then_some(0);
        };
        let mut at = 0usize;
        for step in path.split('.') {
            let position: usize = step.parse().ok()?;
            let PartType::Multipart(children) = &message.parts.get(at)?.body else {
                return None;
            };
            at = *children.get(position.checked_sub(1)?)? as usize;
        }
        Some(at)
    }
}

/// One MIME part's decoded content, found by its path (`1`, `2.1`, …).
#[derive(Debug)]
pub struct PartContent {
    pub content_type: String,
    pub file_name: String,
    pub body: Vec<u8>,
}

pub fn part(raw: &[u8], limits: &super::structure::Limits, part_id: &str) -> Option<PartContent> {
    super::with_message(raw, limits, |message| part_of(message?, part_id))
}

fn part_of(message: &mail_parser::Message<'_>, part_id: &str) -> Option<PartContent> {
    let part = message.parts.get(PartTree::find(message, part_id)?)?;
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

/// An inline part is one marked `Content-Disposition: inline`, or one with no disposition but a
/// Content-ID (an image the HTML shows); everything else in the attachment list is an attachment.
/// The same split as Mailpit's (enmime's inlines and other parts).
pub fn is_inline_part(part: &mail_parser::MessagePart<'_>) -> bool {
    match part.content_disposition() {
        Some(disposition) => disposition.is_inline(),
        None => part.content_id().is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_parents() {
        let raw = b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n\
            --i\r\n\r\na\r\n--i\r\n\r\nb\r\n--i--\r\n--o\r\n\r\nc\r\n--o--\r\n";
        let message = mail_parser::MessageParser::default()
            .parse(&raw[..])
            .expect("parses");
        let tree = PartTree::new(&message);
        let paths: Vec<String> = (0..message.parts.len())
            .map(|id| tree.path(&message, id))
            .collect();
        assert_eq!(paths, ["", "1", "1.1", "1.2", "2"]);
        for (id, path) in paths.iter().enumerate().skip(1) {
            assert_eq!(PartTree::find(&message, path), Some(id), "{path}");
        }
        assert_eq!(PartTree::find(&message, "3"), None);
        assert_eq!(PartTree::find(&message, "0"), None);
        assert_eq!(PartTree::find(&message, "1.x"), None);
        let single = mail_parser::MessageParser::default()
            .parse(&b"Subject: x\r\n\r\nbody"[..])
            .expect("parses");
        assert_eq!(PartTree::new(&single).path(&single, 0), "1");
        assert_eq!(PartTree::find(&single, "1"), Some(0));
    }

    #[test]
    fn parts_by_path() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9\r\n--b\r\nContent-Type: image/png; name=a.png\r\n\
            Content-Transfer-Encoding: base64\r\n\r\niVBORw==\r\n--b--\r\n";
        let text = part(raw, &Default::default(), "1").expect("part 1");
        assert_eq!(
            (text.content_type.as_str(), text.body.as_slice()),
            ("text/plain; charset=utf-8", "café".as_bytes())
        );
        let image = part(raw, &Default::default(), "2").expect("part 2");
        assert_eq!(image.content_type, "image/png");
        assert_eq!(image.file_name, "a.png");
        assert_eq!(image.body, [0x89, b'P', b'N', b'G']);
        assert!(part(raw, &Default::default(), "3").is_none());
        assert!(part(raw, &Default::default(), "").is_none());
    }
}

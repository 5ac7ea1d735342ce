//! Mailpit's v1 wire format (../shared/spec/mailpit-api.md): the JSON shapes of message summaries,
//! lists and full messages, built from stored messages. Key names and nesting are the contract.

use mail_parser::{MessageParser, MessagePart, MimeHeaders};
use md5::Md5;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::message::{Address, StoredMessage, addresses};
use crate::mime::headers;
use crate::mime::parts::{PartTree, content_type, is_inline_part};
use crate::store::Counts;

/// RFC 3339 with fractional seconds, as Go's `time.Time` marshals it.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// `t` to the millisecond: Mailpit keeps arrival times as Unix milliseconds, so its clients see
/// at most three fractional digits (some parse no more).
pub fn millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageSummary<'a> {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "MessageID")]
    pub message_id: &'a str,
    pub read: bool,
    pub from: Option<&'a Address>,
    pub to: &'a [Address],
    pub cc: &'a [Address],
    pub bcc: &'a [Address],
    pub reply_to: &'a [Address],
    pub subject: &'a str,
    pub created: String,
    pub username: &'a str,
    pub tags: Vec<String>,
    pub size: usize,
    pub attachments: usize,
    pub snippet: String,
}

impl<'a> MessageSummary<'a> {
    pub fn new(m: &'a StoredMessage) -> MessageSummary<'a> {
        let s = &m.summary;
        MessageSummary {
            id: m.id.to_string(),
            message_id: &s.message_id,
            read: m.is_read(),
            from: s.from.as_ref(),
            to: &s.to,
            cc: &s.cc,
            bcc: &s.bcc,
            reply_to: &s.reply_to,
            subject: &s.subject,
            created: rfc3339(millis(m.created)),
            username: m.envelope.auth_user.as_deref().unwrap_or_default(),
            tags: m.tags(),
            size: m.size(),
            attachments: s.attachments,
            snippet: s.snippet(&m.raw),
        }
    }
}

/// The list wrapper; its keys are snake_case on the wire.
#[derive(Debug, Serialize)]
pub struct MessagesSummary<'a> {
    pub total: usize,
    pub unread: usize,
    pub count: usize,
    pub messages_count: usize,
    /// Unread among `messages_count`.
    pub messages_unread: usize,
    pub start: usize,
    /// Every tag in the store.
    pub tags: Vec<String>,
    pub messages: Vec<MessageSummary<'a>>,
}

impl<'a> MessagesSummary<'a> {
    /// A page of the whole store: `messages_count` is the total stored.
    pub fn page(
        messages: &'a [std::sync::Arc<StoredMessage>],
        counts: Counts,
        tags: Vec<String>,
        start: usize,
    ) -> MessagesSummary<'a> {
        MessagesSummary {
            total: counts.total,
            unread: counts.unread,
            count: messages.len(),
            messages_count: counts.total,
            messages_unread: counts.unread,
            start,
            tags,
            messages: messages.iter().map(|m| MessageSummary::new(m)).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "MessageID")]
    pub message_id: String,
    pub from: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    pub bcc: Vec<Address>,
    pub reply_to: Vec<Address>,
    pub return_path: String,
    pub subject: String,
    pub list_unsubscribe: ListUnsubscribe,
    pub date: String,
    pub tags: Vec<String>,
    pub username: String,
    pub text: String,
    #[serde(rename = "HTML")]
    pub html: String,
    pub size: usize,
    pub inline: Vec<Attachment>,
    pub attachments: Vec<Attachment>,
}

/// EXT: how the message arrived.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvelopeJson {
    pub helo: String,
    #[serde(rename = "ESMTP")]
    pub esmtp: bool,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub client_addr: String,
    #[serde(rename = "TLS")]
    pub tls: bool,
    /// The TLS protocol version, empty without TLS.
    #[serde(rename = "TLSVersion")]
    pub tls_version: String,
    pub auth_user: String,
    #[serde(rename = "SMTPUTF8")]
    pub smtputf8: bool,
    pub received: String,
}

impl EnvelopeJson {
    pub fn new(m: &StoredMessage) -> EnvelopeJson {
        let e = &m.envelope;
        EnvelopeJson {
            helo: e.helo.clone(),
            esmtp: e.esmtp,
            mail_from: e.mail_from.clone(),
            rcpt_to: e.rcpt_to.clone(),
            client_addr: e.client_addr.map(|a| a.to_string()).unwrap_or_default(),
            tls: e.tls.is_some(),
            tls_version: e.tls.clone().unwrap_or_default(),
            auth_user: e.auth_user.clone().unwrap_or_default(),
            smtputf8: e.smtputf8,
            received: rfc3339(millis(m.created)),
        }
    }
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListUnsubscribe {
    pub header: String,
    pub links: Vec<String>,
    pub errors: String,
    pub header_post: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attachment {
    #[serde(rename = "PartID")]
    pub part_id: String,
    pub file_name: String,
    pub content_type: String,
    #[serde(rename = "ContentID")]
    pub content_id: String,
    pub size: usize,
    pub checksums: Checksums,
}

#[derive(Debug, Serialize)]
pub struct Checksums {
    #[serde(rename = "MD5")]
    pub md5: String,
    #[serde(rename = "SHA1")]
    pub sha1: String,
    #[serde(rename = "SHA256")]
    pub sha256: String,
}

impl Message {
    /// The full message. Parses the stored bytes again: one message, on demand, never for lists.
    pub fn new(m: &StoredMessage) -> Message {
        let s = &m.summary;
        let date = s.date.unwrap_or_else(|| millis(m.created));
        let mut message = Message {
            id: m.id.to_string(),
            message_id: s.message_id.clone(),
            from: s.from.clone(),
            to: s.to.clone(),
            cc: s.cc.clone(),
            bcc: s.bcc.clone(),
            reply_to: s.reply_to.clone(),
            return_path: m.envelope.mail_from.clone(),
            subject: s.subject.clone(),
            list_unsubscribe: ListUnsubscribe::default(),
            date: rfc3339(date),
            tags: m.tags(),
            username: m.envelope.auth_user.clone().unwrap_or_default(),
            text: String::new(),
            html: String::new(),
            size: m.size(),
            inline: Vec::new(),
            attachments: Vec::new(),
        };
        m.parsed(|parsed| {
            if let Some(parsed) = parsed {
                message.fill_from(parsed);
            }
        });
        message
    }

    /// The parts that need the parsed MIME structure.
    fn fill_from(&mut self, parsed: &mail_parser::Message<'_>) {
        let message = self;
        message.text = crate::mime::text(parsed);
        message.html = crate::mime::html(parsed);
        message.list_unsubscribe = list_unsubscribe(parsed);
        let tree = PartTree::new(parsed);
        // Text parts that carry a file name (`inline; filename=notes.txt`) are files too, as in
        // Mailpit: listed in Inline, the first still shown as the text when it is the text body.
        let named_text = parsed
            .text_body
            .iter()
            .chain(&parsed.html_body)
            .copied()
            .filter(|&id| {
                parsed.parts.get(id as usize).is_some_and(|p| {
                    p.attachment_name().is_some()
                        && p.content_type().is_none_or(|c| c.ctype() != "multipart")
                })
            });
        let mut ids: Vec<u32> = parsed
            .attachments
            .iter()
            .copied()
            .chain(named_text)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            let Some(part) = parsed.parts.get(id as usize) else {
                continue;
            };
            let attachment = Attachment::new(part, tree.path(parsed, id as usize));
            if is_inline_part(part) {
                message.inline.push(attachment);
            } else {
                message.attachments.push(attachment);
            }
        }
        // Recompute From when the summary had none but a Sender exists (mailing-list mail).
        if message.from.is_none() {
            message.from = addresses(parsed.sender()).into_iter().next();
        }
    }
}

impl Attachment {
    fn new(part: &MessagePart<'_>, part_id: String) -> Attachment {
        let content_type = content_type(part).unwrap_or_else(|| "application/octet-stream".into());
        let bytes = part.contents();
        Attachment {
            part_id,
            file_name: part.attachment_name().unwrap_or_default().to_string(),
            content_type,
            content_id: part.content_id().unwrap_or_default().to_string(),
            size: bytes.len(),
            checksums: Checksums {
                md5: hex(&Md5::digest(bytes)),
                sha1: hex(&Sha1::digest(bytes)),
                sha256: hex(&Sha256::digest(bytes)),
            },
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Every top-level header with every value, unfolded as Go does and not decoded (Mailpit shows them
/// raw). Keys are canonicalised like Mailpit's (Go's `Message-Id` form) and sorted, as Go marshals a map.
pub fn headers(raw: &[u8]) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut map: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    let Some(message) = MessageParser::default().parse_headers(raw) else {
        return map;
    };
    for (name, value) in message.headers_raw() {
        map.entry(headers::canonical_name(name))
            .or_default()
            .push(headers::unfold_value(value));
    }
    map
}

fn list_unsubscribe(message: &mail_parser::Message<'_>) -> ListUnsubscribe {
    let header = message
        .header_raw("List-Unsubscribe")
        .map(headers::decode_value)
        .unwrap_or_default();
    let links = header
        .split(',')
        .filter_map(|item| {
            let item = item.trim();
            item.strip_prefix('<')
                .and_then(|rest| rest.strip_suffix('>'))
                .map(str::to_string)
        })
        .collect();
    let errors = if !header.is_empty() && !header.contains('<') {
        "No valid unsubscribe links found".to_string()
    } else {
        String::new()
    };
    ListUnsubscribe {
        header,
        links,
        errors,
        header_post: message
            .header_raw("List-Unsubscribe-Post")
            .map(headers::decode_value)
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Envelope;

    fn stored(raw: &[u8], rcpts: &[&str]) -> StoredMessage {
        let envelope = Envelope {
            mail_from: "sender@example.com".into(),
            rcpt_to: rcpts.iter().map(|r| r.to_string()).collect(),
            auth_user: Some("u1".into()),
            ..Envelope::default()
        };
        StoredMessage::new(envelope, raw.to_vec())
    }

    #[test]
    fn summary_json_has_mailpit_keys_and_never_null_arrays() {
        let m = stored(b"Subject: hi\r\n\r\nbody\r\n", &["x@y"]);
        let json = serde_json::to_value(MessageSummary::new(&m)).expect("serializes");
        let keys: Vec<&str> = json
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        for key in [
            "ID",
            "MessageID",
            "Read",
            "From",
            "To",
            "Cc",
            "Bcc",
            "ReplyTo",
            "Subject",
            "Created",
            "Username",
            "Tags",
            "Size",
            "Attachments",
            "Snippet",
        ] {
            assert!(keys.contains(&key), "missing {key} in {json}");
        }
        assert_eq!(json["From"], serde_json::Value::Null);
        assert_eq!(json["To"], serde_json::json!([]));
        assert_eq!(json["Tags"], serde_json::json!([]));
        assert_eq!(
            json["Bcc"],
            serde_json::json!([{"Name": "", "Address": "x@y"}])
        );
        assert_eq!(json["Username"], "u1");
        assert_eq!(json["Size"], 21);
        assert!(
            json["Created"]
                .as_str()
                .is_some_and(|c| c.ends_with('Z') && c.contains('T'))
        );
    }

    #[test]
    fn headers_are_canonical_unfolded_raw_and_repeated() {
        let raw = b"Received: a\r\nreceived: b\r\n\tfolded\r\nSubject: =?ISO-8859-1?Q?caf=E9?=\r\nMessage-ID: <x@y>\r\n\r\nbody";
        let h = headers(raw);
        // As Mailpit (Go's net/mail): a fold becomes one space, encoded words stay as sent.
        assert_eq!(h["Received"], ["a", "b folded"]);
        assert_eq!(h["Subject"], ["=?ISO-8859-1?Q?caf=E9?="]);
        assert_eq!(h["Message-Id"], ["<x@y>"]);
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn full_message_with_alternative_and_attachments() {
        let raw = b"From: A <a@x>\r\nTo: b@x\r\nSubject: parts\r\nDate: Mon, 6 May 2024 10:00:00 +0000\r\n\
            List-Unsubscribe: <mailto:u@x>, <https://x/u>\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n\
            --o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n\
            --i\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--i\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--i--\r\n\
            --o\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\n\
            Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8=\r\n--o--\r\n";
        let m = Message::new(&stored(raw, &["b@x"]));
        assert_eq!(m.text.trim(), "plain text");
        assert_eq!(m.html.trim(), "<p>html</p>");
        assert_eq!(m.return_path, "sender@example.com");
        assert_eq!(m.date, "2024-05-06T10:00:00Z");
        assert_eq!(m.list_unsubscribe.links, ["mailto:u@x", "https://x/u"]);
        assert_eq!(m.attachments.len(), 1);
        let a = &m.attachments[0];
        assert_eq!(
            (
                a.part_id.as_str(),
                a.file_name.as_str(),
                a.content_type.as_str()
            ),
            ("2", "r.pdf", "application/pdf")
        );
        assert_eq!(a.size, 5);
        assert_eq!(a.checksums.md5, "8b1a9953c4611296a827abf8c47804d7");
        assert!(m.bcc.is_empty(), "b@x is in To");
    }

    #[test]
    fn inline_disposition_without_content_id_is_inline_and_text_stays() {
        let raw = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n\
            --o\r\nContent-Type: text/plain\r\n\r\nthe body\r\n\
            --o\r\nContent-Type: image/png\r\nContent-Disposition: inline; filename=a.png\r\n\
            Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n\
            --o\r\nContent-Type: text/plain\r\nContent-Disposition: inline; filename=notes.txt\r\n\r\nnotes\r\n\
            --o\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\n\r\n%PDF\r\n\
            --o--\r\n";
        let m = Message::new(&stored(raw, &[]));
        let names =
            |list: &[Attachment]| list.iter().map(|a| a.file_name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&m.inline), ["a.png", "notes.txt"]);
        assert_eq!(names(&m.attachments), ["r.pdf"]);
        assert!(m.text.starts_with("the body"), "{:?}", m.text);

        // A lone inline text file in a mixed message is still the text.
        let raw = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n\
            --o\r\nContent-Type: text/plain\r\nContent-Disposition: inline; filename=only.txt\r\n\r\nonly text\r\n\
            --o--\r\n";
        let m = Message::new(&stored(raw, &[]));
        assert_eq!(names(&m.inline), ["only.txt"]);
        assert!(m.text.starts_with("only text"), "{:?}", m.text);
    }
}

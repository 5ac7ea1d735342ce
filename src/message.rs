//! A captured message: its envelope, its exact bytes, and the summary parsed once at ingest so that
//! listing never re-parses stored mail.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use mail_parser::Address as ParsedAddress;

use crate::mime::structure::{Limits as MimeLimits, Truncation};
use time::OffsetDateTime;
use uuid::Uuid;

/// Longest snippet kept per message, in characters.
pub const SNIPPET_CHARS: usize = 200;
/// How far into a body [`Summary::snippet`] reads first.
const SNIPPET_SCAN: usize = 4096;

/// The SMTP envelope and connection facts of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The HELO/EHLO name the client gave.
    pub helo: String,
    /// True when the client said EHLO.
    pub esmtp: bool,
    /// MAIL FROM; empty for the null sender `<>`.
    pub mail_from: String,
    /// Every accepted RCPT TO, in order.
    pub rcpt_to: Vec<String>,
    pub client_addr: Option<SocketAddr>,
    /// The user name of a successful AUTH, if any.
    pub auth_user: Option<String>,
    /// The TLS protocol (`TLSv1.3`) when the message came over TLS.
    pub tls: Option<String>,
    pub smtputf8: bool,
    pub eight_bit: bool,
}

/// A display name and an address, as in a From or To header. Serializes as `{"Name", "Address"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub name: String,
    pub address: String,
}

/// What lists and searches need, computed once when the message is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The Message-ID header without angle brackets.
    pub message_id: String,
    pub subject: String,
    pub from: Option<Address>,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// Bcc header addresses plus envelope recipients named in no To or Cc header.
    pub bcc: Vec<Address>,
    pub reply_to: Vec<Address>,
    /// The Date header, in the offset it was written with, when present and valid.
    pub date: Option<OffsetDateTime>,
    /// Parts that are attachments (not inline parts referenced from HTML).
    pub attachments: usize,
    /// The `X-Tags` header's items (comma-separated), as sent: arrival tags come from them.
    pub x_tags: Vec<String>,
    /// The decoded text of each text body (HTML converted to text where there is no plain part),
    /// for search. Most bodies need no decoding and are kept as a range of the raw bytes.
    pub bodies: Vec<TextRef>,
    /// Set when the MIME structure went past a bound and its rest is one opaque part.
    pub truncated: Option<Truncation>,
    /// Parts shown inline (with the HTML) rather than as attachments.
    pub inline: usize,
    /// The file names of the attachments, for search.
    pub file_names: Vec<Box<str>>,
    /// Which byte pairs the searchable text holds: the search prefilter.
    pub grams: crate::search::grams::Grams,
}

/// Decoded text: a range of the raw message when it needed no decoding, else an owned copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextRef {
    Raw { start: u32, end: u32 },
    Owned(Box<str>),
}

impl TextRef {
    /// Keeps `text` as a range of `raw` when it borrows from it, else copies it.
    fn new(text: std::borrow::Cow<'_, str>, raw: &[u8]) -> TextRef {
        if let std::borrow::Cow::Borrowed(s) = &text {
            // Pointer arithmetic only compares addresses; nothing is dereferenced.
            let base = raw.as_ptr() as usize;
            let at = s.as_ptr() as usize;
            if at >= base
                && at + s.len() <= base + raw.len()
                && let (Ok(start), Ok(end)) =
                    (u32::try_from(at - base), u32::try_from(at - base + s.len()))
            {
                return TextRef::Raw { start, end };
            }
        }
        TextRef::Owned(text.into_owned().into_boxed_str())
    }

    /// The text, resolving a range against the message's raw bytes.
    pub fn resolve<'a>(&'a self, raw: &'a [u8]) -> &'a str {
        std::str::from_utf8(self.bytes(raw)).unwrap_or_default()
    }

    /// The text's bytes, without checking them again (a range was UTF-8 when it was made): what
    /// a search reads, thousands of times.
    pub fn bytes<'a>(&'a self, raw: &'a [u8]) -> &'a [u8] {
        match self {
            TextRef::Owned(s) => s.as_bytes(),
            TextRef::Raw { start, end } => {
                raw.get(*start as usize..*end as usize).unwrap_or_default()
            }
        }
    }
}

/// One message in the store. Immutable but for the read flag and the tags.
#[derive(Debug)]
pub struct StoredMessage {
    pub id: Uuid,
    pub created: OffsetDateTime,
    /// Shared with the copies other mailboxes keep.
    pub envelope: Arc<Envelope>,
    /// The message exactly as received (after dot-unstuffing); shared by the copies that several
    /// mailboxes keep of one message.
    pub raw: bytes::Bytes,
    /// Shared with the copies other mailboxes keep.
    pub summary: Arc<Summary>,
    read: AtomicBool,
    /// Normalized and sorted (see [`crate::tags`]); the store keeps the counts in step.
    tags: std::sync::RwLock<Vec<String>>,
    /// The MIME bounds it was summarised with, so that every later view parses it the same way.
    mime: (u16, u16),
}

impl StoredMessage {
    /// Builds the stored form with the default MIME bounds: assigns an id and arrival time and
    /// parses the summary.
    pub fn new(envelope: Envelope, raw: Vec<u8>) -> StoredMessage {
        StoredMessage::with_limits(envelope, raw, &MimeLimits::default())
    }

    /// [`StoredMessage::new`] within these MIME bounds.
    pub fn with_limits(envelope: Envelope, raw: Vec<u8>, limits: &MimeLimits) -> StoredMessage {
        StoredMessage::restore(
            Uuid::now_v7(),
            OffsetDateTime::now_utc(),
            envelope,
            raw,
            false,
            limits,
        )
    }

    /// A message read back from disk, with the identity and arrival time it had.
    pub fn restore(
        id: Uuid,
        created: OffsetDateTime,
        envelope: Envelope,
        raw: Vec<u8>,
        read: bool,
        limits: &MimeLimits,
    ) -> StoredMessage {
        let clamp = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        let summary = Summary::parse(&raw, &envelope, limits);
        StoredMessage {
            id,
            created,
            envelope: Arc::new(envelope),
            raw: bytes::Bytes::from(raw),
            summary: Arc::new(summary),
            read: AtomicBool::new(read),
            tags: std::sync::RwLock::default(),
            mime: (clamp(limits.depth), clamp(limits.parts)),
        }
    }

    /// Another store's copy: the same message and bytes (shared, not copied), unread, untagged.
    pub fn copy(&self) -> StoredMessage {
        StoredMessage {
            id: self.id,
            created: self.created,
            envelope: Arc::clone(&self.envelope),
            raw: self.raw.clone(),
            summary: Arc::clone(&self.summary),
            read: AtomicBool::new(false),
            tags: std::sync::RwLock::default(),
            mime: self.mime,
        }
    }

    /// The MIME bounds this message is parsed within.
    pub fn mime_limits(&self) -> MimeLimits {
        MimeLimits {
            depth: usize::from(self.mime.0),
            parts: usize::from(self.mime.1),
        }
    }

    /// Parses the stored bytes (within its bounds) and hands the result to `f`.
    pub fn parsed<T>(&self, f: impl FnOnce(Option<&mail_parser::Message<'_>>) -> T) -> T {
        crate::mime::with_message(&self.raw, &self.mime_limits(), f)
    }

    pub fn size(&self) -> usize {
        self.raw.len()
    }

    pub fn is_read(&self) -> bool {
        self.read.load(Ordering::Relaxed)
    }

    /// The decoded text bodies (UTF-8), for search.
    pub fn body_texts(&self) -> impl Iterator<Item = &[u8]> {
        self.summary.bodies.iter().map(|b| b.bytes(&self.raw))
    }

    /// Sets the read flag and returns its previous value.
    pub(crate) fn set_read(&self, read: bool) -> bool {
        self.read.swap(read, Ordering::Relaxed)
    }

    /// The message's tags, sorted.
    pub fn tags(&self) -> Vec<String> {
        self.tags
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// True when it carries a tag.
    pub fn is_tagged(&self) -> bool {
        !self
            .tags
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_empty()
    }

    /// Replaces the tags and returns the old ones. The store calls this under its lock, to keep
    /// its counts in step; `tags` must be normalized.
    pub(crate) fn replace_tags(&self, tags: Vec<String>) -> Vec<String> {
        std::mem::replace(
            &mut self
                .tags
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            tags,
        )
    }
}

impl Summary {
    /// Summarises `raw`. Never fails: malformed mail gives a best-effort (possibly empty) summary.
    pub fn parse(raw: &[u8], envelope: &Envelope, limits: &MimeLimits) -> Summary {
        let prepared = crate::mime::structure::prepare(raw, limits);
        let mut summary = crate::mime::with_prepared(&prepared, limits, |message| {
            Summary::from_parsed(raw, message, envelope)
        });
        summary.truncated = prepared.truncated;
        summary
    }

    /// [`Summary::parse`] within the default bounds.
    pub fn parse_default(raw: &[u8], envelope: &Envelope) -> Summary {
        Summary::parse(raw, envelope, &MimeLimits::default())
    }

    fn from_parsed(
        raw: &[u8],
        message: Option<&mail_parser::Message<'_>>,
        envelope: &Envelope,
    ) -> Summary {
        let Some(message) = message else {
            let mut summary = Summary {
                bcc: envelope.rcpt_to.iter().map(|a| Address::bare(a)).collect(),
                ..Summary::default()
            };
            summary.grams = summary.searchable_grams(raw, envelope);
            return summary;
        };
        let to = addresses(message.to());
        let cc = addresses(message.cc());
        let mut bcc = addresses(message.bcc());
        for rcpt in &envelope.rcpt_to {
            let named =
                |list: &[Address]| list.iter().any(|a| a.address.eq_ignore_ascii_case(rcpt));
            if !named(&to) && !named(&cc) && !named(&bcc) {
                bcc.push(Address::bare(rcpt));
            }
        }
        bcc.shrink_to_fit();
        let (inline, attached): (Vec<_>, Vec<_>) = message
            .attachments()
            .partition(|part| crate::mime::parts::is_inline_part(part));
        let attachments = attached.len();
        let file_names: Vec<Box<str>> = attached
            .iter()
            .filter_map(|part| mail_parser::MimeHeaders::attachment_name(*part))
            .map(Box::from)
            .collect();
        let inline = inline.len();
        let mut bodies: Vec<TextRef> = crate::mime::text_bodies(message)
            .into_iter()
            .map(|text| TextRef::new(text, raw))
            .collect();
        bodies.shrink_to_fit();
        let x_tags = message
            .header_values("X-Tags")
            .filter_map(|v| v.as_text())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
        let mut summary = Summary {
            message_id: message.message_id().unwrap_or_default().to_string(),
            subject: message.subject().unwrap_or_default().to_string(),
            from: addresses(message.from()).into_iter().next(),
            to,
            cc,
            bcc,
            reply_to: addresses(message.reply_to()),
            date: message.date().and_then(header_date),
            attachments,
            x_tags,
            bodies,
            truncated: None,
            inline,
            file_names,
            grams: Default::default(),
        };
        summary.grams = summary.searchable_grams(raw, envelope);
        summary
    }
}

impl Summary {
    /// The list snippet of the message `raw`: the start of its first text body. Worked out when
    /// asked (a list page asks 50 times) rather than kept: ~200 bytes less per stored message.
    pub fn snippet(&self, raw: &[u8]) -> String {
        let Some(body) = self.bodies.first() else {
            return String::new();
        };
        // Only the body's start is read (checked as UTF-8), not a whole large body per listed
        // message: up to its last ASCII blank in the first 4 KiB, so no word is cut. That is
        // the whole answer once it fills the snippet; a body that is mostly blanks is read whole.
        let bytes = body.bytes(raw);
        if let Some(cut) = bytes
            .get(..SNIPPET_SCAN)
            .and_then(|head| head.iter().rposition(u8::is_ascii_whitespace))
            && let Ok(head) = std::str::from_utf8(&bytes[..cut])
        {
            let short = snippet(head);
            if short.chars().count() + 1 >= SNIPPET_CHARS {
                return short;
            }
        }
        snippet(body.resolve(raw))
    }

    /// The prefilter over everything a search reads: subject, addresses, envelope, bodies and
    /// attachment names.
    fn searchable_grams(&self, raw: &[u8], envelope: &Envelope) -> crate::search::grams::Grams {
        let mut grams = crate::search::grams::Grams::default();
        grams.add(self.subject.as_bytes());
        for a in self
            .from
            .iter()
            .chain(&self.to)
            .chain(&self.cc)
            .chain(&self.bcc)
            .chain(&self.reply_to)
        {
            grams.add(a.name.as_bytes());
            grams.add(a.address.as_bytes());
        }
        grams.add(envelope.mail_from.as_bytes());
        for rcpt in &envelope.rcpt_to {
            grams.add(rcpt.as_bytes());
        }
        for body in &self.bodies {
            grams.add(body.bytes(raw));
        }
        for name in &self.file_names {
            grams.add(name.as_bytes());
        }
        grams
    }
}

impl Address {
    pub fn bare(address: &str) -> Address {
        Address {
            name: String::new(),
            address: address.to_string(),
        }
    }
}

/// A parsed Date header as a time in the offset it was written with (`+0100` stays `+01:00`,
/// as Mailpit shows it); `None` when it names no real time.
fn header_date(date: &mail_parser::DateTime) -> Option<OffsetDateTime> {
    let minutes = i32::from(date.tz_hour) * 60 + i32::from(date.tz_minute);
    let seconds = if date.tz_before_gmt {
        -minutes
    } else {
        minutes
    } * 60;
    let offset = time::UtcOffset::from_whole_seconds(seconds).ok()?;
    OffsetDateTime::from_unix_timestamp(date.to_timestamp())
        .ok()?
        .checked_to_offset(offset)
}

/// Flattens an address header (lists and groups) into name/address pairs.
pub fn addresses(header: Option<&ParsedAddress<'_>>) -> Vec<Address> {
    header
        .map(|list| {
            list.iter()
                .map(|a| Address {
                    name: a.name().unwrap_or_default().to_string(),
                    address: a.address().unwrap_or_default().to_string(),
                })
                .collect::<Vec<_>>()
        })
        // Kept for the message's lifetime: no room for the three more a collect leaves.
        .map(|mut list| {
            list.shrink_to_fit();
            list
        })
        .unwrap_or_default()
}

/// The first [`SNIPPET_CHARS`] characters of `text` with runs of whitespace folded to one space.
pub fn snippet(text: &str) -> String {
    let mut out = String::with_capacity(SNIPPET_CHARS.min(text.len()));
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars > 0 {
            // The separator counts too: a word ending exactly at the limit ends the snippet.
            if chars + 1 >= SNIPPET_CHARS {
                return out;
            }
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars >= SNIPPET_CHARS {
                return out;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(rcpts: &[&str]) -> Envelope {
        Envelope {
            rcpt_to: rcpts.iter().map(|s| s.to_string()).collect(),
            ..Envelope::default()
        }
    }

    #[test]
    fn summary_of_a_plain_message() {
        let raw = b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.net>, carol@example.org\r\n\
            Cc: dave@example.com\r\nSubject: =?UTF-8?B?SMOpbGxv?=\r\nMessage-ID: <abc@x>\r\n\
            Date: Mon, 6 May 2024 10:00:00 +0000\r\n\r\nHello   Bob,\r\n\r\nthis is   the body.\r\n";
        let s = Summary::parse_default(raw, &envelope(&["bob@example.net", "secret@example.com"]));
        assert_eq!(s.subject, "Héllo");
        assert_eq!(s.message_id, "abc@x");
        assert_eq!(
            s.from,
            Some(Address {
                name: "Alice".into(),
                address: "alice@example.com".into()
            })
        );
        assert_eq!(s.to.len(), 2);
        assert_eq!(s.cc[0].address, "dave@example.com");
        assert_eq!(
            s.bcc,
            [Address::bare("secret@example.com")],
            "envelope-only recipient is Bcc"
        );
        assert_eq!(s.date.map(OffsetDateTime::unix_timestamp), Some(1714989600));
        assert_eq!(s.snippet(raw), "Hello Bob, this is the body.");
        assert_eq!(s.attachments, 0);
    }

    #[test]
    fn attachments_are_counted_but_inline_images_are_not() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
            --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\nPDF\r\n\
            --b\r\nContent-Type: image/png\r\nContent-ID: <img1>\r\nContent-Disposition: inline\r\n\r\nPNG\r\n--b--\r\n";
        let s = Summary::parse_default(raw, &envelope(&[]));
        assert_eq!(s.attachments, 1);
        assert_eq!(s.snippet(raw), "hi");
    }

    #[test]
    fn garbage_still_summarises() {
        for raw in [&b""[..], b"\xff\xfe\x00garbage", b"Subject: unterminated"] {
            let s = Summary::parse_default(raw, &envelope(&["x@y"]));
            assert_eq!(s.bcc, [Address::bare("x@y")]);
        }
    }

    #[test]
    fn a_snippet_read_from_the_start_of_a_long_body_is_the_whole_bodys() {
        let bodies = [
            "word ".repeat(20_000),
            format!("{}\r\n{}", "é".repeat(3_000), "x ".repeat(5_000)),
            format!("{} end", " \t\r\n".repeat(2_000)),
            format!("{} {}", "a".repeat(198), "b ".repeat(3_000)),
            format!("{} {}", "a".repeat(199), "b ".repeat(3_000)),
        ];
        for body in bodies {
            let raw = format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{body}");
            let s = Summary::parse_default(raw.as_bytes(), &envelope(&[]));
            let whole = snippet(s.bodies[0].resolve(raw.as_bytes()));
            let start: String = whole.chars().take(20).collect();
            assert_eq!(s.snippet(raw.as_bytes()), whole, "{start:?}…");
        }
    }

    #[test]
    fn snippet_is_bounded() {
        let long = "word ".repeat(100);
        // 40 whole words fit (199 characters); a 41st would only add a blank.
        assert_eq!(snippet(&long).chars().count(), SNIPPET_CHARS - 1);
        assert!(!snippet(&long).ends_with(' '));
        let edge = format!("{} b", "a".repeat(SNIPPET_CHARS));
        assert_eq!(
            snippet(&edge),
            "a".repeat(SNIPPET_CHARS),
            "no trailing blank past the limit"
        );
        let under = format!("{} b", "a".repeat(SNIPPET_CHARS - 2));
        assert_eq!(snippet(&under).chars().count(), SNIPPET_CHARS);
        assert_eq!(snippet("  a \r\n b "), "a b");
    }
}

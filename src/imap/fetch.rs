//! FETCH responses (RFC 3501 6.4.5, 7.4.2): what a session asked for, as a job the I/O loop
//! renders off the async workers when the messages are large. The job holds everything it needs
//! (the messages, their numbers and flags at the time of the command), so it runs anywhere.

use std::sync::Arc;

use imap_codec::imap_types::fetch::{
    Macro, MacroOrMessageDataItemNames, MessageDataItemName, Section as WireSection,
};
use mail_parser::{Addr, Address, MessageParser};

use super::parts::{Kind, Part};
use super::wire;
use crate::message::StoredMessage;
use crate::mime::headers::{Header, header};
use crate::mime::structure::Limits;

/// Rows whose messages add up to more than this are rendered on the blocking pool.
pub const INLINE_RENDER: usize = 64 * 1024;

/// One data item asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Uid,
    Flags,
    InternalDate,
    Size,
    Envelope,
    BodyStructure,
    /// `BODY` without a section: the structure without extension data.
    Body,
    Section {
        name: Name,
        section: Section,
        partial: Option<(u32, u32)>,
        peek: bool,
    },
}

/// How a section item is named in the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Body,
    Rfc822,
    Rfc822Header,
    Rfc822Text,
}

/// Which bytes of the message a section names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Section {
    Full,
    Part(Vec<u32>),
    Header(Vec<u32>),
    Fields {
        path: Vec<u32>,
        names: Vec<String>,
        not: bool,
    },
    Text(Vec<u32>),
    Mime(Vec<u32>),
}

impl Item {
    /// True when fetching this marks the message \Seen.
    pub fn sets_seen(&self) -> bool {
        matches!(
            self,
            Item::Section { peek: false, name, .. } if *name != Name::Rfc822Header
        )
    }
}

/// Why a FETCH was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("BINARY is not supported")]
    Binary,
}

/// Our items from the codec's.
pub fn items(asked: &MacroOrMessageDataItemNames<'_>) -> Result<Vec<Item>, FetchError> {
    let names = match asked {
        MacroOrMessageDataItemNames::Macro(m) => {
            let mut items = vec![Item::Flags, Item::InternalDate, Item::Size];
            match m {
                Macro::Fast => {}
                Macro::All => items.push(Item::Envelope),
                Macro::Full => items.extend([Item::Envelope, Item::Body]),
                _ => items.extend([Item::Envelope, Item::Body]),
            }
            return Ok(items);
        }
        MacroOrMessageDataItemNames::MessageDataItemNames(names) => names,
    };
    names
        .iter()
        .map(|name| {
            Ok(match name {
                MessageDataItemName::Body => Item::Body,
                MessageDataItemName::BodyExt {
                    section,
                    partial,
                    peek,
                } => Item::Section {
                    name: Name::Body,
                    section: section.as_ref().map_or(Section::Full, convert_section),
                    partial: partial.map(|(start, count)| (start, count.get())),
                    peek: *peek,
                },
                MessageDataItemName::BodyStructure => Item::BodyStructure,
                MessageDataItemName::Envelope => Item::Envelope,
                MessageDataItemName::Flags => Item::Flags,
                MessageDataItemName::InternalDate => Item::InternalDate,
                MessageDataItemName::Rfc822 => Item::Section {
                    name: Name::Rfc822,
                    section: Section::Full,
                    partial: None,
                    peek: false,
                },
                MessageDataItemName::Rfc822Header => Item::Section {
                    name: Name::Rfc822Header,
                    section: Section::Header(Vec::new()),
                    partial: None,
                    peek: true,
                },
                MessageDataItemName::Rfc822Size => Item::Size,
                MessageDataItemName::Rfc822Text => Item::Section {
                    name: Name::Rfc822Text,
                    section: Section::Text(Vec::new()),
                    partial: None,
                    peek: false,
                },
                MessageDataItemName::Uid => Item::Uid,
                MessageDataItemName::Binary { .. } | MessageDataItemName::BinarySize { .. } => {
                    return Err(FetchError::Binary);
                }
            })
        })
        .collect()
}

fn convert_section(section: &WireSection<'_>) -> Section {
    let path = |part: &Option<imap_codec::imap_types::fetch::Part>| -> Vec<u32> {
        part.as_ref()
            .map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
            .unwrap_or_default()
    };
    let names =
        |fields: &imap_codec::imap_types::core::Vec1<imap_codec::imap_types::core::AString<'_>>| {
            fields
                .as_ref()
                .iter()
                .map(|f| String::from_utf8_lossy(f.as_ref()).to_ascii_uppercase())
                .collect()
        };
    match section {
        WireSection::Part(part) => Section::Part(path(&Some(part.clone()))),
        WireSection::Header(part) => Section::Header(path(part)),
        WireSection::HeaderFields(part, fields) => Section::Fields {
            path: path(part),
            names: names(fields),
            not: false,
        },
        WireSection::HeaderFieldsNot(part, fields) => Section::Fields {
            path: path(part),
            names: names(fields),
            not: true,
        },
        WireSection::Text(part) => Section::Text(path(part)),
        WireSection::Mime(part) => Section::Mime(path(&Some(part.clone()))),
    }
}

/// One message to answer for.
#[derive(Debug, Clone)]
pub struct Row {
    pub seq: u32,
    pub uid: u32,
    pub message: Arc<StoredMessage>,
    /// The FLAGS list, parenthesised.
    pub flags: String,
    /// The flags changed by this fetch (\Seen set): FLAGS goes out even if not asked for.
    pub flags_changed: bool,
}

/// A FETCH to render.
#[derive(Debug, Clone)]
pub struct FetchJob {
    pub items: Vec<Item>,
    pub rows: Vec<Row>,
}

impl FetchJob {
    /// The bytes of every row this many rows from `start`.
    pub fn render_rows(&self, rows: std::ops::Range<usize>, out: &mut Vec<u8>) {
        for row in &self.rows[rows] {
            render(&self.items, row, out);
        }
    }

    /// The stored bytes the job reads: the loop moves large jobs off the async workers.
    pub fn weight(&self) -> usize {
        self.rows.iter().map(|r| r.message.size()).sum()
    }
}

/// `* seq FETCH (...)` for one row.
pub fn render(items: &[Item], row: &Row, out: &mut Vec<u8>) {
    let raw: &[u8] = &row.message.raw;
    let mut tree: Option<Part> = None;
    let mut tree = |raw: &[u8]| -> Part {
        tree.get_or_insert_with(|| Part::parse(raw, &Limits::default()))
            .clone()
    };
    out.extend_from_slice(format!("* {} FETCH (", row.seq).as_bytes());
    let mut first = true;
    let mut sep = |out: &mut Vec<u8>| {
        if !first {
            out.push(b' ');
        }
        first = false;
    };
    let has_flags = items.contains(&Item::Flags);
    for item in items {
        sep(out);
        match item {
            Item::Uid => out.extend_from_slice(format!("UID {}", row.uid).as_bytes()),
            Item::Flags => out.extend_from_slice(format!("FLAGS {}", row.flags).as_bytes()),
            Item::InternalDate => {
                out.extend_from_slice(b"INTERNALDATE ");
                wire::string(out, internal_date(&row.message).as_bytes());
            }
            Item::Size => out.extend_from_slice(format!("RFC822.SIZE {}", raw.len()).as_bytes()),
            Item::Envelope => {
                out.extend_from_slice(b"ENVELOPE ");
                let part = tree(raw);
                envelope(raw, &part.headers(raw), out);
            }
            Item::BodyStructure => {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                structure(raw, &tree(raw), true, out);
            }
            Item::Body => {
                out.extend_from_slice(b"BODY ");
                structure(raw, &tree(raw), false, out);
            }
            Item::Section {
                name,
                section,
                partial,
                ..
            } => {
                let bytes = section_bytes(raw, section, &mut tree);
                match name {
                    Name::Rfc822 => out.extend_from_slice(b"RFC822 "),
                    Name::Rfc822Header => out.extend_from_slice(b"RFC822.HEADER "),
                    Name::Rfc822Text => out.extend_from_slice(b"RFC822.TEXT "),
                    Name::Body => {
                        out.extend_from_slice(b"BODY[");
                        section_name(section, out);
                        out.push(b']');
                        if let Some((start, _)) = partial {
                            out.extend_from_slice(format!("<{start}>").as_bytes());
                        }
                        out.push(b' ');
                    }
                }
                let bytes: &[u8] = &bytes;
                let bytes = match partial {
                    Some((start, count)) => {
                        let start = (*start as usize).min(bytes.len());
                        let end = start.saturating_add(*count as usize).min(bytes.len());
                        &bytes[start..end]
                    }
                    None => bytes,
                };
                // Body bytes always go as a literal: they may hold anything.
                wire::literal(out, bytes);
            }
        }
    }
    if row.flags_changed && !has_flags {
        sep(out);
        out.extend_from_slice(format!("FLAGS {}", row.flags).as_bytes());
    }
    out.extend_from_slice(b")\r\n");
}

fn section_name(section: &Section, out: &mut Vec<u8>) {
    let prefix = |path: &[u32], out: &mut Vec<u8>, more: bool| {
        let joined = path
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".");
        out.extend_from_slice(joined.as_bytes());
        if more && !path.is_empty() {
            out.push(b'.');
        }
    };
    match section {
        Section::Full => {}
        Section::Part(path) => prefix(path, out, false),
        Section::Header(path) => {
            prefix(path, out, true);
            out.extend_from_slice(b"HEADER");
        }
        Section::Fields { path, names, not } => {
            prefix(path, out, true);
            out.extend_from_slice(if *not {
                b"HEADER.FIELDS.NOT (".as_slice()
            } else {
                b"HEADER.FIELDS (".as_slice()
            });
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                wire::string(out, name.as_bytes());
            }
            out.push(b')');
        }
        Section::Text(path) => {
            prefix(path, out, true);
            out.extend_from_slice(b"TEXT");
        }
        Section::Mime(path) => {
            prefix(path, out, true);
            out.extend_from_slice(b"MIME");
        }
    }
}

/// The bytes a section names; empty when the message has no such part (RFC 3501 allows NIL or
/// empty; an empty literal keeps clients that expect a string happy).
fn section_bytes<'a>(
    raw: &'a [u8],
    section: &Section,
    tree: &mut dyn FnMut(&[u8]) -> Part,
) -> std::borrow::Cow<'a, [u8]> {
    use std::borrow::Cow;
    let empty = Cow::Borrowed(&b""[..]);
    match section {
        Section::Full => Cow::Borrowed(raw),
        Section::Part(path) => {
            let root = tree(raw);
            match root.find(path) {
                Some(part) => Cow::Borrowed(&raw[part.body.clone()]),
                None => empty,
            }
        }
        Section::Header(path) => {
            let root = tree(raw);
            match root.message_at(path) {
                Some(message) => Cow::Borrowed(&raw[message.header.clone()]),
                None => empty,
            }
        }
        Section::Text(path) => {
            let root = tree(raw);
            match root.message_at(path) {
                Some(message) => Cow::Borrowed(&raw[message.body.clone()]),
                None => empty,
            }
        }
        Section::Mime(path) => {
            let root = tree(raw);
            match root.find(path) {
                Some(part) => Cow::Borrowed(&raw[part.header.clone()]),
                None => empty,
            }
        }
        Section::Fields { path, names, not } => {
            let root = tree(raw);
            let Some(message) = root.message_at(path) else {
                return empty;
            };
            let mut out = Vec::new();
            for h in message.headers(raw) {
                let wanted = names.iter().any(|n| n.eq_ignore_ascii_case(&h.name));
                if wanted != *not {
                    let span =
                        message.header.start + h.span.start..message.header.start + h.span.end;
                    out.extend_from_slice(&raw[span]);
                }
            }
            out.extend_from_slice(b"\r\n");
            Cow::Owned(out)
        }
    }
}

/// `01-Jan-2024 10:00:00 +0000` (RFC 3501 date-time).
pub fn internal_date(message: &StoredMessage) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = message.created.to_offset(time::UtcOffset::UTC);
    format!(
        "{:02}-{}-{:04} {:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// ENVELOPE (RFC 3501 7.4.2): header values as sent (unfolded), addresses parsed.
fn envelope(raw: &[u8], headers: &[Header<'_>], out: &mut Vec<u8>) {
    let value = |name: &str| header(headers, name).map(|v| v.trim().as_bytes().to_vec());
    let parsed = MessageParser::default().parse_headers(raw);
    out.push(b'(');
    wire::nstring(out, value("Date").as_deref());
    out.push(b' ');
    wire::nstring(out, value("Subject").as_deref());
    let from = parsed.as_ref().and_then(|m| m.from());
    let sender = parsed.as_ref().and_then(|m| m.sender()).or(from);
    let reply_to = parsed.as_ref().and_then(|m| m.reply_to()).or(from);
    for list in [
        from,
        sender,
        reply_to,
        parsed.as_ref().and_then(|m| m.to()),
        parsed.as_ref().and_then(|m| m.cc()),
        parsed.as_ref().and_then(|m| m.bcc()),
    ] {
        out.push(b' ');
        addresses(list, out);
    }
    out.push(b' ');
    wire::nstring(out, value("In-Reply-To").as_deref());
    out.push(b' ');
    wire::nstring(out, value("Message-ID").as_deref());
    out.push(b')');
}

fn addresses(list: Option<&Address<'_>>, out: &mut Vec<u8>) {
    let addr = |a: &Addr<'_>, out: &mut Vec<u8>| {
        let address = a.address.as_deref().unwrap_or("");
        let (mailbox, host) = address.rsplit_once('@').unwrap_or((address, ""));
        out.push(b'(');
        wire::nstring(out, a.name.as_deref().map(str::as_bytes));
        out.extend_from_slice(b" NIL ");
        wire::string(out, mailbox.as_bytes());
        out.push(b' ');
        wire::string(out, host.as_bytes());
        out.push(b')');
    };
    match list {
        Some(Address::List(addrs)) if !addrs.is_empty() => {
            out.push(b'(');
            for a in addrs {
                addr(a, out);
            }
            out.push(b')');
        }
        Some(Address::Group(groups)) if !groups.is_empty() => {
            out.push(b'(');
            for g in groups {
                // A group: a start marker (NIL NIL name NIL), its members, an end marker.
                if let Some(name) = &g.name {
                    out.extend_from_slice(b"(NIL NIL ");
                    wire::string(out, name.as_bytes());
                    out.extend_from_slice(b" NIL)");
                }
                for a in &g.addresses {
                    addr(a, out);
                }
                if g.name.is_some() {
                    out.extend_from_slice(b"(NIL NIL NIL NIL)");
                }
            }
            out.push(b')');
        }
        _ => out.extend_from_slice(b"NIL"),
    }
}

/// BODYSTRUCTURE (`extended`) or BODY.
fn structure(raw: &[u8], part: &Part, extended: bool, out: &mut Vec<u8>) {
    let headers = part.headers(raw);
    out.push(b'(');
    match &part.kind {
        Kind::Multipart(children) => {
            for child in children {
                structure(raw, child, extended, out);
            }
            out.push(b' ');
            wire::string(out, part.media.1.to_ascii_uppercase().as_bytes());
            if extended {
                out.push(b' ');
                param_list(&part.params, out);
                out.push(b' ');
                disposition(&headers, out);
                out.extend_from_slice(b" NIL NIL");
            }
        }
        kind => {
            let body = &raw[part.body.clone()];
            wire::string(out, part.media.0.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            wire::string(out, part.media.1.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            param_list(&part.params, out);
            out.push(b' ');
            let field = |name: &str| header(&headers, name).map(|v| v.trim().as_bytes().to_vec());
            wire::nstring(out, field("Content-ID").as_deref());
            out.push(b' ');
            wire::nstring(out, field("Content-Description").as_deref());
            out.push(b' ');
            let encoding = field("Content-Transfer-Encoding")
                .map(|e| e.to_ascii_uppercase())
                .unwrap_or_else(|| b"7BIT".to_vec());
            wire::string(out, &encoding);
            out.extend_from_slice(format!(" {}", body.len()).as_bytes());
            let lines = memchr::memchr_iter(b'\n', body).count();
            if let Kind::Message(inner) = kind {
                out.push(b' ');
                envelope(
                    &raw[inner.header.start..inner.body.end],
                    &inner.headers(raw),
                    out,
                );
                out.push(b' ');
                structure(raw, inner, extended, out);
                out.extend_from_slice(format!(" {lines}").as_bytes());
            } else if part.media.0 == "text" {
                out.extend_from_slice(format!(" {lines}").as_bytes());
            }
            if extended {
                out.extend_from_slice(b" ");
                wire::nstring(out, field("Content-MD5").as_deref());
                out.push(b' ');
                disposition(&headers, out);
                out.push(b' ');
                wire::nstring(out, field("Content-Language").as_deref());
                out.push(b' ');
                wire::nstring(out, field("Content-Location").as_deref());
            }
        }
    }
    out.push(b')');
}

fn param_list(params: &[(String, String)], out: &mut Vec<u8>) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        wire::string(out, name.to_ascii_uppercase().as_bytes());
        out.push(b' ');
        wire::string(out, value.as_bytes());
    }
    out.push(b')');
}

fn disposition(headers: &[Header<'_>], out: &mut Vec<u8>) {
    match header(headers, "Content-Disposition") {
        Some(value) => {
            let kind = value.split(';').next().unwrap_or("").trim();
            if kind.is_empty() {
                out.extend_from_slice(b"NIL");
                return;
            }
            out.push(b'(');
            wire::string(out, kind.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            param_list(&crate::mime::headers::params(value), out);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imap::wire::tests::assert_responses_parse;
    use crate::message::Envelope;

    const MAIL: &[u8] = b"From: \"Ann Example\" <ann@example.com>\r\nTo: bob@example.org, carl@example.net\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@x>\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: x@y\r\n\r\ninner\r\n--b--\r\n";

    fn row() -> Row {
        Row {
            seq: 1,
            uid: 7,
            message: Arc::new(StoredMessage::new(Envelope::default(), MAIL.to_vec())),
            flags: "(\\Seen)".into(),
            flags_changed: false,
        }
    }

    fn fetch(items: Vec<Item>) -> Vec<u8> {
        let mut out = Vec::new();
        render(&items, &row(), &mut out);
        assert_responses_parse(&out);
        out
    }

    fn section(section: Section, partial: Option<(u32, u32)>) -> Item {
        Item::Section {
            name: Name::Body,
            section,
            partial,
            peek: true,
        }
    }

    #[test]
    fn structure_and_envelope_parse_as_imap() {
        let out = fetch(vec![
            Item::Uid,
            Item::Flags,
            Item::InternalDate,
            Item::Size,
            Item::Envelope,
            Item::BodyStructure,
            Item::Body,
        ]);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("\"MIXED\" (\"BOUNDARY\" \"b\")"), "{text}");
        assert!(
            text.contains("((\"Ann Example\" NIL \"ann\" \"example.com\"))"),
            "{text}"
        );
        assert!(
            text.contains("(\"ATTACHMENT\" (\"FILENAME\" \"a.pdf\"))"),
            "{text}"
        );
        assert!(text.contains("\"MESSAGE\" \"RFC822\""), "{text}");
    }

    #[test]
    fn sections_are_the_stored_bytes() {
        let out = fetch(vec![section(Section::Part(vec![1]), None)]);
        assert!(
            out.ends_with(b"BODY[1] {5}\r\nhello)\r\n"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        let out = fetch(vec![section(Section::Full, Some((2, 3)))]);
        assert!(out.ends_with(b"BODY[]<2> {3}\r\nom:)\r\n"));
        let out = fetch(vec![section(Section::Header(vec![3]), None)]);
        assert!(out.ends_with(b"BODY[3.HEADER] {29}\r\nSubject: inner\r\nFrom: x@y\r\n\r\n)\r\n"));
        let out = fetch(vec![section(
            Section::Fields {
                path: vec![],
                names: vec!["SUBJECT".into()],
                not: false,
            },
            None,
        )]);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains(
                "BODY[HEADER.FIELDS (\"SUBJECT\")] {34}\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\n"
            ),
            "{text}"
        );
        let out = fetch(vec![section(Section::Mime(vec![2]), None)]);
        assert!(String::from_utf8_lossy(&out).contains("BODY[2.MIME] {"));
        let out = fetch(vec![section(Section::Part(vec![9]), None)]);
        assert!(out.ends_with(b"BODY[9] {0}\r\n)\r\n"));
    }

    #[test]
    fn rfc822_items_and_a_plain_message() {
        let out = fetch(vec![Item::Section {
            name: Name::Rfc822Header,
            section: Section::Header(vec![]),
            partial: None,
            peek: true,
        }]);
        assert!(String::from_utf8_lossy(&out).starts_with("* 1 FETCH (RFC822.HEADER {"));
        let mut out = Vec::new();
        let mut plain = row();
        plain.message = Arc::new(StoredMessage::new(
            Envelope::default(),
            b"Subject: x\r\n\r\nhi\r\n".to_vec(),
        ));
        render(&[Item::BodyStructure], &plain, &mut out);
        assert_responses_parse(&out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 4 1 NIL NIL NIL NIL))\r\n"
        );
    }
}

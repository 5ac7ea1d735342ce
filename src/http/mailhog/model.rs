//! MailHog's Message JSON, built from a stored message. Struct fields are declared in wire order
//! (serde keeps it); header names serialize sorted, as Go's JSON encoder writes map keys.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::http::mailpit::model::rfc3339;
use crate::message::StoredMessage;
use crate::mime::entity::Entity;
use crate::mime::headers::trim_eol;

/// One message as MailHog serializes it. Borrows from the stored message; cheap to build.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Message<'a> {
    #[serde(rename = "ID")]
    pub id: String,
    /// The envelope sender; `null` for the null sender `<>`.
    pub from: Option<Path<'a>>,
    /// The envelope recipients; `null` when there are none, as Go encodes an empty slice.
    pub to: Option<Vec<Path<'a>>>,
    pub content: Content<'a>,
    pub created: String,
    #[serde(rename = "MIME")]
    pub mime: Option<MimeBody<'a>>,
    pub raw: Raw<'a>,
}

/// An envelope address split at its last `@`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Path<'a> {
    /// Source routes; SMTP clients no longer send them, so always `null`.
    pub relays: Option<Vec<&'a str>>,
    pub mailbox: &'a str,
    pub domain: &'a str,
    pub params: &'a str,
}

/// A message or part: raw header values by name, the still-encoded body, and nested parts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Content<'a> {
    /// Every value of each header, in order, under its name as sent.
    pub headers: BTreeMap<Cow<'a, str>, Vec<Cow<'a, str>>>,
    pub body: Cow<'a, str>,
    pub size: usize,
    #[serde(rename = "MIME")]
    pub mime: Option<MimeBody<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MimeBody<'a> {
    pub parts: Vec<Content<'a>>,
}

/// The SMTP transaction as received.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Raw<'a> {
    pub from: &'a str,
    pub to: &'a [String],
    pub data: Cow<'a, str>,
    pub helo: &'a str,
}

/// `{"total","count","start","items"}`: a page of the v2 list or search.
#[derive(Debug, Serialize)]
pub struct Page<'a> {
    pub total: usize,
    pub count: usize,
    pub start: usize,
    pub items: Vec<Message<'a>>,
}

/// The message as MailHog's `Raw.Data` holds it: the stored bytes without the line break that
/// ends the last line (in SMTP it is the first half of the `CRLF.CRLF` terminator).
pub fn data(m: &StoredMessage) -> &[u8] {
    trim_eol(&m.raw)
}

/// Bytes of nested multipart bodies per byte of message. MailHog repeats each multipart's whole
/// body in its JSON, so deep nesting multiplies the message (16 levels of a 50 MB mail would be
/// 800 MB); real mail nests two or three multiparts.
const NESTED_BODIES_BUDGET: usize = 3;

impl<'a> Message<'a> {
    pub fn new(m: &'a StoredMessage) -> Message<'a> {
        let entity = Entity::parse(data(m), &m.mime_limits());
        let mut budget = NESTED_BODIES_BUDGET * m.raw.len();
        let mime = entity.parts.map(|parts| MimeBody {
            parts: parts
                .into_iter()
                .map(|p| Content::new(p, &mut budget))
                .collect(),
        });
        let env = &m.envelope;
        Message {
            id: m.id.to_string(),
            from: (!env.mail_from.is_empty()).then(|| Path::new(&env.mail_from)),
            to: (!env.rcpt_to.is_empty())
                .then(|| env.rcpt_to.iter().map(|r| Path::new(r)).collect()),
            content: Content {
                headers: headers(entity.headers),
                body: String::from_utf8_lossy(entity.body),
                // MailHog counts the bytes of `Raw.Data` (the message without DATA's last line
                // break), so the two always agree.
                size: data(m).len(),
                // MailHog keeps the top-level parts in `Message.MIME`, never here.
                mime: None,
            },
            created: rfc3339(m.created),
            mime,
            raw: Raw {
                from: &env.mail_from,
                to: &env.rcpt_to,
                data: String::from_utf8_lossy(data(m)),
                helo: &env.helo,
            },
        }
    }
}

impl<'a> Path<'a> {
    /// Splits at the last `@` (a quoted local part may contain `@`); no `@` gives an empty domain.
    pub fn new(address: &'a str) -> Path<'a> {
        let (mailbox, domain) = address.rsplit_once('@').unwrap_or((address, ""));
        Path {
            relays: None,
            mailbox,
            domain,
            params: "",
        }
    }
}

impl<'a> Content<'a> {
    /// A body part: its own headers, raw body and size, and its parts when it is a multipart.
    /// A multipart's body repeats its parts; once those repeats have used `budget` bytes, deeper
    /// multiparts get an empty body (their parts are still listed).
    fn new(entity: Entity<'a>, budget: &mut usize) -> Content<'a> {
        let body = match entity.parts {
            Some(_) if entity.body.len() > *budget => {
                *budget = 0;
                Cow::Borrowed("")
            }
            Some(_) => {
                *budget -= entity.body.len();
                String::from_utf8_lossy(entity.body)
            }
            None => String::from_utf8_lossy(entity.body),
        };
        Content {
            headers: headers(entity.headers),
            body,
            size: entity.raw.len(),
            mime: entity.parts.map(|parts| MimeBody {
                parts: parts.into_iter().map(|p| Content::new(p, budget)).collect(),
            }),
        }
    }
}

/// Groups values under their name exactly as sent; `Received` and `received` stay apart, as in
/// MailHog, because clients look names up case-sensitively.
fn headers<'a>(
    fields: Vec<crate::mime::headers::Header<'a>>,
) -> BTreeMap<Cow<'a, str>, Vec<Cow<'a, str>>> {
    let mut map: BTreeMap<Cow<'a, str>, Vec<Cow<'a, str>>> = BTreeMap::new();
    for field in fields {
        map.entry(field.name).or_default().push(field.value);
    }
    map
}

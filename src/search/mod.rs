//! The search language of the native API (Mailpit's syntax), matched over the decoded text kept
//! in each message's summary, and the bounded, cancellable scan that runs it.
//!
//! - [`needle`]: one search string, matched case-insensitively with Mailpit's separator folding.
//! - [`grams`]: the per-message prefilter that rules most messages out without reading them.
//!
//! Words are ANDed; `"a phrase"`; `-word` or `!word` negates; fields `from: to: cc: bcc:
//! reply-to: addressed: subject: message-id: tag:`; `is:read is:unread is:tagged
//! has:attachment has:inline`; `larger:` and `smaller:` sizes (`10k`, `1.5MB`); `before:` and
//! `after:` dates (`YYYY-MM-DD` or RFC 3339).

pub mod grams;
pub mod needle;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use crate::message::{Address, StoredMessage};
use crate::store::Snapshot;
use grams::Grams;
pub use needle::Needle;

/// Bounds on one search request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// Longest query text, in bytes.
    pub max_length: usize,
    /// Most terms.
    pub max_terms: usize,
    /// Longest a search may run.
    pub timeout: Duration,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            max_length: crate::config::DEFAULT_MAX_SEARCH_LENGTH,
            max_terms: crate::config::DEFAULT_MAX_SEARCH_TERMS,
            timeout: crate::config::DEFAULT_SEARCH_TIMEOUT,
        }
    }
}

/// A parsed query: every term must hold (terms are ANDed).
#[derive(Debug)]
pub struct Query {
    terms: Vec<Term>,
    /// Some term needs the message's text lower-cased (a needle with non-ASCII letters).
    lowercase: bool,
}

#[derive(Debug)]
struct Term {
    negated: bool,
    test: Test,
}

#[derive(Debug)]
enum Test {
    /// Anywhere: subject, addresses, envelope, body text, attachment names.
    Any(Needle),
    From(Needle),
    To(Needle),
    Cc(Needle),
    Bcc(Needle),
    ReplyTo(Needle),
    /// From, To, Cc, Bcc or Reply-To.
    Addressed(Needle),
    Subject(Needle),
    MessageId(Needle),
    Tag(String),
    Read(bool),
    Tagged,
    HasAttachment,
    HasInline,
    /// Larger / smaller than this many bytes (strictly).
    Larger(u64),
    Smaller(u64),
    /// Arrived at or before / at or after this Unix time.
    Before(i64),
    After(i64),
}

/// A query that names something we cannot parse (an impossible date, an unknown `is:`), or goes
/// past a bound.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid search: {0}")]
pub struct QueryError(pub String);

impl Query {
    /// Parses the search syntax (see the module doc) without bounds: for queries the server
    /// itself holds (`--tag` filters). Requests use [`Query::parse_within`].
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        Query::parse_within(
            text,
            &SearchLimits {
                max_length: usize::MAX,
                max_terms: usize::MAX,
                timeout: Duration::MAX,
            },
        )
    }

    /// Parses a query a client sent, refusing one longer or with more terms than `limits` allow.
    pub fn parse_within(text: &str, limits: &SearchLimits) -> Result<Query, QueryError> {
        if text.len() > limits.max_length {
            return Err(QueryError(format!(
                "the query is {} bytes long, over the {}-byte limit",
                text.len(),
                limits.max_length
            )));
        }
        let mut terms = Vec::new();
        for token in tokenize(text) {
            if terms.len() == limits.max_terms {
                return Err(QueryError(format!(
                    "the query has more than {} terms",
                    limits.max_terms
                )));
            }
            let (negated, body) = match token.strip_prefix(['-', '!']) {
                Some(rest) if !rest.is_empty() => (true, rest),
                _ => (false, token.as_str()),
            };
            let test = match body.split_once(':') {
                Some((field, value)) => field_test(&field.to_ascii_lowercase(), value)?
                    .unwrap_or_else(|| Test::Any(Needle::new(body))),
                None => Test::Any(Needle::new(body)),
            };
            if let Test::Any(needle) = &test
                && needle.is_empty()
            {
                continue;
            }
            terms.push(Term { negated, test });
        }
        let lowercase = terms
            .iter()
            .any(|t| t.test.needle().is_some_and(Needle::needs_lowercase));
        Ok(Query { terms, lowercase })
    }

    /// True for a query with no terms, which matches everything.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, message: &StoredMessage) -> bool {
        self.matches_with(message, &message.summary.grams, None)
    }

    /// [`Query::matches`] with the message's prefilter and short fields read from elsewhere (a
    /// snapshot keeps them side by side, so most messages are decided without touching them).
    fn matches_with(&self, message: &StoredMessage, grams: &Grams, head: Option<&[u8]>) -> bool {
        let mut text = Text::new(message, grams, self.lowercase);
        text.head = head;
        self.terms
            .iter()
            .all(|term| term.test.holds(&mut text) != term.negated)
    }

    /// The messages of `all` that match, in order, stopping early (with `None`) once `cancel`
    /// says so. Large scans are spread over the cores.
    pub fn run(&self, all: &Snapshot, cancel: &Cancel) -> Option<Vec<Arc<StoredMessage>>> {
        let messages = all.messages();
        if self.is_empty() {
            return Some(messages.to_vec());
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8);
        if threads == 1 || messages.len() < 4096 {
            return self.run_on(all, 0..messages.len(), cancel);
        }
        let chunk = messages.len().div_ceil(threads);
        let results: Vec<Option<Vec<Arc<StoredMessage>>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..messages.len())
                .step_by(chunk)
                .map(|start| {
                    let range = start..(start + chunk).min(messages.len());
                    scope.spawn(move || self.run_on(all, range, cancel))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(None))
                .collect()
        });
        let mut found = Vec::new();
        for part in results {
            found.extend(part?);
        }
        Some(found)
    }

    fn run_on(
        &self,
        all: &Snapshot,
        range: std::ops::Range<usize>,
        cancel: &Cancel,
    ) -> Option<Vec<Arc<StoredMessage>>> {
        let (messages, grams) = (all.messages(), all.grams());
        // Only a word looked for in every field is decided by the short fields.
        let heads = self
            .terms
            .iter()
            .any(|t| matches!(&t.test, Test::Any(n) if !n.needs_lowercase()))
            .then(|| all.heads());
        let mut found = Vec::new();
        for i in range {
            if i % 256 == 0 && cancel.is_cancelled() {
                return None;
            }
            let (Some(m), Some(grams)) = (messages.get(i), grams.get(i)) else {
                break;
            };
            if self.matches_with(m, grams, heads.map(|h| h.get(i))) {
                found.push(Arc::clone(m));
            }
        }
        Some(found)
    }
}

/// Tells a running search to stop: set by its request when the client goes or the server shuts
/// down, or by its own deadline.
#[derive(Debug, Clone)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    deadline: Instant,
}

impl Cancel {
    pub fn new(timeout: Duration) -> Cancel {
        Cancel {
            flag: Arc::new(AtomicBool::new(false)),
            deadline: Instant::now()
                .checked_add(timeout)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600)),
        }
    }

    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }

    /// Whether the deadline (not a cancel) ended it.
    pub fn timed_out(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// One message's text as a search reads it, lower-cased on first need only.
struct Text<'m> {
    m: &'m StoredMessage,
    grams: &'m Grams,
    /// Its short fields as [`write_head`] wrote them, when a snapshot has them.
    head: Option<&'m [u8]>,
    lowercase: bool,
    lower: Option<Lower>,
}

/// The lower-cased copies a non-ASCII needle compares against.
struct Lower {
    subject: String,
    from: Vec<String>,
    to: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    reply_to: Vec<String>,
    envelope: Vec<String>,
    bodies: Vec<String>,
    names: Vec<String>,
}

fn lower_addresses<'a>(list: impl IntoIterator<Item = &'a Address>) -> Vec<String> {
    list.into_iter()
        .flat_map(|a| [a.name.to_lowercase(), a.address.to_lowercase()])
        .collect()
}

impl<'m> Text<'m> {
    fn new(m: &'m StoredMessage, grams: &'m Grams, lowercase: bool) -> Text<'m> {
        Text {
            m,
            grams,
            head: None,
            lowercase,
            lower: None,
        }
    }

    fn lower(&mut self) -> &Lower {
        let m = self.m;
        self.lower.get_or_insert_with(|| {
            let s = &m.summary;
            Lower {
                subject: s.subject.to_lowercase(),
                from: lower_addresses(s.from.iter()),
                to: lower_addresses(&s.to),
                cc: lower_addresses(&s.cc),
                bcc: lower_addresses(&s.bcc),
                reply_to: lower_addresses(&s.reply_to),
                envelope: std::iter::once(&m.envelope.mail_from)
                    .chain(&m.envelope.rcpt_to)
                    .map(|a| a.to_lowercase())
                    .collect(),
                bodies: m
                    .body_texts()
                    .map(|b| String::from_utf8_lossy(b).to_lowercase())
                    .collect(),
                names: s.file_names.iter().map(|n| n.to_lowercase()).collect(),
            }
        })
    }

    /// True when `needle` is in one of the fields `pick` names.
    fn find(&mut self, needle: &Needle, fields: Fields) -> bool {
        if needle.needs_lowercase() {
            if !self.lowercase {
                return false;
            }
            let lower = self.lower();
            let any = |list: &[String]| list.iter().any(|t| needle.found_in(t.as_bytes()));
            return (fields.subject && needle.found_in(lower.subject.as_bytes()))
                || (fields.from && any(&lower.from))
                || (fields.to && any(&lower.to))
                || (fields.cc && any(&lower.cc))
                || (fields.bcc && any(&lower.bcc))
                || (fields.reply_to && any(&lower.reply_to))
                || (fields.envelope_from
                    && lower
                        .envelope
                        .first()
                        .is_some_and(|f| needle.found_in(f.as_bytes())))
                || (fields.envelope_to
                    && lower
                        .envelope
                        .iter()
                        .skip(1)
                        .any(|t| needle.found_in(t.as_bytes())))
                || (fields.bodies && any(&lower.bodies))
                || (fields.names && any(&lower.names));
        }
        let m = self.m;
        let s = &m.summary;
        let addresses = |list: &[Address]| {
            list.iter().any(|a| {
                needle.found_in(a.address.as_bytes()) || needle.found_in(a.name.as_bytes())
            })
        };
        (fields.subject && needle.found_in(s.subject.as_bytes()))
            || (fields.from && addresses(s.from.as_slice()))
            || (fields.to && addresses(&s.to))
            || (fields.cc && addresses(&s.cc))
            || (fields.bcc && addresses(&s.bcc))
            || (fields.reply_to && addresses(&s.reply_to))
            || (fields.envelope_from && needle.found_in(m.envelope.mail_from.as_bytes()))
            || (fields.envelope_to
                && m.envelope
                    .rcpt_to
                    .iter()
                    .any(|r| needle.found_in(r.as_bytes())))
            || (fields.bodies && m.body_texts().any(|b| needle.found_in(b)))
            || (fields.names && s.file_names.iter().any(|n| needle.found_in(n.as_bytes())))
    }
}

/// Appends `m`'s short fields to `out` the way a search reads them: the subject, each address's
/// name and address, the envelope sender and recipients, each followed by a NUL (no needle holds
/// one, and it is no separator, so a phrase never runs from one field into the next).
pub fn write_head(m: &StoredMessage, out: &mut Vec<u8>) {
    let s = &m.summary;
    let mut field = |text: &str| {
        out.extend_from_slice(text.as_bytes());
        out.push(0);
    };
    field(&s.subject);
    for a in s
        .from
        .iter()
        .chain(&s.to)
        .chain(&s.cc)
        .chain(&s.bcc)
        .chain(&s.reply_to)
    {
        field(&a.name);
        field(&a.address);
    }
    field(&m.envelope.mail_from);
    for r in &m.envelope.rcpt_to {
        field(r);
    }
}

/// Which fields a text test looks at.
#[derive(Debug, Clone, Copy, Default)]
struct Fields {
    subject: bool,
    from: bool,
    to: bool,
    cc: bool,
    bcc: bool,
    reply_to: bool,
    envelope_from: bool,
    envelope_to: bool,
    bodies: bool,
    names: bool,
}

impl Fields {
    const ANY: Fields = Fields {
        subject: true,
        from: true,
        to: true,
        cc: true,
        bcc: true,
        reply_to: true,
        envelope_from: true,
        envelope_to: true,
        bodies: true,
        names: true,
    };
    const NONE: Fields = Fields {
        subject: false,
        from: false,
        to: false,
        cc: false,
        bcc: false,
        reply_to: false,
        envelope_from: false,
        envelope_to: false,
        bodies: false,
        names: false,
    };
}

impl Test {
    fn needle(&self) -> Option<&Needle> {
        match self {
            Test::Any(n)
            | Test::From(n)
            | Test::To(n)
            | Test::Cc(n)
            | Test::Bcc(n)
            | Test::ReplyTo(n)
            | Test::Addressed(n)
            | Test::Subject(n)
            | Test::MessageId(n) => Some(n),
            _ => None,
        }
    }

    fn holds(&self, text: &mut Text<'_>) -> bool {
        let m = text.m;
        let s = &m.summary;
        let fields = match self {
            Test::Any(_) => Fields::ANY,
            Test::From(_) => Fields {
                from: true,
                envelope_from: true,
                ..Fields::NONE
            },
            Test::To(_) => Fields {
                to: true,
                envelope_to: true,
                ..Fields::NONE
            },
            Test::Cc(_) => Fields {
                cc: true,
                ..Fields::NONE
            },
            Test::Bcc(_) => Fields {
                bcc: true,
                ..Fields::NONE
            },
            Test::ReplyTo(_) => Fields {
                reply_to: true,
                ..Fields::NONE
            },
            Test::Addressed(_) => Fields {
                from: true,
                to: true,
                cc: true,
                bcc: true,
                reply_to: true,
                ..Fields::NONE
            },
            Test::Subject(_) => Fields {
                subject: true,
                ..Fields::NONE
            },
            Test::MessageId(n) => {
                let id = &s.message_id;
                return if n.needs_lowercase() {
                    n.found_in(id.to_lowercase().as_bytes())
                } else {
                    n.found_in(id.as_bytes())
                };
            }
            Test::Tag(tag) => return m.tags().iter().any(|t| t.to_lowercase() == *tag),
            Test::Read(read) => return m.is_read() == *read,
            Test::Tagged => return m.is_tagged(),
            Test::HasAttachment => return s.attachments > 0,
            Test::HasInline => return s.inline > 0,
            Test::Larger(n) => return m.size() as u64 > *n,
            Test::Smaller(n) => return (m.size() as u64) < *n,
            Test::Before(t) => return m.created.unix_timestamp() <= *t,
            Test::After(t) => return m.created.unix_timestamp() >= *t,
        };
        let Some(needle) = self.needle() else {
            return false;
        };
        // The prefilter covers every field a text test reads: a pair it lacks rules it out.
        if !text.grams.may_contain(needle.segments()) {
            return false;
        }
        // Found in the short fields: no need to read the message (a miss reads it all).
        if matches!(self, Test::Any(_))
            && !needle.needs_lowercase()
            && text.head.is_some_and(|head| needle.found_in(head))
        {
            return true;
        }
        text.find(needle, fields)
    }
}

/// The test for `field:value`; `None` when `field` is not a search field (then the whole token is
/// an ordinary word, e.g. a URL).
fn field_test(field: &str, value: &str) -> Result<Option<Test>, QueryError> {
    let needle = || Needle::new(value);
    Ok(Some(match field {
        "from" => Test::From(needle()),
        "to" => Test::To(needle()),
        "cc" => Test::Cc(needle()),
        "bcc" => Test::Bcc(needle()),
        "reply-to" => Test::ReplyTo(needle()),
        "addressed" => Test::Addressed(needle()),
        "subject" => Test::Subject(needle()),
        "message-id" => Test::MessageId(Needle::new(
            value.trim_start_matches('<').trim_end_matches('>'),
        )),
        "tag" => Test::Tag(needle::fold(value)),
        "is" => match value.to_ascii_lowercase().as_str() {
            "read" | "seen" => Test::Read(true),
            "unread" | "unseen" => Test::Read(false),
            "tagged" => Test::Tagged,
            _ => {
                return Err(QueryError(format!(
                    "unknown is:{value} (use is:read, is:unread or is:tagged)"
                )));
            }
        },
        "has" => match value.to_ascii_lowercase().as_str() {
            "attachment" | "attachments" => Test::HasAttachment,
            "inline" | "inlines" => Test::HasInline,
            _ => {
                return Err(QueryError(format!(
                    "unknown has:{value} (use has:attachment or has:inline)"
                )));
            }
        },
        "larger" => match parse_size(value) {
            Some(n) => Test::Larger(n),
            // As Mailpit: what is not a size is searched as text.
            None => return Ok(None),
        },
        "smaller" => match parse_size(value) {
            Some(n) => Test::Smaller(n),
            None => return Ok(None),
        },
        "before" => Test::Before(parse_date(value)?),
        "after" => Test::After(parse_date(value)?),
        _ => return Ok(None),
    }))
}

/// `10`, `10k`, `1.5MB` (K and M are binary, fractions allowed), as Mailpit reads sizes.
fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim().to_ascii_lowercase();
    let digits = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    if number.is_empty() || number.starts_with('.') || number.matches('.').count() > 1 {
        return None;
    }
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" => 1.0,
        "k" | "kb" => 1024.0,
        "m" | "mb" => 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = (number * factor) as u64;
    (bytes > 0).then_some(bytes)
}

/// Accepts `YYYY-MM-DD` (midnight UTC) or a full RFC 3339 time.
fn parse_date(value: &str) -> Result<i64, QueryError> {
    let invalid = || {
        QueryError(format!(
            "invalid date {value:?}: use YYYY-MM-DD or RFC 3339"
        ))
    };
    if let Ok(t) = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339) {
        return Ok(t.unix_timestamp());
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(value, &format).map_err(|_| invalid())?;
    Ok(PrimitiveDateTime::new(date, Time::MIDNIGHT)
        .assume_utc()
        .unix_timestamp())
}

/// Splits on whitespace outside double quotes; the quotes themselves are dropped.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Envelope;

    fn message(raw: &str, from: &str, rcpts: &[&str]) -> StoredMessage {
        let envelope = Envelope {
            mail_from: from.into(),
            rcpt_to: rcpts.iter().map(|r| r.to_string()).collect(),
            ..Envelope::default()
        };
        let m = StoredMessage::new(envelope, raw.as_bytes().to_vec());
        // Tagged as the store tags arriving mail.
        m.replace_tags(crate::tags::AutoTags::default().tags_for(&m));
        m
    }

    fn hit(query: &str, m: &StoredMessage) -> bool {
        Query::parse(query).expect("valid query").matches(m)
    }

    #[test]
    fn a_snapshot_scan_finds_what_one_message_at_a_time_finds() {
        let messages: Vec<Arc<StoredMessage>> = [
            ("From: Alice Smith <alice@example.com>\r\nTo: Bob <bob@example.net>\r\nSubject: Weekly update\r\n\r\nsee the attached report\r\n", "bounce@example.com", &["bob@example.net"][..]),
            ("From: bob@example.net\r\nSubject: smith\r\nCc: Carol <carol@example.org>\r\n\r\nan update in the body only\r\n", "bob@example.net", &["carol@example.org"][..]),
            ("Subject: Caf\u{e9} news\r\n\r\nnothing here\r\n", "x@y", &["z@w"][..]),
        ]
        .iter()
        .map(|(raw, from, to)| Arc::new(message(raw, from, to)))
        .collect();
        let snapshot = Snapshot::of(messages.clone());
        let cancel = Cancel::new(Duration::from_secs(60));
        // Words and phrases in the short fields, the body, across two fields (never a match),
        // negated, non-ASCII, and fields.
        for query in [
            "update",
            "-update",
            "\"weekly update\"",
            "\"update alice\"",
            "\"smith bob\"",
            "smith",
            "-smith",
            "bounce",
            "carol",
            "report",
            "-report",
            "café",
            "-café",
            "to:bob",
            "-from:alice",
            "nothing",
        ] {
            let q = Query::parse(query).expect("valid");
            let one_by_one: Vec<_> = messages
                .iter()
                .filter(|m| q.matches(m))
                .map(|m| m.id)
                .collect();
            let scanned: Vec<_> = q
                .run(&snapshot, &cancel)
                .expect("not cancelled")
                .iter()
                .map(|m| m.id)
                .collect();
            assert_eq!(scanned, one_by_one, "{query}");
        }
        // And the short fields decide the common cases: a subject word, an address.
        let q = |text: &str| {
            Query::parse(text)
                .expect("valid")
                .run(&snapshot, &cancel)
                .map(|f| f.len())
        };
        assert_eq!(q("-update"), Some(1));
        assert_eq!(
            q("\"update alice\""),
            Some(0),
            "a phrase never joins two fields"
        );
    }

    #[test]
    fn words_phrases_and_negation_over_decoded_text() {
        let m = message(
            "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: =?UTF-8?Q?Invoice_n=C2=B0_42?=\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
             Your order has sh=\r\nipped. Gr=C3=BC=C3=9Fe!\r\n",
            "bounce@example.com",
            &["bob@example.net", "hidden@example.org"],
        );
        assert!(hit("invoice", &m), "decoded subject");
        assert!(
            hit("SHIPPED", &m),
            "soft line break decoded, case-insensitive"
        );
        assert!(hit("grüße", &m), "non-ASCII word in a QP body");
        assert!(hit("GRÜßE", &m), "non-ASCII case-insensitive");
        assert!(hit("\"has shipped\"", &m), "phrase");
        assert!(!hit("\"shipped has\"", &m));
        assert!(hit("invoice shipped", &m), "words are ANDed");
        assert!(!hit("invoice missing", &m));
        assert!(hit("-missing", &m) && hit("!missing", &m));
        assert!(!hit("-invoice", &m));
        assert!(hit("", &m), "empty query matches all");
    }

    #[test]
    fn field_filters() {
        let m = message(
            "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.net>\r\nCc: carol@example.org\r\n\
             Subject: Weekly report\r\nMessage-ID: <id-1@example.com>\r\nX-Tags: Alpha, beta\r\n\r\nsee http://example.com/x\r\n",
            "envelope@sender.test",
            &["bob@example.net", "secret@example.org"],
        );
        assert!(
            hit("from:alice", &m)
                && hit("from:ALICE@example.com", &m)
                && hit("from:sender.test", &m)
        );
        assert!(!hit("from:bob", &m));
        assert!(
            hit("to:bob", &m) && hit("to:secret@", &m),
            "to: includes envelope recipients"
        );
        assert!(hit("cc:carol", &m) && !hit("cc:bob", &m));
        assert!(hit("bcc:secret", &m) && !hit("bcc:bob", &m));
        assert!(
            hit("subject:weekly", &m)
                && hit("subject:\"weekly report\"", &m)
                && !hit("subject:see", &m)
        );
        assert!(hit("message-id:id-1@example.com", &m) && hit("message-id:<id-1@example.com>", &m));
        assert!(hit("tag:alpha", &m) && hit("tag:beta", &m) && !hit("tag:alp", &m));
        assert!(hit("is:unread", &m) && !hit("is:read", &m));
        assert!(!hit("has:attachment", &m) && hit("-has:attachment", &m));
        assert!(
            hit("after:2000-01-01", &m)
                && hit("before:2999-01-01", &m)
                && !hit("before:2000-01-01", &m)
        );
        assert!(
            hit("http://example.com/x", &m),
            "an unknown field is an ordinary word"
        );
        assert!(!hit("https://example.com/x", &m));
        assert!(!hit("nomatch:thing", &m));
    }

    #[test]
    fn invalid_queries_are_errors_not_panics() {
        assert!(Query::parse("before:yesterday").is_err());
        assert!(Query::parse("is:maybe").is_err());
        assert!(Query::parse("has:wings").is_err());
        for junk in [
            "\"",
            "-",
            "!",
            ":",
            "from:",
            "\"unterminated phrase",
            "a:b:c",
        ] {
            assert!(Query::parse(junk).is_ok(), "{junk:?}");
        }
    }

    #[test]
    fn mailpit_filters_and_folding() {
        let m = message(
            "From: Alice <alice@example.com>\r\nTo: Bob <bob@example.net>\r\nReply-To: help@desk.example\r\n\
             Subject: Invoice\r\nX-Tags: billing\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nthe email body 1 <jdsauk;dwqmdqw;>\r\n\
             --b\r\nContent-Type: image/png\r\nContent-ID: <i@x>\r\nContent-Disposition: inline\r\n\r\nPNG\r\n\
             --b\r\nContent-Type: application/pdf; name=statement-2024.pdf\r\nContent-Disposition: attachment; filename=statement-2024.pdf\r\n\r\nPDF\r\n--b--\r\n",
            "bounce@example.com",
            &["bob@example.net"],
        );
        assert!(hit("reply-to:desk.example", &m) && !hit("reply-to:alice", &m));
        assert!(
            hit("addressed:help@desk", &m)
                && hit("addressed:bob", &m)
                && hit("addressed:alice", &m)
        );
        assert!(
            !hit("addressed:bounce", &m),
            "the envelope is not a header address"
        );
        assert!(
            hit("\"body 1 jdsauk dwqmdqw\"", &m),
            "punctuation folds to spaces"
        );
        assert!(hit("has:inline", &m) && hit("has:attachment", &m));
        assert!(hit("is:tagged", &m) && hit("tag:BILLING", &m));
        assert!(hit("statement-2024", &m), "attachment names are searched");
        let size = m.size() as u64;
        assert!(hit(&format!("larger:{}", size - 1), &m) && !hit(&format!("larger:{size}"), &m));
        assert!(hit(&format!("smaller:{}", size + 1), &m) && !hit(&format!("smaller:{size}"), &m));
        assert!(hit("smaller:1k", &m) && hit("smaller:1.5kb", &m) && !hit("larger:0.1m", &m));
        assert!(!hit("larger:5g", &m), "not a size: searched as text");
        let plain = message("Subject: x\r\n\r\nbody\r\n", "a@b", &["c@d"]);
        assert!(
            !hit("is:tagged", &plain) && hit("-is:tagged", &plain) && !hit("has:inline", &plain)
        );
    }

    #[test]
    fn bounds_are_errors() {
        let limits = SearchLimits {
            max_length: 20,
            max_terms: 3,
            timeout: Duration::from_secs(1),
        };
        assert!(Query::parse_within("a b c", &limits).is_ok());
        assert!(Query::parse_within("a b c d", &limits).is_err());
        assert!(Query::parse_within(&"x".repeat(21), &limits).is_err());
        let many: String = (0..20_000).map(|i| format!(" -ü{i}")).collect();
        assert!(Query::parse_within(&many, &SearchLimits::default()).is_err());
    }

    #[test]
    fn a_cancelled_scan_stops() {
        let all: Vec<Arc<StoredMessage>> = (0..10_000)
            .map(|i| {
                Arc::new(message(
                    &format!("Subject: m{i}\r\n\r\nbody\r\n"),
                    "a@b",
                    &["c@d"],
                ))
            })
            .collect();
        let all = Snapshot::of(all);
        let query = Query::parse("body").expect("valid");
        let cancel = Cancel::new(Duration::from_secs(60));
        assert_eq!(query.run(&all, &cancel).map(|f| f.len()), Some(10_000));
        cancel.cancel();
        assert!(query.run(&all, &cancel).is_none());
        let expired = Cancel::new(Duration::ZERO);
        assert!(query.run(&all, &expired).is_none());
        assert!(expired.timed_out());
    }
}

//! The search language of the native API (Mailpit's syntax) and case-insensitive matching over the
//! decoded text kept in each message's summary. Queries are parsed once, then run over a snapshot.

use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use crate::message::{Address, StoredMessage};

/// Bounds on one search request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchLimits {
    /// Longest query text, in bytes.
    pub max_length: usize,
    /// Most terms.
    pub max_terms: usize,
    /// Longest a search may run.
    pub timeout: std::time::Duration,
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
}

#[derive(Debug)]
struct Term {
    negated: bool,
    test: Test,
}

#[derive(Debug)]
enum Test {
    /// Anywhere: subject, addresses, body text, envelope.
    Any(Needle),
    From(Needle),
    To(Needle),
    Cc(Needle),
    Bcc(Needle),
    Subject(Needle),
    MessageId(Needle),
    Tag(Needle),
    Read(bool),
    HasAttachment,
    /// Arrived before / after this Unix time.
    Before(i64),
    After(i64),
}

/// A search string prepared for case-insensitive matching.
#[derive(Debug)]
pub struct Needle {
    lower: String,
    /// For ASCII needles: where to look first (see [`AsciiNeedle`]).
    ascii: Option<AsciiNeedle>,
}

/// An ASCII needle searched by its rarest byte: `memchr2` finds that byte in either case at
/// memory speed, and only those spots are compared in full. Text search is dominated by scanning
/// bodies that do not match, so skipping fast matters more than anything else here.
#[derive(Debug)]
struct AsciiNeedle {
    anchor: usize,
    lower: u8,
    upper: u8,
}

/// English letters from most to least frequent; bytes not listed count as rare.
const LETTER_FREQUENCY: &[u8] = b"etaoinshrdlcumwfgypbvkjxqz";

fn rarity(b: u8) -> usize {
    match b {
        b' ' => 0,
        b'a'..=b'z' => 1 + LETTER_FREQUENCY.iter().position(|&l| l == b).unwrap_or(0),
        _ => 100,
    }
}

impl Needle {
    pub fn new(text: &str) -> Needle {
        let lower = text.to_lowercase();
        let ascii = (lower.is_ascii() && !lower.is_empty()).then(|| {
            let bytes = lower.as_bytes();
            let anchor = (0..bytes.len())
                .max_by_key(|&i| rarity(bytes[i]))
                .unwrap_or(0);
            AsciiNeedle {
                anchor,
                lower: bytes[anchor],
                upper: bytes[anchor].to_ascii_uppercase(),
            }
        });
        Needle { lower, ascii }
    }

    /// True when `haystack` contains the needle, ignoring case.
    pub fn found_in(&self, haystack: &str) -> bool {
        let needle = self.lower.as_bytes();
        let Some(ascii) = &self.ascii else {
            return needle.is_empty() || haystack.to_lowercase().contains(&self.lower);
        };
        let hay = haystack.as_bytes();
        if hay.len() < needle.len() {
            return false;
        }
        // The anchor byte can only sit where the whole needle still fits around it.
        let end = hay.len() - (needle.len() - 1 - ascii.anchor);
        let mut pos = ascii.anchor;
        while pos < end {
            let Some(i) = memchr::memchr2(ascii.lower, ascii.upper, &hay[pos..end]) else {
                return false;
            };
            let start = pos + i - ascii.anchor;
            if hay[start..start + needle.len()].eq_ignore_ascii_case(needle) {
                return true;
            }
            pos += i + 1;
        }
        false
    }

    fn in_addresses<'a>(&self, addresses: impl IntoIterator<Item = &'a Address>) -> bool {
        addresses
            .into_iter()
            .any(|a| self.found_in(&a.address) || self.found_in(&a.name))
    }
}

/// A query that names something we cannot parse (for example an impossible date).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid search: {0}")]
pub struct QueryError(pub String);

impl Query {
    /// Parses the search syntax: words and `"quoted phrases"` ANDed; `-` or `!` negates; fields
    /// `from: to: cc: bcc: subject: message-id: tag: is:read is:unread has:attachment before: after:`.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let mut terms = Vec::new();
        for token in tokenize(text) {
            let (negated, body) = match token.strip_prefix(['-', '!']) {
                Some(rest) if !rest.is_empty() => (true, rest.to_string()),
                _ => (false, token),
            };
            let test = match body.split_once(':') {
                Some((field, value)) => field_test(&field.to_ascii_lowercase(), &unquote(value))?
                    .unwrap_or_else(|| Test::Any(Needle::new(&unquote(&body)))),
                None => Test::Any(Needle::new(&unquote(&body))),
            };
            terms.push(Term { negated, test });
        }
        Ok(Query { terms })
    }

    /// True for a query with no terms, which matches everything.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, message: &StoredMessage) -> bool {
        self.terms
            .iter()
            .all(|term| term.test.holds(message) != term.negated)
    }
}

impl Test {
    fn holds(&self, m: &StoredMessage) -> bool {
        let s = &m.summary;
        let env = &m.envelope;
        match self {
            Test::Any(n) => {
                n.found_in(&s.subject)
                    || n.in_addresses(
                        s.from
                            .iter()
                            .chain(&s.to)
                            .chain(&s.cc)
                            .chain(&s.bcc)
                            .chain(&s.reply_to),
                    )
                    || n.found_in(&env.mail_from)
                    || env.rcpt_to.iter().any(|r| n.found_in(r))
                    || m.body_texts().any(|text| n.found_in(text))
            }
            Test::From(n) => n.in_addresses(s.from.iter()) || n.found_in(&env.mail_from),
            Test::To(n) => n.in_addresses(&s.to) || env.rcpt_to.iter().any(|r| n.found_in(r)),
            Test::Cc(n) => n.in_addresses(&s.cc),
            Test::Bcc(n) => n.in_addresses(&s.bcc),
            Test::Subject(n) => n.found_in(&s.subject),
            Test::MessageId(n) => n.found_in(&s.message_id),
            Test::Tag(n) => s.tags.iter().any(|t| t.to_lowercase() == n.lower),
            Test::Read(read) => m.is_read() == *read,
            Test::HasAttachment => s.attachments > 0,
            Test::Before(t) => m.created.unix_timestamp() < *t,
            Test::After(t) => m.created.unix_timestamp() > *t,
        }
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
        "subject" => Test::Subject(needle()),
        "message-id" => Test::MessageId(Needle::new(
            value.trim_start_matches('<').trim_end_matches('>'),
        )),
        "tag" => Test::Tag(needle()),
        "is" => match value.to_ascii_lowercase().as_str() {
            "read" | "seen" => Test::Read(true),
            "unread" | "unseen" => Test::Read(false),
            _ => {
                return Err(QueryError(format!(
                    "unknown is:{value} (use is:read or is:unread)"
                )));
            }
        },
        "has" => match value.to_ascii_lowercase().as_str() {
            "attachment" | "attachments" => Test::HasAttachment,
            _ => {
                return Err(QueryError(format!(
                    "unknown has:{value} (use has:attachment)"
                )));
            }
        },
        "before" => Test::Before(parse_date(value)?),
        "after" => Test::After(parse_date(value)?),
        _ => return Ok(None),
    }))
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

/// Splits on whitespace outside double quotes; quotes stay in the token for `unquote`.
fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
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

fn unquote(s: &str) -> String {
    s.replace('"', "")
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
        StoredMessage::new(envelope, raw.as_bytes().to_vec())
    }

    fn hit(query: &str, m: &StoredMessage) -> bool {
        Query::parse(query).expect("valid query").matches(m)
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
    fn needle_matching_at_every_position() {
        let hay = "The Quick brown FOX jumps; 42 x";
        for (start, end) in (0..hay.len()).flat_map(|s| (s + 1..=hay.len()).map(move |e| (s, e))) {
            let piece = &hay[start..end];
            assert!(
                Needle::new(&piece.to_uppercase()).found_in(hay),
                "{piece:?}"
            );
            assert!(
                Needle::new(&piece.to_lowercase()).found_in(hay),
                "{piece:?}"
            );
        }
        assert!(!Needle::new("quick fox").found_in(hay));
        assert!(!Needle::new("x2").found_in(hay));
        assert!(!Needle::new("longer than the haystack itself, surely").found_in(hay));
    }

    #[test]
    fn needle_matching() {
        assert!(Needle::new("HeLLo").found_in("say hello world"));
        assert!(Needle::new("é").found_in("CAFÉ"));
        assert!(!Needle::new("xyz").found_in("abc"));
        assert!(Needle::new("").found_in("anything"));
    }
}

//! SEARCH (RFC 3501 6.4.4): criteria evaluated over a snapshot of the selected folder, as a job
//! the I/O loop runs off the async workers when the messages are large. Text criteria match as
//! the rest of the project does: case-insensitive substrings, in the header value as sent and
//! as decoded (RFC 2047), and in the body as sent and as decoded text.

use std::num::NonZeroU32;
use std::sync::Arc;

use imap_codec::imap_types::datetime::NaiveDate;
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::SequenceSet;
use mail_parser::MessageParser;

use crate::message::StoredMessage;
use crate::mime::headers::{decode_value, split_headers};
use crate::mime::structure::Limits;

/// One message as the search sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub seq: u32,
    pub uid: u32,
    pub message: Arc<StoredMessage>,
    pub seen: bool,
    /// Flags other than \Seen, as written (`\Deleted`, `$Label`).
    pub flags: Vec<String>,
}

/// A SEARCH to run.
#[derive(Debug, Clone)]
pub struct SearchJob {
    pub criteria: Vec<SearchKey<'static>>,
    pub candidates: Vec<Candidate>,
    /// Answer with UIDs (UID SEARCH).
    pub uid: bool,
    /// What `*` means: the folder's last sequence number and last UID.
    pub last_seq: u32,
    pub last_uid: u32,
}

impl SearchJob {
    pub fn weight(&self) -> usize {
        self.candidates.iter().map(|c| c.message.size()).sum()
    }

    /// `* SEARCH n…` CRLF.
    pub fn render(&self) -> Vec<u8> {
        let mut out = b"* SEARCH".to_vec();
        for c in &self.candidates {
            let mut lazy = Lazy::default();
            if self.criteria.iter().all(|k| self.matches(k, c, &mut lazy)) {
                let n = if self.uid { c.uid } else { c.seq };
                out.extend_from_slice(format!(" {n}").as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn matches(&self, key: &SearchKey<'_>, c: &Candidate, lazy: &mut Lazy) -> bool {
        let has = |flag: &str| c.flags.iter().any(|f| f.eq_ignore_ascii_case(flag));
        let text = |s: &[u8]| String::from_utf8_lossy(s).to_lowercase();
        match key {
            SearchKey::And(keys) => keys.as_ref().iter().all(|k| self.matches(k, c, lazy)),
            SearchKey::Or(a, b) => self.matches(a, c, lazy) || self.matches(b, c, lazy),
            SearchKey::Not(k) => !self.matches(k, c, lazy),
            SearchKey::SequenceSet(set) => in_set(set, c.seq, self.last_seq),
            SearchKey::Uid(set) => in_set(set, c.uid, self.last_uid),
            SearchKey::All => true,
            SearchKey::Answered => has("\\Answered"),
            SearchKey::Unanswered => !has("\\Answered"),
            SearchKey::Deleted => has("\\Deleted"),
            SearchKey::Undeleted => !has("\\Deleted"),
            SearchKey::Draft => has("\\Draft"),
            SearchKey::Undraft => !has("\\Draft"),
            SearchKey::Flagged => has("\\Flagged"),
            SearchKey::Unflagged => !has("\\Flagged"),
            SearchKey::Keyword(k) => has(k.as_ref()),
            SearchKey::Unkeyword(k) => !has(k.as_ref()),
            SearchKey::Seen => c.seen,
            SearchKey::Unseen => !c.seen,
            // No message is \Recent here (see the session's notes), so NEW is empty and OLD all.
            SearchKey::New | SearchKey::Recent => false,
            SearchKey::Old => true,
            SearchKey::Larger(n) => c.message.size() > *n as usize,
            SearchKey::Smaller(n) => c.message.size() < (*n as usize),
            SearchKey::Before(d) => internal(c) < ymd(d),
            SearchKey::On(d) => internal(c) == ymd(d),
            SearchKey::Since(d) => internal(c) >= ymd(d),
            SearchKey::SentBefore(d) => sent(c).is_some_and(|s| s < ymd(d)),
            SearchKey::SentOn(d) => sent(c).is_some_and(|s| s == ymd(d)),
            SearchKey::SentSince(d) => sent(c).is_some_and(|s| s >= ymd(d)),
            SearchKey::From(s) => lazy.header(c, "From", &text(s.as_ref())),
            SearchKey::To(s) => lazy.header(c, "To", &text(s.as_ref())),
            SearchKey::Cc(s) => lazy.header(c, "Cc", &text(s.as_ref())),
            SearchKey::Bcc(s) => lazy.header(c, "Bcc", &text(s.as_ref())),
            SearchKey::Subject(s) => lazy.header(c, "Subject", &text(s.as_ref())),
            SearchKey::Header(name, s) => {
                let name = String::from_utf8_lossy(name.as_ref()).into_owned();
                lazy.header(c, &name, &text(s.as_ref()))
            }
            SearchKey::Body(s) => lazy.body(c, &text(s.as_ref())),
            SearchKey::Text(s) => {
                let needle = text(s.as_ref());
                lazy.headers_text(c).contains(&needle) || lazy.body(c, &needle)
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

pub fn in_set(set: &SequenceSet, n: u32, last: u32) -> bool {
    let Some(n) = NonZeroU32::new(n) else {
        return false;
    };
    let largest = NonZeroU32::new(last.max(1)).unwrap_or(NonZeroU32::MIN);
    set.0.as_ref().iter().any(|seq| {
        use imap_codec::imap_types::sequence::Sequence;
        match seq {
            Sequence::Single(v) => v.expand(largest) == n,
            Sequence::Range(a, b) => {
                let (a, b) = (a.expand(largest), b.expand(largest));
                (a.min(b)..=a.max(b)).contains(&n)
            }
        }
    })
}

fn ymd(d: &NaiveDate) -> (i32, u32, u32) {
    use chrono::Datelike;
    let d = d.as_ref();
    (d.year(), d.month(), d.day())
}

fn internal(c: &Candidate) -> (i32, u32, u32) {
    let t = c.message.created.to_offset(time::UtcOffset::UTC);
    (t.year(), u32::from(u8::from(t.month())), u32::from(t.day()))
}

fn sent(c: &Candidate) -> Option<(i32, u32, u32)> {
    let parsed = MessageParser::default().parse_headers(&c.message.raw[..])?;
    let d = parsed.date()?;
    Some((i32::from(d.year), u32::from(d.month), u32::from(d.day)))
}

/// What a candidate's criteria need, worked out once per message.
#[derive(Default)]
struct Lazy {
    headers: Option<Vec<(String, String)>>,
    body: Option<String>,
}

impl Lazy {
    /// Header names lower-cased with their values as sent and as decoded, lower-cased.
    fn headers(&mut self, c: &Candidate) -> &[(String, String)] {
        self.headers.get_or_insert_with(|| {
            let (headers, _) = split_headers(&c.message.raw);
            headers
                .iter()
                .map(|h| {
                    let raw = h.value.to_lowercase();
                    let decoded = decode_value(&h.value).to_lowercase();
                    (h.name.to_ascii_lowercase(), format!("{raw}\n{decoded}"))
                })
                .collect()
        })
    }

    fn header(&mut self, c: &Candidate, name: &str, needle: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.headers(c)
            .iter()
            .any(|(n, v)| *n == name && v.contains(needle))
    }

    fn headers_text(&mut self, c: &Candidate) -> String {
        self.headers(c)
            .iter()
            .map(|(n, v)| format!("{n}: {v}\n"))
            .collect()
    }

    fn body(&mut self, c: &Candidate, needle: &str) -> bool {
        self.body
            .get_or_insert_with(|| {
                let (_, body) = split_headers(&c.message.raw);
                let decoded = crate::mime::with_message(&c.message.raw, &Limits::default(), |m| {
                    m.map(crate::mime::text).unwrap_or_default()
                });
                format!("{}\n{}", String::from_utf8_lossy(body), decoded).to_lowercase()
            })
            .contains(needle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Envelope;
    use imap_codec::decode::Decoder;

    fn job(criteria: &str, uid: bool) -> SearchJob {
        let mails: [&[u8]; 3] = [
            b"From: Ann <ann@example.com>\r\nSubject: Hello\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nfirst body\r\n",
            b"From: bob@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nsecond\r\n",
            b"From: carl@example.net\r\nX-Trace: abc\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nthird s=C3=A9ance\r\n",
        ];
        let candidates = mails
            .iter()
            .enumerate()
            .map(|(i, raw)| Candidate {
                seq: i as u32 + 1,
                uid: (i as u32 + 1) * 10,
                message: Arc::new(StoredMessage::new(Envelope::default(), raw.to_vec())),
                seen: i == 0,
                flags: if i == 2 {
                    vec!["\\Deleted".into()]
                } else {
                    vec![]
                },
            })
            .collect();
        let line = format!("a SEARCH {criteria}\r\n");
        let (_, command) = imap_codec::CommandCodec::default()
            .decode(line.as_bytes())
            .unwrap_or_else(|e| panic!("{line:?}: {e:?}"));
        let imap_codec::imap_types::command::CommandBody::Search { criteria, .. } = command.body
        else {
            panic!("not a search");
        };
        SearchJob {
            criteria: criteria
                .into_inner()
                .into_iter()
                .map(imap_codec::imap_types::IntoStatic::into_static)
                .collect(),
            candidates,
            uid,
            last_seq: 3,
            last_uid: 30,
        }
    }

    fn run(criteria: &str) -> String {
        String::from_utf8(job(criteria, false).render()).unwrap()
    }

    #[test]
    fn criteria_match_as_expected() {
        assert_eq!(run("ALL"), "* SEARCH 1 2 3\r\n");
        assert_eq!(run("FROM ann"), "* SEARCH 1\r\n");
        assert_eq!(run("SUBJECT {5}\r\ncafé"), "* SEARCH 2\r\n");
        assert_eq!(run("SUBJECT HELLO"), "* SEARCH 1\r\n");
        assert_eq!(run("BODY {7}\r\nséance"), "* SEARCH 3\r\n");
        assert_eq!(run("TEXT x-trace"), "* SEARCH 3\r\n");
        assert_eq!(run("HEADER X-Trace abc"), "* SEARCH 3\r\n");
        assert_eq!(run("SEEN"), "* SEARCH 1\r\n");
        assert_eq!(run("UNSEEN UNDELETED"), "* SEARCH 2\r\n");
        assert_eq!(run("OR DELETED SEEN"), "* SEARCH 1 3\r\n");
        assert_eq!(run("NOT (OR FROM ann FROM bob)"), "* SEARCH 3\r\n");
        assert_eq!(run("2:*"), "* SEARCH 2 3\r\n");
        assert_eq!(run("UID 15:25"), "* SEARCH 2\r\n");
        assert_eq!(
            run("SENTBEFORE 2-Jan-2024 SENTSINCE 1-Jan-2024"),
            "* SEARCH 1\r\n"
        );
        assert_eq!(run("SENTON 1-Jan-2024"), "* SEARCH 1\r\n");
        assert_eq!(run("SINCE 1-Jan-2020"), "* SEARCH 1 2 3\r\n");
        assert_eq!(run("BEFORE 1-Jan-2020"), "* SEARCH\r\n");
        assert_eq!(run("LARGER 80"), "* SEARCH 1 3\r\n");
        assert_eq!(run("SMALLER 80"), "* SEARCH 2\r\n");
        assert_eq!(run("NEW"), "* SEARCH\r\n");
        assert_eq!(
            String::from_utf8(job("UID 1:*", true).render()).unwrap(),
            "* SEARCH 10 20 30\r\n"
        );
    }
}

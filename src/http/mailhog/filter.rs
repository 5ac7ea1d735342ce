//! MailHog's `/api/v2/search` kinds, matched case-insensitively over the raw headers and body as
//! MailHog did, plus the decoded text MailHog missed (RFC 2047 subjects and names, encoded bodies)
//! and Cc for `to`.

use std::str::FromStr;

use super::model::data;
use crate::message::{Address, StoredMessage};
use crate::mime::headers::{Header, split_headers};
use crate::search::Needle;

/// What a search looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The envelope sender or a From header.
    From,
    /// An envelope recipient or a To or Cc header.
    To,
    /// Any header value, the body, or decoded subject and body text.
    Containing,
}

impl FromStr for Kind {
    type Err = ();

    fn from_str(s: &str) -> Result<Kind, ()> {
        match s {
            "from" => Ok(Kind::From),
            "to" => Ok(Kind::To),
            "containing" => Ok(Kind::Containing),
            _ => Err(()),
        }
    }
}

fn in_headers(needle: &Needle, headers: &[Header<'_>], names: &[&str]) -> bool {
    headers
        .iter()
        .filter(|h| names.iter().any(|n| h.name.eq_ignore_ascii_case(n)))
        .any(|h| needle.found_in(h.value.as_bytes()))
}

fn in_addresses<'a>(needle: &Needle, addresses: impl IntoIterator<Item = &'a Address>) -> bool {
    addresses
        .into_iter()
        .any(|a| needle.found_in(a.address.as_bytes()) || needle.found_in(a.name.as_bytes()))
}

/// True when `m` matches `needle` for `kind`.
pub fn matches(kind: Kind, needle: &Needle, m: &StoredMessage) -> bool {
    let env = &m.envelope;
    let summary = &m.summary;
    // Only the header block is parsed here: a search never splits MIME parts.
    let (headers, body) = split_headers(data(m));
    match kind {
        Kind::From => {
            needle.found_in(env.mail_from.as_bytes())
                || in_headers(needle, &headers, &["From"])
                || in_addresses(needle, &summary.from)
        }
        Kind::To => {
            env.rcpt_to.iter().any(|r| needle.found_in(r.as_bytes()))
                || in_headers(needle, &headers, &["To", "Cc"])
                || in_addresses(needle, summary.to.iter().chain(&summary.cc))
        }
        Kind::Containing => {
            headers.iter().any(|h| needle.found_in(h.value.as_bytes()))
                || needle.found_in(body)
                || needle.found_in(summary.subject.as_bytes())
                || m.body_texts().any(|text| needle.found_in(text))
        }
    }
}

//! Tags: what a tag may be (Mailpit's rules), and the tags a message gets on arrival (its
//! `X-Tags` header, plus-addresses, the SMTP user, and `--tag` filters in the search language).

use crate::message::StoredMessage;
use crate::search::{Query, SearchLimits};

/// Longest tag, in bytes, as in Mailpit.
pub const MAX_TAG_LEN: usize = 100;

/// Mailpit's cleaning: characters other than ASCII letters, digits, space, `-`, `_`, `.` and `@`
/// become spaces, runs of white space one space, ends trimmed, and at most [`MAX_TAG_LEN`] bytes.
/// An empty result is no tag.
pub fn clean(tag: &str) -> String {
    let mut out = String::with_capacity(tag.len());
    let mut space = false;
    for c in tag.chars() {
        let keep = c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@');
        if keep {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        } else {
            space = true;
        }
    }
    // Only ASCII is kept, so any byte is a character boundary.
    out.truncate(MAX_TAG_LEN);
    out.truncate(out.trim_end().len());
    out
}

/// The tag set `tags` describe: cleaned, empty ones dropped, the first spelling of each kept when
/// they differ only in case, sorted byte-wise (as Go's `sort.Strings`).
pub fn normalize<S: AsRef<str>>(tags: impl IntoIterator<Item = S>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = clean(tag.as_ref());
        if !tag.is_empty() && !out.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
            out.push(tag);
        }
    }
    out.sort();
    out
}

/// One `--tag` filter: messages the query matches get the tags.
#[derive(Debug)]
pub struct TagFilter {
    pub tags: Vec<String>,
    pub query: Query,
    /// The query as given, for messages and errors.
    pub text: String,
}

/// How new messages are tagged.
#[derive(Debug)]
pub struct AutoTags {
    pub filters: Vec<TagFilter>,
    /// Tags from the `X-Tags` header.
    pub x_tags: bool,
    /// Tags from `user+tag@` addresses in From, To, Cc and Bcc.
    pub plus_addresses: bool,
    /// The SMTP AUTH (or send API Basic-auth) user name as a tag.
    pub username: bool,
}

impl Default for AutoTags {
    fn default() -> AutoTags {
        AutoTags {
            filters: Vec::new(),
            x_tags: true,
            plus_addresses: true,
            username: false,
        }
    }
}

impl AutoTags {
    /// `--tags-disable`: a comma-separated list of `x-tags` and `plus-addresses`.
    pub fn disable(&mut self, list: &str) -> Result<(), String> {
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item.to_ascii_lowercase().as_str() {
                "x-tags" | "xtags" => self.x_tags = false,
                "plus-addresses" | "plus-addressing" => self.plus_addresses = false,
                other => {
                    return Err(format!(
                        "unknown --tags-disable item {other:?} (use x-tags, plus-addresses)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Adds the filters of one `--tag` value: items separated by spaces (double quotes keep
    /// spaces inside one), each `TAG[,TAG…]=QUERY`, as Mailpit reads its `--tag`.
    pub fn add_filters(&mut self, value: &str, limits: &SearchLimits) -> Result<(), String> {
        for item in split_args(value) {
            let Some((tags, query)) = item.split_once('=') else {
                return Err(format!("--tag {item:?}: expected TAGS=QUERY"));
            };
            let tags = normalize(tags.split(','));
            if tags.is_empty() {
                return Err(format!("--tag {item:?}: no valid tag before '='"));
            }
            let text = query.trim().to_string();
            if text.is_empty() {
                return Err(format!("--tag {item:?}: the query after '=' is empty"));
            }
            let query = Query::parse_within(&text, limits)
                .map_err(|e| format!("--tag {item:?}: {}", e.0))?;
            self.filters.push(TagFilter { tags, query, text });
        }
        Ok(())
    }

    /// The tags `message` gets on arrival, normalized. Runs the filters' searches: call it off
    /// the async workers.
    pub fn tags_for(&self, message: &StoredMessage) -> Vec<String> {
        let mut tags: Vec<String> = Vec::new();
        let s = &message.summary;
        if self.x_tags {
            tags.extend(s.x_tags.iter().cloned());
        }
        if self.plus_addresses {
            let addresses =
                s.to.iter()
                    .chain(&s.cc)
                    .chain(&s.bcc)
                    .chain(s.from.as_ref());
            for a in addresses {
                tags.extend(plus_tags(&a.address).map(str::to_string));
            }
        }
        if self.username
            && let Some(user) = message.envelope.auth_user.as_deref()
        {
            tags.push(user.to_string());
        }
        for filter in &self.filters {
            if filter.query.matches(message) {
                tags.extend(filter.tags.iter().cloned());
            }
        }
        normalize(tags)
    }
}

/// The tags of a plus-address: `user+a+b@host` gives `a` and `b`.
fn plus_tags(address: &str) -> impl Iterator<Item = &str> {
    let local = address.rsplit_once('@').map_or("", |(local, _)| local);
    let tags = local.split_once('+').map_or("", |(_, tags)| tags);
    tags.split('+').filter(|t| !t.is_empty())
}

/// Splits at white space outside double quotes; the quotes are dropped.
fn split_args(value: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    items.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        items.push(current);
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Envelope;

    #[test]
    fn cleaning_follows_mailpit() {
        assert_eq!(clean("  Hello   World  "), "Hello World");
        assert_eq!(clean("a/b:c"), "a b c");
        assert_eq!(clean("ünï"), "n");
        assert_eq!(clean("ü é"), "");
        assert_eq!(clean("x@y.z-_"), "x@y.z-_");
        assert_eq!(clean(&"a".repeat(150)).len(), MAX_TAG_LEN);
        assert_eq!(clean(&format!("{} b", "a".repeat(99))), "a".repeat(99));
    }

    #[test]
    fn normalizing_dedupes_by_case_and_sorts_bytewise() {
        assert_eq!(
            normalize(["beta", "Alpha", "alpha", " ", "BETA", "gamma"]),
            ["Alpha", "beta", "gamma"]
        );
        assert!(normalize(Vec::<String>::new()).is_empty());
    }

    #[test]
    fn plus_addresses_give_every_part() {
        assert_eq!(plus_tags("u+a+b@x").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(plus_tags("u@x").count(), 0);
        assert_eq!(plus_tags("u+@x").count(), 0);
        assert_eq!(plus_tags("nohost+a").count(), 0);
    }

    fn message(raw: &str, user: Option<&str>) -> StoredMessage {
        let envelope = Envelope {
            rcpt_to: vec!["to+env@example.com".into()],
            auth_user: user.map(str::to_string),
            ..Envelope::default()
        };
        StoredMessage::new(envelope, raw.as_bytes().to_vec())
    }

    #[test]
    fn arrival_tags_from_every_source_and_their_switches() {
        let raw = "From: shop+orders@example.com\r\nTo: Bob <bob+vip+de@example.net>\r\n\
                   X-Tags: Invoice, urgent ,invoice\r\nSubject: Payment due\r\n\r\nPay now\r\n";
        let mut auto = AutoTags {
            username: true,
            ..AutoTags::default()
        };
        auto.add_filters(
            "Billing,money=\"subject:payment\" nope=subject:absent",
            &SearchLimits::default(),
        )
        .unwrap();
        let m = message(raw, Some("ci"));
        assert_eq!(
            auto.tags_for(&m),
            // `to+env` is an envelope-only recipient: it is in Bcc, so it tags too.
            [
                "Billing", "Invoice", "ci", "de", "env", "money", "orders", "urgent", "vip"
            ]
        );
        auto.disable("x-tags, plus-addresses").unwrap();
        auto.username = false;
        assert_eq!(auto.tags_for(&m), ["Billing", "money"]);
        assert!(auto.disable("everything").is_err());
    }

    #[test]
    fn bad_filters_are_errors() {
        let limits = SearchLimits::default();
        let mut auto = AutoTags::default();
        assert!(auto.add_filters("noequals", &limits).is_err());
        assert!(auto.add_filters("=subject:x", &limits).is_err());
        assert!(auto.add_filters("tag=", &limits).is_err());
        assert!(auto.add_filters("tag=before:notadate", &limits).is_err());
        assert!(auto.filters.is_empty());
    }
}

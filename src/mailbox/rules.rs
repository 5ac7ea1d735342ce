//! Routing rules: which mailbox each accepted recipient of a message goes to. Pure: a rule list is
//! parsed from `NAME=RULE` lines and matched against a message's envelope and header block; the
//! first rule that matches a recipient wins, and a recipient no rule matches goes to the default
//! mailbox (the root view alone).
//!
//! | Rule | Matches | Mailbox |
//! |---|---|---|
//! | `auth` | the client authenticated | `NAME`, or the user name when `NAME` is `*` |
//! | `auth:USER` | the client authenticated as `USER` | `NAME` |
//! | `plus` | the recipient's local part has `+TAG` | `NAME`, or `TAG` when `NAME` is `*` |
//! | `to:GLOB`, `to:/REGEX/` | the recipient address (case-insensitive) | `NAME` |
//! | `header:FIELD` | the message has that header field | `NAME`, or its value when `NAME` is `*` |
//! | `net:CIDR` | the client's address is in that network | `NAME` |
//!
//! A mailbox named by the mail itself (`*`) that is not a valid name matches nothing.

use std::net::IpAddr;

use regex::Regex;

use super::name::MailboxName;

/// What a rule looks at: one recipient of one message.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub recipient: &'a str,
    pub auth_user: Option<&'a str>,
    pub client: Option<IpAddr>,
    /// The message's header block, as [`crate::mime::headers::split_headers`] gives it.
    pub headers: &'a [crate::mime::headers::Header<'a>],
}

/// A mailbox a rule routes to: fixed, or taken from the message (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Named(MailboxName),
    FromMail,
}

#[derive(Debug, Clone)]
enum Matcher {
    Auth(Option<String>),
    Plus,
    Glob(String),
    Regex(Regex),
    Header(String),
    Net { network: IpAddr, prefix: u8 },
}

/// One `NAME=RULE`.
#[derive(Debug, Clone)]
pub struct Rule {
    target: Target,
    matcher: Matcher,
}

/// Why a rule line was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    #[error("{0:?}: expected NAME=RULE (for example job42=auth:ci-job-42 or *=plus)")]
    Shape(String),
    #[error(
        "{0:?}: a mailbox name is 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'"
    )]
    Name(String),
    #[error(
        "{0:?}: unknown rule (auth, auth:USER, plus, to:GLOB, to:/REGEX/, header:FIELD, net:CIDR)"
    )]
    Unknown(String),
    #[error("{rule:?}: {why}")]
    Invalid { rule: String, why: String },
    #[error("{0:?}: this rule names no mailbox of its own; give a NAME instead of *")]
    NeedsName(String),
}

impl Rule {
    /// Parses `NAME=RULE`.
    pub fn parse(line: &str) -> Result<Rule, RuleError> {
        let line = line.trim();
        let (name, rule) = line
            .split_once('=')
            .ok_or_else(|| RuleError::Shape(line.to_string()))?;
        let (name, rule) = (name.trim(), rule.trim());
        let target = if name == "*" {
            Target::FromMail
        } else {
            Target::Named(MailboxName::new(name).ok_or_else(|| RuleError::Name(name.to_string()))?)
        };
        let invalid = |why: String| RuleError::Invalid {
            rule: rule.to_string(),
            why,
        };
        let (kind, arg) = match rule.split_once(':') {
            Some((k, a)) => (k.trim(), Some(a.trim())),
            None => (rule, None),
        };
        let matcher = match (kind.to_ascii_lowercase().as_str(), arg) {
            ("auth", None) => Matcher::Auth(None),
            ("auth", Some(user)) if !user.is_empty() => Matcher::Auth(Some(user.to_string())),
            ("plus", None) => Matcher::Plus,
            ("to", Some(p)) if p.len() > 1 && p.starts_with('/') && p.ends_with('/') => {
                let re = regex::RegexBuilder::new(&p[1..p.len() - 1])
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| invalid(e.to_string()))?;
                Matcher::Regex(re)
            }
            ("to", Some(p)) if !p.is_empty() => Matcher::Glob(p.to_ascii_lowercase()),
            ("header", Some(field)) if is_field_name(field) => Matcher::Header(field.to_string()),
            ("net", Some(cidr)) => {
                let (network, prefix) = parse_cidr(cidr).ok_or_else(|| {
                    invalid("expected an address and prefix such as 10.0.0.0/8".to_string())
                })?;
                Matcher::Net { network, prefix }
            }
            _ => return Err(RuleError::Unknown(rule.to_string())),
        };
        let names_itself = matches!(
            matcher,
            Matcher::Auth(None) | Matcher::Plus | Matcher::Header(_)
        );
        if target == Target::FromMail && !names_itself {
            return Err(RuleError::NeedsName(line.to_string()));
        }
        Ok(Rule { target, matcher })
    }

    /// The mailbox this rule puts `delivery` in, if it matches.
    pub fn route(&self, delivery: &Delivery<'_>) -> Option<MailboxName> {
        let named = |from_mail: Option<&str>| match &self.target {
            Target::Named(name) => Some(name.clone()),
            Target::FromMail => from_mail.and_then(MailboxName::new),
        };
        match &self.matcher {
            Matcher::Auth(None) => delivery.auth_user.and_then(|user| named(Some(user))),
            Matcher::Auth(Some(wanted)) => {
                (delivery.auth_user == Some(wanted.as_str())).then(|| named(None))?
            }
            Matcher::Plus => {
                let local = delivery
                    .recipient
                    .rsplit_once('@')
                    .map_or(delivery.recipient, |(l, _)| l);
                let (_, tag) = local.split_once('+')?;
                named(Some(tag))
            }
            Matcher::Glob(pattern) => glob(
                pattern.as_bytes(),
                delivery.recipient.to_ascii_lowercase().as_bytes(),
            )
            .then(|| named(None))?,
            Matcher::Regex(re) => re.is_match(delivery.recipient).then(|| named(None))?,
            Matcher::Header(field) => {
                let value = crate::mime::headers::header(delivery.headers, field)?;
                named(Some(value.trim()))
            }
            Matcher::Net { network, prefix } => {
                let client = delivery.client?;
                in_network(client, *network, *prefix).then(|| named(None))?
            }
        }
    }
}

/// The rules in order; the first that matches a recipient wins.
#[derive(Debug, Clone, Default)]
pub struct Rules(Vec<Rule>);

impl Rules {
    pub fn new(rules: Vec<Rule>) -> Rules {
        Rules(rules)
    }

    /// The default when none are configured: the SMTP AUTH user names the mailbox, so each CI
    /// job gets its own inbox by logging in as itself.
    pub fn by_auth_user() -> Rules {
        Rules(vec![Rule {
            target: Target::FromMail,
            matcher: Matcher::Auth(None),
        }])
    }

    /// Parses a rules file: one `NAME=RULE` per line; blank lines and `#` comments are skipped.
    pub fn parse_file(text: &str) -> Result<Vec<Rule>, (usize, RuleError)> {
        text.lines()
            .enumerate()
            .map(|(n, line)| (n + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
            .map(|(n, line)| Rule::parse(line).map_err(|e| (n, e)))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The mailbox of one recipient, or `None` for the default mailbox.
    pub fn route(&self, delivery: &Delivery<'_>) -> Option<MailboxName> {
        self.0.iter().find_map(|rule| rule.route(delivery))
    }

    /// Where a message goes: each distinct mailbox its recipients route to, in recipient order.
    /// Empty when every recipient is for the default mailbox.
    pub fn mailboxes_for(
        &self,
        envelope: &crate::message::Envelope,
        raw: &[u8],
    ) -> Vec<MailboxName> {
        if self.0.is_empty() {
            return Vec::new();
        }
        // Only the header rules read the header block.
        let needs_headers = self
            .0
            .iter()
            .any(|r| matches!(r.matcher, Matcher::Header(_)));
        let (headers, _) = if needs_headers {
            crate::mime::headers::split_headers(raw)
        } else {
            (Vec::new(), &raw[..0])
        };
        let mut out: Vec<MailboxName> = Vec::new();
        for recipient in &envelope.rcpt_to {
            let delivery = Delivery {
                recipient,
                auth_user: envelope.auth_user.as_deref(),
                client: envelope.client_addr.map(|a| a.ip()),
                headers: &headers,
            };
            if let Some(name) = self.route(&delivery)
                && !out.contains(&name)
            {
                out.push(name);
            }
        }
        out
    }
}

fn is_field_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

/// `*` any run, `?` one character; everything else literal.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // Let the last star take one more character.
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some((addr, prefix))
}

fn in_network(client: IpAddr, network: IpAddr, prefix: u8) -> bool {
    // An IPv4 client on an IPv6 socket arrives as ::ffff:a.b.c.d.
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    let bits = |a: IpAddr| -> (u128, u32) {
        match a {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        }
    };
    let ((c, cw), (n, nw)) = (bits(client), bits(network));
    if cw != nw {
        return false;
    }
    let shift = cw - u32::from(prefix);
    shift >= cw || (c >> shift) == (n >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Envelope;

    fn envelope(rcpt: &[&str], user: Option<&str>, client: &str) -> Envelope {
        Envelope {
            rcpt_to: rcpt.iter().map(|s| s.to_string()).collect(),
            auth_user: user.map(str::to_string),
            client_addr: Some(format!("{client}:40000").parse().unwrap()),
            ..Envelope::default()
        }
    }

    fn names(rules: &[&str], env: &Envelope, raw: &str) -> Vec<String> {
        let rules = Rules::new(rules.iter().map(|r| Rule::parse(r).unwrap()).collect());
        rules
            .mailboxes_for(env, raw.as_bytes())
            .iter()
            .map(|n| n.as_str().to_string())
            .collect()
    }

    const MAIL: &str = "Subject: hi\r\nX-Mailbox: Team-B\r\n\r\nbody\r\n";

    #[test]
    fn the_auth_user_names_the_mailbox() {
        let env = envelope(&["a@x.test", "b@y.test"], Some("ci-job-42"), "127.0.0.1");
        assert_eq!(names(&["*=auth"], &env, MAIL), ["ci-job-42"]);
        // A user name that is no safe path segment routes nowhere: the default mailbox.
        let env = envelope(&["a@x.test"], Some("../etc"), "127.0.0.1");
        assert!(names(&["*=auth"], &env, MAIL).is_empty());
        let env = envelope(&["a@x.test"], None, "127.0.0.1");
        assert!(names(&["*=auth"], &env, MAIL).is_empty());
    }

    #[test]
    fn a_named_auth_rule_maps_one_user() {
        let env = envelope(&["a@x.test"], Some("alice"), "127.0.0.1");
        assert_eq!(
            names(&["team-a=auth:alice", "*=auth"], &env, MAIL),
            ["team-a"]
        );
        let env = envelope(&["a@x.test"], Some("bob"), "127.0.0.1");
        assert_eq!(names(&["team-a=auth:alice", "*=auth"], &env, MAIL), ["bob"]);
    }

    #[test]
    fn each_recipient_is_routed_and_the_first_rule_wins() {
        let env = envelope(
            &[
                "app+job42@x.test",
                "ops@billing.test",
                "Someone@Else.test",
                "app+JOB42@x.test",
            ],
            None,
            "127.0.0.1",
        );
        let rules = [
            "billing=to:*@billing.test",
            "*=plus",
            "catch=to:/^someone@/",
        ];
        // Mailbox names are lower case, so the two plus addresses share one.
        assert_eq!(names(&rules, &env, MAIL), ["job42", "billing", "catch"]);
    }

    #[test]
    fn header_and_network_rules() {
        let env = envelope(&["a@x.test"], None, "10.1.2.3");
        assert_eq!(names(&["*=header:x-mailbox"], &env, MAIL), ["team-b"]);
        assert_eq!(names(&["lan=net:10.0.0.0/8"], &env, MAIL), ["lan"]);
        assert!(names(&["lan=net:192.168.0.0/16"], &env, MAIL).is_empty());
        let mapped = envelope(&["a@x.test"], None, "[::ffff:10.9.9.9]");
        assert_eq!(names(&["lan=net:10.0.0.0/8"], &mapped, MAIL), ["lan"]);
        assert!(names(&["*=header:X-Other"], &env, MAIL).is_empty());
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        for (line, want) in [
            ("job", "expected NAME=RULE"),
            ("../x=auth", "a mailbox name is"),
            ("x=smoke", "unknown rule"),
            ("x=to:/(/", "regex"),
            ("x=net:10.0.0.0/40", "expected an address"),
            ("*=to:*@x.test", "names no mailbox"),
        ] {
            let err = Rule::parse(line).unwrap_err().to_string();
            assert!(
                err.to_lowercase().contains(&want.to_lowercase()),
                "{line}: {err}"
            );
        }
        let err = Rules::parse_file("# ok\n\n*=auth\nbroken\n").unwrap_err();
        assert_eq!(err.0, 4);
    }

    #[test]
    fn globs() {
        assert!(glob(b"*@x.test", b"a@x.test"));
        assert!(glob(b"a?c*", b"abcdef"));
        assert!(!glob(b"*@x.test", b"a@x.test.evil"));
        assert!(glob(b"*a*b*", b"xxaxxbxx"));
        assert!(!glob(b"a*b", b"ac"));
    }
}

//! The spamc protocol (SpamAssassin's `spamd/PROTOCOL`), without I/O: the request a client sends
//! and the reply it reads. `REPORT` is the command that gives each rule with its score and
//! description (`SYMBOLS` gives bare names); its body is the human-readable report, whose rule
//! table [`parse_report`] reads.
//!
//! A request is `REPORT SPAMC/1.5`, `Content-length: N`, a blank line and the message; the client
//! then half-closes. The reply is `SPAMD/1.1 0 EX_OK`, headers (`Content-length`,
//! `Spam: True ; 7.2 / 5.0`), a blank line and the report.

/// The protocol version spoken (the one with `Content-length` required and `Spam:` headers).
pub const VERSION: &str = "SPAMC/1.5";

/// A `PING`: spamd answers `SPAMD/1.5 0 PONG` (a status line alone).
pub const PING: &[u8] = b"PING SPAMC/1.5\r\n\r\n";

/// The head of a `REPORT` request for a message of `len` bytes; the message follows as is.
pub fn report_request(len: usize) -> Vec<u8> {
    format!("REPORT {VERSION}\r\nContent-length: {len}\r\n\r\n").into_bytes()
}

/// spamd's verdict, from its `Spam:` header.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub is_spam: bool,
    pub score: f64,
    pub threshold: f64,
}

/// A complete reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The `EX_*` code (0 is `EX_OK`).
    pub code: u32,
    pub message: String,
    pub verdict: Option<Verdict>,
    pub body: String,
}

/// What the bytes read so far amount to.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// The reply is not complete yet: read more (or, at end of input, it was cut short).
    Incomplete,
    Complete(Reply),
}

/// A reply that cannot be a spamd reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("spamd sent an unexpected reply: {0:?}")]
    Malformed(String),
    #[error("spamd refused the message: {code} {message}")]
    Refused { code: u32, message: String },
}

fn malformed(what: &str) -> ReplyError {
    ReplyError::Malformed(what.chars().take(120).collect())
}

/// Reads a reply from the bytes received so far. A reply without `Content-length` is complete
/// only at end of input, which the caller knows: `at_end`.
pub fn parse_reply(bytes: &[u8], at_end: bool) -> Result<Parsed, ReplyError> {
    let Some(head_end) = find(bytes, b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| find(bytes, b"\n\n").map(|i| (i, i + 2)))
    else {
        // A status line alone (an error reply) may end the stream without headers.
        if at_end && !bytes.is_empty() {
            let text = String::from_utf8_lossy(bytes);
            let (code, message) = status_line(text.trim_end())?;
            return finish(code, message, None, String::new());
        }
        return Ok(Parsed::Incomplete);
    };
    let head = String::from_utf8_lossy(&bytes[..head_end.0]);
    let mut lines = head.lines();
    let (code, message) = status_line(lines.next().unwrap_or_default())?;
    let mut length = None;
    let mut verdict = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(malformed(line));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| malformed(line))?);
        } else if name.eq_ignore_ascii_case("spam") {
            verdict = Some(spam_header(value).ok_or_else(|| malformed(line))?);
        }
    }
    let body = &bytes[head_end.1..];
    let body = match length {
        Some(n) if body.len() >= n => &body[..n],
        Some(_) => return Ok(Parsed::Incomplete),
        None if at_end => body,
        None => return Ok(Parsed::Incomplete),
    };
    finish(
        code,
        message,
        verdict,
        String::from_utf8_lossy(body).into_owned(),
    )
}

fn finish(
    code: u32,
    message: String,
    verdict: Option<Verdict>,
    body: String,
) -> Result<Parsed, ReplyError> {
    if code != 0 {
        return Err(ReplyError::Refused { code, message });
    }
    Ok(Parsed::Complete(Reply {
        code,
        message,
        verdict,
        body,
    }))
}

/// `SPAMD/1.1 0 EX_OK` → (0, "EX_OK").
fn status_line(line: &str) -> Result<(u32, String), ReplyError> {
    let rest = line.strip_prefix("SPAMD/").ok_or_else(|| malformed(line))?;
    let mut parts = rest.splitn(3, ' ');
    let _version = parts.next();
    let code = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| malformed(line))?;
    Ok((code, parts.next().unwrap_or_default().trim().to_string()))
}

/// `True ; 7.2 / 5.0` (also `yes`/`no`, any case).
fn spam_header(value: &str) -> Option<Verdict> {
    let (flag, scores) = value.split_once(';')?;
    let (score, threshold) = scores.split_once('/')?;
    let is_spam = match flag.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => true,
        "false" | "no" => false,
        _ => return None,
    };
    Some(Verdict {
        is_spam,
        score: score.trim().parse().ok()?,
        threshold: threshold.trim().parse().ok()?,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One row of the report's rule table.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRule {
    pub points: f64,
    pub name: String,
    pub description: String,
}

/// The rule table of a `REPORT` body: the rows after `Content analysis details:` and the
/// ` pts rule name … description` header, as `points NAME description`. A description too long
/// for one line continues on lines indented to its column; they are joined with a space.
pub fn parse_report(body: &str) -> Vec<ReportRule> {
    let mut rules: Vec<ReportRule> = Vec::new();
    let mut in_table = false;
    for line in body.lines() {
        if !in_table {
            in_table = line.starts_with("Content analysis details");
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("pts ") || trimmed.starts_with("----") {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let mut words = trimmed.splitn(2, char::is_whitespace);
        let points = words.next().and_then(|p| p.parse::<f64>().ok());
        // Rows start in the 4-wide points column; continuations are indented past it.
        match (points, indent < 5) {
            (Some(points), true) => {
                let rest = words.next().unwrap_or_default().trim_start();
                let (name, description) =
                    rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                rules.push(ReportRule {
                    points,
                    name: name.to_string(),
                    description: description.trim().to_string(),
                });
            }
            _ => {
                if let Some(last) = rules.last_mut()
                    && indent >= 5
                {
                    if !last.description.is_empty() {
                        last.description.push(' ');
                    }
                    last.description.push_str(trimmed);
                }
            }
        }
    }
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report spamd 4.0.1 sent for GTUBE (with an overlong name and a wrapped description
    /// added).
    const GTUBE_REPORT: &str = r#"Spam detection software, running on the system "vm",
has identified this incoming email as possible spam.  The original
message has been attached to this so you can view it or label
similar future email.  If you have any questions, see
@@CONTACT_ADDRESS@@ for details.

Content preview:  XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X
   

Content analysis details:   (1000.0 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
-0.0 NO_RECEIVED            Informational: message has no Received headers
1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email
 0.0 MSGID_SHORT            Message-ID is unusually short
-0.0 NO_RELAYS              Informational: message was not relayed via SMTP
 2.5 A_VERY_LONG_RULE_NAME_THAT_OVERFLOWS Too long
-1.9 BAYES_00               BODY: Bayes spam probability is 0 to 1%
                            [score: 0.0000]
 0.0 TVD_SPACE_RATIO        No description available.

"#;

    fn gtube_reply() -> String {
        format!(
            "SPAMD/1.1 0 EX_OK\r\nContent-length: {}\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n{GTUBE_REPORT}",
            GTUBE_REPORT.len()
        )
    }

    #[test]
    fn requests_are_report_commands() {
        assert_eq!(
            report_request(194),
            b"REPORT SPAMC/1.5\r\nContent-length: 194\r\n\r\n"
        );
    }

    #[test]
    fn a_report_reply_gives_the_verdict_and_the_rules() {
        let Ok(Parsed::Complete(reply)) = parse_reply(gtube_reply().as_bytes(), false) else {
            panic!("complete reply expected");
        };
        assert_eq!(
            reply.verdict,
            Some(Verdict {
                is_spam: true,
                score: 1000.0,
                threshold: 5.0
            })
        );
        let rules = parse_report(&reply.body);
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "NO_RECEIVED",
                "GTUBE",
                "MSGID_SHORT",
                "NO_RELAYS",
                "A_VERY_LONG_RULE_NAME_THAT_OVERFLOWS",
                "BAYES_00",
                "TVD_SPACE_RATIO"
            ]
        );
        assert_eq!(rules[1].points, 1000.0);
        assert_eq!(
            rules[1].description,
            "BODY: Generic Test for Unsolicited Bulk Email"
        );
        assert_eq!(rules[4].description, "Too long");
        assert_eq!(
            rules[5].description,
            "BODY: Bayes spam probability is 0 to 1% [score: 0.0000]"
        );
        assert_eq!(rules[5].points, -1.9);
    }

    #[test]
    fn partial_replies_ask_for_more() {
        let reply = gtube_reply();
        let bytes = reply.as_bytes();
        for cut in [0, 5, 30, 60, bytes.len() - 10] {
            assert_eq!(
                parse_reply(&bytes[..cut], false),
                Ok(Parsed::Incomplete),
                "cut at {cut}"
            );
        }
        // Cut short and at the end: the caller turns that into an error, not a half report.
        assert_eq!(
            parse_reply(&bytes[..bytes.len() - 10], true),
            Ok(Parsed::Incomplete)
        );
        // Without Content-length the end of input ends the body.
        let bare = b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.2 / 5.0\r\n\r\nreport";
        assert!(matches!(
            parse_reply(bare, true),
            Ok(Parsed::Complete(Reply { ref body, .. })) if body == "report"
        ));
        assert_eq!(parse_reply(bare, false), Ok(Parsed::Incomplete));
    }

    #[test]
    fn a_pong_is_a_complete_reply() {
        assert_eq!(
            parse_reply(b"SPAMD/1.5 0 PONG\r\n", true),
            Ok(Parsed::Complete(Reply {
                code: 0,
                message: "PONG".into(),
                verdict: None,
                body: String::new()
            }))
        );
        assert_eq!(
            parse_reply(b"SPAMD/1.5 0 PONG\r\n", false),
            Ok(Parsed::Incomplete)
        );
    }

    #[test]
    fn errors_and_garbage_are_errors() {
        assert_eq!(
            parse_reply(b"SPAMD/1.0 76 Bad header line: (EOF)\r\n", true),
            Err(ReplyError::Refused {
                code: 76,
                message: "Bad header line: (EOF)".into()
            })
        );
        assert!(matches!(
            parse_reply(b"HTTP/1.1 400 Bad Request\r\n\r\n", false),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(
                b"SPAMD/1.1 0 EX_OK\r\nSpam: maybe ; x / y\r\nContent-length: 0\r\n\r\n",
                false
            ),
            Err(ReplyError::Malformed(_))
        ));
        assert_eq!(parse_report("no table here\n 1.0 X y\n"), []);
    }
}

//! Parsing one SMTP command line (RFC 5321 section 4.1, plus the ESMTP parameters we advertise).

/// A parsed command line. Addresses are owned: they outlive the read buffer in the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Helo(String),
    Ehlo(String),
    Mail {
        from: String,
        params: MailParams,
    },
    Rcpt {
        to: String,
    },
    Data,
    Bdat {
        size: u64,
        last: bool,
    },
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    Auth {
        mechanism: String,
        initial: Option<String>,
    },
    StartTls,
}

/// The MAIL FROM parameters we understand (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8, RFC 4954 AUTH).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailParams {
    pub size: Option<u64>,
    pub eight_bit: bool,
    pub smtputf8: bool,
}

/// Why a line is not a valid command; each maps to one reply code in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// Verb not recognised: 500.
    Unknown,
    /// Arguments malformed: 501.
    Syntax(&'static str),
    /// An ESMTP parameter we do not advertise: 555.
    UnsupportedParam(String),
    /// A path that is not a valid RFC 5321 mailbox (`a@@b`, no `@`, a bare space or control
    /// character): 553, as Mailpit answers.
    BadAddress,
}

impl Command {
    /// Parses a command line with its line ending already removed.
    pub fn parse(line: &str) -> Result<Command, CommandError> {
        let line = line.trim_end_matches([' ', '\t']);
        let (verb, args) = match line.find(' ') {
            Some(i) => (&line[..i], line[i + 1..].trim_start()),
            None => (line, ""),
        };
        let no_args = |cmd: Command| {
            // RFC 5321 allows a string after NOOP, VRFY, EXPN and HELP; the others take nothing.
            if args.is_empty() {
                Ok(cmd)
            } else {
                Err(CommandError::Syntax("Syntax error: no arguments allowed"))
            }
        };
        match verb.to_ascii_uppercase().as_str() {
            "HELO" => domain_arg(args).map(Command::Helo),
            "EHLO" => domain_arg(args).map(Command::Ehlo),
            "MAIL" => parse_mail(args),
            "RCPT" => parse_rcpt(args),
            "DATA" => no_args(Command::Data),
            "BDAT" => parse_bdat(args),
            "RSET" => no_args(Command::Rset),
            "QUIT" => no_args(Command::Quit),
            "STARTTLS" => no_args(Command::StartTls),
            "NOOP" => Ok(Command::Noop),
            "VRFY" => Ok(Command::Vrfy),
            "EXPN" => Ok(Command::Expn),
            "HELP" => Ok(Command::Help),
            "AUTH" => parse_auth(args),
            _ => Err(CommandError::Unknown),
        }
    }
}

fn domain_arg(args: &str) -> Result<String, CommandError> {
    match args.split_whitespace().next() {
        Some(domain) => Ok(domain.to_string()),
        None => Err(CommandError::Syntax("Syntax error: domain name required")),
    }
}

/// Strips a case-insensitive keyword such as `FROM:` and the one space that many clients send
/// after it (`MAIL FROM: <a@b>`). RFC 5321 allows none; more than one is refused (501), as Mailpit
/// does. `None` when the keyword is missing.
fn strip_keyword<'a>(args: &'a str, keyword: &str) -> Option<Result<&'a str, CommandError>> {
    let head = args.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = &args[keyword.len()..];
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    if rest.starts_with([' ', '\t']) {
        return Some(Err(CommandError::Syntax(
            "Syntax error: at most one space after the colon",
        )));
    }
    Some(Ok(rest))
}

fn parse_mail(args: &str) -> Result<Command, CommandError> {
    let rest = strip_keyword(args, "FROM:").ok_or(CommandError::Syntax(
        "Syntax error: expected MAIL FROM:<address>",
    ))??;
    let (from, params) = parse_path(rest)?;
    // The null reverse-path `<>` is how bounces are sent (RFC 5321 4.5.5).
    if !from.is_empty() && !is_mailbox(&from) {
        return Err(CommandError::BadAddress);
    }
    let mut parsed = MailParams::default();
    for param in params.split_whitespace() {
        let (key, value) = match param.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (param, None),
        };
        match (key.to_ascii_uppercase().as_str(), value) {
            ("SIZE", Some(v)) => {
                let size = v
                    .parse()
                    .map_err(|_| CommandError::Syntax("Syntax error: SIZE needs a number"))?;
                parsed.size = Some(size);
            }
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => parsed.eight_bit = true,
            ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => {}
            ("SMTPUTF8", None) => parsed.smtputf8 = true,
            // RFC 4954 5: AUTH=<mailbox> on MAIL is informational; accepted and ignored.
            ("AUTH", Some(_)) => {}
            _ => return Err(CommandError::UnsupportedParam(param.to_string())),
        }
    }
    Ok(Command::Mail {
        from,
        params: parsed,
    })
}

fn parse_rcpt(args: &str) -> Result<Command, CommandError> {
    let rest = strip_keyword(args, "TO:").ok_or(CommandError::Syntax(
        "Syntax error: expected RCPT TO:<address>",
    ))??;
    let (to, params) = parse_path(rest)?;
    if to.is_empty() {
        return Err(CommandError::Syntax("Syntax error: empty recipient"));
    }
    // RFC 5321 4.1.1.3: `<Postmaster>` without a domain must be accepted.
    if !to.eq_ignore_ascii_case("postmaster") && !is_mailbox(&to) {
        return Err(CommandError::BadAddress);
    }
    if let Some(param) = params.split_whitespace().next() {
        return Err(CommandError::UnsupportedParam(param.to_string()));
    }
    Ok(Command::Rcpt { to })
}

/// Parses `<path>` (or a bare address, which real clients sometimes send) and returns it with the
/// rest of the line. Quoted local parts may contain spaces and `>`; a source route is dropped.
fn parse_path(s: &str) -> Result<(String, &str), CommandError> {
    let syntax = CommandError::Syntax("Syntax error in mailbox address");
    let Some(inner_start) = s.strip_prefix('<') else {
        let end = s.find([' ', '\t']).unwrap_or(s.len());
        let addr = &s[..end];
        if addr.is_empty() {
            return Err(syntax);
        }
        return Ok((addr.to_string(), &s[end..]));
    };
    let mut quoted = false;
    let mut escaped = false;
    let mut close = None;
    for (i, c) in inner_start.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => {
                close = Some(i);
                break;
            }
            _ => {}
        }
    }
    let close = close.ok_or(syntax)?;
    let mut addr = &inner_start[..close];
    let rest = &inner_start[close + 1..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return Err(CommandError::Syntax("Syntax error: junk after address"));
    }
    // RFC 5321 4.1.2: "@a,@b:user@host" source routes are accepted and ignored.
    if addr.starts_with('@') {
        addr = addr.split_once(':').map_or("", |(_, mailbox)| mailbox);
        if addr.is_empty() {
            return Err(CommandError::Syntax("Syntax error in source route"));
        }
    }
    Ok((addr.to_string(), rest))
}

/// RFC 5321 4.1.2 `Mailbox`: a local part (dot-atom or quoted string), `@`, and a domain (dot-atom
/// or address literal). Like Go's net/mail, which Mailpit checks with, atoms may hold UTF-8
/// (RFC 6531) and the local part may have any dots (real mail has `a..b@`). Unlike Mailpit, a
/// space inside a quoted local part is allowed: RFC 5321 permits it.
pub fn is_mailbox(addr: &str) -> bool {
    if addr.chars().any(char::is_control) {
        return false;
    }
    let Some((local, domain)) = split_mailbox(addr) else {
        return false;
    };
    let local_ok = if let Some(quoted) = local.strip_prefix('"') {
        quoted_string_body(quoted)
    } else {
        !local.is_empty() && local.chars().all(|c| c == '.' || is_atext(c))
    };
    let domain_ok = if let Some(literal) = domain.strip_prefix('[') {
        literal
            .strip_suffix(']')
            .is_some_and(|inner| !inner.is_empty() && !inner.contains(['[', ']', '\\', ' ']))
    } else {
        domain
            .split('.')
            .all(|label| !label.is_empty() && label.chars().all(is_atext))
    };
    local_ok && domain_ok
}

/// Splits at the `@` that follows the local part (after its closing quote when it is quoted).
fn split_mailbox(addr: &str) -> Option<(&str, &str)> {
    if addr.starts_with('"') {
        let mut escaped = false;
        for (i, c) in addr.char_indices().skip(1) {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    let rest = &addr[i + 1..];
                    return rest.strip_prefix('@').map(|domain| (&addr[..=i], domain));
                }
                _ => {}
            }
        }
        return None;
    }
    addr.split_once('@')
}

/// The inside of a quoted local part, closing quote included: text and quoted pairs only.
fn quoted_string_body(s: &str) -> bool {
    let Some(inner) = s.strip_suffix('"') else {
        return false;
    };
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return false,
            _ => {}
        }
    }
    !escaped
}

/// RFC 5322 3.2.3 `atext`, plus any non-ASCII character (RFC 6531 `UTF8-non-ascii`).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii()
}

fn parse_bdat(args: &str) -> Result<Command, CommandError> {
    let mut words = args.split_whitespace();
    let size = words
        .next()
        .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|w| w.parse().ok())
        .ok_or(CommandError::Syntax(
            "Syntax error: BDAT needs a chunk size",
        ))?;
    let last = match words.next() {
        None => false,
        Some(w) if w.eq_ignore_ascii_case("LAST") => true,
        Some(_) => {
            return Err(CommandError::Syntax(
                "Syntax error: expected BDAT <size> [LAST]",
            ));
        }
    };
    if words.next().is_some() {
        return Err(CommandError::Syntax(
            "Syntax error: expected BDAT <size> [LAST]",
        ));
    }
    Ok(Command::Bdat { size, last })
}

fn parse_auth(args: &str) -> Result<Command, CommandError> {
    let mut words = args.split_whitespace();
    let mechanism = words
        .next()
        .ok_or(CommandError::Syntax("Syntax error: AUTH needs a mechanism"))?
        .to_ascii_uppercase();
    let initial = words.next().map(str::to_string);
    if words.next().is_some() {
        return Err(CommandError::Syntax(
            "Syntax error: expected AUTH <mechanism> [initial-response]",
        ));
    }
    Ok(Command::Auth { mechanism, initial })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(from: &str) -> Command {
        Command::Mail {
            from: from.into(),
            params: MailParams::default(),
        }
    }

    #[test]
    fn verbs_are_case_insensitive() {
        assert_eq!(
            Command::parse("ehlo client.example"),
            Ok(Command::Ehlo("client.example".into()))
        );
        assert_eq!(Command::parse("QuIt"), Ok(Command::Quit));
        assert_eq!(Command::parse("data"), Ok(Command::Data));
    }

    #[test]
    fn mail_paths() {
        assert_eq!(Command::parse("MAIL FROM:<a@b.c>"), Ok(mail("a@b.c")));
        assert_eq!(Command::parse("MAIL FROM:<>"), Ok(mail("")));
        assert_eq!(Command::parse("mail from: <a@b.c>"), Ok(mail("a@b.c")));
        assert_eq!(Command::parse("MAIL FROM:a@b.c"), Ok(mail("a@b.c")));
        assert_eq!(
            Command::parse("MAIL FROM:<@relay.example:a@b.c>"),
            Ok(mail("a@b.c"))
        );
        assert_eq!(
            Command::parse(r#"MAIL FROM:<"john > doe"@b.c>"#),
            Ok(mail(r#""john > doe"@b.c"#))
        );
        assert!(matches!(
            Command::parse("MAIL FROM:<a@b.c"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(
            Command::parse("MAIL TO:<a@b.c>"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(
            Command::parse("MAIL FROM:"),
            Err(CommandError::Syntax(_))
        ));
    }

    #[test]
    fn mail_params() {
        let Ok(Command::Mail { params, .. }) =
            Command::parse("MAIL FROM:<a@b> SIZE=1000 BODY=8BITMIME SMTPUTF8 AUTH=<>")
        else {
            panic!("should parse");
        };
        assert_eq!(
            params,
            MailParams {
                size: Some(1000),
                eight_bit: true,
                smtputf8: true
            }
        );
        assert_eq!(
            Command::parse("MAIL FROM:<a@b> RET=HDRS"),
            Err(CommandError::UnsupportedParam("RET=HDRS".into()))
        );
        assert!(matches!(
            Command::parse("MAIL FROM:<a@b> SIZE=x"),
            Err(CommandError::Syntax(_))
        ));
    }

    #[test]
    fn rcpt() {
        assert_eq!(
            Command::parse("RCPT TO:<postmaster>"),
            Ok(Command::Rcpt {
                to: "postmaster".into()
            })
        );
        assert!(matches!(
            Command::parse("RCPT TO:<>"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(
            Command::parse("RCPT TO:<a@b> NOTIFY=NEVER"),
            Err(CommandError::UnsupportedParam(_))
        ));
    }

    #[test]
    fn mailbox_syntax() {
        for good in [
            "a@b",
            "a.b+c@d.e",
            "\"john doe\"@b.c",
            "\"a\\\"b\"@c",
            "a@[192.0.2.1]",
            "ü@例え.jp",
            "a..b.@c",
        ] {
            assert!(is_mailbox(good), "{good}");
        }
        for bad in [
            "", "a", "a@", "@b", "a@@b", "a@b@c", "a b@c", "a@b c", "a@b.", "a@.b", "a@b..c",
            "\"a@b", "\"a\"b@c", "a\r@b", "a@[x", "a(b)@c",
        ] {
            assert!(!is_mailbox(bad), "{bad:?}");
        }
        assert_eq!(
            Command::parse("MAIL FROM:<a@@b>"),
            Err(CommandError::BadAddress)
        );
        assert!(matches!(
            Command::parse("MAIL FROM:  <a@b>"),
            Err(CommandError::Syntax(_))
        ));
    }

    #[test]
    fn bdat_and_auth() {
        assert_eq!(
            Command::parse("BDAT 0 LAST"),
            Ok(Command::Bdat {
                size: 0,
                last: true
            })
        );
        assert_eq!(
            Command::parse("BDAT 12"),
            Ok(Command::Bdat {
                size: 12,
                last: false
            })
        );
        assert!(Command::parse("BDAT -1").is_err());
        assert!(Command::parse("BDAT 99999999999999999999999").is_err());
        assert!(Command::parse("BDAT 1 FIRST").is_err());
        assert_eq!(
            Command::parse("AUTH plain dGVzdA=="),
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: Some("dGVzdA==".into())
            })
        );
    }

    #[test]
    fn unknown_and_argument_errors() {
        assert_eq!(Command::parse("FOO bar"), Err(CommandError::Unknown));
        assert_eq!(Command::parse(""), Err(CommandError::Unknown));
        assert!(matches!(
            Command::parse("EHLO"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(
            Command::parse("DATA now"),
            Err(CommandError::Syntax(_))
        ));
        assert_eq!(Command::parse("NOOP anything"), Ok(Command::Noop));
    }
}

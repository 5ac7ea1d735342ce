//! POP3 command lines (RFC 1939, RFC 2449, RFC 2595, RFC 5034) parsed into [`Command`]s: no
//! state, no I/O; the session decides what a command means in its state.

/// One command line, parsed. Message numbers are as the client gave them (1-based, not yet
/// checked against the maildrop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// `USER name`.
    User(&'a str),
    /// `PASS secret`: the rest of the line, spaces included (RFC 1939 7 allows this, since PASS
    /// has exactly one argument).
    Pass(&'a str),
    /// `AUTH` alone lists the mechanisms; `AUTH mechanism [initial-response]` starts a dialogue.
    Auth(Option<(&'a str, Option<&'a str>)>),
    Stls,
    Capa,
    Stat,
    List(Option<usize>),
    Uidl(Option<usize>),
    Retr(usize),
    /// `TOP msg lines`.
    Top(usize, usize),
    Dele(usize),
    Rset,
    Noop,
    Quit,
}

/// Why a line is not a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command")]
    Unknown,
    #[error("invalid UTF-8 in command")]
    NotUtf8,
    /// A known command with wrong arguments: the usage to tell the client.
    #[error("syntax: {0}")]
    Syntax(&'static str),
}

/// Parses one line, its CRLF (or bare LF) already removed.
pub fn parse(line: &[u8]) -> Result<Command<'_>, CommandError> {
    let line = std::str::from_utf8(line).map_err(|_| CommandError::NotUtf8)?;
    let (keyword, rest) = match line.split_once(' ') {
        Some((keyword, rest)) => (keyword, rest),
        None => (line, ""),
    };
    // RFC 1939 3: keywords are three or four characters, case-insensitive.
    let verb = keyword.to_ascii_uppercase();
    let args: Vec<&str> = rest.split_ascii_whitespace().collect();
    let none = |command: Command<'static>, usage| {
        if args.is_empty() {
            Ok(command)
        } else {
            Err(CommandError::Syntax(usage))
        }
    };
    match verb.as_str() {
        "USER" => match rest.trim() {
            "" => Err(CommandError::Syntax("USER name")),
            name => Ok(Command::User(name)),
        },
        "PASS" => Ok(Command::Pass(rest)),
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth(None)),
            [mechanism] => Ok(Command::Auth(Some((mechanism, None)))),
            [mechanism, initial] => Ok(Command::Auth(Some((mechanism, Some(initial))))),
            _ => Err(CommandError::Syntax("AUTH mechanism [initial-response]")),
        },
        "STLS" => none(Command::Stls, "STLS"),
        "CAPA" => none(Command::Capa, "CAPA"),
        "STAT" => none(Command::Stat, "STAT"),
        "RSET" => none(Command::Rset, "RSET"),
        "NOOP" => none(Command::Noop, "NOOP"),
        "QUIT" => none(Command::Quit, "QUIT"),
        "LIST" => optional(&args, "LIST [msg]").map(Command::List),
        "UIDL" => optional(&args, "UIDL [msg]").map(Command::Uidl),
        "RETR" => one(&args, "RETR msg").map(Command::Retr),
        "DELE" => one(&args, "DELE msg").map(Command::Dele),
        "TOP" => match args.as_slice() {
            [msg, lines] => {
                const USAGE: &str = "TOP msg lines";
                let msg = number(msg).ok_or(CommandError::Syntax(USAGE))?;
                let lines = number(lines).ok_or(CommandError::Syntax(USAGE))?;
                Ok(Command::Top(msg, lines))
            }
            _ => Err(CommandError::Syntax("TOP msg lines")),
        },
        _ => Err(CommandError::Unknown),
    }
}

fn optional(args: &[&str], usage: &'static str) -> Result<Option<usize>, CommandError> {
    match args {
        [] => Ok(None),
        [msg] => number(msg).map(Some).ok_or(CommandError::Syntax(usage)),
        _ => Err(CommandError::Syntax(usage)),
    }
}

fn one(args: &[&str], usage: &'static str) -> Result<usize, CommandError> {
    match args {
        [msg] => number(msg).ok_or(CommandError::Syntax(usage)),
        _ => Err(CommandError::Syntax(usage)),
    }
}

/// A decimal number of digits only (`usize::from_str` would take a `+` sign). One too large for
/// `usize` saturates: as a message number it is out of range anyway, as a line count it means
/// "all of them".
fn number(arg: &str) -> Option<usize> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(arg.parse().unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive_and_arguments_checked() {
        assert_eq!(parse(b"stat"), Ok(Command::Stat));
        assert_eq!(parse(b"LiSt 3"), Ok(Command::List(Some(3))));
        assert_eq!(parse(b"LIST"), Ok(Command::List(None)));
        assert_eq!(parse(b"top 1 0"), Ok(Command::Top(1, 0)));
        assert_eq!(
            parse(b"TOP 1 99999999999999999999999"),
            Ok(Command::Top(1, usize::MAX))
        );
        assert_eq!(parse(b"RETR +1"), Err(CommandError::Syntax("RETR msg")));
        assert_eq!(parse(b"RETR"), Err(CommandError::Syntax("RETR msg")));
        assert_eq!(parse(b"RETR 1 2"), Err(CommandError::Syntax("RETR msg")));
        assert_eq!(parse(b"TOP 1"), Err(CommandError::Syntax("TOP msg lines")));
        assert_eq!(parse(b"STAT now"), Err(CommandError::Syntax("STAT")));
        assert_eq!(parse(b"XYZZY"), Err(CommandError::Unknown));
        assert_eq!(parse(b""), Err(CommandError::Unknown));
        assert_eq!(parse(b"\xff\xfe"), Err(CommandError::NotUtf8));
    }

    #[test]
    fn pass_keeps_spaces_and_auth_takes_an_initial_response() {
        assert_eq!(parse(b"PASS a b  c"), Ok(Command::Pass("a b  c")));
        assert_eq!(parse(b"PASS"), Ok(Command::Pass("")));
        assert_eq!(parse(b"USER  bob "), Ok(Command::User("bob")));
        assert_eq!(parse(b"USER"), Err(CommandError::Syntax("USER name")));
        assert_eq!(parse(b"AUTH"), Ok(Command::Auth(None)));
        assert_eq!(
            parse(b"AUTH plain AGEAYg=="),
            Ok(Command::Auth(Some(("plain", Some("AGEAYg==")))))
        );
    }
}

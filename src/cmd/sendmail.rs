//! `mailsnare sendmail`: a sendmail-compatible command (for PHP's `sendmail_path`, cron and other
//! local mailers) that reads one message on standard input and submits it to mailsnare over SMTP.
//!
//! Like sendmail it:
//! - takes recipients from the arguments, or from the To, Cc and Bcc headers with `-t` (or when no
//!   argument names one); with `-t` and arguments, both are used;
//! - ends the message at a line holding a single `.` unless `-i`/`-oi` is given;
//! - drops a leading mbox `From ` line and every `Bcc` header;
//! - adds `From` (the `-f` sender, named by `-F`), `Date` and `Message-ID` headers when the message
//!   has none. Added headers go first; the rest is sent byte for byte, except that lone LFs become
//!   CRLF as SMTP requires;
//! - exits with sysexits codes: 64 bad usage, 65 no recipients, 69 server refused or unreachable,
//!   74 standard input unreadable, 75 temporary failure (4xx reply, timeout).
//!
//! Without `-f` the envelope sender is `$USER@hostname`, as with sendmail.

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use mailsnare::config::{DEFAULT_SMTP_PORT, SENDMAIL_SMTP_ADDR_ENV, first_env};
use mailsnare::mime::headers::split_headers;

use super::connect::{ConnectError, connect, connect_address};

/// Connect, read and write timeout of the SMTP dialogue.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest reply line read from the server. RFC 5321 4.5.3.1.5 allows 512 octets; the slack is for
/// chatty servers, the bound is so a broken one cannot make us buffer without end.
const MAX_REPLY_LINE: u64 = 4096;
/// Most lines in one multi-line reply, for the same reason.
const MAX_REPLY_LINES: usize = 128;

/// sysexits(3) codes, which sendmail's callers (PHP, cron) know.
pub const EX_USAGE: u8 = 64;
pub const EX_DATAERR: u8 = 65;
pub const EX_UNAVAILABLE: u8 = 69;
pub const EX_IOERR: u8 = 74;
pub const EX_TEMPFAIL: u8 = 75;

const USAGE: &str = "usage: mailsnare sendmail [-t] [-i] [-v] [-f sender] [-F fullname] \
[--smtp-addr host:port] [--] [recipient ...] < message";

/// Why a submission failed; each kind maps to one sysexits code.
#[derive(Debug, thiserror::Error)]
pub enum SendmailError {
    #[error("{0}")]
    Usage(String),
    #[error("no recipients: give them as arguments, or in To, Cc or Bcc headers")]
    NoRecipients,
    #[error("invalid address {0:?}")]
    BadAddress(String),
    #[error("cannot read the message from standard input: {0}")]
    Stdin(io::Error),
    /// Refused for good: nothing listening, or a 5xx reply.
    #[error("{0}")]
    Unavailable(String),
    /// Worth retrying: a 4xx reply, a timeout, a dropped connection.
    #[error("{0}")]
    TempFail(String),
}

impl SendmailError {
    pub fn exit_code(&self) -> u8 {
        match self {
            SendmailError::Usage(_) => EX_USAGE,
            SendmailError::NoRecipients | SendmailError::BadAddress(_) => EX_DATAERR,
            SendmailError::Stdin(_) => EX_IOERR,
            SendmailError::Unavailable(_) => EX_UNAVAILABLE,
            SendmailError::TempFail(_) => EX_TEMPFAIL,
        }
    }
}

/// The parsed command line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-f`/`-r`: the envelope sender (`""` or `<>` for the null sender).
    pub from: Option<String>,
    /// `-F`: the sender's full name, used only in an added From header.
    pub full_name: Option<String>,
    /// `-t`: read recipients from the headers.
    pub recipients_from_headers: bool,
    /// `-i`/`-oi`: a lone `.` line is ordinary text, not the end of the message.
    pub ignore_dots: bool,
    /// `-v`: print the SMTP dialogue to stderr.
    pub verbose: bool,
    /// `--smtp-addr`/`-S`: where to submit.
    pub smtp_addr: Option<String>,
    /// `--help`.
    pub help: bool,
    /// The non-option arguments, each an address list.
    pub recipients: Vec<String>,
}

/// Parses sendmail's arguments (without the program name). Options and recipients may be mixed;
/// `--` ends the options.
pub fn parse_args(args: &[String]) -> Result<Options, SendmailError> {
    let mut opts = Options::default();
    let mut args = args.iter();
    let mut options_done = false;
    while let Some(arg) = args.next() {
        if options_done || !arg.starts_with('-') || arg == "-" {
            opts.recipients.push(arg.clone());
            continue;
        }
        if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                _ if long.is_empty() => options_done = true,
                None if long == "help" => opts.help = true,
                None if long == "smtp-addr" => {
                    opts.smtp_addr = Some(value(&mut args, "--smtp-addr")?);
                }
                Some(("smtp-addr", addr)) => opts.smtp_addr = Some(addr.to_string()),
                _ => return Err(unknown(arg)),
            }
            continue;
        }
        let flag = &arg[1..];
        let Some(&letter) = flag.as_bytes().first() else {
            return Err(unknown(arg));
        };
        // Empty unless the letter is ASCII, so slicing never splits a character.
        let rest = if letter.is_ascii() { &flag[1..] } else { "" };
        // Options taking a value accept it attached (`-faddr`) or as the next argument.
        let mut attached_or_next = || {
            if rest.is_empty() {
                value(&mut args, &format!("-{}", char::from(letter)))
            } else {
                Ok(rest.to_string())
            }
        };
        match letter {
            b'f' | b'r' => opts.from = Some(attached_or_next()?),
            b'F' => opts.full_name = Some(attached_or_next()?),
            b'S' => opts.smtp_addr = Some(attached_or_next()?),
            // Body type (7BIT/8BITMIME): the message is passed on as it is either way.
            b'B' => {
                attached_or_next()?;
            }
            b'o' => match rest {
                "i" => opts.ignore_dots = true,
                // Delivery and error-reporting modes: we always submit at once and report on stderr.
                "db" | "di" | "dq" | "ds" | "em" | "ee" | "ep" | "eq" | "ew" => {}
                _ => return Err(unknown(arg)),
            },
            b'e' if matches!(rest, "m" | "e" | "p" | "q" | "w") => {}
            // `-bm` (deliver mail) is the only mode there is; `-bs`, `-bp`, `-bv`… are not offered.
            b'b' if rest == "m" => {}
            b'b' => {
                return Err(SendmailError::Usage(format!("{arg} is not supported")));
            }
            // A cluster of switches, as getopt allows: `-ti`.
            _ if flag.bytes().all(|b| matches!(b, b't' | b'i' | b'v')) => {
                for b in flag.bytes() {
                    match b {
                        b't' => opts.recipients_from_headers = true,
                        b'i' => opts.ignore_dots = true,
                        _ => opts.verbose = true,
                    }
                }
            }
            _ => return Err(unknown(arg)),
        }
    }
    Ok(opts)
}

fn value<'a>(
    args: &mut impl Iterator<Item = &'a String>,
    name: &str,
) -> Result<String, SendmailError> {
    args.next()
        .cloned()
        .ok_or_else(|| SendmailError::Usage(format!("{name} needs a value")))
}

fn unknown(arg: &str) -> SendmailError {
    SendmailError::Usage(format!("unknown option {arg}"))
}

/// Values that depend on the machine and the clock, passed in so [`prepare`] stays pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    /// The envelope sender without `-f`.
    pub sender: String,
    /// An RFC 5322 date for an added Date header (none if the clock cannot be formatted).
    pub date: Option<String>,
    /// A `<…>` id for an added Message-ID header.
    pub message_id: String,
}

impl Defaults {
    /// From the environment (`USER`/`LOGNAME`), the host name and the clock.
    pub fn from_system(env: &dyn Fn(&str) -> Option<String>) -> Defaults {
        let host = local_hostname();
        let user = ["USER", "LOGNAME"]
            .iter()
            .find_map(|name| env(name).filter(|u| !u.is_empty()))
            .map(|u| sanitize_atom(&u))
            .unwrap_or_else(|| "nobody".into());
        let date = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc2822)
            .ok();
        Defaults {
            sender: format!("{user}@{host}"),
            date,
            message_id: format!("<{}@{host}>", uuid::Uuid::now_v7().simple()),
        }
    }
}

/// The machine's host name, when it is a usable domain; else `localhost`.
pub fn local_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|name| name.trim().to_string())
        .find(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        })
        .unwrap_or_else(|| "localhost".into())
}

/// Keeps only characters that are safe in an unquoted local part.
fn sanitize_atom(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-+".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// What goes over the wire: the envelope and the message (CRLF lines, not yet dot-stuffed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Empty for the null sender.
    pub sender: String,
    pub recipients: Vec<String>,
    pub data: Vec<u8>,
}

/// Builds the submission from standard input's bytes and the options: no I/O.
pub fn prepare(
    input: &[u8],
    opts: &Options,
    defaults: &Defaults,
) -> Result<Submission, SendmailError> {
    let input = if opts.ignore_dots {
        input
    } else {
        until_dot_line(input)
    };
    let input = without_mbox_from_line(input);
    let text = to_crlf(input);
    let header = HeaderBlock::parse(&text);

    let mut recipients = Vec::new();
    for arg in &opts.recipients {
        recipients.extend(parse_address_list(arg));
    }
    if opts.recipients_from_headers || opts.recipients.is_empty() {
        for name in ["to", "cc", "bcc"] {
            for value in header.values(name) {
                recipients.extend(parse_address_list(&value));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    recipients.retain(|r| seen.insert(r.to_ascii_lowercase()));
    if recipients.is_empty() {
        return Err(SendmailError::NoRecipients);
    }

    let sender = match &opts.from {
        Some(from) => {
            let from = from.trim();
            if from.is_empty() || from == "<>" {
                String::new()
            } else {
                parse_address_list(from)
                    .into_iter()
                    .next()
                    .ok_or_else(|| SendmailError::BadAddress(from.to_string()))?
            }
        }
        None => defaults.sender.clone(),
    };
    for address in recipients.iter().chain([&sender]) {
        // These would break the SMTP command line, or inject a second one.
        if address
            .chars()
            .any(|c| c.is_control() || c == '<' || c == '>')
        {
            return Err(SendmailError::BadAddress(address.clone()));
        }
    }

    let mut data = Vec::with_capacity(text.len() + 256);
    if !header.has("from") {
        let address = if sender.is_empty() {
            &defaults.sender
        } else {
            &sender
        };
        let from = match opts.full_name.as_deref().map(display_name) {
            Some(name) if !name.is_empty() => format!("{name} <{address}>"),
            _ => address.clone(),
        };
        data.extend_from_slice(format!("From: {from}\r\n").as_bytes());
    }
    if !header.has("date")
        && let Some(date) = &defaults.date
    {
        data.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
    }
    if !header.has("message-id") {
        data.extend_from_slice(format!("Message-ID: {}\r\n", defaults.message_id).as_bytes());
    }
    if !data.is_empty() && header.fields.is_empty() && !text.starts_with(b"\r\n") {
        // The input had no header section: keep all of it as the body.
        data.extend_from_slice(b"\r\n");
    }
    let mut copied = 0;
    for (_, span, _) in header.fields.iter().filter(|(n, _, _)| n == "bcc") {
        data.extend_from_slice(&text[copied..span.start]);
        copied = span.end;
    }
    data.extend_from_slice(&text[copied..]);
    Ok(Submission {
        sender,
        recipients,
        data,
    })
}

/// The input up to (not including) the first line holding a single `.`: sendmail's end of message.
fn until_dot_line(input: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < input.len() {
        let end = input[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(input.len(), |i| start + i + 1);
        let line = &input[start..end];
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line == b"." {
            return &input[..start];
        }
        start = end;
    }
    input
}

/// Drops an mbox `From sender date` first line, which sendmail also does not pass on.
fn without_mbox_from_line(input: &[u8]) -> &[u8] {
    if !input.starts_with(b"From ") {
        return input;
    }
    match input.iter().position(|&b| b == b'\n') {
        Some(i) => &input[i + 1..],
        None => &[],
    }
}

/// Turns lone LFs into CRLF and makes sure non-empty text ends with a line break.
fn to_crlf(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + input.len() / 32 + 2);
    let mut previous = 0u8;
    for &b in input {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The header section of a CRLF message (the shared splitter: fields before the first empty
/// line, or before the first line that is neither a field nor a continuation), with each field's
/// lower-cased name and its byte range in the message.
#[derive(Debug, Default)]
struct HeaderBlock {
    fields: Vec<(String, std::ops::Range<usize>, String)>,
}

impl HeaderBlock {
    fn parse(text: &[u8]) -> HeaderBlock {
        let (headers, _) = split_headers(text);
        HeaderBlock {
            fields: headers
                .into_iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        h.span,
                        h.value.trim().to_string(),
                    )
                })
                .collect(),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _, _)| n == name)
    }

    /// The unfolded values of every field called `name` (lower case).
    fn values(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, _, value)| value.clone())
            .collect()
    }
}

/// The addresses of an RFC 5322 address list, best effort and never failing: display names
/// (quoted, with commas), comments, `<angle>` addresses with source routes, groups
/// (`Team: a@x, b@y;`) and bare local names like cron's `root`. A phrase without an address is
/// skipped.
pub fn parse_address_list(value: &str) -> Vec<String> {
    let mut list = AddressList::default();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                list.word_start();
                list.bare.push('"');
                let mut escaped = false;
                for c in chars.by_ref() {
                    list.bare.push(c);
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '(' => {
                skip_comment(&mut chars);
                list.space = true;
            }
            '<' => {
                let mut inner = String::new();
                let mut quoted = false;
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        _ if escaped => escaped = false,
                        '\\' if quoted => escaped = true,
                        '"' => quoted = !quoted,
                        '>' if !quoted => break,
                        _ => {}
                    }
                    inner.push(c);
                }
                // RFC 5322 4.4 obsolete route: `<@relay:user@host>` means user@host.
                let inner = inner.trim();
                let inner = match inner.strip_prefix('@') {
                    Some(route) => route.split_once(':').map_or("", |(_, a)| a),
                    None => inner,
                };
                list.angle = Some(inner.trim().to_string());
            }
            '[' => {
                list.word_start();
                list.bare.push('[');
                for c in chars.by_ref() {
                    list.bare.push(c);
                    if c == ']' {
                        break;
                    }
                }
            }
            ',' => list.finish(),
            ':' if !list.in_group && list.angle.is_none() => {
                // What came before was the group's name.
                list.bare.clear();
                list.words = 0;
                list.in_group = true;
            }
            ';' if list.in_group => {
                list.finish();
                list.in_group = false;
            }
            c if c.is_whitespace() => list.space = true,
            c => {
                list.word_start();
                list.bare.push(c);
            }
        }
    }
    list.finish();
    list.found
}

#[derive(Default)]
struct AddressList {
    found: Vec<String>,
    /// The current mailbox outside angle brackets, whitespace dropped.
    bare: String,
    /// How many whitespace-separated words `bare` was made of.
    words: usize,
    /// Whitespace was seen since the last character of `bare`.
    space: bool,
    angle: Option<String>,
    in_group: bool,
}

impl AddressList {
    fn word_start(&mut self) {
        if self.bare.is_empty() || self.space {
            self.words += 1;
        }
        self.space = false;
    }

    fn finish(&mut self) {
        let bare = std::mem::take(&mut self.bare);
        let words = std::mem::take(&mut self.words);
        self.space = false;
        let address = match self.angle.take() {
            Some(angle) => angle,
            // `John Doe` alone is a name, not an address; `a @ b` is an (obsolete) address.
            None if words <= 1 || bare.contains('@') => bare,
            None => String::new(),
        };
        if !address.is_empty() {
            self.found.push(address);
        }
    }
}

/// Skips a (possibly nested) comment whose `(` was just read.
fn skip_comment(chars: &mut std::str::Chars<'_>) {
    let mut depth = 1;
    let mut escaped = false;
    for c in chars.by_ref() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

/// A display name for a header: as is when it is plain words, quoted when it has specials, and
/// RFC 2047-encoded when it is not ASCII. Control characters are dropped (no header injection).
fn display_name(name: &str) -> String {
    use base64::Engine as _;
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if !name.is_ascii() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(name);
        format!("=?utf-8?b?{encoded}?=")
    } else if name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || " !#$%&'*+-/=?^_`{|}~".contains(c))
    {
        name.to_string()
    } else {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    }
}

/// One SMTP reply: its code and the text of each line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" / ")
    }
}

/// A small blocking SMTP client: each command is written, then its whole reply read.
struct Client<'a, R, W> {
    reader: R,
    writer: W,
    /// Where `-v` prints the dialogue.
    log: Option<&'a mut dyn Write>,
}

impl<R: BufRead, W: Write> Client<'_, R, W> {
    fn read_reply(&mut self, during: &str) -> Result<Reply, SendmailError> {
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            (&mut self.reader)
                .take(MAX_REPLY_LINE)
                .read_until(b'\n', &mut line)
                .map_err(|e| io_failure(&e, during))?;
            if line.is_empty() {
                return Err(SendmailError::TempFail(format!(
                    "the server closed the connection during {during}"
                )));
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            if let Some(log) = self.log.as_mut() {
                let _ = writeln!(log, "<<< {line}");
            }
            let code = line
                .get(..3)
                .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| {
                    SendmailError::Unavailable(format!("malformed reply during {during}: {line:?}"))
                })?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                return Ok(Reply { code, lines });
            }
            if lines.len() >= MAX_REPLY_LINES {
                return Err(SendmailError::Unavailable(format!(
                    "reply during {during} is longer than {MAX_REPLY_LINES} lines"
                )));
            }
        }
    }

    fn send_line(&mut self, line: &str, during: &str) -> Result<(), SendmailError> {
        if let Some(log) = self.log.as_mut() {
            let _ = writeln!(log, ">>> {line}");
        }
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .and_then(|()| self.writer.flush())
            .map_err(|e| io_failure(&e, during))
    }

    /// Sends `line` and reads its reply, which must have code `expected`.
    fn command(&mut self, line: &str, expected: u16) -> Result<Reply, SendmailError> {
        let verb = line.split([' ', ':']).next().unwrap_or(line);
        self.send_line(line, verb)?;
        let reply = self.read_reply(verb)?;
        check(reply, expected, line)
    }
}

/// Accepts `reply` when its code is `expected`; otherwise 4xx is temporary, anything else final.
fn check(reply: Reply, expected: u16, what: &str) -> Result<Reply, SendmailError> {
    if reply.code == expected {
        return Ok(reply);
    }
    let message = format!("{what} failed: {} {}", reply.code, reply.text());
    if (400..500).contains(&reply.code) {
        Err(SendmailError::TempFail(message))
    } else {
        Err(SendmailError::Unavailable(message))
    }
}

fn io_failure(e: &io::Error, during: &str) -> SendmailError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => SendmailError::TempFail(format!(
            "no answer from the server within {}s during {during}",
            SMTP_TIMEOUT.as_secs()
        )),
        _ => SendmailError::TempFail(format!("connection failed during {during}: {e}")),
    }
}

/// Runs the SMTP dialogue for one submission: greeting, EHLO (HELO if refused), MAIL, RCPT for each
/// recipient, DATA, QUIT.
fn submit<R: BufRead, W: Write>(
    client: &mut Client<'_, R, W>,
    helo: &str,
    submission: &Submission,
) -> Result<(), SendmailError> {
    check(client.read_reply("the greeting")?, 220, "the greeting")?;
    client.send_line(&format!("EHLO {helo}"), "EHLO")?;
    let ehlo = client.read_reply("EHLO")?;
    let extensions: Vec<String> = if ehlo.code == 250 {
        ehlo.lines
            .iter()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .map(|k| k.to_ascii_uppercase())
            .collect()
    } else if (500..600).contains(&ehlo.code) {
        // An RFC 821 server: plain HELO, no extensions.
        client.command(&format!("HELO {helo}"), 250)?;
        Vec::new()
    } else {
        check(ehlo, 250, "EHLO")?;
        Vec::new()
    };
    let has = |name: &str| extensions.iter().any(|k| k == name);

    let mut mail = format!("MAIL FROM:<{}>", submission.sender);
    if has("8BITMIME") && !submission.data.is_ascii() {
        mail.push_str(" BODY=8BITMIME");
    }
    let utf8_envelope =
        !submission.sender.is_ascii() || submission.recipients.iter().any(|r| !r.is_ascii());
    if has("SMTPUTF8") && utf8_envelope {
        mail.push_str(" SMTPUTF8");
    }
    client.command(&mail, 250)?;
    for recipient in &submission.recipients {
        client.command(&format!("RCPT TO:<{recipient}>"), 250)?;
    }
    client.command("DATA", 354)?;
    let mut wire = dot_stuff(&submission.data);
    wire.extend_from_slice(b".\r\n");
    if let Some(log) = client.log.as_mut() {
        let _ = writeln!(log, ">>> ({} bytes of message)", submission.data.len());
    }
    client
        .writer
        .write_all(&wire)
        .and_then(|()| client.writer.flush())
        .map_err(|e| io_failure(&e, "DATA"))?;
    if let Some(log) = client.log.as_mut() {
        let _ = writeln!(log, ">>> .");
    }
    let reply = client.read_reply("the end of DATA")?;
    check(reply, 250, "the message")?;
    // The message is accepted; a failing QUIT changes nothing about that.
    let _ = client.command("QUIT", 221);
    Ok(())
}

/// RFC 5321 4.5.2: a line starting with `.` gets another one. `data` has CRLF line ends.
fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    let mut line_start = true;
    for &b in data {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    out
}

/// Connects to `addr` with [`SMTP_TIMEOUT`] and submits.
fn deliver(
    addr: &str,
    submission: &Submission,
    log: Option<&mut dyn Write>,
) -> Result<(), SendmailError> {
    let stream = connect(addr, SMTP_TIMEOUT).map_err(|e| match e {
        ConnectError::Timeout { .. } => SendmailError::TempFail(e.to_string()),
        _ => SendmailError::Unavailable(e.to_string()),
    })?;
    let setup = |e: io::Error| SendmailError::TempFail(format!("connection to {addr}: {e}"));
    let reader = BufReader::new(stream.try_clone().map_err(setup)?);
    let mut client = Client {
        reader,
        writer: stream,
        log,
    };
    submit(&mut client, &local_hostname(), submission)
}

/// The whole command with its inputs passed in: arguments (without the program or subcommand
/// name), the environment, standard input and where `-v` writes.
pub fn run(
    args: &[OsString],
    env: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
    stderr: &mut dyn Write,
) -> Result<Options, SendmailError> {
    let args = args
        .iter()
        .map(|a| {
            a.to_str()
                .map(str::to_string)
                .ok_or_else(|| SendmailError::Usage(format!("argument {a:?} is not UTF-8")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let opts = parse_args(&args)?;
    if opts.help {
        return Ok(opts);
    }
    let mut input = Vec::new();
    stdin
        .read_to_end(&mut input)
        .map_err(SendmailError::Stdin)?;
    let submission = prepare(&input, &opts, &Defaults::from_system(env))?;
    let addr = opts
        .smtp_addr
        .clone()
        .or_else(|| first_env(env, &SENDMAIL_SMTP_ADDR_ENV))
        .unwrap_or_default();
    let addr = connect_address(&addr, DEFAULT_SMTP_PORT);
    deliver(&addr, &submission, opts.verbose.then_some(stderr))?;
    Ok(opts)
}

/// Entry point for `mailsnare sendmail …` and a binary called `sendmail`.
pub fn main(args: &[OsString]) -> ExitCode {
    let env = |name: &str| std::env::var(name).ok();
    let mut stderr = io::stderr();
    match run(args, &env, &mut io::stdin().lock(), &mut stderr) {
        Ok(opts) if opts.help => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(stderr, "mailsnare sendmail: {e}");
            if matches!(e, SendmailError::Usage(_)) {
                let _ = writeln!(stderr, "{USAGE}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Options, SendmailError> {
        parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn parsed(list: &[&str]) -> Options {
        match args(list) {
            Ok(opts) => opts,
            Err(e) => panic!("{list:?}: {e}"),
        }
    }

    fn defaults() -> Defaults {
        Defaults {
            sender: "www-data@host".into(),
            date: Some("Mon, 1 Jan 2024 00:00:00 +0000".into()),
            message_id: "<id@host>".into(),
        }
    }

    fn prepared(input: &str, list: &[&str]) -> Submission {
        match prepare(input.as_bytes(), &parsed(list), &defaults()) {
            Ok(s) => s,
            Err(e) => panic!("{input:?} {list:?}: {e}"),
        }
    }

    #[test]
    fn php_and_cron_invocations_parse() {
        let php = parsed(&["-t", "-i"]);
        assert!(php.recipients_from_headers && php.ignore_dots && !php.verbose);
        assert!(php.recipients.is_empty());

        // What cronie runs.
        let cron = parsed(&[
            "-FCronDaemon",
            "-i",
            "-B8BITMIME",
            "-oem",
            "-oi",
            "-odi",
            "-t",
            "-f",
            "root",
        ]);
        assert_eq!(cron.full_name.as_deref(), Some("CronDaemon"));
        assert_eq!(cron.from.as_deref(), Some("root"));
        assert!(cron.recipients_from_headers && cron.ignore_dots);

        let attached = parsed(&["-fme@x", "-r", "other@x", "-odb", "-em", "-bm", "-v"]);
        assert_eq!(attached.from.as_deref(), Some("other@x"), "-r is -f");
        assert!(attached.verbose && !attached.ignore_dots);

        let clustered = parsed(&["-ti"]);
        assert!(clustered.recipients_from_headers && clustered.ignore_dots);
    }

    #[test]
    fn recipients_smtp_address_and_double_dash() {
        let opts = parsed(&[
            "a@x",
            "-f",
            "s@x",
            "--smtp-addr",
            "h:1",
            "--",
            "-odd@x",
            "b@x",
        ]);
        assert_eq!(opts.recipients, ["a@x", "-odd@x", "b@x"]);
        assert_eq!(opts.smtp_addr.as_deref(), Some("h:1"));
        assert_eq!(
            parsed(&["--smtp-addr=h:2"]).smtp_addr.as_deref(),
            Some("h:2")
        );
        assert_eq!(parsed(&["-S", "h:3"]).smtp_addr.as_deref(), Some("h:3"));
        assert!(parsed(&["--help"]).help);
    }

    #[test]
    fn bad_usage_is_ex_usage() {
        for bad in [
            &["-x"][..],
            &["-f"],
            &["-F"],
            &["--smtp-addr"],
            &["-bs"],
            &["-oz"],
            &["--bogus"],
            &["-tq"],
        ] {
            match args(bad) {
                Err(e) => assert_eq!(e.exit_code(), EX_USAGE, "{bad:?}: {e}"),
                Ok(opts) => panic!("{bad:?} was accepted: {opts:?}"),
            }
        }
    }

    #[test]
    fn address_lists() {
        for (value, expected) in [
            ("a@x", &["a@x"][..]),
            ("a@x, b@y ,c@z", &["a@x", "b@y", "c@z"]),
            ("\"Doe, John\" <j@x>, Ann <a@x>", &["j@x", "a@x"]),
            ("j@x (Doe, John), k@x", &["j@x", "k@x"]),
            ("Team: a@x, \"B, b\" <b@x>;, c@x", &["a@x", "b@x", "c@x"]),
            ("undisclosed-recipients:;", &[]),
            ("<@relay.example:u@x>", &["u@x"]),
            ("\"john doe\"@x", &["\"john doe\"@x"]),
            ("root", &["root"]),
            ("John Doe", &[]),
            ("u@[IPv6:::1]", &["u@[IPv6:::1]"]),
            ("", &[]),
        ] {
            assert_eq!(parse_address_list(value), expected, "{value:?}");
        }
    }

    #[test]
    fn recipients_from_folded_and_repeated_headers() {
        let input = "To: \"Doe, Jane\" <jane@x>,\n\tbob@x\nTo: carol@x\nCC: Team: dan@x;\nBcc: eve@x\nSubject: s\n\nTo: body@x\n";
        let s = prepared(input, &["-t"]);
        assert_eq!(
            s.recipients,
            ["jane@x", "bob@x", "carol@x", "dan@x", "eve@x"]
        );
        // Without -t and without arguments the headers are read too.
        assert_eq!(prepared(input, &[]).recipients, s.recipients);
        // With arguments and no -t only the arguments count.
        assert_eq!(prepared(input, &["zed@x"]).recipients, ["zed@x"]);
        // With both, both (duplicates once).
        assert_eq!(
            prepared(input, &["-t", "zed@x", "BOB@x"]).recipients,
            ["zed@x", "BOB@x", "jane@x", "carol@x", "dan@x", "eve@x"]
        );
    }

    #[test]
    fn bcc_is_removed_with_its_continuation_lines() {
        let input = "From: a@x\r\nDate: d\r\nMessage-ID: <m@x>\r\nBcc: b@x,\r\n c@x\r\nTo: t@x\r\n\r\nbody\r\n";
        let s = prepared(input, &["-t", "-f", "a@x"]);
        assert_eq!(
            String::from_utf8_lossy(&s.data),
            "From: a@x\r\nDate: d\r\nMessage-ID: <m@x>\r\nTo: t@x\r\n\r\nbody\r\n"
        );
        assert_eq!(s.recipients, ["t@x", "b@x", "c@x"]);
    }

    #[test]
    fn complete_messages_pass_unchanged_and_missing_headers_are_added() {
        let full = "From: a@x\r\nDate: d\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n";
        assert_eq!(prepared(full, &["b@x"]).data, full.as_bytes());

        let bare = prepared(
            "Subject: hi\n\nbody\n",
            &["-F", "Ann, Admin", "-f", "a@x", "b@x"],
        );
        assert_eq!(bare.sender, "a@x");
        assert_eq!(
            String::from_utf8_lossy(&bare.data),
            "From: \"Ann, Admin\" <a@x>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\
             Message-ID: <id@host>\r\nSubject: hi\r\n\r\nbody\r\n"
        );

        // No header section at all: the text stays the body.
        let text = prepared("just text\n", &["b@x"]);
        assert_eq!(text.sender, "www-data@host");
        assert!(
            text.data
                .ends_with(b"Message-ID: <id@host>\r\n\r\njust text\r\n"),
            "{}",
            String::from_utf8_lossy(&text.data)
        );
    }

    #[test]
    fn dots_line_endings_and_null_sender() {
        let input = "Subject: s\n\none\n.\ntwo\n";
        let cut = prepared(input, &["-f", "<>", "b@x"]);
        assert!(cut.data.ends_with(b"\r\n\r\none\r\n"));
        assert_eq!(cut.sender, "");
        let kept = prepared(input, &["-i", "b@x"]);
        assert!(kept.data.ends_with(b"\r\n\r\none\r\n.\r\ntwo\r\n"));
        assert!(
            prepared("Subject: s\r\n\r\nno newline", &["b@x"])
                .data
                .ends_with(b"no newline\r\n")
        );
        assert_eq!(dot_stuff(b".a\r\nb.\r\n..\r\n"), b"..a\r\nb.\r\n...\r\n");
    }

    #[test]
    fn missing_recipients_and_bad_addresses_are_data_errors() {
        let none = prepare(b"Subject: s\n\nx\n", &parsed(&["-t"]), &defaults());
        assert!(matches!(none, Err(SendmailError::NoRecipients)));
        let injected = prepare(b"\n", &parsed(&["a@x>\rRSET"]), &defaults());
        assert!(injected.is_err_and(|e| e.exit_code() == EX_DATAERR));
    }

    #[test]
    fn a_smtp_transcript() {
        let replies = "220 hi\r\n250-mx\r\n250-8BITMIME\r\n250 SIZE 10\r\n250 ok\r\n250 ok\r\n\
                       354 go\r\n250 queued\r\n221 bye\r\n";
        let mut written = Vec::new();
        let mut log = Vec::new();
        let submission = Submission {
            sender: "a@x".into(),
            recipients: vec!["b@x".into()],
            data: "Subject: é\r\n\r\n.dot\r\n".as_bytes().to_vec(),
        };
        let mut client = Client {
            reader: replies.as_bytes(),
            writer: &mut written,
            log: Some(&mut log),
        };
        assert!(submit(&mut client, "me", &submission).is_ok());
        assert_eq!(
            String::from_utf8_lossy(&written),
            "EHLO me\r\nMAIL FROM:<a@x> BODY=8BITMIME\r\nRCPT TO:<b@x>\r\nDATA\r\n\
             Subject: é\r\n\r\n..dot\r\n.\r\nQUIT\r\n"
        );
        let log = String::from_utf8_lossy(&log);
        assert!(log.contains(">>> RCPT TO:<b@x>\n<<< 250 ok\n"), "{log}");
        assert!(!log.contains("dot"), "the body is not logged: {log}");
    }

    #[test]
    fn helo_fallback_and_reply_codes_map_to_exit_codes() {
        let run = |replies: &str| {
            let mut written = Vec::new();
            let mut client = Client {
                reader: replies.as_bytes(),
                writer: &mut written,
                log: None,
            };
            let submission = Submission {
                sender: String::new(),
                recipients: vec!["b@x".into()],
                data: b"x\r\n".to_vec(),
            };
            (submit(&mut client, "me", &submission), written)
        };
        let (result, written) =
            run("220 hi\r\n500 what\r\n250 hello\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n");
        assert!(result.is_ok(), "{result:?}");
        assert!(
            String::from_utf8_lossy(&written).starts_with("EHLO me\r\nHELO me\r\nMAIL FROM:<>\r\n")
        );

        let code = |replies: &str| run(replies).0.map_err(|e| e.exit_code()).err();
        assert_eq!(code("220 hi\r\n250 x\r\n451 later\r\n"), Some(EX_TEMPFAIL));
        assert_eq!(
            code("220 hi\r\n250 x\r\n250 ok\r\n550 no such user\r\n"),
            Some(EX_UNAVAILABLE)
        );
        assert_eq!(code("554 go away\r\n"), Some(EX_UNAVAILABLE));
        assert_eq!(
            code("220 hi\r\n250-x\r\n"),
            Some(EX_TEMPFAIL),
            "connection closed mid-reply"
        );
        assert_eq!(
            code("220 hi\r\nhello\r\n"),
            Some(EX_UNAVAILABLE),
            "malformed reply"
        );
    }
}

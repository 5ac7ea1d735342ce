//! The SMTP session as a pure state machine: bytes in, replies and finished messages out.
//! No sockets, clocks or tasks live here, so every path is tested with byte transcripts and fuzzed.

use std::mem;
use std::net::SocketAddr;
use std::sync::Arc;

use super::auth::{self, Dialogue, Step};
use super::command::{Command, CommandError, MailParams};
use super::data::DataReceiver;
use super::reply::Reply;
use crate::chaos::{Chaos, Fault, Rng, Stage};
use crate::message::Envelope;

/// RFC 5321 4.5.3.1.4: a command line is at most 512 octets including CRLF.
pub const MAX_COMMAND_LINE: usize = 512;
/// RFC 4954 4: an AUTH command or response line may be up to 12288 octets.
pub const MAX_AUTH_LINE: usize = 12288;
/// After this many errors in one session the client is clearly not speaking SMTP: close (421).
pub const MAX_ERRORS: u32 = 20;

/// Everything a session needs to know about the server; shared by all sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our name in the greeting and replies.
    pub hostname: String,
    /// Largest message accepted, in bytes (advertised as SIZE unless `size_unlimited`).
    pub max_message_size: usize,
    /// The user set no size limit (`--max-message-size 0`): EHLO says `SIZE 0`, RFC 1870's "no
    /// fixed maximum", as Mailpit does. `max_message_size` then holds the store's byte bound,
    /// since a message larger than the whole store could never be kept.
    pub size_unlimited: bool,
    /// Most recipients per message (RFC 5321 4.5.3.1.8 requires at least 100).
    pub max_recipients: usize,
    /// TLS is configured, so STARTTLS is offered (until the session is encrypted).
    pub starttls: bool,
    /// MAIL is refused (530) until the session is encrypted.
    pub require_tls: bool,
    /// MAIL is refused (530) until the client has authenticated.
    pub require_auth: bool,
    /// Credentials are checked by the I/O loop ([`Output::Authenticate`]) instead of accepted.
    pub check_auth: bool,
    /// Offer and accept PLAIN and LOGIN before STARTTLS even though TLS is configured.
    pub auth_allow_insecure: bool,
    /// MailHog's behaviour (`--mailhog`): DATA or BDAT after MAIL with no RCPT is accepted, and the
    /// message's To, Cc and Bcc addresses become its recipients (BusyBox `sendmail -S` sends no
    /// RCPT, and MailHog stores such mail).
    pub mailhog: bool,
    /// Recipients must match this (`--smtp-allowed-recipients`); others get 550.
    pub allowed_recipients: Option<regex::Regex>,
    /// Answer 250 to recipients `allowed_recipients` refuses, and drop them
    /// (`--smtp-ignore-rejected-recipients`); a message left with none is not stored.
    pub ignore_rejected_recipients: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            hostname: crate::config::DEFAULT_HOSTNAME.into(),
            max_message_size: crate::config::DEFAULT_MAX_MESSAGE_SIZE as usize,
            size_unlimited: false,
            max_recipients: crate::config::DEFAULT_MAX_RECIPIENTS as usize,
            starttls: false,
            require_tls: false,
            require_auth: false,
            check_auth: false,
            auth_allow_insecure: false,
            mailhog: false,
            allowed_recipients: None,
            ignore_rejected_recipients: false,
        }
    }
}

/// What the session asks its I/O loop to do, in order.
#[derive(Debug)]
pub enum Output {
    /// Write this reply.
    Reply(Reply),
    /// A complete message: store it, then call [`Session::delivered`] and write that reply.
    /// The session consumes no input until then, so pipelined replies stay in order.
    Message(Received),
    /// Flush what was written and close the connection.
    Close,
    /// Flush what was written, then run the TLS handshake and call [`Session::tls_started`].
    /// Input after the STARTTLS line is not consumed and must be discarded (RFC 3207 5).
    StartTls,
    /// Check these credentials, then call [`Session::authenticated`] and write that reply.
    Authenticate(auth::Credentials),
    /// A transaction step was refused (size, TLS or AUTH required, chaos, no recipients): for the
    /// runtime counters. The reply that says so is pushed as well.
    Rejected,
}

/// A message as it came off the wire, with its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub envelope: Envelope,
    pub data: Vec<u8>,
}

#[derive(Debug)]
enum State {
    /// Reading command lines.
    Command,
    /// Inside an AUTH exchange, reading the client's next response line.
    Auth(Dialogue),
    /// After `354`, reading the message.
    Data(DataReceiver),
    /// Reading `remaining` octets of a BDAT chunk; `error` is the reply owed once they are drained.
    Bdat {
        remaining: u64,
        last: bool,
        error: Option<Reply>,
    },
    /// A message was handed out and the store's verdict is pending.
    AwaitingStore,
    /// STARTTLS was accepted; the handshake is pending.
    AwaitingTls,
    /// Credentials were handed out for checking.
    AwaitingAuth,
    /// QUIT or a fatal error: nothing more is read.
    Closed,
}

/// A mail transaction between MAIL FROM and the end of DATA/BDAT.
#[derive(Debug)]
struct Transaction {
    from: String,
    params: MailParams,
    rcpts: Vec<String>,
    /// Recipients were refused by `allowed_recipients` and dropped with a 250
    /// (`ignore_rejected_recipients`): DATA is still accepted, as Mailpit does.
    dropped_rcpts: bool,
    /// BDAT chunks received so far.
    chunks: Vec<u8>,
    chunked: bool,
}

/// One client's SMTP session.
#[derive(Debug)]
pub struct Session {
    config: Arc<SessionConfig>,
    /// Fault injection, shared and changed at runtime by the chaos routes; inert unless set.
    chaos: Arc<Chaos>,
    client_addr: Option<SocketAddr>,
    nonce: String,
    state: State,
    /// A partial command line carried over between reads.
    line: Vec<u8>,
    /// The current line grew past [`MAX_AUTH_LINE`]; discard until its end, then answer 500.
    line_overflow: bool,
    helo: Option<String>,
    esmtp: bool,
    auth_user: Option<String>,
    /// The TLS protocol in use (`TLSv1.3`), if any.
    tls: Option<String>,
    transaction: Option<Transaction>,
    errors: u32,
    /// Failed AUTH attempts in this session: the I/O loop slows each next answer down.
    auth_failures: u32,
    /// Dice for chaos, seeded from the nonce so a session is reproducible.
    rng: Rng,
}

impl Session {
    /// A new session for a client at `client_addr`. `nonce` must differ per session (it seeds the
    /// CRAM-MD5 challenge). Call [`Session::greeting`] for the first reply.
    pub fn new(
        config: Arc<SessionConfig>,
        chaos: Arc<Chaos>,
        client_addr: Option<SocketAddr>,
        nonce: String,
    ) -> Session {
        Session {
            config,
            chaos,
            client_addr,
            state: State::Command,
            line: Vec::new(),
            line_overflow: false,
            helo: None,
            esmtp: false,
            auth_user: None,
            tls: None,
            transaction: None,
            errors: 0,
            auth_failures: 0,
            rng: Rng::new(seed(&nonce)),
            nonce,
        }
    }

    /// The 220 banner.
    pub fn greeting(&self) -> Reply {
        Reply::new(
            220,
            "",
            format!("{} ESMTP mailsnare ready", self.config.hostname),
        )
    }

    /// The 421 sent when the I/O loop gives up on an idle client.
    pub fn timeout_reply(&self) -> Reply {
        Reply::new(
            421,
            "4.4.2",
            format!("{} Idle timeout, closing connection", self.config.hostname),
        )
    }

    /// The 421 sent when the server shuts down.
    pub fn shutdown_reply(&self) -> Reply {
        Reply::new(
            421,
            "4.3.2",
            format!(
                "{} Service shutting down, closing connection",
                self.config.hostname
            ),
        )
    }

    /// Marks the session as running over TLS from the start (implicit TLS).
    pub fn set_tls(&mut self, protocol: String) {
        self.tls = Some(protocol);
    }

    /// The STARTTLS handshake succeeded: RFC 3207 4.2 says the client starts over with EHLO and
    /// nothing learned before (HELO name, AUTH, transaction) carries over.
    pub fn tls_started(&mut self, protocol: String) {
        self.tls = Some(protocol);
        self.state = State::Command;
        self.helo = None;
        self.esmtp = false;
        self.auth_user = None;
        self.transaction = None;
        self.line.clear();
        self.line_overflow = false;
    }

    /// Reports whether the credentials handed out with [`Output::Authenticate`] were right; the
    /// answer (and, after too many errors, the close) is pushed to `out`. A failure counts as an
    /// error, so guessing ends the session like any other abuse.
    pub fn authenticated(&mut self, user: Option<String>, out: &mut Vec<Output>) {
        if matches!(self.state, State::AwaitingAuth) {
            self.state = State::Command;
        }
        match user {
            Some(user) => {
                self.auth_user = Some(user);
                Self::reply(out, 235, "2.7.0", "Authentication successful");
            }
            None => {
                self.auth_failures += 1;
                self.error(
                    out,
                    Reply::new(535, "5.7.8", "Authentication credentials invalid"),
                );
            }
        }
    }

    /// Failed AUTH attempts so far in this session.
    pub fn auth_failures(&self) -> u32 {
        self.auth_failures
    }

    /// PLAIN and LOGIN send the password as it is: not before STARTTLS when TLS is available,
    /// unless the configuration allows it (RFC 4954 4).
    fn plaintext_auth_allowed(&self) -> bool {
        self.tls.is_some() || !self.config.starttls || self.config.auth_allow_insecure
    }

    /// True while a transaction is open or a message is being read: shutdown waits for these.
    pub fn in_transaction(&self) -> bool {
        self.transaction.is_some() || !matches!(self.state, State::Command | State::Closed)
    }

    /// True once the session will read nothing more.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Feeds bytes from the client and returns how many were consumed. All of `input` is consumed
    /// unless a message completes ([`Output::Message`], the last output pushed) or the session
    /// closes; the caller feeds the rest after [`Session::delivered`].
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<Output>) -> usize {
        let mut i = 0;
        while i < input.len() {
            match &mut self.state {
                State::Closed | State::AwaitingStore | State::AwaitingTls | State::AwaitingAuth => {
                    return i;
                }
                State::Data(receiver) => match receiver.feed(&input[i..]) {
                    Some(n) => {
                        i += n;
                        self.finish_data(out);
                    }
                    None => i = input.len(),
                },
                State::Bdat { remaining, .. } => {
                    let take =
                        (input.len() - i).min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    *remaining -= take as u64;
                    let chunk_done = *remaining == 0;
                    self.take_chunk(&input[i..i + take]);
                    i += take;
                    if chunk_done {
                        self.finish_chunk(out);
                    }
                }
                State::Command | State::Auth(_) => i += self.read_line(&input[i..], out),
            }
        }
        // A chunk of size zero completes without any input.
        if let State::Bdat { remaining: 0, .. } = self.state {
            self.finish_chunk(out);
        }
        i
    }

    /// Reports the store's verdict on the message last handed out and returns the reply to send.
    pub fn delivered(&mut self, result: Result<&str, &str>) -> Reply {
        if matches!(self.state, State::AwaitingStore) {
            self.state = State::Command;
        }
        match result {
            Ok(id) => {
                self.errors = 0;
                Reply::new(250, "2.0.0", format!("Ok: queued as {id}"))
            }
            Err(why) => Reply::new(451, "4.3.0", format!("Message not stored: {why}")),
        }
    }

    /// Reads up to one line from `input`; returns the bytes consumed.
    fn read_line(&mut self, input: &[u8], out: &mut Vec<Output>) -> usize {
        let Some(end) = memchr::memchr(b'\n', input) else {
            if !self.line_overflow {
                if self.line.len() + input.len() > MAX_AUTH_LINE {
                    self.line_overflow = true;
                    self.line = Vec::new();
                } else {
                    self.line.extend_from_slice(input);
                }
            }
            return input.len();
        };
        let consumed = end + 1;
        if mem::take(&mut self.line_overflow) {
            self.line.clear();
            self.line_too_long(out);
            return consumed;
        }
        if self.line.is_empty() {
            self.handle_line(&input[..end], out);
        } else {
            let mut line = mem::take(&mut self.line);
            line.extend_from_slice(&input[..end]);
            self.handle_line(&line, out);
            line.clear();
            if line.capacity() <= MAX_COMMAND_LINE {
                self.line = line;
            }
        }
        consumed
    }

    fn handle_line(&mut self, line: &[u8], out: &mut Vec<Output>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_AUTH_LINE {
            return self.line_too_long(out);
        }
        let text = String::from_utf8_lossy(line);
        match mem::replace(&mut self.state, State::Command) {
            State::Auth(dialogue) => {
                let step = auth::respond(dialogue, &text);
                self.auth_step(step, out);
            }
            _ => {
                let is_auth = text
                    .get(..5)
                    .is_some_and(|v| v.eq_ignore_ascii_case("AUTH "));
                if line.len() + 2 > MAX_COMMAND_LINE && !is_auth {
                    return self.line_too_long(out);
                }
                match Command::parse(&text) {
                    Ok(command) => self.execute(command, out),
                    Err(CommandError::Unknown) => {
                        self.error(out, Reply::new(500, "5.5.2", "Command not recognized"))
                    }
                    Err(CommandError::Syntax(why)) => {
                        self.error(out, Reply::new(501, "5.5.4", why))
                    }
                    Err(CommandError::UnsupportedParam(param)) => self.error(
                        out,
                        Reply::new(555, "5.5.4", format!("Unsupported parameter {param}")),
                    ),
                    Err(CommandError::BadAddress) => self.error(
                        out,
                        Reply::new(553, "5.1.3", "The address is not a valid RFC 5321 address"),
                    ),
                }
            }
        }
    }

    fn line_too_long(&mut self, out: &mut Vec<Output>) {
        self.state = State::Command;
        self.error(out, Reply::new(500, "5.5.6", "Line too long"));
    }

    /// Sends an error reply, closing the session once a client has made too many.
    fn error(&mut self, out: &mut Vec<Output>, reply: Reply) {
        self.errors += 1;
        out.push(Output::Reply(reply));
        if self.errors >= MAX_ERRORS {
            self.close(
                out,
                Reply::new(
                    421,
                    "4.7.0",
                    format!(
                        "{} Too many errors, closing connection",
                        self.config.hostname
                    ),
                ),
            );
        }
    }

    fn close(&mut self, out: &mut Vec<Output>, reply: Reply) {
        out.push(Output::Reply(reply));
        out.push(Output::Close);
        self.state = State::Closed;
        self.transaction = None;
    }

    /// Refuses a transaction step: counted as a rejection and as a client error.
    fn refuse(&mut self, out: &mut Vec<Output>, reply: Reply) {
        out.push(Output::Rejected);
        self.error(out, reply);
    }

    fn reply(out: &mut Vec<Output>, code: u16, status: &'static str, text: &'static str) {
        out.push(Output::Reply(Reply::new(code, status, text)));
    }

    /// The 530 owed before `command` may run: TLS first (RFC 3207 4: every command but NOOP,
    /// EHLO, STARTTLS and QUIT; HELO too, as Mailpit allows it), then AUTH for the transaction
    /// commands (RFC 4954 6).
    fn gate(&self, command: &Command) -> Option<Reply> {
        let before_tls = matches!(
            command,
            Command::Noop | Command::Ehlo(_) | Command::Helo(_) | Command::StartTls | Command::Quit
        );
        if self.config.require_tls && self.tls.is_none() && !before_tls {
            return Some(Reply::new(
                530,
                "5.7.0",
                "Must issue a STARTTLS command first",
            ));
        }
        let transaction = matches!(
            command,
            Command::Mail { .. } | Command::Rcpt { .. } | Command::Data | Command::Bdat { .. }
        );
        if self.config.require_auth && self.auth_user.is_none() && transaction {
            return Some(Reply::new(530, "5.7.0", "Authentication required"));
        }
        None
    }

    fn execute(&mut self, command: Command, out: &mut Vec<Output>) {
        if let Some(reply) = self.gate(&command) {
            if let Command::Bdat { size, last } = command {
                // The chunk's octets follow regardless; they are drained before the 530.
                return self.bdat(size, last, Some(reply));
            }
            if matches!(
                command,
                Command::Mail { .. } | Command::Rcpt { .. } | Command::Data
            ) {
                return self.refuse(out, reply);
            }
            return self.error(out, reply);
        }
        match command {
            Command::Helo(name) => {
                self.transaction = None;
                let greeting = format!("{} greets {}", self.config.hostname, name);
                self.helo = Some(name);
                self.esmtp = false;
                out.push(Output::Reply(Reply::new(250, "", greeting)));
            }
            Command::Ehlo(name) => {
                self.transaction = None;
                let greeting = format!("{} greets {}", self.config.hostname, name);
                self.helo = Some(name);
                self.esmtp = true;
                out.push(Output::Reply(self.ehlo_reply(greeting)));
            }
            Command::Mail { from, params } => self.mail(from, params, out),
            Command::Rcpt { to } => self.rcpt(to, out),
            Command::Data => self.data(out),
            Command::Bdat { size, last } => self.bdat(size, last, None),
            Command::Rset => {
                self.transaction = None;
                Self::reply(out, 250, "2.0.0", "Ok");
            }
            Command::Noop => Self::reply(out, 250, "2.0.0", "Ok"),
            Command::Quit => {
                let bye = Reply::new(
                    221,
                    "2.0.0",
                    format!("{} closing connection", self.config.hostname),
                );
                self.close(out, bye);
            }
            Command::Vrfy | Command::Expn => Self::reply(
                out,
                252,
                "2.5.0",
                "Cannot verify users, but will accept messages for any recipient",
            ),
            Command::Help => Self::reply(
                out,
                214,
                "2.0.0",
                "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY EXPN HELP AUTH",
            ),
            Command::Auth { mechanism, initial } => self.auth(&mechanism, initial.as_deref(), out),
            Command::StartTls => self.starttls(out),
        }
    }

    fn ehlo_reply(&self, greeting: String) -> Reply {
        Reply::multi(
            250,
            "",
            vec![
                greeting.into(),
                "PIPELINING".into(),
                if self.config.size_unlimited {
                    "SIZE 0".into()
                } else {
                    format!("SIZE {}", self.config.max_message_size).into()
                },
                "8BITMIME".into(),
                "SMTPUTF8".into(),
                "ENHANCEDSTATUSCODES".into(),
                "CHUNKING".into(),
                if self.plaintext_auth_allowed() {
                    format!("AUTH {}", auth::MECHANISMS).into()
                } else {
                    format!("AUTH {}", auth::ENCRYPTED_MECHANISMS).into()
                },
            ]
            .into_iter()
            .chain((self.config.starttls && self.tls.is_none()).then(|| "STARTTLS".into()))
            .collect(),
        )
    }

    fn starttls(&mut self, out: &mut Vec<Output>) {
        if !self.config.starttls {
            return self.error(out, Reply::new(502, "5.5.1", "STARTTLS is not available"));
        }
        if self.tls.is_some() {
            return self.error(out, Reply::new(503, "5.5.1", "TLS is already active"));
        }
        if self.transaction.is_some() {
            return self.error(
                out,
                Reply::new(
                    503,
                    "5.5.1",
                    "STARTTLS not allowed during a mail transaction",
                ),
            );
        }
        Self::reply(out, 220, "2.0.0", "Ready to start TLS");
        out.push(Output::StartTls);
        self.state = State::AwaitingTls;
    }

    fn mail(&mut self, from: String, params: MailParams, out: &mut Vec<Output>) {
        if self.helo.is_none() {
            return self.error(out, Reply::new(503, "5.5.1", "Send HELO or EHLO first"));
        }
        if self.transaction.is_some() {
            return self.error(out, Reply::new(503, "5.5.1", "Nested MAIL command"));
        }
        if params
            .size
            .is_some_and(|size| size > self.config.max_message_size as u64)
        {
            return self.refuse(
                out,
                Reply::new(
                    552,
                    "5.3.4",
                    "Message size exceeds fixed maximum message size",
                ),
            );
        }
        if let Some(fault) = self.chaos(Stage::Sender) {
            out.push(Output::Rejected);
            return out.push(Output::Reply(fault_reply(fault, "Sender rejected")));
        }
        self.transaction = Some(Transaction {
            from,
            params,
            rcpts: Vec::new(),
            dropped_rcpts: false,
            chunks: Vec::new(),
            chunked: false,
        });
        Self::reply(out, 250, "2.1.0", "Ok");
    }

    fn rcpt(&mut self, to: String, out: &mut Vec<Output>) {
        let max = self.config.max_recipients;
        if self.transaction.is_some()
            && let Some(fault) = self.chaos(Stage::Recipient)
        {
            out.push(Output::Rejected);
            return out.push(Output::Reply(fault_reply(fault, "Recipient rejected")));
        }
        let Some(transaction) = &mut self.transaction else {
            return self.error(out, Reply::new(503, "5.5.1", "Need MAIL before RCPT"));
        };
        if transaction.rcpts.len() >= max {
            // RFC 5321 4.5.3.1.10: 452 for too many recipients; the client sends the rest later.
            return Self::reply(out, 452, "4.5.3", "Too many recipients");
        }
        // Mailpit matches the pattern anywhere in the address (Go's MatchString), as `is_match` does.
        let allowed = self
            .config
            .allowed_recipients
            .as_ref()
            .is_none_or(|pattern| pattern.is_match(&to));
        if allowed {
            transaction.rcpts.push(to);
            return Self::reply(out, 250, "2.1.5", "Ok");
        }
        out.push(Output::Rejected);
        if self.config.ignore_rejected_recipients {
            transaction.dropped_rcpts = true;
            return Self::reply(out, 250, "2.1.5", "Ok");
        }
        self.error(
            out,
            Reply::new(
                550,
                "5.1.0",
                "Requested action not taken: mailbox unavailable",
            ),
        );
    }

    /// The reply owed when DATA or BDAT arrives with no usable transaction, if any.
    fn transaction_error(&self) -> Option<Reply> {
        match &self.transaction {
            None => Some(Reply::new(503, "5.5.1", "Need MAIL command")),
            Some(t) if t.rcpts.is_empty() && !t.dropped_rcpts && !self.config.mailhog => {
                Some(Reply::new(554, "5.5.1", "No valid recipients"))
            }
            _ => None,
        }
    }

    fn data(&mut self, out: &mut Vec<Output>) {
        if let Some(reply) = self.transaction_error() {
            if self.transaction.is_some() {
                return self.refuse(out, reply);
            }
            return self.error(out, reply);
        }
        if self.transaction.as_ref().is_some_and(|t| t.chunked) {
            return self.error(out, Reply::new(503, "5.5.1", "DATA cannot follow BDAT"));
        }
        self.state = State::Data(DataReceiver::new(self.config.max_message_size));
        Self::reply(out, 354, "", "End data with <CR><LF>.<CR><LF>");
    }

    /// `gate` is a refusal already decided (530) for this chunk.
    fn bdat(&mut self, size: u64, last: bool, gate: Option<Reply>) {
        // RFC 3030 2: the chunk's octets follow regardless, so they are drained before any error reply.
        let mut error = gate.or_else(|| self.transaction_error());
        if let (None, Some(t)) = (&error, &mut self.transaction) {
            t.chunked = true;
            if t.chunks.len() as u64 + size > self.config.max_message_size as u64 {
                t.chunks = Vec::new();
                error = Some(Reply::new(
                    552,
                    "5.3.4",
                    "Message size exceeds fixed maximum message size",
                ));
            }
        }
        self.state = State::Bdat {
            remaining: size,
            last,
            error,
        };
    }

    fn take_chunk(&mut self, bytes: &[u8]) {
        if let (State::Bdat { error: None, .. }, Some(t)) = (&self.state, &mut self.transaction) {
            t.chunks.extend_from_slice(bytes);
        }
    }

    fn finish_chunk(&mut self, out: &mut Vec<Output>) {
        let State::Bdat { last, error, .. } = mem::replace(&mut self.state, State::Command) else {
            return;
        };
        if let Some(reply) = error {
            // RFC 3030 3: a failed chunk ends the transaction.
            let refused = self.transaction.take().is_some();
            if refused {
                return self.refuse(out, reply);
            }
            return self.error(out, reply);
        }
        if !last {
            let received = self.transaction.as_ref().map_or(0, |t| t.chunks.len());
            out.push(Output::Reply(Reply::new(
                250,
                "2.0.0",
                format!("{received} octets received"),
            )));
            return;
        }
        if let Some(mut t) = self.transaction.take() {
            let data = std::mem::take(&mut t.chunks);
            self.deliver(data, t, out);
        }
    }

    fn finish_data(&mut self, out: &mut Vec<Output>) {
        let State::Data(receiver) = mem::replace(&mut self.state, State::Command) else {
            return;
        };
        let Some(t) = self.transaction.take() else {
            return;
        };
        match receiver.finish() {
            Ok(data) => self.deliver(data, t, out),
            Err(_) => self.refuse(
                out,
                Reply::new(
                    552,
                    "5.3.4",
                    "Message size exceeds fixed maximum message size",
                ),
            ),
        }
    }

    fn deliver(&mut self, data: Vec<u8>, t: Transaction, out: &mut Vec<Output>) {
        let Transaction {
            from,
            params,
            mut rcpts,
            dropped_rcpts,
            ..
        } = t;
        if rcpts.is_empty() {
            if dropped_rcpts {
                // Every recipient was refused and ignored: nothing to store, yet the client was
                // promised success (Mailpit answers the same; the text says what happened).
                self.errors = 0;
                return Self::reply(out, 250, "2.0.0", "Ok: not stored, no allowed recipients");
            }
            // Only reachable with `mailhog`: the header addresses stand in for RCPT.
            rcpts = crate::mime::headers::addressing(&data).recipients;
        }
        // The envelope lives as long as the message: no spare slots from the RCPT pushes.
        rcpts.shrink_to_fit();
        let envelope = Envelope {
            helo: self.helo.clone().unwrap_or_default(),
            esmtp: self.esmtp,
            mail_from: from,
            rcpt_to: rcpts,
            client_addr: self.client_addr,
            auth_user: self.auth_user.clone(),
            tls: self.tls.clone(),
            smtputf8: params.smtputf8,
            eight_bit: params.eight_bit,
        };
        out.push(Output::Message(Received { envelope, data }));
        self.state = State::AwaitingStore;
    }

    fn auth(&mut self, mechanism: &str, initial: Option<&str>, out: &mut Vec<Output>) {
        if !self.esmtp {
            return self.error(out, Reply::new(503, "5.5.1", "Send EHLO first"));
        }
        if self.auth_user.is_some() {
            return self.error(out, Reply::new(503, "5.5.1", "Already authenticated"));
        }
        if self.transaction.is_some() {
            return self.error(
                out,
                Reply::new(503, "5.5.1", "AUTH not allowed during a mail transaction"),
            );
        }
        if auth::is_plaintext(mechanism) && !self.plaintext_auth_allowed() {
            return self.error(
                out,
                Reply::new(
                    538,
                    "5.7.11",
                    "Encryption required for requested authentication mechanism",
                ),
            );
        }
        let step = auth::start(mechanism, initial, &self.nonce, &self.config.hostname);
        self.auth_step(step, out);
    }

    fn auth_step(&mut self, step: Step, out: &mut Vec<Output>) {
        match step {
            Step::Continue(reply, dialogue) => {
                self.state = State::Auth(dialogue);
                out.push(Output::Reply(reply));
            }
            Step::Done(credentials) => {
                if let Some(fault) = self.chaos(Stage::Authentication) {
                    out.push(Output::Rejected);
                    return out.push(Output::Reply(fault_reply(fault, "Authentication failed")));
                }
                if self.config.check_auth {
                    out.push(Output::Authenticate(credentials));
                    self.state = State::AwaitingAuth;
                    return;
                }
                // Without a password file any credentials are accepted: the user is recorded.
                self.auth_user = Some(credentials.user);
                Self::reply(out, 235, "2.7.0", "Authentication successful");
            }
            Step::Fail(reply) => self.error(out, reply),
        }
    }
}

impl Session {
    fn chaos(&mut self, stage: Stage) -> Option<Fault> {
        self.chaos.fault(stage, &mut self.rng)
    }
}

/// The reply for an injected fault: the configured code with a matching enhanced status.
fn fault_reply(fault: Fault, what: &'static str) -> Reply {
    let status = match fault.code {
        535 => "5.7.8",
        550..=559 => "5.7.1",
        500..=599 => "5.0.0",
        _ => "4.0.0",
    };
    Reply::new(fault.code, status, format!("{what} (chaos)"))
}

/// FNV-1a: spreads the nonce into a PRNG seed.
fn seed(nonce: &str) -> u64 {
    nonce.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;

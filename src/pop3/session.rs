//! The POP3 session as a pure state machine: bytes in, replies and requests for the I/O loop out
//! (check a login, mark a message read, apply deletions, start TLS). No sockets, clocks or tasks
//! live here, so every path is tested with byte transcripts and fuzzed.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use uuid::Uuid;

use super::command::{self, Command, CommandError};
use super::maildrop::{Body, Entry, Maildrop};

/// After this many errors (unknown commands, bad arguments, commands out of state, overlong
/// lines) the client is clearly not speaking POP3: the session closes.
pub const MAX_ERRORS: u32 = 20;

/// Everything a session needs to know about the server; shared by all sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our name in the greeting.
    pub hostname: String,
    /// TLS is configured and the connection is plain, so STLS is offered.
    pub stls: bool,
    /// Longest command line in octets, its CRLF aside. A longer one is drained, never buffered,
    /// then answered `-ERR line too long`; the session goes on.
    pub max_line: usize,
    /// Failed logins before the connection is closed.
    pub max_login_failures: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            hostname: crate::config::DEFAULT_HOSTNAME.into(),
            stls: false,
            max_line: crate::config::DEFAULT_READER_MAX_LINE,
            max_login_failures: crate::config::DEFAULT_MAX_LOGIN_FAILURES,
        }
    }
}

/// Credentials for the I/O loop to check; answer with [`Session::logged_in`].
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Why a login did not open a maildrop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong user name or password.
    Refused,
    /// The credentials are right but the maildrop cannot be opened now.
    Unavailable(String),
}

/// What the session asks of the I/O loop, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Reply lines, each ending in CRLF.
    Reply(Vec<u8>),
    /// The rest of a RETR or TOP response: encode it ([`Body::encoder`]) and write it out.
    Body(Body),
    /// Check these credentials; the session reads nothing until [`Session::logged_in`].
    Login(Login),
    /// RETR sent this message: mark it read in the store.
    Seen(Uuid),
    /// QUIT in the TRANSACTION state: delete these messages, then call [`Session::updated`].
    Update(Vec<Uuid>),
    /// STLS was accepted: write what came before, then do the TLS handshake and call
    /// [`Session::tls_started`]. Whatever the client sent after STLS in the same read must be
    /// dropped (RFC 2595 4: nothing from before the handshake may be taken as encrypted input).
    StartTls,
    /// Close the connection once the replies are written.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Authorization,
    Transaction,
    Closed,
}

/// One POP3 session.
#[derive(Debug)]
pub struct Session {
    config: Arc<SessionConfig>,
    state: State,
    /// An answer the I/O loop owes (a login, deletions, a handshake): input waits for it.
    waiting: bool,
    /// The name USER gave, for PASS.
    user: Option<String>,
    /// `AUTH PLAIN` without an initial response: the next line is the response.
    sasl: bool,
    tls: bool,
    maildrop: Maildrop,
    login_failures: u32,
    errors: u32,
    /// A command line cut by a read.
    line: Vec<u8>,
    /// The line being read is already over the limit: drained, not kept.
    overlong: bool,
}

impl Session {
    pub fn new(config: Arc<SessionConfig>) -> Session {
        Session {
            config,
            state: State::Authorization,
            waiting: false,
            user: None,
            sasl: false,
            tls: false,
            maildrop: Maildrop::default(),
            login_failures: 0,
            errors: 0,
            line: Vec::new(),
            overlong: false,
        }
    }

    /// The session runs inside TLS from the start (the POP3S listener).
    pub fn set_tls(&mut self) {
        self.tls = true;
    }

    pub fn greeting(&self) -> Vec<u8> {
        format!("+OK {} POP3 mailsnare ready\r\n", self.config.hostname).into_bytes()
    }

    /// Sent when the client was silent for the idle timeout; then the connection closes, and
    /// no deletion is applied (RFC 1939 3: only QUIT enters the UPDATE state).
    pub fn timeout_reply(&self) -> Vec<u8> {
        b"-ERR idle timeout, closing connection\r\n".to_vec()
    }

    /// Sent when the server shuts down between commands; deletions are not applied.
    pub fn shutdown_reply(&self) -> Vec<u8> {
        b"-ERR [SYS/TEMP] server shutting down\r\n".to_vec()
    }

    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    pub fn in_transaction(&self) -> bool {
        self.state == State::Transaction
    }

    /// Failed logins so far: the I/O loop waits longer after each.
    pub fn login_failures(&self) -> u32 {
        self.login_failures
    }

    /// Consumes complete command lines from `input`, appending what the I/O loop must do to
    /// `out`. Returns how much of `input` was used: all of it, unless the session now waits for
    /// an answer ([`Output::Login`], [`Output::Update`], [`Output::StartTls`]) or closed; the
    /// rest is to be fed again after the answer (except after STLS).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<Output>) -> usize {
        let mut used = 0;
        while used < input.len() && !self.waiting && self.state != State::Closed {
            let rest = &input[used..];
            let Some(lf) = memchr::memchr(b'\n', rest) else {
                self.keep(rest);
                return input.len();
            };
            used += lf + 1;
            let piece = &rest[..lf];
            if self.overlong {
                self.overlong = false;
                self.line.clear();
                self.too_long(out);
            } else if self.line.is_empty() {
                self.line_in(piece, out);
            } else {
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(piece);
                self.line_in(&line, out);
                line.clear();
                self.line = line;
            }
        }
        used
    }

    /// Keeps the start of a line cut by a read, unless it is already too long. The bound is one
    /// more than `max_line` because the last byte kept may be the CR of the CRLF.
    fn keep(&mut self, piece: &[u8]) {
        if self.overlong {
            return;
        }
        if self.line.len() + piece.len() > self.config.max_line.saturating_add(1) {
            self.overlong = true;
            self.line = Vec::new();
        } else {
            self.line.extend_from_slice(piece);
        }
    }

    fn line_in(&mut self, line: &[u8], out: &mut Vec<Output>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > self.config.max_line {
            return self.too_long(out);
        }
        if std::mem::take(&mut self.sasl) {
            return self.plain_response(line, out);
        }
        match command::parse(line) {
            Ok(command) => self.command(command, out),
            Err(CommandError::Syntax(usage)) => self.error(out, &format!("syntax: {usage}")),
            Err(e) => self.error(out, &e.to_string()),
        }
    }

    /// An overlong line is answered like any bad line; it also ends an AUTH dialogue.
    fn too_long(&mut self, out: &mut Vec<Output>) {
        self.sasl = false;
        self.error(out, "line too long");
    }

    fn command(&mut self, command: Command<'_>, out: &mut Vec<Output>) {
        use Command as C;
        match (self.state, command) {
            (_, C::Capa) => self.capa(out),
            (_, C::Quit) => self.quit(out),
            (State::Authorization, C::User(name)) => {
                self.user = Some(name.to_string());
                ok(out, "send PASS");
            }
            (State::Authorization, C::Pass(password)) => match self.user.take() {
                Some(user) => self.login(user, password.to_string(), out),
                None => self.error(out, "USER first"),
            },
            (State::Authorization, C::Auth(None)) => {
                out.push(Output::Reply(
                    b"+OK methods follow\r\nPLAIN\r\n.\r\n".to_vec(),
                ));
            }
            (State::Authorization, C::Auth(Some((mechanism, initial)))) => {
                if !mechanism.eq_ignore_ascii_case("PLAIN") {
                    return self.error(out, "unsupported authentication mechanism");
                }
                match initial {
                    Some(response) => self.plain_response(response.as_bytes(), out),
                    None => {
                        // RFC 5034 4: an empty challenge.
                        self.sasl = true;
                        out.push(Output::Reply(b"+ \r\n".to_vec()));
                    }
                }
            }
            (State::Authorization, C::Stls) => {
                if self.tls {
                    self.error(out, "TLS already active");
                } else if !self.config.stls {
                    self.error(out, "STLS not available");
                } else {
                    ok(out, "begin TLS negotiation");
                    out.push(Output::StartTls);
                    self.waiting = true;
                }
            }
            (State::Authorization, _) => self.error(out, "not valid in the AUTHORIZATION state"),
            (State::Transaction, C::User(_) | C::Pass(_) | C::Auth(_)) => {
                self.error(out, "already logged in")
            }
            (State::Transaction, C::Stls) => {
                self.error(out, "STLS is only valid in the AUTHORIZATION state")
            }
            (State::Transaction, command) => self.transaction(command, out),
            // Nothing is read once closed.
            (State::Closed, _) => {}
        }
    }

    fn transaction(&mut self, command: Command<'_>, out: &mut Vec<Output>) {
        match command {
            Command::Stat => {
                let (n, octets) = self.maildrop.stat();
                ok(out, &format!("{n} {octets}"));
            }
            Command::List(None) => {
                let (n, octets) = self.maildrop.stat();
                let mut reply = format!("+OK {n} messages ({octets} octets)\r\n");
                for (number, entry) in self.maildrop.live() {
                    let _ = write!(reply, "{number} {}\r\n", entry.size());
                }
                reply.push_str(".\r\n");
                out.push(Output::Reply(reply.into_bytes()));
            }
            Command::List(Some(number)) => match self.entry(number) {
                Ok(entry) => ok(out, &format!("{number} {}", entry.size())),
                Err(e) => err(out, &e),
            },
            Command::Uidl(None) => {
                let mut reply = String::from("+OK unique-id listing follows\r\n");
                for (number, entry) in self.maildrop.live() {
                    let _ = write!(reply, "{number} {}\r\n", entry.id);
                }
                reply.push_str(".\r\n");
                out.push(Output::Reply(reply.into_bytes()));
            }
            Command::Uidl(Some(number)) => match self.entry(number) {
                Ok(entry) => ok(out, &format!("{number} {}", entry.id)),
                Err(e) => err(out, &e),
            },
            Command::Retr(number) => match self.entry(number) {
                Ok(entry) => {
                    let (size, body, id) = (entry.size(), Body::whole(entry), entry.id);
                    ok(out, &format!("{size} octets"));
                    out.push(Output::Body(body));
                    out.push(Output::Seen(id));
                }
                Err(e) => err(out, &e),
            },
            Command::Top(number, lines) => match self.entry(number) {
                Ok(entry) => {
                    let body = Body::top(entry, lines);
                    ok(out, "top of message follows");
                    out.push(Output::Body(body));
                }
                Err(e) => err(out, &e),
            },
            Command::Dele(number) => match self.entry(number) {
                Ok(_) => {
                    self.maildrop.delete(number);
                    ok(out, &format!("message {number} deleted"));
                }
                Err(e) => err(out, &e),
            },
            Command::Rset => {
                self.maildrop.undelete_all();
                let (n, octets) = self.maildrop.stat();
                ok(out, &format!("maildrop has {n} messages ({octets} octets)"));
            }
            Command::Noop => ok(out, ""),
            // The rest are answered before the state is looked at.
            Command::User(_)
            | Command::Pass(_)
            | Command::Auth(_)
            | Command::Stls
            | Command::Capa
            | Command::Quit => {}
        }
    }

    /// Message `number`, unless it does not exist or is marked deleted.
    fn entry(&self, number: usize) -> Result<&Entry, String> {
        match self.maildrop.get(number) {
            None => Err("no such message".into()),
            Some(entry) if entry.is_deleted() => Err(format!("message {number} already deleted")),
            Some(entry) => Ok(entry),
        }
    }

    fn capa(&self, out: &mut Vec<Output>) {
        let mut reply = String::from("+OK capability list follows\r\nTOP\r\nUIDL\r\n");
        if self.state == State::Authorization {
            reply.push_str("USER\r\nSASL PLAIN\r\n");
            if self.config.stls && !self.tls {
                reply.push_str("STLS\r\n");
            }
        }
        reply.push_str(
            "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION mailsnare\r\n.\r\n",
        );
        out.push(Output::Reply(reply.into_bytes()));
    }

    fn quit(&mut self, out: &mut Vec<Output>) {
        let deleted = if self.state == State::Transaction {
            self.maildrop.deleted()
        } else {
            Vec::new()
        };
        if deleted.is_empty() {
            self.bye(0, out);
        } else {
            // RFC 1939 6: QUIT in TRANSACTION enters UPDATE, which removes the marked messages.
            self.waiting = true;
            out.push(Output::Update(deleted));
        }
    }

    fn bye(&mut self, deleted: usize, out: &mut Vec<Output>) {
        let text = match deleted {
            0 => format!("{} POP3 mailsnare signing off", self.config.hostname),
            n => format!(
                "{} POP3 mailsnare signing off ({n} messages deleted)",
                self.config.hostname
            ),
        };
        ok(out, &text);
        out.push(Output::Close);
        self.state = State::Closed;
    }

    /// The I/O loop applied the deletions: `deleted` were still in the store (others were gone
    /// already, which is fine).
    pub fn updated(&mut self, deleted: usize, out: &mut Vec<Output>) {
        self.waiting = false;
        self.bye(deleted, out);
    }

    /// An `AUTH PLAIN` response (RFC 4616): base64 of `authzid NUL authcid NUL password`, `=`
    /// for an empty one, `*` to cancel (RFC 5034 4).
    fn plain_response(&mut self, response: &[u8], out: &mut Vec<Output>) {
        if response == b"*" {
            return self.error(out, "authentication cancelled");
        }
        let decoded = match response {
            b"=" => Ok(Vec::new()),
            _ => base64::engine::general_purpose::STANDARD.decode(response),
        };
        let Ok(decoded) = decoded else {
            return self.error(out, "invalid base64");
        };
        let mut parts = decoded.split(|&b| b == 0);
        let (Some(authzid), Some(authcid), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return self.error(out, "malformed PLAIN response");
        };
        let (Ok(authzid), Ok(user), Ok(password)) = (
            std::str::from_utf8(authzid),
            std::str::from_utf8(authcid),
            std::str::from_utf8(password),
        ) else {
            return self.error(out, "invalid UTF-8 in PLAIN response");
        };
        if !authzid.is_empty() && authzid != user {
            return self.error(out, "[AUTH] cannot log in as another user");
        }
        if user.is_empty() {
            return self.error(out, "[AUTH] empty user name");
        }
        self.login(user.to_string(), password.to_string(), out);
    }

    fn login(&mut self, user: String, password: String, out: &mut Vec<Output>) {
        self.waiting = true;
        out.push(Output::Login(Login { user, password }));
    }

    /// The I/O loop's answer to [`Output::Login`]: the maildrop the login opened, or why not.
    pub fn logged_in(&mut self, result: Result<Maildrop, LoginFailure>, out: &mut Vec<Output>) {
        self.waiting = false;
        match result {
            Ok(maildrop) => {
                self.maildrop = maildrop;
                self.state = State::Transaction;
                let (n, octets) = self.maildrop.stat();
                ok(out, &format!("maildrop has {n} messages ({octets} octets)"));
            }
            Err(LoginFailure::Refused) => {
                self.login_failures += 1;
                if self.login_failures >= self.config.max_login_failures {
                    err(
                        out,
                        "[AUTH] invalid user name or password; too many failures, closing connection",
                    );
                    self.close(out);
                } else {
                    err(out, "[AUTH] invalid user name or password");
                }
            }
            Err(LoginFailure::Unavailable(why)) => err(out, &format!("[SYS/TEMP] {why}")),
        }
    }

    /// The TLS handshake after STLS succeeded. What the client said before is forgotten.
    pub fn tls_started(&mut self) {
        self.waiting = false;
        self.tls = true;
        self.user = None;
        self.line.clear();
        self.overlong = false;
    }

    /// An error reply that counts towards [`MAX_ERRORS`].
    fn error(&mut self, out: &mut Vec<Output>, text: &str) {
        err(out, text);
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            self.close(out);
        }
    }

    fn close(&mut self, out: &mut Vec<Output>) {
        out.push(Output::Close);
        self.state = State::Closed;
    }
}

fn ok(out: &mut Vec<Output>, text: &str) {
    let line = if text.is_empty() {
        "+OK\r\n".to_string()
    } else {
        format!("+OK {text}\r\n")
    };
    out.push(Output::Reply(line.into_bytes()));
}

fn err(out: &mut Vec<Output>, text: &str) {
    out.push(Output::Reply(format!("-ERR {text}\r\n").into_bytes()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_line_is_drained_not_buffered() {
        let config = Arc::new(SessionConfig {
            max_line: 100,
            ..SessionConfig::default()
        });
        let mut session = Session::new(config);
        let mut out = Vec::new();
        let piece = [b'x'; 1024];
        for _ in 0..1024 {
            assert_eq!(session.feed(&piece, &mut out), piece.len());
            assert!(
                session.line.capacity() <= 1024,
                "{}",
                session.line.capacity()
            );
        }
        assert!(out.is_empty(), "nothing is answered before the line ends");
        assert_eq!(session.feed(b"\r\nNOOP\r\n", &mut out), 8);
        assert_eq!(
            out,
            [
                Output::Reply(b"-ERR line too long\r\n".to_vec()),
                Output::Reply(b"-ERR not valid in the AUTHORIZATION state\r\n".to_vec()),
            ]
        );
    }
}

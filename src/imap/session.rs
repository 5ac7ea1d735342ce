//! The IMAP session as a state machine: client bytes and store events in, response bytes and
//! requests for the I/O loop out. No sockets, clocks or tasks live here. It reads the store's
//! in-memory snapshot directly (that is memory, not I/O); everything that waits (password
//! checks, disk writes, parsing large mail) is an [`Output`] the loop carries out, reporting back
//! with [`Session::logged_in`] and [`Session::appended`] when the session needs the result.
//!
//! One INBOX per login: the store the login reads (see [`crate::login`]), and one virtual folder
//! per tag its messages carry (printable ASCII names): the messages with that tag, numbered with
//! their own UIDs; a message that gains the tag arrives there (EXISTS), one that loses it leaves
//! (EXPUNGE) and gets a new UID should it come back. Notes on choices:
//! - \Seen is the store's read flag, both ways. \Deleted, \Flagged, \Answered, \Draft and
//!   keywords are kept beside the UIDs, in memory, shared by the sessions on the folder (the
//!   others are told with `* n FETCH (FLAGS …)`, at once while idling; not kept across a
//!   restart);
//!   EXPUNGE, UID EXPUNGE and CLOSE delete \Deleted messages from the store.
//! - No message is ever \Recent (RFC 9051 dropped it; `* 0 RECENT` is honest here).
//! - COPY to a tag folder gives the messages that tag; MOVE from a tag folder to another takes
//!   the source tag away and gives the target's, MOVE from a tag folder to INBOX only takes the
//!   tag away (COPYUID, then EXPUNGE in the source, RFC 6851). INBOX holds every message, so
//!   COPY to INBOX and MOVE out of it are NO [CANNOT]. A folder that does not exist is
//!   NO [TRYCREATE], and CREATE, DELETE and RENAME are refused (a tag exists while a message
//!   carries it: set it over the API, or COPY to an existing tag folder). APPEND goes to INBOX
//!   only.
//! - EXPUNGE in a tag folder deletes the message from the store, as in INBOX (it is the same
//!   message); flags other than \Seen are kept per folder.
//! - APPEND stores the message as if it had arrived now (INTERNALDATE is the arrival time; a
//!   date given with APPEND is not kept).

use std::sync::Arc;

use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::Tag;
use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_codec::imap_types::sequence::SequenceSet;
use imap_codec::imap_types::status::StatusDataItemName;
use uuid::Uuid;

use super::fetch::{self, FetchJob, Row};
use super::framer::{Expect, Frame, Framer};
use super::search::{Candidate, SearchJob, in_set};
use super::uids::{FlagChange, Registry, Uids};
use super::view::Folder;
use super::wire;
use crate::login::{Account, LoginError};
use crate::message::StoredMessage;
use crate::store::{Event, Store, StoreError};

/// After this many BAD answers in a row the client is clearly not speaking IMAP: BYE.
pub const MAX_ERRORS: u32 = 20;

/// What a session needs to know about the server; shared by all sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub hostname: String,
    /// TLS is configured, so STARTTLS is offered on a plain connection.
    pub starttls: bool,
    pub max_login_failures: u32,
    pub max_line: usize,
    pub max_literal: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            hostname: crate::config::DEFAULT_HOSTNAME.into(),
            starttls: false,
            max_login_failures: 3,
            max_line: 8192,
            max_literal: 1 << 20,
        }
    }
}

/// What the session asks its I/O loop to do, in order.
#[derive(Debug)]
pub enum Output {
    Write(Vec<u8>),
    /// Check these credentials, then call [`Session::logged_in`].
    Login {
        user: String,
        password: String,
    },
    /// From now on feed this store's events ([`Session::store_event`]).
    Subscribe(Store),
    /// From now on feed these flag changes of the selected folder ([`Session::flag_change`]),
    /// instead of the previous folder's.
    WatchFlags(tokio::sync::broadcast::Receiver<super::uids::FlagChange>),
    /// Upgrade the connection, then call [`Session::tls_started`].
    StartTls,
    SetRead {
        store: Store,
        ids: Vec<Uuid>,
        read: bool,
    },
    Delete {
        store: Store,
        ids: Vec<Uuid>,
    },
    /// Give each message exactly these tags (COPY and MOVE between folders).
    Retag {
        store: Store,
        changes: Vec<(Uuid, Vec<String>)>,
    },
    /// Store a message as if received, then call [`Session::appended`].
    Append {
        store: Store,
        user: String,
        data: Vec<u8>,
        seen: bool,
    },
    Fetch(FetchJob),
    Search(SearchJob),
    /// Write what came before, then close the connection.
    Close,
}

/// What the session waits for before reading on.
#[derive(Debug)]
enum Waiting {
    Login(Tag<'static>),
    Append(Tag<'static>),
    StartTls,
    /// A store change ([`Output::SetRead`], [`Output::Delete`], [`Output::Retag`]): the next
    /// command must see it.
    Store,
}

/// The login and what it reads.
#[derive(Debug)]
struct Authed {
    account: Account,
    uids: Arc<Uids>,
}

#[derive(Debug)]
pub struct Session {
    config: Arc<SessionConfig>,
    registry: Arc<Registry>,
    framer: Framer,
    expect: Expect,
    /// The tag of the IDLE or AUTHENTICATE in progress.
    dialogue: Option<Tag<'static>>,
    waiting: Option<Waiting>,
    tls: bool,
    authed: Option<Authed>,
    folder: Option<Folder>,
    login_failures: u32,
    errors: u32,
    closed: bool,
    buf: Vec<u8>,
}

impl Session {
    pub fn new(config: Arc<SessionConfig>, registry: Arc<Registry>, tls: bool) -> Session {
        let framer = Framer::new(config.max_line, config.max_literal);
        Session {
            config,
            registry,
            framer,
            expect: Expect::Command,
            dialogue: None,
            waiting: None,
            tls,
            authed: None,
            folder: None,
            login_failures: 0,
            errors: 0,
            closed: false,
            buf: Vec::new(),
        }
    }

    pub fn greeting(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let code = format!("CAPABILITY {}", self.capabilities());
        let text = format!("{} mailsnare IMAP4rev1 ready", self.config.hostname);
        wire::status(&mut out, None, "OK", Some(&code), &text);
        out
    }

    pub fn shutdown_reply(&self) -> Vec<u8> {
        b"* BYE server shutting down\r\n".to_vec()
    }

    pub fn timeout_reply(&self) -> Vec<u8> {
        b"* BYE idle timeout, closing\r\n".to_vec()
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// True while the session waits for the loop to report back.
    pub fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    pub fn is_idling(&self) -> bool {
        self.expect == Expect::IdleDone
    }

    pub fn login_failures(&self) -> u32 {
        self.login_failures
    }

    fn capabilities(&self) -> String {
        let mut caps = String::from(
            "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT",
        );
        if self.authed.is_none() {
            if self.config.starttls && !self.tls {
                caps.push_str(" STARTTLS");
            }
            caps.push_str(" AUTH=PLAIN");
        }
        caps
    }

    /// Queues bytes from the client; [`Session::advance`] acts on them.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.framer.push(bytes);
    }

    /// Acts on the queued bytes until more are needed, the loop must report back, or the
    /// session closed.
    pub fn advance(&mut self, out: &mut Vec<Output>) {
        while !self.closed && self.waiting.is_none() {
            let Some(frame) = self.framer.next(self.expect) else {
                break;
            };
            self.frame(frame, out);
        }
        self.flush_buf(out);
    }

    fn flush_buf(&mut self, out: &mut Vec<Output>) {
        if !self.buf.is_empty() {
            out.push(Output::Write(std::mem::take(&mut self.buf)));
        }
    }

    /// Emits an output after the bytes written so far.
    fn emit(&mut self, output: Output, out: &mut Vec<Output>) {
        self.flush_buf(out);
        if matches!(
            output,
            Output::SetRead { .. } | Output::Delete { .. } | Output::Retag { .. }
        ) {
            // The rest of this command may go on; the next one waits for [`Session::stored`].
            self.waiting = Some(Waiting::Store);
        }
        out.push(output);
    }

    /// The loop carried out an [`Output::SetRead`], [`Output::Delete`] or [`Output::Retag`].
    pub fn stored(&mut self, out: &mut Vec<Output>) {
        if matches!(self.waiting, Some(Waiting::Store)) {
            self.waiting = None;
        }
        self.advance(out);
    }

    fn tagged(&mut self, tag: &Tag<'_>, kind: &str, code: Option<&str>, text: &str) {
        wire::status(&mut self.buf, Some(tag.as_ref()), kind, code, text);
    }

    fn bad(&mut self, tag: Option<&Tag<'_>>, text: &str, out: &mut Vec<Output>) {
        wire::status(&mut self.buf, tag.map(|t| t.as_ref()), "BAD", None, text);
        self.errors += 1;
        if self.errors >= MAX_ERRORS {
            wire::untagged(&mut self.buf, "BYE too many errors");
            self.close(out);
        }
    }

    fn close(&mut self, out: &mut Vec<Output>) {
        self.closed = true;
        self.emit(Output::Close, out);
    }

    fn frame(&mut self, frame: Frame, out: &mut Vec<Output>) {
        match frame {
            Frame::SendLiteral => self.buf.extend_from_slice(b"+ Ready for literal data\r\n"),
            Frame::LiteralTooLarge { tag } => match tag {
                Some(tag) => self.tagged(&tag, "NO", Some("TOOBIG"), "literal too large"),
                None => self.bad(None, "literal too large", out),
            },
            Frame::Bad { tag, reason } => {
                if self.expect != Expect::Command {
                    // A broken DONE or SASL answer ends the dialogue it belongs to.
                    self.expect = Expect::Command;
                    let tag = self.dialogue.take();
                    self.bad(tag.as_ref(), reason, out);
                } else {
                    self.bad(tag.as_ref(), reason, out);
                }
            }
            Frame::IdleDone => {
                self.expect = Expect::Command;
                if let Some(tag) = self.dialogue.take() {
                    self.flush_folder(true);
                    self.tagged(&tag, "OK", None, "IDLE terminated");
                }
            }
            Frame::AuthData(data) => {
                self.expect = Expect::Command;
                let Some(tag) = self.dialogue.take() else {
                    return;
                };
                match data {
                    None => self.tagged(&tag, "BAD", None, "AUTHENTICATE cancelled"),
                    Some(data) => self.plain(tag, &data, out),
                }
            }
            Frame::Command(command) => {
                self.errors = 0;
                self.command(command, out);
            }
        }
    }

    fn command(&mut self, command: Command<'static>, out: &mut Vec<Output>) {
        let Command { tag, body } = command;
        let authed = self.authed.is_some();
        let selected = self.folder.is_some();
        match body {
            CommandBody::Capability => {
                let line = format!("CAPABILITY {}", self.capabilities());
                wire::untagged(&mut self.buf, &line);
                self.done(&tag, "CAPABILITY completed");
            }
            CommandBody::Noop => self.done(&tag, "NOOP completed"),
            CommandBody::Check if selected => self.done(&tag, "CHECK completed"),
            CommandBody::Logout => {
                wire::untagged(&mut self.buf, "BYE logging out");
                self.tagged(&tag, "OK", None, "LOGOUT completed");
                self.close(out);
            }
            CommandBody::Id { .. } => {
                wire::untagged(&mut self.buf, "ID (\"name\" \"mailsnare\")");
                self.done(&tag, "ID completed");
            }
            CommandBody::StartTLS if !authed => {
                if !self.config.starttls || self.tls {
                    self.tagged(&tag, "BAD", None, "STARTTLS not available");
                } else {
                    self.tagged(&tag, "OK", None, "begin TLS negotiation now");
                    self.waiting = Some(Waiting::StartTls);
                    self.emit(Output::StartTls, out);
                }
            }
            CommandBody::Login { username, password } if !authed => {
                let user = String::from_utf8_lossy(username.as_ref()).into_owned();
                let password = String::from_utf8_lossy(password.declassify().as_ref()).into_owned();
                self.waiting = Some(Waiting::Login(tag));
                self.emit(Output::Login { user, password }, out);
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } if !authed => {
                if !mechanism.as_ref().eq_ignore_ascii_case("PLAIN") {
                    self.tagged(&tag, "NO", None, "unsupported mechanism, use PLAIN");
                    return;
                }
                match initial_response {
                    Some(data) => self.plain(tag, data.declassify(), out),
                    None => {
                        self.buf.extend_from_slice(b"+ \r\n");
                        self.expect = Expect::AuthData;
                        self.dialogue = Some(tag);
                    }
                }
            }
            CommandBody::Enable { .. } if authed => {
                // None of what ENABLE can turn on (CONDSTORE, UTF8=ACCEPT, …) is offered.
                wire::untagged(&mut self.buf, "ENABLED");
                self.done(&tag, "ENABLE completed");
            }
            CommandBody::Namespace if authed => {
                wire::untagged(&mut self.buf, "NAMESPACE ((\"\" \"/\")) NIL NIL");
                self.done(&tag, "NAMESPACE completed");
            }
            CommandBody::List {
                reference,
                mailbox_wildcard,
            } if authed => self.list(&tag, "LIST", &reference, &mailbox_wildcard),
            CommandBody::Lsub {
                reference,
                mailbox_wildcard,
            } if authed => self.list(&tag, "LSUB", &reference, &mailbox_wildcard),
            CommandBody::Subscribe { mailbox } | CommandBody::Unsubscribe { mailbox } if authed => {
                if self.folder_name(&mailbox).is_some() {
                    self.done(&tag, "done");
                } else {
                    self.tagged(&tag, "NO", Some("NONEXISTENT"), "no such mailbox");
                }
            }
            CommandBody::Create { .. }
            | CommandBody::Delete { .. }
            | CommandBody::Rename { .. }
                if authed =>
            {
                self.tagged(
                    &tag,
                    "NO",
                    Some("CANNOT"),
                    "a mail catcher has one folder per login: INBOX",
                );
            }
            CommandBody::Status {
                mailbox,
                item_names,
            } if authed => self.status(&tag, &mailbox, &item_names),
            CommandBody::Select { mailbox, .. } if authed => {
                self.select(&tag, &mailbox, false, out)
            }
            CommandBody::Examine { mailbox, .. } if authed => {
                self.select(&tag, &mailbox, true, out)
            }
            CommandBody::Append {
                mailbox,
                flags,
                message,
                ..
            } if authed => {
                match self.folder_name(&mailbox) {
                    Some(None) => {}
                    Some(Some(_)) => {
                        self.tagged(
                            &tag,
                            "NO",
                            Some("CANNOT"),
                            "APPEND goes to INBOX; tag folders follow tags",
                        );
                        return;
                    }
                    None => {
                        self.tagged(&tag, "NO", Some("TRYCREATE"), "no such mailbox");
                        return;
                    }
                }
                let data = match &message {
                    imap_codec::imap_types::extensions::binary::LiteralOrLiteral8::Literal(l) => {
                        l.data().to_vec()
                    }
                    imap_codec::imap_types::extensions::binary::LiteralOrLiteral8::Literal8(l) => {
                        l.data.to_vec()
                    }
                };
                let seen = flags.contains(&Flag::Seen);
                let Some(authed) = &self.authed else { return };
                let append = Output::Append {
                    store: authed.account.store.clone(),
                    user: authed.account.user.clone(),
                    data,
                    seen,
                };
                self.waiting = Some(Waiting::Append(tag));
                self.emit(append, out);
            }
            CommandBody::Idle if authed => {
                self.buf.extend_from_slice(b"+ idling\r\n");
                self.expect = Expect::IdleDone;
                self.dialogue = Some(tag);
                self.flush_folder(true);
            }
            CommandBody::Close if selected => {
                if let Some(folder) = self.folder.take()
                    && !folder.read_only
                {
                    let ids: Vec<Uuid> = folder
                        .entries
                        .iter()
                        .filter(|e| e.deleted())
                        .map(|e| e.message.id)
                        .collect();
                    if !ids.is_empty() {
                        self.emit(
                            Output::Delete {
                                store: folder.store.clone(),
                                ids,
                            },
                            out,
                        );
                    }
                }
                self.tagged(&tag, "OK", None, "CLOSE completed");
            }
            CommandBody::Unselect if selected => {
                self.folder = None;
                self.tagged(&tag, "OK", None, "UNSELECT completed");
            }
            CommandBody::Expunge if selected => self.expunge(&tag, None, out),
            CommandBody::ExpungeUid { sequence_set } if selected => {
                self.expunge(&tag, Some(&sequence_set), out)
            }
            CommandBody::Search {
                charset,
                criteria,
                uid,
            } if selected => {
                if let Some(charset) = &charset {
                    let name = charset.as_ref().to_ascii_uppercase();
                    if name != "UTF-8" && name != "US-ASCII" {
                        self.tagged(
                            &tag,
                            "NO",
                            Some("BADCHARSET (UTF-8 US-ASCII)"),
                            "unsupported charset",
                        );
                        return;
                    }
                }
                let Some(folder) = &self.folder else { return };
                let candidates = folder
                    .entries
                    .iter()
                    .enumerate()
                    .map(|(i, e)| Candidate {
                        seq: i as u32 + 1,
                        uid: e.uid,
                        message: Arc::clone(&e.message),
                        seen: e.seen,
                        flags: e.flags.iter().cloned().collect(),
                    })
                    .collect();
                let job = SearchJob {
                    criteria: criteria.into_inner(),
                    candidates,
                    uid,
                    last_seq: folder.exists(),
                    last_uid: folder.last_uid(),
                };
                self.emit(Output::Search(job), out);
                self.flush_folder(false);
                self.tagged(&tag, "OK", None, "SEARCH completed");
            }
            CommandBody::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
            } if selected => self.fetch(&tag, &sequence_set, &macro_or_item_names, uid, out),
            CommandBody::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
            } if selected => self.store(&tag, &sequence_set, kind, response, &flags, uid, out),
            CommandBody::Copy {
                sequence_set,
                mailbox,
                uid,
            } if selected => self.copy(&tag, &sequence_set, &mailbox, uid, false, out),
            CommandBody::Move {
                sequence_set,
                mailbox,
                uid,
            } if selected => self.copy(&tag, &sequence_set, &mailbox, uid, true, out),
            CommandBody::Login { .. }
            | CommandBody::Authenticate { .. }
            | CommandBody::StartTLS
                if authed =>
            {
                self.bad(Some(&tag), "already authenticated", out)
            }
            body if !authed && needs_auth(&body) => self.bad(Some(&tag), "log in first", out),
            body if needs_selected(&body) => self.bad(Some(&tag), "no mailbox selected", out),
            _ => self.bad(Some(&tag), "command not supported", out),
        }
    }

    /// The tagged OK of a command during which EXPUNGE may be sent: tells pending changes first.
    fn done(&mut self, tag: &Tag<'_>, text: &str) {
        self.flush_folder(true);
        self.tagged(tag, "OK", None, text);
    }

    fn flush_folder(&mut self, expunge: bool) {
        if let Some(folder) = &mut self.folder {
            folder.flush(expunge, &mut self.buf);
        }
    }

    /// AUTHENTICATE PLAIN's message: `authzid NUL authcid NUL password` (RFC 4616).
    fn plain(&mut self, tag: Tag<'static>, data: &[u8], out: &mut Vec<Output>) {
        let mut fields = data.split(|&b| b == 0);
        let (Some(_authzid), Some(user), Some(password), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            self.tagged(&tag, "BAD", None, "malformed PLAIN message");
            return;
        };
        let user = String::from_utf8_lossy(user).into_owned();
        let password = String::from_utf8_lossy(password).into_owned();
        self.waiting = Some(Waiting::Login(tag));
        self.emit(Output::Login { user, password }, out);
    }

    /// The loop's answer to [`Output::Login`]. A failure's delay is the loop's to apply, before.
    pub fn logged_in(&mut self, result: Result<Account, LoginError>, out: &mut Vec<Output>) {
        let Some(Waiting::Login(tag)) = self.waiting.take() else {
            return;
        };
        match result {
            Ok(account) => {
                let uids = self.registry.of(&account, None);
                let store = account.store.clone();
                self.authed = Some(Authed { account, uids });
                let code = format!("CAPABILITY {}", self.capabilities());
                self.tagged(&tag, "OK", Some(&code), "logged in");
                self.emit(Output::Subscribe(store), out);
            }
            Err(LoginError::Refused) => {
                self.login_failures += 1;
                self.tagged(
                    &tag,
                    "NO",
                    Some("AUTHENTICATIONFAILED"),
                    "invalid user name or password",
                );
                if self.login_failures >= self.config.max_login_failures {
                    wire::untagged(&mut self.buf, "BYE too many failed logins");
                    self.close(out);
                }
            }
            Err(e) => self.tagged(&tag, "NO", Some("UNAVAILABLE"), &e.to_string()),
        }
        self.advance(out);
    }

    /// The loop's answer to [`Output::Append`].
    pub fn appended(
        &mut self,
        result: Result<Arc<StoredMessage>, StoreError>,
        out: &mut Vec<Output>,
    ) {
        let Some(Waiting::Append(tag)) = self.waiting.take() else {
            return;
        };
        match (result, &self.authed) {
            (Ok(message), Some(authed)) => {
                // Everything that arrived before it gets its UID first, so UIDs follow arrival.
                let snapshot = authed.account.store.snapshot();
                let mut ids: Vec<Uuid> = snapshot.messages().iter().map(|m| m.id).collect();
                ids.reverse();
                authed.uids.assign_all(ids);
                let uid = authed.uids.assign(message.id);
                let code = format!("APPENDUID {} {uid}", authed.uids.validity());
                self.flush_folder(true);
                self.tagged(&tag, "OK", Some(&code), "APPEND completed");
            }
            (Ok(_), None) => self.tagged(&tag, "NO", None, "not logged in"),
            (Err(e), _) => self.tagged(&tag, "NO", None, &format!("cannot store: {e}")),
        }
        self.advance(out);
    }

    /// The loop finished the TLS handshake: what was queued before it is dropped.
    pub fn tls_started(&mut self, out: &mut Vec<Output>) {
        if matches!(self.waiting, Some(Waiting::StartTls)) {
            self.waiting = None;
            self.tls = true;
            self.framer.reset();
        }
        self.advance(out);
    }

    /// Applies a change to the selected folder, if any; while idling it is told at once.
    fn update_folder(&mut self, out: &mut Vec<Output>, change: impl FnOnce(&mut Folder)) {
        if let Some(folder) = &mut self.folder {
            change(folder);
            if self.expect == Expect::IdleDone {
                self.flush_folder(true);
                self.flush_buf(out);
            }
        }
    }

    /// A change to the logged-in store. While idling it is told at once.
    pub fn store_event(&mut self, event: Event, out: &mut Vec<Output>) {
        self.update_folder(out, |folder| folder.event(event));
    }

    /// Another session changed flags (other than \Seen) in a folder. While idling it is told
    /// at once.
    pub fn flag_change(&mut self, change: FlagChange, out: &mut Vec<Output>) {
        self.update_folder(out, |folder| folder.flag_change(change));
    }

    /// The flag changes channel lost some: every message's flags are compared again.
    pub fn flags_lagged(&mut self, out: &mut Vec<Output>) {
        self.update_folder(out, Folder::flags_lagged);
    }

    /// The store's event channel lost events: the folder resynchronises.
    pub fn lagged(&mut self, out: &mut Vec<Output>) {
        self.update_folder(out, Folder::lagged);
    }

    fn list(
        &mut self,
        tag: &Tag<'_>,
        verb: &str,
        reference: &Mailbox<'_>,
        pattern: &ListMailbox<'_>,
    ) {
        let pattern: &[u8] = match pattern {
            ListMailbox::Token(t) => t.as_ref(),
            ListMailbox::String(s) => s.as_ref(),
        };
        let reference: Vec<u8> = match reference {
            Mailbox::Inbox => b"INBOX".to_vec(),
            Mailbox::Other(other) => other.as_ref().to_vec(),
        };
        if pattern.is_empty() && verb == "LIST" {
            // RFC 3501 6.3.8: the hierarchy delimiter and root.
            wire::untagged(&mut self.buf, "LIST (\\Noselect) \"/\" \"\"");
        } else {
            let mut full = reference;
            full.extend_from_slice(pattern);
            if glob(&full.to_ascii_uppercase(), b"INBOX") {
                let line = format!("{verb} (\\HasNoChildren) \"/\" INBOX");
                wire::untagged(&mut self.buf, &line);
            }
            for name in self.tag_folders() {
                if glob(&full, name.as_bytes()) {
                    let mut line = format!("* {verb} (\\HasNoChildren) \"/\" ").into_bytes();
                    wire::string(&mut line, name.as_bytes());
                    line.extend_from_slice(b"\r\n");
                    self.buf.extend_from_slice(&line);
                }
            }
        }
        self.done(tag, &format!("{verb} completed"));
    }

    fn status(&mut self, tag: &Tag<'_>, mailbox: &Mailbox<'_>, items: &[StatusDataItemName]) {
        let Some(folder) = self.open(mailbox, true) else {
            self.tagged(tag, "NO", Some("NONEXISTENT"), "no such mailbox");
            return;
        };
        let mut parts = Vec::new();
        for item in items {
            match item {
                StatusDataItemName::Messages => parts.push(format!("MESSAGES {}", folder.exists())),
                StatusDataItemName::Recent => parts.push("RECENT 0".into()),
                StatusDataItemName::UidNext => {
                    parts.push(format!("UIDNEXT {}", folder.uids.next()))
                }
                StatusDataItemName::UidValidity => {
                    parts.push(format!("UIDVALIDITY {}", folder.uids.validity()))
                }
                StatusDataItemName::Unseen => parts.push(format!("UNSEEN {}", folder.unseen())),
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
        let mut line = b"* STATUS ".to_vec();
        match &folder.tag {
            Some(name) => wire::string(&mut line, name.as_bytes()),
            None => line.extend_from_slice(b"INBOX"),
        }
        line.extend_from_slice(format!(" ({})\r\n", parts.join(" ")).as_bytes());
        self.buf.extend_from_slice(&line);
        self.done(tag, "STATUS completed");
    }

    fn select(
        &mut self,
        tag: &Tag<'_>,
        mailbox: &Mailbox<'_>,
        read_only: bool,
        out: &mut Vec<Output>,
    ) {
        // Selecting closes what was selected, without expunging (RFC 3501 6.3.1).
        self.folder = None;
        let Some((folder, changes)) = self.open_watched(mailbox, read_only) else {
            self.tagged(tag, "NO", Some("NONEXISTENT"), "no such mailbox");
            return;
        };
        self.emit(Output::WatchFlags(changes), out);
        let b = &mut self.buf;
        wire::untagged(b, "FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)");
        // \Seen is the store's read flag; the others live as long as the server process (as
        // long as the store itself without --storage). Strict clients (imapflow) set no flag
        // that is not listed here.
        let permanent = if read_only {
            "PERMANENTFLAGS ()"
        } else {
            "PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)"
        };
        wire::status(b, None, "OK", Some(permanent), "flags");
        wire::untagged(b, &format!("{} EXISTS", folder.exists()));
        wire::untagged(b, "0 RECENT");
        if let Some(first) = folder.entries.iter().position(|e| !e.seen) {
            wire::status(
                b,
                None,
                "OK",
                Some(&format!("UNSEEN {}", first + 1)),
                "first unseen",
            );
        }
        let validity = format!("UIDVALIDITY {}", folder.uids.validity());
        wire::status(b, None, "OK", Some(&validity), "UIDs valid");
        let next = format!("UIDNEXT {}", folder.uids.next());
        wire::status(b, None, "OK", Some(&next), "predicted next UID");
        let (code, verb) = if read_only {
            ("READ-ONLY", "EXAMINE completed")
        } else {
            ("READ-WRITE", "SELECT completed")
        };
        self.folder = Some(folder);
        self.tagged(tag, "OK", Some(code), verb);
    }

    /// The virtual folders: one per tag the store's messages carry. Tags that are not printable
    /// ASCII are left out (mailbox names would need modified UTF-7), as is one named INBOX.
    fn tag_folders(&self) -> Vec<String> {
        let Some(authed) = &self.authed else {
            return Vec::new();
        };
        authed
            .account
            .store
            .tags()
            .into_iter()
            .filter(|t| {
                !t.is_empty()
                    && t.bytes().all(|b| (0x20..0x7f).contains(&b))
                    && !t.eq_ignore_ascii_case("INBOX")
            })
            .collect()
    }

    /// The tag a mailbox name means: `Some(None)` for INBOX, `Some(Some(tag))` for a tag
    /// folder, `None` when there is no such folder.
    fn folder_name(&self, mailbox: &Mailbox<'_>) -> Option<Option<String>> {
        if is_inbox(mailbox) {
            return Some(None);
        }
        let Mailbox::Other(other) = mailbox else {
            return None;
        };
        let name = std::str::from_utf8(other.as_ref()).ok()?;
        self.tag_folders().into_iter().find(|t| t == name).map(Some)
    }

    /// Opens a folder by name, when it exists, with the flag changes other sessions make there
    /// from before it was read.
    fn open_watched(
        &self,
        mailbox: &Mailbox<'_>,
        read_only: bool,
    ) -> Option<(Folder, tokio::sync::broadcast::Receiver<FlagChange>)> {
        let (store, tag, uids) = self.folder_map(mailbox)?;
        let changes = uids.flag_changes();
        Some((Folder::open(store, uids, read_only, tag), changes))
    }

    /// Opens a folder by name, when it exists.
    fn open(&self, mailbox: &Mailbox<'_>, read_only: bool) -> Option<Folder> {
        let (store, tag, uids) = self.folder_map(mailbox)?;
        Some(Folder::open(store, uids, read_only, tag))
    }

    /// A folder's store, tag (none for INBOX) and UID map, when it exists.
    fn folder_map(&self, mailbox: &Mailbox<'_>) -> Option<(Store, Option<String>, Arc<Uids>)> {
        let tag = self.folder_name(mailbox)?;
        let authed = self.authed.as_ref()?;
        let uids = match &tag {
            None => Arc::clone(&authed.uids),
            Some(tag) => self.registry.of(&authed.account, Some(tag)),
        };
        Some((authed.account.store.clone(), tag, uids))
    }

    /// Positions (0-based, ascending) a sequence set names, as sequence numbers or UIDs.
    fn positions(folder: &Folder, set: &SequenceSet, uid: bool) -> Vec<usize> {
        let last_seq = folder.exists();
        let last_uid = folder.last_uid();
        folder
            .entries
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                if uid {
                    in_set(set, e.uid, last_uid)
                } else {
                    in_set(set, *i as u32 + 1, last_seq)
                }
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// COPY and MOVE (RFC 3501 6.4.7, RFC 6851, COPYUID of RFC 4315). Folders are tags, so
    /// COPY to a tag folder gives the messages that tag; MOVE from a tag folder takes the
    /// source tag away as well (to INBOX: only that). INBOX holds every message, so nothing can
    /// be copied there, nor moved out of it.
    fn copy(
        &mut self,
        tag: &Tag<'_>,
        set: &SequenceSet,
        mailbox: &Mailbox<'_>,
        uid: bool,
        moving: bool,
        out: &mut Vec<Output>,
    ) {
        let Some(target) = self.folder_name(mailbox) else {
            self.tagged(
                tag,
                "NO",
                Some("TRYCREATE"),
                "no such mailbox (a folder is a tag: set it on a message over the API first)",
            );
            return;
        };
        let (Some(folder), Some(authed)) = (&self.folder, &self.authed) else {
            return;
        };
        let verb = if moving { "MOVE" } else { "COPY" };
        let refusal = match (&folder.tag, &target) {
            (_, None) if !moving => Some("INBOX holds every message already"),
            (None, _) if moving => Some(
                "INBOX holds every message of the catch, none can leave it: COPY to a tag \
                 folder adds the tag",
            ),
            (Some(from), Some(to)) if from == to => Some("the messages are in that folder"),
            _ => None,
        };
        if let Some(text) = refusal {
            self.tagged(tag, "NO", Some("CANNOT"), text);
            return;
        }
        if moving && folder.read_only {
            self.tagged(
                tag,
                "NO",
                Some("READ-ONLY"),
                "the mailbox was opened with EXAMINE",
            );
            return;
        }
        let chosen = Self::positions(folder, set, uid);
        let target_uids = match &target {
            Some(name) => self.registry.of(&authed.account, Some(name)),
            None => Arc::clone(&authed.uids),
        };
        if target.is_none() {
            // A message gets its INBOX UID in arrival order, as everywhere.
            let snapshot = authed.account.store.snapshot();
            let mut ids: Vec<Uuid> = snapshot.messages().iter().map(|m| m.id).collect();
            ids.reverse();
            target_uids.assign_all(ids);
        }
        let mut changes = Vec::new();
        let (mut from_uids, mut to_uids) = (Vec::new(), Vec::new());
        for &i in &chosen {
            let entry = &folder.entries[i];
            let mut tags = entry.message.tags();
            if moving && let Some(from) = &folder.tag {
                tags.retain(|t| t != from);
            }
            if let Some(to) = &target
                && !tags.contains(to)
            {
                tags.push(to.clone());
            }
            // Flags other than \Seen travel with the message (RFC 3501 6.4.7).
            target_uids.set_flags(entry.message.id, &entry.flags);
            from_uids.push(entry.uid.to_string());
            to_uids.push(target_uids.assign(entry.message.id).to_string());
            changes.push((entry.message.id, tags));
        }
        let store = folder.store.clone();
        let code = (!chosen.is_empty()).then(|| {
            format!(
                "COPYUID {} {} {}",
                target_uids.validity(),
                from_uids.join(","),
                to_uids.join(",")
            )
        });
        if !changes.is_empty() {
            self.emit(Output::Retag { store, changes }, out);
        }
        if !moving {
            self.flush_folder(true);
            self.tagged(tag, "OK", code.as_deref(), "COPY completed");
            return;
        }
        if let Some(code) = &code {
            wire::status(&mut self.buf, None, "OK", Some(code), "moved");
        }
        let Some(folder) = &mut self.folder else {
            return;
        };
        let mut lines = Vec::new();
        // Highest first: each EXPUNGE leaves the lower numbers as they were. The tag change's
        // events find them gone already.
        for &i in chosen.iter().rev() {
            let gone = folder.entries.remove(i);
            folder.uids.forget(&gone.message.id);
            wire::untagged(&mut lines, &format!("{} EXPUNGE", i + 1));
        }
        self.buf.extend_from_slice(&lines);
        self.flush_folder(true);
        self.tagged(tag, "OK", None, &format!("{verb} completed"));
    }

    fn expunge(&mut self, tag: &Tag<'_>, only: Option<&SequenceSet>, out: &mut Vec<Output>) {
        let Some(folder) = &mut self.folder else {
            return;
        };
        if folder.read_only {
            self.tagged(
                tag,
                "NO",
                Some("READ-ONLY"),
                "the mailbox was opened with EXAMINE",
            );
            return;
        }
        let chosen: Vec<usize> = match only {
            Some(set) => Self::positions(folder, set, true),
            None => (0..folder.entries.len()).collect(),
        };
        let doomed: Vec<usize> = chosen
            .into_iter()
            .filter(|&i| folder.entries[i].deleted())
            .collect();
        let ids: Vec<Uuid> = doomed
            .iter()
            .map(|&i| folder.entries[i].message.id)
            .collect();
        let store = folder.store.clone();
        let mut lines = Vec::new();
        // Highest first: each EXPUNGE leaves the lower numbers as they were.
        for &i in doomed.iter().rev() {
            folder.entries.remove(i);
            wire::untagged(&mut lines, &format!("{} EXPUNGE", i + 1));
        }
        if !ids.is_empty() {
            self.emit(Output::Delete { store, ids }, out);
        }
        self.buf.extend_from_slice(&lines);
        self.done(tag, "EXPUNGE completed");
    }

    fn fetch(
        &mut self,
        tag: &Tag<'_>,
        set: &SequenceSet,
        asked: &imap_codec::imap_types::fetch::MacroOrMessageDataItemNames<'_>,
        uid: bool,
        out: &mut Vec<Output>,
    ) {
        let mut items = match fetch::items(asked) {
            Ok(items) => items,
            Err(e) => {
                self.tagged(tag, "BAD", None, &e.to_string());
                return;
            }
        };
        if uid && !items.contains(&fetch::Item::Uid) {
            items.insert(0, fetch::Item::Uid);
        }
        let Some(folder) = &mut self.folder else {
            return;
        };
        let marks_seen = !folder.read_only && items.iter().any(fetch::Item::sets_seen);
        let mut newly_seen = Vec::new();
        let mut rows = Vec::new();
        for i in Self::positions(folder, set, uid) {
            let entry = &mut folder.entries[i];
            let changed = marks_seen && !entry.seen;
            if changed {
                entry.seen = true;
                newly_seen.push(entry.message.id);
            }
            rows.push(Row {
                seq: i as u32 + 1,
                uid: entry.uid,
                message: Arc::clone(&entry.message),
                flags: entry.flag_list(),
                flags_changed: changed,
            });
        }
        let store = folder.store.clone();
        if !newly_seen.is_empty() {
            self.emit(
                Output::SetRead {
                    store,
                    ids: newly_seen,
                    read: true,
                },
                out,
            );
        }
        if !rows.is_empty() {
            self.emit(Output::Fetch(FetchJob { items, rows }), out);
        }
        self.flush_folder(false);
        self.tagged(tag, "OK", None, "FETCH completed");
    }

    #[allow(clippy::too_many_arguments)]
    fn store(
        &mut self,
        tag: &Tag<'_>,
        set: &SequenceSet,
        kind: StoreType,
        response: StoreResponse,
        flags: &[Flag<'_>],
        uid: bool,
        out: &mut Vec<Output>,
    ) {
        let Some(folder) = &mut self.folder else {
            return;
        };
        if folder.read_only {
            self.tagged(
                tag,
                "NO",
                Some("READ-ONLY"),
                "the mailbox was opened with EXAMINE",
            );
            return;
        }
        let seen_asked = flags.contains(&Flag::Seen);
        let others: Vec<String> = flags
            .iter()
            .filter(|f| **f != Flag::Seen)
            .map(ToString::to_string)
            .collect();
        let (mut to_read, mut to_unread) = (Vec::new(), Vec::new());
        let mut lines = Vec::new();
        for i in Self::positions(folder, set, uid) {
            let entry = &mut folder.entries[i];
            let seen = match kind {
                StoreType::Replace => seen_asked,
                StoreType::Add => entry.seen || seen_asked,
                StoreType::Remove => entry.seen && !seen_asked,
            };
            match kind {
                StoreType::Replace => entry.flags = others.iter().cloned().collect(),
                StoreType::Add => entry.flags.extend(others.iter().cloned()),
                StoreType::Remove => {
                    for f in &others {
                        entry.flags.remove(f);
                    }
                }
            }
            folder.uids.set_flags(entry.message.id, &entry.flags);
            if seen != entry.seen {
                entry.seen = seen;
                if seen {
                    to_read.push(entry.message.id);
                } else {
                    to_unread.push(entry.message.id);
                }
            }
            if response == StoreResponse::Answer {
                let uid_part = if uid {
                    format!("UID {} ", entry.uid)
                } else {
                    String::new()
                };
                let line = format!("{} FETCH ({uid_part}FLAGS {})", i + 1, entry.flag_list());
                wire::untagged(&mut lines, &line);
            }
        }
        let store = folder.store.clone();
        for (ids, read) in [(to_read, true), (to_unread, false)] {
            if !ids.is_empty() {
                self.emit(
                    Output::SetRead {
                        store: store.clone(),
                        ids,
                        read,
                    },
                    out,
                );
            }
        }
        self.buf.extend_from_slice(&lines);
        self.flush_folder(false);
        self.tagged(tag, "OK", None, "STORE completed");
    }
}

fn is_inbox(mailbox: &Mailbox<'_>) -> bool {
    match mailbox {
        Mailbox::Inbox => true,
        Mailbox::Other(other) => other.as_ref().eq_ignore_ascii_case(b"INBOX"),
    }
}

fn needs_auth(body: &CommandBody<'_>) -> bool {
    !matches!(
        body,
        CommandBody::Capability
            | CommandBody::Noop
            | CommandBody::Logout
            | CommandBody::StartTLS
            | CommandBody::Login { .. }
            | CommandBody::Authenticate { .. }
            | CommandBody::Id { .. }
    )
}

fn needs_selected(body: &CommandBody<'_>) -> bool {
    matches!(
        body,
        CommandBody::Check
            | CommandBody::Close
            | CommandBody::Unselect
            | CommandBody::Expunge
            | CommandBody::ExpungeUid { .. }
            | CommandBody::Search { .. }
            | CommandBody::Fetch { .. }
            | CommandBody::Store { .. }
            | CommandBody::Copy { .. }
            | CommandBody::Move { .. }
    )
}

/// LIST's wildcards (RFC 3501 6.3.8): `*` matches anything, `%` anything but the delimiter.
/// Worked out over a table (pattern × name), so a pattern of many wildcards stays linear.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    // matched[j]: the pattern so far matches name[..j].
    let mut matched = vec![false; name.len() + 1];
    matched[0] = true;
    for &p in pattern {
        let mut next = vec![false; name.len() + 1];
        for j in 0..=name.len() {
            next[j] = match p {
                b'*' => matched[j] || (j > 0 && next[j - 1]),
                b'%' => matched[j] || (j > 0 && next[j - 1] && name[j - 1] != b'/'),
                c => j > 0 && matched[j - 1] && name[j - 1] == c,
            };
        }
        matched = next;
    }
    matched[name.len()]
}

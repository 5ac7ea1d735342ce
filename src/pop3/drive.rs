//! Driving a POP3 session over whole byte streams without any I/O, as the I/O loop in
//! [`super::conn`] does: for transcript tests, property tests and fuzzing, so that none of them
//! keeps a copy of the loop.

use uuid::Uuid;

use super::maildrop::Maildrop;
use super::session::{Login, LoginFailure, Output, Session};

/// Chunk budget for bodies when driven: small and odd, so that chunking is exercised everywhere.
const DRIVE_CHUNK: usize = 7;

/// What the I/O loop would do for the session: check logins and apply deletions.
pub trait Peer {
    /// Checks a login and opens its maildrop.
    fn login(&mut self, login: &Login) -> Result<Maildrop, LoginFailure>;
    /// Deletes these messages; returns how many were still there.
    fn delete(&mut self, ids: &[Uuid]) -> usize;
}

/// What one call of [`Session::drive`] produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Every reply and body, as written to the wire.
    pub wire: Vec<u8>,
    /// The session asked to close the connection.
    pub closed: bool,
    /// STLS dropped the rest of a read (as the I/O loop must), so the result depends on how the
    /// input was cut.
    pub tls_discarded: bool,
    /// Messages RETR marked read, in order.
    pub seen: Vec<Uuid>,
    /// Messages deleted at QUIT.
    pub deleted: Vec<Uuid>,
}

impl Transcript {
    /// The wire as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }
}

impl Session {
    /// Feeds `reads` one after another, answering every output through `peer`, and returns what
    /// was written. After STLS the handshake is taken to succeed.
    ///
    /// # Panics
    /// When the session breaks its contract: consuming more than it was given, or stopping
    /// before the end of a read without handing out something to wait for. That is the point of
    /// driving it in tests.
    pub fn drive(&mut self, reads: &[&[u8]], peer: &mut impl Peer) -> Transcript {
        let mut t = Transcript::default();
        let mut outputs = Vec::new();
        for read in reads {
            let mut input = *read;
            while !input.is_empty() && !self.is_closed() {
                let used = self.feed(input, &mut outputs);
                assert!(used <= input.len(), "consumed {used} of {}", input.len());
                let waits = outputs.iter().any(|o| {
                    matches!(
                        o,
                        Output::Login(_) | Output::Update(_) | Output::StartTls | Output::Close
                    )
                });
                assert!(
                    used == input.len() || waits || self.is_closed(),
                    "feed stopped at {used} of {} bytes without a reason",
                    input.len()
                );
                input = &input[used..];
                while !outputs.is_empty() {
                    for output in std::mem::take(&mut outputs) {
                        match output {
                            Output::Reply(reply) => t.wire.extend_from_slice(&reply),
                            Output::Body(body) => {
                                let mut encoder = body.encoder();
                                let mut chunk = Vec::new();
                                while !encoder.fill(&mut chunk, DRIVE_CHUNK) {
                                    t.wire.append(&mut chunk);
                                }
                                t.wire.append(&mut chunk);
                            }
                            Output::Login(login) => {
                                let result = peer.login(&login);
                                self.logged_in(result, &mut outputs);
                            }
                            Output::Seen(id) => t.seen.push(id),
                            Output::Update(ids) => {
                                let n = peer.delete(&ids);
                                t.deleted.extend(ids);
                                self.updated(n, &mut outputs);
                            }
                            Output::StartTls => {
                                self.tls_started();
                                t.tls_discarded |= !input.is_empty();
                                input = &[];
                            }
                            Output::Close => t.closed = true,
                        }
                    }
                }
            }
        }
        t
    }
}

/// A peer with a fixed maildrop for every login whose password is `password` (any password when
/// it is `None`); deletions are counted against the maildrop's ids.
#[derive(Debug, Default)]
pub struct Fixed {
    pub maildrop: Maildrop,
    pub password: Option<String>,
    /// A login whose user name is this is refused as unavailable (the mailbox cannot be opened).
    pub unavailable: Option<String>,
    pub deleted: Vec<Uuid>,
}

impl Peer for Fixed {
    fn login(&mut self, login: &Login) -> Result<Maildrop, LoginFailure> {
        if self.password.as_ref().is_some_and(|p| *p != login.password) {
            return Err(LoginFailure::Refused);
        }
        if self.unavailable.as_ref() == Some(&login.user) {
            return Err(LoginFailure::Unavailable("mailbox limit reached".into()));
        }
        Ok(self.maildrop.clone())
    }

    fn delete(&mut self, ids: &[Uuid]) -> usize {
        let fresh: Vec<Uuid> = ids
            .iter()
            .filter(|id| !self.deleted.contains(id))
            .copied()
            .collect();
        self.deleted.extend(&fresh);
        fresh.len()
    }
}

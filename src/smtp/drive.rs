//! Driving a session over whole byte streams without any I/O, exactly as the I/O loop in
//! [`super::conn`] does: for transcript tests, property tests and fuzzing, so that none of them
//! keeps a copy of the loop.

use super::auth::Credentials;
use super::session::{Output, Received, Session};

/// What the I/O loop would do for the session: store messages and check credentials.
pub trait Peer {
    /// Stores a message: its id, or why it was not stored.
    fn store(&mut self, received: Received) -> Result<String, String>;
    /// Checks credentials: the user name when they are right.
    fn authenticate(&mut self, credentials: Credentials) -> Option<String>;
}

/// What one call of [`Session::drive`] produced.
#[derive(Debug, Default)]
pub struct Transcript {
    /// Every reply, as written to the wire.
    pub wire: Vec<u8>,
    /// The session asked to close the connection.
    pub closed: bool,
    /// STARTTLS dropped the rest of a read (as the I/O loop must), so the result depends on how
    /// the input was cut.
    pub tls_discarded: bool,
    /// Refusals the session reported ([`Output::Rejected`]).
    pub rejected: usize,
}

impl Transcript {
    /// The replies as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }
}

impl Session {
    /// Feeds `reads` one after another, answering every output through `peer`, and returns what
    /// was written. After STARTTLS the handshake is taken to succeed (`TLSv1.3`).
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
                let waits = matches!(
                    outputs.last(),
                    Some(
                        Output::Message(_)
                            | Output::Authenticate(_)
                            | Output::StartTls
                            | Output::Close
                    )
                );
                assert!(
                    used == input.len() || waits || self.is_closed(),
                    "feed stopped at {used} of {} bytes without a reason",
                    input.len()
                );
                input = &input[used..];
                for output in outputs.drain(..) {
                    match output {
                        Output::Reply(reply) => reply.write_to(&mut t.wire),
                        Output::Message(received) => {
                            let result = peer.store(received);
                            self.delivered(result.as_deref().map_err(String::as_str))
                                .write_to(&mut t.wire);
                        }
                        Output::Authenticate(credentials) => {
                            let user = peer.authenticate(credentials);
                            let mut answer = Vec::new();
                            self.authenticated(user, &mut answer);
                            for output in answer {
                                match output {
                                    Output::Reply(reply) => reply.write_to(&mut t.wire),
                                    Output::Close => t.closed = true,
                                    _ => {}
                                }
                            }
                        }
                        Output::StartTls => {
                            self.tls_started("TLSv1.3".into());
                            t.tls_discarded |= !input.is_empty();
                            input = &[];
                        }
                        Output::Close => t.closed = true,
                        Output::Rejected => t.rejected += 1,
                    }
                }
            }
        }
        t
    }
}

/// A peer that keeps every message (ids `m1`, `m2`, …) and accepts `password` for any user
/// (none when it is `None`).
#[derive(Debug, Default)]
pub struct Recorder {
    pub stored: Vec<Received>,
    pub password: Option<String>,
}

impl Peer for Recorder {
    fn store(&mut self, received: Received) -> Result<String, String> {
        self.stored.push(received);
        Ok(format!("m{}", self.stored.len()))
    }

    fn authenticate(&mut self, credentials: Credentials) -> Option<String> {
        let ok = match (&self.password, &credentials.secret) {
            (Some(expected), super::auth::Secret::Password(given)) => given == expected,
            _ => false,
        };
        ok.then_some(credentials.user)
    }
}

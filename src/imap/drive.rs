//! Driving an IMAP session over whole byte streams without any I/O, as the I/O loop in
//! [`super::conn`] does, for transcript tests, property tests and fuzzing. Store changes run
//! on the in-memory store directly, and the store's events are handed to the session right
//! after each change (before the session reads on), so a transcript does not depend on how
//! its input was cut into reads.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::session::{Output, Session};
use super::uids::FlagChange;
use crate::login::{Account, LoginError};
use crate::message::{Envelope, StoredMessage};
use crate::store::{Event, Store, StoreError};

/// What the I/O loop would ask of the rest of the server.
pub trait Peer {
    /// Checks credentials and opens what the user reads.
    fn login(&mut self, user: &str, password: &str) -> Result<Account, LoginError>;
}

/// What one call of [`Session::drive`] produced.
#[derive(Debug, Default)]
pub struct Transcript {
    pub wire: Vec<u8>,
    pub closed: bool,
    /// STARTTLS dropped the rest of a read (as the I/O loop must), so the result depends on how
    /// the input was cut.
    pub tls_discarded: bool,
}

impl Transcript {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }
}

/// The driver's state across reads.
#[derive(Debug, Default)]
struct Loop {
    events: Option<broadcast::Receiver<Event>>,
    flags: Option<broadcast::Receiver<FlagChange>>,
    starttls: bool,
}

impl Session {
    /// Feeds `reads` one after another, carrying out every output, and returns what was
    /// written. After STARTTLS the handshake is taken to succeed and the rest of that read is
    /// dropped.
    pub fn drive(&mut self, reads: &[&[u8]], peer: &mut impl Peer) -> Transcript {
        let mut t = Transcript::default();
        let mut state = Loop::default();
        for read in reads {
            if self.is_closed() {
                break;
            }
            self.feed(read);
            let mut outputs = Vec::new();
            self.advance(&mut outputs);
            self.carry_out(outputs, peer, &mut state, &mut t);
            if state.starttls {
                state.starttls = false;
                t.tls_discarded = true;
                let mut outputs = Vec::new();
                self.tls_started(&mut outputs);
                self.carry_out(outputs, peer, &mut state, &mut t);
            }
        }
        t.closed = self.is_closed();
        t
    }

    fn carry_out(
        &mut self,
        mut outputs: Vec<Output>,
        peer: &mut impl Peer,
        state: &mut Loop,
        t: &mut Transcript,
    ) {
        while !outputs.is_empty() {
            let mut more = Vec::new();
            for output in outputs {
                match output {
                    Output::Write(bytes) => t.wire.extend_from_slice(&bytes),
                    Output::Login { user, password } => {
                        let result = peer.login(&user, &password);
                        self.logged_in(result, &mut more);
                    }
                    Output::Subscribe(store) => state.events = Some(store.subscribe()),
                    Output::WatchFlags(changes) => state.flags = Some(changes),
                    Output::StartTls => state.starttls = true,
                    Output::SetRead { store, ids, read } => {
                        for id in ids {
                            store.set_read_blocking(&id, read);
                        }
                        self.deliver(state, &mut more);
                        self.stored(&mut more);
                    }
                    Output::Delete { store, ids } => {
                        store.delete_blocking(&ids);
                        self.deliver(state, &mut more);
                        self.stored(&mut more);
                    }
                    Output::Retag { store, changes } => {
                        for (id, tags) in changes {
                            store.set_tags_blocking(&[id], &tags);
                        }
                        self.deliver(state, &mut more);
                        self.stored(&mut more);
                    }
                    Output::Append {
                        store, data, seen, ..
                    } => {
                        let result = append(&store, data, seen);
                        self.deliver(state, &mut more);
                        self.appended(result, &mut more);
                    }
                    Output::Fetch(job) => job.render_rows(0..job.rows.len(), &mut t.wire),
                    Output::Search(job) => t.wire.extend_from_slice(&job.render()),
                    Output::Close => {}
                }
            }
            outputs = more;
        }
    }

    fn deliver(&mut self, state: &mut Loop, out: &mut Vec<Output>) {
        let Some(events) = &mut state.events else {
            return;
        };
        loop {
            match events.try_recv() {
                Ok(event) => self.store_event(event, out),
                Err(broadcast::error::TryRecvError::Lagged(_)) => self.lagged(out),
                Err(_) => break,
            }
        }
    }
}

fn append(store: &Store, data: Vec<u8>, seen: bool) -> Result<Arc<StoredMessage>, StoreError> {
    let message = store.insert(StoredMessage::new(Envelope::default(), data))?;
    if seen {
        store.set_read_blocking(&message.id, true);
    }
    Ok(message)
}

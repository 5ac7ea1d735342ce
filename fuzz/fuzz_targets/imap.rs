//! Arbitrary bytes, cut into arbitrary reads, fed to an IMAP session with small limits over an
//! in-memory store of two messages, through `Session::drive` (the I/O loop without I/O): every
//! login with a password of even length is accepted, every STARTTLS "completed".
//!
//! Input: `[flags][cut seed][stream…]`; `flags & 1` offers STARTTLS. Checks: no panic; the store
//! never holds a message over the literal limit; and, unless STARTTLS discarded input (which
//! depends on read boundaries by design), the cut stream gives exactly the same bytes as the
//! whole stream in one read.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mailsnare::imap::drive::Peer;
use mailsnare::imap::session::{Session, SessionConfig};
use mailsnare::imap::uids::Registry;
use mailsnare::login::{Account, LoginError};
use mailsnare::message::{Envelope, StoredMessage};
use mailsnare::store::Store;

const MAX_LITERAL: usize = 300;

const MAILS: [&[u8]; 2] = [
    b"From: Ann <ann@example.com>\r\nSubject: one\r\n\r\nbody\r\n",
    b"Subject: two\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ny\r\n--b--\r\n",
];

struct Users(Store);

impl Peer for Users {
    fn login(&mut self, user: &str, password: &str) -> Result<Account, LoginError> {
        if !password.len().is_multiple_of(2) {
            return Err(LoginError::Refused);
        }
        Ok(Account {
            user: user.to_string(),
            mailbox: None,
            store: self.0.clone(),
        })
    }
}

fn run(starttls: bool, stream: &[u8], mut next_len: impl FnMut() -> usize) -> (Vec<u8>, bool) {
    let store = Store::new(Default::default());
    for raw in MAILS {
        let _ = store.insert(StoredMessage::new(Envelope::default(), raw.to_vec()));
    }
    let config = Arc::new(SessionConfig {
        hostname: "fuzz.test".into(),
        starttls,
        max_login_failures: 3,
        max_line: 200,
        max_literal: MAX_LITERAL,
    });
    let mut session = Session::new(config, Arc::new(Registry::in_memory()), false);
    let mut reads = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let n = next_len().clamp(1, rest.len());
        let (read, tail) = rest.split_at(n);
        reads.push(read);
        rest = tail;
    }
    let t = session.drive(&reads, &mut Users(store.clone()));
    for message in store.snapshot().messages() {
        assert!(message.size() <= MAX_LITERAL.max(MAILS[1].len()));
    }
    (t.wire, t.tls_discarded)
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, stream @ ..] = data else {
        return;
    };
    let starttls = flags & 1 != 0;
    let (cut, discarded) = run(starttls, stream, {
        let mut state = u32::from(*seed) | 0x9e37_0000;
        move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if state % 7 == 0 { 1 } else { (state % 64 + 1) as usize }
        }
    });
    if discarded {
        return;
    }
    let (whole, discarded) = run(starttls, stream, || usize::MAX);
    if !discarded {
        // INTERNALDATE and UIDVALIDITY come from the clock; runs a second apart may differ there.
        let strip = |w: &[u8]| -> Vec<u8> {
            w.split(|&b| b == b'\n')
                .filter(|l| !l.windows(12).any(|x| x == b"INTERNALDATE") && !l.windows(11).any(|x| x == b"UIDVALIDITY"))
                .flatten()
                .copied()
                .collect()
        };
        assert_eq!(strip(&cut), strip(&whole), "read boundaries changed the outcome");
    }
});

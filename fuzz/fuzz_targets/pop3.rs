//! Arbitrary bytes, cut into arbitrary reads, fed to a POP3 session with a small line limit and a
//! three-message maildrop. Every login is answered (by its password's length: opened, refused or
//! unavailable), every QUIT's deletions applied and every STLS "completed", as the I/O loop does.
//!
//! Input: `[flags][cut seed][stream…]`. Checks: no panic; `feed` never claims more than it was
//! given and only stops early for a login, deletions, STLS or a close (checked by
//! `Session::drive`); every line written is CRLF-terminated; only marked messages are deleted;
//! and, unless STLS discarded input (which depends on read boundaries by design), the cut stream
//! gives exactly the same wire, messages seen and deletions as the whole stream in one read.
#![no_main]

use std::sync::Arc;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mailsnare::pop3::drive::{Peer, Transcript};
use mailsnare::pop3::{Login, LoginFailure, Maildrop, Session, SessionConfig};
use uuid::Uuid;

const IDS: [Uuid; 3] = [Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)];

fn maildrop() -> Maildrop {
    Maildrop::new([
        (IDS[0], Bytes::from_static(b"Subject: a\r\n\r\n.one\r\n")),
        (IDS[1], Bytes::from_static(b"B: b\n\nline\n.\n..\nend")),
        (IDS[2], Bytes::from_static(b"")),
    ])
}

/// Decides logins deterministically, so that runs over different cuts agree.
struct Fixed {
    deleted: Vec<Uuid>,
}

impl Peer for Fixed {
    fn login(&mut self, login: &Login) -> Result<Maildrop, LoginFailure> {
        match login.password.len() % 3 {
            0 => Ok(maildrop()),
            1 => Err(LoginFailure::Refused),
            _ => Err(LoginFailure::Unavailable("busy".into())),
        }
    }

    fn delete(&mut self, ids: &[Uuid]) -> usize {
        for id in ids {
            assert!(IDS.contains(id), "deleted an unknown id {id}");
            assert!(!self.deleted.contains(id), "deleted {id} twice");
        }
        self.deleted.extend_from_slice(ids);
        ids.len()
    }
}

fn run(
    config: &Arc<SessionConfig>,
    stream: &[u8],
    mut next_len: impl FnMut() -> usize,
) -> (Transcript, Vec<Uuid>) {
    let mut session = Session::new(Arc::clone(config));
    let mut reads = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let n = next_len().clamp(1, rest.len());
        let (read, tail) = rest.split_at(n);
        reads.push(read);
        rest = tail;
    }
    let mut peer = Fixed {
        deleted: Vec::new(),
    };
    let t = session.drive(&reads, &mut peer);
    assert_eq!(t.closed, session.is_closed());
    (t, peer.deleted)
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, stream @ ..] = data else {
        return;
    };
    let config = Arc::new(SessionConfig {
        hostname: "fuzz.test".into(),
        stls: flags & 1 != 0,
        max_line: 80,
        max_login_failures: u32::from(flags >> 4).max(1),
    });
    let cut = run(&config, stream, {
        // xorshift over the seed: lengths 1..=64 mostly, sometimes 1 byte at a time.
        let mut state = u32::from(*seed) | 0x9e37_0000;
        move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            if state % 7 == 0 {
                1
            } else {
                (state % 64 + 1) as usize
            }
        }
    });
    for line in cut.0.wire.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.ends_with(b"\r"), "line without CRLF: {line:?}");
    }
    if cut.0.tls_discarded {
        return;
    }
    let whole = run(&config, stream, || usize::MAX);
    if !whole.0.tls_discarded {
        assert_eq!(cut, whole, "read boundaries changed the outcome");
    }
});

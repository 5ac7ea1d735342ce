//! Arbitrary bytes, cut into arbitrary reads, fed to an SMTP session with small limits. Every
//! message is delivered, every AUTH answered and every STARTTLS "completed", as the I/O loop does.
//!
//! Input: `[flags][cut seed][stream…]`. Checks: no panic; `feed` never claims more than it was
//! given and only stops early for a message, an AUTH check, STARTTLS or a close; no stored message
//! exceeds the size limit or the recipient limit; replies are well-formed; and, unless STARTTLS
//! discarded input (which depends on read boundaries by design), the cut stream gives exactly the
//! same replies and messages as the whole stream in one read.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mailsnare::chaos::Chaos;
use mailsnare::smtp::auth::Credentials;
use mailsnare::smtp::{Received, Session, SessionConfig};

const MAX_SIZE: usize = 600;
const MAX_RCPTS: usize = 3;

#[derive(Debug, PartialEq, Eq)]
struct Run {
    wire: Vec<u8>,
    stored: Vec<Received>,
    closed: bool,
    /// STARTTLS dropped the rest of a read, so the result depends on the cuts.
    tls_discarded: bool,
}

/// Keeps every message (checking the limits) and decides AUTH deterministically, so that runs
/// over different cuts agree.
struct Peer {
    stored: Vec<Received>,
}

impl mailsnare::smtp::drive::Peer for Peer {
    fn store(&mut self, received: Received) -> Result<String, String> {
        assert!(
            received.data.len() <= MAX_SIZE,
            "stored {} bytes over the {MAX_SIZE} limit",
            received.data.len()
        );
        assert!(!received.envelope.rcpt_to.is_empty());
        assert!(received.envelope.rcpt_to.len() <= MAX_RCPTS);
        self.stored.push(received);
        Ok(format!("m{}", self.stored.len()))
    }

    fn authenticate(&mut self, credentials: Credentials) -> Option<String> {
        credentials.user.len().is_multiple_of(2).then_some(credentials.user)
    }
}

/// Feeds `stream` in pieces whose lengths come from `next_len`, through `Session::drive` (which
/// checks the feed contract on every call).
fn run(config: &Arc<SessionConfig>, stream: &[u8], mut next_len: impl FnMut() -> usize) -> Run {
    let mut session = Session::new(
        Arc::clone(config),
        Arc::new(Chaos::default()),
        None,
        "fuzz-nonce".into(),
    );
    let mut wire = Vec::new();
    session.greeting().write_to(&mut wire);
    let mut reads = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let n = next_len().clamp(1, rest.len());
        let (read, tail) = rest.split_at(n);
        reads.push(read);
        rest = tail;
    }
    let mut peer = Peer { stored: Vec::new() };
    let t = session.drive(&reads, &mut peer);
    wire.extend_from_slice(&t.wire);
    assert_eq!(t.closed, session.is_closed());
    Run {
        wire,
        stored: peer.stored,
        closed: t.closed,
        tls_discarded: t.tls_discarded,
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, stream @ ..] = data else {
        return;
    };
    let config = Arc::new(SessionConfig {
        hostname: "fuzz.test".into(),
        max_message_size: MAX_SIZE,
        max_recipients: MAX_RCPTS,
        starttls: flags & 1 != 0,
        check_auth: flags & 2 != 0,
        require_auth: flags & 4 != 0,
        require_tls: flags & 8 != 0,
        ..SessionConfig::default()
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
    for line in cut.wire.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.ends_with(b"\r"), "reply line without CRLF: {line:?}");
        assert!(line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit));
        let code: u16 = std::str::from_utf8(&line[..3]).ok().and_then(|c| c.parse().ok()).unwrap_or(0);
        assert!((200..600).contains(&code), "reply code {code}");
    }
    if cut.tls_discarded {
        return;
    }
    let whole = run(&config, stream, || usize::MAX);
    if !whole.tls_discarded {
        assert_eq!(cut, whole, "read boundaries changed the outcome");
    }
});

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
use mailsnare::smtp::{Output, Received, Session, SessionConfig};

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

/// Feeds `stream` in pieces whose lengths come from `next_len`.
fn run(config: &Arc<SessionConfig>, stream: &[u8], mut next_len: impl FnMut() -> usize) -> Run {
    let mut session = Session::new(Arc::clone(config), None, "fuzz-nonce".into());
    let mut run = Run {
        wire: Vec::new(),
        stored: Vec::new(),
        closed: false,
        tls_discarded: false,
    };
    session.greeting().write_to(&mut run.wire);
    let mut outputs = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() && !session.is_closed() {
        let n = next_len().clamp(1, rest.len());
        let (mut input, tail) = rest.split_at(n);
        rest = tail;
        loop {
            let used = session.feed(input, &mut outputs);
            assert!(used <= input.len(), "consumed {used} of {}", input.len());
            let stopped_early = used < input.len();
            let blocking = matches!(
                outputs.last(),
                Some(
                    Output::Message(_) | Output::Authenticate(_) | Output::StartTls | Output::Close
                )
            );
            assert!(
                !stopped_early || blocking || session.is_closed(),
                "feed stopped at {used} of {} with no reason: {outputs:?}",
                input.len()
            );
            input = &input[used..];
            let mut starttls = false;
            for output in outputs.drain(..) {
                match output {
                    Output::Reply(reply) => {
                        assert!(
                            (200..600).contains(&reply.code),
                            "reply code {}",
                            reply.code
                        );
                        reply.write_to(&mut run.wire);
                    }
                    Output::Message(received) => {
                        assert!(
                            received.data.len() <= MAX_SIZE,
                            "stored {} bytes over the {MAX_SIZE} limit",
                            received.data.len()
                        );
                        assert!(!received.envelope.rcpt_to.is_empty());
                        assert!(received.envelope.rcpt_to.len() <= MAX_RCPTS);
                        run.stored.push(received);
                        let id = format!("m{}", run.stored.len());
                        session.delivered(Ok(&id)).write_to(&mut run.wire);
                    }
                    Output::Authenticate(credentials) => {
                        // Deterministic verdict, so both runs agree.
                        let ok = credentials.user.len() % 2 == 0;
                        session
                            .authenticated(ok.then_some(credentials.user))
                            .write_to(&mut run.wire);
                    }
                    Output::StartTls => starttls = true,
                    Output::Close => run.closed = true,
                }
            }
            if starttls {
                session.tls_started("TLSv1.3".into());
                // The I/O loop drops whatever else was in this read (RFC 3207 5).
                run.tls_discarded |= !input.is_empty();
                input = &[];
            }
            if input.is_empty() || session.is_closed() {
                break;
            }
            assert!(used > 0 || blocking, "no progress and no pending output");
        }
    }
    assert_eq!(run.closed, session.is_closed());
    run
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
    }
    if cut.tls_discarded {
        return;
    }
    let whole = run(&config, stream, || usize::MAX);
    if !whole.tls_discarded {
        assert_eq!(cut, whole, "read boundaries changed the outcome");
    }
});

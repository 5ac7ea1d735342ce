//! Property tests of the sans-I/O POP3 session and its message encoding.
//!
//! - Any script of commands (good, bad, out of state, AUTH dialogues, overlong lines) gives the
//!   same wire, the same messages seen and the same deletions however its bytes are cut into
//!   reads: at every single byte boundary, one byte at a time, and at random cuts.
//! - Arbitrary bytes never panic and never break `feed`'s contract (checked by `Session::drive`).
//! - RETR's encoding round-trips: undoing the byte-stuffing gives the message in CRLF form, whose
//!   length is the size LIST reports; and it is the same whatever the chunk budget.

use std::sync::Arc;

use bytes::Bytes;
use mailsnare::pop3::drive::{Fixed, Transcript};
use mailsnare::pop3::maildrop::{Body, Maildrop, crlf_size};
use mailsnare::pop3::{Session, SessionConfig};
use proptest::prelude::*;
use uuid::Uuid;

const MAX_LINE: usize = 64;

fn config() -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        hostname: "props.test".into(),
        stls: false,
        max_line: MAX_LINE,
        max_login_failures: 3,
    })
}

fn maildrop() -> Maildrop {
    Maildrop::new([
        (
            Uuid::from_u128(1),
            Bytes::from_static(b"Subject: one\r\n\r\nbody\r\n.dot\r\n"),
        ),
        (Uuid::from_u128(2), Bytes::from_static(b"A: b\n\n..\nx")),
        (Uuid::from_u128(3), Bytes::from_static(b"")),
    ])
}

fn run(stream: &[u8], cuts: &[usize]) -> (Transcript, Vec<Uuid>) {
    let mut session = Session::new(config());
    let mut peer = Fixed {
        maildrop: maildrop(),
        password: Some("pw".into()),
        ..Fixed::default()
    };
    let mut reads = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        let cut = cut.clamp(start, stream.len());
        reads.push(&stream[start..cut]);
        start = cut;
    }
    reads.push(&stream[start..]);
    let reads: Vec<&[u8]> = reads.into_iter().filter(|r| !r.is_empty()).collect();
    let t = session.drive(&reads, &mut peer);
    assert_eq!(t.closed, session.is_closed());
    (t, peer.deleted)
}

/// Lines a client might send, the server's error paths included.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("USER u".to_string()),
        Just("PASS pw".to_string()),
        Just("PASS wrong".to_string()),
        Just("AUTH PLAIN AHUAcHc=".to_string()),
        Just("AUTH PLAIN".to_string()),
        Just("AHUAcHc=".to_string()),
        Just("*".to_string()),
        Just("AUTH".to_string()),
        Just("CAPA".to_string()),
        Just("STAT".to_string()),
        Just("LIST".to_string()),
        Just("UIDL".to_string()),
        Just("RSET".to_string()),
        Just("NOOP".to_string()),
        Just("STLS".to_string()),
        Just("QUIT".to_string()),
        Just("".to_string()),
        (0usize..5).prop_map(|n| format!("LIST {n}")),
        (0usize..5).prop_map(|n| format!("UIDL {n}")),
        (0usize..5).prop_map(|n| format!("RETR {n}")),
        (0usize..5).prop_map(|n| format!("DELE {n}")),
        (0usize..5, 0usize..4).prop_map(|(n, k)| format!("top {n} {k}")),
        "[A-Za-z ]{0,12}",
        (MAX_LINE - 2..MAX_LINE + 4).prop_map(|n| format!("NOOP{}", " ".repeat(n))),
    ]
}

fn script() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec((line(), any::<bool>()), 0..24).prop_map(|lines| {
        let mut stream = Vec::new();
        for (line, bare_lf) in lines {
            stream.extend_from_slice(line.as_bytes());
            stream.extend_from_slice(if bare_lf { b"\n" } else { b"\r\n" });
        }
        stream
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn read_boundaries_never_change_the_outcome(
        stream in script(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let whole = run(&stream, &[]);
        // STLS is not configured here, so nothing is ever dropped for a handshake.
        prop_assert!(!whole.0.tls_discarded);
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        prop_assert_eq!(&run(&stream, &cuts), &whole);
        let bytewise: Vec<usize> = (1..stream.len()).collect();
        prop_assert_eq!(&run(&stream, &bytewise), &whole);
    }

    #[test]
    fn garbage_never_panics(
        stream in prop::collection::vec(any::<u8>(), 0..512),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        cuts.sort_unstable();
        let (t, _) = run(&stream, &cuts);
        for line in t.wire.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            prop_assert!(line.ends_with(b"\r"), "line without CRLF: {:?}", line);
        }
    }

    #[test]
    fn retr_round_trips_and_sizes_match(
        raw in prop::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), Just(b'a')], 0..300),
        budget in 1usize..40,
    ) {
        let drop = Maildrop::new([(Uuid::nil(), Bytes::from(raw.clone()))]);
        let entry = drop.get(1).unwrap();
        let encoded = Body::whole(entry).encode();
        // Chunked the same as whole.
        let mut encoder = Body::whole(entry).encoder();
        let mut chunked = Vec::new();
        loop {
            let mut chunk = Vec::new();
            let done = encoder.fill(&mut chunk, budget);
            prop_assert!(chunk.len() <= budget + 3);
            chunked.extend_from_slice(&chunk);
            if done {
                break;
            }
        }
        prop_assert_eq!(&chunked, &encoded);
        // Unstuff: every line starts after CRLF; a leading dot is removed.
        prop_assert!(encoded.ends_with(b".\r\n"));
        let body = &encoded[..encoded.len() - 3];
        let mut unstuffed = Vec::new();
        let mut at_start = true;
        for (i, &b) in body.iter().enumerate() {
            if at_start && b == b'.' {
                at_start = false;
                continue;
            }
            at_start = b == b'\n' && i > 0 && body[i - 1] == b'\r';
            unstuffed.push(b);
        }
        let mut crlf = Vec::new();
        for (i, &b) in raw.iter().enumerate() {
            if b == b'\n' && (i == 0 || raw[i - 1] != b'\r') {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        prop_assert_eq!(crlf.len(), crlf_size(&raw));
        prop_assert_eq!(entry.size(), crlf.len());
        if !crlf.is_empty() && !crlf.ends_with(b"\n") {
            crlf.extend_from_slice(b"\r\n");
        }
        prop_assert_eq!(unstuffed, crlf);
        // No line of the body is a lone dot before the end: the client cannot stop early.
        prop_assert!(!body.windows(5).any(|w| w == b"\r\n.\r\n"));
        prop_assert!(!body.starts_with(b".\r\n"));
    }
}

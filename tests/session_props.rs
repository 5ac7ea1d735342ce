//! Property tests of the sans-I/O SMTP session and the parsers behind the API.
//!
//! - Any valid pipelined script (EHLO, MAIL/RCPT/DATA or BDAT transactions, RSET, NOOP) gives the
//!   same replies and the same stored messages however its bytes are cut into reads, and both
//!   match a model of what the server must answer.
//! - Dot-stuffing round-trips: a body sent with DATA is stored exactly as it was before stuffing.
//! - Garbage never panics, `feed` always consumes what it is given unless it has a reason to stop,
//!   and an endless line or an oversized message is drained, not buffered (measured with a
//!   per-thread allocation counter).
//! - `Summary::parse` and `Query::parse` never panic on arbitrary input.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use mailsnare::chaos::Chaos;
use mailsnare::message::{Envelope, SNIPPET_CHARS, StoredMessage, Summary};
use mailsnare::search::Query;
use mailsnare::smtp::auth::Credentials;
use mailsnare::smtp::drive::Peer;
use mailsnare::smtp::session::{MAX_AUTH_LINE, MAX_ERRORS};
use mailsnare::smtp::{Output, Received, Session, SessionConfig};
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------------------------
// A per-thread count of live heap bytes, so a test can see what the session holds on to.
// ---------------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    // `try_with` so allocations during thread teardown are simply not counted.
    let _ = LIVE.try_with(|live| live.set(live.get() + delta));
}

// SAFETY: every call is forwarded unchanged to the system allocator; we only count sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes allocated and not yet freed by this thread.
fn live_bytes() -> isize {
    LIVE.with(Cell::get)
}

// ---------------------------------------------------------------------------------------------
// A harness that drives a session like the I/O loop does.
// ---------------------------------------------------------------------------------------------

const LIMIT: usize = 2048;
const HELO: &str = "client.example";

fn config() -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        hostname: "props.test".into(),
        max_message_size: LIMIT,
        ..SessionConfig::default()
    })
}

#[derive(Debug, PartialEq, Eq)]
struct Transcript {
    wire: Vec<u8>,
    stored: Vec<Received>,
    closed: bool,
}

impl Transcript {
    /// The code of every final reply line (`250 …`, not `250-…`).
    fn codes(&self) -> Vec<u16> {
        String::from_utf8_lossy(&self.wire)
            .split("\r\n")
            .filter(|l| l.as_bytes().get(3) == Some(&b' '))
            .map(|l| l[..3].parse().expect("numeric reply code"))
            .collect()
    }
}

/// Even-length user names authenticate; every message is kept (the size limit is checked).
struct Props {
    stored: Vec<Received>,
}

impl Peer for Props {
    fn store(&mut self, received: Received) -> Result<String, String> {
        assert!(received.data.len() <= LIMIT);
        self.stored.push(received);
        Ok(format!("m{}", self.stored.len()))
    }

    fn authenticate(&mut self, credentials: Credentials) -> Option<String> {
        credentials
            .user
            .len()
            .is_multiple_of(2)
            .then_some(credentials.user)
    }
}

/// Feeds `reads` one after another through [`Session::drive`], which checks on every call that
/// `feed` consumed all of its input unless it handed out something to wait for.
fn drive(config: &Arc<SessionConfig>, reads: &[&[u8]]) -> Transcript {
    let mut session = Session::new(
        Arc::clone(config),
        Arc::new(Chaos::default()),
        None,
        "props-nonce".into(),
    );
    let mut peer = Props { stored: Vec::new() };
    let run = session.drive(reads, &mut peer);
    assert_eq!(run.closed, session.is_closed());
    Transcript {
        wire: run.wire,
        stored: peer.stored,
        closed: run.closed,
    }
}

/// `wire` cut at the given points (any order, duplicates allowed).
fn cut<'a>(wire: &'a [u8], points: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = points.iter().map(|p| p.index(wire.len() + 1)).collect();
    at.sort_unstable();
    at.dedup();
    let mut pieces = Vec::new();
    let mut start = 0;
    for p in at.into_iter().chain([wire.len()]) {
        pieces.push(&wire[start..p]);
        start = p;
    }
    pieces
}

// ---------------------------------------------------------------------------------------------
// Valid scripts and a model of the server's answers.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    Noop,
    Rset,
    /// MAIL and RCPT, then RSET: nothing is stored.
    Abandoned {
        rcpts: usize,
    },
    Data {
        rcpts: usize,
        body: Vec<u8>,
    },
    Bdat {
        rcpts: usize,
        chunks: Vec<Vec<u8>>,
    },
}

/// One body line: text that often starts with dots, ends with CRLF or a bare LF.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let text = prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(b"abcXYZ 019:-".to_vec()),
            2 => Just(b'.'),
            1 => Just(b'\r'),
            1 => 0x80u8..=0xff,
        ],
        0..40,
    );
    let start = prop_oneof![Just(&b""[..]), Just(&b"."[..]), Just(&b".."[..])];
    let end = prop_oneof![3 => Just(&b"\r\n"[..]), 1 => Just(&b"\n"[..])];
    (start, text, end).prop_map(|(start, text, end)| [start, &text, end].concat())
}

/// A body of whole lines; sometimes longer than [`LIMIT`].
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(line(), 0..12).prop_map(|lines| lines.concat()),
        1 => (LIMIT - 40..LIMIT + 40).prop_map(|n| {
            let mut body = b"x".repeat(n);
            body.extend_from_slice(b"\r\n");
            body
        }),
    ]
}

fn chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..200),
        // Bytes that would end DATA, or look like commands, are only data inside BDAT.
        1 => Just(b"\r\n.\r\nQUIT\r\n".to_vec()),
        1 => (0usize..1200).prop_map(|n| vec![b'.'; n]),
        // Right at the size limit, alone or after other chunks.
        1 => (LIMIT - 1..=LIMIT + 1).prop_map(|n| vec![b'z'; n]),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::Noop),
        1 => Just(Step::Rset),
        1 => (1usize..4).prop_map(|rcpts| Step::Abandoned { rcpts }),
        4 => (1usize..4, body()).prop_map(|(rcpts, body)| Step::Data { rcpts, body }),
        3 => (1usize..4, prop::collection::vec(chunk(), 1..5))
            .prop_map(|(rcpts, chunks)| Step::Bdat { rcpts, chunks }),
    ]
}

/// Dot-stuffs `body` (RFC 5321 4.5.2) and appends the terminator.
fn stuff(body: &[u8]) -> Vec<u8> {
    let mut wire = Vec::with_capacity(body.len() + 8);
    let mut line_start = true;
    for &b in body {
        if line_start && b == b'.' {
            wire.push(b'.');
        }
        wire.push(b);
        line_start = b == b'\n';
    }
    wire.extend_from_slice(b".\r\n");
    wire
}

/// The script's bytes, the reply codes a correct server sends, and the messages it stores.
fn render(steps: &[Step]) -> (Vec<u8>, Vec<u16>, Vec<Received>) {
    let mut wire = format!("EHLO {HELO}\r\n").into_bytes();
    let mut codes = vec![220, 250];
    let mut stored = Vec::new();
    let mut errors = 0;
    for (n, step) in steps.iter().enumerate() {
        let from = format!("sender{n}@example.com");
        let rcpts = |k: usize| -> Vec<String> {
            (0..k).map(|i| format!("rcpt{n}.{i}@example.net")).collect()
        };
        let envelope = |to: Vec<String>| Envelope {
            helo: HELO.into(),
            esmtp: true,
            mail_from: from.clone(),
            rcpt_to: to,
            ..Envelope::default()
        };
        let open = |wire: &mut Vec<u8>, codes: &mut Vec<u16>, to: &[String]| {
            wire.extend_from_slice(format!("MAIL FROM:<{from}>\r\n").as_bytes());
            codes.push(250);
            for r in to {
                wire.extend_from_slice(format!("RCPT TO:<{r}>\r\n").as_bytes());
                codes.push(250);
            }
        };
        match step {
            Step::Noop => {
                wire.extend_from_slice(b"NOOP\r\n");
                codes.push(250);
            }
            Step::Rset => {
                wire.extend_from_slice(b"RSET\r\n");
                codes.push(250);
            }
            Step::Abandoned { rcpts: k } => {
                open(&mut wire, &mut codes, &rcpts(*k));
                wire.extend_from_slice(b"RSET\r\n");
                codes.push(250);
            }
            Step::Data { rcpts: k, body } => {
                let to = rcpts(*k);
                open(&mut wire, &mut codes, &to);
                wire.extend_from_slice(b"DATA\r\n");
                wire.extend_from_slice(&stuff(body));
                codes.push(354);
                if body.len() > LIMIT {
                    if error(&mut codes, &mut errors, 552) {
                        break;
                    }
                } else {
                    codes.push(250);
                    errors = 0;
                    stored.push(Received {
                        envelope: envelope(to),
                        data: body.clone(),
                    });
                }
            }
            Step::Bdat { rcpts: k, chunks } => {
                let to = rcpts(*k);
                open(&mut wire, &mut codes, &to);
                let mut data = Some(Vec::new());
                for (i, chunk) in chunks.iter().enumerate() {
                    let last = i + 1 == chunks.len();
                    let verb = if last { " LAST" } else { "" };
                    wire.extend_from_slice(format!("BDAT {}{verb}\r\n", chunk.len()).as_bytes());
                    wire.extend_from_slice(chunk);
                    let closed = match &mut data {
                        // A failed chunk ended the transaction: later chunks find no MAIL.
                        None => error(&mut codes, &mut errors, 503),
                        Some(so_far) if so_far.len() + chunk.len() > LIMIT => {
                            data = None;
                            error(&mut codes, &mut errors, 552)
                        }
                        Some(so_far) => {
                            so_far.extend_from_slice(chunk);
                            codes.push(250);
                            false
                        }
                    };
                    if closed {
                        return (wire, codes, stored);
                    }
                    if last && let Some(data) = data.take() {
                        errors = 0;
                        stored.push(Received {
                            envelope: envelope(to.clone()),
                            data,
                        });
                    }
                }
            }
        }
    }
    if errors < MAX_ERRORS {
        wire.extend_from_slice(b"QUIT\r\n");
        codes.push(221);
    }
    (wire, codes, stored)
}

/// Pushes an error reply's code; returns true once the session closes for too many errors.
fn error(codes: &mut Vec<u16>, errors: &mut u32, code: u16) -> bool {
    codes.push(code);
    *errors += 1;
    if *errors >= MAX_ERRORS {
        codes.push(421);
        return true;
    }
    false
}

/// The model's codes without the greeting, which the harness does not write.
fn without_greeting(mut codes: Vec<u16>) -> Vec<u16> {
    codes.remove(0);
    codes
}

// ---------------------------------------------------------------------------------------------
// Garbage: SMTP-ish fragments and random bytes.
// ---------------------------------------------------------------------------------------------

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let tokens: Vec<&'static [u8]> = vec![
        b"EHLO x\r\n",
        b"HELO y\n",
        b"MAIL FROM:<a@b>\r\n",
        b"MAIL FROM:<> SIZE=999999999\r\n",
        b"RCPT TO:<c@d>\r\n",
        b"DATA\r\n",
        b"BDAT 7\r\n",
        b"BDAT 0 LAST\r\n",
        b"BDAT 99999999999999999999\r\n",
        b".\r\n",
        b"\r\n.\r\n",
        b"RSET\r\n",
        b"AUTH PLAIN\r\n",
        b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n",
        b"AUTH LOGIN\r\n",
        b"dXNlcg==\r\n",
        b"AUTH CRAM-MD5\r\n",
        b"*\r\n",
        b"STARTTLS\r\n",
        b"QUIT\r\n",
    ];
    prop_oneof![
        3 => prop::sample::select(tokens).prop_map(<[u8]>::to_vec),
        2 => prop::collection::vec(any::<u8>(), 0..64),
        1 => (500usize..3000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ]
}

fn any_config() -> impl Strategy<Value = Arc<SessionConfig>> {
    (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(starttls, check_auth, require_auth, require_tls)| {
            Arc::new(SessionConfig {
                max_message_size: 300,
                max_recipients: 2,
                starttls,
                check_auth,
                require_auth,
                require_tls,
                ..SessionConfig::default()
            })
        },
    )
}

// ---------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any cutting of a valid script, including one byte per read, gives the same transcript as
    /// one read; and that transcript is the one the model predicts.
    #[test]
    fn any_chunking_gives_the_same_replies_and_messages(
        steps in prop::collection::vec(step(), 0..8),
        points in prop::collection::vec(any::<Index>(), 0..24),
    ) {
        let config = config();
        let (wire, codes, expected) = render(&steps);
        let whole = drive(&config, &[&wire]);
        prop_assert_eq!(whole.codes(), without_greeting(codes));
        prop_assert_eq!(&whole.stored, &expected);
        prop_assert!(whole.closed, "QUIT or too many errors closes the session");

        let pieces = cut(&wire, &points);
        prop_assert_eq!(&drive(&config, &pieces), &whole, "cut at {:?}", points);
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        prop_assert_eq!(&drive(&config, &bytes), &whole, "one byte per read");
    }

    /// body → dot-stuffed on the wire → stored body is the original, for CRLF (and bare LF) lines.
    #[test]
    fn dot_stuffing_round_trips(
        lines in prop::collection::vec(line(), 0..30),
        points in prop::collection::vec(any::<Index>(), 0..8),
    ) {
        let body = lines.concat();
        let config = Arc::new(SessionConfig::default());
        let mut wire = b"HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n".to_vec();
        wire.extend_from_slice(&stuff(&body));
        wire.extend_from_slice(b"NOOP\r\n");
        let t = drive(&config, &cut(&wire, &points));
        prop_assert_eq!(t.codes(), vec![250, 250, 250, 354, 250, 250]);
        prop_assert_eq!(t.stored.len(), 1);
        prop_assert_eq!(&t.stored[0].data, &body);
    }

    /// Garbage in any cutting never panics, `feed` keeps consuming, every reply is well-formed, and
    /// no stored message is over the limit (checked inside `drive`).
    #[test]
    fn garbage_never_panics_and_is_consumed(
        config in any_config(),
        fragments in prop::collection::vec(fragment(), 0..40),
        points in prop::collection::vec(any::<Index>(), 0..16),
    ) {
        let wire = fragments.concat();
        let t = drive(&config, &cut(&wire, &points));
        for line in t.wire.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            prop_assert!(line.ends_with(b"\r"), "reply line without CRLF");
            let code: u16 = std::str::from_utf8(&line[..3]).ok().and_then(|c| c.parse().ok())
                .ok_or_else(|| TestCaseError::fail("reply without a code"))?;
            prop_assert!((200..600).contains(&code));
        }
    }

    /// A line with no end, in reads of any size, is counted, never buffered past the AUTH line
    /// limit; its end brings exactly one 500 and the session goes on.
    #[test]
    fn endless_line_is_drained_not_buffered(
        len in 511usize..200_000,
        read in 1usize..20_000,
        byte in prop::sample::select(b"X\r\x00\xff .".to_vec()),
    ) {
        let config = config();
        let mut session = Session::new(Arc::clone(&config), Arc::new(Chaos::default()), None, "n".into());
        let mut outputs = Vec::new();
        let line = vec![byte; len];
        let before = live_bytes();
        for piece in line.chunks(read) {
            prop_assert_eq!(session.feed(piece, &mut outputs), piece.len());
            let held = live_bytes() - before;
            prop_assert!(
                held <= 2 * MAX_AUTH_LINE as isize,
                "the session holds {} bytes after {} bytes of one line", held, len
            );
        }
        prop_assert!(outputs.is_empty(), "no reply before the line ends");
        prop_assert_eq!(session.feed(b"\r\nNOOP\r\n", &mut outputs), 8);
        let mut wire = Vec::new();
        for output in outputs.drain(..) {
            match output {
                Output::Reply(reply) => reply.write_to(&mut wire),
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        prop_assert_eq!(
            String::from_utf8_lossy(&wire),
            "500 5.5.6 Line too long\r\n250 2.0.0 Ok\r\n"
        );
    }

    /// Arbitrary bytes as a message never panic the summary, and its invariants hold.
    #[test]
    fn summary_parse_never_panics(
        raw in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..2000),
            prop::collection::vec(
                prop::sample::select(vec![
                    &b"Content-Type: multipart/mixed; boundary=b\r\n"[..], b"\r\n", b"--b\r\n",
                    b"--b--\r\n", b"Subject: =?utf-8?B?w6k=?=\r\n", b"From: \"A\" <a@b>, c@d\r\n",
                    b"Content-Transfer-Encoding: base64\r\n", b"Content-Transfer-Encoding: quoted-printable\r\n",
                    b"Content-Type: text/html; charset=iso-8859-1\r\n", b"<p>hi=\r\n", b"=C3=A9\xff\r\n",
                    b"Content-Type: message/rfc822\r\n", b"X-Tags: a, ,b\r\n", b"Date: Mon, 6 May 2024 10:00:00 +0000\r\n",
                ]),
                0..40,
            ).prop_map(|parts| parts.concat()),
        ],
    ) {
        let envelope = Envelope { rcpt_to: vec!["x@y".into()], ..Envelope::default() };
        let summary = Summary::parse_default(&raw, &envelope);
        prop_assert!(summary.snippet(&raw).chars().count() <= SNIPPET_CHARS);
        let named = summary.to.iter().chain(&summary.cc).chain(&summary.bcc)
            .any(|a| a.address.eq_ignore_ascii_case("x@y"));
        prop_assert!(named, "the envelope recipient is in To, Cc or Bcc");
        let stored = StoredMessage::new(envelope, raw);
        prop_assert_eq!(stored.body_texts().count(), summary.bodies.len());
    }

    /// Arbitrary text as a search never panics, and a parsed query can be run.
    #[test]
    fn query_parse_never_panics(
        text in prop_oneof![
            any::<String>(),
            prop::collection::vec(
                prop::sample::select(vec![
                    "from:", "to:", "subject:", "is:", "has:", "before:", "after:", "tag:", "message-id:",
                    "\"", "-", "!", " ", "read", "attachment", "2024-01-01", "a", "É", "\u{212a}", ":",
                ]),
                0..12,
            ).prop_map(|parts| parts.concat()),
        ],
    ) {
        let m = StoredMessage::new(
            Envelope { mail_from: "a@b".into(), rcpt_to: vec!["c@d".into()], ..Envelope::default() },
            b"From: A <a@b>\r\nSubject: Read me\r\nX-Tags: t\r\n\r\nbody text\r\n".to_vec(),
        );
        if let Ok(query) = Query::parse(&text) {
            let hit = query.matches(&m);
            if query.is_empty() {
                prop_assert!(hit, "the empty query matches everything");
            }
        }
    }
}

/// An oversized DATA message is counted and dropped, not held: after 1 MiB against a 2 KiB limit
/// the session holds little, answers 552, and the next transaction works.
#[test]
fn oversized_data_is_not_buffered() {
    let config = config();
    let mut session = Session::new(
        Arc::clone(&config),
        Arc::new(Chaos::default()),
        None,
        "n".into(),
    );
    let mut outputs = Vec::new();
    let head = b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n";
    assert_eq!(session.feed(head, &mut outputs), head.len());
    let before = live_bytes();
    let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n";
    let mut peak = 0;
    for _ in 0..(1 << 20) / line.len() {
        assert_eq!(session.feed(line, &mut outputs), line.len());
        peak = peak.max(live_bytes() - before);
    }
    assert!(
        peak <= 4 * LIMIT as isize,
        "the session held {peak} bytes of a message over its {LIMIT}-byte limit"
    );
    let tail = b".\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nsmall\r\n.\r\n";
    let mut wire = Vec::new();
    let mut input = &tail[..];
    let mut stored = Vec::new();
    while !input.is_empty() {
        let used = session.feed(input, &mut outputs);
        input = &input[used..];
        for output in outputs.drain(..) {
            match output {
                Output::Reply(reply) => reply.write_to(&mut wire),
                Output::Message(m) => {
                    stored.push(m.data);
                    session.delivered(Ok("m1")).write_to(&mut wire);
                }
                // The 552 for the oversized message is a refusal.
                Output::Rejected => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let t = Transcript {
        wire,
        stored: Vec::new(),
        closed: false,
    };
    assert_eq!(t.codes(), [250, 250, 250, 354, 552, 250, 250, 354, 250]);
    assert_eq!(stored, [b"small\r\n".to_vec()]);
}

/// Found by `summary_parse_never_panics`: a word that ends exactly at the limit was followed by a
/// space, giving a 201-character snippet with a trailing blank.
#[test]
fn snippet_never_exceeds_its_limit() {
    let text = format!("{} next", "a".repeat(SNIPPET_CHARS));
    let snippet = mailsnare::message::snippet(&text);
    assert!(
        snippet.chars().count() <= SNIPPET_CHARS,
        "snippet of {} chars: {:?}…",
        snippet.chars().count(),
        &snippet[snippet.len() - 5..]
    );
}

//! Transcripts of the sans-I/O IMAP session: every command and its error paths, each run whole,
//! byte by byte and in random cuts (the three must agree), plus property tests: any pipelined
//! script gives the same bytes however it is cut, and garbage never panics nor grows memory.

use std::sync::Arc;

use mailsnare::imap::drive::{Peer, Transcript};
use mailsnare::imap::session::{Output, Session, SessionConfig};
use mailsnare::imap::uids::Registry;
use mailsnare::login::{Account, LoginError};
use mailsnare::message::{Envelope, StoredMessage};
use mailsnare::store::Store;
use proptest::prelude::*;

const MAIL: &[u8] = b"From: Ann <ann@example.com>\r\nTo: bob@example.org\r\nSubject: Hello\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nfirst body\r\n";
const MAIL2: &[u8] = b"From: carl@example.net\r\nSubject: Second\r\nContent-Type: multipart/alternative; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain\r\n\r\nplain\r\n--z\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--z--\r\n";

struct Users {
    store: Store,
}

impl Peer for Users {
    fn login(&mut self, user: &str, password: &str) -> Result<Account, LoginError> {
        if password != "pw" {
            return Err(LoginError::Refused);
        }
        Ok(Account {
            user: user.to_string(),
            mailbox: None,
            store: self.store.clone(),
        })
    }
}

fn config(starttls: bool) -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        hostname: "test.host".into(),
        starttls,
        max_login_failures: 3,
        max_line: 200,
        max_literal: 1000,
    })
}

/// A store with MAIL and MAIL2, and the registry every session of a test shares.
fn world() -> (Store, Arc<Registry>) {
    let store = Store::new(Default::default());
    for raw in [MAIL, MAIL2] {
        store
            .insert(StoredMessage::new(Envelope::default(), raw.to_vec()))
            .unwrap();
    }
    // One UIDVALIDITY for every run, so the transcripts of the runs compare equal even when
    // the clock's second turns between them.
    (
        store,
        Arc::new(Registry::in_memory_with_validity(1_700_000_000)),
    )
}

fn once(store: &Store, registry: &Arc<Registry>, starttls: bool, reads: &[&[u8]]) -> Transcript {
    let mut session = Session::new(config(starttls), Arc::clone(registry), false);
    let mut users = Users {
        store: store.clone(),
    };
    let mut t = session.drive(reads, &mut users);
    let mut wire = session.greeting();
    wire.extend_from_slice(&t.wire);
    t.wire = wire;
    t
}

/// Runs `script` whole, byte by byte and in cuts of 7, each against a fresh copy of the world,
/// and returns the transcript after checking that all three agree.
fn run_with(starttls: bool, script: &[u8]) -> (String, Store) {
    let mut results = Vec::new();
    let mut last_store = None;
    for cut in [usize::MAX, 1, 7] {
        let (store, registry) = world();
        let reads: Vec<&[u8]> = if cut == usize::MAX {
            vec![script]
        } else {
            script.chunks(cut).collect()
        };
        let t = once(&store, &registry, starttls, &reads);
        if !t.tls_discarded || cut == usize::MAX {
            results.push(t.text());
        }
        last_store = Some(store);
    }
    for other in &results[1..] {
        assert_eq!(&results[0], other, "read boundaries changed the transcript");
    }
    (results.remove(0), last_store.unwrap())
}

fn run(script: &[u8]) -> String {
    run_with(false, script).0
}

fn has(text: &str, needle: &str) {
    assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
}

fn lacks(text: &str, needle: &str) {
    assert!(!text.contains(needle), "unexpected {needle:?} in:\n{text}");
}

#[test]
fn greeting_capability_noop_logout() {
    let t = run(b"a CAPABILITY\r\nb NOOP\r\nc LOGOUT\r\nd NOOP\r\n");
    has(
        &t,
        "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT AUTH=PLAIN] test.host",
    );
    has(&t, "* CAPABILITY IMAP4rev1 ");
    has(&t, "b OK NOOP completed\r\n");
    has(&t, "* BYE logging out\r\nc OK LOGOUT completed\r\n");
    lacks(&t, "\r\nd ");
}

#[test]
fn logins_fail_then_close_after_the_limit() {
    let t = run(b"a LOGIN u wrong\r\nb LOGIN u pw\r\nc NOOP\r\n");
    has(
        &t,
        "a NO [AUTHENTICATIONFAILED] invalid user name or password\r\n",
    );
    has(
        &t,
        "b OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT] logged in\r\n",
    );
    let t = run(b"a LOGIN u x\r\nb LOGIN u y\r\nc LOGIN u z\r\nd LOGIN u pw\r\n");
    has(&t, "c NO [AUTHENTICATIONFAILED]");
    has(&t, "* BYE too many failed logins\r\n");
    lacks(&t, "\r\nd ");
    // A literal password, as clients send for special characters.
    let t = run(b"a LOGIN {1}\r\nu {2}\r\npw\r\n");
    has(
        &t,
        "+ Ready for literal data\r\n+ Ready for literal data\r\na OK [CAPABILITY",
    );
    let t = run(b"a LOGIN {1+}\r\nu {2+}\r\npw\r\n");
    lacks(&t, "+ Ready");
    has(&t, "a OK [CAPABILITY");
}

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    // \0u\0pw
    let t = run(b"a AUTHENTICATE PLAIN AHUAcHc=\r\nb NOOP\r\n");
    has(&t, "a OK [CAPABILITY");
    let t = run(b"a AUTHENTICATE PLAIN\r\nAHUAcHc=\r\n");
    has(&t, "+ \r\na OK [CAPABILITY");
    let t = run(b"a AUTHENTICATE PLAIN\r\n*\r\nb NOOP\r\n");
    has(&t, "a BAD AUTHENTICATE cancelled\r\nb OK");
    let t = run(b"a AUTHENTICATE CRAM-MD5\r\n");
    has(&t, "a NO unsupported mechanism");
    let t = run(b"a AUTHENTICATE PLAIN AHUAd3Jvbmc=\r\n");
    has(&t, "a NO [AUTHENTICATIONFAILED]");
}

#[test]
fn state_errors() {
    let t = run(b"a SELECT INBOX\r\nb FETCH 1 FLAGS\r\nc LOGIN u pw\r\nd FETCH 1 FLAGS\r\ne LOGIN u pw\r\nf STARTTLS\r\n");
    has(&t, "a BAD log in first\r\n");
    has(&t, "b BAD log in first\r\n");
    has(&t, "d BAD no mailbox selected\r\n");
    has(&t, "e BAD already authenticated\r\n");
    has(&t, "f BAD already authenticated\r\n");
    let t = run(b"a STARTTLS\r\n");
    has(&t, "a BAD STARTTLS not available\r\n");
}

#[test]
fn garbage_and_long_lines_get_bad_and_many_errors_close() {
    let mut script = b"a LOGIN u pw\r\nnonsense\r\nb FROB\r\nc NOOP ".to_vec();
    script.extend_from_slice(&[b'x'; 500]);
    script.extend_from_slice(b"\r\nd NOOP\r\n");
    let t = run(&script);
    has(&t, "* BAD syntax error\r\n");
    has(&t, "b BAD syntax error\r\n");
    has(&t, "c BAD line too long\r\n");
    has(&t, "d OK NOOP completed\r\n");
    let t = run(&b"x\r\n".repeat(25));
    has(&t, "* BYE too many errors\r\n");
}

#[test]
fn select_examine_status_list_and_the_rest() {
    let t = run(b"a LOGIN u pw\r\nb SELECT INBOX\r\nc EXAMINE inbox\r\nd STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)\r\ne LIST \"\" \"*\"\r\nf LIST \"\" \"\"\r\ng LIST \"\" \"%\"\r\nh LIST \"\" \"Other\"\r\ni LSUB \"\" \"*\"\r\nj NAMESPACE\r\nk ID NIL\r\nl ENABLE CONDSTORE\r\nm CREATE Archive\r\nn SELECT Archive\r\no SUBSCRIBE INBOX\r\np DELETE INBOX\r\nq RENAME INBOX x\r\nr STATUS x (MESSAGES)\r\ns CHECK\r\n");
    has(
        &t,
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
    );
    has(
        &t,
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)]",
    );
    has(
        &t,
        "* 2 EXISTS\r\n* 0 RECENT\r\n* OK [UNSEEN 1] first unseen\r\n* OK [UIDVALIDITY ",
    );
    has(
        &t,
        "* OK [UIDNEXT 3] predicted next UID\r\nb OK [READ-WRITE] SELECT completed\r\n",
    );
    has(&t, "* OK [PERMANENTFLAGS ()]");
    has(&t, "c OK [READ-ONLY] EXAMINE completed\r\n");
    has(&t, "* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ");
    has(&t, " UNSEEN 2 RECENT 0)\r\nd OK");
    has(&t, "* LIST (\\HasNoChildren) \"/\" INBOX\r\ne OK");
    has(&t, "* LIST (\\Noselect) \"/\" \"\"\r\nf OK");
    has(&t, "* LIST (\\HasNoChildren) \"/\" INBOX\r\ng OK");
    has(&t, "\r\nh OK LIST completed");
    lacks(&t, "INBOX\r\nh OK");
    has(&t, "* LSUB (\\HasNoChildren) \"/\" INBOX\r\ni OK");
    has(&t, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\nj OK");
    has(&t, "* ID (\"name\" \"mailsnare\")\r\nk OK");
    has(&t, "* ENABLED\r\nl OK");
    has(&t, "m NO [CANNOT]");
    has(&t, "n NO [NONEXISTENT]");
    has(&t, "o OK");
    has(&t, "p NO [CANNOT]");
    has(&t, "q NO [CANNOT]");
    has(&t, "r NO [NONEXISTENT]");
    // The failed SELECT left nothing selected (RFC 3501 6.3.1).
    has(&t, "s BAD no mailbox selected");
}

#[test]
fn fetch_items_and_seen() {
    let (t, store) = run_with(
        false,
        b"a LOGIN u pw\r\nb SELECT INBOX\r\nc FETCH 1:* (FLAGS UID RFC822.SIZE)\r\nd FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\ne FETCH 2 (BODY[1] BODYSTRUCTURE)\r\nf UID FETCH 1 (FLAGS)\r\ng FETCH 1 (ENVELOPE INTERNALDATE RFC822.HEADER)\r\nh FETCH 1 RFC822\r\ni FETCH 5 FLAGS\r\nj FETCH 1 BINARY[1]\r\nk FETCH 2 FAST\r\n",
    );
    has(
        &t,
        "* 1 FETCH (FLAGS () UID 1 RFC822.SIZE 118)\r\n* 2 FETCH (FLAGS () UID 2 RFC822.SIZE ",
    );
    has(
        &t,
        "* 1 FETCH (BODY[HEADER.FIELDS (\"SUBJECT\")] {18}\r\nSubject: Hello\r\n\r\n)\r\nd OK",
    );
    has(
        &t,
        "* 2 FETCH (BODY[1] {5}\r\nplain BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 0 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 11 0 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"z\") NIL NIL NIL) FLAGS (\\Seen))\r\n",
    );
    has(&t, "* 1 FETCH (UID 1 FLAGS ())\r\nf OK");
    has(
        &t,
        "ENVELOPE (\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Hello\" ((\"Ann\" NIL \"ann\" \"example.com\"))",
    );
    has(&t, "RFC822.HEADER {");
    has(&t, "* 1 FETCH (RFC822 {118}\r\nFrom: Ann");
    has(&t, "first body\r\n FLAGS (\\Seen))\r\nh OK");
    has(&t, "i OK FETCH completed");
    has(&t, "j BAD BINARY is not supported");
    has(&t, "* 2 FETCH (FLAGS (\\Seen) INTERNALDATE \"");
    // Both bodies were fetched without PEEK: the store says read.
    assert!(store.snapshot().messages().iter().all(|m| m.is_read()));
}

#[test]
fn examine_never_marks_seen_nor_stores() {
    let (t, store) = run_with(
        false,
        b"a LOGIN u pw\r\nb EXAMINE INBOX\r\nc FETCH 1 BODY[]\r\nd STORE 1 +FLAGS (\\Seen)\r\ne EXPUNGE\r\n",
    );
    lacks(&t, "FLAGS (\\Seen)");
    has(&t, "d NO [READ-ONLY]");
    has(&t, "e NO [READ-ONLY]");
    assert!(store.snapshot().messages().iter().all(|m| !m.is_read()));
}

#[test]
fn store_flags_reach_the_store_and_stay_per_session_otherwise() {
    let (t, store) = run_with(
        false,
        b"a LOGIN u pw\r\nb SELECT INBOX\r\nc STORE 1 +FLAGS (\\Seen \\Flagged)\r\nd UID STORE 2 FLAGS.SILENT (\\Seen $Label)\r\ne STORE 1 -FLAGS (\\Seen)\r\nf FETCH 1:2 FLAGS\r\ng STORE 1:2 FLAGS ()\r\n",
    );
    has(&t, "* 1 FETCH (FLAGS (\\Seen \\Flagged))\r\nc OK");
    has(&t, "\r\nd OK STORE completed");
    has(&t, "* 1 FETCH (FLAGS (\\Flagged))\r\ne OK");
    has(
        &t,
        "* 1 FETCH (FLAGS (\\Flagged))\r\n* 2 FETCH (FLAGS (\\Seen $Label))\r\nf OK",
    );
    has(&t, "* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS ())\r\ng OK");
    assert!(store.snapshot().messages().iter().all(|m| !m.is_read()));
    let (_, store) = run_with(
        false,
        b"a LOGIN u pw\r\nb SELECT INBOX\r\nc UID STORE 2 +FLAGS (\\Seen)\r\n",
    );
    let read: Vec<bool> = store
        .snapshot()
        .messages()
        .iter()
        .map(|m| m.is_read())
        .collect();
    assert_eq!(
        read,
        vec![true, false],
        "newest first: the second message is read"
    );
}

#[test]
fn expunge_uid_expunge_close_and_unselect() {
    let (t, store) = run_with(
        false,
        b"a LOGIN u pw\r\nb SELECT INBOX\r\nc STORE 1:2 +FLAGS (\\Deleted)\r\nd UID EXPUNGE 2\r\ne UNSELECT\r\nf SELECT INBOX\r\ng EXPUNGE\r\n",
    );
    has(&t, "* 2 EXPUNGE\r\nd OK EXPUNGE completed");
    has(&t, "e OK UNSELECT completed");
    // UNSELECT expunged nothing; \Deleted is still set when the folder is selected again.
    has(&t, "* 1 EXISTS");
    has(&t, "* 1 EXPUNGE\r\ng OK EXPUNGE completed");
    assert_eq!(store.snapshot().len(), 0);
    let (t, store) = run_with(
        false,
        b"a LOGIN u pw\r\nb SELECT INBOX\r\nc STORE 1 +FLAGS.SILENT (\\Deleted)\r\nd CLOSE\r\ne FETCH 1 FLAGS\r\n",
    );
    has(&t, "d OK CLOSE completed\r\ne BAD no mailbox selected");
    lacks(&t, "EXPUNGE\r\n");
    assert_eq!(store.snapshot().len(), 1);
}

#[test]
fn append_gives_appenduid_and_the_folder_grows() {
    let (t, store) = run_with(
        false,
        b"a LOGIN u pw\r\nb SELECT INBOX\r\nc APPEND INBOX (\\Seen) {18}\r\nSubject: x\r\n\r\nbody\r\nd NOOP\r\ne APPEND Archive {1+}\r\nx\r\nf APPEND INBOX {5000}\r\ng UID FETCH 3 (FLAGS)\r\n",
    );
    has(&t, "+ Ready for literal data\r\n");
    has(&t, "c OK [APPENDUID ");
    has(&t, " 3] APPEND completed\r\n");
    has(&t, "* 3 EXISTS\r\nc OK [APPENDUID ");
    has(&t, "e NO [TRYCREATE]");
    has(&t, "f NO [TOOBIG] literal too large\r\n");
    has(&t, "* 3 FETCH (UID 3 FLAGS (\\Seen))\r\ng OK");
    assert_eq!(store.snapshot().len(), 3);
    assert!(store.latest().unwrap().is_read());
}

#[test]
fn search_and_uid_search() {
    let t = run(b"a LOGIN u pw\r\nb SELECT INBOX\r\nc SEARCH ALL\r\nd UID SEARCH FROM carl\r\ne SEARCH OR SUBJECT hello BODY html\r\nf SEARCH NOT 1\r\ng SEARCH CHARSET KOI8-R ALL\r\nh SEARCH CHARSET UTF-8 UNSEEN\r\n");
    has(&t, "* SEARCH 1 2\r\nc OK");
    has(&t, "* SEARCH 2\r\nd OK");
    has(&t, "* SEARCH 1 2\r\ne OK");
    has(&t, "* SEARCH 2\r\nf OK");
    has(&t, "g NO [BADCHARSET (UTF-8 US-ASCII)]");
    has(&t, "* SEARCH 1 2\r\nh OK");
}

#[test]
fn copy_and_move_to_folders_that_cannot_take_them_are_refused() {
    let t = run(b"a LOGIN u pw\r\nb SELECT INBOX\r\nc COPY 1 Archive\r\nd MOVE 1 INBOX\r\ne UID MOVE 1 Trash\r\nf COPY 1 INBOX\r\n");
    has(&t, "c NO [TRYCREATE]");
    has(&t, "d NO [CANNOT]");
    has(&t, "e NO [TRYCREATE]");
    has(&t, "f NO [CANNOT]");
}

#[test]
fn starttls_drops_what_was_pipelined_and_stops_offering_itself() {
    let (t, _) = run_with(true, b"a CAPABILITY\r\nb STARTTLS\r\nc CAPABILITY\r\n");
    has(
        &t,
        "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT STARTTLS AUTH=PLAIN\r\na OK",
    );
    has(&t, "b OK begin TLS negotiation now\r\n");
    // Pipelined after STARTTLS, in the same read: dropped.
    lacks(&t, "c OK");
    let (store, registry) = world();
    let t = once(
        &store,
        &registry,
        true,
        &[b"b STARTTLS\r\n", b"c CAPABILITY\r\n"],
    );
    let text = t.text();
    has(
        &text,
        "* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT AUTH=PLAIN\r\nc OK",
    );
}

/// Carries out outputs by hand, for tests where the store changes from outside.
fn pump(session: &mut Session, outputs: Vec<Output>, wire: &mut Vec<u8>) {
    for output in outputs {
        match output {
            Output::Write(bytes) => wire.extend_from_slice(&bytes),
            Output::Login { .. } => {
                panic!("no login expected here")
            }
            Output::Fetch(job) => job.render_rows(0..job.rows.len(), wire),
            _ => {}
        }
    }
    let _ = session;
}

fn logged_in(store: &Store, registry: &Arc<Registry>) -> Session {
    let mut session = Session::new(config(false), Arc::clone(registry), false);
    session.feed(b"a LOGIN u pw\r\n");
    let mut out = Vec::new();
    session.advance(&mut out);
    let account = Account {
        user: "u".into(),
        mailbox: None,
        store: store.clone(),
    };
    let mut more = Vec::new();
    session.logged_in(Ok(account), &mut more);
    session
}

#[test]
fn idle_tells_changes_at_once_and_fetch_holds_expunges_back() {
    let (store, registry) = world();
    let mut events = store.subscribe();
    let mut session = logged_in(&store, &registry);
    let mut wire = Vec::new();
    let mut out = Vec::new();
    session.feed(b"b SELECT INBOX\r\nc IDLE\r\n");
    session.advance(&mut out);
    pump(&mut session, std::mem::take(&mut out), &mut wire);
    assert!(session.is_idling());
    wire.clear();

    let mut deliver = |session: &mut Session, wire: &mut Vec<u8>| {
        let mut out = Vec::new();
        while let Ok(event) = events.try_recv() {
            session.store_event(event, &mut out);
            pump(session, std::mem::take(&mut out), wire);
        }
    };
    let new = store
        .insert(StoredMessage::new(
            Envelope::default(),
            b"Subject: new\r\n\r\nx".to_vec(),
        ))
        .unwrap();
    deliver(&mut session, &mut wire);
    let first = store.snapshot().messages()[2].id;
    store.set_read_blocking(&new.id, true);
    deliver(&mut session, &mut wire);
    store.delete_blocking(&[first]);
    deliver(&mut session, &mut wire);
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "* 3 EXISTS\r\n* 3 FETCH (FLAGS (\\Seen))\r\n* 1 EXPUNGE\r\n"
    );
    wire.clear();
    session.feed(b"DONE\r\nd FETCH 1 FLAGS\r\n");
    session.advance(&mut out);
    pump(&mut session, std::mem::take(&mut out), &mut wire);
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "c OK IDLE terminated\r\n* 1 FETCH (FLAGS ())\r\nd OK FETCH completed\r\n"
    );

    // Outside IDLE: a deletion waits through FETCH and comes out with NOOP.
    wire.clear();
    let gone = store.snapshot().messages()[1].id;
    store.delete_blocking(&[gone]);
    deliver(&mut session, &mut wire);
    assert!(wire.is_empty());
    session.feed(b"e FETCH 1 UID\r\nf NOOP\r\n");
    session.advance(&mut out);
    pump(&mut session, std::mem::take(&mut out), &mut wire);
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "* 1 FETCH (UID 2)\r\ne OK FETCH completed\r\n* 1 EXPUNGE\r\nf OK NOOP completed\r\n"
    );
}

#[test]
fn uids_are_shared_by_sessions_of_one_store() {
    let (store, registry) = world();
    let t1 = once(
        &store,
        &registry,
        false,
        &[b"a LOGIN u pw\r\nb SELECT INBOX\r\nc APPEND INBOX {1}\r\nx\r\n"],
    );
    has(&t1.text(), " 3] APPEND completed");
    let t2 = once(
        &store,
        &registry,
        false,
        &[b"a LOGIN u pw\r\nb SELECT INBOX\r\nc UID SEARCH ALL\r\n"],
    );
    has(&t2.text(), "* SEARCH 1 2 3\r\n");
}

/// A few commands a client pipelines, for the cut-invariance property.
fn command() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"NOOP".to_vec()),
        Just(b"CAPABILITY".to_vec()),
        Just(b"SELECT INBOX".to_vec()),
        Just(b"EXAMINE INBOX".to_vec()),
        Just(b"FETCH 1:* (FLAGS UID ENVELOPE BODYSTRUCTURE)".to_vec()),
        Just(b"FETCH 1 BODY[]".to_vec()),
        Just(b"UID FETCH 1:* BODY.PEEK[HEADER]".to_vec()),
        Just(b"STORE 1 +FLAGS (\\Deleted)".to_vec()),
        Just(b"STORE 2 -FLAGS (\\Seen)".to_vec()),
        Just(b"EXPUNGE".to_vec()),
        Just(b"SEARCH UNSEEN".to_vec()),
        Just(b"APPEND INBOX {4}\r\nabcd".to_vec()),
        Just(b"APPEND INBOX {3+}\r\nxyz".to_vec()),
        Just(b"STATUS INBOX (MESSAGES UIDNEXT)".to_vec()),
        Just(b"LIST \"\" *".to_vec()),
        Just(b"CLOSE".to_vec()),
        Just(b"bogus".to_vec()),
        "[ -~]{0,30}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_script_gives_the_same_bytes_however_cut(
        commands in proptest::collection::vec(command(), 1..12),
        cuts in proptest::collection::vec(1usize..40, 1..20),
    ) {
        let mut script = b"t0 LOGIN u pw\r\n".to_vec();
        for (i, c) in commands.iter().enumerate() {
            script.extend_from_slice(format!("t{} ", i + 1).as_bytes());
            script.extend_from_slice(c);
            script.extend_from_slice(b"\r\n");
        }
        let (store, registry) = world();
        let whole = once(&store, &registry, false, &[&script]);
        let (store, registry) = world();
        let mut reads = Vec::new();
        let mut rest = &script[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            reads.push(&rest[..n]);
            rest = &rest[n..];
            i += 1;
        }
        let cut = once(&store, &registry, false, &reads);
        prop_assert_eq!(whole.text(), cut.text());
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (store, registry) = world();
        let mut script = b"a LOGIN u pw\r\nb SELECT INBOX\r\n".to_vec();
        script.extend_from_slice(&bytes);
        let t = once(&store, &registry, false, &[&script]);
        // Every line the session wrote ends with CRLF (literals aside, which hold stored mail).
        prop_assert!(t.wire.ends_with(b"\r\n") || t.wire.is_empty());
    }
}

/// MAIL tagged `Work`, MAIL2 tagged `Work` and `x y`.
fn tagged_world() -> (Store, Arc<Registry>) {
    let (store, registry) = world();
    let ids: Vec<_> = store.snapshot().messages().iter().map(|m| m.id).collect();
    // Newest first: ids[0] is MAIL2.
    store.set_tags_blocking(&[ids[0]], &["Work".to_string(), "x y".to_string()]);
    store.set_tags_blocking(&[ids[1]], &["Work".to_string()]);
    (store, registry)
}

#[test]
fn tags_are_virtual_folders() {
    let (store, registry) = tagged_world();
    let t = once(
        &store,
        &registry,
        false,
        &[b"a LOGIN u pw\r\nb LIST \"\" *\r\nc LIST \"\" W%\r\nd STATUS Work (MESSAGES UIDNEXT)\r\ne SELECT Work\r\nf FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\ng SELECT \"x y\"\r\nh UID FETCH 1:* FLAGS\r\ni APPEND Work {1}\r\nx\r\nj COPY 1 Work\r\nk SELECT work\r\nl STATUS \"x y\" (MESSAGES)\r\n"],
    )
    .text();
    has(
        &t,
        "* LIST (\\HasNoChildren) \"/\" INBOX\r\n* LIST (\\HasNoChildren) \"/\" \"Work\"\r\n* LIST (\\HasNoChildren) \"/\" \"x y\"\r\nb OK",
    );
    has(&t, "* LIST (\\HasNoChildren) \"/\" \"Work\"\r\nc OK");
    has(&t, "* STATUS \"Work\" (MESSAGES 2 UIDNEXT 3)\r\nd OK");
    has(&t, "* 2 EXISTS\r\n");
    has(&t, "e OK [READ-WRITE] SELECT completed");
    has(
        &t,
        "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (\"SUBJECT\")] {18}\r\nSubject: Hello\r\n\r\n)",
    );
    has(&t, "* 1 EXISTS\r\n");
    has(&t, "* 1 FETCH (UID 1 FLAGS ())\r\nh OK");
    has(&t, "i NO [CANNOT]");
    // MAIL2 is in Work already: it keeps its UID there.
    has(&t, " 1 2] COPY completed\r\n");
    // Tag names are matched exactly, INBOX alone ignores case.
    has(&t, "k NO [NONEXISTENT]");
    has(&t, "* STATUS \"x y\" (MESSAGES 1)\r\nl OK");
}

#[test]
fn a_tag_folder_follows_tag_changes_with_new_uids() {
    let (store, registry) = world();
    let ids: Vec<_> = store.snapshot().messages().iter().map(|m| m.id).collect();
    let (second, first) = (ids[0], ids[1]);
    store.set_tags_blocking(&[first], &["Work".to_string()]);
    let mut events = store.subscribe();
    let mut session = logged_in(&store, &registry);
    let mut wire = Vec::new();
    let mut out = Vec::new();
    session.feed(b"b SELECT Work\r\nc IDLE\r\n");
    session.advance(&mut out);
    pump(&mut session, std::mem::take(&mut out), &mut wire);
    has(&String::from_utf8_lossy(&wire), "* 1 EXISTS\r\n");
    wire.clear();
    let mut deliver = |session: &mut Session, wire: &mut Vec<u8>| {
        let mut out = Vec::new();
        while let Ok(event) = events.try_recv() {
            session.store_event(event, &mut out);
            pump(session, std::mem::take(&mut out), wire);
        }
    };
    store.set_tags_blocking(&[second], &["Work".to_string()]);
    deliver(&mut session, &mut wire);
    store.set_tags_blocking(&[first], &[]);
    deliver(&mut session, &mut wire);
    store.set_tags_blocking(&[first], &["Work".to_string()]);
    deliver(&mut session, &mut wire);
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "* 2 EXISTS\r\n* 1 EXPUNGE\r\n* 2 EXISTS\r\n"
    );
    wire.clear();
    session.feed(b"DONE\r\nd UID FETCH 1:* FLAGS\r\n");
    session.advance(&mut out);
    pump(&mut session, std::mem::take(&mut out), &mut wire);
    // The message that left and came back is a new message there, with a new UID.
    assert_eq!(
        String::from_utf8_lossy(&wire),
        "c OK IDLE terminated\r\n* 1 FETCH (UID 2 FLAGS ())\r\n* 2 FETCH (UID 3 FLAGS ())\r\nd OK FETCH completed\r\n"
    );
}

#[test]
fn copy_and_move_set_and_clear_tags() {
    let (store, registry) = tagged_world();
    let ids: Vec<_> = store.snapshot().messages().iter().map(|m| m.id).collect();
    let (mail2, mail) = (ids[0], ids[1]);
    let t = once(
        &store,
        &registry,
        false,
        &[b"a LOGIN u pw\r\nb SELECT \"x y\"\r\nc SELECT INBOX\r\nd UID COPY 1 \"x y\"\r\ne MOVE 1 Work\r\nf SELECT Work\r\ng STORE 2 +FLAGS (\\Flagged)\r\nh UID MOVE 2 \"x y\"\r\ni FETCH 1:* UID\r\nj SELECT \"x y\"\r\nk UID FETCH 1:* FLAGS\r\nl MOVE 1 INBOX\r\nm COPY 1 \"x y\"\r\n"],
    )
    .text();
    // MAIL gains "x y": it is new there, after MAIL2 (UID 1).
    has(&t, "d OK [COPYUID ");
    has(&t, " 1 2] COPY completed\r\n");
    // From INBOX a MOVE cannot take a message out: INBOX is all the mail.
    has(&t, "e NO [CANNOT]");
    // Work to "x y": MAIL2 (UID 2 in Work) already is in "x y" (UID 1), and leaves Work.
    has(&t, " 2 1] moved\r\n* 2 EXPUNGE\r\nh OK MOVE completed");
    has(&t, "* 1 FETCH (UID 1)\r\ni OK");
    // Flags travel with the message.
    has(
        &t,
        "* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n* 2 FETCH (UID 2 FLAGS ())\r\nk OK",
    );
    // Back to INBOX: the tag goes, the COPYUID names the INBOX UID.
    has(&t, " 1 2] moved\r\n* 1 EXPUNGE\r\nl OK MOVE completed");
    has(&t, "m NO [CANNOT]");
    let tags = |id| store.get(&id).unwrap().tags();
    assert_eq!(tags(mail), ["Work", "x y"]);
    assert_eq!(tags(mail2), Vec::<String>::new());
}

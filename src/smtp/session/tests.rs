//! Transcript tests: what a client sends, what the session answers, what it hands to the store.

use super::*;
use crate::smtp::drive::Recorder;

/// A client of a session, driven the way the I/O loop does: every message is "stored" with id
/// `m1`, `m2`, ….
struct Client {
    session: Session,
    peer: Recorder,
    closed: bool,
    rejected: usize,
}

impl Client {
    fn new() -> Client {
        Client::with(SessionConfig::default())
    }

    fn with(config: SessionConfig) -> Client {
        Client::with_chaos(config, Arc::new(Chaos::default()))
    }

    fn with_chaos(config: SessionConfig, chaos: Arc<Chaos>) -> Client {
        let addr = "192.0.2.7:40000".parse().ok();
        Client {
            session: Session::new(Arc::new(config), chaos, addr, "nonce".into()),
            // Checked AUTH accepts no password until a test sets one.
            peer: Recorder::default(),
            closed: false,
            rejected: 0,
        }
    }

    /// Sends bytes in one write and returns every reply line the server wrote.
    fn send(&mut self, input: impl AsRef<[u8]>) -> String {
        self.send_chunks(&[input.as_ref()])
    }

    fn send_chunks(&mut self, chunks: &[&[u8]]) -> String {
        let t = self.session.drive(chunks, &mut self.peer);
        self.closed |= t.closed;
        self.rejected += t.rejected;
        t.text()
    }

    fn hello(mut self) -> Client {
        assert!(self.send("EHLO client.example\r\n").starts_with("250-"));
        self
    }
}

/// The reply codes in a reply stream, one per final line.
fn codes(wire: &str) -> Vec<&str> {
    wire.lines()
        .filter(|l| l.as_bytes().get(3) == Some(&b' '))
        .map(|l| &l[..3])
        .collect()
}

#[test]
fn greeting_and_ehlo_advertise_what_works() {
    let mut c = Client::new();
    assert_eq!(
        c.session.greeting().to_string(),
        "220 mailsnare ESMTP mailsnare ready\r\n"
    );
    let ehlo = c.send("EHLO client.example\r\n");
    assert_eq!(
        ehlo,
        "250-mailsnare greets client.example\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
         250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n"
    );
    assert!(
        !ehlo.contains("STARTTLS"),
        "TLS is not configured, so it must not be offered"
    );
}

#[test]
fn helo_gives_a_one_line_greeting_like_ehlos_first() {
    let mut c = Client::new();
    // Mailpit's HELO reply: the first line of EHLO's, alone.
    assert_eq!(
        c.send("HELO old.example\r\n"),
        "250 mailsnare greets old.example\r\n"
    );
    let wire = c.send("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\n");
    assert_eq!(codes(&wire), ["250", "250", "354", "250"]);
    assert!(!c.peer.stored[0].envelope.esmtp);
    assert_eq!(c.peer.stored[0].envelope.helo, "old.example");
}

#[test]
fn full_transaction_stores_exact_bytes_and_envelope() {
    let mut c = Client::new().hello();
    assert_eq!(
        c.send("MAIL FROM:<alice@example.com>\r\n"),
        "250 2.1.0 Ok\r\n"
    );
    assert_eq!(c.send("RCPT TO:<bob@example.net>\r\n"), "250 2.1.5 Ok\r\n");
    assert_eq!(
        c.send("RCPT TO:<carol@example.org>\r\n"),
        "250 2.1.5 Ok\r\n"
    );
    assert_eq!(
        c.send("DATA\r\n"),
        "354 End data with <CR><LF>.<CR><LF>\r\n"
    );
    assert_eq!(
        c.send("Subject: hi\r\n\r\n..dots\r\nbody\r\n.\r\n"),
        "250 2.0.0 Ok: queued as m1\r\n"
    );
    assert_eq!(
        c.send("QUIT\r\n"),
        "221 2.0.0 mailsnare closing connection\r\n"
    );
    assert!(c.closed);
    let m = &c.peer.stored[0];
    assert_eq!(m.data, b"Subject: hi\r\n\r\n.dots\r\nbody\r\n");
    assert_eq!(m.envelope.mail_from, "alice@example.com");
    assert_eq!(m.envelope.rcpt_to, ["bob@example.net", "carol@example.org"]);
    assert_eq!(m.envelope.helo, "client.example");
    assert_eq!(m.envelope.client_addr, "192.0.2.7:40000".parse().ok());
    assert!(m.envelope.esmtp);
}

#[test]
fn null_sender_and_params_are_accepted() {
    let mut c = Client::new().hello();
    let wire = c.send(
        "MAIL FROM:<> SIZE=10 BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<ü@例え.jp>\r\nDATA\r\nx\r\n.\r\n",
    );
    assert_eq!(codes(&wire), ["250", "250", "354", "250"]);
    let env = &c.peer.stored[0].envelope;
    assert_eq!(env.mail_from, "");
    assert_eq!(env.rcpt_to, ["ü@例え.jp"]);
    assert!(env.smtputf8 && env.eight_bit);
}

#[test]
fn pipelined_commands_get_replies_in_order() {
    let mut c = Client::new();
    let wire = c.send(
        "EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\nm1\r\n.\r\n\
         MAIL FROM:<d@x>\r\nRCPT TO:<e@x>\r\nDATA\r\nm2\r\n.\r\nQUIT\r\n",
    );
    assert_eq!(
        codes(&wire),
        [
            "250", "250", "250", "250", "354", "250", "250", "250", "354", "250", "221"
        ]
    );
    assert!(
        wire.contains("queued as m1\r\n250 2.1.0"),
        "the 250 for m1 precedes the next MAIL's reply"
    );
    assert_eq!(c.peer.stored.len(), 2);
    assert_eq!(c.peer.stored[0].data, b"m1\r\n");
    assert_eq!(c.peer.stored[1].data, b"m2\r\n");
    assert_eq!(c.peer.stored[1].envelope.rcpt_to, ["e@x"]);
}

#[test]
fn data_split_at_every_byte_gives_the_same_result() {
    let script = b"EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nL1\r\n..L2\r\n.\r\nMAIL FROM:<c@x>\r\n";
    let mut whole = Client::new();
    let expected = whole.send(script);
    for at in 0..script.len() {
        let mut c = Client::new();
        let wire = c.send_chunks(&[&script[..at], &script[at..]]);
        assert_eq!(wire, expected, "split at {at}");
        assert_eq!(c.peer.stored, whole.peer.stored, "split at {at}");
    }
    // One byte per read.
    let mut c = Client::new();
    let bytes: Vec<&[u8]> = script.chunks(1).collect();
    assert_eq!(c.send_chunks(&bytes), expected);
    assert_eq!(whole.peer.stored[0].data, b"L1\r\n.L2\r\n");
}

#[test]
fn bare_lf_clients_work() {
    let mut c = Client::new();
    let wire = c.send("EHLO x\nMAIL FROM:<a@x>\nRCPT TO:<b@x>\nDATA\nline\n.\n");
    assert_eq!(codes(&wire), ["250", "250", "250", "354", "250"]);
    assert_eq!(c.peer.stored[0].data, b"line\n");
}

#[test]
fn empty_message_is_accepted() {
    let mut c = Client::new().hello();
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n.\r\n");
    assert_eq!(codes(&wire), ["250", "250", "354", "250"]);
    assert_eq!(c.peer.stored[0].data, b"");
}

#[test]
fn bad_sequences_get_503_or_554() {
    let mut c = Client::new();
    assert_eq!(
        c.send("MAIL FROM:<a@x>\r\n"),
        "503 5.5.1 Send HELO or EHLO first\r\n"
    );
    c.send("EHLO x\r\n");
    assert_eq!(
        c.send("RCPT TO:<b@x>\r\n"),
        "503 5.5.1 Need MAIL before RCPT\r\n"
    );
    assert_eq!(c.send("DATA\r\n"), "503 5.5.1 Need MAIL command\r\n");
    c.send("MAIL FROM:<a@x>\r\n");
    assert_eq!(
        c.send("MAIL FROM:<a@x>\r\n"),
        "503 5.5.1 Nested MAIL command\r\n"
    );
    assert_eq!(c.send("DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
    assert!(c.peer.stored.is_empty());
}

#[test]
fn syntax_and_unknown_commands() {
    let mut c = Client::new().hello();
    assert_eq!(c.send("FOO\r\n"), "500 5.5.2 Command not recognized\r\n");
    assert!(c.send("MAIL FROM:<broken\r\n").starts_with("501 "));
    assert!(
        c.send("MAIL FROM:<a@x> RET=FULL\r\n")
            .starts_with("555 5.5.4")
    );
    assert!(c.send("EHLO\r\n").starts_with("501 "));
    // Syntax is checked before sequence.
    assert!(c.send("RCPT TO:<>\r\n").starts_with("501 "));
    c.send("MAIL FROM:<a@x>\r\n");
    assert!(c.send("RCPT TO:<>\r\n").starts_with("501 "));
    assert!(c.send("RCPT TO:<a@x> NOTIFY=NEVER\r\n").starts_with("555 "));
}

#[test]
fn rset_noop_vrfy_expn_help() {
    let mut c = Client::new().hello();
    c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n");
    assert_eq!(c.send("RSET\r\n"), "250 2.0.0 Ok\r\n");
    assert_eq!(
        c.send("DATA\r\n"),
        "503 5.5.1 Need MAIL command\r\n",
        "RSET dropped the transaction"
    );
    assert_eq!(c.send("NOOP\r\n"), "250 2.0.0 Ok\r\n");
    assert!(c.send("VRFY bob\r\n").starts_with("252 2.5.0"));
    assert!(c.send("EXPN staff\r\n").starts_with("252 2.5.0"));
    assert!(c.send("HELP\r\n").starts_with("214 2.0.0"));
    assert!(c.send("STARTTLS\r\n").starts_with("502 "));
}

#[test]
fn several_messages_per_session_are_separate() {
    let mut c = Client::new().hello();
    for i in 0..3 {
        let wire = c.send(format!(
            "MAIL FROM:<s{i}@x>\r\nRCPT TO:<r{i}@x>\r\nDATA\r\nmsg {i}\r\n.\r\n"
        ));
        assert_eq!(codes(&wire), ["250", "250", "354", "250"]);
        c.send("RSET\r\n");
    }
    assert_eq!(c.peer.stored.len(), 3);
    assert_eq!(c.peer.stored[2].envelope.mail_from, "s2@x");
    assert_eq!(c.peer.stored[2].envelope.rcpt_to, ["r2@x"]);
    assert_eq!(c.peer.stored[2].data, b"msg 2\r\n");
}

#[test]
fn ehlo_resets_the_transaction() {
    let mut c = Client::new().hello();
    c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n");
    c.send("EHLO again\r\n");
    assert_eq!(c.send("DATA\r\n"), "503 5.5.1 Need MAIL command\r\n");
}

#[test]
fn message_over_the_size_limit_is_drained_then_552_and_the_session_goes_on() {
    let mut c = Client::with(SessionConfig {
        max_message_size: 10,
        ..SessionConfig::default()
    })
    .hello();
    assert!(
        c.send("MAIL FROM:<a@x> SIZE=11\r\n")
            .starts_with("552 5.3.4")
    );
    let wire =
        c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n0123456789ABCDEF\r\n.\r\nNOOP\r\n");
    assert_eq!(codes(&wire), ["250", "250", "354", "552", "250"]);
    assert!(c.peer.stored.is_empty());
    // The transaction is over; a new one works.
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nsmall\r\n.\r\n");
    assert_eq!(codes(&wire), ["250", "250", "354", "250"]);
    assert_eq!(c.peer.stored[0].data, b"small\r\n");
}

#[test]
fn command_line_limit() {
    let mut c = Client::new().hello();
    let long = format!("NOOP {}\r\n", "x".repeat(MAX_COMMAND_LINE));
    assert_eq!(c.send(&long), "500 5.5.6 Line too long\r\n");
    // A line at the limit is fine: 510 octets plus CRLF... minus one to be exact.
    let ok = format!("NOOP {}\r\n", "x".repeat(MAX_COMMAND_LINE - 7));
    assert_eq!(ok.len(), MAX_COMMAND_LINE);
    assert_eq!(c.send(&ok), "250 2.0.0 Ok\r\n");
    // A megabyte without a newline is dropped as it arrives, then answered once.
    let mut c = Client::new().hello();
    let chunk = vec![b'A'; 64 * 1024];
    for _ in 0..16 {
        assert_eq!(c.send(&chunk), "");
        assert!(
            c.session.line.len() <= MAX_AUTH_LINE,
            "buffer stays bounded"
        );
    }
    assert_eq!(
        c.send("\r\nNOOP\r\n"),
        "500 5.5.6 Line too long\r\n250 2.0.0 Ok\r\n"
    );
}

#[test]
fn too_many_errors_close_the_session() {
    let mut c = Client::new();
    let garbage = "\u{1}\u{2}junk\r\n".repeat(MAX_ERRORS as usize + 5);
    let wire = c.send(garbage);
    assert_eq!(
        codes(&wire).iter().filter(|c| **c == "500").count(),
        MAX_ERRORS as usize
    );
    assert!(wire.ends_with("421 4.7.0 mailsnare Too many errors, closing connection\r\n"));
    assert!(c.closed && c.session.is_closed());
}

#[test]
fn recipient_limit_gives_452_and_keeps_the_rest() {
    let mut c = Client::with(SessionConfig {
        max_recipients: 2,
        ..SessionConfig::default()
    })
    .hello();
    let wire = c.send(
        "MAIL FROM:<a@x>\r\nRCPT TO:<1@x>\r\nRCPT TO:<2@x>\r\nRCPT TO:<3@x>\r\nDATA\r\nx\r\n.\r\n",
    );
    assert_eq!(codes(&wire), ["250", "250", "250", "452", "354", "250"]);
    assert_eq!(c.peer.stored[0].envelope.rcpt_to, ["1@x", "2@x"]);
}

#[test]
fn bdat_chunks_and_pipelining() {
    let mut c = Client::new().hello();
    let wire = c.send(
        "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 5\r\nHelloBDAT 10 LAST\r\n World\r\n\r\nNOOP\r\n",
    );
    assert_eq!(
        wire,
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 5 octets received\r\n250 2.0.0 Ok: queued as m1\r\n250 2.0.0 Ok\r\n"
    );
    // BDAT bytes are taken literally: no dot-unstuffing, no terminator.
    assert_eq!(c.peer.stored[0].data, b"Hello World\r\n\r\n");
}

#[test]
fn bdat_zero_last_and_split_chunks() {
    let mut c = Client::new().hello();
    let wire = c.send_chunks(&[
        b"MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 6\r\n.\r\n",
        b"\r\n.",
        b"BDAT 0 LAST\r\n",
    ]);
    assert_eq!(codes(&wire), ["250", "250", "250", "250"]);
    assert_eq!(c.peer.stored[0].data, b".\r\n\r\n.");
}

#[test]
fn bdat_errors_drain_the_chunk_first() {
    let mut c = Client::new().hello();
    // No transaction: the 5 octets "QUIT\n" are chunk data, not a command.
    let wire = c.send("BDAT 5 LAST\r\nQUIT\nNOOP\r\n");
    assert_eq!(wire, "503 5.5.1 Need MAIL command\r\n250 2.0.0 Ok\r\n");
    assert!(!c.closed);
    let mut c = Client::with(SessionConfig {
        max_message_size: 4,
        ..SessionConfig::default()
    })
    .hello();
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 6 LAST\r\n123456NOOP\r\n");
    assert_eq!(codes(&wire), ["250", "250", "552", "250"]);
    assert!(c.peer.stored.is_empty());
    assert!(
        c.send("DATA\r\n").starts_with("503 "),
        "the failed chunk ended the transaction"
    );
    let mut c = Client::new().hello();
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 1\r\nxDATA\r\n");
    assert!(wire.ends_with("503 5.5.1 DATA cannot follow BDAT\r\n"));
}

#[test]
fn auth_plain_login_cram_md5_record_the_user() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut c = Client::new().hello();
    assert_eq!(
        c.send(format!("AUTH PLAIN {}\r\n", b64("\0alice\0pw"))),
        "235 2.7.0 Authentication successful\r\n"
    );
    assert!(
        c.send("AUTH PLAIN\r\n").starts_with("503 "),
        "already authenticated"
    );
    c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nx\r\n.\r\n");
    assert_eq!(
        c.peer.stored[0].envelope.auth_user.as_deref(),
        Some("alice")
    );

    let mut c = Client::new().hello();
    assert_eq!(c.send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(
        c.send(format!("{}\r\n", b64("bob"))),
        "334 UGFzc3dvcmQ6\r\n"
    );
    assert!(c.send(format!("{}\r\n", b64("pw"))).starts_with("235 "));
    assert_eq!(c.session.auth_user.as_deref(), Some("bob"));

    let mut c = Client::new().hello();
    assert!(c.send("AUTH CRAM-MD5\r\n").starts_with("334 "));
    assert!(
        c.send(format!("{}\r\n", b64("carol 0123abcd")))
            .starts_with("235 ")
    );
    assert_eq!(c.session.auth_user.as_deref(), Some("carol"));
}

#[test]
fn auth_errors() {
    let mut c = Client::new();
    c.send("HELO x\r\n");
    assert!(
        c.send("AUTH PLAIN\r\n").starts_with("503 "),
        "AUTH needs EHLO"
    );
    let mut c = Client::new().hello();
    assert!(c.send("AUTH GSSAPI\r\n").starts_with("504 "));
    assert_eq!(c.send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(c.send("*\r\n"), "501 5.0.0 Authentication cancelled\r\n");
    assert!(c.send("AUTH PLAIN !!notbase64\r\n").starts_with("501 "));
    assert_eq!(c.session.auth_user, None);
    c.send("MAIL FROM:<a@x>\r\n");
    assert!(
        c.send("AUTH PLAIN\r\n").starts_with("503 "),
        "not inside a transaction"
    );
}

#[test]
fn auth_line_may_exceed_the_command_limit() {
    use base64::Engine;
    let user = "u".repeat(2000);
    let token = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0pw"));
    let mut c = Client::new().hello();
    assert!(
        c.send(format!("AUTH PLAIN {token}\r\n"))
            .starts_with("235 ")
    );
}

#[test]
fn nothing_is_read_after_quit() {
    let mut c = Client::new().hello();
    let wire = c.send("QUIT\r\nMAIL FROM:<a@x>\r\n");
    assert_eq!(wire, "221 2.0.0 mailsnare closing connection\r\n");
}

#[test]
fn store_failure_is_a_temporary_error() {
    let mut s = Session::new(
        Arc::new(SessionConfig::default()),
        Arc::new(Chaos::default()),
        None,
        "n".into(),
    );
    let mut out = Vec::new();
    s.feed(
        b"EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n",
        &mut out,
    );
    assert!(matches!(out.last(), Some(Output::Message(_))));
    assert!(s.in_transaction(), "waiting for the store counts as busy");
    assert_eq!(
        s.feed(b"NOOP\r\n", &mut out),
        0,
        "no input is taken while the store decides"
    );
    let reply = s.delivered(Err("disk full"));
    assert_eq!(
        reply.to_string(),
        "451 4.3.0 Message not stored: disk full\r\n"
    );
    assert!(!s.in_transaction());
}

#[test]
fn chaos_faults_answer_with_the_configured_codes() {
    use crate::chaos::{Trigger, Triggers};
    let always = |code| Trigger {
        error_code: code,
        probability: 100,
    };
    let chaos = Chaos::new(
        Triggers {
            sender: always(451),
            recipient: Trigger {
                error_code: 550,
                probability: 0,
            },
            authentication: always(535),
        },
        None,
    );
    let chaos = Arc::new(chaos);
    let mut c = Client::with_chaos(SessionConfig::default(), Arc::clone(&chaos)).hello();
    assert_eq!(
        c.send("MAIL FROM:<a@x>\r\n"),
        "451 4.0.0 Sender rejected (chaos)\r\n"
    );
    assert!(
        c.send("RCPT TO:<b@x>\r\n").starts_with("503 "),
        "the failed MAIL opened no transaction"
    );
    assert_eq!(
        c.send("AUTH PLAIN AGEAYg==\r\n"),
        "535 5.7.8 Authentication failed (chaos)\r\n"
    );
    assert_eq!(c.session.auth_user, None);
    chaos.set_triggers(Triggers {
        recipient: always(550),
        ..Triggers::default()
    });
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n");
    assert_eq!(
        wire,
        "250 2.1.0 Ok\r\n550 5.7.1 Recipient rejected (chaos)\r\n554 5.5.1 No valid recipients\r\n"
    );
    chaos.set_triggers(Triggers::default());
    let wire = c.send("RCPT TO:<b@x>\r\nDATA\r\nx\r\n.\r\n");
    assert_eq!(codes(&wire), ["250", "354", "250"], "off again");
}

fn tls_config() -> SessionConfig {
    SessionConfig {
        starttls: true,
        ..SessionConfig::default()
    }
}

#[test]
fn starttls_is_offered_then_starts_a_fresh_session() {
    // Plaintext AUTH before STARTTLS is allowed here, to show it does not carry over.
    let mut c = Client::with(SessionConfig {
        auth_allow_insecure: true,
        ..tls_config()
    });
    assert!(
        c.send("EHLO x\r\n")
            .ends_with("250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 STARTTLS\r\n")
    );
    c.send(format!("AUTH PLAIN {}\r\n", "AGFsaWNlAHB3"));
    assert_eq!(c.session.auth_user.as_deref(), Some("alice"));
    // Commands pipelined after STARTTLS are plaintext injection: they must be dropped.
    let wire = c.send("STARTTLS\r\nMAIL FROM:<injected@x>\r\n");
    assert_eq!(wire, "220 2.0.0 Ready to start TLS\r\n");
    assert_eq!(
        c.session.auth_user, None,
        "AUTH from before TLS is forgotten"
    );
    assert!(
        c.send("MAIL FROM:<a@x>\r\n").starts_with("503 "),
        "EHLO is needed again"
    );
    let ehlo = c.send("EHLO x\r\n");
    assert!(!ehlo.contains("STARTTLS"), "not offered twice: {ehlo}");
    assert!(
        c.send("STARTTLS\r\n")
            .starts_with("503 5.5.1 TLS is already active")
    );
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nx\r\n.\r\n");
    assert_eq!(codes(&wire), ["250", "250", "354", "250"]);
    assert_eq!(c.peer.stored[0].envelope.tls.as_deref(), Some("TLSv1.3"));
    assert_eq!(c.peer.stored[0].envelope.mail_from, "a@x");
}

#[test]
fn no_plaintext_auth_before_starttls_when_tls_is_available() {
    let mut c = Client::with(tls_config());
    let ehlo = c.send("EHLO x\r\n");
    assert!(
        ehlo.ends_with("250-AUTH CRAM-MD5\r\n250 STARTTLS\r\n"),
        "{ehlo}"
    );
    for attempt in [
        "AUTH PLAIN AGFsaWNlAHB3\r\n",
        "AUTH LOGIN\r\n",
        "auth plain\r\n",
    ] {
        assert_eq!(
            c.send(attempt),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n",
            "{attempt}"
        );
    }
    assert_eq!(c.session.auth_user, None);
    assert!(
        c.send("AUTH CRAM-MD5\r\n").starts_with("334 "),
        "not plaintext"
    );
    c.send("*\r\n");
    c.send("STARTTLS\r\n");
    let ehlo = c.send("EHLO x\r\n");
    assert!(ehlo.contains("250 AUTH PLAIN LOGIN CRAM-MD5\r\n"), "{ehlo}");
    assert!(c.send("AUTH PLAIN AGFsaWNlAHB3\r\n").starts_with("235 "));
    // Without TLS configured there is nothing to protect the password with: offered as before.
    let mut plain = Client::new();
    assert!(
        plain
            .send("EHLO x\r\n")
            .contains("AUTH PLAIN LOGIN CRAM-MD5")
    );
}

#[test]
fn failed_auth_counts_as_an_error_and_ends_the_session() {
    let mut c = Client::with(SessionConfig {
        check_auth: true,
        ..SessionConfig::default()
    })
    .hello();
    c.peer.password = Some("right".into());
    let wrong = format!("AUTH PLAIN {}\r\n", BASE64_ALICE_WRONG);
    for n in 1..MAX_ERRORS {
        assert!(c.send(&wrong).starts_with("535 5.7.8"), "guess {n}");
        assert_eq!(c.session.auth_failures(), n);
        assert!(!c.closed);
    }
    let last = c.send(&wrong);
    assert!(last.starts_with("535 5.7.8"), "{last}");
    assert!(last.contains("421 4.7.0"), "{last}");
    assert!(c.closed, "guessing ends the session");
}

/// `\0alice\0wrong`
const BASE64_ALICE_WRONG: &str = "AGFsaWNlAHdyb25n";

#[test]
fn starttls_errors() {
    let mut c = Client::with(tls_config()).hello();
    assert!(c.send("STARTTLS now\r\n").starts_with("501 "));
    c.send("MAIL FROM:<a@x>\r\n");
    assert!(
        c.send("STARTTLS\r\n").starts_with("503 "),
        "not inside a transaction"
    );
}

#[test]
fn require_tls_and_require_auth() {
    let mut c = Client::with(SessionConfig {
        require_tls: true,
        ..tls_config()
    })
    .hello();
    assert_eq!(
        c.send("MAIL FROM:<a@x>\r\n"),
        "530 5.7.0 Must issue a STARTTLS command first\r\n"
    );
    c.send("STARTTLS\r\n");
    c.send("EHLO x\r\n");
    assert!(c.send("MAIL FROM:<a@x>\r\n").starts_with("250 "));

    let mut c = Client::with(SessionConfig {
        require_auth: true,
        ..SessionConfig::default()
    })
    .hello();
    assert_eq!(
        c.send("MAIL FROM:<a@x>\r\n"),
        "530 5.7.0 Authentication required\r\n"
    );
    c.send("AUTH PLAIN AGFsaWNlAHB3\r\n");
    assert!(c.send("MAIL FROM:<a@x>\r\n").starts_with("250 "));
}

#[test]
fn checked_credentials() {
    let mut c = Client::with(SessionConfig {
        check_auth: true,
        ..SessionConfig::default()
    })
    .hello();
    c.peer.password = Some("pw".into());
    // alice / wrong
    assert_eq!(
        c.send("AUTH PLAIN AGFsaWNlAHdyb25n\r\n"),
        "535 5.7.8 Authentication credentials invalid\r\n"
    );
    assert_eq!(c.session.auth_user, None);
    // alice / pw, pipelined with MAIL: the MAIL reply follows the verdict.
    let wire = c.send("AUTH PLAIN AGFsaWNlAHB3\r\nMAIL FROM:<a@x>\r\n");
    assert_eq!(
        wire,
        "235 2.7.0 Authentication successful\r\n250 2.1.0 Ok\r\n"
    );
    assert_eq!(c.session.auth_user.as_deref(), Some("alice"));
}

#[test]
fn require_tls_refuses_all_but_noop_ehlo_helo_starttls_quit() {
    let mut c = Client::with(SessionConfig {
        require_tls: true,
        ..tls_config()
    });
    const MUST: &str = "530 5.7.0 Must issue a STARTTLS command first\r\n";
    assert!(c.send("HELO x\r\n").starts_with("250 "));
    assert!(c.send("EHLO x\r\n").starts_with("250-"));
    assert_eq!(c.send("NOOP\r\n"), "250 2.0.0 Ok\r\n");
    for command in [
        "MAIL FROM:<a@x>\r\n",
        "RCPT TO:<b@x>\r\n",
        "DATA\r\n",
        "RSET\r\n",
        "VRFY bob\r\n",
        "EXPN staff\r\n",
        "HELP\r\n",
        "AUTH PLAIN AGFsaWNlAHB3\r\n",
    ] {
        assert_eq!(c.send(command), MUST, "{command}");
    }
    // BDAT's chunk is drained first: "QUIT\n" is data, not a command.
    assert_eq!(
        c.send("BDAT 5 LAST\r\nQUIT\nNOOP\r\n"),
        format!("{MUST}250 2.0.0 Ok\r\n")
    );
    assert_eq!(
        c.rejected, 3,
        "MAIL, RCPT and DATA count as refused transactions"
    );
    assert!(!c.closed);
    assert!(c.send("STARTTLS\r\n").starts_with("220 "));
    c.send("EHLO x\r\n");
    let wire = c.send("RSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nx\r\n.\r\n");
    assert_eq!(codes(&wire), ["250", "250", "250", "354", "250"]);
    // QUIT is always allowed.
    let mut c = Client::with(SessionConfig {
        require_tls: true,
        ..tls_config()
    });
    assert!(c.send("QUIT\r\n").starts_with("221 "));
}

#[test]
fn require_auth_refuses_mail_rcpt_data_and_bdat() {
    let mut c = Client::with(SessionConfig {
        require_auth: true,
        ..SessionConfig::default()
    })
    .hello();
    const AUTH: &str = "530 5.7.0 Authentication required\r\n";
    for command in ["MAIL FROM:<a@x>\r\n", "RCPT TO:<b@x>\r\n", "DATA\r\n"] {
        assert_eq!(c.send(command), AUTH, "{command}");
    }
    assert_eq!(c.send("BDAT 2 LAST\r\nxy"), AUTH);
    // Everything else works before AUTH (RFC 4954 6).
    assert_eq!(
        codes(&c.send("RSET\r\nNOOP\r\nVRFY x\r\nHELP\r\n")),
        ["250", "250", "252", "214"]
    );
    c.send("AUTH PLAIN AGFsaWNlAHB3\r\n");
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT 3 LAST\r\nabc");
    assert_eq!(codes(&wire), ["250", "250", "250"]);
    assert_eq!(c.peer.stored[0].data, b"abc");
}

#[test]
fn invalid_paths_get_553_and_a_second_space_501() {
    let mut c = Client::new().hello();
    const BAD: &str = "553 5.1.3 The address is not a valid RFC 5321 address\r\n";
    for path in [
        "<a@@b>",
        "<a@b@c>",
        "<nobody>",
        "<a b@c>",
        "<a@b c>",
        "<a\rb@c>",
        "<a@b..c>",
        "<a@b.>",
        "<a@>",
        "<a@[1.2.3.4>",
    ] {
        // A fresh session for each, so the error limit does not close it.
        let mut c = Client::new().hello();
        assert_eq!(
            c.send(format!("MAIL FROM:{path}\r\n")),
            BAD,
            "MAIL {path:?}"
        );
        assert_eq!(c.send(format!("RCPT TO:{path}\r\n")), BAD, "RCPT {path:?}");
    }
    assert!(c.send("MAIL FROM:  <a@b>\r\n").starts_with("501 5.5.4"));
    assert!(c.send("MAIL FROM:\t<a@b>\r\n").starts_with("501 5.5.4"));
    // One space after the colon is what many clients send; it stays accepted.
    assert_eq!(c.send("MAIL FROM: <a@b>\r\n"), "250 2.1.0 Ok\r\n");
    assert!(c.send("RCPT TO:  <c@d>\r\n").starts_with("501 5.5.4"));
    assert_eq!(c.send("RCPT TO: <c@d>\r\n"), "250 2.1.5 Ok\r\n");
    // RFC 5321 4.1.1.3: Postmaster needs no domain; quoted local parts, literals, UTF-8 are valid.
    for good in [
        "<Postmaster>",
        "<\"john doe\"@b.c>",
        "<a@[192.0.2.1]>",
        "<a@[IPv6:2001:db8::1]>",
        "<ü@例え.jp>",
        "<a..b@c>",
        "<a+tag@b.c>",
    ] {
        assert_eq!(
            c.send(format!("RCPT TO:{good}\r\n")),
            "250 2.1.5 Ok\r\n",
            "{good}"
        );
    }
    let wire = c.send("DATA\r\nx\r\n.\r\n");
    assert_eq!(codes(&wire), ["354", "250"]);
    assert_eq!(c.peer.stored[0].envelope.rcpt_to[1], "Postmaster");
    // The null sender is valid for MAIL only; postmaster without a domain for RCPT only.
    assert_eq!(c.send("MAIL FROM:<>\r\n"), "250 2.1.0 Ok\r\n");
    c.send("RSET\r\n");
    assert_eq!(c.send("MAIL FROM:<postmaster>\r\n"), BAD);
}

#[test]
fn recipient_limit_may_be_small() {
    let mut c = Client::with(SessionConfig {
        max_recipients: 1,
        ..SessionConfig::default()
    })
    .hello();
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<1@x>\r\nRCPT TO:<2@x>\r\n");
    assert_eq!(codes(&wire), ["250", "250", "452"]);
}

#[test]
fn unlimited_size_is_advertised_as_size_zero() {
    let mut c = Client::with(SessionConfig {
        size_unlimited: true,
        max_message_size: 100,
        ..SessionConfig::default()
    });
    let ehlo = c.send("EHLO x\r\n");
    assert!(ehlo.contains("250-SIZE 0\r\n"), "{ehlo}");
    // The store's bound still holds: a message it could never keep is refused.
    assert!(c.send("MAIL FROM:<a@x> SIZE=101\r\n").starts_with("552 "));
    assert!(c.send("MAIL FROM:<a@x> SIZE=100\r\n").starts_with("250 "));
}

#[test]
fn data_without_rcpt_is_554_unless_mailhog_which_takes_the_header_addresses() {
    let script = "MAIL FROM:<app@x>\r\nDATA\r\nTo: Bob <bob@example.net>, carol@example.org\r\n\
                  Cc: dave@example.com\r\nBcc: eve@example.com\r\nSubject: busybox\r\n\r\nhi\r\n.\r\n";
    let mut c = Client::new().hello();
    let wire = c.send(script);
    assert!(wire.contains("554 5.5.1 No valid recipients\r\n"), "{wire}");
    assert!(c.peer.stored.is_empty());

    let mut c = Client::with(SessionConfig {
        mailhog: true,
        ..SessionConfig::default()
    })
    .hello();
    let wire = c.send(script);
    assert_eq!(codes(&wire), ["250", "354", "250"]);
    let m = &c.peer.stored[0];
    assert_eq!(
        m.envelope.rcpt_to,
        [
            "bob@example.net",
            "carol@example.org",
            "dave@example.com",
            "eve@example.com"
        ]
    );
    assert!(
        m.data.starts_with(b"To: Bob"),
        "the client's bytes, unchanged"
    );
    // BDAT too; with a RCPT the envelope is what the client said.
    let wire = c.send("MAIL FROM:<a@x>\r\nBDAT 13 LAST\r\nTo: z@x\r\n\r\nhi");
    assert_eq!(codes(&wire), ["250", "250"]);
    assert_eq!(c.peer.stored[1].envelope.rcpt_to, ["z@x"]);
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<r@x>\r\nDATA\r\nTo: z@x\r\n\r\n.\r\n");
    assert_eq!(codes(&wire), ["250", "250", "354", "250"]);
    assert_eq!(c.peer.stored[2].envelope.rcpt_to, ["r@x"]);
    // MAIL is still needed first.
    assert_eq!(c.send("DATA\r\n"), "503 5.5.1 Need MAIL command\r\n");
}

fn allow_example_com(ignore: bool) -> SessionConfig {
    SessionConfig {
        allowed_recipients: regex::Regex::new(r"@example\.com$").ok(),
        ignore_rejected_recipients: ignore,
        ..SessionConfig::default()
    }
}

#[test]
fn allowed_recipients_refuse_others_with_550() {
    let mut c = Client::with(allow_example_com(false)).hello();
    let wire = c.send(
        "MAIL FROM:<a@x>\r\nRCPT TO:<in@example.com>\r\nRCPT TO:<out@example.org>\r\nDATA\r\nx\r\n.\r\n",
    );
    assert_eq!(
        wire,
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.0 Requested action not taken: mailbox unavailable\r\n\
         354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as m1\r\n"
    );
    assert_eq!(c.peer.stored[0].envelope.rcpt_to, ["in@example.com"]);
    assert_eq!(c.rejected, 1);
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<out@example.org>\r\nDATA\r\n");
    assert!(
        wire.ends_with("554 5.5.1 No valid recipients\r\n"),
        "{wire}"
    );
}

#[test]
fn ignored_rejected_recipients_get_250_and_are_dropped() {
    let mut c = Client::with(allow_example_com(true)).hello();
    let wire = c.send(
        "MAIL FROM:<a@x>\r\nRCPT TO:<in@example.com>\r\nRCPT TO:<out@example.org>\r\nDATA\r\nx\r\n.\r\n",
    );
    assert_eq!(codes(&wire), ["250", "250", "250", "354", "250"]);
    assert_eq!(c.peer.stored[0].envelope.rcpt_to, ["in@example.com"]);
    // None left: DATA is still taken and answered 250, as Mailpit does, but nothing is stored.
    let wire = c.send("MAIL FROM:<a@x>\r\nRCPT TO:<out@example.org>\r\nDATA\r\nx\r\n.\r\nNOOP\r\n");
    assert_eq!(
        wire,
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n\
         250 2.0.0 Ok: not stored, no allowed recipients\r\n250 2.0.0 Ok\r\n"
    );
    assert_eq!(c.peer.stored.len(), 1);
    assert_eq!(c.rejected, 2, "each refused recipient is counted");
}

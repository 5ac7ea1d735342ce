//! Transcript tests of the POP3 session: lines in, the exact replies out, every command and error
//! path, driven through [`Session::drive`] as the I/O loop drives it.

use std::sync::Arc;

use bytes::Bytes;
use uuid::Uuid;

use super::drive::{Fixed, Transcript};
use super::maildrop::Maildrop;
use super::session::{MAX_ERRORS, Session, SessionConfig};

const A: Uuid = Uuid::from_u128(0xa);
const B: Uuid = Uuid::from_u128(0xb);
const C: Uuid = Uuid::from_u128(0xc);

/// Three messages, oldest first: sizes 18, 28 (two bare LFs become CRLF), 11.
fn maildrop() -> Maildrop {
    Maildrop::new([
        (A, Bytes::from_static(b"Subject: a\r\n\r\nhi\r\n")),
        (B, Bytes::from_static(b"Subject: b\n\n.dot\r\nline 2\r\n")),
        (C, Bytes::from_static(b"X: c\r\n\r\nend")),
    ])
}

fn config(stls: bool) -> Arc<SessionConfig> {
    Arc::new(SessionConfig {
        hostname: "pop.test".into(),
        stls,
        max_line: 100,
        max_login_failures: 3,
    })
}

struct Run {
    session: Session,
    peer: Fixed,
}

impl Run {
    fn new(stls: bool, password: Option<&str>) -> Run {
        Run {
            session: Session::new(config(stls)),
            peer: Fixed {
                maildrop: maildrop(),
                password: password.map(str::to_string),
                ..Fixed::default()
            },
        }
    }

    fn send(&mut self, bytes: &str) -> Transcript {
        self.session.drive(&[bytes.as_bytes()], &mut self.peer)
    }

    /// Sends one line and returns the reply text.
    fn line(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n")).text()
    }

    fn logged_in() -> Run {
        let mut run = Run::new(false, None);
        assert_eq!(run.line("USER u"), "+OK send PASS\r\n");
        assert!(
            run.line("PASS p")
                .starts_with("+OK maildrop has 3 messages")
        );
        run
    }
}

#[test]
fn greeting_and_quit_in_authorization() {
    let mut run = Run::new(false, None);
    assert_eq!(
        run.session.greeting(),
        b"+OK pop.test POP3 mailsnare ready\r\n"
    );
    let t = run.send("QUIT\r\n");
    assert_eq!(t.text(), "+OK pop.test POP3 mailsnare signing off\r\n");
    assert!(t.closed && run.session.is_closed());
    assert!(t.deleted.is_empty());
    // Nothing is read after the close.
    assert_eq!(run.send("NOOP\r\n").text(), "");
}

#[test]
fn user_pass_login_and_stat_list_uidl() {
    let mut run = Run::logged_in();
    assert_eq!(run.line("STAT"), "+OK 3 57\r\n");
    assert_eq!(
        run.line("LIST"),
        "+OK 3 messages (57 octets)\r\n1 18\r\n2 28\r\n3 11\r\n.\r\n"
    );
    assert_eq!(run.line("LIST 2"), "+OK 2 28\r\n");
    assert_eq!(run.line("list 4"), "-ERR no such message\r\n");
    assert_eq!(run.line("LIST 0"), "-ERR no such message\r\n");
    assert_eq!(
        run.line("UIDL"),
        format!("+OK unique-id listing follows\r\n1 {A}\r\n2 {B}\r\n3 {C}\r\n.\r\n")
    );
    assert_eq!(run.line("UIDL 3"), format!("+OK 3 {C}\r\n"));
    assert_eq!(run.line("UIDL 9"), "-ERR no such message\r\n");
    assert_eq!(run.line("NOOP"), "+OK\r\n");
}

#[test]
fn retr_stuffs_normalises_and_marks_seen() {
    let mut run = Run::logged_in();
    let t = run.send("RETR 2\r\n");
    assert_eq!(
        t.text(),
        "+OK 28 octets\r\nSubject: b\r\n\r\n..dot\r\nline 2\r\n.\r\n"
    );
    assert_eq!(t.seen, vec![B]);
    // A message without a final line end gets one before the terminator.
    assert_eq!(
        run.line("RETR 3"),
        "+OK 11 octets\r\nX: c\r\n\r\nend\r\n.\r\n"
    );
    assert_eq!(run.line("RETR 4"), "-ERR no such message\r\n");
    assert_eq!(run.line("RETR x"), "-ERR syntax: RETR msg\r\n");
    assert_eq!(run.line("RETR"), "-ERR syntax: RETR msg\r\n");
}

#[test]
fn top_gives_the_header_and_n_lines_without_marking_seen() {
    let mut run = Run::logged_in();
    let t = run.send("TOP 2 0\r\n");
    assert_eq!(
        t.text(),
        "+OK top of message follows\r\nSubject: b\r\n\r\n.\r\n"
    );
    assert!(t.seen.is_empty());
    assert_eq!(
        run.line("TOP 2 1"),
        "+OK top of message follows\r\nSubject: b\r\n\r\n..dot\r\n.\r\n"
    );
    assert_eq!(run.line("TOP 2"), "-ERR syntax: TOP msg lines\r\n");
    assert_eq!(run.line("TOP 7 1"), "-ERR no such message\r\n");
}

#[test]
fn dele_marks_rset_unmarks_and_quit_applies() {
    let mut run = Run::logged_in();
    assert_eq!(run.line("DELE 1"), "+OK message 1 deleted\r\n");
    assert_eq!(run.line("DELE 1"), "-ERR message 1 already deleted\r\n");
    assert_eq!(run.line("RETR 1"), "-ERR message 1 already deleted\r\n");
    assert_eq!(run.line("TOP 1 0"), "-ERR message 1 already deleted\r\n");
    assert_eq!(run.line("LIST 1"), "-ERR message 1 already deleted\r\n");
    assert_eq!(run.line("UIDL 1"), "-ERR message 1 already deleted\r\n");
    assert_eq!(run.line("STAT"), "+OK 2 39\r\n");
    assert_eq!(
        run.line("LIST"),
        "+OK 2 messages (39 octets)\r\n2 28\r\n3 11\r\n.\r\n"
    );
    assert_eq!(
        run.line("UIDL"),
        format!("+OK unique-id listing follows\r\n2 {B}\r\n3 {C}\r\n.\r\n")
    );
    assert_eq!(run.line("DELE 5"), "-ERR no such message\r\n");
    assert_eq!(
        run.line("RSET"),
        "+OK maildrop has 3 messages (57 octets)\r\n"
    );
    assert_eq!(run.line("STAT"), "+OK 3 57\r\n");
    assert_eq!(run.line("DELE 3"), "+OK message 3 deleted\r\n");
    assert_eq!(run.line("DELE 2"), "+OK message 2 deleted\r\n");
    let t = run.send("QUIT\r\n");
    assert_eq!(
        t.text(),
        "+OK pop.test POP3 mailsnare signing off (2 messages deleted)\r\n"
    );
    assert!(t.closed);
    assert_eq!(t.deleted, vec![B, C]);
}

#[test]
fn quit_reports_only_what_was_still_there() {
    let mut run = Run::logged_in();
    // Another session already removed message 1.
    run.peer.deleted.push(A);
    run.send("DELE 1\r\nDELE 2\r\n");
    let t = run.send("QUIT\r\n");
    assert_eq!(
        t.text(),
        "+OK pop.test POP3 mailsnare signing off (1 messages deleted)\r\n"
    );
}

#[test]
fn quit_without_deletions_deletes_nothing() {
    let mut run = Run::logged_in();
    run.send("DELE 1\r\nRSET\r\n");
    let t = run.send("QUIT\r\n");
    assert_eq!(t.text(), "+OK pop.test POP3 mailsnare signing off\r\n");
    assert!(t.deleted.is_empty() && t.closed);
}

#[test]
fn commands_out_of_state_are_refused() {
    let mut run = Run::new(false, None);
    for line in [
        "STAT", "LIST", "UIDL 1", "RETR 1", "TOP 1 1", "DELE 1", "RSET", "NOOP",
    ] {
        assert_eq!(
            run.line(line),
            "-ERR not valid in the AUTHORIZATION state\r\n",
            "{line}"
        );
    }
    assert_eq!(run.line("PASS p"), "-ERR USER first\r\n");
    let mut run = Run::logged_in();
    for line in ["USER x", "PASS y", "AUTH PLAIN AHUAcA=="] {
        assert_eq!(run.line(line), "-ERR already logged in\r\n", "{line}");
    }
    assert_eq!(
        run.line("STLS"),
        "-ERR STLS is only valid in the AUTHORIZATION state\r\n"
    );
}

#[test]
fn unknown_and_malformed_lines() {
    let mut run = Run::new(false, None);
    assert_eq!(run.line("XYZZY"), "-ERR unknown command\r\n");
    assert_eq!(run.line(""), "-ERR unknown command\r\n");
    assert_eq!(run.line("USER"), "-ERR syntax: USER name\r\n");
    assert_eq!(run.line("CAPA now"), "-ERR syntax: CAPA\r\n");
    assert_eq!(run.send("\u{ff}\r\n").text(), "-ERR unknown command\r\n");
    assert_eq!(
        run.session
            .drive(&[b"US\xffER\r\n"], &mut Fixed::default())
            .text(),
        "-ERR invalid UTF-8 in command\r\n"
    );
    // Bare LF ends a line too.
    assert_eq!(run.send("USER bob\n").text(), "+OK send PASS\r\n");
}

#[test]
fn too_many_errors_close_the_connection() {
    let mut run = Run::new(false, None);
    let t = run.send(&"BAD\r\n".repeat(MAX_ERRORS as usize + 5));
    assert_eq!(
        t.text(),
        "-ERR unknown command\r\n".repeat(MAX_ERRORS as usize)
    );
    assert!(t.closed);
}

#[test]
fn wrong_passwords_count_and_close_at_the_limit() {
    let mut run = Run::new(false, Some("secret"));
    run.line("USER u");
    assert_eq!(
        run.line("PASS nope"),
        "-ERR [AUTH] invalid user name or password\r\n"
    );
    // A failed PASS forgets the user.
    assert_eq!(run.line("PASS secret"), "-ERR USER first\r\n");
    assert_eq!(
        run.line("AUTH PLAIN AHUAbm8="),
        "-ERR [AUTH] invalid user name or password\r\n"
    );
    assert_eq!(run.session.login_failures(), 2);
    run.line("USER u");
    let t = run.send("PASS again\r\nUSER u\r\n");
    assert_eq!(
        t.text(),
        "-ERR [AUTH] invalid user name or password; too many failures, closing connection\r\n"
    );
    assert!(t.closed);
}

#[test]
fn the_right_password_logs_in_and_pass_keeps_spaces() {
    let mut run = Run::new(false, Some("two words"));
    run.line("USER u");
    assert_eq!(
        run.line("PASS two words"),
        "+OK maildrop has 3 messages (57 octets)\r\n"
    );
}

#[test]
fn an_unavailable_maildrop_is_a_temporary_error() {
    let mut run = Run::new(false, None);
    run.peer.unavailable = Some("full".into());
    run.line("USER full");
    assert_eq!(
        run.line("PASS x"),
        "-ERR [SYS/TEMP] mailbox limit reached\r\n"
    );
    assert!(!run.session.in_transaction());
    assert_eq!(run.session.login_failures(), 0);
}

#[test]
fn auth_plain_with_an_initial_response_and_by_continuation() {
    // "\0u\0p"
    let mut run = Run::new(false, Some("p"));
    assert!(
        run.line("AUTH PLAIN AHUAcA==")
            .starts_with("+OK maildrop has 3")
    );

    let mut run = Run::new(false, Some("p"));
    assert_eq!(run.line("AUTH PLAIN"), "+ \r\n");
    assert!(run.line("AHUAcA==").starts_with("+OK maildrop has 3"));

    // Same authorization identity as the user: fine. "u\0u\0p"
    let mut run = Run::new(false, Some("p"));
    assert!(run.line("auth plain dQB1AHA=").starts_with("+OK maildrop"));

    // Another one is refused. "x\0u\0p"
    let mut run = Run::new(false, Some("p"));
    assert_eq!(
        run.line("AUTH PLAIN eAB1AHA="),
        "-ERR [AUTH] cannot log in as another user\r\n"
    );
}

#[test]
fn auth_plain_cancel_and_bad_responses() {
    let mut run = Run::new(false, None);
    assert_eq!(run.line("AUTH"), "+OK methods follow\r\nPLAIN\r\n.\r\n");
    assert_eq!(
        run.line("AUTH LOGIN"),
        "-ERR unsupported authentication mechanism\r\n"
    );
    assert_eq!(run.line("AUTH PLAIN"), "+ \r\n");
    assert_eq!(run.line("*"), "-ERR authentication cancelled\r\n");
    // The dialogue is over: `*` is now an ordinary (unknown) command.
    assert_eq!(run.line("*"), "-ERR unknown command\r\n");
    assert_eq!(run.line("AUTH PLAIN"), "+ \r\n");
    assert_eq!(run.line("not base64!"), "-ERR invalid base64\r\n");
    assert_eq!(
        run.line("AUTH PLAIN ="),
        "-ERR malformed PLAIN response\r\n"
    );
    // "u\0p": two parts only.
    assert_eq!(
        run.line("AUTH PLAIN dQBw"),
        "-ERR malformed PLAIN response\r\n"
    );
    // "\0\0p": no user.
    assert_eq!(
        run.line("AUTH PLAIN AABw"),
        "-ERR [AUTH] empty user name\r\n"
    );
    assert!(!run.session.in_transaction());
}

#[test]
fn capa_follows_the_state_and_tls() {
    let plain = "+OK capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\n\
                 RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION mailsnare\r\n.\r\n";
    let mut run = Run::new(false, None);
    assert_eq!(run.line("CAPA"), plain);
    let mut run = Run::new(true, None);
    let with_stls = plain.replace("SASL PLAIN\r\n", "SASL PLAIN\r\nSTLS\r\n");
    assert_eq!(run.line("CAPA"), with_stls);
    let mut run = Run::logged_in();
    assert_eq!(
        run.line("CAPA"),
        "+OK capability list follows\r\nTOP\r\nUIDL\r\n\
         RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION mailsnare\r\n.\r\n"
    );
}

#[test]
fn stls_when_unavailable_available_and_done() {
    let mut run = Run::new(false, None);
    assert_eq!(run.line("STLS"), "-ERR STLS not available\r\n");

    let mut run = Run::new(true, None);
    run.line("USER early");
    // What follows STLS in the same read is dropped; the user given before is forgotten.
    let t = run.send("STLS\r\nPASS injected\r\n");
    assert_eq!(t.text(), "+OK begin TLS negotiation\r\n");
    assert!(t.tls_discarded);
    assert_eq!(run.line("PASS p"), "-ERR USER first\r\n");
    assert_eq!(run.line("STLS"), "-ERR TLS already active\r\n");
    assert!(!run.line("CAPA").contains("STLS"));

    // Implicit TLS: never offered.
    let mut session = Session::new(config(true));
    session.set_tls();
    let t = session.drive(&[b"STLS\r\n"], &mut Fixed::default());
    assert_eq!(t.text(), "-ERR TLS already active\r\n");
}

#[test]
fn a_line_too_long_is_drained_and_answered() {
    let mut run = Run::logged_in();
    let long = format!("NOOP {}\r\n", "x".repeat(200));
    assert_eq!(run.send(&long).text(), "-ERR line too long\r\n");
    // Cut over many reads: drained (nothing kept), then answered once, and the session goes on.
    let mut reads: Vec<&[u8]> = vec![b"NOOP "];
    let chunk = [b'y'; 50];
    for _ in 0..1000 {
        reads.push(&chunk);
    }
    reads.push(b"\r\nSTAT\r\n");
    let t = run.session.drive(&reads, &mut run.peer);
    assert_eq!(t.text(), "-ERR line too long\r\n+OK 3 57\r\n");
    // Exactly at the limit is fine (100 octets before CRLF).
    let line = format!("LIST 1{}\r\n", " ".repeat(94));
    assert_eq!(line.len(), 102);
    assert_eq!(run.send(&line).text(), "+OK 1 18\r\n");
    // One over is not, whether or not it arrives in one piece.
    let line = format!("LIST 1{}\r\n", " ".repeat(95));
    assert_eq!(run.send(&line).text(), "-ERR line too long\r\n");
    let (head, tail) = line.split_at(101);
    let t = run
        .session
        .drive(&[head.as_bytes(), tail.as_bytes()], &mut run.peer);
    assert_eq!(t.text(), "-ERR line too long\r\n");
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let mut run = Run::new(false, None);
    let t = run.send("USER u\r\nPASS p\r\nSTAT\r\nDELE 1\r\nQUIT\r\n");
    assert_eq!(
        t.text(),
        "+OK send PASS\r\n+OK maildrop has 3 messages (57 octets)\r\n+OK 3 57\r\n\
         +OK message 1 deleted\r\n+OK pop.test POP3 mailsnare signing off (1 messages deleted)\r\n"
    );
    assert_eq!(t.deleted, vec![A]);
}

#[test]
fn an_empty_maildrop() {
    let mut run = Run::new(false, None);
    run.peer.maildrop = Maildrop::default();
    run.send("USER u\r\nPASS p\r\n");
    assert_eq!(run.line("STAT"), "+OK 0 0\r\n");
    assert_eq!(run.line("LIST"), "+OK 0 messages (0 octets)\r\n.\r\n");
    assert_eq!(run.line("UIDL"), "+OK unique-id listing follows\r\n.\r\n");
    assert_eq!(run.line("RETR 1"), "-ERR no such message\r\n");
}

#[test]
fn timeout_and_shutdown_replies() {
    let session = Session::new(config(false));
    assert_eq!(
        session.timeout_reply(),
        b"-ERR idle timeout, closing connection\r\n"
    );
    assert_eq!(
        session.shutdown_reply(),
        b"-ERR [SYS/TEMP] server shutting down\r\n"
    );
}

#[test]
fn a_line_too_long_ends_an_auth_dialogue_however_it_is_cut() {
    let mut run = Run::new(false, None);
    assert_eq!(run.line("AUTH PLAIN"), "+ \r\n");
    let long = "x".repeat(150);
    let t = run
        .session
        .drive(&[long.as_bytes(), b"\r\nNOOP\r\n"], &mut run.peer);
    // The next line is a command again (NOOP, refused in this state), not a response.
    assert_eq!(
        t.text(),
        "-ERR line too long\r\n-ERR not valid in the AUTHORIZATION state\r\n"
    );
}

//! Arbitrary UTF-8 as a search: `Query::parse` must never panic, and a parsed query runs against a
//! few fixed messages. A NUL splits the input into a needle and a haystack for a differential check
//! of the fast matcher against the obvious form of its contract: Mailpit's cleanString (`fold`) on
//! both sides, then a substring test.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mailsnare::message::{Envelope, StoredMessage};
use mailsnare::search::needle::fold;
use mailsnare::search::{Needle, Query};

static MESSAGES: LazyLock<Vec<StoredMessage>> = LazyLock::new(|| {
    let envelope = |from: &str, to: &[&str]| Envelope {
        mail_from: from.into(),
        rcpt_to: to.iter().map(|s| s.to_string()).collect(),
        ..Envelope::default()
    };
    vec![
        StoredMessage::new(
            envelope("bounce@example.com", &["bob@example.net", "hidden@example.org"]),
            b"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.net>\r\nCc: carol@example.org\r\n\
              Subject: =?UTF-8?Q?Invoice_n=C2=B0_42?=\r\nMessage-ID: <id-1@example.com>\r\nX-Tags: Alpha, beta\r\n\
              Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
              Your order has sh=\r\nipped. Gr=C3=BC=C3=9Fe! KELVIN \xe2\x84\xaa \xc4\xb0stanbul\r\n"
                .to_vec(),
        ),
        StoredMessage::new(
            envelope("", &["x@y"]),
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n\
              <p>Hello <b>world</b></p>\r\n--b\r\nContent-Type: application/pdf\r\n\
              Content-Disposition: attachment; filename=a.pdf\r\n\r\nPDF\r\n--b--\r\n"
                .to_vec(),
        ),
        StoredMessage::new(envelope("a@b", &["c@d"]), b"\xff\xfe garbage".to_vec()),
    ]
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(query) = Query::parse(text) {
        for m in MESSAGES.iter() {
            let _ = query.matches(m);
        }
        if query.is_empty() {
            assert!(MESSAGES.iter().all(|m| query.matches(m)));
        }
    }
    if let Some((needle, haystack)) = text.split_once('\0') {
        let needle = Needle::new(needle);
        // A needle with non-ASCII letters is matched against lower-cased text (the caller
        // lower-cases it); an ASCII one against the text as stored.
        let compared = haystack.is_ascii() || needle.needs_lowercase();
        // fold() also reads Unicode spaces and U+FEFF as separators; the byte matcher reads only
        // the ASCII ones (stored search text is where that difference would show).
        let plain = !haystack
            .chars()
            .any(|c| !c.is_ascii() && (c.is_whitespace() || c == '\u{feff}'));
        if compared && plain {
            let hay = if needle.needs_lowercase() {
                haystack.to_lowercase()
            } else {
                haystack.to_string()
            };
            assert_eq!(
                needle.found_in(hay.as_bytes()),
                fold(haystack).contains(needle.folded()),
                "needle {:?} in {haystack:?}",
                needle.folded()
            );
        }
    }
});

//! Arbitrary bytes as a stored message: the summary parsed at ingest, the Mailpit message and
//! headers JSON, every MIME part by path, and the MailHog JSON with its part decoding. None may
//! panic, and what they produce must serialize.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsnare::http::mailhog;
use mailsnare::mime::entity::Entity;
use mailsnare::http::mailpit;
use mailsnare::message::{Envelope, SNIPPET_CHARS, StoredMessage, Summary};

fn check_parts(entity: &Entity<'_>, depth: usize) {
    assert!(depth <= mailsnare::mime::structure::Limits::default().depth + 1);
    let _ = entity.decoded_body();
    let _ = entity.filename();
    for part in entity.parts.iter().flatten() {
        check_parts(part, depth + 1);
    }
}

fuzz_target!(|raw: &[u8]| {
    let envelope = Envelope {
        helo: "fuzz".into(),
        mail_from: "sender@example.com".into(),
        rcpt_to: vec!["rcpt@example.com".into(), "Other@Example.COM".into()],
        ..Envelope::default()
    };
    let summary = Summary::parse_default(raw, &envelope);
    let snippet = summary.snippet(raw);
    assert!(snippet.chars().count() <= SNIPPET_CHARS);
    assert!(!snippet.ends_with(' '));
    // Every envelope recipient is in To, Cc or Bcc.
    for rcpt in &envelope.rcpt_to {
        let named = summary
            .to
            .iter()
            .chain(&summary.cc)
            .chain(&summary.bcc)
            .any(|a| a.address.eq_ignore_ascii_case(rcpt));
        assert!(named, "envelope recipient {rcpt} missing from the summary");
    }
    for body in &summary.bodies {
        let _ = body.resolve(raw);
    }

    let stored = StoredMessage::new(envelope, raw.to_vec());
    assert_eq!(*stored.summary, summary, "parsing is deterministic");
    let _ = stored.body_texts().count();
    serde_json::to_string(&mailpit::model::MessageSummary::new(&stored)).expect("summary JSON");
    let message = mailpit::model::Message::new(&stored);
    for attachment in message.attachments.iter().chain(&message.inline) {
        let _ = mailsnare::mime::parts::part(raw, &Default::default(), &attachment.part_id);
    }
    serde_json::to_string(&message).expect("message JSON");
    serde_json::to_string(&mailpit::model::headers(raw)).expect("headers JSON");
    for id in ["1", "2", "1.1", "2.1", "0", ""] {
        let _ = mailsnare::mime::parts::part(raw, &Default::default(), id);
    }

    serde_json::to_string(&mailhog::Message::new(&stored)).expect("MailHog JSON");
    check_parts(&Entity::parse(raw, &Default::default()), 0);
});

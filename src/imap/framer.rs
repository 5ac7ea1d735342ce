//! Client bytes into whole IMAP messages, with bounds: lines and literals are found by
//! imap-codec's [`Fragmentizer`] (so literal bytes are never read as commands, even when a
//! message is refused), then decoded with the codec the session's state calls for.
//!
//! A line longer than `max_line` or a literal larger than `max_literal` never grows a buffer
//! past the bound: the fragmentizer drops what does not fit and the message is answered with a
//! BAD once it ends. A refused synchronizing literal is never sent by the client (it waits for
//! our `+`), so the message ends right there (RFC 3501 7.5).

use imap_codec::fragmentizer::{
    DecodeMessageError, FragmentInfo, Fragmentizer, LiteralAnnouncement,
};
use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::auth::AuthenticateData;
use imap_codec::imap_types::command::Command;
use imap_codec::imap_types::core::{LiteralMode, Tag};
use imap_codec::{AuthenticateDataCodec, CommandCodec, IdleDoneCodec};

/// What the session expects next from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Command,
    /// The `DONE` that ends IDLE (RFC 2177).
    IdleDone,
    /// A base64 line answering an AUTHENTICATE challenge (RFC 3501 6.2.2).
    AuthData,
}

/// One thing the framer found.
#[derive(Debug)]
pub enum Frame {
    Command(Command<'static>),
    /// A synchronizing literal within the bounds: ask for it with `+`.
    SendLiteral,
    /// A synchronizing literal over the bound; the message ends here and is refused.
    LiteralTooLarge {
        tag: Option<Tag<'static>>,
    },
    IdleDone,
    /// The client's AUTHENTICATE answer: `None` when it cancelled with `*`.
    AuthData(Option<Vec<u8>>),
    /// A message that could not be used: answer BAD (tagged when the tag could be read).
    Bad {
        tag: Option<Tag<'static>>,
        reason: &'static str,
    },
}

/// The framing state of one connection.
#[derive(Debug)]
pub struct Framer {
    fragments: Fragmentizer,
    max_line: usize,
    max_literal: usize,
    /// Why the message in progress will be refused, decided while it streams past.
    refusal: Option<&'static str>,
}

impl Framer {
    pub fn new(max_line: usize, max_literal: usize) -> Framer {
        // Room for a few literals within bounds plus their lines (LOGIN may send two, APPEND one
        // large one); anything larger is cut by the fragmentizer and refused.
        let max_message = max_literal
            .saturating_add(max_line.saturating_mul(4))
            .min(u32::MAX as usize) as u32;
        Framer {
            fragments: Fragmentizer::new(max_message),
            max_line,
            max_literal,
            refusal: None,
        }
    }

    /// Queues bytes read from the client.
    pub fn push(&mut self, bytes: &[u8]) {
        self.fragments.enqueue_bytes(bytes);
    }

    /// Forgets everything queued: after STARTTLS, plaintext pipelined before the handshake must
    /// never be read as a command.
    pub fn reset(&mut self) {
        *self = Framer::new(self.max_line, self.max_literal);
    }

    /// The next frame, or `None` when more bytes are needed.
    pub fn next(&mut self, expect: Expect) -> Option<Frame> {
        loop {
            let fragment = self.fragments.progress()?;
            if let FragmentInfo::Line {
                start,
                end,
                announcement,
                ..
            } = fragment
            {
                if end - start > self.max_line {
                    self.refusal.get_or_insert("line too long");
                    self.fragments.poison_message();
                }
                if let Some(LiteralAnnouncement { mode, length }) = announcement {
                    let too_large = length as usize > self.max_literal;
                    match mode {
                        LiteralMode::Sync if self.refusal.is_some() || too_large => {
                            let tag = self.fragments.decode_tag().map(IntoStatic::into_static);
                            self.fragments.skip_message();
                            self.refusal = None;
                            return Some(if too_large {
                                Frame::LiteralTooLarge { tag }
                            } else {
                                Frame::Bad {
                                    tag,
                                    reason: "line too long",
                                }
                            });
                        }
                        LiteralMode::Sync => {
                            if expect == Expect::Command {
                                return Some(Frame::SendLiteral);
                            }
                            // Literals have no place in DONE or a SASL answer: refuse without
                            // waiting for bytes the client will not send.
                            let tag = self.fragments.decode_tag().map(IntoStatic::into_static);
                            self.fragments.skip_message();
                            return Some(Frame::Bad {
                                tag,
                                reason: "unexpected literal",
                            });
                        }
                        LiteralMode::NonSync => {
                            if too_large {
                                // LITERAL+ sends it anyway: let it stream past, then refuse.
                                self.refusal.get_or_insert("literal too large");
                                self.fragments.poison_message();
                            }
                        }
                    }
                }
            }
            if self.fragments.is_message_complete() {
                return Some(self.decode(expect));
            }
        }
    }

    fn decode(&mut self, expect: Expect) -> Frame {
        let refusal = self.refusal.take();
        let tag = || self.fragments.decode_tag().map(IntoStatic::into_static);
        if let Some(reason) = refusal {
            return Frame::Bad { tag: tag(), reason };
        }
        match expect {
            Expect::Command => match self.fragments.decode_message(&CommandCodec::default()) {
                Ok(command) => Frame::Command(command.into_static()),
                Err(DecodeMessageError::MessageTooLong { .. }) => Frame::Bad {
                    tag: tag(),
                    reason: "command too long",
                },
                Err(_) => Frame::Bad {
                    tag: tag(),
                    reason: "syntax error",
                },
            },
            Expect::IdleDone => match self.fragments.decode_message(&IdleDoneCodec::default()) {
                Ok(_) => Frame::IdleDone,
                Err(_) => Frame::Bad {
                    tag: None,
                    reason: "expected DONE",
                },
            },
            Expect::AuthData => {
                match self
                    .fragments
                    .decode_message(&AuthenticateDataCodec::default())
                {
                    Ok(AuthenticateData::Continue(data)) => {
                        Frame::AuthData(Some(data.declassify().to_vec()))
                    }
                    Ok(AuthenticateData::Cancel) => Frame::AuthData(None),
                    Err(_) => Frame::Bad {
                        tag: None,
                        reason: "invalid base64",
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(framer: &mut Framer, expect: Expect) -> Vec<Frame> {
        std::iter::from_fn(|| framer.next(expect)).collect()
    }

    #[test]
    fn a_literal_is_asked_for_then_the_command_decoded() {
        let mut framer = Framer::new(100, 100);
        framer.push(b"a LOGIN {3}\r\n");
        let got = frames(&mut framer, Expect::Command);
        assert!(matches!(got.as_slice(), [Frame::SendLiteral]));
        framer.push(b"bob pw\r\n");
        let got = frames(&mut framer, Expect::Command);
        assert!(matches!(got.as_slice(), [Frame::Command(_)]));
    }

    #[test]
    fn a_large_sync_literal_is_refused_and_the_next_command_read() {
        let mut framer = Framer::new(100, 10);
        framer.push(b"a APPEND INBOX {11}\r\nb NOOP\r\n");
        let got = frames(&mut framer, Expect::Command);
        assert!(
            matches!(&got[..], [Frame::LiteralTooLarge { tag: Some(t) }, Frame::Command(_)] if t.as_ref() == "a"),
            "{got:?}"
        );
    }

    #[test]
    fn a_large_nonsync_literal_is_drained_then_refused() {
        let mut framer = Framer::new(100, 10);
        framer.push(b"a APPEND INBOX {20+}\r\n");
        framer.push(&[b'x'; 20]);
        framer.push(b"\r\nb NOOP\r\n");
        let got = frames(&mut framer, Expect::Command);
        assert!(
            matches!(&got[..], [Frame::Bad { tag: Some(t), reason: "literal too large" }, Frame::Command(_)] if t.as_ref() == "a"),
            "{got:?}"
        );
    }

    #[test]
    fn a_long_line_is_refused_without_being_kept() {
        let mut framer = Framer::new(20, 10);
        framer.push(b"a NOOP ");
        framer.push(&[b'x'; 100_000]);
        framer.push(b"\r\nb NOOP\r\n");
        let got = frames(&mut framer, Expect::Command);
        assert!(
            matches!(
                &got[..],
                [Frame::Bad { tag: Some(_), .. }, Frame::Command(_)]
            ),
            "{got:?}"
        );
    }
}

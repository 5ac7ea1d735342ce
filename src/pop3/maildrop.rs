//! The maildrop a POP3 session reads (the messages its store held at login, oldest first) and
//! the encoding of a message for RETR and TOP: CRLF line ends, byte-stuffing and the final dot,
//! produced in bounded chunks so a large message is never copied whole.

use std::sync::Arc;

use bytes::Bytes;
use uuid::Uuid;

use crate::message::StoredMessage;

/// One message of the maildrop.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The store's id: the UIDL unique-id, stable across sessions.
    pub id: Uuid,
    raw: Bytes,
    /// Octets in CRLF form (RFC 1939 11: sizes count each line end as two octets).
    size: usize,
    deleted: bool,
}

impl Entry {
    pub fn size(&self) -> usize {
        self.size
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted
    }
}

/// The messages of one session, numbered from 1.
#[derive(Debug, Clone, Default)]
pub struct Maildrop {
    entries: Vec<Entry>,
}

impl Maildrop {
    /// A maildrop of these messages, oldest first. Scans each one for bare LFs (its size in CRLF
    /// form): callers with a large store do this off the async workers.
    pub fn new(messages: impl IntoIterator<Item = (Uuid, Bytes)>) -> Maildrop {
        let entries = messages
            .into_iter()
            .map(|(id, raw)| Entry {
                id,
                size: crlf_size(&raw),
                raw,
                deleted: false,
            })
            .collect();
        Maildrop { entries }
    }

    /// A maildrop of a store's snapshot, which lists the newest first.
    pub fn of_snapshot(messages: &[Arc<StoredMessage>]) -> Maildrop {
        Maildrop::new(messages.iter().rev().map(|m| (m.id, m.raw.clone())))
    }

    /// Messages numbered, deleted ones included (numbers never shift within a session).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Message `number` (1-based), deleted or not.
    pub fn get(&self, number: usize) -> Option<&Entry> {
        self.entries.get(number.checked_sub(1)?)
    }

    /// The messages not marked deleted, with their numbers.
    pub fn live(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.deleted)
            .map(|(i, e)| (i + 1, e))
    }

    /// Count and total octets of the messages not marked deleted (STAT).
    pub fn stat(&self) -> (usize, usize) {
        self.live()
            .fold((0, 0), |(n, octets), (_, e)| (n + 1, octets + e.size))
    }

    /// Marks message `number` deleted; false when there is none.
    pub fn delete(&mut self, number: usize) -> bool {
        match number.checked_sub(1).and_then(|i| self.entries.get_mut(i)) {
            Some(entry) => {
                entry.deleted = true;
                true
            }
            None => false,
        }
    }

    /// Unmarks every deletion (RSET).
    pub fn undelete_all(&mut self) {
        for entry in &mut self.entries {
            entry.deleted = false;
        }
    }

    /// The ids marked deleted, for the UPDATE state.
    pub fn deleted(&self) -> Vec<Uuid> {
        self.entries
            .iter()
            .filter(|e| e.deleted)
            .map(|e| e.id)
            .collect()
    }
}

/// The octets of `raw` in CRLF form: each bare LF becomes CRLF.
pub fn crlf_size(raw: &[u8]) -> usize {
    let bare = memchr::memchr_iter(b'\n', raw)
        .filter(|&i| i == 0 || raw[i - 1] != b'\r')
        .count();
    raw.len() + bare
}

/// A message's multi-line response body, still to be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    raw: Bytes,
    /// TOP: the header, the blank line, then at most this many body lines. `None`: all (RETR).
    top: Option<usize>,
}

impl Body {
    pub fn whole(entry: &Entry) -> Body {
        Body {
            raw: entry.raw.clone(),
            top: None,
        }
    }

    pub fn top(entry: &Entry, lines: usize) -> Body {
        Body {
            raw: entry.raw.clone(),
            top: Some(lines),
        }
    }

    pub fn encoder(self) -> Encoder {
        Encoder {
            lines_left: self.top,
            raw: self.raw,
            pos: 0,
            line_end: None,
            line_begin: 0,
            in_header: true,
            done: false,
        }
    }

    /// The whole encoded body in one buffer, for tests and small replies.
    pub fn encode(self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = self.encoder();
        while !encoder.fill(&mut out, usize::MAX) {}
        out
    }
}

/// Writes a [`Body`] out in chunks: every line end as CRLF, a `.` before every line that starts
/// with one (RFC 1939 3), and `.` CRLF at the end (after a CRLF when the message lacks a final
/// line end).
#[derive(Debug)]
pub struct Encoder {
    raw: Bytes,
    /// The next byte to write.
    pos: usize,
    /// Inside a line: where it started and where its LF is (or the end of the message).
    line_end: Option<usize>,
    line_begin: usize,
    /// Still in the header: TOP counts lines only after the blank line.
    in_header: bool,
    lines_left: Option<usize>,
    done: bool,
}

impl Encoder {
    /// Appends to `out` until it holds at least `budget` bytes or the body ends; a chunk can go
    /// a few bytes past `budget` (a stuffing dot, a line end, the terminator). Returns true once
    /// the terminator has been written.
    pub fn fill(&mut self, out: &mut Vec<u8>, budget: usize) -> bool {
        while !self.done && out.len() < budget {
            let Some(end) = self.line_end else {
                self.start_line(out);
                continue;
            };
            let room = budget.saturating_sub(out.len()).max(1);
            let stop = end.min(self.pos.saturating_add(room));
            out.extend_from_slice(&self.raw[self.pos..stop]);
            self.pos = stop;
            if stop < end {
                continue;
            }
            self.line_end = None;
            if end == self.raw.len() {
                // The last line has no line end: the terminator needs one first.
                out.extend_from_slice(b"\r\n");
                continue;
            }
            let has_cr = end > self.line_begin && self.raw[end - 1] == b'\r';
            out.extend_from_slice(if has_cr { b"\n" } else { b"\r\n" });
            self.pos = end + 1;
            if self.in_header {
                let blank = end == self.line_begin || (has_cr && end == self.line_begin + 1);
                self.in_header = !blank;
            } else if let Some(left) = &mut self.lines_left {
                *left = left.saturating_sub(1);
            }
        }
        self.done
    }

    /// At a line start: ends the body if nothing more is due, else stuffs and finds the line.
    fn start_line(&mut self, out: &mut Vec<u8>) {
        let over = self.pos >= self.raw.len() || (!self.in_header && self.lines_left == Some(0));
        if over {
            out.extend_from_slice(b".\r\n");
            self.done = true;
            return;
        }
        if self.raw[self.pos] == b'.' {
            out.push(b'.');
        }
        self.line_begin = self.pos;
        self.line_end = Some(
            memchr::memchr(b'\n', &self.raw[self.pos..]).map_or(self.raw.len(), |i| self.pos + i),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(raw: &[u8], top: Option<usize>) -> Vec<u8> {
        Body {
            raw: Bytes::copy_from_slice(raw),
            top,
        }
        .encode()
    }

    #[test]
    fn retr_stuffs_dots_and_normalises_line_ends() {
        assert_eq!(
            body(b"A: b\r\n\r\n.hidden\n..two\r\nlast", None),
            b"A: b\r\n\r\n..hidden\r\n...two\r\nlast\r\n.\r\n"
        );
        assert_eq!(body(b"", None), b".\r\n");
        assert_eq!(body(b".", None), b"..\r\n.\r\n");
        assert_eq!(body(b"x\r\n", None), b"x\r\n.\r\n");
        // A CR not before an LF is data.
        assert_eq!(body(b"a\rb\n", None), b"a\rb\r\n.\r\n");
    }

    #[test]
    fn top_sends_the_header_the_blank_line_and_n_lines() {
        let raw = b"A: 1\nB: 2\r\n\r\none\r\n.two\r\nthree\r\n";
        assert_eq!(body(raw, Some(0)), b"A: 1\r\nB: 2\r\n\r\n.\r\n");
        assert_eq!(
            body(raw, Some(2)),
            b"A: 1\r\nB: 2\r\n\r\none\r\n..two\r\n.\r\n"
        );
        assert_eq!(body(raw, Some(usize::MAX)), body(raw, None));
        // No blank line: it is all header.
        assert_eq!(body(b"A: 1\nB: 2", Some(0)), b"A: 1\r\nB: 2\r\n.\r\n");
    }

    #[test]
    fn chunks_are_bounded_and_concatenate_to_the_whole() {
        let mut raw = Vec::new();
        for i in 0..500 {
            raw.extend_from_slice(format!(".line {i}\n").as_bytes());
        }
        raw.extend_from_slice(&[b'x'; 10_000]);
        let whole = body(&raw, None);
        for budget in [1, 2, 7, 64, 4096] {
            let mut encoder = Body {
                raw: Bytes::from(raw.clone()),
                top: None,
            }
            .encoder();
            let mut joined = Vec::new();
            loop {
                let mut chunk = Vec::new();
                let done = encoder.fill(&mut chunk, budget);
                assert!(chunk.len() <= budget + 3, "{} > {budget}", chunk.len());
                joined.extend_from_slice(&chunk);
                if done {
                    break;
                }
            }
            assert_eq!(joined, whole, "budget {budget}");
        }
    }

    #[test]
    fn sizes_count_line_ends_as_two_octets() {
        assert_eq!(crlf_size(b"a\nb\r\n\n"), 8);
        assert_eq!(crlf_size(b"\n"), 2);
        assert_eq!(crlf_size(b""), 0);
        let drop = Maildrop::new([
            (Uuid::nil(), Bytes::from_static(b"a\n")),
            (Uuid::max(), Bytes::from_static(b"bb\r\n")),
        ]);
        assert_eq!(drop.stat(), (2, 7));
    }
}

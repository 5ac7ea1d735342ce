//! The DATA receiver: finds the `<CRLF>.<CRLF>` terminator across arbitrary read boundaries, removes
//! dot-stuffing (RFC 5321 4.5.2) and enforces the message size limit without buffering past it.

use std::sync::LazyLock;

use memchr::memmem::Finder;

/// A line start followed by a dot: the only place where DATA needs a closer look.
static NEWLINE_DOT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\n."));

/// Where the receiver is relative to line structure. DATA starts at a line start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineState {
    /// At the first byte of a line.
    Start,
    /// Inside a line.
    Middle,
    /// A line began with `.`; the next byte decides between terminator and stuffing.
    Dot,
    /// A line began with `.\r`.
    DotCr,
}

/// Accumulates one message body. Bare-LF line endings are tolerated and stored as received.
#[derive(Debug)]
pub struct DataReceiver {
    state: LineState,
    body: Vec<u8>,
    limit: usize,
    /// Bytes seen after unstuffing, counted even once the body is dropped for being too large.
    seen: usize,
}

impl DataReceiver {
    pub fn new(limit: usize) -> DataReceiver {
        DataReceiver {
            state: LineState::Start,
            body: Vec::new(),
            limit,
            seen: 0,
        }
    }

    /// Consumes `input`. Returns `Some(n)` when the terminating dot line ended within the first `n`
    /// bytes (the rest belongs to the next command), `None` when all of `input` was consumed.
    pub fn feed(&mut self, input: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                LineState::Start => {
                    if input[i] == b'.' {
                        i += 1;
                        self.state = LineState::Dot;
                    } else {
                        self.state = LineState::Middle;
                    }
                }
                LineState::Dot => match input[i] {
                    b'\n' => return Some(i + 1),
                    b'\r' => {
                        i += 1;
                        self.state = LineState::DotCr;
                    }
                    // A stuffed dot: drop it, keep the rest of the line.
                    _ => self.state = LineState::Middle,
                },
                LineState::DotCr => {
                    if input[i] == b'\n' {
                        return Some(i + 1);
                    }
                    self.append(b"\r");
                    self.state = LineState::Middle;
                }
                LineState::Middle => {
                    let rest = &input[i..];
                    match NEWLINE_DOT.find(rest) {
                        Some(p) => {
                            self.append(&rest[..=p]);
                            i += p + 2;
                            self.state = LineState::Dot;
                        }
                        None => {
                            self.append(rest);
                            if rest.ends_with(b"\n") {
                                self.state = LineState::Start;
                            }
                            i = input.len();
                        }
                    }
                }
            }
        }
        None
    }

    fn append(&mut self, bytes: &[u8]) {
        self.seen = self.seen.saturating_add(bytes.len());
        if self.seen > self.limit {
            // Over the limit: free what we hold and only count from now on.
            self.body = Vec::new();
        } else {
            self.body.extend_from_slice(bytes);
        }
    }

    /// The message, or `Err(bytes seen)` when it exceeded the limit.
    pub fn finish(self) -> Result<Vec<u8>, usize> {
        if self.seen > self.limit {
            Err(self.seen)
        } else {
            Ok(self.body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at every possible pair of boundaries and checks the result never changes.
    fn receive_all_splits(input: &[u8], limit: usize) -> (Result<Vec<u8>, usize>, usize) {
        let whole = receive(&[input], limit);
        for a in 0..=input.len() {
            for b in a..=input.len() {
                let split = receive(&[&input[..a], &input[a..b], &input[b..]], limit);
                assert_eq!(
                    split,
                    whole,
                    "split at {a},{b} of {:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
        whole
    }

    fn receive(chunks: &[&[u8]], limit: usize) -> (Result<Vec<u8>, usize>, usize) {
        let mut rx = DataReceiver::new(limit);
        let mut consumed = 0;
        for chunk in chunks {
            if let Some(n) = rx.feed(chunk) {
                return (rx.finish(), consumed + n);
            }
            consumed += chunk.len();
        }
        panic!("terminator not found")
    }

    #[test]
    fn unstuffs_and_finds_end_across_boundaries() {
        let input = b"Subject: x\r\n\r\n..leading dot\r\n.\r\nMAIL";
        let (body, used) = receive_all_splits(input, 1000);
        assert_eq!(body.unwrap(), b"Subject: x\r\n\r\n.leading dot\r\n");
        assert_eq!(&input[used..], b"MAIL");
    }

    #[test]
    fn empty_message() {
        let (body, used) = receive_all_splits(b".\r\n", 10);
        assert_eq!(body.unwrap(), b"");
        assert_eq!(used, 3);
    }

    #[test]
    fn bare_lf_lines_are_kept_as_received() {
        let (body, _) = receive_all_splits(b"a\nb\n.\n", 10);
        assert_eq!(body.unwrap(), b"a\nb\n");
    }

    #[test]
    fn dot_cr_without_lf_is_data() {
        let (body, _) = receive_all_splits(b".\rx\r\n.\r\n", 10);
        assert_eq!(body.unwrap(), b"\rx\r\n");
    }

    #[test]
    fn dot_inside_a_line_is_not_special() {
        let (body, _) = receive_all_splits(b"a.\r\nb\r\n.\r\n", 100);
        assert_eq!(body.unwrap(), b"a.\r\nb\r\n");
    }

    #[test]
    fn over_limit_is_drained_and_reported() {
        let (body, used) = receive_all_splits(b"0123456789\r\n.\r\nQUIT\r\n", 5);
        assert_eq!(body, Err(12));
        assert_eq!(used, 15);
    }

    #[test]
    fn exactly_at_limit_is_accepted() {
        let (body, _) = receive(&[b"abc\r\n.\r\n"], 5);
        assert_eq!(body.unwrap(), b"abc\r\n");
    }
}

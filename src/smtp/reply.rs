//! SMTP replies: a code, an enhanced status code (RFC 3463) and text, rendered to wire bytes.

use std::borrow::Cow;
use std::fmt;

/// One SMTP reply, possibly multi-line (`250-…` continuation lines, then `250 …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    /// Enhanced status code such as `2.0.0`; empty for replies that carry none (220, 221 greeting text, 334).
    pub status: &'static str,
    pub lines: Vec<Cow<'static, str>>,
}

impl Reply {
    /// A single-line reply.
    pub fn new(code: u16, status: &'static str, text: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            code,
            status,
            lines: vec![text.into()],
        }
    }

    /// A multi-line reply; `lines` must not be empty.
    pub fn multi(code: u16, status: &'static str, lines: Vec<Cow<'static, str>>) -> Reply {
        debug_assert!(!lines.is_empty());
        Reply {
            code,
            status,
            lines,
        }
    }

    /// True for 2xx and 3xx replies.
    pub fn is_positive(&self) -> bool {
        self.code < 400
    }

    /// Appends the wire form (CRLF-terminated lines) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        let last = self.lines.len().saturating_sub(1);
        for (i, line) in self.lines.iter().enumerate() {
            let sep = if i == last { ' ' } else { '-' };
            // Writing into a Vec cannot fail.
            let _ = if self.status.is_empty() {
                write!(out, "{}{}{}\r\n", self.code, sep, line)
            } else {
                write!(out, "{}{}{} {}\r\n", self.code, sep, self.status, line)
            };
        }
        if self.lines.is_empty() {
            let _ = write!(out, "{}\r\n", self.code);
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.write_to(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_single_and_multi_line() {
        assert_eq!(
            Reply::new(250, "2.0.0", "OK").to_string(),
            "250 2.0.0 OK\r\n"
        );
        assert_eq!(
            Reply::new(334, "", "VXNlcm5hbWU6").to_string(),
            "334 VXNlcm5hbWU6\r\n"
        );
        let r = Reply::multi(250, "", vec!["a".into(), "b".into(), "c".into()]);
        assert_eq!(r.to_string(), "250-a\r\n250-b\r\n250 c\r\n");
    }
}

//! Mailbox names: safe path segments (they appear in URLs and, with `--storage`, in directory
//! names), compared in lower case so `Job-42` and `job-42` are one mailbox.

use std::sync::Arc;

/// Longest mailbox name.
pub const MAX_NAME: usize = 64;

/// A valid mailbox name: 1 to [`MAX_NAME`] ASCII letters, digits, `.`, `_` or `-`, in lower case,
/// not starting with `.`. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxName(Arc<str>);

impl MailboxName {
    pub fn new(name: &str) -> Option<MailboxName> {
        let ok = !name.is_empty()
            && name.len() <= MAX_NAME
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        ok.then(|| MailboxName(Arc::from(name.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MailboxName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_segments_in_lower_case() {
        assert_eq!(MailboxName::new("Job-42").unwrap().as_str(), "job-42");
        assert_eq!(MailboxName::new("a.b_c").unwrap().as_str(), "a.b_c");
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a b",
            "é",
            "a%2f",
            &"x".repeat(65),
        ] {
            assert!(MailboxName::new(bad).is_none(), "{bad:?}");
        }
    }
}

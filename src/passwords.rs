//! Password files in htpasswd style (`user:hash` per line), for SMTP AUTH and HTTP Basic auth.
//! Hashes: bcrypt (`$2a$`/`$2b$`/`$2y$`, MailHog's `MH_AUTH_FILE` format), `{SHA}` (htpasswd -s),
//! `{PLAIN}` or a bare plain-text password. Passwords are never logged.
//!
//! A line of the HTTP auth file may end in `:mailboxes=NAME,NAME…` to restrict its user to those
//! mailboxes (a team); `@user` names the mailbox of the user's own name.

use std::collections::HashMap;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::{Digest, Sha1};

#[derive(Clone)]
enum Hash {
    Bcrypt(String),
    Sha1(Vec<u8>),
    Plain(String),
}

/// Users and their password hashes.
#[derive(Clone, Default)]
pub struct Passwords {
    users: HashMap<String, Hash>,
    /// Checked for an unknown user, so that it costs what a known one does: a bcrypt hash of the
    /// file's highest cost when it has bcrypt users (bcrypt dominates the time).
    decoy: Option<Hash>,
    /// The mailboxes each restricted user may see; a user not here sees everything.
    scopes: HashMap<String, Vec<crate::mailbox::MailboxName>>,
}

impl std::fmt::Debug for Passwords {
    // Only the user names: hashes stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Passwords {
    /// Reads a password file; every line must be valid (blank lines and `#` comments aside).
    pub fn load(path: &Path) -> Result<Passwords, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Passwords::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads inline credentials, Mailpit's `MP_SMTP_AUTH` form: `user:pass user2:pass2`, each
    /// entry as one line of a password file, entries separated by any white space.
    pub fn parse_inline(text: &str) -> Result<Passwords, String> {
        Passwords::parse(&text.split_whitespace().collect::<Vec<_>>().join("\n"))
    }

    pub fn parse(text: &str) -> Result<Passwords, String> {
        let mut users = HashMap::new();
        let mut scopes = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((user, secret)) = line.split_once(':') else {
                return Err(format!("line {}: expected user:password", n + 1));
            };
            let (secret, scope) = match secret.rsplit_once(":mailboxes=") {
                Some((secret, list)) => (secret, Some(list)),
                None => (secret, None),
            };
            if let Some(list) = scope {
                let names = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        let name = if s == "@user" { user } else { s };
                        crate::mailbox::MailboxName::new(name)
                            .ok_or_else(|| format!("line {}: invalid mailbox name {name:?}", n + 1))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if names.is_empty() {
                    return Err(format!("line {}: mailboxes= names no mailbox", n + 1));
                }
                scopes.insert(user.to_string(), names);
            }
            if user.is_empty() {
                return Err(format!("line {}: empty user name", n + 1));
            }
            let hash = if ["$2a$", "$2b$", "$2y$", "$2x$"]
                .iter()
                .any(|p| secret.starts_with(p))
            {
                Hash::Bcrypt(secret.to_string())
            } else if let Some(sha) = secret.strip_prefix("{SHA}") {
                Hash::Sha1(
                    BASE64
                        .decode(sha)
                        .map_err(|_| format!("line {}: bad {{SHA}} hash", n + 1))?,
                )
            } else if let Some(plain) = secret.strip_prefix("{PLAIN}") {
                Hash::Plain(plain.to_string())
            } else if secret.starts_with("$apr1$")
                || secret.starts_with("$1$")
                || secret.starts_with("$5$")
                || secret.starts_with("$6$")
            {
                return Err(format!(
                    "line {}: unsupported hash; use bcrypt (htpasswd -B), {{SHA}} or plain",
                    n + 1
                ));
            } else {
                Hash::Plain(secret.to_string())
            };
            users.insert(user.to_string(), hash);
        }
        if users.is_empty() {
            return Err("no users".into());
        }
        let cost = users
            .values()
            .filter_map(|h| match h {
                Hash::Bcrypt(hash) => hash.get(4..6).and_then(|c| c.parse::<u32>().ok()),
                _ => None,
            })
            .max();
        let decoy = cost
            .and_then(|cost| bcrypt::hash("not a password of anyone", cost).ok())
            .map(Hash::Bcrypt);
        Ok(Passwords {
            users,
            decoy,
            scopes,
        })
    }

    /// The mailboxes `user` is restricted to, or `None` when it may see everything.
    pub fn mailboxes_of(&self, user: &str) -> Option<&[crate::mailbox::MailboxName]> {
        self.scopes.get(user).map(Vec::as_slice)
    }

    /// Checks a user's password. bcrypt is deliberately slow: call this off the async workers.
    /// An unknown user costs the same work as a known one (a decoy hash is checked), so timing
    /// does not tell which user names exist.
    pub fn verify(&self, user: &str, password: &str) -> bool {
        match self.users.get(user) {
            Some(hash) => check(hash, password),
            None => {
                if let Some(decoy) = &self.decoy {
                    let _ = check(decoy, password);
                }
                false
            }
        }
    }
}

fn check(hash: &Hash, password: &str) -> bool {
    match hash {
        Hash::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
        Hash::Sha1(digest) => constant_time_eq(&Sha1::digest(password.as_bytes()), digest),
        Hash::Plain(plain) => constant_time_eq(plain.as_bytes(), password.as_bytes()),
    }
}

impl Passwords {
    /// Checks a CRAM-MD5 answer (RFC 2195): possible only for users whose password is stored in
    /// plain text, since the digest is keyed by the password itself.
    pub fn verify_cram_md5(&self, user: &str, challenge: &str, digest_hex: &str) -> bool {
        let Some(Hash::Plain(password)) = self.users.get(user) else {
            return false;
        };
        let Ok(mut mac) = Hmac::<Md5>::new_from_slice(password.as_bytes()) else {
            return false;
        };
        mac.update(challenge.as_bytes());
        let expected: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        constant_time_eq(expected.as_bytes(), digest_hex.as_bytes())
    }
}

/// Compares without an early exit, so timing does not reveal how much of a secret matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hash_kind() {
        let bcrypt = bcrypt::hash("s3cret", 4).expect("hash");
        let file = format!(
            "# team\nalice:{bcrypt}\nbob:{{SHA}}{}\ncarol:{{PLAIN}}pw:with:colons\ndave:plainpw\r\n\n",
            BASE64.encode(Sha1::digest(b"bobpw"))
        );
        let p = Passwords::parse(&file).expect("valid");
        assert!(p.verify("alice", "s3cret") && !p.verify("alice", "S3cret"));
        assert!(p.verify("bob", "bobpw") && !p.verify("bob", "bobpw "));
        assert!(p.verify("carol", "pw:with:colons"));
        assert!(p.verify("dave", "plainpw") && !p.verify("dave", ""));
        assert!(!p.verify("eve", "anything"));
        assert!(!format!("{p:?}").contains("s3cret") && !format!("{p:?}").contains("plainpw"));
    }

    #[test]
    fn a_line_may_restrict_its_user_to_mailboxes() {
        let p = Passwords::parse(
            "alice:pw:mailboxes=team-a,Shared\nbob:{PLAIN}x:y:mailboxes=@user\ncarol:pw\n",
        )
        .expect("valid");
        assert!(p.verify("alice", "pw") && p.verify("bob", "x:y"));
        let names = |u| {
            p.mailboxes_of(u)
                .map(|m| m.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            names("alice"),
            Some(vec!["team-a".to_string(), "shared".to_string()])
        );
        assert_eq!(names("bob"), Some(vec!["bob".to_string()]));
        assert_eq!(names("carol"), None);
        assert!(Passwords::parse("x:pw:mailboxes=../etc").is_err());
        assert!(Passwords::parse("x:pw:mailboxes=").is_err());
    }

    #[test]
    fn cram_md5_with_plain_passwords_only() {
        // RFC 2195's example: tim / tanstaaftanstaaf.
        let p = Passwords::parse("tim:tanstaaftanstaaf\nbcrypted:$2y$04$abcdefghijklmnopqrstuu5Gh4aSxOa9kaFfX6CNPHGqULjvhsQZC").expect("valid");
        let challenge = "<1896.697170952@postoffice.reston.mci.net>";
        assert!(p.verify_cram_md5("tim", challenge, "b913a602c7eda7a495b4e6e7334d3890"));
        assert!(!p.verify_cram_md5("tim", challenge, "b913a602c7eda7a495b4e6e7334d3891"));
        assert!(!p.verify_cram_md5("bcrypted", challenge, "b913a602c7eda7a495b4e6e7334d3890"));
    }

    #[test]
    fn inline_credentials() {
        let p = Passwords::parse_inline(" alice:pw1\tbob:{PLAIN}pw2\n ").expect("valid");
        assert!(p.verify("alice", "pw1") && p.verify("bob", "pw2"));
        assert!(!p.verify("alice", "pw2"));
        assert!(Passwords::parse_inline("   ").is_err(), "no users");
        assert!(Passwords::parse_inline("alice").is_err(), "no password");
    }

    #[test]
    fn bad_files() {
        assert!(Passwords::parse("").is_err());
        assert!(Passwords::parse("nocolon").is_err());
        assert!(Passwords::parse(":pw").is_err());
        assert!(Passwords::parse("u:$apr1$xyz$abc").is_err());
        assert!(Passwords::parse("u:{SHA}!!!").is_err());
    }
}

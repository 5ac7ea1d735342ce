//! Logins of the protocols that read mail (POP3, IMAP): the password check, bounded and off the
//! async workers, and which store a login reads.
//!
//! A login reads one mailbox or the whole catch:
//! - a user the password file restricts (`:mailboxes=NAME,…`) reads that mailbox (made if it does
//!   not exist yet), or the team view of several;
//! - any other user name that names an existing mailbox reads that mailbox;
//! - every other login reads the root view: every message, as Mailpit's POP3 does.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::mailbox::{MailboxError, MailboxName, Mailboxes};
use crate::passwords::Passwords;
use crate::store::Store;

/// What a login reads.
#[derive(Debug, Clone)]
pub struct Account {
    /// The user name as given.
    pub user: String,
    /// The mailbox read, `None` for the root view (or a team view).
    pub mailbox: Option<MailboxName>,
    pub store: Store,
}

/// Why a login failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoginError {
    #[error("invalid user name or password")]
    Refused,
    #[error("{0}")]
    Mailbox(#[from] MailboxError),
}

/// The credentials and mailboxes one protocol's logins are checked against. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Logins {
    passwords: Option<Arc<Passwords>>,
    mailboxes: Mailboxes,
    /// Bounds the password checks running at once (bcrypt is slow on purpose).
    checks: Arc<Semaphore>,
}

impl Logins {
    pub fn new(
        passwords: Option<Arc<Passwords>>,
        mailboxes: Mailboxes,
        checks: Arc<Semaphore>,
    ) -> Logins {
        Logins {
            passwords,
            mailboxes,
            checks,
        }
    }

    /// Checks `user`'s password (on the blocking pool, at most a few at once) and opens what the
    /// user reads.
    pub async fn login(&self, user: &str, password: &str) -> Result<Account, LoginError> {
        if let Some(passwords) = &self.passwords {
            let permit = Arc::clone(&self.checks)
                .acquire_owned()
                .await
                .map_err(|_| LoginError::Refused)?;
            let passwords = Arc::clone(passwords);
            let (u, p) = (user.to_string(), password.to_string());
            let ok = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                passwords.verify(&u, &p)
            })
            .await
            .unwrap_or(false);
            if !ok {
                return Err(LoginError::Refused);
            }
        }
        self.account(user).await
    }

    /// What `user` reads, without a password check (the caller has done it).
    pub async fn account(&self, user: &str) -> Result<Account, LoginError> {
        let scope = self
            .passwords
            .as_ref()
            .and_then(|p| p.mailboxes_of(user))
            .map(<[MailboxName]>::to_vec);
        let (mailbox, store) = match scope.as_deref() {
            Some([one]) => {
                let mailbox = self.mailboxes.get_or_create(one.as_str())?;
                (Some(mailbox.name), mailbox.store)
            }
            Some(many) => {
                let view = match self.mailboxes.view(many) {
                    Some(view) => view,
                    None => {
                        let mailboxes = self.mailboxes.clone();
                        let names = many.to_vec();
                        tokio::task::spawn_blocking(move || mailboxes.view_blocking(&names))
                            .await
                            .map_err(|_| LoginError::Refused)??
                    }
                };
                (None, view.store)
            }
            None => match self.mailboxes.get(user) {
                Some(mailbox) => (Some(mailbox.name), mailbox.store),
                None => (None, self.mailboxes.root().clone()),
            },
        };
        Ok(Account {
            user: user.to_string(),
            mailbox,
            store,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::{MailboxLimits, Rules};

    fn logins(passwords: Option<&str>) -> Logins {
        let root = Store::new(Default::default());
        let mailboxes = Mailboxes::new(root, Rules::by_auth_user(), MailboxLimits::default());
        Logins::new(
            passwords.map(|p| Arc::new(Passwords::parse(p).unwrap())),
            mailboxes,
            Arc::new(Semaphore::new(2)),
        )
    }

    #[tokio::test]
    async fn any_login_reads_the_root_without_a_password_file() {
        let logins = logins(None);
        let account = logins.login("whoever", "x").await.unwrap();
        assert!(account.mailbox.is_none());
        assert!(account.store.same(logins.mailboxes.root()));
    }

    #[tokio::test]
    async fn a_login_named_like_a_mailbox_reads_it() {
        let logins = logins(None);
        let job = logins.mailboxes.get_or_create("job42").unwrap();
        let account = logins.login("job42", "x").await.unwrap();
        assert_eq!(
            account.mailbox.as_ref().map(MailboxName::as_str),
            Some("job42")
        );
        assert!(account.store.same(&job.store));
    }

    #[tokio::test]
    async fn passwords_are_checked_and_scopes_followed() {
        let logins = logins(Some("alice:{PLAIN}pw:mailboxes=@user\nbob:{PLAIN}pw2\n"));
        assert_eq!(
            logins.login("alice", "wrong").await.unwrap_err(),
            LoginError::Refused
        );
        assert_eq!(
            logins.login("nobody", "pw").await.unwrap_err(),
            LoginError::Refused
        );
        // Restricted: her mailbox, made at login so nothing else is ever seen.
        let alice = logins.login("alice", "pw").await.unwrap();
        assert_eq!(
            alice.mailbox.as_ref().map(MailboxName::as_str),
            Some("alice")
        );
        assert!(logins.mailboxes.get("alice").is_some());
        let bob = logins.login("bob", "pw2").await.unwrap();
        assert!(bob.mailbox.is_none());
    }
}

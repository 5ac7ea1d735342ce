//! The link between the root view's store and the mailboxes' stores: each store tells its family
//! what it took in and what it removed, so a message leaves the root view when no mailbox holds it
//! any more, and leaves every mailbox when the root view deletes it.

use std::sync::Arc;

use uuid::Uuid;

use super::Store;
use crate::message::StoredMessage;

/// What a store reports, after the fact and outside its lock.
pub trait Family: Send + Sync + std::fmt::Debug {
    /// `store` (a mailbox) now holds its copy of `message`.
    fn inserted(&self, store: &Store, message: &Arc<StoredMessage>);
    /// `store` removed these messages (deleted or evicted).
    fn removed(&self, store: &Store, ids: &[Uuid]);
    /// The root view's store deleted everything.
    fn cleared(&self, store: &Store);
}

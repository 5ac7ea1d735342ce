//! MailHog's JSON of each message, rendered once and shared by every response that is sending it.
//!
//! MailHog's message JSON carries the whole message twice (body and raw data). Rendered per
//! request, ten slow readers of a list holding a 10 MB mail held ten copies; here they hold one,
//! and it is freed when the last of them is done.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use bytes::Bytes;
use uuid::Uuid;

use super::model::Message;
use crate::message::StoredMessage;

type Cell = OnceLock<serde_json::Result<Vec<u8>>>;

/// Entries kept before the map is swept of renders no response holds any more.
const SWEEP_AT: usize = 1024;

/// The renders some response still holds, by message id.
#[derive(Debug, Default)]
pub struct Renders(Mutex<Map>);

#[derive(Debug, Default)]
struct Map {
    cells: HashMap<Uuid, Weak<Cell>>,
    sweep_at: usize,
}

/// A render lent to a response body.
struct Lent(Arc<Cell>);

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        match self.0.get() {
            Some(Ok(json)) => json,
            _ => &[],
        }
    }
}

impl Renders {
    /// The JSON of `message`, rendered now unless a response still holds a render of it. It parses
    /// the message's MIME structure: call it on the blocking pool.
    pub fn json(&self, message: &StoredMessage) -> serde_json::Result<Bytes> {
        let cell = self.cell(message.id);
        // Concurrent callers for one message wait for the first render instead of making theirs.
        if let Err(e) = cell.get_or_init(|| serde_json::to_vec(&Message::new(message))) {
            return Err(serde_json::Error::io(std::io::Error::other(e.to_string())));
        }
        Ok(Bytes::from_owner(Lent(cell)))
    }

    fn cell(&self, id: Uuid) -> Arc<Cell> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(cell) = map.cells.get(&id).and_then(Weak::upgrade) {
            return cell;
        }
        if map.cells.len() >= map.sweep_at.max(SWEEP_AT) {
            map.cells.retain(|_, cell| cell.strong_count() > 0);
            map.sweep_at = map.cells.len() * 2;
        }
        let cell = Arc::new(Cell::new());
        map.cells.insert(id, Arc::downgrade(&cell));
        cell
    }

    /// Renders some response still holds (for tests).
    #[cfg(test)]
    pub fn live(&self) -> usize {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.cells.values().filter(|c| c.strong_count() > 0).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> StoredMessage {
        let raw = format!("Subject: s\r\n\r\n{body}\r\n");
        StoredMessage::new(crate::message::Envelope::default(), raw.into_bytes())
    }

    #[test]
    fn one_render_is_shared_while_held_and_freed_after() {
        let renders = Renders::default();
        let m = message("hello");
        let a = renders.json(&m).unwrap();
        let b = renders.json(&m).unwrap();
        assert_eq!(
            a.as_ptr(),
            b.as_ptr(),
            "the second response shares the first render"
        );
        assert_eq!(renders.live(), 1);
        let parsed: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert!(
            parsed["Content"]["Body"]
                .as_str()
                .unwrap()
                .contains("hello")
        );
        drop((a, b));
        assert_eq!(renders.live(), 0);
        // Rendered anew once nobody holds it.
        let c = renders.json(&m).unwrap();
        assert_eq!(renders.live(), 1);
        assert!(!c.is_empty());
    }
}

//! What a test wants from a message without parsing its HTML: the links a reader would click and
//! the one-time codes it was sent (EXT: `GET /api/v1/message/{ID}/extract`, also with the wait
//! API's `latest?query=…&wait=…`).

pub mod codes;
pub mod links;

use serde::Serialize;

use crate::message::StoredMessage;

pub use codes::Code;
pub use links::Link;

/// A message's links and likely codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Extracted {
    pub links: Vec<Link>,
    pub codes: Vec<Code>,
}

/// Extracts from a stored message. Parses it: call through [`crate::store::read`].
pub fn extract(message: &StoredMessage) -> Extracted {
    message.parsed(|parsed| {
        let Some(parsed) = parsed else {
            return Extracted::default();
        };
        let html = crate::mime::html(parsed);
        let text = crate::mime::text(parsed);
        let scan = links::scan_html(&html);
        Extracted {
            links: links::links(&scan, &text),
            codes: codes::codes(&message.summary.subject, &text, &scan.alts),
        }
    })
}

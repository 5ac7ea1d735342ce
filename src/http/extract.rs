//! What handlers take from a request, the same way for both APIs: query strings read leniently (a
//! repeated key keeps its first value and a malformed value falls back to the default, so odd
//! client input never turns into a framework error page), paging, and message lookup by id.

use crate::http::error::AppError;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::message::StoredMessage;
use crate::store::Store;

/// The user and password of an `Authorization: Basic …` header value.
/// A JSON request body as `T`; malformed JSON is a 400 that says why.
pub fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(body)
        .map_err(|e| AppError::BadRequest(format!("invalid JSON body: {e}")))
}

/// [`json`] for a body that may be left out: an empty one is the type's default.
pub fn json_or_default<T: Default + serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    json(body)
}

pub fn basic_credentials(header: &[u8]) -> Option<(String, String)> {
    use base64::Engine;
    let b64 = header.strip_prefix(b"Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim_ascii())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Page size when the client names none, in both APIs.
pub const DEFAULT_LIMIT: usize = 50;

/// `start` and `limit`, kept as text so that junk falls back to the default instead of failing,
/// and the search `query` where there is one. EXT: `around` (a message ID) with `before` asks
/// for the page that holds that message `before` rows from its top, wherever it is now.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    pub start: Option<String>,
    pub limit: Option<String>,
    pub query: Option<String>,
    pub around: Option<String>,
    pub before: Option<String>,
}

/// A page request: skip `start` (newest first), return at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub start: usize,
    pub limit: usize,
}

impl PageQuery {
    /// The page asked for: non-numeric, zero or negative values give the defaults (start 0,
    /// limit [`DEFAULT_LIMIT`]); `max` caps the limit (MailHog's 250).
    pub fn paging(&self, max: Option<usize>) -> Paging {
        let number = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<usize>().ok());
        let limit = number(&self.limit)
            .filter(|&n| n > 0)
            .unwrap_or(DEFAULT_LIMIT);
        Paging {
            start: number(&self.start).unwrap_or(0),
            limit: max.map_or(limit, |max| limit.min(max)),
        }
    }

    /// The message the page is to be placed around, and how many rows go above it: `None`
    /// without a valid `around` (then `start` places the page).
    pub fn around(&self) -> Option<(Uuid, usize)> {
        let id = Uuid::parse_str(self.around.as_deref()?.trim()).ok()?;
        let before = self
            .before
            .as_deref()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(0);
        Some((id, before))
    }
}

impl Paging {
    /// This page of `items` (already newest first).
    pub fn of<T: Clone>(&self, items: &[T]) -> Vec<T> {
        items
            .iter()
            .skip(self.start)
            .take(self.limit)
            .cloned()
            .collect()
    }
}

/// The message an `{ID}` path segment names: a UUID, or `latest` for the newest message.
pub fn find(store: &Store, id: &str) -> Option<Arc<StoredMessage>> {
    if id == "latest" {
        return store.latest();
    }
    Uuid::parse_str(id).ok().and_then(|id| store.get(&id))
}

/// [`find`], or the 404 every message route answers.
pub fn found(store: &Store, id: &str) -> Result<Arc<StoredMessage>, AppError> {
    find(store, id).ok_or(AppError::NotFound("message not found"))
}

/// Ids that are not UUIDs name no message, like unknown ones.
pub fn uuids(ids: &[String]) -> Vec<Uuid> {
    ids.iter()
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect()
}

/// Like axum's `Query<T>`, but never rejects.
#[derive(Debug, Default)]
pub struct Lenient<T>(pub T);

impl<S, T> FromRequestParts<S> for Lenient<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Lenient(parse(parts.uri.query().unwrap_or_default())))
    }
}

/// Parses a query string into `T`, keeping the first value of a repeated key.
pub fn parse<T: DeserializeOwned + Default>(query: &str) -> T {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let mut first: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (key, value) in pairs {
        if !first.iter().any(|(k, _)| *k == key) {
            first.push((key, value));
        }
    }
    serde_urlencoded::to_string(&first)
        .ok()
        .and_then(|canonical| serde_urlencoded::from_str(&canonical).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize, PartialEq)]
    struct Page {
        start: Option<String>,
        limit: Option<String>,
    }

    #[test]
    fn paging_defaults_and_caps() {
        let q = |start: &str, limit: &str| PageQuery {
            start: Some(start.into()),
            limit: Some(limit.into()),
            ..PageQuery::default()
        };
        assert_eq!(
            q("5", "10").paging(None),
            Paging {
                start: 5,
                limit: 10
            }
        );
        assert_eq!(
            q("x", "-3").paging(None),
            Paging {
                start: 0,
                limit: DEFAULT_LIMIT
            }
        );
        assert_eq!(q("0", "0").paging(None).limit, DEFAULT_LIMIT);
        assert_eq!(q("0", "9999").paging(Some(250)).limit, 250);
        assert_eq!(
            PageQuery::default().paging(None),
            Paging {
                start: 0,
                limit: 50
            }
        );
        assert_eq!(Paging { start: 1, limit: 2 }.of(&[1, 2, 3, 4]), [2, 3]);
    }

    #[test]
    fn repeated_and_odd_parameters() {
        assert_eq!(
            parse::<Page>("start=1&start=2&limit=x&other=%FF"),
            Page {
                start: Some("1".into()),
                limit: Some("x".into())
            }
        );
        assert_eq!(parse::<Page>(""), Page::default());
        assert_eq!(
            parse::<Page>("&&=&start"),
            Page {
                start: Some(String::new()),
                limit: None
            }
        );
    }
}

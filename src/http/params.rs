//! Query strings read leniently: a repeated key keeps its first value and a malformed value falls
//! back to the default, so odd client input never turns into a framework error page.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

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

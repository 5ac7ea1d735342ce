//! `/view/{ID}.html` and `/view/{ID}.txt`: one body alone. The HTML is captured, untrusted input:
//! it is served under a sandboxing Content-Security-Policy so that, even opened directly, it runs
//! no script in our origin and cannot reach the API.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mail_parser::MimeHeaders;
use serde::Deserialize;

use super::AppState;
use super::error::AppError;
use super::mailpit::part_paths;
use super::params::Lenient;

/// No scripts, no forms, no plugins, no same-origin; images only from us or inline unless asked.
const CSP_LOCAL_IMAGES: &str = "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; \
    img-src 'self' data:; style-src 'unsafe-inline'; font-src data:";
const CSP_REMOTE_IMAGES: &str = "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; \
    img-src 'self' data: http: https:; style-src 'unsafe-inline' http: https:; font-src data: http: https:";

#[derive(Debug, Default, Deserialize)]
pub struct ViewQuery {
    /// `remote=1` lets the HTML load remote images and styles.
    remote: Option<String>,
}

/// GET /view/{file}
pub async fn view(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Lenient(query): Lenient<ViewQuery>,
) -> Result<Response, AppError> {
    let (id, html) = if let Some(id) = file.strip_suffix(".html") {
        (id, true)
    } else if let Some(id) = file.strip_suffix(".txt") {
        (id, false)
    } else {
        return Err(AppError::NotFound("use /view/{ID}.html or /view/{ID}.txt"));
    };
    let message = super::messages::find(&state, id)?;
    if !html {
        let text = crate::parse::with_message(&message.raw, |p| {
            p.map(crate::parse::text).unwrap_or_default()
        });
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
    }
    // The HTML body and, for `cid:` references, each Content-ID's part path.
    let (body, cids) = crate::parse::with_message(&message.raw, |parsed| {
        let parsed = parsed?;
        let body = crate::parse::html(parsed);
        let paths = part_paths(parsed);
        let cids: Vec<(String, String)> = parsed
            .parts
            .iter()
            .zip(&paths)
            .filter_map(|(part, path)| part.content_id().map(|cid| (cid.to_string(), path.clone())))
            .collect();
        (!body.is_empty()).then_some((body, cids))
    })
    .ok_or(AppError::NotFound("message has no HTML body"))?;
    let body = rewrite_cids(&body, |cid| {
        cids.iter()
            .find(|(id, _)| id == cid)
            .map(|(_, path)| format!("../api/v1/message/{}/part/{path}", message.id))
    });
    let remote = query
        .remote
        .as_deref()
        .is_some_and(|v| v == "1" || v == "true");
    let csp = if remote {
        CSP_REMOTE_IMAGES
    } else {
        CSP_LOCAL_IMAGES
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response())
}

/// Replaces each `cid:ID` (case-insensitive scheme) for which `lookup` knows a URL.
pub fn rewrite_cids(html: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest
        .as_bytes()
        .windows(4)
        .position(|w| w.eq_ignore_ascii_case(b"cid:"))
    {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let end = after
            .find(|c: char| c == '"' || c == '\'' || c == ')' || c == '>' || c.is_whitespace())
            .unwrap_or(after.len());
        let cid = &after[..end];
        match lookup(cid.trim_start_matches('<').trim_end_matches('>')) {
            Some(url) => out.push_str(&url),
            None => out.push_str(&rest[at..at + 4 + end]),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_references_are_rewritten() {
        let html = r#"<img src="cid:logo@x"><div style="background:url(CID:bg)"></div><img src='cid:unknown'>"#;
        let out = rewrite_cids(html, |cid| match cid {
            "logo@x" => Some("../p/1".into()),
            "bg" => Some("../p/2".into()),
            _ => None,
        });
        assert_eq!(
            out,
            r#"<img src="../p/1"><div style="background:url(../p/2)"></div><img src='cid:unknown'>"#
        );
        assert_eq!(rewrite_cids("no refs, cid", |_| None), "no refs, cid");
        assert_eq!(
            rewrite_cids("ends with cid:", |_| Some("x".into())),
            "ends with x"
        );
    }
}

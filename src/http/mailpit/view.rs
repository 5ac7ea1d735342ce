//! `/view/{ID}.html` and `/view/{ID}.txt`: one body alone. The HTML is captured, untrusted input:
//! it is served under a sandboxing Content-Security-Policy with no scripts at all, so that, framed
//! by the UI or opened directly, nothing in it runs in our origin. Inline images (`cid:`) are
//! pointed at the part route where the HTML loads them (`src`, `srcset`, `background`, CSS
//! `url()`), never in links; `<base>` is dropped so those relative URLs stay ours.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use lol_html::html_content::ContentType;
use lol_html::{MemorySettings, Settings, element, rewrite_str, text};
use mail_parser::MimeHeaders;
use serde::Deserialize;

use crate::http::AppState;
use crate::http::error::AppError;
use crate::http::extract::{Lenient, found};
use crate::mime::parts::PartTree;

/// The policy of the HTML view. `sandbox` without `allow-scripts` (and `default-src 'none'`)
/// means no script runs, whatever the mail contains; `allow-same-origin` lets the UI that frames
/// it see which link was clicked and open it in a new tab itself (a script-less document gains
/// nothing from the origin). No forms, no popups, no top navigation; only the UI may frame it.
const CSP_LOCAL_IMAGES: &str = "sandbox allow-same-origin; default-src 'none'; \
    img-src 'self' data:; style-src 'unsafe-inline'; font-src data:; frame-ancestors 'self'; \
    base-uri 'none'; form-action 'none'";
const CSP_REMOTE_IMAGES: &str = "sandbox allow-same-origin; default-src 'none'; \
    img-src 'self' data: http: https:; style-src 'unsafe-inline' http: https:; \
    font-src data: http: https:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

#[derive(Debug, Default, Deserialize)]
pub struct ViewQuery {
    /// `remote=1` lets the HTML load remote images and styles.
    remote: Option<String>,
    /// `embed=1` (Mailpit): links get `target="_blank" rel="noreferrer noopener"`.
    embed: Option<String>,
}

fn flag(value: Option<&str>) -> bool {
    value.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
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
    let message = found(&state.store, id)?;
    if !html {
        let text = crate::store::read(message, |m| {
            m.parsed(|p| p.map(crate::mime::text).unwrap_or_default())
        })
        .await;
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
    }
    let embed = flag(query.embed.as_deref());
    let body = crate::store::read(message, move |m| html_view(m, embed))
        .await
        .ok_or(AppError::NotFound("message has no HTML body"))?;
    let csp = if flag(query.remote.as_deref()) {
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

/// The HTML body with `cid:` images pointed at their parts; `None` when there is none.
fn html_view(message: &crate::message::StoredMessage, embed: bool) -> Option<String> {
    // The HTML body and, for `cid:` references, each Content-ID's part path.
    let (body, cids) = message.parsed(|parsed| {
        let parsed = parsed?;
        let body = crate::mime::html(parsed);
        let tree = PartTree::new(parsed);
        let cids: Vec<(String, String)> = parsed
            .parts
            .iter()
            .enumerate()
            .filter_map(|(id, part)| {
                part.content_id()
                    .map(|cid| (cid.to_string(), tree.path(parsed, id)))
            })
            .collect();
        (!body.is_empty()).then_some((body, cids))
    })?;
    Some(rewrite(
        &body,
        |cid| {
            cids.iter()
                .find(|(id, _)| id == cid)
                .map(|(_, path)| format!("../api/v1/message/{}/part/{path}", message.id))
        },
        embed,
    ))
}

/// Largest HTML the rewriter buffers; a bigger (or broken) body is served as it is, which is
/// safe under the view's policy: only its inline images would be missing.
const REWRITE_MEMORY: usize = 64 * 1024 * 1024;

/// Points `cid:` resource references at parts (`lookup` gives the URL for a Content-ID), drops
/// `<base>`, and with `embed` makes links open in a new tab.
pub fn rewrite(html: &str, lookup: impl Fn(&str) -> Option<String>, embed: bool) -> String {
    let lookup = &lookup;
    // A <style> element's text arrives in chunks; it is rewritten whole at its last chunk.
    let style_text = std::cell::RefCell::new(String::new());
    let mut settings = Settings::new()
        .append_element_content_handler(element!("base", |el| {
            el.remove();
            Ok(())
        }))
        .append_element_content_handler(element!("*[src], *[background], *[poster]", |el| {
            for name in ["src", "background", "poster"] {
                if let Some(value) = el.get_attribute(name)
                    && let Some(url) = cid_url(&value, lookup)
                {
                    el.set_attribute(name, &url)?;
                }
            }
            Ok(())
        }))
        .append_element_content_handler(element!("*[srcset]", |el| {
            if let Some(value) = el.get_attribute("srcset") {
                let rewritten = rewrite_srcset(&value, lookup);
                if rewritten != value {
                    el.set_attribute("srcset", &rewritten)?;
                }
            }
            Ok(())
        }))
        .append_element_content_handler(element!("*[style]", |el| {
            if let Some(value) = el.get_attribute("style") {
                let rewritten = rewrite_css(&value, lookup);
                if rewritten != value {
                    el.set_attribute("style", &rewritten)?;
                }
            }
            Ok(())
        }))
        .append_element_content_handler(text!("style", |chunk| {
            let mut buffer = style_text.borrow_mut();
            buffer.push_str(chunk.as_str());
            if chunk.last_in_text_node() {
                let css = rewrite_css(&buffer, lookup);
                // Raw text: what is written here is CSS, not markup to escape.
                chunk.replace(&css, ContentType::Html);
                buffer.clear();
            } else {
                chunk.remove();
            }
            Ok(())
        }))
        .with_memory_settings(MemorySettings::new().with_max_allowed_memory_usage(REWRITE_MEMORY));
    if embed {
        settings = settings.append_element_content_handler(element!("a[href], area[href]", |el| {
            el.set_attribute("target", "_blank")?;
            el.set_attribute("rel", "noreferrer noopener")?;
            Ok(())
        }));
    }
    rewrite_str(html, settings).unwrap_or_else(|e| {
        tracing::debug!("HTML view served unrewritten: {e}");
        html.to_string()
    })
}

/// The part URL for a `cid:` reference, if `value` is one that `lookup` knows.
fn cid_url(value: &str, lookup: &impl Fn(&str) -> Option<String>) -> Option<String> {
    let value = value.trim();
    let scheme = value.get(..4)?;
    if !scheme.eq_ignore_ascii_case("cid:") {
        return None;
    }
    let cid = &value[4..];
    lookup(cid.trim_start_matches('<').trim_end_matches('>'))
}

fn rewrite_srcset(value: &str, lookup: &impl Fn(&str) -> Option<String>) -> String {
    value
        .split(',')
        .map(|candidate| {
            let trimmed = candidate.trim_start();
            let lead = &candidate[..candidate.len() - trimmed.len()];
            let (url, rest) =
                trimmed.split_at(trimmed.find(char::is_whitespace).unwrap_or(trimmed.len()));
            match cid_url(url, lookup) {
                Some(part) => format!("{lead}{part}{rest}"),
                None => candidate.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Rewrites `url(cid:…)` (quoted or not, any case) in CSS text.
fn rewrite_css(css: &str, lookup: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(at) = find_ignore_case(rest, "url(") {
        let open = at + 4;
        out.push_str(&rest[..open]);
        let inner = &rest[open..];
        let leading = inner.len() - inner.trim_start().len();
        let body = &inner[leading..];
        let quote = body.chars().next().filter(|c| *c == '"' || *c == '\'');
        let start = leading + quote.map_or(0, char::len_utf8);
        let value = &inner[start..];
        let end = value
            .find(|c: char| {
                Some(c) == quote || (quote.is_none() && (c == ')' || c.is_whitespace()))
            })
            .unwrap_or(value.len());
        out.push_str(&inner[..start]);
        match cid_url(&value[..end], lookup) {
            Some(url) => out.push_str(&url),
            None => out.push_str(&value[..end]),
        }
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

fn find_ignore_case(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(cid: &str) -> Option<String> {
        match cid {
            "logo@x" => Some("../p/1".into()),
            "bg" => Some("../p/2".into()),
            _ => None,
        }
    }

    #[test]
    fn cids_are_rewritten_where_the_html_loads_them() {
        let html = r#"<img src="cid:logo@x"><div style="background:url(CID:bg)"></div><img src='cid:unknown'>"#;
        assert_eq!(
            rewrite(html, parts, false),
            r#"<img src="../p/1"><div style="background:url(../p/2)"></div><img src='cid:unknown'>"#
        );
        let more = r#"<style>.a{background-image:url( "cid:bg" )}</style><table background="cid:bg"><img srcset="cid:logo@x 1x, cid:bg 2x">"#;
        assert_eq!(
            rewrite(more, parts, false),
            r#"<style>.a{background-image:url( "../p/2" )}</style><table background="../p/2"><img srcset="../p/1 1x, ../p/2 2x">"#
        );
    }

    #[test]
    fn links_keep_their_cid_and_base_is_dropped() {
        let html = r#"<base href="http://evil.example/"><a href="cid:logo@x">open</a>"#;
        assert_eq!(
            rewrite(html, parts, false),
            r#"<a href="cid:logo@x">open</a>"#
        );
    }

    #[test]
    fn embed_makes_links_open_in_a_new_tab() {
        let out = rewrite(
            r#"<a href="https://example.com/reset">reset</a>"#,
            parts,
            true,
        );
        assert_eq!(
            out,
            r#"<a href="https://example.com/reset" target="_blank" rel="noreferrer noopener">reset</a>"#
        );
        assert_eq!(rewrite("no refs, cid", parts, true), "no refs, cid");
    }
}

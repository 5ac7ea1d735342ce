//! The links a reader would click: HTML anchors with the text they show, then the URLs of the text
//! body, each URL once, in order. A tracking-wrapped anchor (its `href` a redirector, its text a
//! URL) keeps the URL it shows as `Visible`, which is what a test usually wants.

use std::cell::RefCell;

use lol_html::html_content::{Element, TextChunk};
use lol_html::{HtmlRewriter, MemorySettings, Settings, element, text};
use serde::Serialize;

use crate::checks::links::text_urls;
use crate::mime::html::decode_entities;

/// Most links reported per message.
pub const MAX_LINKS: usize = 200;
/// Most characters of anchor text kept per link.
pub const MAX_LINK_TEXT: usize = 200;
/// Memory the HTML scan may use; a larger document is scanned as far as that goes.
const SCAN_MEMORY: usize = 4 << 20;

/// One link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Link {
    #[serde(rename = "URL")]
    pub url: String,
    /// What the reader sees: the anchor's text (or its image's `alt`), white space collapsed;
    /// empty for a link found in the text body.
    pub text: String,
    /// The URL the anchor's text shows, when it shows one that differs from `URL` (a tracking
    /// redirector's visible target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible: Option<String>,
    /// `html` or `text`: the body it was found in.
    pub source: &'static str,
}

/// What the HTML scan gives: the anchors, and every image's `alt` (codes hide there too).
#[derive(Debug, Default)]
pub struct HtmlScan {
    pub anchors: Vec<(String, String)>,
    pub alts: Vec<String>,
}

/// Anchors (`href`, shown text) and image `alt` texts of an HTML body, in document order.
pub fn scan_html(html: &str) -> HtmlScan {
    let scan = RefCell::new(HtmlScan::default());
    if html.is_empty() {
        return scan.into_inner();
    }
    // The `a[href]` text selector sees only text inside an anchor, so each chunk belongs to the
    // anchor that started last (anchors do not nest).
    let settings = Settings::new()
        .append_element_content_handler(element!("a[href]", |el: &mut Element<'_, '_>| {
            if let Some(href) = el.get_attribute("href") {
                scan.borrow_mut()
                    .anchors
                    .push((decode_entities(href.trim()).into_owned(), String::new()));
            }
            Ok(())
        }))
        .append_element_content_handler(text!("a[href]", |t: &mut TextChunk<'_>| {
            if let Some((_, shown)) = scan.borrow_mut().anchors.last_mut()
                && shown.len() < MAX_LINK_TEXT * 4
            {
                shown.push_str(t.as_str());
            }
            Ok(())
        }))
        .append_element_content_handler(element!("a[href] img[alt]", |el: &mut Element<'_, '_>| {
            if let (Some(alt), Some((_, shown))) = (
                el.get_attribute("alt"),
                scan.borrow_mut().anchors.last_mut(),
            ) {
                shown.push(' ');
                shown.push_str(&alt);
            }
            Ok(())
        }))
        .append_element_content_handler(element!("img[alt]", |el: &mut Element<'_, '_>| {
            if let Some(alt) = el.get_attribute("alt") {
                let alt = decode_entities(alt.trim()).into_owned();
                if !alt.is_empty() {
                    scan.borrow_mut().alts.push(alt);
                }
            }
            Ok(())
        }))
        .with_memory_settings(MemorySettings::new().with_max_allowed_memory_usage(SCAN_MEMORY));
    {
        let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
        // Past the memory bound, what was found so far stands.
        if rewriter.write(html.as_bytes()).is_ok() {
            let _ = rewriter.end();
        }
    }
    scan.into_inner()
}

/// White space collapsed, entities decoded, cut at [`MAX_LINK_TEXT`] characters.
fn shown_text(raw: &str) -> String {
    let decoded = decode_entities(raw);
    let mut out = String::new();
    for word in decoded.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    match out.char_indices().nth(MAX_LINK_TEXT) {
        Some((cut, _)) => out[..cut].to_string(),
        None => out,
    }
}

fn is_followable(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The links of a message from its HTML anchors (`http(s)` ones), then its text body.
pub fn links(scan: &HtmlScan, text: &str) -> Vec<Link> {
    let mut out: Vec<Link> = Vec::new();
    let seen = |out: &Vec<Link>, url: &str| out.iter().any(|l| l.url == url);
    for (href, shown) in &scan.anchors {
        if out.len() >= MAX_LINKS {
            return out;
        }
        if !is_followable(href) || seen(&out, href) {
            continue;
        }
        let text = shown_text(shown);
        let visible = text_urls(&text, 1).into_iter().next().filter(|v| v != href);
        out.push(Link {
            url: href.clone(),
            text,
            visible,
            source: "html",
        });
    }
    for url in text_urls(text, MAX_LINKS) {
        if out.len() >= MAX_LINKS {
            break;
        }
        // A URL the HTML showed (as a link or as a tracked link's visible text) is not new.
        if seen(&out, &url) || out.iter().any(|l| l.visible.as_deref() == Some(&url)) {
            continue;
        }
        out.push(Link {
            url,
            text: String::new(),
            visible: None,
            source: "text",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_keep_their_text_and_a_tracked_link_its_visible_url() {
        let html = r#"<p>Hi</p><a href="https://app.test/confirm?t=1&amp;u=2">Confirm   your
            <b>account</b></a> <a href="mailto:x@test">mail</a>
            <a href="https://track.test/c/XYZ">https://app.test/reset?k=9</a>
            <a href="https://app.test/confirm?t=1&u=2">again</a>
            <a href="https://app.test/logo"><img src="l.png" alt="Our logo"></a>
            <img alt="Your code is 482913">"#;
        let scan = scan_html(html);
        assert_eq!(scan.alts, ["Our logo", "Your code is 482913"]);
        let text = "Confirm: https://app.test/confirm?t=1&u=2\nOr https://app.test/reset?k=9 and https://other.test/x.";
        let found = links(&scan, text);
        let urls: Vec<&str> = found.iter().map(|l| l.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://app.test/confirm?t=1&u=2",
                "https://track.test/c/XYZ",
                "https://app.test/logo",
                "https://other.test/x"
            ]
        );
        assert_eq!(found[0].text, "Confirm your account");
        assert_eq!(found[0].visible, None);
        assert_eq!(
            found[1].visible.as_deref(),
            Some("https://app.test/reset?k=9")
        );
        assert_eq!(found[2].text, "Our logo");
        assert_eq!(found[3].source, "text");
    }

    #[test]
    fn links_are_bounded() {
        let html: String = (0..300)
            .map(|i| format!(r#"<a href="https://h.test/{i}">{}</a>"#, "x".repeat(500)))
            .collect();
        let found = links(&scan_html(&html), "");
        assert_eq!(found.len(), MAX_LINKS);
        assert!(
            found
                .iter()
                .all(|l| l.text.chars().count() <= MAX_LINK_TEXT)
        );
    }
}

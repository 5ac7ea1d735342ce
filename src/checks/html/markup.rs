//! The markup walked for caniemail's HTML and image features: elements, attributes, links, image
//! formats, comments and the doctype; `style` attributes and `<style>` elements go to [`css`].
//! lol_html tokenizes as browsers do and streams: only one `<style>` element's text is held at a
//! time, and the walk stops at the element bound or the deadline.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use lol_html::html_content::Element;
use lol_html::{
    HtmlRewriter, MemorySettings, Settings, doc_comments, doctype, element, errors::RewritingError,
    text,
};

use super::{Budget, CheckError, Found, Limits, SCRIPT, Tally, css, image_formats};

/// What lol_html may buffer (a tag or text split across its input); the HTML itself is bounded
/// by [`Limits::max_bytes`] before the walk starts.
const PARSER_MEMORY: usize = 32 * 1024 * 1024;

/// Elements with a feature of their own.
const ELEMENTS: &[(&str, &str)] = &[
    ("abbr", "html-abbr"),
    ("acronym", "html-acronym"),
    ("address", "html-address"),
    ("audio", "html-audio"),
    ("base", "html-base"),
    ("bdi", "html-bdi"),
    ("blockquote", "html-blockquote"),
    ("body", "html-body"),
    ("code", "html-code"),
    ("del", "html-del"),
    ("dfn", "html-dfn"),
    ("dialog", "html-dialog"),
    ("div", "html-div"),
    ("form", "html-form"),
    ("h1", "html-h1-h6"),
    ("h2", "html-h1-h6"),
    ("h3", "html-h1-h6"),
    ("h4", "html-h1-h6"),
    ("h5", "html-h1-h6"),
    ("h6", "html-h1-h6"),
    ("hr", "html-hr"),
    ("img", "html-img"),
    ("link", "html-link"),
    ("ul", "html-lists"),
    ("ol", "html-lists"),
    ("dl", "html-lists"),
    ("map", "html-image-maps"),
    ("marquee", "html-marquee"),
    ("meter", "html-meter"),
    ("object", "html-object"),
    ("embed", "html-object"),
    ("p", "html-p"),
    ("picture", "html-picture"),
    ("pre", "html-pre"),
    ("progress", "html-progress"),
    ("rp", "html-rp"),
    ("rt", "html-rt"),
    ("ruby", "html-ruby"),
    ("select", "html-select"),
    ("article", "html-semantics"),
    ("aside", "html-semantics"),
    ("details", "html-semantics"),
    ("figcaption", "html-semantics"),
    ("figure", "html-semantics"),
    ("footer", "html-semantics"),
    ("header", "html-semantics"),
    ("main", "html-semantics"),
    ("mark", "html-semantics"),
    ("nav", "html-semantics"),
    ("section", "html-semantics"),
    ("summary", "html-semantics"),
    ("time", "html-semantics"),
    ("small", "html-small"),
    ("span", "html-span"),
    ("strike", "html-strike"),
    ("strong", "html-strong"),
    ("style", "html-style"),
    ("svg", "html-svg"),
    ("table", "html-table"),
    ("textarea", "html-textarea"),
    ("video", "html-video"),
    ("wbr", "html-wbr"),
];

/// Attributes with a feature of their own, on any element.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("align", "html-align"),
    ("valign", "html-valign"),
    ("width", "html-width"),
    ("height", "html-height"),
    ("background", "html-background"),
    ("cellpadding", "html-cellpadding"),
    ("cellspacing", "html-cellspacing"),
    ("dir", "html-dir"),
    ("lang", "html-lang"),
    ("hidden", "html-hidden"),
    ("inert", "css-inert-attribute"),
    ("popover", "html-popover"),
    ("loading", "html-loading-attribute"),
    ("role", "html-role"),
    ("required", "html-required"),
    ("srcset", "html-srcset"),
    ("sizes", "html-srcset"),
    ("aria-describedby", "html-aria-describedby"),
    ("aria-hidden", "html-aria-hidden"),
    ("aria-label", "html-aria-label"),
    ("aria-labelledby", "html-aria-labelledby"),
    ("aria-live", "html-aria-live"),
];

/// `<input type=…>` values with a feature of their own; no type is `text`.
const INPUT_TYPES: &[(&str, &str)] = &[
    ("checkbox", "html-input-checkbox"),
    ("hidden", "html-input-hidden"),
    ("radio", "html-input-radio"),
    ("reset", "html-input-reset"),
    ("submit", "html-input-submit"),
    ("text", "html-input-text"),
];

const AMP: &str = "amp";
const DOCTYPE: &str = "html-doctype";
const COMMENTS: &str = "html-comments";
const ANCHOR_LINKS: &str = "html-anchor-links";
const MAILTO_LINKS: &str = "html-mailto-links";
const TARGET: &str = "html-target";
const IMAGE_MAPS: &str = "html-image-maps";
const META_COLOR_SCHEME: &str = "html-meta-color-scheme";
const BUTTON_RESET: &str = "html-button-reset";
const BUTTON_SUBMIT: &str = "html-button-submit";

/// Elements not counted as nodes: the document's frame, not its content (as Mailpit counts).
const NOT_NODES: &[&str] = &["html", "head", "meta"];

/// Script types that only carry data, which clients keep (schema.org markup for Gmail).
const DATA_SCRIPTS: &[&str] = &["application/ld+json", "application/json"];

/// Every feature this module can report, for the report's test count.
pub(super) fn slugs() -> impl Iterator<Item = &'static str> {
    [ELEMENTS, ATTRIBUTES, INPUT_TYPES]
        .into_iter()
        .flatten()
        .map(|(_, slug)| *slug)
        .chain([
            AMP,
            DOCTYPE,
            COMMENTS,
            ANCHOR_LINKS,
            MAILTO_LINKS,
            TARGET,
            IMAGE_MAPS,
            META_COLOR_SCHEME,
            BUTTON_RESET,
            BUTTON_SUBMIT,
            SCRIPT,
        ])
}

static ELEMENT_INDEX: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| ELEMENTS.iter().copied().collect());
static ATTRIBUTE_INDEX: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| ATTRIBUTES.iter().copied().collect());

/// What the walk found.
pub(super) struct Scan {
    pub tally: Tally,
    /// Elements of the content (all but [`NOT_NODES`]).
    pub nodes: usize,
}

/// The walk's state, shared by lol_html's handlers.
struct Walk<'b> {
    scan: Scan,
    elements: usize,
    budget: &'b Budget,
    /// A `<style>` element's text so far (it arrives in chunks).
    style: String,
    /// Why the walk stopped early.
    stopped: Option<CheckError>,
}

/// Walks `html` (already within `limits.max_bytes`).
pub(super) fn scan(html: &str, limits: &Limits, budget: &Budget) -> Result<Scan, CheckError> {
    let walk = RefCell::new(Walk {
        scan: Scan {
            tally: Tally::default(),
            nodes: 0,
        },
        elements: 0,
        budget,
        style: String::new(),
        stopped: None,
    });
    let settings = Settings::new()
        .append_element_content_handler(element!("*", |el| {
            let mut walk = walk.borrow_mut();
            walk.elements += 1;
            if walk.elements > limits.max_elements {
                walk.stopped = Some(CheckError::TooManyElements(limits.max_elements));
            } else {
                budget.tick();
                if budget.expired() {
                    walk.stopped = Some(CheckError::TimedOut(limits.time));
                }
            }
            if walk.stopped.is_some() {
                return Err("stopped".into());
            }
            walk.element(el);
            Ok(())
        }))
        .append_element_content_handler(text!("style", |chunk| {
            let mut walk = walk.borrow_mut();
            walk.style.push_str(chunk.as_str());
            if chunk.last_in_text_node() {
                let css = std::mem::take(&mut walk.style);
                css::stylesheet(&css, &mut walk.scan.tally, budget);
                if budget.expired() {
                    walk.stopped = Some(CheckError::TimedOut(limits.time));
                    return Err("stopped".into());
                }
            }
            Ok(())
        }))
        .append_document_content_handler(doctype!(|doctype| {
            // The HTML5 doctype is `<!DOCTYPE html>`: no public identifier.
            if doctype.name().as_deref() == Some("html") && doctype.public_id().is_none() {
                walk.borrow_mut().scan.tally.add(DOCTYPE);
            }
            Ok(())
        }))
        .append_document_content_handler(doc_comments!(|_| {
            walk.borrow_mut().scan.tally.add(COMMENTS);
            Ok(())
        }))
        .with_strict(false)
        .with_memory_settings(MemorySettings::new().with_max_allowed_memory_usage(PARSER_MEMORY));
    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    let result = rewriter
        .write(html.as_bytes())
        .and_then(|()| rewriter.end());
    let walk = walk.into_inner();
    if let Some(stopped) = walk.stopped {
        return Err(stopped);
    }
    match result {
        Ok(()) => Ok(walk.scan),
        Err(RewritingError::MemoryLimitExceeded(_)) => Err(CheckError::Unreadable(
            "a tag or text in it is larger than the parser may buffer",
        )),
        Err(e) => {
            tracing::debug!("html-check: the HTML walk failed: {e}");
            Err(CheckError::Unreadable("the HTML parser gave up on it"))
        }
    }
}

impl Walk<'_> {
    /// One element: its own feature, its attributes', its style's; each once for the element.
    fn element(&mut self, el: &Element<'_, '_>) {
        let tag = el.tag_name();
        if !NOT_NODES.contains(&tag.as_str()) {
            self.scan.nodes += 1;
        }
        let mut found = Found::default();
        if let Some(slug) = ELEMENT_INDEX.get(tag.as_str()) {
            found.insert(slug);
        }
        for attribute in el.attributes() {
            let name = attribute.name();
            if let Some(slug) = ATTRIBUTE_INDEX.get(name.as_str()) {
                found.insert(slug);
            }
            if name == "style" {
                css::declarations(
                    &attribute.value(),
                    &mut found,
                    &mut self.scan.tally,
                    self.budget,
                );
            } else if name == "srcset" {
                for candidate in attribute.value().split(',') {
                    let url = candidate.split_whitespace().next().unwrap_or_default();
                    image_formats(url, &mut found);
                }
            }
        }
        let attr = |name: &str| el.get_attribute(name);
        let lower = |name: &str| attr(name).map(|v| v.trim().to_ascii_lowercase());
        match tag.as_str() {
            "html" if el.has_attribute("⚡4email") || el.has_attribute("amp4email") => {
                found.insert(AMP);
            }
            "img" => {
                if let Some(src) = attr("src") {
                    image_formats(&src, &mut found);
                }
                if el.has_attribute("usemap") {
                    found.insert(IMAGE_MAPS);
                }
            }
            "a" => {
                if let Some(href) = lower("href") {
                    if href.starts_with('#') {
                        found.insert(ANCHOR_LINKS);
                    } else if href.starts_with("mailto:") {
                        found.insert(MAILTO_LINKS);
                    }
                }
                if el.has_attribute("target") {
                    found.insert(TARGET);
                }
            }
            "input" => {
                let kind = lower("type").unwrap_or_else(|| "text".into());
                if let Some((_, slug)) = INPUT_TYPES.iter().find(|(t, _)| *t == kind) {
                    found.insert(slug);
                }
            }
            "button" => match lower("type").as_deref() {
                Some("reset") => found.insert(BUTTON_RESET),
                // A button's default type is submit.
                None | Some("submit") => found.insert(BUTTON_SUBMIT),
                Some(_) => {}
            },
            "meta" => {
                if matches!(
                    lower("name").as_deref(),
                    Some("color-scheme" | "supported-color-schemes")
                ) {
                    found.insert(META_COLOR_SCHEME);
                }
            }
            "script" => {
                let data = lower("type").is_some_and(|t| DATA_SCRIPTS.contains(&t.as_str()));
                if !data {
                    found.insert(SCRIPT);
                }
            }
            _ => {}
        }
        if let Some(background) = attr("background") {
            image_formats(&background, &mut found);
        }
        self.scan.tally.add_each(&found);
    }
}

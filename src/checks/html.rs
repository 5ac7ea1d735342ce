//! The HTML check (Mailpit's `/api/v1/message/{ID}/html-check`): which HTML and CSS features a
//! message's HTML uses, and how well email clients support each, from caniemail.com's data.
//!
//! - [`caniemail`]: the bundled data set, prepared once.
//! - `markup`: the HTML walked (lol_html) for elements, attributes, links, images, comments.
//! - `css`: style attributes and `<style>` elements scanned (cssparser) for properties, values,
//!   at-rules and selectors.
//!
//! A feature's `Found` counts the places that use it: elements (with their `style` attribute),
//! style rules, at-rules and comments, each place once per feature. Nothing is fetched: linked
//! style sheets are reported as `<link>`, never downloaded. Scores are computed as Mailpit does;
//! see [`check`].

pub mod caniemail;
mod css;
mod markup;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use serde::Serialize;

use caniemail::{Feature, SCRIPT};

/// Largest HTML body checked: 40 times the 102 KB at which Gmail clips a message. Bigger bodies
/// are refused, not cut: a check of part of the HTML would claim what it did not see.
pub const MAX_HTML_BYTES: usize = 4 * 1024 * 1024;
/// Most elements visited (a 100 KB newsletter has about 2 000).
pub const MAX_ELEMENTS: usize = 200_000;
/// Longest one check may run before it stops and says so.
pub const MAX_CHECK_TIME: Duration = Duration::from_secs(5);

/// The bounds of one check.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_elements: usize,
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: MAX_HTML_BYTES,
            max_elements: MAX_ELEMENTS,
            time: MAX_CHECK_TIME,
        }
    }
}

/// Why a check gave no report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("the HTML body is {size} bytes, more than the {limit} bytes the HTML check reads")]
    TooLarge { size: usize, limit: usize },
    #[error("the HTML has more than {0} elements, more than the HTML check visits")]
    TooManyElements(usize),
    #[error("the HTML check took longer than {} s", .0.as_secs_f64())]
    TimedOut(Duration),
    #[error("the HTML could not be read: {0}")]
    Unreadable(&'static str),
    #[error("the caniemail data bundled with mailsnare could not be read: {0}")]
    Data(&'static str),
}

/// Mailpit's `HTMLCheckResponse`.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Every feature found, the least supported (weighted by use) first.
    #[serde(rename = "Warnings")]
    pub warnings: Vec<Warning>,
    /// Platform to the client families tested on it (for a UI's filters).
    #[serde(rename = "Platforms")]
    pub platforms: &'static BTreeMap<String, Vec<String>>,
    #[serde(rename = "Total")]
    pub total: Total,
}

/// One feature the HTML uses: caniemail's data for it and how often it is used.
#[derive(Debug, Serialize)]
pub struct Warning {
    #[serde(flatten)]
    pub feature: &'static Feature,
    #[serde(rename = "Score")]
    pub score: Score,
}

/// A feature's use and its clients' support, in percent of the clients tested.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Score {
    pub found: usize,
    pub supported: f32,
    pub partial: f32,
    pub unsupported: f32,
}

/// The overall result.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Total {
    /// How many features the check looks for.
    pub tests: usize,
    /// Elements of the content (all but `html`, `head` and `meta`).
    pub nodes: usize,
    pub supported: f32,
    pub partial: f32,
    pub unsupported: f32,
}

/// Checks `html` within the default [`Limits`].
///
/// Scoring is Mailpit's: a feature's share of partial (or no) support is weighted by the share
/// of nodes that use it (`Found / Nodes`), the worst weighted feature sets the total's partial
/// (and unsupported) percentage, and supported is what is left of 100. Unlike Mailpit, the
/// weight is capped at 1 and the total kept within 0–100: a feature can be used in more places
/// than there are elements (rules in a style sheet), which would otherwise push "supported"
/// below zero.
pub fn check(html: &str) -> Result<Report, CheckError> {
    check_within(html, &Limits::default())
}

/// Checks `html` within `limits`. Runs on the calling thread: callers on an async runtime run
/// it on the blocking pool.
pub fn check_within(html: &str, limits: &Limits) -> Result<Report, CheckError> {
    if html.len() > limits.max_bytes {
        return Err(CheckError::TooLarge {
            size: html.len(),
            limit: limits.max_bytes,
        });
    }
    let data = caniemail::get().map_err(CheckError::Data)?;
    let budget = Budget::new(limits.time);
    let scan = markup::scan(html, limits, &budget)?;
    let nodes = scan.nodes;
    let mut warnings: Vec<Warning> = scan
        .tally
        .counts
        .into_iter()
        .filter_map(|(slug, found)| {
            let feature = data.feature(slug)?;
            Some(Warning {
                feature,
                score: Score {
                    found,
                    supported: feature.share.supported,
                    partial: feature.share.partial,
                    unsupported: feature.share.unsupported,
                },
            })
        })
        .collect();
    // Nodes is at least 1 so that weights stay finite on HTML with no elements.
    let weight = |score: &Score| score.found.min(nodes.max(1)) as f32 / nodes.max(1) as f32;
    let badness = |w: &Warning| (w.score.unsupported + w.score.partial) * weight(&w.score);
    warnings.sort_by(|a, b| {
        badness(b)
            .total_cmp(&badness(a))
            .then_with(|| a.feature.slug.cmp(&b.feature.slug))
    });
    let (mut partial, mut unsupported) = (0.0f32, 0.0f32);
    for w in &warnings {
        partial = partial.max(w.score.partial * weight(&w.score));
        unsupported = unsupported.max(w.score.unsupported * weight(&w.score));
    }
    let unsupported = unsupported.min(100.0);
    let partial = partial.min(100.0 - unsupported);
    Ok(Report {
        warnings,
        platforms: &data.platforms,
        total: Total {
            tests: tests(),
            nodes,
            supported: 100.0 - partial - unsupported,
            partial,
            unsupported,
        },
    })
}

/// How many caniemail features (and Mailpit's script warning) the check looks for.
pub fn tests() -> usize {
    static TESTS: LazyLock<usize> = LazyLock::new(|| {
        markup::slugs()
            .chain(css::slugs())
            .collect::<BTreeSet<_>>()
            .len()
    });
    *TESTS
}

/// Every feature slug the check can report.
pub fn slugs() -> BTreeSet<&'static str> {
    markup::slugs().chain(css::slugs()).collect()
}

/// Features found, by slug, with the number of places using each.
#[derive(Debug, Default)]
struct Tally {
    counts: HashMap<&'static str, usize>,
}

impl Tally {
    fn add(&mut self, slug: &'static str) {
        *self.counts.entry(slug).or_default() += 1;
    }

    /// One more place using each feature of `found`.
    fn add_each(&mut self, found: &Found) {
        for slug in &found.0 {
            self.add(slug);
        }
    }
}

/// The features one place (an element, a rule) uses, each once.
#[derive(Debug, Default)]
struct Found(Vec<&'static str>);

impl Found {
    fn insert(&mut self, slug: &'static str) {
        if !self.0.contains(&slug) {
            self.0.push(slug);
        }
    }

    fn extend(&mut self, other: &Found) {
        for slug in &other.0 {
            self.insert(slug);
        }
    }
}

/// The check's deadline, looked at every [`Budget::EVERY`] steps (an element, a rule, a
/// declaration) so that reading the clock costs nothing measurable.
#[derive(Debug)]
struct Budget {
    deadline: Instant,
    steps: Cell<u32>,
    expired: Cell<bool>,
}

impl Budget {
    const EVERY: u32 = 256;

    fn new(time: Duration) -> Self {
        Budget {
            deadline: Instant::now() + time,
            steps: Cell::new(0),
            expired: Cell::new(time.is_zero()),
        }
    }

    fn tick(&self) {
        let steps = self.steps.get().wrapping_add(1);
        self.steps.set(steps);
        if steps.is_multiple_of(Self::EVERY) && Instant::now() >= self.deadline {
            self.expired.set(true);
        }
    }

    fn expired(&self) -> bool {
        self.expired.get()
    }
}

/// Image formats caniemail lists, by file extension.
const IMAGE_EXTENSIONS: &[(&str, &str)] = &[
    ("apng", "image-apng"),
    ("avif", "image-avif"),
    ("bmp", "image-bmp"),
    ("gif", "image-gif"),
    ("hdr", "image-hdr"),
    ("heif", "image-heif"),
    ("heic", "image-heif"),
    ("ico", "image-ico"),
    ("jpg", "image-jpg"),
    ("jpeg", "image-jpg"),
    ("mp4", "image-mp4"),
    ("png", "image-png"),
    ("svg", "image-svg"),
    ("tif", "image-tiff"),
    ("tiff", "image-tiff"),
    ("webp", "image-webp"),
];
/// Image formats by the subtype of a `data:image/…` URL.
const IMAGE_SUBTYPES: &[(&str, &str)] = &[
    ("apng", "image-apng"),
    ("avif", "image-avif"),
    ("bmp", "image-bmp"),
    ("gif", "image-gif"),
    ("heif", "image-heif"),
    ("heic", "image-heif"),
    ("x-icon", "image-ico"),
    ("vnd.microsoft.icon", "image-ico"),
    ("jpeg", "image-jpg"),
    ("jpg", "image-jpg"),
    ("png", "image-png"),
    ("svg+xml", "image-svg"),
    ("tiff", "image-tiff"),
    ("webp", "image-webp"),
];
const IMAGE_BASE64: &str = "image-base64";

/// The image formats an image URL shows: a `data:image/…` URL is a Base64 image of its subtype;
/// any other by the extension of its path (query and fragment ignored).
fn image_formats(url: &str, found: &mut Found) {
    let url = url.trim();
    let lookup = |table: &[(&str, &'static str)], key: &str| {
        table
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, slug)| *slug)
    };
    if let Some(data) = url
        .get(..11)
        .filter(|head| head.eq_ignore_ascii_case("data:image/"))
        .map(|_| &url[11..])
    {
        found.insert(IMAGE_BASE64);
        let subtype = data.split([';', ',']).next().unwrap_or_default();
        if let Some(slug) = lookup(IMAGE_SUBTYPES, subtype) {
            found.insert(slug);
        }
        return;
    }
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let file = path.rsplit('/').next().unwrap_or_default();
    if let Some((_, extension)) = file.rsplit_once('.')
        && let Some(slug) = lookup(IMAGE_EXTENSIONS, extension)
    {
        found.insert(slug);
    }
}

/// Every slug of the tables above, for the test that they all name caniemail features.
#[cfg(test)]
fn image_slugs() -> impl Iterator<Item = &'static str> {
    IMAGE_EXTENSIONS
        .iter()
        .chain(IMAGE_SUBTYPES)
        .map(|(_, slug)| *slug)
        .chain([IMAGE_BASE64])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slugs_of(html: &str) -> BTreeMap<&'static str, usize> {
        check(html)
            .expect("checked")
            .warnings
            .iter()
            .map(|w| {
                let feature: &'static Feature = w.feature;
                (feature.slug.as_str(), w.score.found)
            })
            .collect()
    }

    #[test]
    fn every_slug_the_check_reports_is_a_caniemail_feature() {
        let data = caniemail::get().expect("data");
        for slug in slugs().into_iter().chain(image_slugs()) {
            assert!(
                data.feature(slug).is_some(),
                "{slug} is not in caniemail.json"
            );
        }
        assert_eq!(tests(), slugs().len());
        assert!(tests() > 250, "{}", tests());
    }

    #[test]
    fn inline_styles_are_read_as_declarations() {
        let found = slugs_of(
            r#"<h1 style="DISPLAY : flex ; transform:rotate(2deg); color: rgb(1,2,3) !important">x</h1>
               <p style="display: flexing; text-transform: uppercase; margin-inline-end: 1rem">y</p>
               <p style="ignore-transform: x; --brand: red; color: var(--brand)">z</p>"#,
        );
        for slug in [
            "css-display",
            "css-display-flex",
            "css-transform",
            "css-rgb",
            "css-important",
            "css-text-transform",
            "css-margin-inline-start-end",
            "css-unit-rem",
            "css-variables",
        ] {
            assert!(found.contains_key(slug), "{slug} in {found:?}");
        }
        assert_eq!(found["css-display"], 2, "one per element");
        assert_eq!(found["css-display-flex"], 1, "flexing is not flex");
        assert_eq!(
            found["css-transform"], 1,
            "ignore-transform is not transform"
        );
    }

    #[test]
    fn style_sheets_are_read_as_rules() {
        let found = slugs_of(
            "<style>/* c */ @media screen and (prefers-color-scheme: dark) { .a.b > td:hover { color: red } }\
             @font-face { font-family: X; src: url(x.woff2) }\
             @import url(https://example.com/x.css);\
             a:not(.x)::before, p ~ span + i { content: ''; width: calc(1px + 2%) }\
             .card { color: red; &:hover { color: blue } }</style><p>x</p>",
        );
        for slug in [
            "css-comments",
            "css-at-media",
            "css-at-media-prefers-color-scheme",
            "css-selector-chaining",
            "css-selector-class",
            "css-selector-child",
            "css-pseudo-class-hover",
            "css-at-font-face",
            "css-at-import",
            "css-pseudo-class-not",
            "css-pseudo-element-before",
            "css-selector-grouping",
            "css-selector-general-sibling",
            "css-selector-adjacent-sibling",
            "css-selector-type",
            "css-unit-calc",
            "css-unit-percent",
            "css-nesting",
            "html-style",
        ] {
            assert!(found.contains_key(slug), "{slug} in {found:?}");
        }
        assert!(
            !found.contains_key("css-font-weight"),
            "descriptors are not properties"
        );
        assert!(!found.contains_key("css-selector-descendant"), "{found:?}");
    }

    #[test]
    fn conditional_rules_keyframes_and_amp() {
        let found = slugs_of(
            "<html ⚡4email><style>@supports (display: grid) { .g { display: grid } }\
             @-webkit-keyframes spin { from { transform: rotate(0deg) } 50% { opacity: .5 } }\
             @media (-webkit-min-device-pixel-ratio: 2), (any-hover: none) { #x { color: red } }</style>",
        );
        for slug in [
            "amp",
            "css-at-supports",
            "css-display-grid",
            "css-at-keyframes",
            "css-transform",
            "css-opacity",
            "css-at-media-device-pixel-ratio",
            "css-at-media-hover",
            "css-selector-id",
        ] {
            assert!(found.contains_key(slug), "{slug} in {found:?}");
        }
        // Keyframe selectors (`from`, `50%`) are not type selectors.
        assert_eq!(found["css-selector-class"], 1, "{found:?}");
        assert!(!found.contains_key("css-selector-type"), "{found:?}");
    }

    #[test]
    fn images_are_known_by_extension_and_data_type() {
        let mut found = Found::default();
        for url in [
            "https://example.com/a.WEBP?x=1",
            "b.gif#frag",
            "data:image/png;base64,iVBOR",
            "https://example.com/dir.svg/file",
        ] {
            image_formats(url, &mut found);
        }
        assert_eq!(
            found.0,
            ["image-webp", "image-gif", "image-base64", "image-png"]
        );
    }

    #[test]
    fn scores_follow_mailpits_weighting() {
        let report = check("<p><script>x()</script></p>").expect("checked");
        assert_eq!(report.total.nodes, 2);
        let script = &report.warnings[0];
        assert_eq!(script.feature.slug, SCRIPT);
        assert_eq!(script.score.unsupported, 100.0);
        // One node of two uses a script: half the message is unsupported.
        assert_eq!(report.total.unsupported, 50.0);
        let sum = report.total.supported + report.total.partial + report.total.unsupported;
        assert!((sum - 100.0).abs() < 0.001);
    }

    #[test]
    fn empty_html_and_bounds() {
        let report = check("").expect("checked");
        assert!(report.warnings.is_empty());
        assert_eq!(report.total.supported, 100.0);
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            check_within("<p>eleven chars</p>", &small),
            Err(CheckError::TooLarge { .. })
        ));
        let few = Limits {
            max_elements: 3,
            ..Limits::default()
        };
        assert_eq!(
            check_within("<p><p><p><p>", &few).map(|_| ()),
            Err(CheckError::TooManyElements(3))
        );
        let none = Limits {
            time: Duration::ZERO,
            ..Limits::default()
        };
        assert!(matches!(
            check_within("<p>x</p>", &none),
            Err(CheckError::TimedOut(_))
        ));
    }

    #[test]
    fn deeply_nested_css_is_bounded() {
        let depth = 100_000;
        let css = format!("{}{}", "a{".repeat(depth), "}".repeat(depth));
        check(&format!("<style>{css}</style>")).expect("checked");
        let value = format!("width:{}1px{}", "calc(".repeat(depth), ")".repeat(depth));
        check(&format!("<p style=\"{value}\">x</p>")).expect("checked");
        let selector = format!("{}a{} {{}}", ":not(".repeat(depth), ")".repeat(depth));
        check(&format!("<style>{selector}</style>")).expect("checked");
    }
}

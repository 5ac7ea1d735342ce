//! The HTML check on hand-written newsletters (`tests/fixtures/html-check/`), each expectation
//! looked up by hand in the bundled caniemail data: which features are found (and how often),
//! which are not, and what given clients' support is. Then the JSON shape, and property tests
//! that arbitrary HTML and CSS never panic and always give sane scores.

use std::collections::BTreeSet;
use std::path::Path;

use mailsnare::checks::html::{CheckError, Limits, check, check_within};
use proptest::prelude::*;
use serde_json::Value;

/// The report for a fixture, as the JSON the route sends.
fn report(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/html-check")
        .join(format!("{name}.html"));
    let html = std::fs::read_to_string(&path).expect("fixture");
    let report = check(&html).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::to_value(&report).expect("serializes")
}

fn warning<'a>(report: &'a Value, slug: &str) -> Option<&'a Value> {
    report["Warnings"]
        .as_array()
        .expect("Warnings")
        .iter()
        .find(|w| w["Slug"] == slug)
}

/// How many places use `slug` (0 when it is not reported).
fn found(report: &Value, slug: &str) -> u64 {
    warning(report, slug).map_or(0, |w| w["Score"]["Found"].as_u64().expect("Found"))
}

/// One client version's result for `slug`: (Support, NoteNumber).
fn result(
    report: &Value,
    slug: &str,
    family: &str,
    platform: &str,
    version: &str,
) -> (String, String) {
    let warning = warning(report, slug).unwrap_or_else(|| panic!("{slug} not reported"));
    let result = warning["Results"]
        .as_array()
        .expect("Results")
        .iter()
        .find(|r| r["Family"] == family && r["Platform"] == platform && r["Version"] == version)
        .unwrap_or_else(|| panic!("{slug}: no result for {family} {platform} {version}"));
    (
        result["Support"].as_str().expect("Support").to_string(),
        result["NoteNumber"]
            .as_str()
            .expect("NoteNumber")
            .to_string(),
    )
}

fn expect_found(report: &Value, expected: &[(&str, u64)]) {
    for (slug, count) in expected {
        assert_eq!(found(report, slug), *count, "Found of {slug}");
    }
}

fn expect_absent(report: &Value, slugs: &[&str]) {
    for slug in slugs {
        assert!(
            warning(report, slug).is_none(),
            "{slug} should not be reported"
        );
    }
}

#[test]
fn a_table_layout_newsletter() {
    let r = report("tables");
    expect_found(
        &r,
        &[
            ("html-doctype", 1),
            ("html-lang", 1),
            // The <!--[if mso]> block in the head.
            ("html-comments", 1),
            ("html-body", 1),
            ("html-table", 3),
            ("html-role", 3),
            ("html-cellpadding", 3),
            ("html-cellspacing", 3),
            ("html-valign", 3),
            ("html-align", 2),
            ("html-img", 3),
            ("image-png", 1),
            // chair.jpg and lamp.jpeg?v=3.
            ("image-jpg", 2),
            ("html-anchor-links", 1),
            ("html-mailto-links", 1),
            // Six elements set padding in their style attribute.
            ("css-padding", 6),
            ("css-font-size", 3),
            ("css-text-decoration", 1),
        ],
    );
    expect_absent(
        &r,
        &[
            "html-style",
            "css-at-media",
            "css-display-flex",
            "html-script",
            "image-webp",
            "html-semantics",
        ],
    );
    assert_eq!(
        result(&r, "html-table", "outlook", "windows", "2019").0,
        "yes"
    );
    assert_eq!(
        result(&r, "html-cellpadding", "outlook", "windows", "2021").0,
        "yes"
    );
    // Frame elements are not nodes: 27 of the 30 tags written.
    assert_eq!(r["Total"]["Nodes"], 27);
}

#[test]
fn a_flexbox_newsletter() {
    let r = report("flexbox");
    expect_found(
        &r,
        &[
            ("css-display", 5),
            // header, section and both articles; the footer is a grid.
            ("css-display-flex", 4),
            ("css-display-grid", 1),
            ("css-flex-direction", 1),
            ("css-flex-wrap", 2),
            ("css-gap", 3),
            ("css-justify-content", 1),
            ("css-align-items", 1),
            ("css-grid-template", 1),
            ("css-border-radius", 4),
            ("css-box-shadow", 1),
            ("css-rgba", 1),
            ("css-unit-rem", 2),
            ("html-semantics", 5),
            ("html-target", 1),
            ("image-webp", 2),
            ("image-svg", 1),
        ],
    );
    expect_absent(
        &r,
        &["html-table", "css-at-media", "html-style", "css-float"],
    );
    // caniemail: no version of Outlook on Windows supports display:flex.
    for version in ["2007", "2010", "2013", "2016", "2019"] {
        assert_eq!(
            result(&r, "css-display-flex", "outlook", "windows", version),
            ("no".to_string(), String::new()),
            "Outlook {version}"
        );
    }
    assert_eq!(
        result(&r, "css-display-flex", "apple-mail", "macos", "12.4").0,
        "yes"
    );
    // Gmail on iOS since 2020-11: partial, note 1.
    assert_eq!(
        result(&r, "css-display-flex", "gmail", "ios", "2020-11"),
        ("partial".to_string(), "1".to_string())
    );
    let flex = warning(&r, "css-display-flex").expect("flex");
    assert_eq!(
        flex["NotesByNumber"]["1"],
        "Not supported with non Google accounts."
    );
    assert_eq!(
        flex["URL"],
        "https://www.caniemail.com/features/css-display-flex/"
    );
    assert_eq!(flex["Category"], "css");
    assert_eq!(result(&r, "css-gap", "outlook", "windows", "2019").0, "no");
    assert_eq!(
        result(&r, "image-webp", "outlook", "windows", "2016").0,
        "no"
    );
}

#[test]
fn a_style_sheet_with_media_queries() {
    let r = report("media-queries");
    expect_found(
        &r,
        &[
            ("html-style", 1),
            ("css-comments", 1),
            ("css-at-media", 3),
            ("css-at-media-prefers-color-scheme", 1),
            ("css-at-media-prefers-reduced-motion", 1),
            // Five rules use !important.
            ("css-important", 5),
            ("css-selector-class", 8),
            ("css-selector-type", 4),
            ("css-selector-grouping", 1),
            ("css-selector-descendant", 1),
            ("css-selector-child", 1),
            ("css-selector-adjacent-sibling", 1),
            ("css-pseudo-class-hover", 1),
            ("css-pseudo-class-first-child", 1),
            ("css-animation", 1),
            ("html-meta-color-scheme", 2),
            // Only `margin-top: 4px`: the 600px of a media query is not a property value.
            ("css-unit-px", 1),
            ("css-unit-percent", 3),
        ],
    );
    expect_absent(
        &r,
        &[
            "css-at-font-face",
            "css-pseudo-class-focus",
            "css-selector-id",
            "css-selector-chaining",
            "css-nesting",
        ],
    );
    // Gmail ignores prefers-color-scheme; Apple Mail on macOS 12.4 honours it.
    assert_eq!(
        result(
            &r,
            "css-at-media-prefers-color-scheme",
            "gmail",
            "desktop-webmail",
            "2022-12"
        )
        .0,
        "no"
    );
    assert_eq!(
        result(
            &r,
            "css-at-media-prefers-color-scheme",
            "apple-mail",
            "macos",
            "12.4"
        )
        .0,
        "yes"
    );
    assert_eq!(
        result(&r, "css-at-media", "outlook", "windows", "2019").0,
        "no"
    );
}

#[test]
fn background_images_with_a_vml_fallback() {
    let r = report("background-images");
    expect_found(
        &r,
        &[
            // Both conditional comments of the VML fallback; what is inside them is not read.
            ("html-comments", 2),
            ("html-background", 1),
            ("css-background-image", 1),
            ("css-background-size", 1),
            ("css-background-position", 1),
            ("css-background-repeat", 1),
            ("css-background", 1),
            ("css-linear-gradient", 1),
            // hero.jpg (the attribute), hero.webp (the CSS url), and a base64 GIF.
            ("image-jpg", 1),
            ("image-webp", 1),
            ("image-base64", 1),
            ("image-gif", 1),
        ],
    );
    expect_absent(&r, &["image-png", "html-style", "css-at-media"]);
    // caniemail marks Outlook's background-image "n #5": unsupported, with a note.
    assert_eq!(
        result(&r, "css-background-image", "outlook", "windows", "2019"),
        ("no".to_string(), "5".to_string())
    );
    // The background attribute works there in part (note 2).
    assert_eq!(
        result(&r, "html-background", "outlook", "windows", "2019"),
        ("partial".to_string(), "2".to_string())
    );
    assert_eq!(
        result(
            &r,
            "css-linear-gradient",
            "gmail",
            "desktop-webmail",
            "2021-12"
        )
        .0,
        "yes"
    );
}

#[test]
fn web_fonts_and_a_script() {
    let r = report("web-fonts");
    expect_found(
        &r,
        &[
            ("html-link", 1),
            ("css-at-import", 1),
            ("css-at-font-face", 1),
            ("css-sytem-ui", 1),
            ("css-letter-spacing", 1),
            ("css-unit-em", 1),
            ("css-unit-pt", 1),
            // The JSON-LD script is data, which clients keep.
            ("html-script", 1),
        ],
    );
    // @font-face descriptors are not property uses.
    expect_absent(&r, &["css-font-weight", "image-svg"]);
    assert_eq!(
        result(&r, "html-link", "gmail", "desktop-webmail", "2019-02").0,
        "no"
    );
    assert_eq!(
        result(&r, "css-at-font-face", "apple-mail", "macos", "12.2").0,
        "yes"
    );
    assert_eq!(
        result(&r, "css-at-font-face", "outlook", "windows", "2019"),
        ("partial".to_string(), "4".to_string())
    );
    // The script is the worst: no client runs it. One node of eight.
    let first = &r["Warnings"][0];
    assert_eq!(first["Slug"], "html-script");
    assert_eq!(first["Score"]["Unsupported"], 100.0);
    assert_eq!(first["Results"], serde_json::json!([]));
    assert_eq!(r["Total"]["Nodes"], 8);
    assert_eq!(r["Total"]["Unsupported"], 12.5);
}

/// The keys of Mailpit's structs, exactly.
#[test]
fn the_json_has_mailpits_shape() {
    let keys = |v: &Value| -> BTreeSet<String> {
        v.as_object().expect("object").keys().cloned().collect()
    };
    let set =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|s| s.to_string()).collect() };
    for name in [
        "tables",
        "flexbox",
        "media-queries",
        "background-images",
        "web-fonts",
    ] {
        let r = report(name);
        assert_eq!(keys(&r), set(&["Warnings", "Platforms", "Total"]));
        assert_eq!(
            keys(&r["Total"]),
            set(&["Tests", "Nodes", "Supported", "Partial", "Unsupported"])
        );
        let total = &r["Total"];
        let sum: f64 = ["Supported", "Partial", "Unsupported"]
            .iter()
            .map(|k| total[k].as_f64().expect("number"))
            .sum();
        assert!((sum - 100.0).abs() < 0.01, "{name}: {sum}");
        assert!(total["Tests"].as_u64() > Some(250));
        for platforms in r["Platforms"].as_object().expect("Platforms").values() {
            let families: Vec<&str> = platforms
                .as_array()
                .expect("families")
                .iter()
                .map(|f| f.as_str().expect("name"))
                .collect();
            assert!(families.is_sorted(), "{families:?}");
        }
        let mut last = f64::INFINITY;
        let nodes = total["Nodes"].as_f64().expect("Nodes");
        for w in r["Warnings"].as_array().expect("Warnings") {
            assert_eq!(
                keys(w),
                set(&[
                    "Slug",
                    "Title",
                    "Description",
                    "URL",
                    "Category",
                    "Tags",
                    "Keywords",
                    "Results",
                    "NotesByNumber",
                    "Score"
                ])
            );
            assert_eq!(
                keys(&w["Score"]),
                set(&["Found", "Supported", "Partial", "Unsupported"])
            );
            for result in w["Results"].as_array().expect("Results") {
                assert_eq!(
                    keys(result),
                    set(&[
                        "Name",
                        "Platform",
                        "Family",
                        "Version",
                        "Support",
                        "NoteNumber"
                    ])
                );
                assert!(["yes", "no", "partial"].contains(&result["Support"].as_str().unwrap()));
                let note = result["NoteNumber"].as_str().unwrap();
                assert!(
                    note.is_empty() || w["NotesByNumber"].get(note).is_some(),
                    "{}: note {note}",
                    w["Slug"]
                );
            }
            // Least supported first, weighted by the share of nodes using the feature.
            let score = &w["Score"];
            let weight = (score["Found"].as_f64().unwrap() / nodes).min(1.0);
            let bad = (score["Unsupported"].as_f64().unwrap() + score["Partial"].as_f64().unwrap())
                * weight;
            assert!(bad <= last + 1e-3, "{name}: {} out of order", w["Slug"]);
            last = bad;
        }
    }
}

#[test]
fn an_oversized_body_is_refused_not_cut() {
    let html = "<p>".repeat(1000);
    let limits = Limits {
        max_bytes: 2999,
        ..Limits::default()
    };
    assert_eq!(
        check_within(&html, &limits).map(|_| ()),
        Err(CheckError::TooLarge {
            size: 3000,
            limit: 2999
        })
    );
}

/// Pieces that make HTML and CSS parsers work: tags, attributes, style sheets, blocks, strings,
/// comments, escapes and stray bytes, in any order.
fn fragments() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<style>".to_string()),
        Just("</style>".to_string()),
        Just("<p style=\"".to_string()),
        Just("<img src='x.webp' srcset=\"a.png 1x, ,\" ".to_string()),
        Just("\">".to_string()),
        Just("<!--".to_string()),
        Just("-->".to_string()),
        Just("<!DOCTYPE html>".to_string()),
        Just("<svg><style>".to_string()),
        Just("<script>".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(";".to_string()),
        Just(":".to_string()),
        Just("::".to_string()),
        Just("@media (".to_string()),
        Just("@import url(".to_string()),
        Just("@font-face{".to_string()),
        Just("@keyframes k{from{".to_string()),
        Just(":not(".to_string()),
        Just("&:hover".to_string()),
        Just("url(data:image/".to_string()),
        Just("display:flex".to_string()),
        Just("!important".to_string()),
        Just("/*".to_string()),
        Just("*/".to_string()),
        Just("\\".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("--x:".to_string()),
        Just("calc(".to_string()),
        Just("\u{0}".to_string()),
        "[a-z-]{1,12}",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|pieces| pieces.concat())
}

fn sane(html: &str) {
    match check(html) {
        Ok(report) => {
            let t = report.total;
            for share in [t.supported, t.partial, t.unsupported] {
                assert!((0.0..=100.0).contains(&share), "{t:?}");
            }
            assert!((t.supported + t.partial + t.unsupported - 100.0).abs() < 0.01);
            for w in &report.warnings {
                assert!(w.score.found >= 1, "{}", w.feature.slug);
            }
            serde_json::to_string(&report).expect("serializes");
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(html in any::<String>()) {
        sane(&html);
    }

    #[test]
    fn arbitrary_html_and_css_never_panic(html in fragments()) {
        sane(&html);
    }
}

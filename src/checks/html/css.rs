//! CSS scanned for caniemail's CSS features: properties and their values (units, functions,
//! keywords, `!important`, custom properties), at-rules and media features, selectors
//! (combinators, pseudo-classes and pseudo-elements), nesting and comments. cssparser tokenizes it
//! as browsers do, and its rule and declaration parsers recover from malformed CSS the way a
//! browser does, so what is counted is what a client's CSS engine would see.

use std::collections::HashMap;
use std::sync::LazyLock;

use cssparser::{
    AtRuleParser, CowRcStr, DeclarationParser, ParseError, Parser, ParserInput, ParserState,
    QualifiedRuleParser, RuleBodyItemParser, RuleBodyParser, StyleSheetParser, Token,
};

use super::{Budget, Found, Tally, image_formats};

/// Deepest nesting looked into, counted apart for rules in rules (`@media` in `@supports` in a
/// nested rule …), functions and blocks in a value, and selectors in `:not()`. Deeper content is
/// skipped unread, so hostile CSS cannot exhaust the stack (cssparser skips a block without
/// recursing).
pub const MAX_DEPTH: usize = 24;

/// Properties (vendor prefix removed) and the features their use shows.
const PROPERTIES: &[(&str, &[&str])] = &[
    ("accent-color", &["css-accent-color"]),
    ("align-items", &["css-align-items"]),
    ("animation", &["css-animation"]),
    ("animation-delay", &["css-animation"]),
    ("animation-direction", &["css-animation"]),
    ("animation-duration", &["css-animation"]),
    ("animation-fill-mode", &["css-animation"]),
    ("animation-iteration-count", &["css-animation"]),
    ("animation-name", &["css-animation"]),
    ("animation-play-state", &["css-animation"]),
    ("animation-timing-function", &["css-animation"]),
    ("aspect-ratio", &["css-aspect-ratio"]),
    ("backdrop-filter", &["css-backdrop-filter"]),
    ("background", &["css-background"]),
    ("background-blend-mode", &["css-background-blend-mode"]),
    ("background-clip", &["css-background-clip"]),
    ("background-color", &["css-background-color"]),
    ("background-image", &["css-background-image"]),
    ("background-origin", &["css-background-origin"]),
    ("background-position", &["css-background-position"]),
    ("background-position-x", &["css-background-position"]),
    ("background-position-y", &["css-background-position"]),
    ("background-repeat", &["css-background-repeat"]),
    ("background-size", &["css-background-size"]),
    ("block-size", &["css-block-inline-size"]),
    ("inline-size", &["css-block-inline-size", "css-inline-size"]),
    ("border", &["css-border"]),
    ("border-width", &["css-border"]),
    ("border-style", &["css-border"]),
    ("border-color", &["css-border"]),
    ("border-top", &["css-border"]),
    ("border-right", &["css-border"]),
    ("border-bottom", &["css-border"]),
    ("border-left", &["css-border"]),
    ("border-top-width", &["css-border"]),
    ("border-top-style", &["css-border"]),
    ("border-top-color", &["css-border"]),
    ("border-right-width", &["css-border"]),
    ("border-right-style", &["css-border"]),
    ("border-right-color", &["css-border"]),
    ("border-bottom-width", &["css-border"]),
    ("border-bottom-style", &["css-border"]),
    ("border-bottom-color", &["css-border"]),
    ("border-left-width", &["css-border"]),
    ("border-left-style", &["css-border"]),
    ("border-left-color", &["css-border"]),
    ("border-collapse", &["css-border-collapse"]),
    ("border-image", &["css-border-image"]),
    ("border-image-outset", &["css-border-image"]),
    ("border-image-repeat", &["css-border-image"]),
    ("border-image-slice", &["css-border-image"]),
    ("border-image-source", &["css-border-image"]),
    ("border-image-width", &["css-border-image"]),
    ("border-inline", &["css-border-inline-block"]),
    ("border-block", &["css-border-inline-block"]),
    (
        "border-inline-color",
        &["css-border-inline-block-individual"],
    ),
    (
        "border-block-color",
        &["css-border-inline-block-individual"],
    ),
    (
        "border-inline-style",
        &["css-border-inline-block-individual"],
    ),
    (
        "border-block-style",
        &["css-border-inline-block-individual"],
    ),
    (
        "border-inline-width",
        &["css-border-inline-block-individual"],
    ),
    (
        "border-block-width",
        &["css-border-inline-block-individual"],
    ),
    (
        "border-inline-start",
        &["css-border-inline-block-individual"],
    ),
    ("border-inline-end", &["css-border-inline-block-individual"]),
    (
        "border-block-start",
        &["css-border-inline-block-individual"],
    ),
    ("border-block-end", &["css-border-inline-block-individual"]),
    (
        "border-inline-start-color",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-inline-start-style",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-inline-start-width",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-inline-end-color",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-inline-end-style",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-inline-end-width",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-block-start-color",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-block-start-style",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-block-start-width",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-block-end-color",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-block-end-style",
        &["css-border-inline-block-longhand"],
    ),
    (
        "border-block-end-width",
        &["css-border-inline-block-longhand"],
    ),
    ("border-radius", &["css-border-radius"]),
    ("border-top-left-radius", &["css-border-radius"]),
    ("border-top-right-radius", &["css-border-radius"]),
    ("border-bottom-left-radius", &["css-border-radius"]),
    ("border-bottom-right-radius", &["css-border-radius"]),
    ("border-start-start-radius", &["css-border-radius-logical"]),
    ("border-start-end-radius", &["css-border-radius-logical"]),
    ("border-end-start-radius", &["css-border-radius-logical"]),
    ("border-end-end-radius", &["css-border-radius-logical"]),
    ("border-spacing", &["css-border-spacing"]),
    ("bottom", &["css-left-right-top-bottom"]),
    ("box-shadow", &["css-box-shadow"]),
    ("box-sizing", &["css-box-sizing"]),
    ("caption-side", &["css-caption-side"]),
    ("clear", &["css-clear"]),
    ("clip-path", &["css-clip-path"]),
    ("color-scheme", &["css-color-scheme"]),
    (
        "column-count",
        &["css-column-count", "css-column-layout-properties"],
    ),
    ("column-fill", &["css-column-layout-properties"]),
    ("column-gap", &["css-gap", "css-column-layout-properties"]),
    ("column-rule", &["css-column-layout-properties"]),
    ("column-rule-color", &["css-column-layout-properties"]),
    ("column-rule-style", &["css-column-layout-properties"]),
    ("column-rule-width", &["css-column-layout-properties"]),
    ("column-span", &["css-column-layout-properties"]),
    ("column-width", &["css-column-layout-properties"]),
    ("columns", &["css-column-layout-properties"]),
    ("cursor", &["css-cursor"]),
    ("direction", &["css-direction"]),
    ("display", &["css-display"]),
    ("empty-cells", &["css-empty-cells"]),
    ("filter", &["css-filter"]),
    ("flex-direction", &["css-flex-direction"]),
    ("flex-wrap", &["css-flex-wrap"]),
    ("float", &["css-float"]),
    ("font", &["css-font"]),
    ("font-kerning", &["css-font-kerning"]),
    ("font-size", &["css-font-size"]),
    ("font-size-adjust", &["css-font-size-adjust"]),
    ("font-stretch", &["css-font-stretch"]),
    ("font-weight", &["css-font-weight"]),
    ("gap", &["css-gap"]),
    ("row-gap", &["css-gap"]),
    ("grid-gap", &["css-gap"]),
    ("grid-column-gap", &["css-gap"]),
    ("grid-row-gap", &["css-gap"]),
    ("grid-template", &["css-grid-template"]),
    ("grid-template-areas", &["css-grid-template"]),
    ("grid-template-columns", &["css-grid-template"]),
    ("grid-template-rows", &["css-grid-template"]),
    ("height", &["css-height"]),
    ("hyphenate-character", &["css-hyphenate-character"]),
    ("hyphenate-limit-chars", &["css-hyphenate-limit-chars"]),
    ("hyphens", &["css-hyphens"]),
    ("inset", &["css-inset"]),
    ("inset-block", &["css-inset"]),
    ("inset-block-end", &["css-inset"]),
    ("inset-block-start", &["css-inset"]),
    ("inset-inline", &["css-inset"]),
    ("inset-inline-end", &["css-inset"]),
    ("inset-inline-start", &["css-inset"]),
    ("justify-content", &["css-justify-content"]),
    ("left", &["css-left-right-top-bottom"]),
    ("letter-spacing", &["css-letter-spacing"]),
    ("line-height", &["css-line-height"]),
    ("list-style", &["css-list-style"]),
    ("list-style-image", &["css-list-style-image"]),
    ("list-style-position", &["css-list-style-position"]),
    ("list-style-type", &["css-list-style-type"]),
    ("margin", &["css-margin"]),
    ("margin-top", &["css-margin"]),
    ("margin-right", &["css-margin"]),
    ("margin-bottom", &["css-margin"]),
    ("margin-left", &["css-margin"]),
    ("margin-block-start", &["css-margin-block-start-end"]),
    ("margin-block-end", &["css-margin-block-start-end"]),
    ("margin-inline", &["css-margin-inline-block"]),
    ("margin-block", &["css-margin-inline-block"]),
    ("margin-inline-start", &["css-margin-inline-start-end"]),
    ("margin-inline-end", &["css-margin-inline-start-end"]),
    ("mask-image", &["css-mask-image"]),
    ("max-block-size", &["css-max-block-size"]),
    ("max-height", &["css-max-height"]),
    ("max-inline-size", &["css-max-inline-size"]),
    ("max-width", &["css-max-width"]),
    ("min-block-size", &["css-min-block-size"]),
    ("min-height", &["css-min-height"]),
    ("min-inline-size", &["css-min-inline-size"]),
    ("min-width", &["css-min-width"]),
    ("mix-blend-mode", &["css-mix-blend-mode"]),
    ("object-fit", &["css-object-fit"]),
    ("object-position", &["css-object-position"]),
    ("opacity", &["css-opacity"]),
    ("orphans", &["css-orphans"]),
    ("outline", &["css-outline"]),
    ("outline-color", &["css-outline"]),
    ("outline-style", &["css-outline"]),
    ("outline-width", &["css-outline"]),
    ("outline-offset", &["css-outline-offset"]),
    ("overflow", &["css-overflow"]),
    ("overflow-x", &["css-overflow"]),
    ("overflow-y", &["css-overflow"]),
    ("overflow-block", &["css-overflow"]),
    ("overflow-inline", &["css-overflow"]),
    ("overflow-wrap", &["css-overflow-wrap"]),
    ("padding", &["css-padding"]),
    ("padding-top", &["css-padding"]),
    ("padding-right", &["css-padding"]),
    ("padding-bottom", &["css-padding"]),
    ("padding-left", &["css-padding"]),
    ("padding-block-start", &["css-padding-block-start-end"]),
    ("padding-block-end", &["css-padding-block-start-end"]),
    ("padding-inline", &["css-padding-inline-block"]),
    ("padding-block", &["css-padding-inline-block"]),
    ("padding-inline-start", &["css-padding-inline-start-end"]),
    ("padding-inline-end", &["css-padding-inline-start-end"]),
    ("position", &["css-position"]),
    ("resize", &["css-resize"]),
    ("right", &["css-left-right-top-bottom"]),
    ("scroll-snap-align", &["css-scroll-snap"]),
    ("scroll-snap-stop", &["css-scroll-snap"]),
    ("scroll-snap-type", &["css-scroll-snap"]),
    ("shape-margin", &["css-shape-margin"]),
    ("shape-outside", &["css-shape-outside"]),
    ("tab-size", &["css-tab-size"]),
    ("table-layout", &["css-table-layout"]),
    ("text-align", &["css-text-align"]),
    ("text-align-last", &["css-text-align-last"]),
    ("text-decoration", &["css-text-decoration"]),
    ("text-decoration-color", &["css-text-decoration-color"]),
    ("text-decoration-line", &["css-text-decoration-line"]),
    (
        "text-decoration-skip-ink",
        &["css-text-decoration-skip-ink"],
    ),
    ("text-decoration-style", &["css-text-decoration-style"]),
    (
        "text-decoration-thickness",
        &["css-text-decoration-thickness"],
    ),
    ("text-emphasis", &["css-text-emphasis"]),
    ("text-emphasis-color", &["css-text-emphasis"]),
    ("text-emphasis-style", &["css-text-emphasis"]),
    ("text-emphasis-position", &["css-text-emphasis-position"]),
    ("text-indent", &["css-text-indent"]),
    ("text-justify", &["css-text-justify"]),
    ("text-orientation", &["css-text-orientation"]),
    ("text-overflow", &["css-text-overflow"]),
    ("text-shadow", &["css-text-shadow"]),
    ("text-transform", &["css-text-transform"]),
    ("text-underline-offset", &["css-text-underline-offset"]),
    ("text-underline-position", &["css-text-underline-position"]),
    ("text-wrap", &["css-text-wrap"]),
    ("text-wrap-mode", &["css-text-wrap"]),
    ("text-wrap-style", &["css-text-wrap"]),
    ("top", &["css-left-right-top-bottom"]),
    ("transform", &["css-transform"]),
    ("transition", &["css-transition"]),
    ("transition-delay", &["css-transition"]),
    ("transition-duration", &["css-transition"]),
    ("transition-property", &["css-transition"]),
    ("transition-timing-function", &["css-transition"]),
    ("user-select", &["css-user-select"]),
    ("vertical-align", &["css-vertical-align"]),
    ("visibility", &["css-visibility"]),
    ("white-space", &["css-white-space"]),
    ("white-space-collapse", &["css-white-space-collapse"]),
    ("widows", &["css-widows"]),
    ("width", &["css-width"]),
    ("word-break", &["css-word-break"]),
    ("word-spacing", &["css-word-spacing"]),
    ("word-wrap", &["css-word-wrap"]),
    ("writing-mode", &["css-writing-mode"]),
    ("z-index", &["css-z-index"]),
];

/// `display` values with a feature of their own.
const DISPLAY_VALUES: &[(&str, &str)] = &[
    ("flex", "css-display-flex"),
    ("inline-flex", "css-display-flex"),
    ("grid", "css-display-grid"),
    ("inline-grid", "css-display-grid"),
    ("none", "css-display-none"),
];

/// Functions in values (vendor prefix removed).
const FUNCTIONS: &[(&str, &str)] = &[
    ("calc", "css-unit-calc"),
    ("clamp", "css-function-clamp"),
    ("min", "css-function-min"),
    ("max", "css-function-max"),
    ("light-dark", "css-function-light-dark"),
    ("rgb", "css-rgb"),
    ("rgba", "css-rgba"),
    ("lab", "css-modern-color"),
    ("lch", "css-modern-color"),
    ("oklab", "css-modern-color"),
    ("oklch", "css-modern-color"),
    ("linear-gradient", "css-linear-gradient"),
    ("repeating-linear-gradient", "css-linear-gradient"),
    ("radial-gradient", "css-radial-gradient"),
    ("repeating-radial-gradient", "css-radial-gradient"),
    ("conic-gradient", "css-conic-gradient"),
    ("repeating-conic-gradient", "css-conic-gradient"),
    ("var", "css-variables"),
    ("fit-content", "css-intrinsic-size"),
];

/// Units of dimensions in values.
const UNITS: &[(&str, &str)] = &[
    ("px", "css-unit-px"),
    ("em", "css-unit-em"),
    ("rem", "css-unit-rem"),
    ("ex", "css-unit-ex"),
    ("ch", "css-unit-ch"),
    ("cm", "css-unit-cm"),
    ("mm", "css-unit-mm"),
    ("in", "css-unit-in"),
    ("pt", "css-unit-pt"),
    ("pc", "css-unit-pc"),
    ("vh", "css-unit-vh"),
    ("vw", "css-unit-vw"),
    ("vmin", "css-unit-vmin"),
    ("vmax", "css-unit-vmax"),
];
const PERCENT: &str = "css-unit-percent";

/// Keywords in values.
const KEYWORDS: &[(&str, &str)] = &[
    ("initial", "css-unit-initial"),
    ("fit-content", "css-intrinsic-size"),
    ("min-content", "css-intrinsic-size"),
    ("max-content", "css-intrinsic-size"),
    // caniemail's slug has this spelling.
    ("system-ui", "css-sytem-ui"),
    ("ui-serif", "css-sytem-ui"),
    ("ui-sans-serif", "css-sytem-ui"),
    ("ui-rounded", "css-sytem-ui"),
    ("ui-monospace", "css-sytem-ui"),
];

/// Pseudo-classes, by name (`:hover`, `:nth-child(…)`).
const PSEUDO_CLASSES: &[(&str, &str)] = &[
    ("active", "css-pseudo-class-active"),
    ("checked", "css-pseudo-class-checked"),
    ("default", "css-pseudo-class-default"),
    ("first-child", "css-pseudo-class-first-child"),
    ("first-of-type", "css-pseudo-class-first-of-type"),
    ("focus", "css-pseudo-class-focus"),
    ("focus-visible", "css-pseudo-class-focus-visible"),
    ("focus-within", "css-pseudo-class-focus-within"),
    ("has", "css-pseudo-class-has"),
    ("hover", "css-pseudo-class-hover"),
    ("lang", "css-pseudo-class-lang"),
    ("last-child", "css-pseudo-class-last-child"),
    ("last-of-type", "css-pseudo-class-last-of-type"),
    ("link", "css-pseudo-class-link"),
    ("not", "css-pseudo-class-not"),
    ("nth-child", "css-pseudo-class-nth-child"),
    ("nth-last-child", "css-pseudo-class-nth-last-child"),
    ("nth-last-of-type", "css-pseudo-class-nth-last-of-type"),
    ("nth-of-type", "css-pseudo-class-nth-of-type"),
    ("only-child", "css-pseudo-class-only-child"),
    ("only-of-type", "css-pseudo-class-only-of-type"),
    ("target", "css-pseudo-class-target"),
    ("visited", "css-pseudo-class-visited"),
];

/// Pseudo-elements (`::before`); the first four also in their old one-colon form.
const PSEUDO_ELEMENTS: &[(&str, &str)] = &[
    ("after", "css-pseudo-element-after"),
    ("before", "css-pseudo-element-before"),
    ("first-letter", "css-pseudo-element-first-letter"),
    ("first-line", "css-pseudo-element-first-line"),
    ("marker", "css-pseudo-element-marker"),
    ("placeholder", "css-pseudo-element-placeholder"),
];
const LEGACY_PSEUDO_ELEMENTS: &[&str] = &["after", "before", "first-letter", "first-line"];

/// Functional pseudo-classes whose arguments are selectors, looked into.
const SELECTOR_ARGUMENTS: &[&str] = &["not", "has", "is", "where"];

/// Media features in an `@media` query.
const MEDIA_FEATURES: &[(&str, &str)] = &[
    ("prefers-color-scheme", "css-at-media-prefers-color-scheme"),
    (
        "prefers-reduced-motion",
        "css-at-media-prefers-reduced-motion",
    ),
    ("orientation", "css-at-media-orientation"),
    ("hover", "css-at-media-hover"),
    ("any-hover", "css-at-media-hover"),
];
/// `-webkit-device-pixel-ratio` and its `min-`/`max-` forms.
const DEVICE_PIXEL_RATIO: &str = "css-at-media-device-pixel-ratio";

const AT_MEDIA: &str = "css-at-media";
const AT_SUPPORTS: &str = "css-at-supports";
const AT_FONT_FACE: &str = "css-at-font-face";
const AT_IMPORT: &str = "css-at-import";
const AT_KEYFRAMES: &str = "css-at-keyframes";
const IMPORTANT: &str = "css-important";
const VARIABLES: &str = "css-variables";
const NESTING: &str = "css-nesting";
const COMMENTS: &str = "css-comments";
const TYPE: &str = "css-selector-type";
const UNIVERSAL: &str = "css-selector-universal";
const CLASS: &str = "css-selector-class";
const ID: &str = "css-selector-id";
const ATTRIBUTE: &str = "css-selector-attribute";
const CHAINING: &str = "css-selector-chaining";
const GROUPING: &str = "css-selector-grouping";
const DESCENDANT: &str = "css-selector-descendant";
const CHILD: &str = "css-selector-child";
const ADJACENT: &str = "css-selector-adjacent-sibling";
const GENERAL_SIBLING: &str = "css-selector-general-sibling";

/// Every feature this module can report, for the report's test count.
pub(super) fn slugs() -> impl Iterator<Item = &'static str> {
    let pairs = [
        DISPLAY_VALUES,
        FUNCTIONS,
        UNITS,
        KEYWORDS,
        PSEUDO_CLASSES,
        PSEUDO_ELEMENTS,
        MEDIA_FEATURES,
    ];
    PROPERTIES
        .iter()
        .flat_map(|(_, slugs)| slugs.iter().copied())
        .chain(pairs.into_iter().flatten().map(|(_, slug)| *slug))
        .chain([
            PERCENT,
            DEVICE_PIXEL_RATIO,
            AT_MEDIA,
            AT_SUPPORTS,
            AT_FONT_FACE,
            AT_IMPORT,
            AT_KEYFRAMES,
            IMPORTANT,
            VARIABLES,
            NESTING,
            COMMENTS,
            TYPE,
            UNIVERSAL,
            CLASS,
            ID,
            ATTRIBUTE,
            CHAINING,
            GROUPING,
            DESCENDANT,
            CHILD,
            ADJACENT,
            GENERAL_SIBLING,
        ])
}

static PROPERTY_INDEX: LazyLock<HashMap<&'static str, &'static [&'static str]>> =
    LazyLock::new(|| PROPERTIES.iter().copied().collect());

fn lookup(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, slug)| *slug)
}

/// `name` without a vendor prefix (`-webkit-mask-image` is `mask-image`).
fn unprefixed(name: &str) -> &str {
    ["-webkit-", "-moz-", "-ms-", "-o-"]
        .iter()
        .find_map(|prefix| {
            name.get(..prefix.len())
                .filter(|head| head.eq_ignore_ascii_case(prefix))
                .map(|_| &name[prefix.len()..])
        })
        .unwrap_or(name)
}

/// A `<style>` element's text: each style rule's features count once for that rule, each at-rule
/// and comment once.
pub(super) fn stylesheet(css: &str, tally: &mut Tally, budget: &Budget) {
    for _ in 0..comments_in(css) {
        tally.add(COMMENTS);
    }
    let mut input = ParserInput::new(css);
    let mut parser = Parser::new(&mut input);
    let mut scanner = Scanner::new(tally, budget, Mode::Rules, 0);
    for _ in StyleSheetParser::new(&mut parser, &mut scanner) {
        if budget.expired() {
            break;
        }
    }
}

/// A `style` attribute's declarations; what they use goes into the element's `found`.
pub(super) fn declarations(css: &str, found: &mut Found, tally: &mut Tally, budget: &Budget) {
    if comments_in(css) > 0 {
        found.insert(COMMENTS);
    }
    let mut input = ParserInput::new(css);
    let mut parser = Parser::new(&mut input);
    let mut scanner = Scanner::new(tally, budget, Mode::Attribute, 0);
    for _ in RuleBodyParser::new(&mut parser, &mut scanner) {
        if budget.expired() {
            break;
        }
    }
    found.extend(&scanner.found);
}

/// How many comments the CSS has (the rule parsers skip them).
fn comments_in(css: &str) -> usize {
    if !css.contains("/*") {
        return 0;
    }
    let mut input = ParserInput::new(css);
    count_comments(&mut Parser::new(&mut input), 0)
}

fn count_comments(input: &mut Parser<'_, '_>, depth: usize) -> usize {
    let mut count = 0;
    loop {
        let (comment, block) = match input.next_including_whitespace_and_comments() {
            Ok(token) => (
                matches!(token, Token::Comment(_)),
                opens_block(token) && depth < MAX_DEPTH,
            ),
            Err(_) => return count,
        };
        if comment {
            count += 1;
        } else if block {
            count += input
                .parse_nested_block(|nested| {
                    Ok::<_, ParseError<'_, ()>>(count_comments(nested, depth + 1))
                })
                .unwrap_or(0);
        }
    }
}

/// Reads what is left of a prelude: cssparser drops a rule whose prelude is not read to its end.
fn skip_rest(input: &mut Parser<'_, '_>) {
    while input.next().is_ok() {}
}

fn opens_block(token: &Token<'_>) -> bool {
    matches!(
        token,
        Token::Function(_)
            | Token::ParenthesisBlock
            | Token::SquareBracketBlock
            | Token::CurlyBracketBlock
    )
}

/// What the scanner is reading.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A list of rules: a style sheet, or the body of `@media`/`@supports`.
    Rules,
    /// A list of keyframe rules, whose preludes (`from`, `50%`) are not selectors.
    Keyframes,
    /// The body of a style rule: declarations and, with CSS nesting, rules.
    Block,
    /// A `style` attribute: declarations only.
    Attribute,
}

/// cssparser's rule, at-rule and declaration callbacks, collecting the features of the block
/// being read in `found` and handing nested blocks to scanners of their own.
struct Scanner<'a> {
    tally: &'a mut Tally,
    budget: &'a Budget,
    mode: Mode,
    depth: usize,
    found: Found,
}

/// What an at-rule's prelude showed, and how to read its block.
struct AtPrelude {
    found: Found,
    body: Option<Mode>,
}

impl<'a> Scanner<'a> {
    fn new(tally: &'a mut Tally, budget: &'a Budget, mode: Mode, depth: usize) -> Self {
        Scanner {
            tally,
            budget,
            mode,
            depth,
            found: Found::default(),
        }
    }

    /// Reads a nested block in `mode` with a scanner of its own; a block rule counts its
    /// features once.
    fn nested<'i>(&mut self, input: &mut Parser<'i, '_>, mode: Mode, found: Found) {
        let budget = self.budget;
        let mut child = Scanner::new(&mut *self.tally, budget, mode, self.depth + 1);
        child.found = found;
        if child.depth <= MAX_DEPTH && !budget.expired() {
            match mode {
                Mode::Block | Mode::Attribute => {
                    for _ in RuleBodyParser::new(input, &mut child) {
                        if budget.expired() {
                            break;
                        }
                    }
                }
                Mode::Rules | Mode::Keyframes => {
                    for _ in StyleSheetParser::new(input, &mut child) {
                        if budget.expired() {
                            break;
                        }
                    }
                }
            }
        }
        let found = std::mem::take(&mut child.found);
        self.tally.add_each(&found);
    }
}

impl<'i> QualifiedRuleParser<'i> for Scanner<'_> {
    type Prelude = Found;
    type QualifiedRule = ();
    type Error = ();

    fn parse_prelude<'t>(
        &mut self,
        input: &mut Parser<'i, 't>,
    ) -> Result<Found, ParseError<'i, ()>> {
        let mut found = Found::default();
        match self.mode {
            Mode::Keyframes => {}
            Mode::Block | Mode::Attribute => {
                found.insert(NESTING);
                selectors(input, &mut found, 0);
            }
            Mode::Rules => selectors(input, &mut found, 0),
        }
        skip_rest(input);
        Ok(found)
    }

    fn parse_block<'t>(
        &mut self,
        prelude: Found,
        _start: &ParserState,
        input: &mut Parser<'i, 't>,
    ) -> Result<(), ParseError<'i, ()>> {
        self.budget.tick();
        self.nested(input, Mode::Block, prelude);
        Ok(())
    }
}

impl<'i> AtRuleParser<'i> for Scanner<'_> {
    type Prelude = AtPrelude;
    type AtRule = ();
    type Error = ();

    fn parse_prelude<'t>(
        &mut self,
        name: CowRcStr<'i>,
        input: &mut Parser<'i, 't>,
    ) -> Result<AtPrelude, ParseError<'i, ()>> {
        let mut found = Found::default();
        // Inside a style rule, a conditional rule's body is again declarations and rules.
        let rules = if self.mode == Mode::Block {
            Mode::Block
        } else {
            Mode::Rules
        };
        let name = name.to_ascii_lowercase();
        let body = match unprefixed(&name) {
            "media" => {
                found.insert(AT_MEDIA);
                media_features(input, &mut found, 0);
                Some(rules)
            }
            "supports" => {
                found.insert(AT_SUPPORTS);
                Some(rules)
            }
            "font-face" => {
                found.insert(AT_FONT_FACE);
                // Its descriptors (src, font-weight) are not property uses.
                None
            }
            "import" => {
                found.insert(AT_IMPORT);
                None
            }
            "keyframes" => {
                found.insert(AT_KEYFRAMES);
                Some(Mode::Keyframes)
            }
            "container" | "layer" | "scope" | "starting-style" | "document" => Some(rules),
            _ => None,
        };
        skip_rest(input);
        Ok(AtPrelude { found, body })
    }

    fn rule_without_block(&mut self, prelude: AtPrelude, _start: &ParserState) -> Result<(), ()> {
        self.tally.add_each(&prelude.found);
        Ok(())
    }

    fn parse_block<'t>(
        &mut self,
        prelude: AtPrelude,
        _start: &ParserState,
        input: &mut Parser<'i, 't>,
    ) -> Result<(), ParseError<'i, ()>> {
        self.budget.tick();
        self.tally.add_each(&prelude.found);
        if let Some(mode) = prelude.body {
            self.nested(input, mode, Found::default());
        }
        Ok(())
    }
}

impl<'i> DeclarationParser<'i> for Scanner<'_> {
    type Declaration = ();
    type Error = ();

    fn parse_value<'t>(
        &mut self,
        name: CowRcStr<'i>,
        input: &mut Parser<'i, 't>,
        _start: &ParserState,
    ) -> Result<(), ParseError<'i, ()>> {
        self.budget.tick();
        let mut here = Found::default();
        let custom = name.starts_with("--");
        let property = unprefixed(&name).to_ascii_lowercase();
        if custom {
            here.insert(VARIABLES);
        } else if let Some(slugs) = PROPERTY_INDEX.get(property.as_str()) {
            slugs.iter().for_each(|slug| here.insert(slug));
        }
        let display = property == "display";
        let braces = value(input, &mut here, 0, display);
        // A `{}` block cannot be a property's value: this was a nested rule (`a:hover {…}`),
        // which cssparser then reads as one.
        if braces && !custom && self.mode == Mode::Block {
            return Err(input.new_custom_error(()));
        }
        self.found.extend(&here);
        Ok(())
    }
}

impl<'i> RuleBodyItemParser<'i, (), ()> for Scanner<'_> {
    fn parse_declarations(&self) -> bool {
        true
    }

    fn parse_qualified(&self) -> bool {
        self.mode == Mode::Block
    }
}

/// The features of a declaration's value (`depth` is 0 at the declaration, one more inside each
/// function or block); true when it held a `{}` block.
fn value(input: &mut Parser<'_, '_>, found: &mut Found, depth: usize, display: bool) -> bool {
    let mut braces = false;
    loop {
        let token = match input.next() {
            Ok(token) => token.clone(),
            Err(_) => return braces,
        };
        match &token {
            Token::Dimension { unit, .. } => {
                if let Some(slug) = lookup(UNITS, unit) {
                    found.insert(slug);
                }
            }
            Token::Percentage { .. } => found.insert(PERCENT),
            Token::Ident(word) => {
                if let Some(slug) = lookup(KEYWORDS, word) {
                    found.insert(slug);
                }
                if display
                    && depth == 0
                    && let Some(slug) = lookup(DISPLAY_VALUES, word)
                {
                    found.insert(slug);
                }
            }
            Token::Delim('!')
                if input
                    .try_parse(|i| i.expect_ident_matching("important"))
                    .is_ok() =>
            {
                found.insert(IMPORTANT);
            }
            Token::UnquotedUrl(url) => image_formats(url, found),
            Token::Function(name) => {
                let name = unprefixed(name);
                if let Some(slug) = lookup(FUNCTIONS, name) {
                    found.insert(slug);
                }
                let url = name.eq_ignore_ascii_case("url");
                if depth < MAX_DEPTH {
                    let _ = input.parse_nested_block(|args| {
                        if url {
                            if let Ok(target) = args.expect_string() {
                                image_formats(target, found);
                            }
                        } else {
                            value(args, found, depth + 1, false);
                        }
                        Ok::<_, ParseError<'_, ()>>(())
                    });
                }
            }
            Token::ParenthesisBlock | Token::SquareBracketBlock | Token::CurlyBracketBlock => {
                braces |= matches!(token, Token::CurlyBracketBlock);
                if depth < MAX_DEPTH {
                    let _ = input.parse_nested_block(|inner| {
                        value(inner, found, depth + 1, false);
                        Ok::<_, ParseError<'_, ()>>(())
                    });
                }
            }
            _ => {}
        }
    }
}

/// The features an `@media` prelude names (`(prefers-color-scheme: dark)`).
fn media_features(input: &mut Parser<'_, '_>, found: &mut Found, depth: usize) {
    loop {
        let token = match input.next() {
            Ok(token) => token.clone(),
            Err(_) => return,
        };
        match &token {
            Token::Ident(name) => {
                if let Some(slug) = lookup(MEDIA_FEATURES, name) {
                    found.insert(slug);
                }
                if name.to_ascii_lowercase().contains("device-pixel-ratio") {
                    found.insert(DEVICE_PIXEL_RATIO);
                }
            }
            token if opens_block(token) && depth < MAX_DEPTH => {
                let _ = input.parse_nested_block(|inner| {
                    media_features(inner, found, depth + 1);
                    Ok::<_, ParseError<'_, ()>>(())
                });
            }
            _ => {}
        }
    }
}

/// One compound selector (`td.a.b:hover`) being read: the class, ID and attribute selectors in
/// it. Two or more of them is chaining (`.foo.bar`, caniemail's example).
#[derive(Default)]
struct Compound {
    started: bool,
    qualifiers: usize,
}

impl Compound {
    fn qualify(&mut self, found: &mut Found, slug: &'static str) {
        found.insert(slug);
        self.qualifiers += 1;
    }

    fn finish(&mut self, found: &mut Found) {
        if self.qualifiers >= 2 {
            found.insert(CHAINING);
        }
        *self = Compound::default();
    }
}

/// The features of a selector list.
fn selectors(input: &mut Parser<'_, '_>, found: &mut Found, depth: usize) {
    let mut compound = Compound::default();
    let mut space = false;
    loop {
        let token = match input.next_including_whitespace() {
            Ok(token) => token.clone(),
            Err(_) => break,
        };
        let combinator = match &token {
            Token::WhiteSpace(_) => {
                space |= compound.started;
                continue;
            }
            Token::Comma => Some(GROUPING),
            Token::Delim('>') => Some(CHILD),
            Token::Delim('+') => Some(ADJACENT),
            Token::Delim('~') => Some(GENERAL_SIBLING),
            _ => None,
        };
        if let Some(slug) = combinator {
            found.insert(slug);
            compound.finish(found);
            space = false;
            continue;
        }
        if space {
            found.insert(DESCENDANT);
            compound.finish(found);
            space = false;
        }
        compound.started = true;
        match &token {
            Token::Ident(_) => found.insert(TYPE),
            Token::Delim('*') => found.insert(UNIVERSAL),
            Token::Delim('&') => found.insert(NESTING),
            Token::Delim('.') => {
                // The class name itself, so it is not read as a type selector.
                let _ = input.next_including_whitespace();
                compound.qualify(found, CLASS);
            }
            Token::IDHash(_) | Token::Hash(_) => compound.qualify(found, ID),
            Token::SquareBracketBlock => compound.qualify(found, ATTRIBUTE),
            Token::Colon => pseudo(input, found, depth),
            _ => {}
        }
    }
    compound.finish(found);
}

/// What follows a `:` in a selector: a pseudo-class, or after `::` a pseudo-element.
fn pseudo(input: &mut Parser<'_, '_>, found: &mut Found, depth: usize) {
    let mut token = match input.next_including_whitespace() {
        Ok(token) => token.clone(),
        Err(_) => return,
    };
    let element = matches!(token, Token::Colon);
    if element {
        token = match input.next_including_whitespace() {
            Ok(token) => token.clone(),
            Err(_) => return,
        };
    }
    match &token {
        Token::Ident(name) => {
            let legacy = LEGACY_PSEUDO_ELEMENTS
                .iter()
                .any(|legacy| legacy.eq_ignore_ascii_case(name));
            let slug = if element || legacy {
                lookup(PSEUDO_ELEMENTS, name)
            } else {
                lookup(PSEUDO_CLASSES, name)
            };
            if let Some(slug) = slug {
                found.insert(slug);
            }
        }
        Token::Function(name) => {
            if !element && let Some(slug) = lookup(PSEUDO_CLASSES, name) {
                found.insert(slug);
            }
            let selector_list = SELECTOR_ARGUMENTS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(name));
            if selector_list && depth < MAX_DEPTH {
                let _ = input.parse_nested_block(|args| {
                    selectors(args, found, depth + 1);
                    Ok::<_, ParseError<'_, ()>>(())
                });
            }
        }
        _ => {}
    }
}

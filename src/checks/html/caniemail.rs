//! caniemail.com's data set, bundled (`caniemail.json`, MIT, see `LICENSE-caniemail`; refreshed
//! by `scripts/refresh-caniemail`): every feature with its support per client, prepared once into
//! the shapes Mailpit's HTML check answers with.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::marker::PhantomData;
use std::sync::LazyLock;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// The data file, exactly as the `caniemail` npm package publishes it.
const DATA: &str = include_str!("caniemail.json");

/// Where relative links in descriptions and notes point (`/features/image-svg`).
const SITE: &str = "https://www.caniemail.com";

/// The slug of Mailpit's own warning for `<script>`, which caniemail does not list.
pub const SCRIPT: &str = "html-script";

/// The data set, parsed on first use. An `Err` (a broken data file) fails every check clearly
/// instead of panicking; a unit test keeps the bundled file loadable.
static LOADED: LazyLock<Result<Caniemail, String>> = LazyLock::new(|| {
    let raw: RawData = serde_json::from_str(DATA).map_err(|e| e.to_string())?;
    Ok(Caniemail::prepare(raw))
});

/// The bundled data set, or why it could not be read.
pub fn get() -> Result<&'static Caniemail, &'static str> {
    LOADED.as_ref().map_err(String::as_str)
}

/// The prepared data set.
#[derive(Debug)]
pub struct Caniemail {
    /// caniemail's API version of the file.
    pub api_version: String,
    /// When caniemail last changed it.
    pub last_update_date: String,
    features: HashMap<String, Feature>,
    /// Platform (`ios`, `windows`, …) to the sorted names of the client families tested on it.
    pub platforms: BTreeMap<String, Vec<String>>,
}

impl Caniemail {
    /// One feature by slug (`css-display-flex`), including [`SCRIPT`].
    pub fn feature(&self, slug: &str) -> Option<&Feature> {
        self.features.get(slug)
    }

    /// How many features the file lists.
    pub fn len(&self) -> usize {
        self.features.len()
    }

    pub fn is_empty(&self) -> bool {
        self.features.is_empty()
    }

    fn prepare(raw: RawData) -> Caniemail {
        let name = |names: &HashMap<String, String>, key: &str| {
            names.get(key).cloned().unwrap_or_else(|| key.to_string())
        };
        let mut platforms: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut features = HashMap::with_capacity(raw.data.len() + 1);
        for f in raw.data {
            let mut results = Vec::new();
            for (family, by_platform) in &f.stats.0 {
                let family_name = name(&raw.nicenames.family, family);
                for (platform, by_version) in &by_platform.0 {
                    let families = platforms.entry(platform.clone()).or_default();
                    if !families.contains(&family_name) {
                        families.push(family_name.clone());
                    }
                    for (version, support) in &by_version.0 {
                        let (support, note_number) = classify(support);
                        results.push(ClientResult {
                            name: format!(
                                "{family_name} {} ({version})",
                                name(&raw.nicenames.platform, platform)
                            ),
                            platform: platform.clone(),
                            family: family.clone(),
                            version: version.clone(),
                            support,
                            note_number,
                        });
                    }
                }
            }
            let share = Share::of(&results);
            let feature = Feature {
                slug: f.slug,
                title: f.title,
                description: markdown(f.description.as_deref().unwrap_or_default()),
                url: f.url,
                category: f.category,
                tags: f.tags.unwrap_or_default(),
                keywords: f.keywords.unwrap_or_default(),
                results,
                notes_by_number: f
                    .notes_by_num
                    .map(|notes| {
                        notes
                            .0
                            .into_iter()
                            .map(|(n, note)| (n, markdown(&note)))
                            .collect()
                    })
                    .unwrap_or_default(),
                share,
            };
            features.insert(feature.slug.clone(), feature);
        }
        for families in platforms.values_mut() {
            families.sort();
        }
        features.insert(SCRIPT.to_string(), script());
        Caniemail {
            api_version: raw.api_version,
            last_update_date: raw.last_update_date,
            features,
            platforms,
        }
    }
}

/// Mailpit's warning for scripts: no client runs them, so it needs no per-client results.
fn script() -> Feature {
    Feature {
        slug: SCRIPT.to_string(),
        title: "<script> element".to_string(),
        description: "Email clients never run scripts: they strip them, or refuse the message."
            .to_string(),
        url: String::new(),
        category: "html".to_string(),
        tags: Vec::new(),
        keywords: String::new(),
        results: Vec::new(),
        notes_by_number: BTreeMap::new(),
        share: Share {
            supported: 0.0,
            partial: 0.0,
            unsupported: 100.0,
        },
    }
}

/// One caniemail feature, in Mailpit's warning shape (its `Score` is added per check).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Feature {
    pub slug: String,
    pub title: String,
    /// HTML, rendered from caniemail's Markdown.
    pub description: String,
    #[serde(rename = "URL")]
    pub url: String,
    /// `html`, `css`, `image` or `others`.
    pub category: String,
    pub tags: Vec<String>,
    pub keywords: String,
    /// Every client and version tested, in the data file's order.
    pub results: Vec<ClientResult>,
    /// Note number to its text (HTML).
    pub notes_by_number: BTreeMap<String, String>,
    /// The share of `results` at each level of support.
    #[serde(skip)]
    pub share: Share,
}

/// One client version's support for a feature.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientResult {
    /// `Outlook Windows (2019)`.
    pub name: String,
    /// caniemail's key: `windows`, `ios`, `desktop-webmail`, …
    pub platform: String,
    /// caniemail's key: `outlook`, `gmail`, …
    pub family: String,
    pub version: String,
    pub support: Support,
    /// The note (a key of `NotesByNumber`) this result refers to, or empty.
    pub note_number: String,
}

/// Mailpit's three levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Support {
    Yes,
    No,
    Partial,
}

/// caniemail's support value: `y`, `n`, `a` (partial) or `u` (unknown), each maybe followed by
/// notes (` #1 #2`). The letter decides: `u` is partial, as Mailpit has only three levels.
/// Mailpit calls every value with a note partial, which shows Outlook's `n #5` for
/// `background-image` as partial support where caniemail says none: here a noted `n` stays no.
/// The first note number is kept, whole (`#11` is note 11; `NoteNumber` holds one).
fn classify(value: &str) -> (Support, String) {
    let mut words = value.split_whitespace();
    let support = match words.next() {
        Some("y") => Support::Yes,
        Some("n") => Support::No,
        _ => Support::Partial,
    };
    let note = words
        .find_map(|word| word.strip_prefix('#'))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_default()
        .to_string();
    (support, note)
}

/// Percentages of a feature's results at each level, in `f32` as Mailpit's are.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Share {
    pub supported: f32,
    pub partial: f32,
    pub unsupported: f32,
}

impl Share {
    fn of(results: &[ClientResult]) -> Share {
        let count = |s: Support| results.iter().filter(|r| r.support == s).count() as f32;
        let total = results.len() as f32;
        if total == 0.0 {
            return Share::default();
        }
        Share {
            supported: count(Support::Yes) / total * 100.0,
            partial: count(Support::Partial) / total * 100.0,
            unsupported: count(Support::No) / total * 100.0,
        }
    }
}

/// caniemail's Markdown (inline code and links) as HTML, without the paragraph around one line,
/// as Mailpit shows it. Raw HTML in the text is shown as text: the data mentions elements like
/// `<head>` in prose. Links open in a new tab, and site-relative ones point at caniemail.com.
fn markdown(text: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Parser, Tag};
    let events = Parser::new(text).map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let dest_url = if dest_url.starts_with('/') && !dest_url.starts_with("//") {
                CowStr::from(format!("{SITE}{dest_url}"))
            } else {
                dest_url
            };
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        other => other,
    });
    let mut html = String::with_capacity(text.len() + 16);
    pulldown_cmark::html::push_html(&mut html, events);
    // Raw HTML became text above, so every `<a href=` here is a link the renderer wrote.
    let html = html.replace(
        "<a href=",
        "<a target=\"_blank\" rel=\"noreferrer noopener\" href=",
    );
    let trimmed = html.trim();
    match trimmed
        .strip_prefix("<p>")
        .and_then(|rest| rest.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => inner.to_string(),
        _ => trimmed.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// The file's own shape.

#[derive(Deserialize)]
struct RawData {
    api_version: String,
    last_update_date: String,
    nicenames: NiceNames,
    data: Vec<RawFeature>,
}

#[derive(Deserialize)]
struct NiceNames {
    family: HashMap<String, String>,
    platform: HashMap<String, String>,
}

#[derive(Deserialize)]
struct RawFeature {
    slug: String,
    title: String,
    description: Option<String>,
    url: String,
    category: String,
    tags: Option<Vec<String>>,
    keywords: Option<String>,
    /// family → platform → version → support.
    stats: Ordered<Ordered<Ordered<String>>>,
    notes_by_num: Option<Ordered<String>>,
}

/// A JSON object kept in the file's order (results are listed as caniemail lists them).
struct Ordered<V>(Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<V>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(Entries(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_data_loads() {
        let data = get().expect("caniemail.json loads");
        assert!(data.len() > 300, "{} features", data.len());
        assert_eq!(data.api_version, "1.0.4");
        let flex = data.feature("css-display-flex").expect("css-display-flex");
        assert_eq!(flex.title, "display:flex");
        assert_eq!(flex.category, "css");
        let outlook_2019 = flex
            .results
            .iter()
            .find(|r| r.family == "outlook" && r.platform == "windows" && r.version == "2019")
            .expect("Outlook on Windows 2019 is tested");
        assert_eq!(outlook_2019.name, "Outlook Windows (2019)");
        assert_eq!(outlook_2019.support, Support::No);
        let sum = flex.share.supported + flex.share.partial + flex.share.unsupported;
        assert!((sum - 100.0).abs() < 0.01, "{sum}");
        assert!(data.platforms["windows"].contains(&"Outlook".to_string()));
        assert!(data.feature(SCRIPT).is_some());
    }

    #[test]
    fn support_values_are_read_by_their_letter() {
        assert_eq!(classify("y"), (Support::Yes, String::new()));
        assert_eq!(classify("n"), (Support::No, String::new()));
        assert_eq!(classify("a"), (Support::Partial, String::new()));
        assert_eq!(classify("u"), (Support::Partial, String::new()));
        assert_eq!(classify("a #1"), (Support::Partial, "1".into()));
        assert_eq!(classify("y #2"), (Support::Yes, "2".into()));
        assert_eq!(classify("n #5"), (Support::No, "5".into()));
        assert_eq!(classify("a #11 #3"), (Support::Partial, "11".into()));
    }

    #[test]
    fn markdown_becomes_safe_inline_html() {
        assert_eq!(
            markdown("Use `<style>` with [SVG](/features/image-svg)."),
            "Use <code>&lt;style&gt;</code> with <a target=\"_blank\" rel=\"noreferrer noopener\" \
             href=\"https://www.caniemail.com/features/image-svg\">SVG</a>."
        );
        assert_eq!(
            markdown("The first <head> is removed & <script>x</script>"),
            "The first &lt;head&gt; is removed &amp; &lt;script&gt;x&lt;/script&gt;"
        );
        assert_eq!(markdown(""), "");
    }
}

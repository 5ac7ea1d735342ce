//! One search string, matched the way Mailpit's search text works: case-insensitive, and with
//! `<>;,"()`, tabs and line breaks counting as spaces and runs of spaces as one, so that the
//! phrase `"alice smith"` finds `Alice <Smith>` and `alice,  smith`. Nothing is copied or folded
//! in advance: the haystack is read as it is stored, and only where the needle's rarest byte
//! occurs is anything compared.

/// The bytes that count as a space (Mailpit's cleanString replaces these before matching; its
/// final split on white space also takes vertical tab and form feed, as [`fold`] does).
pub const fn is_separator(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c | b'<' | b'>' | b'"' | b',' | b';' | b'(' | b')'
    )
}

/// `text` as Mailpit's cleanString gives it: separators as single spaces, trimmed, lower-cased.
pub fn fold(text: &str) -> String {
    let lower = text.replace('\u{feff}', " ").to_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut space = false;
    for c in lower.chars() {
        if c.is_ascii() && is_separator(c as u8) || c.is_whitespace() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// A search string prepared for matching.
#[derive(Debug, Clone)]
pub struct Needle {
    /// The folded text.
    folded: String,
    /// Its words (between folded spaces), as bytes.
    segments: Vec<Vec<u8>>,
    /// The word holding the rarest byte, and that byte's offset in it.
    anchor: (usize, usize),
    /// That byte in both cases (the same twice when it is not a letter).
    anchor_bytes: (u8, u8),
    /// The needle has non-ASCII letters: it matches lower-cased text only.
    needs_lowercase: bool,
}

/// English letters from most to least frequent; bytes not listed count as rare.
const LETTER_FREQUENCY: &[u8] = b"etaoinshrdlcumwfgypbvkjxqz";

fn rarity(b: u8) -> usize {
    match b {
        b'a'..=b'z' => 1 + LETTER_FREQUENCY.iter().position(|&l| l == b).unwrap_or(0),
        b'0'..=b'9' => 20,
        _ => 100,
    }
}

impl Needle {
    pub fn new(text: &str) -> Needle {
        let folded = fold(text);
        let segments: Vec<Vec<u8>> = folded.split(' ').map(|s| s.as_bytes().to_vec()).collect();
        let mut anchor = (0, 0);
        let mut best = 0;
        for (i, segment) in segments.iter().enumerate() {
            for (j, &b) in segment.iter().enumerate() {
                if rarity(b) > best {
                    best = rarity(b);
                    anchor = (i, j);
                }
            }
        }
        let byte = segments
            .get(anchor.0)
            .and_then(|s| s.get(anchor.1))
            .copied()
            .unwrap_or(0);
        Needle {
            needs_lowercase: !folded.is_ascii(),
            folded,
            segments,
            anchor,
            anchor_bytes: (byte, byte.to_ascii_uppercase()),
        }
    }

    /// The folded text (what a tag is compared with).
    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// True for a needle that matches everything.
    pub fn is_empty(&self) -> bool {
        self.folded.is_empty()
    }

    /// True when the needle can only be found in lower-cased text (it has non-ASCII letters,
    /// which ASCII case-folding cannot match).
    pub fn needs_lowercase(&self) -> bool {
        self.needs_lowercase
    }

    /// Its words, for the prefilter.
    pub fn segments(&self) -> &[Vec<u8>] {
        &self.segments
    }

    /// True when `hay` contains the needle (ASCII letters in any case; for a needle that
    /// [`needs_lowercase`](Needle::needs_lowercase), `hay` must be lower-cased already).
    pub fn found_in(&self, hay: &[u8]) -> bool {
        if self.folded.is_empty() {
            return true;
        }
        let (seg_index, offset) = self.anchor;
        let anchor = &self.segments[seg_index];
        if hay.len() < anchor.len() {
            return false;
        }
        let (lower, upper) = self.anchor_bytes;
        // The anchor byte can only sit where its whole word still fits around it.
        let end = hay.len() - (anchor.len() - 1 - offset);
        let mut pos = offset;
        while pos < end {
            let Some(i) = memchr::memchr2(lower, upper, &hay[pos..end]) else {
                return false;
            };
            let start = pos + i - offset;
            if hay[start..start + anchor.len()].eq_ignore_ascii_case(anchor)
                && self.around(hay, start, start + anchor.len())
            {
                return true;
            }
            pos += i + 1;
        }
        false
    }

    /// With the anchor word at `hay[start..end]`, do the other words stand around it, separated
    /// by separators? Inner words must be whole words; the first and last may be parts of one.
    fn around(&self, hay: &[u8], start: usize, end: usize) -> bool {
        let (anchor, _) = self.anchor;
        let last = self.segments.len() - 1;
        if anchor != 0 && start > 0 && !is_separator(hay[start - 1]) {
            return false;
        }
        if anchor != last && end < hay.len() && !is_separator(hay[end]) {
            return false;
        }
        // Leftwards.
        let mut cursor = start;
        for i in (0..anchor).rev() {
            let seps = hay[..cursor]
                .iter()
                .rev()
                .take_while(|&&b| is_separator(b))
                .count();
            if seps == 0 {
                return false;
            }
            cursor -= seps;
            let word = &self.segments[i];
            if cursor < word.len() || !hay[cursor - word.len()..cursor].eq_ignore_ascii_case(word) {
                return false;
            }
            cursor -= word.len();
            if i != 0 && cursor > 0 && !is_separator(hay[cursor - 1]) {
                return false;
            }
        }
        // Rightwards.
        let mut cursor = end;
        for i in anchor + 1..=last {
            let seps = hay[cursor..]
                .iter()
                .take_while(|&&b| is_separator(b))
                .count();
            if seps == 0 {
                return false;
            }
            cursor += seps;
            let word = &self.segments[i];
            if hay.len() - cursor < word.len()
                || !hay[cursor..cursor + word.len()].eq_ignore_ascii_case(word)
            {
                return false;
            }
            cursor += word.len();
            if i != last && cursor < hay.len() && !is_separator(hay[cursor]) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(needle: &str, hay: &str) -> bool {
        Needle::new(needle).found_in(hay.as_bytes())
    }

    #[test]
    fn folding_is_mailpits_clean_string() {
        assert_eq!(fold("  Alice  <Smith>; (x),\t\"y\"\r\n"), "alice smith x y");
        assert_eq!(fold("ÉCOLE"), "école");
        assert_eq!(fold(""), "");
    }

    #[test]
    fn words_anywhere_any_case() {
        assert!(found("HeLLo", "say hello world"));
        assert!(
            found("llo wo", "say hello world"),
            "a phrase across a word boundary"
        );
        assert!(!found("xyz", "abc"));
        assert!(found("", "anything"));
        assert!(found("zebra", "ZEBRA"));
        assert!(!found("longer than the haystack", "short"));
    }

    #[test]
    fn separators_count_as_one_space() {
        assert!(found("\"alice smith\"", "Alice <Smith>"));
        assert!(found(
            "body 1 jdsauk dwqmdqw",
            "the email body 1 <jdsauk;dwqmdqw;>"
        ));
        assert!(found("a b", "a,  (b)"));
        assert!(!found("a b", "ab"), "no separator, no match");
        assert!(
            !found("ab cd", "ab xcd"),
            "an inner word must start at a separator"
        );
        assert!(
            found("b cd", "ab cde"),
            "the first and last words may be parts"
        );
        assert!(!found("a x b", "a xx b"), "inner words are whole");
        assert!(found("a x b", "a; x\r\n b"));
        // Found by the search fuzz target: fold() read these as spaces, the matcher did not.
        assert!(found("i voic", "i\u{c}voice"), "form feed");
        assert!(found("i\u{b}voic", "I VOICE"), "vertical tab");
    }

    #[test]
    fn every_substring_of_a_haystack_is_found() {
        let hay = "The Quick brown FOX jumps; 42 x";
        for (start, end) in (0..hay.len()).flat_map(|s| (s + 1..=hay.len()).map(move |e| (s, e))) {
            let piece = &hay[start..end];
            if fold(piece).is_empty() {
                continue;
            }
            assert!(found(&piece.to_uppercase(), hay), "{piece:?}");
            assert!(found(&piece.to_lowercase(), hay), "{piece:?}");
        }
    }

    #[test]
    fn non_ascii_needles_match_lowercased_text() {
        let needle = Needle::new("GRÜßE");
        assert!(needle.needs_lowercase());
        assert!(needle.found_in("viele grüße!".as_bytes()));
        assert!(!Needle::new("grüße").found_in("viele grüsse".as_bytes()));
    }
}

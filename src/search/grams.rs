//! A per-message prefilter: which pairs of adjacent (lower-cased) bytes its searchable text holds,
//! as a 1024-bit set made once at ingest. A needle whose pairs are not all in the set cannot be in
//! the text, so most messages are ruled out without reading them (128 bytes per message; a full
//! scan of 100 000 messages costs a few milliseconds of bit tests).

use super::needle::is_separator;

const BITS: usize = 1024;

/// The byte pairs of a message's searchable text.
#[derive(Clone, PartialEq, Eq)]
pub struct Grams([u64; BITS / 64]);

impl Default for Grams {
    fn default() -> Self {
        Grams([0; BITS / 64])
    }
}

impl std::fmt::Debug for Grams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: u32 = self.0.iter().map(|w| w.count_ones()).sum();
        write!(f, "Grams({set}/{BITS} set)")
    }
}

fn bit(a: u8, b: u8) -> usize {
    let pair = (u32::from(a) << 8) | u32::from(b);
    // Fibonacci hashing: spreads the pairs of a small alphabet over the whole set.
    (pair.wrapping_mul(2_654_435_769) >> (32 - 10)) as usize
}

impl Grams {
    /// Adds the pairs of `text` (lower-cased first; separators break pairs, as they break words).
    pub fn add(&mut self, text: &[u8]) {
        if text.is_ascii() {
            self.add_lowercase(text.iter().map(u8::to_ascii_lowercase));
        } else {
            let lower = String::from_utf8_lossy(text).to_lowercase();
            self.add_lowercase(lower.bytes());
        }
    }

    fn add_lowercase(&mut self, bytes: impl Iterator<Item = u8>) {
        let mut previous: Option<u8> = None;
        for b in bytes {
            if is_separator(b) {
                previous = None;
                continue;
            }
            if let Some(a) = previous {
                let i = bit(a, b);
                self.0[i / 64] |= 1 << (i % 64);
            }
            previous = Some(b);
        }
    }

    /// False when some pair of `words` (lower-case) is surely not in the text; true when all
    /// might be.
    pub fn may_contain(&self, words: &[Vec<u8>]) -> bool {
        words.iter().all(|word| {
            word.windows(2).all(|pair| {
                let i = bit(pair[0], pair[1]);
                self.0[i / 64] & (1 << (i % 64)) != 0
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_added_may_be_contained_and_most_else_is_not() {
        let mut g = Grams::default();
        g.add(b"Hello World, zebra-crossing");
        g.add("Grüße".as_bytes());
        for word in ["hello", "world", "zebra", "crossing", "grüße", "h", "lo wo"] {
            let words: Vec<Vec<u8>> = word.split(' ').map(|w| w.as_bytes().to_vec()).collect();
            assert!(g.may_contain(&words), "{word}");
        }
        let absent = ["quux", "jazz", "vexing", "pqrs"];
        let ruled_out = absent
            .iter()
            .filter(|w| !g.may_contain(&[w.as_bytes().to_vec()]))
            .count();
        assert!(ruled_out >= 3, "most absent words are ruled out");
        assert!(!Grams::default().may_contain(&[b"ab".to_vec()]));
        assert!(
            Grams::default().may_contain(&[b"a".to_vec()]),
            "single bytes have no pairs"
        );
    }
}

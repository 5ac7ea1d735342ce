//! A per-message prefilter: which pairs of adjacent (lower-cased) bytes its searchable text holds,
//! as a 1024-bit set made once at ingest. A needle whose pairs are not all in the set cannot be in
//! the text, so most messages are ruled out without reading them (128 bytes per message; a full
//! scan of 100 000 messages costs a few milliseconds of bit tests).

use super::needle::is_separator;

const BITS: usize = 1024;
/// Texts longer than this hold nearly every pair of their alphabet: reading them for the set is
/// wasted work, so the set says "maybe" to everything (it must never say "no" wrongly).
const SATURATED: usize = 16 * 1024;

/// Each byte as it counts in a pair: ASCII letters lower-cased, separators (and NUL) as 0.
static FOLD: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = if b == 0 || is_separator(b) {
            0
        } else {
            b.to_ascii_lowercase()
        };
        i += 1;
    }
    table
};

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
    /// A text this long would fill the set anyway: the set is filled at once instead of reading it.
    pub fn add(&mut self, text: &[u8]) {
        if text.len() > SATURATED {
            self.0 = [u64::MAX; BITS / 64];
            return;
        }
        if text.is_ascii() {
            self.add_lowercase(text.iter().copied());
        } else {
            let lower = String::from_utf8_lossy(text).to_lowercase();
            self.add_lowercase(lower.bytes());
        }
    }

    fn add_lowercase(&mut self, bytes: impl Iterator<Item = u8>) {
        // 0 marks "no previous byte" (a NUL in text is not worth a pair); separators reset it.
        let mut previous = 0u8;
        for b in bytes {
            let b = FOLD[usize::from(b)];
            if b != 0 && previous != 0 {
                let i = bit(previous, b);
                self.0[i / 64] |= 1 << (i % 64);
            }
            previous = b;
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

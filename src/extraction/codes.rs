//! Likely one-time codes: the digit and letter-and-digit tokens of the subject, the text and the
//! images' `alt` texts, ranked by how much they look like a code someone is asked to type.
//!
//! A candidate is 4 to 8 digits (`123456`, also written `123 456` or `123-456`) or 5 to 12
//! letters and digits with both kinds (`X7K2QF`, `AB12-CD34`). Its score:
//! - its shape: six digits 3, other digit counts 2, letters and digits 2;
//! - +4 when a code word (code, OTP, verification, passcode, PIN, …) is within 60 characters
//!   before it (in its sentence's line, or the line before when the code starts its own), or +2
//!   within 60 after it on its line;
//! - +2 when it is in the subject, +1 when it stands alone on its line;
//! - −3 for what looks like a year, a price, a time, a phone number or an order or invoice number.
//!
//! Those scoring at least [`MIN_SCORE`] are reported, best first (then in order of appearance),
//! each once. URLs and e-mail addresses are not searched: their digits are ids, not codes.

use regex::Regex;
use serde::Serialize;
use std::sync::LazyLock;

/// Most codes reported per message.
pub const MAX_CODES: usize = 10;
/// The lowest score reported: a bare six-digit number with nothing around it is not enough, one
/// near a code word or alone on its line is.
pub const MIN_SCORE: i32 = 4;
/// Characters of surrounding text kept with each code.
const CONTEXT_CHARS: usize = 60;
/// Most text searched per message (a code is near the top of any mail that sends one).
const MAX_SCAN: usize = 256 * 1024;

/// One candidate code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Code {
    /// The code as it should be typed (a space or dash between digit groups removed).
    pub code: String,
    /// The words around it, white space collapsed.
    pub context: String,
    /// `subject`, `text` or `alt` (an image's alternative text).
    pub source: &'static str,
    pub score: i32,
}

static CANDIDATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    // Digit groups (3+3, 4+4, 2+2+2) first, then plain runs, then letter-and-digit tokens.
    Regex::new(
        r"(?x)
        \b(\d{3}[\ -]\d{3}|\d{4}[\ -]\d{4}|\d{2}[\ -]\d{2}[\ -]\d{2})\b
        | \b(\d{4,8})\b
        | \b([A-Za-z0-9]{2,6}-[A-Za-z0-9]{2,6}|[A-Za-z0-9]{5,12})\b",
    )
    .ok()
});

static SKIPPED: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+").ok());

/// Words that announce a code; a trailing `*` matches any ending (`verif*`: verify, verification).
const CODE_WORDS: &[&str] = &[
    "code",
    "codes",
    "otp",
    "one-time",
    "one time",
    "verif*",
    "passcode",
    "password",
    "pin",
    "token",
    "2fa",
    "two-factor",
    "security",
    "confirm*",
    "login",
    "log in",
    "sign in",
    "sign-in",
    "enter",
    "authenticat*",
    "código",
    "kod",
];

/// Words before a number that say it is something else.
const NOT_CODE_WORDS: &[&str] = &[
    "order", "invoice", "phone", "tel", "call", "fax", "tracking", "ref", "zip", "no.", "number",
];

/// True when one of `words` is in `haystack` (lower case) as a whole word.
fn has_word(haystack: &str, words: &[&str]) -> bool {
    words.iter().any(|w| {
        let (word, stem) = match w.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (*w, false),
        };
        haystack.match_indices(word).any(|(start, _)| {
            let end = start + word.len();
            let starts = haystack[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric());
            let ends = stem
                || haystack[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric());
            starts && ends
        })
    })
}

/// Up to `n` characters of `s` ending at byte `at`, and starting at byte `at`.
fn before(s: &str, at: usize, n: usize) -> &str {
    let start = s[..at]
        .char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    &s[start..at]
}

fn after(s: &str, at: usize, n: usize) -> &str {
    let end = s[at..]
        .char_indices()
        .nth(n)
        .map_or(s.len(), |(i, _)| at + i);
    &s[at..end]
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Scores the candidates of a text and adds them to `out`. The windows around a candidate reach
/// across lines (a code often sits on its own line under the sentence that announces it).
fn scan_text(line: &str, source: &'static str, out: &mut Vec<(Code, usize)>, order: &mut usize) {
    let (Some(candidate), Some(skipped)) = (CANDIDATE.as_ref(), SKIPPED.as_ref()) else {
        return;
    };
    // URLs and addresses blanked (same length, so offsets stay).
    let mut blanked = line.to_string();
    for m in skipped.find_iter(line) {
        blanked.replace_range(m.range(), &" ".repeat(m.len()));
    }
    let lower = blanked.to_lowercase();
    // Lowercasing may change lengths outside ASCII: offsets are used only when it did not.
    let lower = if lower.len() == blanked.len() {
        lower
    } else {
        blanked.to_ascii_lowercase()
    };
    for caps in candidate.captures_iter(&blanked) {
        let Some(m) = caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3)) else {
            continue;
        };
        let token = m.as_str();
        let digits = token.chars().filter(char::is_ascii_digit).count();
        let letters = token.chars().filter(char::is_ascii_alphabetic).count();
        let is_grouped = caps.get(1).is_some();
        let mut score = if caps.get(3).is_some() {
            // Letters and digits both, and not a word with a digit tacked on (`v2`, `mp3`).
            if digits == 0
                || letters == 0
                || digits < 2
                || token.len() - token.matches('-').count() < 5
            {
                continue;
            }
            // Lower-case letters: an id or a word far more often than a code.
            if token.chars().any(|c| c.is_ascii_lowercase()) {
                continue;
            }
            2
        } else if digits == 6 {
            3
        } else {
            2
        };
        let (start, end) = (m.start(), m.end());
        let line_start = blanked[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = blanked[end..].find('\n').map_or(blanked.len(), |i| end + i);
        // A code that starts its line is announced by the line before; one inside a sentence
        // by the sentence.
        let starts_line = lower[line_start..start].trim().is_empty();
        let near_before = if starts_line {
            before(&lower, start, CONTEXT_CHARS)
        } else {
            before(&lower[line_start..], start - line_start, CONTEXT_CHARS)
        };
        let near_after = after(&lower[..line_end], end, CONTEXT_CHARS);
        if has_word(near_before, CODE_WORDS) {
            score += 4;
        } else if has_word(near_after, CODE_WORDS) {
            score += 2;
        }
        if source == "subject" {
            score += 2;
        }
        if blanked[line_start..line_end].trim() == token {
            score += 1;
        }
        let prev = blanked[..start].trim_end().chars().next_back();
        let next = blanked[end..].trim_start().chars().next();
        let looks_like_year = digits == 4
            && !is_grouped
            && token
                .parse::<u32>()
                .is_ok_and(|y| (1900..=2100).contains(&y));
        let looks_like_amount = matches!(prev, Some('$' | '€' | '£' | '¥' | '#'))
            || matches!(next, Some('%' | '€'))
            || blanked[end..].starts_with(['.', ','])
                && blanked[end + 1..].starts_with(|c: char| c.is_ascii_digit())
            || blanked[..start].ends_with(['.', ',', ':', '/'])
                && start > 0
                && blanked[..start - 1].ends_with(|c: char| c.is_ascii_digit());
        let looks_like_phone = matches!(prev, Some('+' | '(' | ')'));
        if looks_like_year || looks_like_amount || looks_like_phone {
            score -= 3;
        }
        if has_word(before(&lower, start, 24), NOT_CODE_WORDS) {
            score -= 3;
        }
        let code: String =
            if is_grouped && digits == token.len() - token.matches([' ', '-']).count() {
                token.chars().filter(char::is_ascii_digit).collect()
            } else {
                token.to_string()
            };
        let context = collapse(&format!(
            "{}{}{}",
            before(&blanked, start, CONTEXT_CHARS),
            token,
            after(&blanked, end, CONTEXT_CHARS)
        ));
        *order += 1;
        out.push((
            Code {
                code,
                context,
                source,
                score,
            },
            *order,
        ));
    }
}

/// The likely codes of a message, best first.
pub fn codes(subject: &str, text: &str, alts: &[String]) -> Vec<Code> {
    let mut found = Vec::new();
    let mut order = 0;
    scan_text(subject, "subject", &mut found, &mut order);
    let text = match text.char_indices().nth(MAX_SCAN) {
        Some((cut, _)) => &text[..cut],
        None => text,
    };
    scan_text(text, "text", &mut found, &mut order);
    for alt in alts.iter().take(100) {
        scan_text(alt, "alt", &mut found, &mut order);
    }
    found.retain(|(c, _)| c.score >= MIN_SCORE);
    found.sort_by(|(a, ao), (b, bo)| b.score.cmp(&a.score).then(ao.cmp(bo)));
    let mut out: Vec<Code> = Vec::new();
    for (code, _) in found {
        if out.len() >= MAX_CODES {
            break;
        }
        if !out.iter().any(|c| c.code == code.code) {
            out.push(code);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn best(subject: &str, text: &str) -> Option<String> {
        codes(subject, text, &[]).into_iter().next().map(|c| c.code)
    }

    #[test]
    fn a_code_near_its_word_wins() {
        let text = "Hello Ann,\n\nYour verification code is 482913. It expires in 10 minutes.\n\nOrder 123456 shipped in 2024.\nCall +1 5551234 for help.";
        let found = codes("Welcome", text, &[]);
        assert_eq!(found[0].code, "482913");
        assert_eq!(found[0].source, "text");
        assert!(found[0].context.contains("verification code is 482913"));
        assert!(
            found
                .iter()
                .all(|c| c.code != "2024" && c.code != "123456" && c.code != "5551234"),
            "{found:?}"
        );
    }

    #[test]
    fn grouped_and_alphanumeric_codes() {
        assert_eq!(best("", "Enter this code: 123 456"), Some("123456".into()));
        assert_eq!(
            best("", "Your one-time passcode\n\n  X7K2-9QF4\n"),
            Some("X7K2-9QF4".into())
        );
        assert_eq!(
            best("482913 is your login code", "Hi"),
            Some("482913".into())
        );
    }

    #[test]
    fn urls_addresses_prices_and_years_are_not_codes() {
        let text = "Visit https://app.test/r/839201 or write to u839201@app.test.\nTotal $1234, 2024-05-01 at 12:30, invoice 777123.";
        assert_eq!(codes("Receipt", text, &[]), vec![]);
    }

    #[test]
    fn a_code_in_an_image_alt_text() {
        let found = codes("Sign in", "", &["Your code: 5521".into()]);
        assert_eq!(found[0].code, "5521");
        assert_eq!(found[0].source, "alt");
    }

    #[test]
    fn plain_words_with_digits_are_not_codes() {
        assert_eq!(
            codes("mp3 files", "Use utf8 and h264 or abc123def", &[]),
            vec![]
        );
    }
}

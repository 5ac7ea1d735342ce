//! Transfer decodings, lenient: base64 and quoted-printable bodies (RFC 2045), strict base64 for
//! content a client sends us, and percent-decoding (RFC 2231). Malformed input degrades to a best
//! effort, never an error, except where a caller must be told (strict base64).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::headers::is_wsp;

/// Standard base64 that accepts missing padding and trailing bits: what mailers actually send.
pub const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard base64 with optional padding and nothing else forgiven, for content a client hands
/// us (a mistake there deserves an error, not a silently different file).
const CHECKED: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64 whose line breaks and spaces are ignored; anything else wrong is an error.
pub fn decode_base64_checked(encoded: &[u8]) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: Vec<u8> = encoded
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    CHECKED.decode(compact)
}

pub fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = bytes.get(i + 1..i + 3).and_then(hex_pair)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    match pair {
        [hi, lo] => Some((digit(*hi)? * 16 + digit(*lo)?) as u8),
        _ => None,
    }
}

/// Lenient base64: characters outside the alphabet (line breaks, stray spaces) are skipped, input
/// stops at the first `=`, and a dangling final character is dropped, so any input decodes.
pub fn decode_base64(encoded: &[u8]) -> Vec<u8> {
    let mut clean: Vec<u8> = encoded
        .iter()
        .copied()
        .take_while(|&b| b != b'=')
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    // Only the alphabet remains and the length is valid, so this cannot fail; an empty result
    // would still be a safe answer if it did.
    BASE64.decode(&clean).unwrap_or_default()
}

/// Quoted-printable (RFC 2045 6.7): `=XX` escapes and `=` soft line breaks are decoded; a malformed
/// `=` is kept literally rather than failing the whole body.
pub fn decode_quoted_printable(encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        let b = encoded[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        if let Some(byte) = encoded.get(i + 1..i + 3).and_then(hex_pair) {
            out.push(byte);
            i += 3;
            continue;
        }
        // A soft line break: `=`, optional transport padding, then the line end (or the end).
        let mut j = i + 1;
        while j < encoded.len() && is_wsp(encoded[j]) {
            j += 1;
        }
        match encoded.get(j) {
            None => i = j,
            Some(b'\n') => i = j + 1,
            Some(b'\r') if encoded.get(j + 1) == Some(&b'\n') => i = j + 2,
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_decoding() {
        assert_eq!(decode_base64(b"aGVs\r\nbG8=\r\n"), b"hello");
        assert_eq!(decode_base64(b"aGVsbG8"), b"hello", "missing padding");
        assert_eq!(decode_base64(b"a"), b"", "dangling character");
        assert_eq!(
            decode_quoted_printable(b"caf=C3=A9 =\r\nsoft=  \r\nhard\r\n=3D =ZZ end="),
            "café softhard\r\n= =ZZ end".as_bytes()
        );
    }
}

//! Canonicalisation, exactly as the seed's `canonicalize` (cell 2), made idempotent.
//!
//! One pass of the seed ([`canonicalize_once`]):
//! 1. literal `\uXXXX` sequences (backslash, `u`, four hex digits) become the code point;
//! 2. Unicode NFC;
//! 3. removal of the zero-width set and of every character of general category `C*`
//!    (`Cc`, `Cf`, `Cs`, `Co`, `Cn`: controls, format characters, surrogates, private use,
//!    unassigned);
//! 4. the substitution map (dashes to `-`, middle dot to `•`, `﹏` to `_`).
//!
//! The seed's single pass is not idempotent: removing a zero-width character after NFC can
//! leave a base and a combining mark that NFC would now compose, and removing one can also
//! complete a `\uXXXX` sequence. [`canonicalize`] therefore repeats the pass until nothing
//! changes. On every input that one pass already maps to a fixed point (the whole catalogue,
//! every string over the charset) it returns exactly what the seed returns.
//!
//! Unicode versions differ: Python 3.11's `unicodedata` is Unicode 14, the tables here are
//! Unicode 16, so code points assigned in 15 or 16 are kept here and removed (`Cn`) by the
//! seed. No face or charset character is affected.

use unicode_general_category::{GeneralCategory, get_general_category};
use unicode_normalization::UnicodeNormalization;

/// The seed's `ZERO_WIDTH` set (all are also `Cf`; kept explicit for fidelity).
pub const ZERO_WIDTH: [char; 11] = [
    '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{2060}', '\u{2061}', '\u{2062}',
    '\u{2063}', '\u{2064}', '\u{feff}',
];

/// The seed's `SUBS` map, applied after NFC and removal.
pub const SUBS: [(char, char); 5] = [('—', '-'), ('–', '-'), ('－', '-'), ('·', '•'), ('﹏', '_')];

/// Replaces each literal `\uXXXX` (as the seed's regex `\\u([0-9a-fA-F]{4})`, scanning left
/// to right without overlap) with its code point.
///
/// A surrogate code point (`\uD800`–`\uDFFF`) cannot be a Rust `char`; Python makes it a lone
/// surrogate, which blocks NFC composition and is then removed (`Cs`). `U+FFFF` (a
/// noncharacter, `Cn`) does exactly the same, so it stands in for it.
pub fn decode_u_escapes(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && i + 6 <= chars.len() && chars[i + 1] == 'u' {
            let hex = &chars[i + 2..i + 6];
            if hex.iter().all(|c| c.is_ascii_hexdigit()) {
                let code = hex
                    .iter()
                    .fold(0u32, |acc, c| acc * 16 + c.to_digit(16).unwrap_or(0));
                out.push(char::from_u32(code).unwrap_or('\u{ffff}'));
                i += 6;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// True for the characters step 3 removes: the zero-width set and general category `C*`.
pub fn is_removed(c: char) -> bool {
    if c.is_ascii() {
        // In ASCII only the C0 controls and DEL are in a removed category (Cc).
        return c.is_ascii_control();
    }
    ZERO_WIDTH.contains(&c)
        || matches!(
            get_general_category(c),
            GeneralCategory::Control
                | GeneralCategory::Format
                | GeneralCategory::Surrogate
                | GeneralCategory::PrivateUse
                | GeneralCategory::Unassigned
        )
}

fn substitute(c: char) -> char {
    SUBS.iter()
        .find(|(from, _)| *from == c)
        .map_or(c, |(_, to)| *to)
}

/// One pass of the seed's `canonicalize`, faithful to the notebook (not idempotent on
/// adversarial inputs; use [`canonicalize`]).
pub fn canonicalize_once(s: &str) -> String {
    decode_u_escapes(s)
        .nfc()
        .filter(|&c| !is_removed(c))
        .map(substitute)
        .collect()
}

/// The seed's canonicalisation repeated to a fixed point, so that canonicalising twice
/// changes nothing.
///
/// ```
/// use face_data::canonicalize;
/// assert_eq!(canonicalize("(－_－メ)"), "(-_-メ)");
/// assert_eq!(canonicalize(r"\u0028^_^)"), "(^_^)");
/// assert_eq!(canonicalize("(^\u{200b}_^)"), "(^_^)");
/// ```
pub fn canonicalize(s: &str) -> String {
    if is_canonical(s) {
        return s.to_string();
    }
    canonicalize_fixpoint(s)
}

/// True when `s` is certainly unchanged by [`canonicalize`]: no `\u` escape, already
/// NFC (quick check), no removed character, no substituted character. A fast path for
/// bulk inputs (most strings are already canonical); `false` only means "run the full
/// pass".
pub fn is_canonical(s: &str) -> bool {
    use unicode_normalization::{IsNormalized, is_nfc_quick};
    !s.contains("\\u")
        && s.chars()
            .all(|c| !is_removed(c) && !SUBS.iter().any(|(from, _)| *from == c))
        && is_nfc_quick(s.chars()) == IsNormalized::Yes
}

/// [`canonicalize`] without the fast path: the seed's pass, repeated to a fixed point.
#[doc(hidden)]
pub fn canonicalize_fixpoint(s: &str) -> String {
    // Terminates: after the first pass, a pass that changes the string either removes
    // characters, decodes an escape (6 chars -> 1) or composes (NFC never grows an NFC
    // string's remains), so the length strictly falls or the next pass is the identity.
    // The cap is a belt over those braces.
    let mut cur = canonicalize_once(s);
    for _ in 0..=cur.chars().count() {
        let next = canonicalize_once(&cur);
        if next == cur {
            return cur;
        }
        cur = next;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_by_hand() {
        // 1) escapes, upper and lower hex, and a backslash that is not an escape.
        assert_eq!(canonicalize_once(r"\u0041\u00e9"), "Aé");
        assert_eq!(canonicalize_once(r"\u00E9"), "é");
        assert_eq!(canonicalize_once(r"\u12"), r"\u12");
        assert_eq!(canonicalize_once(r"\x41"), r"\x41");
        assert_eq!(canonicalize_once(r"\\u0041"), r"\A");
        // 2) NFC composes e + combining acute.
        assert_eq!(canonicalize_once("e\u{301}"), "\u{e9}");
        // 3) zero-width set and C* (control, format, private use) removed.
        assert_eq!(canonicalize_once("a\u{200b}b\u{feff}c"), "abc");
        assert_eq!(canonicalize_once("a\u{7}b\u{e000}c\u{ad}d"), "abcd");
        assert_eq!(canonicalize_once("a\nb\tc"), "abc");
        // Unassigned (Cn) removed; a surrogate escape is removed too.
        assert_eq!(canonicalize_once("a\u{ffff}b"), "ab");
        assert_eq!(canonicalize_once(r"a\ud800b"), "ab");
        // 4) substitutions.
        assert_eq!(canonicalize_once("a—b–c－d·e﹏f"), "a-b-c-d•e_f");
    }

    #[test]
    fn seed_single_pass_is_not_idempotent_but_canonicalize_is() {
        // NFC runs before removal, so the zero-width space blocks composition once.
        let s = "e\u{200b}\u{301}";
        let once = canonicalize_once(s);
        assert_eq!(once, "e\u{301}");
        assert_ne!(canonicalize_once(&once), once);
        assert_eq!(canonicalize(s), "\u{e9}");
        // Removal can complete an escape.
        assert_eq!(canonicalize_once("\\u00\u{200b}41"), r"\u0041");
        assert_eq!(canonicalize("\\u00\u{200b}41"), "A");
    }
}

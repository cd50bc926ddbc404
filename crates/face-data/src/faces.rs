//! The seed notebook's face catalogue (cell 1), verbatim, and what is derived from it:
//! the canonical faces, the unique list, the character set and the label function.
//!
//! The catalogue keeps the seed's 81 named entries, duplicates included (76 unique
//! strings). Sampling draws from the 81 values as the seed's `random.choice` does, so a
//! face listed twice weighs double.
//!
//! One loss in the seed's export: its first `Converted escaped sequence` line shows
//! `(⌐■_■)` converted to `(⌐■_■)`, so one of the three `(⌐■_■)` entries carried an invisible
//! character that the notebook's text export dropped. The entries below are the exported
//! text; the charset and the canonical faces are unaffected (the character was removed by
//! canonicalisation), and `tests/conformance.rs` checks the conversion with an invisible
//! character put back.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use crate::canon::canonicalize;

/// The seed's `ascii_faces` dictionary, in its order: `(name, face)` exactly as written.
pub const CATALOGUE: [(&str, &str); 81] = [
    ("happy", "(^_^)"),
    ("big_smile", "(^o^)"),
    ("winky", "(^_~)"),
    ("surprised", "(O_O)"),
    ("disappointed", "(>_<)"),
    ("cool", "(⌐■_■)"),
    ("thinking", "(¬_¬)"),
    ("angry", "(ಠ_ಠ)"),
    ("lenny", "( ͡° ͜ʖ ͡°)"),
    ("shrug", "¯\\_(ツ)_/¯"),
    ("smirk", "(¬‿¬)"),
    ("tired", "(‐_‐) zzz"),
    ("love", "(♥_♥)"),
    ("evil", "(>:) )"),
    ("shock", "(°o°)"),
    ("blush", "(^///^)"),
    ("party", "(ﾉ◕ヮ◕)ﾉ*:･ﾟ✧"),
    ("sunglasses", "(⌐■_■)"),
    ("eyeroll", "(¬_ಠ)"),
    ("confused", "(o_O)"),
    ("awkward", "(._.)"),
    ("victory", "＼(^o^)／"),
    ("yay", "(^_^)v"),
    ("hug", "(づ｡◕‿‿◕｡)づ"),
    ("disgust", "(ಠ_ಠ ┌)"),
    ("robot", "[¬º-°]¬"),
    ("bang", "(ノಠ益ಠ)ノ彡┻━┻"),
    ("wink_tongue", "(^<_<)"),
    ("side_eye", "(>_> )"),
    ("uhh", "(._. )"),
    ("cry", "(;_;)"),
    ("happy_tears", "(T_T)"),
    ("cool_alt", "(▀̿Ĺ̯▀̿ ̿)"),
    ("evil_grin", "(ʘ‿ʘ)"),
    ("ache", "(x_x)"),
    ("zombie", "(¬º-°)¬"),
    ("joker", "(☭_☭)"),
    ("pirate", "(☠_☠)"),
    ("robot2", "(⌐■_■)"),
    ("meh", "(-_-)"),
    ("sleepy", "(‐ ‐)zzz"),
    ("celebrate", "(ﾉ･ω･)ﾉﾞ"),
    ("chuckle", "(＾ω＾)"),
    ("grin", "(≧◡≦)"),
    ("evil_smile", "(¬‿¬ )"),
    ("sassy", "(¬_¬’)"),
    ("tongue", "(:P)"),
    ("groan", "(-｡-;)"),
    ("hug2", "(づ￣ ³￣)づ"),
    ("glasses", "(B^_^)B"),
    ("victory2", "(^‿^✿)"),
    ("cool3", "(⌐■_■)ﾉ"),
    ("wut", "(°_°)"),
    ("shock2", "(°◇°)"),
    ("angry2", "(ಠ益ಠ)"),
    ("eyeroll2", "(¬_¬)"),
    ("blush2", "(^///^)"),
    ("sad", "(T_T)"),
    ("confused2", "(O_o)"),
    ("surprised2", "(ʘ_ʘ)"),
    ("wow", "(°д°)"),
    ("smile2", "(^_−)☆"),
    ("silly", "(-:)"),
    ("yum", "(*≧ω≦)"),
    ("facepalm", "(－‸ლ)"),
    ("shush", "(☞ﾟヮﾟ)☞"),
    ("raise_hand", "o(￣▽￣)o"),
    ("highfive", "o/ (•‿•) \\o"),
    ("zany", "(۞‿۞)"),
    ("love2", "(♥‿♥)"),
    ("grimace", "(>_<;)"),
    ("smile3", "(◕‿◕)"),
    ("mischief", "( ۞‿۞)"),
    ("whistle", "(°▽°)ノ♪"),
    ("cheer", "(ﾉ^_^)ﾉ"),
    ("starstruck", "(✧ω✧)"),
    ("cool5", "(⌐▨_▨)"),
    ("ninja", "(ง •̀_•́)ง"),
    ("worry", "(・_・;)"),
    ("grumpy", "(－_－メ)"),
    ("geek", "(ಠ‿↼)"),
];

/// The catalogue after canonicalisation, with lookups for the label function.
#[derive(Debug)]
pub struct Faces {
    /// `(name, canonical face)` for all 81 entries, in catalogue order.
    named: Vec<(&'static str, String)>,
    /// Unique canonical faces, in order of first appearance (76).
    unique: Vec<String>,
    /// Index into `unique` of each of the 81 entries.
    entry_to_unique: Vec<usize>,
    /// Unique-face indices grouped by their first character, for `find_face`.
    by_first_char: HashMap<char, Vec<usize>>,
    /// Sorted unique characters of the canonical faces.
    charset: Vec<char>,
}

/// A face found in a string: which unique face, and where (in `char` positions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceMatch {
    /// Index into [`Faces::unique`].
    pub face: usize,
    /// Character positions `[start, end)` of the face in the searched string.
    pub chars: Range<usize>,
}

impl Faces {
    fn build() -> Self {
        let named: Vec<(&'static str, String)> = CATALOGUE
            .iter()
            .map(|(name, face)| (*name, canonicalize(face)))
            .collect();
        let mut unique: Vec<String> = Vec::new();
        let mut entry_to_unique = Vec::with_capacity(named.len());
        for (_, face) in &named {
            let idx = match unique.iter().position(|u| u == face) {
                Some(i) => i,
                None => {
                    unique.push(face.clone());
                    unique.len() - 1
                }
            };
            entry_to_unique.push(idx);
        }
        let mut by_first_char: HashMap<char, Vec<usize>> = HashMap::new();
        for (i, face) in unique.iter().enumerate() {
            if let Some(c) = face.chars().next() {
                by_first_char.entry(c).or_default().push(i);
            }
        }
        let mut charset: Vec<char> = unique.iter().flat_map(|f| f.chars()).collect();
        charset.sort_unstable();
        charset.dedup();
        Faces {
            named,
            unique,
            entry_to_unique,
            by_first_char,
            charset,
        }
    }

    /// `(name, canonical face)` for all 81 catalogue entries, in catalogue order.
    pub fn named(&self) -> &[(&'static str, String)] {
        &self.named
    }

    /// The 76 unique canonical faces, in order of first appearance in the catalogue.
    pub fn unique(&self) -> &[String] {
        &self.unique
    }

    /// For each of the 81 entries, its index into [`Faces::unique`].
    pub fn entry_to_unique(&self) -> &[usize] {
        &self.entry_to_unique
    }

    /// Sorted (by code point) unique characters of the canonical catalogue: the seed's
    /// `face_charset` (90 characters).
    pub fn charset(&self) -> &[char] {
        &self.charset
    }

    /// Length in characters of the longest canonical face (12).
    pub fn max_face_chars(&self) -> usize {
        self.unique
            .iter()
            .map(|f| f.chars().count())
            .max()
            .unwrap_or(0)
    }

    /// The leftmost occurrence of any canonical face in `s` (longest face at that
    /// position), or `None`. `s` is searched as given, not canonicalised.
    pub fn find_face(&self, s: &str) -> Option<FaceMatch> {
        for (char_pos, (byte_pos, c)) in s.char_indices().enumerate() {
            let Some(candidates) = self.by_first_char.get(&c) else {
                continue;
            };
            let rest = &s[byte_pos..];
            let best = candidates
                .iter()
                .filter(|&&i| rest.starts_with(self.unique[i].as_str()))
                .max_by_key(|&&i| self.unique[i].len());
            if let Some(&i) = best {
                let len = self.unique[i].chars().count();
                return Some(FaceMatch {
                    face: i,
                    chars: char_pos..char_pos + len,
                });
            }
        }
        None
    }

    /// True iff `s` contains a canonical catalogue face as a substring. This is the
    /// label function: every generated label equals its value on the generated text.
    pub fn contains_face(&self, s: &str) -> bool {
        self.find_face(s).is_some()
    }
}

/// The canonical catalogue, built once.
pub fn faces() -> &'static Faces {
    static FACES: OnceLock<Faces> = OnceLock::new();
    FACES.get_or_init(Faces::build)
}

/// True iff `s` contains a canonical catalogue face (see [`Faces::contains_face`]).
///
/// ```
/// assert!(face_data::contains_face("xx(^_^)yy"));
/// assert!(!face_data::contains_face("(^_"));
/// ```
pub fn contains_face(s: &str) -> bool {
    faces().contains_face(s)
}

/// The seed's `face_charset`: sorted unique characters of the canonical catalogue.
pub fn charset() -> &'static [char] {
    faces().charset()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_has_81_entries_76_unique_with_unique_names() {
        let f = faces();
        assert_eq!(f.named().len(), 81);
        assert_eq!(f.unique().len(), 76);
        let mut names: Vec<_> = CATALOGUE.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 81, "names are dictionary keys, hence unique");
        assert_eq!(f.max_face_chars(), 12);
    }

    #[test]
    fn find_face_reports_char_positions() {
        let m = faces().find_face("ab(^_^)c").expect("face present");
        assert_eq!(m.chars, 2..7);
        assert_eq!(faces().unique()[m.face], "(^_^)");
        // `(^_^)v` is a longer face starting at the same position: the longest wins.
        let m = faces().find_face("(^_^)v").expect("face present");
        assert_eq!(faces().unique()[m.face], "(^_^)v");
    }

    #[test]
    fn contains_face_rejects_partial_and_permuted_faces() {
        assert!(contains_face("(^_^)"));
        assert!(contains_face("  (T_T)  "));
        assert!(!contains_face("(^_"));
        assert!(!contains_face("^_^)"));
        assert!(!contains_face(")^_^("));
        assert!(!contains_face(""));
        // The raw (non-canonical) fullwidth hyphen form is not a canonical face.
        assert!(!contains_face("(－_－メ)"));
        assert!(contains_face("(-_-メ)"));
    }
}

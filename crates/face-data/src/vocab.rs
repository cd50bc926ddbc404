//! Character vocabulary with its own PAD and UNK ids.
//!
//! The seed maps characters to `0..90` by sorted order and pads with 0, which is also the
//! id of the space character, so padding and spaces were indistinguishable. Here PAD is 0,
//! UNK is 1, and charset character `i` (sorted order, as the seed) is `i + 2`.

use std::collections::HashMap;
use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::write_atomic;

/// Id of the padding token.
pub const PAD_ID: u32 = 0;
/// Id of the unknown-character token.
pub const UNK_ID: u32 = 1;
/// Number of special ids before the first character.
pub const N_SPECIAL: u32 = 2;
/// Format tag written into `vocab.json`.
pub const VOCAB_FORMAT: &str = "face-vocab/1";
/// What [`Vocab::decode`] writes for UNK.
pub const UNK_CHAR: char = '\u{fffd}';

/// Which side of a string padding goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PadSide {
    /// PAD ids before the text: the text ends at the last position.
    Left,
    /// PAD ids after the text: the text starts at position 0.
    Right,
}

/// The padding scheme for a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// Left or right with probability 1/2 each, per example (the seed's scheme).
    Random,
    /// Always left.
    Left,
    /// Always right.
    Right,
}

impl Padding {
    /// The side for one example, drawing from `rng` only for [`Padding::Random`].
    pub fn side<R: Rng + ?Sized>(self, rng: &mut R) -> PadSide {
        match self {
            Padding::Left => PadSide::Left,
            Padding::Right => PadSide::Right,
            Padding::Random => {
                if rng.random::<f64>() < 0.5 {
                    PadSide::Left
                } else {
                    PadSide::Right
                }
            }
        }
    }
}

/// Token ids for one string, and how many of its characters were unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// Token ids, `[pos]`.
    pub ids: Vec<u32>,
    /// Characters mapped to UNK.
    pub unknown: usize,
}

/// A character vocabulary: PAD, UNK, then the characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
    index: HashMap<char, u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VocabFile {
    format: String,
    pad_id: u32,
    unk_id: u32,
    /// Characters in id order, starting at id 2.
    chars: Vec<String>,
}

impl Vocab {
    /// A vocabulary over `chars`, in the given order (ids `2..`). Fails on duplicates.
    pub fn new(chars: Vec<char>) -> Result<Self> {
        let mut index = HashMap::with_capacity(chars.len());
        for (i, &c) in chars.iter().enumerate() {
            let id = u32::try_from(i)
                .unwrap_or(u32::MAX)
                .saturating_add(N_SPECIAL);
            if index.insert(c, id).is_some() {
                return Err(Error::InvalidVocab {
                    path: "<memory>".into(),
                    reason: format!("character {c:?} appears twice"),
                });
            }
        }
        Ok(Vocab { chars, index })
    }

    /// The vocabulary of the seed's face charset (90 characters, 92 ids).
    pub fn faces() -> Self {
        let chars = crate::faces::charset().to_vec();
        let index = chars
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32 + N_SPECIAL))
            .collect();
        Vocab { chars, index }
    }

    /// Number of ids, PAD and UNK included: the model's `d_vocab`.
    pub fn d_vocab(&self) -> usize {
        self.chars.len() + N_SPECIAL as usize
    }

    /// The characters, in id order (id = position + 2).
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The id of `c`, or [`UNK_ID`].
    pub fn id(&self, c: char) -> u32 {
        self.index.get(&c).copied().unwrap_or(UNK_ID)
    }

    /// True iff `c` has its own id.
    pub fn contains(&self, c: char) -> bool {
        self.index.contains_key(&c)
    }

    /// A readable token for an id: the character, `<pad>`, `<unk>` or `<id N>`.
    pub fn token_str(&self, id: u32) -> String {
        match id {
            PAD_ID => "<pad>".into(),
            UNK_ID => "<unk>".into(),
            _ => self
                .chars
                .get((id - N_SPECIAL) as usize)
                .map_or_else(|| format!("<id {id}>"), |c| c.to_string()),
        }
    }

    /// Ids of `s`, one per character, unknown characters counted and mapped to UNK.
    pub fn encode(&self, s: &str) -> Encoded {
        let mut unknown = 0;
        let ids = s
            .chars()
            .map(|c| {
                let id = self.id(c);
                unknown += usize::from(id == UNK_ID);
                id
            })
            .collect();
        Encoded { ids, unknown }
    }

    /// Ids of `s` padded with PAD to exactly `n_ctx` on `side`. Errors if `s` is empty or
    /// longer than `n_ctx` characters.
    ///
    /// ```
    /// use face_data::{PadSide, Vocab, PAD_ID};
    /// let v = Vocab::faces();
    /// let e = v.encode_padded("(^_^)", 8, PadSide::Left).unwrap();
    /// assert_eq!(e.ids[..3], [PAD_ID; 3]);
    /// assert_eq!(v.decode(&e.ids), "(^_^)");
    /// assert!(v.encode_padded("(^_^)", 4, PadSide::Left).is_err());
    /// ```
    pub fn encode_padded(&self, s: &str, n_ctx: usize, side: PadSide) -> Result<Encoded> {
        let len = s.chars().count();
        if len == 0 {
            return Err(Error::Empty);
        }
        if len > n_ctx {
            return Err(Error::TooLong { len, n_ctx });
        }
        let Encoded { ids, unknown } = self.encode(s);
        let mut out = Vec::with_capacity(n_ctx);
        if side == PadSide::Left {
            out.resize(n_ctx - len, PAD_ID);
        }
        out.extend_from_slice(&ids);
        out.resize(n_ctx, PAD_ID);
        Ok(Encoded { ids: out, unknown })
    }

    /// The string for `ids`, PAD skipped, UNK as U+FFFD. Inverse of [`Vocab::encode`] on
    /// strings over the vocabulary.
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .filter(|&&id| id != PAD_ID)
            .map(|&id| {
                id.checked_sub(N_SPECIAL)
                    .and_then(|i| self.chars.get(i as usize).copied())
                    .unwrap_or(UNK_CHAR)
            })
            .collect()
    }

    /// The `vocab.json` text.
    pub fn to_json(&self) -> String {
        let file = VocabFile {
            format: VOCAB_FORMAT.into(),
            pad_id: PAD_ID,
            unk_id: UNK_ID,
            chars: self.chars.iter().map(|c| c.to_string()).collect(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Parses `vocab.json` text; `path` is only used in error messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let bad = |reason: String| Error::InvalidVocab {
            path: path.to_path_buf(),
            reason,
        };
        let file: VocabFile =
            serde_json::from_str(text).map_err(|e| bad(format!("not a vocab.json: {e}")))?;
        if file.format != VOCAB_FORMAT {
            return Err(bad(format!(
                "format {:?}, expected {VOCAB_FORMAT:?}",
                file.format
            )));
        }
        if file.pad_id != PAD_ID || file.unk_id != UNK_ID {
            return Err(bad(format!(
                "pad_id/unk_id are {}/{}, expected {PAD_ID}/{UNK_ID}",
                file.pad_id, file.unk_id
            )));
        }
        let mut chars = Vec::with_capacity(file.chars.len());
        for s in &file.chars {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => chars.push(c),
                _ => return Err(bad(format!("entry {s:?} is not exactly one character"))),
            }
        }
        Vocab::new(chars).map_err(|e| match e {
            Error::InvalidVocab { reason, .. } => bad(reason),
            other => other,
        })
    }

    /// Writes `vocab.json` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = self.to_json();
        write_atomic(path, |w| std::io::Write::write_all(w, json.as_bytes()))
    }

    /// Reads a `vocab.json`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Vocab::from_json(&text, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_and_unk_are_distinct_from_every_character() {
        let v = Vocab::faces();
        assert_eq!(v.d_vocab(), 92);
        assert_eq!(v.id(' '), 2, "space is no longer the pad id");
        for &c in v.chars() {
            assert!(v.id(c) >= N_SPECIAL);
        }
        assert_eq!(v.id('A'), UNK_ID);
    }

    #[test]
    fn unknown_characters_are_counted_not_dropped() {
        let v = Vocab::faces();
        let e = v.encode("(A^_^Z)");
        assert_eq!(e.ids.len(), 7);
        assert_eq!(e.unknown, 2);
        assert_eq!(e.ids[1], UNK_ID);
        assert_eq!(v.decode(&e.ids), "(\u{fffd}^_^\u{fffd})");
    }

    #[test]
    fn padding_sides_and_errors() {
        let v = Vocab::faces();
        let r = v.encode_padded("ab", 4, PadSide::Right).map(|e| e.ids);
        assert!(matches!(r.as_deref(), Ok([_, _, PAD_ID, PAD_ID])));
        assert!(matches!(
            v.encode_padded("", 4, PadSide::Left),
            Err(Error::Empty)
        ));
        let err = v.encode_padded("abcde", 4, PadSide::Left).unwrap_err();
        assert!(matches!(err, Error::TooLong { len: 5, n_ctx: 4 }));
        assert!(err.to_string().contains("longer than n_ctx = 4"));
    }

    #[test]
    fn json_round_trip_and_rejections() -> Result<()> {
        let v = Vocab::faces();
        let back = Vocab::from_json(&v.to_json(), Path::new("vocab.json"))?;
        assert_eq!(back, v);
        let dup = r#"{"format":"face-vocab/1","pad_id":0,"unk_id":1,"chars":["a","a"]}"#;
        let err = Vocab::from_json(dup, Path::new("v.json")).unwrap_err();
        assert!(err.to_string().contains("v.json") && err.to_string().contains("twice"));
        let multi = r#"{"format":"face-vocab/1","pad_id":0,"unk_id":1,"chars":["ab"]}"#;
        assert!(Vocab::from_json(multi, Path::new("v.json")).is_err());
        let pad = r#"{"format":"face-vocab/1","pad_id":5,"unk_id":1,"chars":["a"]}"#;
        assert!(Vocab::from_json(pad, Path::new("v.json")).is_err());
        Ok(())
    }
}

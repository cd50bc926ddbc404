//! Evaluation slices that expose shortcuts (interp-methods §6): seeded, generated
//! through `face-data`, every label from `contains_face`.

use face_data::{
    FacePool, FaceSplit, GenConfig, PadSide, Padding, Stream, Vocab, contains_face, faces,
    generate, rng,
};
use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::Result;

/// One string of a slice.
#[derive(Debug, Clone, Serialize)]
pub struct SliceItem {
    /// The string.
    pub text: String,
    /// `contains_face(text)`.
    pub label: bool,
    /// Padding side used.
    pub side: PadSide,
    /// A sub-group (filler length, offset), for slices that sweep one.
    pub group: Option<usize>,
    /// Character positions (in `text`) of the face, or of the characters that were the
    /// face before a permutation (bag-matched negatives, shuffled faces).
    pub face_chars: Option<Vec<usize>>,
    /// The string this one was derived from (the positive a bag-matched negative
    /// permutes, the face a shuffled or truncated face comes from).
    pub source: Option<String>,
}

/// A named evaluation set.
#[derive(Debug, Clone, Serialize)]
pub struct Slice {
    /// Identifier (`in_distribution`, `held_out_faces`, ...).
    pub name: &'static str,
    /// What it contains and which shortcut it exposes.
    pub description: &'static str,
    /// What `group` means, if used.
    pub group_name: Option<&'static str>,
    /// The strings.
    pub items: Vec<SliceItem>,
}

impl Slice {
    /// Padded ids, `[len, n_ctx]` row-major, and the number of unknown characters.
    pub fn encode(&self, vocab: &Vocab, n_ctx: usize) -> Result<(Vec<u32>, usize)> {
        let mut ids = Vec::with_capacity(self.items.len() * n_ctx);
        let mut unknown = 0;
        for it in &self.items {
            let e = vocab.encode_padded(&it.text, n_ctx, it.side)?;
            unknown += e.unknown;
            ids.extend_from_slice(&e.ids);
        }
        Ok((ids, unknown))
    }
}

/// What the slices are made from.
#[derive(Debug, Clone)]
pub struct SliceSpec<'a> {
    /// The run's generator settings.
    pub generator: &'a GenConfig,
    /// The run's padding scheme.
    pub padding: Padding,
    /// The faces held out of training (may be empty).
    pub face_split: &'a FaceSplit,
    /// Strings per generated slice.
    pub n: usize,
    /// Seed of the slices (distinct from the run's streams).
    pub seed: u64,
}

fn filler(cfg: &GenConfig) -> Vec<char> {
    match &cfg.filler {
        Some(f) => f.chars().collect(),
        None => faces().charset().to_vec(),
    }
}

fn random_chars(r: &mut ChaCha8Rng, alphabet: &[char], n: usize) -> String {
    (0..n)
        .map(|_| *alphabet.choose(r).unwrap_or(&' '))
        .collect()
}

/// Faces that can be drawn for slices: the training faces (not held out).
fn train_faces(split: &FaceSplit) -> Vec<usize> {
    (0..faces().unique().len())
        .filter(|&u| !split.is_held_out(u))
        .collect()
}

fn side(padding: Padding, r: &mut ChaCha8Rng) -> PadSide {
    padding.side(r)
}

fn item(
    text: String,
    side: PadSide,
    group: Option<usize>,
    face_chars: Option<Vec<usize>>,
    source: Option<String>,
) -> SliceItem {
    SliceItem {
        label: contains_face(&text),
        text,
        side,
        group,
        face_chars,
        source,
    }
}

/// Every generated slice (the in-distribution test split is added by the caller).
pub fn generated(spec: &SliceSpec<'_>) -> Result<Vec<Slice>> {
    let mut out = Vec::new();
    let f = faces();
    let n = spec.n.max(1);
    let n_ctx = spec.generator.n_ctx;
    let alphabet = filler(spec.generator);
    let pool = train_faces(spec.face_split);
    let mut r = rng(spec.seed, Stream::Examples);
    r.set_stream(100); // slices: a stream of their own

    // Held-out faces: the run's task, positives drawn only from faces never trained on.
    if !spec.face_split.held_out.is_empty() {
        let d = generate(
            spec.generator,
            FacePool::HeldOut(spec.face_split),
            n,
            spec.seed ^ 0x5eed,
        )?;
        let items = d
            .examples
            .into_iter()
            .map(|e| {
                let s = side(spec.padding, &mut r);
                let fc = e.face.as_ref().map(|p| p.chars.clone().collect());
                item(e.text, s, None, fc, None)
            })
            .collect();
        out.push(Slice {
            name: "held_out_faces",
            description: "the run's task with positives drawn only from faces never shown in training (memorised templates)",
            group_name: None,
            items,
        });
    }

    // Truncated faces: a proper prefix or suffix (at least 2 characters) of a face.
    let mut items = Vec::with_capacity(n);
    while items.len() < n {
        let u = *pool.choose(&mut r).unwrap_or(&0);
        let chars: Vec<char> = f.unique()[u].chars().collect();
        if chars.len() < 3 {
            continue;
        }
        let keep = r.random_range(2..chars.len());
        let text: String = if r.random::<bool>() {
            chars[..keep].iter().collect()
        } else {
            chars[chars.len() - keep..].iter().collect()
        };
        let s = side(spec.padding, &mut r);
        items.push(item(text, s, None, None, Some(f.unique()[u].clone())));
    }
    out.push(Slice {
        name: "truncated_faces",
        description: "a face cut short, e.g. `(^_` or `^_^)` (\"enough face characters present\")",
        group_name: None,
        items,
    });

    // Shuffled faces: the face's characters permuted (not the identity).
    let mut items = Vec::with_capacity(n);
    while items.len() < n {
        let u = *pool.choose(&mut r).unwrap_or(&0);
        let chars: Vec<char> = f.unique()[u].chars().collect();
        let mut perm: Vec<usize> = (0..chars.len()).collect();
        let mut tries = 0;
        loop {
            perm.shuffle(&mut r);
            tries += 1;
            let t: String = perm.iter().map(|&i| chars[i]).collect();
            if t != f.unique()[u] || tries > 20 {
                break;
            }
        }
        let text: String = perm.iter().map(|&i| chars[i]).collect();
        if text == f.unique()[u] {
            continue; // all characters equal: no permutation differs
        }
        let s = side(spec.padding, &mut r);
        items.push(item(
            text,
            s,
            None,
            Some((0..chars.len()).collect()),
            Some(f.unique()[u].clone()),
        ));
    }
    out.push(Slice {
        name: "shuffled_faces",
        description: "a face with its characters permuted, e.g. `)^_^(` (bag of characters)",
        group_name: None,
        items,
    });

    // Bag-matched negatives: a positive of the run's task, permuted until no face remains.
    let mut pos_cfg = spec.generator.clone();
    pos_cfg.face_prob = 1.0;
    let positives = generate(
        &pos_cfg,
        if spec.face_split.held_out.is_empty() {
            FacePool::All
        } else {
            FacePool::Train(spec.face_split)
        },
        n,
        spec.seed ^ 0xba9,
    )?;
    let mut items = Vec::with_capacity(n);
    for e in positives.examples {
        let chars: Vec<char> = e.text.chars().collect();
        let face: Vec<usize> = e
            .face
            .as_ref()
            .map(|p| p.chars.clone().collect())
            .unwrap_or_default();
        let mut perm: Vec<usize> = (0..chars.len()).collect();
        for _ in 0..100 {
            perm.shuffle(&mut r);
            let t: String = perm.iter().map(|&i| chars[i]).collect();
            if !contains_face(&t) {
                // New position j holds old position perm[j]; keep where the face went.
                let fc: Vec<usize> = (0..perm.len())
                    .filter(|&j| face.contains(&perm[j]))
                    .collect();
                let s = side(spec.padding, &mut r);
                items.push(item(t, s, None, Some(fc), Some(e.text.clone())));
                break;
            }
        }
    }
    out.push(Slice {
        name: "bag_matched_negatives",
        description: "a positive string permuted so that no face remains: same characters, no face (the strongest bag-of-characters test)",
        group_name: None,
        items,
    });

    // Brackets without a face: `(` + 1-4 random characters + `)`.
    let mut items = Vec::with_capacity(n);
    while items.len() < n {
        let k = r.random_range(1..=4);
        let text = format!("({})", random_chars(&mut r, &alphabet, k));
        if contains_face(&text) {
            continue;
        }
        let s = side(spec.padding, &mut r);
        items.push(item(text, s, None, None, None));
    }
    out.push(Slice {
        name: "brackets_without_face",
        description: "`(` and `)` around random characters, no face, e.g. `(a_b)` (bracket shortcut)",
        group_name: None,
        items,
    });

    // Faces in growing noise: filler of length g split around a face, g = 0..=n_ctx-len.
    let mut items = Vec::new();
    let short: Vec<usize> = pool
        .iter()
        .copied()
        .filter(|&u| f.unique()[u].chars().count() <= 5)
        .collect();
    let noise_pool = if short.is_empty() {
        pool.clone()
    } else {
        short
    };
    let max_fill = n_ctx.saturating_sub(5);
    let per = (n / (max_fill + 1)).max(20);
    for g in 0..=max_fill {
        for _ in 0..per {
            let u = *noise_pool.choose(&mut r).unwrap_or(&0);
            let face = &f.unique()[u];
            let len = face.chars().count();
            if len + g > n_ctx {
                continue;
            }
            let left = r.random_range(0..=g);
            let text = format!(
                "{}{face}{}",
                random_chars(&mut r, &alphabet, left),
                random_chars(&mut r, &alphabet, g - left)
            );
            let s = side(spec.padding, &mut r);
            items.push(item(
                text,
                s,
                Some(g),
                Some((left..left + len).collect()),
                Some(face.clone()),
            ));
        }
    }
    out.push(Slice {
        name: "noise",
        description: "a face (at most 5 characters) among g random filler characters, g = 0 to n_ctx − 5 (softmax dilution)",
        group_name: Some("filler length"),
        items,
    });

    // Every offset: the same faces (at most 5 characters) each placed at every offset
    // 0..=n_ctx-5 of a string of exactly n_ctx characters (no padding), so offsets differ
    // only in position.
    let mut items = Vec::new();
    let offsets = n_ctx.saturating_sub(5) + 1;
    let per = (n / offsets).max(20);
    for _ in 0..per {
        let u = *noise_pool.choose(&mut r).unwrap_or(&0);
        let face = &f.unique()[u];
        let len = face.chars().count();
        for off in 0..offsets {
            if off + len > n_ctx {
                continue;
            }
            let text = format!(
                "{}{face}{}",
                random_chars(&mut r, &alphabet, off),
                random_chars(&mut r, &alphabet, n_ctx - off - len)
            );
            items.push(item(
                text,
                PadSide::Left,
                Some(off),
                Some((off..off + len).collect()),
                Some(face.clone()),
            ));
        }
    }
    out.push(Slice {
        name: "every_offset",
        description: "the same faces (at most 5 characters) at each offset 0 to n_ctx − 5 of an n_ctx-long random string (position shortcut)",
        group_name: Some("offset"),
        items,
    });
    Ok(out)
}

/// The same strings padded left and right: two slices over one list.
pub fn padding_pair(base: &[(String, bool)]) -> (Slice, Slice) {
    let make = |side: PadSide| -> Vec<SliceItem> {
        base.iter()
            .map(|(t, l)| SliceItem {
                text: t.clone(),
                label: *l,
                side,
                group: None,
                face_chars: None,
                source: None,
            })
            .collect()
    };
    (
        Slice {
            name: "pad_left",
            description: "the test strings, all padded on the left",
            group_name: None,
            items: make(PadSide::Left),
        },
        Slice {
            name: "pad_right",
            description: "the test strings, all padded on the right",
            group_name: None,
            items: make(PadSide::Right),
        },
    )
}

/// The baseline shortcut: "contains `(` and `)`".
pub fn bracket_rule(s: &str) -> bool {
    s.contains('(') && s.contains(')')
}

/// A face and a near miss that differ by one edit.
#[derive(Debug, Clone, Serialize)]
pub struct Pair {
    /// Contains a face.
    pub clean: String,
    /// The same string after one edit; contains no face.
    pub corrupt: String,
    /// `substitution`, `deletion` or `swap`.
    pub edit: &'static str,
    /// Padding side of both.
    pub side: PadSide,
}

/// `n` minimal pairs: a positive of the run's task (training faces) and one edit inside
/// its face (substitute a character, delete one, or swap two adjacent different ones)
/// that leaves no face.
pub fn minimal_pairs(spec: &SliceSpec<'_>, n: usize, seed: u64) -> Result<Vec<Pair>> {
    let mut cfg = spec.generator.clone();
    cfg.face_prob = 1.0;
    let pool = if spec.face_split.held_out.is_empty() {
        FacePool::All
    } else {
        FacePool::Train(spec.face_split)
    };
    let positives = generate(&cfg, pool, n.max(1) * 2, seed ^ 0x9a12)?;
    let alphabet = filler(spec.generator);
    let mut r = rng(seed, Stream::Examples);
    r.set_stream(101);
    let mut out = Vec::with_capacity(n);
    for e in positives.examples {
        if out.len() >= n {
            break;
        }
        let Some(face) = e.face else { continue };
        let chars: Vec<char> = e.text.chars().collect();
        for _ in 0..50 {
            let kind = r.random_range(0..3);
            let i = r.random_range(face.chars.clone());
            let mut c = chars.clone();
            let edit = match kind {
                0 => {
                    c[i] = *alphabet.choose(&mut r).unwrap_or(&' ');
                    "substitution"
                }
                1 => {
                    c.remove(i);
                    "deletion"
                }
                _ => {
                    if i + 1 >= face.chars.end || c[i] == c[i + 1] {
                        continue;
                    }
                    c.swap(i, i + 1);
                    "swap"
                }
            };
            let corrupt: String = c.into_iter().collect();
            if !corrupt.is_empty() && !contains_face(&corrupt) {
                out.push(Pair {
                    clean: e.text.clone(),
                    corrupt,
                    edit,
                    side: side(spec.padding, &mut r),
                });
                break;
            }
        }
    }
    Ok(out)
}

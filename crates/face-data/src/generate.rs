//! Seeded dataset generation: the seed's task, the embedded task it meant to build, the
//! held-out face split and the train/test split. Every function here is a pure function
//! of its arguments and seed: the same call gives the same output, bit for bit.
//!
//! Randomness: ChaCha8 seeded from the `u64` seed, one independent stream per purpose
//! ([`Stream`]), so that e.g. changing the face split does not reshuffle the examples.

use std::ops::Range;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};
use crate::faces::{Faces, faces};

/// Independent random streams derived from one seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    /// Example generation.
    Examples = 1,
    /// The held-out face partition.
    FaceSplit = 2,
    /// The train/test split.
    TrainTest = 3,
    /// Padding sides.
    Padding = 4,
    /// The order of training examples, per epoch (`face-train`).
    Shuffle = 5,
}

/// The seeded generator for one purpose.
pub fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// Which task to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// The notebook's: a face alone, or 3–10 random charset characters.
    Seed,
    /// A face among random charset characters at a random offset, up to `n_ctx` long;
    /// negatives are random strings with the same length distribution.
    Embedded,
}

/// Largest context length the generator accepts.
pub const MAX_N_CTX: usize = 4096;

/// The seed's test fraction (`train_test_split(..., test_size=0.25)`).
pub const DEFAULT_TEST_FRAC: f64 = 0.25;

/// Generator settings. Defaults are the seed's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenConfig {
    /// The task.
    pub task: Task,
    /// Probability that an example is a positive.
    pub face_prob: f64,
    /// Context length: the longest string generated (embedded task) and the length models
    /// pad to. At least the longest face (12).
    pub n_ctx: usize,
    /// Shortest random negative of the seed task.
    pub min_len: usize,
    /// Longest random negative of the seed task.
    pub max_len: usize,
    /// Characters for random negatives and filler; `None` is the face charset (the seed).
    /// A narrow alphabet makes accidental faces common (useful for hard negatives).
    pub filler: Option<String>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            task: Task::Seed,
            face_prob: 0.5,
            n_ctx: 12,
            min_len: 3,
            max_len: 10,
            filler: None,
        }
    }
}

impl GenConfig {
    /// Checks every field; the error names the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.face_prob) {
            return Err(invalid(
                "face_prob",
                format!("{} is not a probability in [0, 1]", self.face_prob),
            ));
        }
        let longest = faces().max_face_chars();
        if self.n_ctx > MAX_N_CTX {
            return Err(invalid(
                "n_ctx",
                format!(
                    "{} is more than the supported maximum {MAX_N_CTX}",
                    self.n_ctx
                ),
            ));
        }
        if self.n_ctx < longest {
            return Err(invalid(
                "n_ctx",
                format!(
                    "{} is shorter than the longest face ({longest} characters); use n_ctx >= {longest}",
                    self.n_ctx
                ),
            ));
        }
        if self.min_len == 0 || self.min_len > self.max_len {
            return Err(invalid(
                "min_len/max_len",
                format!(
                    "need 1 <= min_len <= max_len, got {}..={}",
                    self.min_len, self.max_len
                ),
            ));
        }
        if self.task == Task::Seed && self.max_len > self.n_ctx {
            return Err(invalid(
                "max_len",
                format!("{} exceeds n_ctx = {}", self.max_len, self.n_ctx),
            ));
        }
        if self.filler.as_deref() == Some("") {
            return Err(invalid(
                "filler",
                "empty alphabet; give at least one character",
            ));
        }
        Ok(())
    }
}

/// A seeded partition of the 76 unique faces into train faces and held-out faces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceSplit {
    /// Indices into [`Faces::unique`] of the faces never used in training, sorted.
    pub held_out: Vec<usize>,
}

/// Which faces a generator may draw positives from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FacePool<'a> {
    /// All 81 catalogue entries (the seed).
    All,
    /// The entries whose face is not held out.
    Train(&'a FaceSplit),
    /// Only held-out faces.
    HeldOut(&'a FaceSplit),
}

impl FaceSplit {
    /// Holds out about `held_out_frac · 76` unique faces, chosen by `seed`.
    ///
    /// Faces nest: `(^_^)` is inside `(^_^)v`, `(^o^)` inside `＼(^o^)／`, `(⌐■_■)` inside
    /// `(⌐■_■)ﾉ`. Holding out one of a nested pair would leak it (every training `(^_^)v`
    /// contains `(^_^)`), so faces are split in groups closed under containment: whole
    /// groups are held out, in seeded order, until at least the asked-for count is reached.
    pub fn new(held_out_frac: f64, seed: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&held_out_frac) {
            return Err(invalid(
                "held_out_frac",
                format!("{held_out_frac} is not in [0, 1)"),
            ));
        }
        let groups = containment_groups();
        let n = faces().unique().len();
        let k = (held_out_frac * n as f64).round() as usize;
        let mut order: Vec<usize> = (0..groups.len()).collect();
        order.shuffle(&mut rng(seed, Stream::FaceSplit));
        let mut held_out = Vec::new();
        for g in order {
            if held_out.len() >= k {
                break;
            }
            held_out.extend_from_slice(&groups[g]);
        }
        held_out.sort_unstable();
        Ok(FaceSplit { held_out })
    }

    /// No face held out.
    pub fn none() -> Self {
        FaceSplit {
            held_out: Vec::new(),
        }
    }

    /// True iff unique face `i` is held out.
    pub fn is_held_out(&self, i: usize) -> bool {
        self.held_out.binary_search(&i).is_ok()
    }
}

/// The unique faces grouped so that a face and every face containing it (or contained in
/// it) share a group. Groups are listed by their smallest index.
pub fn containment_groups() -> Vec<Vec<usize>> {
    let u = faces().unique();
    let mut parent: Vec<usize> = (0..u.len()).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for a in 0..u.len() {
        for b in 0..u.len() {
            if a != b && u[a].contains(u[b].as_str()) {
                let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
                parent[ra.max(rb)] = ra.min(rb);
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut slot = vec![usize::MAX; u.len()];
    for i in 0..u.len() {
        let r = root(&mut parent, i);
        if slot[r] == usize::MAX {
            slot[r] = groups.len();
            groups.push(Vec::new());
        }
        groups[slot[r]].push(i);
    }
    groups
}

impl FacePool<'_> {
    /// The catalogue entries (indices into the 81) this pool samples from, duplicates
    /// weighing double as in the seed.
    pub fn entries(&self) -> Vec<usize> {
        let f = faces();
        (0..f.named().len())
            .filter(|&e| {
                let u = f.entry_to_unique()[e];
                match self {
                    FacePool::All => true,
                    FacePool::Train(s) => !s.is_held_out(u),
                    FacePool::HeldOut(s) => s.is_held_out(u),
                }
            })
            .collect()
    }
}

/// One generated example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The string.
    pub text: String,
    /// True iff `text` contains a face (always equal to `contains_face(&text)`).
    pub label: bool,
    /// For positives: the planted face (index into the unique faces) and its character
    /// positions in `text`.
    pub face: Option<PlantedFace>,
}

/// Where a positive's face was planted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlantedFace {
    /// Index into [`Faces::unique`].
    pub face: usize,
    /// Character positions `[start, end)`.
    pub chars: Range<usize>,
}

/// Counters kept while generating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenStats {
    /// Random negatives that happened to contain a face and were drawn again.
    pub redrawn_negatives: u64,
    /// Positives generated.
    pub positives: u64,
    /// Negatives generated.
    pub negatives: u64,
}

/// A generated dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// The examples, in generation order.
    pub examples: Vec<Example>,
    /// What happened while generating them.
    pub stats: GenStats,
}

/// A streaming generator: yields examples one at a time, so a million need not be held.
/// `generate(cfg, pool, n, seed)` is the first `n` items, and a longer run extends a
/// shorter one with the same seed.
pub struct Generator {
    cfg: GenConfig,
    entries: Vec<usize>,
    filler: Vec<char>,
    rng: ChaCha8Rng,
    stats: GenStats,
}

impl Generator {
    /// Validates `cfg` and `pool` and seeds the example stream.
    pub fn new(cfg: &GenConfig, pool: FacePool<'_>, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let entries = pool.entries();
        if entries.is_empty() && cfg.face_prob > 0.0 {
            return Err(invalid("face pool", "no face to draw positives from"));
        }
        let filler = match &cfg.filler {
            Some(f) => f.chars().collect(),
            None => faces().charset().to_vec(),
        };
        Ok(Generator {
            cfg: cfg.clone(),
            entries,
            filler,
            rng: rng(seed, Stream::Examples),
            stats: GenStats::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> GenStats {
        self.stats
    }

    fn random_face(&mut self, f: &Faces) -> (usize, &'static str) {
        let entry = *self.entries.choose(&mut self.rng).unwrap_or(&0);
        let u = f.entry_to_unique()[entry];
        // `faces()` is a static, so the face outlives the generator.
        (u, faces().unique()[u].as_str())
    }

    fn random_chars(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| *self.filler.choose(&mut self.rng).unwrap_or(&' '))
            .collect()
    }

    /// Random characters of length drawn by `len`, drawn again while they contain a face.
    fn negative(&mut self, f: &Faces, len: impl Fn(&mut Self) -> usize) -> String {
        loop {
            let n = len(self);
            let s = self.random_chars(n);
            if !f.contains_face(&s) {
                return s;
            }
            self.stats.redrawn_negatives += 1;
        }
    }

    /// The next example.
    pub fn next_example(&mut self) -> Example {
        let f = faces();
        let positive = self.rng.random::<f64>() < self.cfg.face_prob;
        let ex = match (self.cfg.task, positive) {
            (Task::Seed, true) => {
                let (u, face) = self.random_face(f);
                Example {
                    text: face.to_string(),
                    label: true,
                    face: Some(PlantedFace {
                        face: u,
                        chars: 0..face.chars().count(),
                    }),
                }
            }
            (Task::Seed, false) => {
                let (lo, hi) = (self.cfg.min_len, self.cfg.max_len);
                let text = self.negative(f, |g| g.rng.random_range(lo..=hi));
                Example {
                    text,
                    label: false,
                    face: None,
                }
            }
            (Task::Embedded, true) => {
                let (u, face) = self.random_face(f);
                let face_len = face.chars().count();
                let total = self.rng.random_range(face_len..=self.cfg.n_ctx);
                let offset = self.rng.random_range(0..=total - face_len);
                let prefix = self.random_chars(offset);
                let suffix = self.random_chars(total - face_len - offset);
                Example {
                    text: format!("{prefix}{face}{suffix}"),
                    label: true,
                    face: Some(PlantedFace {
                        face: u,
                        chars: offset..offset + face_len,
                    }),
                }
            }
            (Task::Embedded, false) => {
                // Same length law as the positives: a face's length, then uniform up to n_ctx.
                let n_ctx = self.cfg.n_ctx;
                let text = self.negative(f, |g| {
                    let (_, face) = g.random_face(f);
                    g.rng.random_range(face.chars().count()..=n_ctx)
                });
                Example {
                    text,
                    label: false,
                    face: None,
                }
            }
        };
        if ex.label {
            self.stats.positives += 1;
        } else {
            self.stats.negatives += 1;
        }
        ex
    }
}

impl Iterator for Generator {
    type Item = Example;
    fn next(&mut self) -> Option<Example> {
        Some(self.next_example())
    }
}

/// `n` examples of `cfg.task` drawn from `pool`, as a pure function of `seed`.
///
/// ```
/// use face_data::{generate, FacePool, GenConfig};
/// let d = generate(&GenConfig::default(), FacePool::All, 100, 7).unwrap();
/// assert_eq!(d.examples.len(), 100);
/// assert!(d.examples.iter().all(|e| e.label == face_data::contains_face(&e.text)));
/// ```
pub fn generate(cfg: &GenConfig, pool: FacePool<'_>, n: usize, seed: u64) -> Result<Dataset> {
    if n == 0 {
        return Err(invalid("n", "0 examples requested; ask for at least 1"));
    }
    let mut g = Generator::new(cfg, pool, seed)?;
    let examples = (&mut g).take(n).collect();
    Ok(Dataset {
        examples,
        stats: g.stats(),
    })
}

/// Seeded train/test split of `n` items: shuffled indices, `ceil(test_frac · n)` for test
/// (sklearn's rounding, so 1,000 gives 750/250 as in the seed with
/// [`DEFAULT_TEST_FRAC`]). Returns `(train, test)`.
pub fn train_test_split(n: usize, test_frac: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(test_frac > 0.0 && test_frac < 1.0) {
        return Err(invalid(
            "test_frac",
            format!("{test_frac} is not in (0, 1)"),
        ));
    }
    let n_test = (test_frac * n as f64).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(invalid(
            "test_frac",
            format!("{n} examples leave an empty train or test split"),
        ));
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng(seed, Stream::TrainTest));
    let test = idx.split_off(n - n_test);
    Ok((idx, test))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::contains_face;

    #[test]
    fn seed_task_shapes() -> Result<()> {
        let d = generate(&GenConfig::default(), FacePool::All, 5000, 1)?;
        for e in &d.examples {
            assert_eq!(e.label, contains_face(&e.text));
            if e.label {
                assert!(
                    faces().unique().contains(&e.text),
                    "a seed positive is a face alone"
                );
            } else {
                let n = e.text.chars().count();
                assert!((3..=10).contains(&n));
                assert!(e.text.chars().all(|c| faces().charset().contains(&c)));
            }
        }
        let pos = d.stats.positives as f64 / 5000.0;
        assert!((pos - 0.5).abs() < 0.03, "face_prob 0.5 gave {pos}");
        Ok(())
    }

    #[test]
    fn embedded_task_plants_face_at_offset_and_matches_lengths() -> Result<()> {
        let cfg = GenConfig {
            task: Task::Embedded,
            n_ctx: 20,
            ..GenConfig::default()
        };
        let d = generate(&cfg, FacePool::All, 20_000, 2)?;
        let (mut pos_len, mut neg_len, mut offsets) = (0usize, 0usize, 0usize);
        for e in &d.examples {
            let chars: Vec<char> = e.text.chars().collect();
            assert!(chars.len() <= 20);
            if let Some(p) = &e.face {
                let planted: String = chars[p.chars.clone()].iter().collect();
                assert_eq!(planted, faces().unique()[p.face]);
                pos_len += chars.len();
                offsets += usize::from(p.chars.start > 0);
            } else {
                neg_len += chars.len();
            }
        }
        let (p, n) = (d.stats.positives as f64, d.stats.negatives as f64);
        let (mp, mn) = (pos_len as f64 / p, neg_len as f64 / n);
        assert!((mp - mn).abs() < 0.15, "mean lengths {mp} vs {mn}");
        assert!(offsets as f64 / p > 0.5, "faces appear at non-zero offsets");
        Ok(())
    }

    #[test]
    fn nested_faces_share_a_group() {
        let u = faces().unique();
        let groups = containment_groups();
        let multi: Vec<Vec<&str>> = groups
            .iter()
            .filter(|g| g.len() > 1)
            .map(|g| g.iter().map(|&i| u[i].as_str()).collect())
            .collect();
        assert_eq!(
            multi,
            [
                vec!["(^_^)", "(^_^)v"],
                vec!["(^o^)", "＼(^o^)／"],
                vec!["(⌐■_■)", "(⌐■_■)ﾉ"]
            ]
        );
        assert_eq!(groups.iter().map(Vec::len).sum::<usize>(), 76);
    }

    #[test]
    fn no_held_out_face_is_inside_a_train_face_or_the_reverse() -> Result<()> {
        let u = faces().unique();
        for seed in 0..200 {
            let s = FaceSplit::new(0.2, seed)?;
            assert!(
                (15..=16).contains(&s.held_out.len()),
                "{}",
                s.held_out.len()
            );
            for h in &s.held_out {
                for t in (0..u.len()).filter(|t| !s.is_held_out(*t)) {
                    assert!(!u[t].contains(u[*h].as_str()) && !u[*h].contains(u[t].as_str()));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn face_split_partitions_and_pools_respect_it() -> Result<()> {
        let s = FaceSplit::new(0.2, 9)?;
        assert!((15..=16).contains(&s.held_out.len()));
        assert_eq!(s, FaceSplit::new(0.2, 9)?);
        assert_ne!(s, FaceSplit::new(0.2, 10)?);
        let train = FacePool::Train(&s).entries();
        let held = FacePool::HeldOut(&s).entries();
        assert_eq!(train.len() + held.len(), 81);
        let d = generate(&GenConfig::default(), FacePool::Train(&s), 2000, 3)?;
        for e in d.examples.iter().filter_map(|e| e.face.as_ref()) {
            assert!(!s.is_held_out(e.face));
        }
        Ok(())
    }

    #[test]
    fn train_test_split_is_seeded_partition() -> Result<()> {
        let (tr, te) = train_test_split(1000, 0.25, 42)?;
        assert_eq!((tr.len(), te.len()), (750, 250));
        let mut all: Vec<usize> = tr.iter().chain(&te).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(train_test_split(1000, 0.25, 42)?, (tr, te));
        assert!(train_test_split(1, 0.25, 0).is_err());
        Ok(())
    }

    #[test]
    fn bad_configs_name_the_field() {
        let e = |cfg: GenConfig| cfg.validate().unwrap_err().to_string();
        assert!(
            e(GenConfig {
                face_prob: 1.5,
                ..Default::default()
            })
            .contains("face_prob")
        );
        assert!(
            e(GenConfig {
                face_prob: f64::NAN,
                ..Default::default()
            })
            .contains("face_prob")
        );
        assert!(
            e(GenConfig {
                n_ctx: usize::MAX,
                ..Default::default()
            })
            .contains("n_ctx")
        );
        assert!(
            e(GenConfig {
                n_ctx: 11,
                ..Default::default()
            })
            .contains("n_ctx")
        );
        let zero = generate(&GenConfig::default(), FacePool::All, 0, 0).unwrap_err();
        assert!(zero.to_string().contains("invalid n"));
    }
}

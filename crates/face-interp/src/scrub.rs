//! Causal scrubbing of named hypotheses (issue 7 groundwork): resample what a hypothesis
//! says does not matter and measure how much of the loss the model keeps,
//! `(L_random − L_scrubbed) / (L_random − L_clean)`, with a bootstrap standard error.

use face_data::{PadSide, Vocab};
use face_model::RawModel;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::analysis::bce;

/// A hypothesis about what the model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hypothesis {
    /// Only the multiset of characters matters: inputs are replaced by random
    /// permutations of themselves.
    Bag,
    /// Only the brackets `(` `)` and where they are matter: every other character is
    /// replaced by a random one.
    Bracket,
    /// Only the first character matters (a deliberately wrong control).
    FirstChar,
}

impl Hypothesis {
    /// Every hypothesis.
    pub const ALL: [Hypothesis; 3] = [Hypothesis::Bag, Hypothesis::Bracket, Hypothesis::FirstChar];

    /// One scrubbed version of `text` under this hypothesis.
    pub fn resample(self, text: &str, alphabet: &[char], r: &mut ChaCha8Rng) -> String {
        let mut c: Vec<char> = text.chars().collect();
        match self {
            Hypothesis::Bag => c.shuffle(r),
            Hypothesis::Bracket => {
                // Replacements are never brackets: the brackets stay exactly as they were.
                let others: Vec<char> = alphabet
                    .iter()
                    .copied()
                    .filter(|&a| a != '(' && a != ')')
                    .collect();
                for x in c.iter_mut().filter(|x| **x != '(' && **x != ')') {
                    *x = *others.choose(r).unwrap_or(x);
                }
            }
            Hypothesis::FirstChar => {
                for x in c.iter_mut().skip(1) {
                    *x = *alphabet.choose(r).unwrap_or(x);
                }
            }
        }
        c.into_iter().collect()
    }
}

/// One hypothesis on one set.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScrubResult {
    /// Hypothesis.
    pub hypothesis: Hypothesis,
    /// Mean BCE of the model on the inputs.
    pub l_clean: f64,
    /// Mean BCE on scrubbed inputs (against the original labels).
    pub l_scrubbed: f64,
    /// Mean BCE on random other inputs of the set (against the original labels).
    pub l_random: f64,
    /// `(L_random − L_scrubbed) / (L_random − L_clean)`.
    pub recovered: f64,
    /// Bootstrap standard error of `recovered` (200 resamples of the inputs).
    pub se: f64,
}

fn logit(raw: &RawModel, vocab: &Vocab, text: &str, side: PadSide) -> f64 {
    let n_ctx = raw.config().n_ctx;
    match vocab.encode_padded(text, n_ctx, side) {
        Ok(e) => f64::from(raw.logit(&e.ids)),
        Err(_) => 0.0,
    }
}

/// Scrubs `items` (`text`, `label`, padding side) under `hyp`, drawing replacement
/// characters from `alphabet`, `samples` scrubbed versions per input.
pub fn scrub(
    raw: &RawModel,
    vocab: &Vocab,
    items: &[(String, bool, PadSide)],
    hyp: Hypothesis,
    alphabet: &[char],
    samples: usize,
    seed: u64,
) -> ScrubResult {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let n = items.len();
    let samples = samples.max(1);
    let mut clean = Vec::with_capacity(n);
    let mut scrubbed = Vec::with_capacity(n);
    let mut random = Vec::with_capacity(n);
    for (text, label, side) in items {
        clean.push(bce(logit(raw, vocab, text, *side), *label));
        let mut s = 0.0;
        let mut rr = 0.0;
        for _ in 0..samples {
            let t = hyp.resample(text, alphabet, &mut r);
            s += bce(logit(raw, vocab, &t, *side), *label);
            let (other, _, oside) = &items[r.random_range(0..n)];
            rr += bce(logit(raw, vocab, other, *oside), *label);
        }
        scrubbed.push(s / samples as f64);
        random.push(rr / samples as f64);
    }
    let ratio = |idx: &[usize]| {
        let m = |v: &[f64]| idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len().max(1) as f64;
        let (c, s, rnd) = (m(&clean), m(&scrubbed), m(&random));
        (rnd - s) / (rnd - c)
    };
    let all: Vec<usize> = (0..n).collect();
    let recovered = ratio(&all);
    let boots: Vec<f64> = (0..200)
        .map(|_| {
            let idx: Vec<usize> = (0..n).map(|_| r.random_range(0..n)).collect();
            ratio(&idx)
        })
        .filter(|x| x.is_finite())
        .collect();
    let mean = boots.iter().sum::<f64>() / boots.len().max(1) as f64;
    let se =
        (boots.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / boots.len().max(1) as f64).sqrt();
    let avg = |v: &[f64]| v.iter().sum::<f64>() / n.max(1) as f64;
    ScrubResult {
        hypothesis: hyp,
        l_clean: avg(&clean),
        l_scrubbed: avg(&scrubbed),
        l_random: avg(&random),
        recovered,
        se,
    }
}

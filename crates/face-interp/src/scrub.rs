//! Causal scrubbing of named hypotheses: resample what a hypothesis says does not matter
//! and measure how much of the loss the model keeps,
//! `(L_random − L_scrubbed) / (L_random − L_clean)`, with a bootstrap standard error.
//!
//! H_bag, H_bracket and the control are scrubbed at the input (the string is resampled);
//! H_rule is scrubbed at the head's output per position (hook_z, read out through
//! `W_U[q]`): position `q`'s output is taken from another input of the same set whose
//! position `q` has the same character and partners under the extracted rule
//! ([`crate::rule`]).

use std::collections::HashMap;

use face_data::{PadSide, Vocab};
use face_model::RawModel;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::analysis::bce;
use crate::decompose::decompose;
use crate::rule::AttentionRule;

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
    /// The extracted rule: the head's output at position `q` depends only on `q`, its
    /// character and the characters `q` attends to under the rule (its partners).
    Rule,
}

impl Hypothesis {
    /// Every hypothesis.
    pub const ALL: [Hypothesis; 4] = [
        Hypothesis::Bag,
        Hypothesis::Bracket,
        Hypothesis::Rule,
        Hypothesis::FirstChar,
    ];

    /// Its name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Hypothesis::Bag => "H_bag",
            Hypothesis::Bracket => "H_bracket",
            Hypothesis::FirstChar => "H_first_char (control)",
            Hypothesis::Rule => "H_rule",
        }
    }

    /// What the hypothesis claims, one line.
    pub fn claim(self) -> &'static str {
        match self {
            Hypothesis::Bag => {
                "only the multiset of characters matters (inputs replaced by permutations of themselves)"
            }
            Hypothesis::Bracket => {
                "only the brackets and where they are matter (every other character resampled)"
            }
            Hypothesis::FirstChar => {
                "only the first character matters (the rest resampled): a deliberately wrong control"
            }
            Hypothesis::Rule => {
                "position q's output depends only on q and its partners under the extracted rule (hook_z at q taken from another input with the same partners at q)"
            }
        }
    }

    /// One scrubbed version of `text` under an input-level hypothesis; `None` for
    /// [`Hypothesis::Rule`], which is scrubbed at the activations ([`scrub_rule`]).
    pub fn resample(self, text: &str, alphabet: &[char], r: &mut ChaCha8Rng) -> Option<String> {
        let mut c: Vec<char> = text.chars().collect();
        match self {
            Hypothesis::Rule => return None,
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
        Some(c.into_iter().collect())
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
    /// Mean BCE of the model's logit on a random input of the reference pool (against
    /// the original labels, averaged over the whole pool, so the same for every
    /// hypothesis): what the model scores when it ignores its input.
    pub l_random: f64,
    /// `(L_random − L_scrubbed) / (L_random − L_clean)`.
    pub recovered: f64,
    /// False when the model is not clearly better than a random input on this set
    /// (`L_random − L_clean < 0.25 · L_random`): the ratio's denominator is then near zero
    /// or negative and `recovered` means nothing; read `L_scrubbed − L_clean` instead.
    pub defined: bool,
    /// Bootstrap standard error of `recovered` (200 resamples of the inputs).
    pub se: f64,
    /// Inputs scored.
    pub n: usize,
    /// H_rule only: share of (input, position) pairs with no other donor (the output was
    /// kept, so the hypothesis was not tested there).
    pub self_donor: Option<f64>,
}

fn logit(raw: &RawModel, vocab: &Vocab, text: &str, side: PadSide) -> f64 {
    let n_ctx = raw.config().n_ctx;
    match vocab.encode_padded(text, n_ctx, side) {
        Ok(e) => f64::from(raw.logit(&e.ids)),
        Err(_) => 0.0,
    }
}

/// The model's logits on `items`, for the `reference` pool of the scrubbing functions.
pub fn reference_logits(
    raw: &RawModel,
    vocab: &Vocab,
    items: &[(String, bool, PadSide)],
) -> Vec<f64> {
    items
        .iter()
        .map(|(t, _, side)| logit(raw, vocab, t, *side))
        .collect()
}

/// Scrubs `items` (`text`, `label`, padding side) under `hyp`, drawing replacement
/// characters from `alphabet`, `samples` scrubbed versions per input.
///
/// `L_random` scores the model's logit on a random member of `reference` (logits, e.g.
/// [`reference_logits`] of the in-distribution test split) against each input's label:
/// a set with one label (all faces, say) would otherwise give `L_random ≈ L_clean` and
/// a meaningless ratio. An empty `reference` uses `items` themselves.
#[allow(clippy::too_many_arguments)]
pub fn scrub(
    raw: &RawModel,
    vocab: &Vocab,
    items: &[(String, bool, PadSide)],
    hyp: Hypothesis,
    alphabet: &[char],
    samples: usize,
    seed: u64,
    reference: &[f64],
) -> ScrubResult {
    if hyp == Hypothesis::Rule {
        let rule = AttentionRule::from_raw(raw, crate::rule::DEFAULT_WINDOW);
        return scrub_rule(raw, vocab, &rule, items, &[], samples, seed, reference);
    }
    let own;
    let reference = if reference.is_empty() {
        own = reference_logits(raw, vocab, items);
        &own[..]
    } else {
        reference
    };
    let random_loss = expected_loss(reference);
    // Strings that do not fit the model are left out, as in `scrub_rule`.
    let n_ctx = raw.config().n_ctx;
    let items: Vec<(String, bool, PadSide)> = items
        .iter()
        .filter(|(t, _, side)| vocab.encode_padded(t, n_ctx, *side).is_ok())
        .cloned()
        .collect();
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let n = items.len();
    let samples = samples.max(1);
    let mut clean = Vec::with_capacity(n);
    let mut scrubbed = Vec::with_capacity(n);
    let mut random = Vec::with_capacity(n);
    for (text, label, side) in &items {
        clean.push(bce(logit(raw, vocab, text, *side), *label));
        let mut s = 0.0;
        for _ in 0..samples {
            let t = hyp
                .resample(text, alphabet, &mut r)
                .unwrap_or_else(|| text.clone());
            s += bce(logit(raw, vocab, &t, *side), *label);
        }
        scrubbed.push(s / samples as f64);
        random.push(random_loss[usize::from(*label)]);
    }
    summarise(hyp, &clean, &scrubbed, &random, &mut r)
}

/// `L_random` for each label: the mean BCE, against "no face" and against "face", of
/// the model's logits on the reference pool (its expectation over a random input).
fn expected_loss(reference: &[f64]) -> [f64; 2] {
    let n = reference.len().max(1) as f64;
    [false, true].map(|label| reference.iter().map(|&z| bce(z, label)).sum::<f64>() / n)
}

/// The recovered share and its bootstrap SE from per-input losses.
fn summarise(
    hyp: Hypothesis,
    clean: &[f64],
    scrubbed: &[f64],
    random: &[f64],
    r: &mut ChaCha8Rng,
) -> ScrubResult {
    let n = clean.len();
    let ratio = |idx: &[usize]| {
        let m = |v: &[f64]| idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len().max(1) as f64;
        let (c, s, rnd) = (m(clean), m(scrubbed), m(random));
        (rnd - s) / (rnd - c)
    };
    let all: Vec<usize> = (0..n).collect();
    let recovered = ratio(&all);
    let boots: Vec<f64> = (0..200)
        .map(|_| {
            let idx: Vec<usize> = (0..n).map(|_| r.random_range(0..n.max(1))).collect();
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
        l_clean: avg(clean),
        l_scrubbed: avg(scrubbed),
        l_random: avg(random),
        recovered,
        defined: avg(random) - avg(clean) >= 0.25 * avg(random) && avg(random) > 0.0,
        se,
        n,
        self_donor: None,
    }
}

/// Scrubs `items` under [`Hypothesis::Rule`]: for each input and position `q`, the
/// head's output at `q` (its by-query logit contribution, exact from the decomposition)
/// is taken from a random input of `items` whose position `q` has the same character and
/// the same partners under `rule` (possibly itself), `samples` times per input. Donors
/// come from `items` and `pool` (more strings of the same set, not scored themselves).
/// `reference` as in [`scrub`].
#[allow(clippy::too_many_arguments)]
pub fn scrub_rule(
    raw: &RawModel,
    vocab: &Vocab,
    rule: &AttentionRule,
    items: &[(String, bool, PadSide)],
    pool: &[(String, bool, PadSide)],
    samples: usize,
    seed: u64,
    reference: &[f64],
) -> ScrubResult {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let n_ctx = raw.config().n_ctx;
    let samples = samples.max(1);
    let encode = |set: &[(String, bool, PadSide)]| -> Vec<(Vec<u32>, bool)> {
        set.iter()
            .filter_map(|(text, label, side)| {
                vocab
                    .encode_padded(text, n_ctx, *side)
                    .ok()
                    .map(|e| (e.ids, *label))
            })
            .collect()
    };
    let mut rows = encode(items);
    let n = rows.len();
    rows.extend(encode(pool));
    let bias = f64::from(raw.weights().b_u[0]);
    let contrib: Vec<Vec<f64>> = rows
        .iter()
        .map(|(ids, _)| decompose(raw, ids).by_query())
        .collect();
    type Key = (usize, (u32, Vec<u32>));
    let mut buckets: HashMap<Key, Vec<usize>> = HashMap::new();
    let mut keys = Vec::with_capacity(n);
    for (i, (ids, _)) in rows.iter().enumerate() {
        let k: Vec<Key> = (0..n_ctx).map(|q| (q, rule.partners(ids, q))).collect();
        for key in &k {
            buckets.entry(key.clone()).or_default().push(i);
        }
        keys.push(k);
    }
    let lone = keys[..n]
        .iter()
        .flatten()
        .filter(|k| buckets.get(*k).is_some_and(|b| b.len() == 1))
        .count();
    let logit = |i: usize| bias + contrib[i].iter().sum::<f64>();
    let own: Vec<f64>;
    let random_loss = expected_loss(if reference.is_empty() {
        own = (0..n).map(logit).collect();
        &own
    } else {
        reference
    });
    let (mut clean, mut scrubbed, mut random) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (i, (_, label)) in rows[..n].iter().enumerate() {
        clean.push(bce(logit(i), *label));
        let mut s = 0.0;
        for _ in 0..samples {
            let z = bias
                + keys[i]
                    .iter()
                    .map(|key| {
                        let b = &buckets[key];
                        contrib[b[r.random_range(0..b.len())]][key.0]
                    })
                    .sum::<f64>();
            s += bce(z, *label);
        }
        scrubbed.push(s / samples as f64);
        random.push(random_loss[usize::from(*label)]);
    }
    let mut out = summarise(Hypothesis::Rule, &clean, &scrubbed, &random, &mut r);
    out.self_donor = Some(lone as f64 / (n * n_ctx).max(1) as f64);
    out
}

/// Every hypothesis of [`Hypothesis::ALL`] on one set, in that order (`pool`: extra
/// donors for H_rule, see [`scrub_rule`]).
#[allow(clippy::too_many_arguments)]
pub fn scrub_all(
    raw: &RawModel,
    vocab: &Vocab,
    rule: &AttentionRule,
    items: &[(String, bool, PadSide)],
    pool: &[(String, bool, PadSide)],
    alphabet: &[char],
    samples: usize,
    seed: u64,
    reference: &[f64],
) -> Vec<ScrubResult> {
    Hypothesis::ALL
        .iter()
        .map(|&h| match h {
            Hypothesis::Rule => scrub_rule(raw, vocab, rule, items, pool, samples, seed, reference),
            _ => scrub(raw, vocab, items, h, alphabet, samples, seed, reference),
        })
        .collect()
}

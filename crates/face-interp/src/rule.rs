//! Groundwork for the extracted algorithm (issue 7): a hard-attention reading of the
//! weights, and an exhaustive checker that compares the model with a rule on every
//! string of a restricted domain using the raw `f32` evaluator.
//!
//! The hard-attention rule: each position `q` attends, with equal weight, only to the
//! keys whose QK score is highest for its character (ties within `tie`), and adds
//! `UV[q, key]`; the string is a face when `b_U + Σ_q` of those votes is positive. When
//! the model's attention is sharp this is the model; where it is not, the exhaustive
//! check lists where they part.

use face_data::PAD_ID;
use face_model::RawModel;
use serde::Serialize;

/// The hard-attention rule, read from the QK and UV tables.
#[derive(Debug, Clone)]
pub struct HardAttentionRule {
    n_ctx: usize,
    d_vocab: usize,
    qk: Vec<f32>,
    uv: Vec<f32>,
    bias: f32,
    mask_pad: bool,
    tie: f32,
}

impl HardAttentionRule {
    /// Reads the rule off `raw`'s tables; scores within `tie` of a row's best count as
    /// ties.
    pub fn from_raw(raw: &RawModel, tie: f32) -> Self {
        let cfg = raw.config();
        HardAttentionRule {
            n_ctx: cfg.n_ctx,
            d_vocab: cfg.d_vocab,
            qk: raw.qk_table().to_vec(),
            uv: raw.uv_table().to_vec(),
            bias: raw.weights().b_u[0],
            mask_pad: cfg.mask_pad_keys,
            tie,
        }
    }

    /// The same rule with another threshold (bias), for tests and what-ifs.
    pub fn with_bias(mut self, bias: f32) -> Self {
        self.bias = bias;
        self
    }

    /// The rule's score of one padded row (`ids.len() == n_ctx`): positive means "face".
    pub fn score(&self, ids: &[u32]) -> f32 {
        let dv = self.d_vocab;
        let live = |t: u32| !(self.mask_pad && t == PAD_ID);
        let mut total = self.bias;
        for (q, &tq) in ids.iter().enumerate().take(self.n_ctx) {
            let row = &self.qk[tq as usize * dv..(tq as usize + 1) * dv];
            let best = ids
                .iter()
                .filter(|&&t| live(t))
                .map(|&t| row[t as usize])
                .fold(f32::NEG_INFINITY, f32::max);
            let (mut sum, mut count) = (0.0f32, 0usize);
            for &tk in ids.iter().filter(|&&t| live(t)) {
                if row[tk as usize] >= best - self.tie {
                    sum += self.uv[q * dv + tk as usize];
                    count += 1;
                }
            }
            if count > 0 {
                total += sum / count as f32;
            }
        }
        total
    }
}

/// The truth for a string of token ids (no padding).
pub type Label<'a> = &'a (dyn Fn(&[u32]) -> bool + Sync);

/// A disagreement: the string's ids (no padding), the model's logit, the rule's score.
pub type Disagreement = (Vec<u32>, f32, f32);

/// One thread's counts.
#[derive(Default)]
struct Part {
    n: u64,
    disagreements: u64,
    correct: u64,
    predicted_errors: u64,
    predicted_hits: u64,
    examples: Vec<Disagreement>,
    adversarial: Vec<Disagreement>,
}

/// The result of an exhaustive comparison.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exhaustive {
    /// Strings checked.
    pub n: u64,
    /// Strings where model and rule decide differently.
    pub disagreements: u64,
    /// Up to `keep` of them: `(ids without padding, model logit, rule score)`.
    pub examples: Vec<Disagreement>,
    /// Model accuracy against `contains_face` over the domain (when a label is given).
    pub model_accuracy: Option<f64>,
    /// Adversarial inputs predicted from the tables alone: strings where the rule's
    /// decision contradicts the label (so the rule predicts a model error).
    pub predicted_errors: u64,
    /// Of those, the ones where the model does err: the hit rate's numerator.
    pub predicted_hits: u64,
    /// Up to `keep` predicted-and-confirmed errors.
    pub adversarial: Vec<Disagreement>,
}

/// Every string of length 1..=`max_len` over `alphabet` (token ids), padded on `side`
/// to the model's `n_ctx`: model (raw evaluator) vs `rule`. `label` gives the truth for
/// the accuracy figure. Runs on every core.
pub fn exhaustive(
    raw: &RawModel,
    rule: &HardAttentionRule,
    alphabet: &[u32],
    max_len: usize,
    side: face_data::PadSide,
    label: Option<Label<'_>>,
    keep: usize,
) -> Exhaustive {
    let n_ctx = raw.config().n_ctx;
    let a = alphabet.len();
    let max_len = max_len.min(n_ctx);
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let mut total = Exhaustive {
        n: 0,
        disagreements: 0,
        examples: Vec::new(),
        model_accuracy: None,
        predicted_errors: 0,
        predicted_hits: 0,
        adversarial: Vec::new(),
    };
    let mut correct = 0u64;
    for len in 1..=max_len {
        let count = (a as u64).pow(len as u32);
        let chunk = count.div_ceil(threads as u64);
        let parts: Vec<Part> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads as u64)
                .map(|t| {
                    s.spawn(move || {
                        let (lo, hi) = (t * chunk, ((t + 1) * chunk).min(count));
                        let mut part = Part::default();
                        let mut text = vec![0u32; len];
                        let mut row = vec![PAD_ID; n_ctx];
                        for i in lo..hi {
                            let mut x = i;
                            for c in text.iter_mut().rev() {
                                *c = alphabet[(x % a as u64) as usize];
                                x /= a as u64;
                            }
                            row.fill(PAD_ID);
                            match side {
                                face_data::PadSide::Left => {
                                    row[n_ctx - len..].copy_from_slice(&text)
                                }
                                face_data::PadSide::Right => row[..len].copy_from_slice(&text),
                            }
                            let z = raw.logit(&row);
                            let r = rule.score(&row);
                            let (model, ruled) = (z >= 0.0, r > 0.0);
                            part.n += 1;
                            if model != ruled {
                                part.disagreements += 1;
                                if part.examples.len() < keep {
                                    part.examples.push((text.clone(), z, r));
                                }
                            }
                            if let Some(l) = label {
                                let truth = l(&text);
                                part.correct += u64::from(model == truth);
                                if ruled != truth {
                                    part.predicted_errors += 1;
                                    if model != truth {
                                        part.predicted_hits += 1;
                                        if part.adversarial.len() < keep {
                                            part.adversarial.push((text.clone(), z, r));
                                        }
                                    }
                                }
                            }
                        }
                        part
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for p in parts {
            total.n += p.n;
            total.disagreements += p.disagreements;
            total.predicted_errors += p.predicted_errors;
            total.predicted_hits += p.predicted_hits;
            correct += p.correct;
            for e in p.examples {
                if total.examples.len() < keep {
                    total.examples.push(e);
                }
            }
            for e in p.adversarial {
                if total.adversarial.len() < keep {
                    total.adversarial.push(e);
                }
            }
        }
    }
    if label.is_some() {
        total.model_accuracy = Some(correct as f64 / total.n.max(1) as f64);
    }
    total
}

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

/// One thread's counts: strings, disagreements, correct (vs the label), examples.
type Part = (u64, u64, u64, Vec<Disagreement>);

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
        model_accuracy: label.map(|_| 0.0),
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
                        let (mut n, mut dis, mut ok) = (0u64, 0u64, 0u64);
                        let mut ex = Vec::new();
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
                            n += 1;
                            if (z >= 0.0) != (r > 0.0) {
                                dis += 1;
                                if ex.len() < keep {
                                    ex.push((text.clone(), z, r));
                                }
                            }
                            if let Some(l) = label {
                                ok += u64::from((z >= 0.0) == l(&text));
                            }
                        }
                        (n, dis, ok, ex)
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or((0, 0, 0, Vec::new())))
                .collect()
        });
        for (n, dis, ok, ex) in parts {
            total.n += n;
            total.disagreements += dis;
            correct += ok;
            for e in ex {
                if total.examples.len() < keep {
                    total.examples.push(e);
                }
            }
        }
    }
    if label.is_some() {
        total.model_accuracy = Some(correct as f64 / total.n.max(1) as f64);
    }
    total
}

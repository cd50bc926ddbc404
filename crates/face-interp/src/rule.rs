//! The extracted algorithm (issue 7): a sparse-attention reading of the weights, its
//! plain-language summary, its agreement with the model, and an exhaustive checker that
//! compares the model with the rule on every string of a restricted domain using the raw
//! `f32` evaluator.
//!
//! The rule, read off the QK and UV tables (see [`crate::decompose`]):
//!
//! 1. every position `q` (padding included: pads are queries too) scores each character
//!    of the string with its own character's row of the QK table and attends only to its
//!    "partners", the characters scoring within `window` of its best, in proportion to
//!    `e^score`; everything further below (under `e^-window` of the best one's weight) is
//!    ignored;
//! 2. each position casts the vote `Σ weight · UV[q, partner]`;
//! 3. the string is a face when `b_U + Σ_q vote_q ≥ 0` (as the model: sigmoid ≥ 0.5).
//!
//! With a window of 0 this is hard attention (argmax, ties split evenly); as the window
//! grows it becomes the model. [`DEFAULT_WINDOW`] = 4 drops keys with under 1.8% of the
//! best key's weight. Where rule and model part, [`exhaustive`] says why ([`Class`]).

use std::collections::HashMap;

use face_data::{PAD_ID, PadSide, Vocab};
use face_model::RawModel;
use serde::Serialize;

use crate::analysis::token_display;

/// The rule's window: keys scoring more than 4 below a row's best (under `e^-4` ≈ 1.8%
/// of its weight) are ignored. The report scans other windows beside it.
pub const DEFAULT_WINDOW: f32 = 4.0;

/// The window of [`Class::NearWindow`]: keys down to `e^-6` ≈ 0.25% of the best.
pub const WIDE_WINDOW: f32 = 6.0;

/// The windows the report scans: hard attention (0), ln 4, 2, 3, 4, 6.
pub const WINDOWS: [f32; 6] = [0.0, std::f32::consts::LN_2 * 2.0, 2.0, 3.0, 4.0, 6.0];

/// The sparse-attention rule, read from the QK and UV tables.
#[derive(Debug, Clone)]
pub struct AttentionRule {
    n_ctx: usize,
    d_vocab: usize,
    qk: Vec<f32>,
    uv: Vec<f32>,
    bias: f32,
    mask_pad: bool,
    window: f32,
}

/// One position of an [`AttentionRule::trace`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    /// Position.
    pub pos: usize,
    /// Its token.
    pub token: String,
    /// The tokens it attends to and their total weight, heaviest first.
    pub partners: Vec<(String, f32)>,
    /// Its vote.
    pub vote: f32,
}

impl AttentionRule {
    /// Reads the rule off `raw`'s tables with the given window.
    pub fn from_raw(raw: &RawModel, window: f32) -> Self {
        let cfg = raw.config();
        AttentionRule {
            n_ctx: cfg.n_ctx,
            d_vocab: cfg.d_vocab,
            qk: raw.qk_table().to_vec(),
            uv: raw.uv_table().to_vec(),
            bias: raw.weights().b_u[0],
            mask_pad: cfg.mask_pad_keys,
            window,
        }
    }

    /// The same rule with another bias (so threshold `-bias`), for tests and what-ifs.
    pub fn with_bias(mut self, bias: f32) -> Self {
        self.bias = bias;
        self
    }

    /// The same rule with another window.
    pub fn with_window(mut self, window: f32) -> Self {
        self.window = window;
        self
    }

    /// The window.
    pub fn window(&self) -> f32 {
        self.window
    }

    /// `b_U`: the string is a face when the votes sum to at least `-bias`.
    pub fn bias(&self) -> f32 {
        self.bias
    }

    fn live(&self, t: u32) -> bool {
        !(self.mask_pad && t == PAD_ID)
    }

    fn row(&self, t: u32) -> &[f32] {
        &self.qk[t as usize * self.d_vocab..(t as usize + 1) * self.d_vocab]
    }

    /// The best live key score of `row` in `ids`.
    fn best(&self, row: &[f32], ids: &[u32]) -> f32 {
        ids.iter()
            .filter(|&&t| self.live(t))
            .map(|&t| row[t as usize])
            .fold(f32::NEG_INFINITY, f32::max)
    }

    /// Position `q`'s vote: softmax over the keys within `window` of the best.
    fn vote(&self, ids: &[u32], q: usize, window: f32) -> f32 {
        let row = self.row(ids[q]);
        let best = self.best(row, ids);
        let (mut sum, mut den) = (0.0f32, 0.0f32);
        for &tk in ids.iter().filter(|&&t| self.live(t)) {
            let s = row[tk as usize];
            if s >= best - window {
                let w = (s - best).exp();
                sum += w * self.uv[q * self.d_vocab + tk as usize];
                den += w;
            }
        }
        if den > 0.0 { sum / den } else { 0.0 }
    }

    /// Each position's vote, `[n_ctx]`, for one padded row (`ids.len() == n_ctx`).
    pub fn votes(&self, ids: &[u32]) -> Vec<f32> {
        (0..ids.len().min(self.n_ctx))
            .map(|q| self.vote(ids, q, self.window))
            .collect()
    }

    /// The rule's score of one padded row (`ids.len() == n_ctx`): "face" when ≥ 0, like the model (sigmoid ≥ 0.5).
    pub fn score(&self, ids: &[u32]) -> f32 {
        self.score_window(ids, self.window)
    }

    /// The score with another window (the report's window scan; [`Class`]).
    pub fn score_window(&self, ids: &[u32], window: f32) -> f32 {
        let mut total = self.bias;
        for q in 0..ids.len().min(self.n_ctx) {
            total += self.vote(ids, q, window);
        }
        total
    }

    /// Position `q`'s query token and partner tokens (sorted, with multiplicity): what
    /// the rule says its output depends on, with the position itself.
    pub fn partners(&self, ids: &[u32], q: usize) -> (u32, Vec<u32>) {
        let row = self.row(ids[q]);
        let best = self.best(row, ids);
        let mut p: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&t| self.live(t) && row[t as usize] >= best - self.window)
            .collect();
        p.sort_unstable();
        (ids[q], p)
    }

    /// Mean number of distinct partner characters per position over padded `rows`
    /// (`[n, n_ctx]`): how sparse the rule's attention is.
    pub fn mean_partners(&self, rows: &[u32], window: f32) -> f64 {
        let (mut total, mut count) = (0usize, 0usize);
        for ids in rows.chunks(self.n_ctx) {
            for &tq in ids {
                let row = self.row(tq);
                let best = self.best(row, ids);
                let mut p: Vec<u32> = ids
                    .iter()
                    .copied()
                    .filter(|&t| self.live(t) && row[t as usize] >= best - window)
                    .collect();
                p.sort_unstable();
                p.dedup();
                total += p.len();
                count += 1;
            }
        }
        total as f64 / count.max(1) as f64
    }

    /// The rule applied step by step to one padded row, for the report.
    pub fn trace(&self, vocab: &Vocab, ids: &[u32]) -> Vec<Step> {
        (0..ids.len().min(self.n_ctx))
            .map(|q| {
                let row = self.row(ids[q]);
                let best = self.best(row, ids);
                let mut w: Vec<(u32, f32)> = Vec::new();
                let mut den = 0.0f32;
                for &t in ids.iter().filter(|&&t| self.live(t)) {
                    let s = row[t as usize];
                    if s >= best - self.window {
                        let e = (s - best).exp();
                        den += e;
                        match w.iter_mut().find(|(x, _)| *x == t) {
                            Some(x) => x.1 += e,
                            None => w.push((t, e)),
                        }
                    }
                }
                w.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                Step {
                    pos: q,
                    token: token_display(vocab, ids[q], "·", "<unk>"),
                    partners: w
                        .iter()
                        .map(|&(t, e)| (token_display(vocab, t, "·", "<unk>"), e / den.max(1e-30)))
                        .collect(),
                    vote: self.vote(ids, q, self.window),
                }
            })
            .collect()
    }
}

/// One character's votes in the rule: what a position adds when it attends to it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CharVote {
    /// The token (`·` for padding, `␣` for space).
    pub token: String,
    /// Its id.
    pub id: u32,
    /// Mean of `UV[q, c]` over the `n_ctx` positions.
    pub mean: f32,
    /// Smallest vote and its position.
    pub min: (f32, usize),
    /// Largest vote and its position.
    pub max: (f32, usize),
    /// Query characters (of all `d_vocab`) whose QK row ranks this one first.
    pub first_choice_of: usize,
}

/// The rule in plain terms.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleSummary {
    /// The window (score units).
    pub window: f32,
    /// The string is a face when its votes sum to at least this (`-b_U`).
    pub threshold: f32,
    /// Every token's votes, largest mean first.
    pub votes: Vec<CharVote>,
    /// The tokens most often ranked first by a query character ("magnets"), most first;
    /// only those ranked first by at least one query.
    pub magnets: Vec<CharVote>,
    /// Query characters whose first choice is each of the top magnets (up to 12 each).
    pub magnet_queries: Vec<(String, Vec<String>)>,
    /// How far the votes depend on the position: mean over tokens of
    /// `(max − min) / (|mean| + 1)`.
    pub position_spread: f32,
    /// The rule in sentences, with this model's numbers.
    pub text: Vec<String>,
}

/// Reads the plain-language summary off the rule's tables; `top` characters each way.
pub fn summarize(rule: &AttentionRule, vocab: &Vocab, top: usize) -> RuleSummary {
    let (dv, n) = (rule.d_vocab, rule.n_ctx);
    let mut first = vec![0usize; dv];
    let mut first_of: Vec<Vec<u32>> = vec![Vec::new(); dv];
    for a in 0..dv as u32 {
        let row = rule.row(a);
        let best = (0..dv as u32)
            .filter(|&b| rule.live(b))
            .max_by(|&x, &y| row[x as usize].total_cmp(&row[y as usize]));
        if let Some(b) = best {
            // Every key tied with the best counts.
            for c in (0..dv as u32).filter(|&c| rule.live(c)) {
                if row[c as usize] >= row[b as usize] - 1e-6 {
                    first[c as usize] += 1;
                    first_of[c as usize].push(a);
                }
            }
        }
    }
    let mut votes: Vec<CharVote> = (0..dv as u32)
        .map(|c| {
            let col: Vec<f32> = (0..n).map(|q| rule.uv[q * dv + c as usize]).collect();
            let (mut lo, mut hi) = ((f32::INFINITY, 0), (f32::NEG_INFINITY, 0));
            for (q, &v) in col.iter().enumerate() {
                if v < lo.0 {
                    lo = (v, q);
                }
                if v > hi.0 {
                    hi = (v, q);
                }
            }
            CharVote {
                token: token_display(vocab, c, "·", "<unk>"),
                id: c,
                mean: col.iter().sum::<f32>() / n.max(1) as f32,
                min: lo,
                max: hi,
                first_choice_of: first[c as usize],
            }
        })
        .collect();
    votes.sort_by(|a, b| b.mean.total_cmp(&a.mean).then(a.id.cmp(&b.id)));
    let mut magnets: Vec<CharVote> = votes
        .iter()
        .filter(|v| v.first_choice_of > 0)
        .cloned()
        .collect();
    magnets.sort_by(|a, b| {
        b.first_choice_of
            .cmp(&a.first_choice_of)
            .then(a.id.cmp(&b.id))
    });
    let magnet_queries = magnets
        .iter()
        .take(top)
        .map(|m| {
            (
                m.token.clone(),
                first_of[m.id as usize]
                    .iter()
                    .take(12)
                    .map(|&a| token_display(vocab, a, "·", "<unk>"))
                    .collect(),
            )
        })
        .collect();
    let position_spread = votes
        .iter()
        .map(|v| (v.max.0 - v.min.0) / (v.mean.abs() + 1.0))
        .sum::<f32>()
        / votes.len().max(1) as f32;
    let threshold = -rule.bias;
    let fmt = |v: &CharVote| {
        if (v.max.0 - v.min.0).abs() < 1e-6 {
            format!("`{}` {:+.2}", v.token, v.mean)
        } else {
            format!(
                "`{}` {:+.2} (from {:+.1} at position {} to {:+.1} at {})",
                v.token, v.mean, v.min.0, v.min.1, v.max.0, v.max.1
            )
        }
    };
    let pros: Vec<String> = votes
        .iter()
        .filter(|v| v.mean > 0.0)
        .take(top)
        .map(fmt)
        .collect();
    let cons: Vec<String> = votes
        .iter()
        .rev()
        .filter(|v| v.mean < 0.0)
        .take(top)
        .map(fmt)
        .collect();
    let n_pro = votes.iter().filter(|v| v.mean > 0.0).count();
    let n_con = votes.iter().filter(|v| v.mean < 0.0).count();
    let mut text = vec![
        format!(
            "Each of the {n} positions (padding included) looks at the characters of the padded string and attends only to the few its own character scores highest in the QK table: those within {:.1} of its favourite, weighted by e^score; characters further below (under {:.1}% of the favourite's weight) are ignored.",
            rule.window,
            100.0 * (-rule.window).exp()
        ),
        format!(
            "The attended characters cast votes that depend on the position; the string is called a face when the {n} votes sum to at least {threshold:.2}."
        ),
        format!(
            "{n_pro} characters vote for a face on average over positions, strongest first: {}.",
            if pros.is_empty() {
                "none".into()
            } else {
                pros.join(", ")
            }
        ),
        format!(
            "{n_con} vote against, strongest first: {}.",
            if cons.is_empty() {
                "none".into()
            } else {
                cons.join(", ")
            }
        ),
    ];
    if !magnets.is_empty() {
        let list = magnets
            .iter()
            .take(top.max(1))
            .map(|m| format!("{} rank `{}` first", m.first_choice_of, m.token))
            .collect::<Vec<_>>()
            .join(", ");
        text.push(format!(
            "Who attends to whom, of the {dv} query characters (when the character is present): {list}. A string containing a strong magnet is decided mostly by that magnet's votes."
        ));
    }
    RuleSummary {
        window: rule.window,
        threshold,
        votes,
        magnets,
        magnet_queries,
        position_spread,
        text,
    }
}

/// The rule against the model (and the truth) on one set of inputs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleAgreement {
    /// Slice name.
    pub slice: String,
    /// Inputs.
    pub n: usize,
    /// Share of inputs where rule and model decide the same.
    pub agreement: f64,
    /// `1 − Σ(z − r)² / Σ(z − z̄)²`: the rule's score taken as a prediction of the logit
    /// (not refitted).
    pub r2: f64,
    /// The rule's accuracy against `contains_face`.
    pub rule_accuracy: f64,
    /// The model's accuracy, for comparison.
    pub model_accuracy: f64,
    /// The bracket rule's accuracy, for comparison.
    pub bracket_accuracy: f64,
}

/// Compares the rule with the model's logits `z` on padded rows `ids` (`[n, n_ctx]`)
/// whose labels are `labels` and bracket-rule decisions `bracket`.
pub fn agreement(
    rule: &AttentionRule,
    slice: &str,
    ids: &[u32],
    z: &[f32],
    labels: &[bool],
    bracket: &[bool],
) -> RuleAgreement {
    let n = z.len();
    let n_ctx = rule.n_ctx;
    let r: Vec<f32> = ids.chunks(n_ctx).map(|row| rule.score(row)).collect();
    let share =
        |f: &dyn Fn(usize) -> bool| (0..n).filter(|&i| f(i)).count() as f64 / n.max(1) as f64;
    let mean = z.iter().map(|&x| f64::from(x)).sum::<f64>() / n.max(1) as f64;
    let sst: f64 = z.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum();
    let sse: f64 = z
        .iter()
        .zip(&r)
        .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
        .sum();
    RuleAgreement {
        slice: slice.into(),
        n,
        agreement: share(&|i| (z[i] >= 0.0) == (r[i] >= 0.0)),
        r2: if sst > 0.0 { 1.0 - sse / sst } else { f64::NAN },
        rule_accuracy: share(&|i| (r[i] >= 0.0) == labels[i]),
        model_accuracy: share(&|i| (z[i] >= 0.0) == labels[i]),
        bracket_accuracy: share(&|i| bracket[i] == labels[i]),
    }
}

/// The truth for a string of token ids (no padding).
pub type Label<'a> = &'a (dyn Fn(&[u32]) -> bool + Sync);

/// Why the rule and the model part on a string: what the rule's window leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Widening the window to [`WIDE_WINDOW`] agrees with the model: keys just outside
    /// the window (between `e^-window` and `e^-6` ≈ 0.25% of the best key's weight) carry
    /// the decision.
    NearWindow,
    /// Only the full softmax (same tables, same bias) agrees: many faint keys, each under
    /// 0.25% of the best one's weight, add up to the decision.
    Diffuse,
    /// Not even the full softmax over the rule's tables agrees: the rule's bias differs
    /// from the model's, or the model's own f32 rounding decides a logit at ≈ 0.
    Other,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 3] = [Class::NearWindow, Class::Diffuse, Class::Other];

    /// One line saying what the class means.
    pub fn explain(self) -> &'static str {
        match self {
            Class::NearWindow => {
                "keys just outside the window (0.25%–1.8% of the favourite's weight) carry the decision; a window of 6 agrees with the model"
            }
            Class::Diffuse => {
                "faint keys (under 0.25% of the favourite's weight each) add up to the decision; only the full softmax agrees"
            }
            Class::Other => {
                "not even the full softmax over the same tables agrees: a different bias, or f32 rounding at a logit of ≈ 0"
            }
        }
    }
}

/// A disagreement: the string's ids (no padding), padding side, the model's logit, the
/// rule's score, and its class.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Disagreement {
    /// Token ids, no padding.
    pub ids: Vec<u32>,
    /// Padding side.
    pub side: PadSide,
    /// Model logit.
    pub logit: f32,
    /// Rule score.
    pub score: f32,
    /// Why.
    pub class: Class,
}

/// A string the rule predicts the model gets wrong, and the model does.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Adversarial {
    /// Token ids, no padding.
    pub ids: Vec<u32>,
    /// Padding side.
    pub side: PadSide,
    /// Model logit.
    pub logit: f32,
    /// Rule score.
    pub score: f32,
    /// The label (`contains_face`).
    pub truth: bool,
}

/// One thread's counts.
#[derive(Default)]
struct Part {
    n: u64,
    disagreements: u64,
    correct: u64,
    rule_correct: u64,
    predicted_errors: u64,
    predicted_hits: u64,
    kind: [(u64, u64); 2],
    by_class: HashMap<Class, u64>,
    examples: Vec<Disagreement>,
    adversarial: Vec<Adversarial>,
}

/// The result of an exhaustive comparison.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Exhaustive {
    /// Strings checked (each string once per padding side).
    pub n: u64,
    /// Alphabet size and maximum length.
    pub alphabet: usize,
    /// Longest string.
    pub max_len: usize,
    /// Padding sides checked.
    pub sides: Vec<PadSide>,
    /// Strings where model and rule decide differently.
    pub disagreements: u64,
    /// Disagreements per class (every one is classified), in [`Class::ALL`] order.
    pub by_class: Vec<(Class, u64)>,
    /// Disagreements kept: all of them when `keep_all`, else up to `keep` per class.
    pub examples: Vec<Disagreement>,
    /// Model accuracy against the label over the domain (when a label is given).
    pub model_accuracy: Option<f64>,
    /// Rule accuracy against the label.
    pub rule_accuracy: Option<f64>,
    /// Adversarial inputs predicted from the tables alone: strings where the rule's
    /// decision contradicts the label (so the rule predicts a model error).
    pub predicted_errors: u64,
    /// Of those, the ones where the model does err: the hit rate's numerator.
    pub predicted_hits: u64,
    /// `(predicted, hits)` for false faces (the label says no face) and for missed faces.
    pub false_faces: (u64, u64),
    /// `(predicted, hits)` for missed faces (the label says face).
    pub missed_faces: (u64, u64),
    /// Up to `keep` predicted-and-confirmed errors of each kind.
    pub adversarial: Vec<Adversarial>,
    /// Wall time, seconds.
    pub seconds: f64,
}

impl Exhaustive {
    /// `predicted_hits / predicted_errors`.
    pub fn hit_rate(&self) -> f64 {
        self.predicted_hits as f64 / self.predicted_errors.max(1) as f64
    }
}

/// The class of a disagreement on padded `row`.
fn classify(rule: &AttentionRule, row: &[u32], model: bool) -> Class {
    if rule.window < WIDE_WINDOW && (rule.score_window(row, WIDE_WINDOW) >= 0.0) == model {
        Class::NearWindow
    } else if (rule.score_window(row, f32::INFINITY) >= 0.0) == model {
        Class::Diffuse
    } else {
        Class::Other
    }
}

/// Every string of length 1..=`max_len` over `alphabet` (token ids), padded on each of
/// `sides` to the model's `n_ctx`: model (raw evaluator) vs `rule`. `label` gives the
/// truth for the accuracy figures and the adversarial hit rate. Every disagreement is
/// classified ([`Class`]); all are kept when `keep_all`, else `keep` per class. Runs on
/// every core; the result (examples and their order included) does not depend on the
/// number of threads.
#[allow(clippy::too_many_arguments)]
pub fn exhaustive(
    raw: &RawModel,
    rule: &AttentionRule,
    alphabet: &[u32],
    max_len: usize,
    sides: &[PadSide],
    label: Option<Label<'_>>,
    keep: usize,
    keep_all: bool,
) -> Exhaustive {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    exhaustive_on(
        raw, rule, alphabet, max_len, sides, label, keep, keep_all, threads,
    )
}

/// [`exhaustive`] on `threads` threads (at least 1).
#[allow(clippy::too_many_arguments)]
pub fn exhaustive_on(
    raw: &RawModel,
    rule: &AttentionRule,
    alphabet: &[u32],
    max_len: usize,
    sides: &[PadSide],
    label: Option<Label<'_>>,
    keep: usize,
    keep_all: bool,
    threads: usize,
) -> Exhaustive {
    let t0 = std::time::Instant::now();
    let n_ctx = raw.config().n_ctx;
    let a = alphabet.len();
    let max_len = max_len.min(n_ctx);
    let threads = threads.max(1);
    let mut total = Part::default();
    for &side in sides {
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
                                    PadSide::Left => row[n_ctx - len..].copy_from_slice(&text),
                                    PadSide::Right => row[..len].copy_from_slice(&text),
                                }
                                let z = raw.logit(&row);
                                let r = rule.score(&row);
                                let (model, ruled) = (z >= 0.0, r >= 0.0);
                                part.n += 1;
                                if model != ruled {
                                    part.disagreements += 1;
                                    let class = classify(rule, &row, model);
                                    let c = part.by_class.entry(class).or_default();
                                    *c += 1;
                                    if keep_all || *c <= keep as u64 {
                                        part.examples.push(Disagreement {
                                            ids: text.clone(),
                                            side,
                                            logit: z,
                                            score: r,
                                            class,
                                        });
                                    }
                                }
                                if let Some(l) = label {
                                    let truth = l(&text);
                                    part.correct += u64::from(model == truth);
                                    part.rule_correct += u64::from(ruled == truth);
                                    if ruled != truth {
                                        part.predicted_errors += 1;
                                        let k = &mut part.kind[usize::from(truth)];
                                        k.0 += 1;
                                        if model != truth {
                                            part.predicted_hits += 1;
                                            k.1 += 1;
                                            if k.1 <= keep as u64 {
                                                part.adversarial.push(Adversarial {
                                                    ids: text.clone(),
                                                    side,
                                                    logit: z,
                                                    score: r,
                                                    truth,
                                                });
                                            }
                                        }
                                    }
                                }
                            }
                            part
                        })
                    })
                    .collect();
                // A worker panic is a bug here: pass it on rather than drop its counts.
                hs.into_iter()
                    .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            });
            for p in parts {
                total.n += p.n;
                total.disagreements += p.disagreements;
                total.predicted_errors += p.predicted_errors;
                total.predicted_hits += p.predicted_hits;
                for (t, k) in total.kind.iter_mut().zip(p.kind) {
                    t.0 += k.0;
                    t.1 += k.1;
                }
                total.correct += p.correct;
                total.rule_correct += p.rule_correct;
                for (k, v) in p.by_class {
                    *total.by_class.entry(k).or_default() += v;
                }
                total.examples.extend(p.examples);
                total.adversarial.extend(p.adversarial);
            }
        }
    }
    if !keep_all {
        // Up to `keep` per class over all threads, lengths and sides.
        let mut seen: HashMap<Class, usize> = HashMap::new();
        total.examples.retain(|d| {
            let c = seen.entry(d.class).or_default();
            *c += 1;
            *c <= keep
        });
    }
    let mut seen = [0usize; 2];
    total.adversarial.retain(|a| {
        seen[usize::from(a.truth)] += 1;
        seen[usize::from(a.truth)] <= keep
    });
    let frac = |c: u64| label.map(|_| c as f64 / total.n.max(1) as f64);
    Exhaustive {
        n: total.n,
        alphabet: a,
        max_len,
        sides: sides.to_vec(),
        disagreements: total.disagreements,
        by_class: Class::ALL
            .iter()
            .map(|c| (*c, total.by_class.get(c).copied().unwrap_or(0)))
            .collect(),
        examples: total.examples,
        model_accuracy: frac(total.correct),
        rule_accuracy: frac(total.rule_correct),
        predicted_errors: total.predicted_errors,
        predicted_hits: total.predicted_hits,
        false_faces: total.kind[0],
        missed_faces: total.kind[1],
        adversarial: total.adversarial,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

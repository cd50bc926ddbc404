//! The measurements behind the report: per-slice evaluation against the bracket rule,
//! the decomposition check, the QK/OV tables, the bag-of-characters index, attention
//! statistics and the embedding projection.

use std::collections::BTreeMap;

use face_data::{PAD_ID, Vocab};
use face_model::RawModel;
use serde::Serialize;

use crate::decompose::decompose;
use crate::slices::{Slice, bracket_rule};

/// Accuracy of the model and the rule on one sub-group of a slice.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupResult {
    /// The group's value (filler length, offset).
    pub group: usize,
    /// Strings.
    pub n: usize,
    /// Model accuracy.
    pub accuracy: f64,
    /// Bracket-rule accuracy.
    pub rule_accuracy: f64,
}

/// One slice's figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SliceResult {
    /// Slice name.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Strings.
    pub n: usize,
    /// Strings that contain a face.
    pub positives: usize,
    /// Model accuracy (threshold 0.5).
    pub accuracy: f64,
    /// Mean binary cross-entropy of the model.
    pub bce: f64,
    /// Accuracy of "contains `(` and `)`".
    pub rule_accuracy: f64,
    /// Model accuracy on the slice's positives (NaN when it has none).
    pub recall: f64,
    /// Share of the slice's negatives the model calls a face (NaN when it has none).
    pub false_positive_rate: f64,
    /// Unknown characters met (mapped to UNK).
    pub unknown_chars: usize,
    /// What `groups` sweeps, if anything.
    pub group_name: Option<String>,
    /// Per-group figures.
    pub groups: Vec<GroupResult>,
}

/// Logits of `ids` (`[len, n_ctx]`), on every core.
pub fn logits(raw: &RawModel, ids: &[u32]) -> Vec<f32> {
    let n = ids.len() / raw.config().n_ctx;
    let mut out = vec![0.0f32; n];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    raw.logits_par(ids, &mut out, threads);
    out
}

/// Stable BCE with logits of one example.
pub fn bce(z: f64, y: bool) -> f64 {
    face_train::run::bce_with_logits(z, y)
}

/// Evaluates a slice; also returns its logits.
pub fn evaluate(
    raw: &RawModel,
    vocab: &Vocab,
    slice: &Slice,
) -> crate::Result<(SliceResult, Vec<f32>)> {
    let n_ctx = raw.config().n_ctx;
    let (ids, unknown) = slice.encode(vocab, n_ctx)?;
    let z = logits(raw, &ids);
    let mut groups: BTreeMap<usize, (usize, usize, usize)> = BTreeMap::new();
    let (mut correct, mut rule_ok, mut loss, mut pos) = (0usize, 0usize, 0f64, 0usize);
    let (mut tp, mut fp) = (0usize, 0usize);
    for (it, &zi) in slice.items.iter().zip(&z) {
        let pred = zi >= 0.0;
        let rule = bracket_rule(&it.text);
        correct += usize::from(pred == it.label);
        rule_ok += usize::from(rule == it.label);
        pos += usize::from(it.label);
        tp += usize::from(pred && it.label);
        fp += usize::from(pred && !it.label);
        loss += bce(f64::from(zi), it.label);
        if let Some(g) = it.group {
            let e = groups.entry(g).or_default();
            e.0 += 1;
            e.1 += usize::from(pred == it.label);
            e.2 += usize::from(rule == it.label);
        }
    }
    let n = slice.items.len();
    let frac = |a: usize, b: usize| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    Ok((
        SliceResult {
            name: slice.name.to_string(),
            description: slice.description.to_string(),
            n,
            positives: pos,
            accuracy: frac(correct, n),
            bce: if n == 0 { f64::NAN } else { loss / n as f64 },
            rule_accuracy: frac(rule_ok, n),
            recall: frac(tp, pos),
            false_positive_rate: frac(fp, n - pos),
            unknown_chars: unknown,
            group_name: slice.group_name.map(str::to_string),
            groups: groups
                .into_iter()
                .map(|(g, (n, c, r))| GroupResult {
                    group: g,
                    n,
                    accuracy: frac(c, n),
                    rule_accuracy: frac(r, n),
                })
                .collect(),
        },
        z,
    ))
}

/// How well the decomposition sums to the Burn forward's logit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DecompositionCheck {
    /// Inputs checked.
    pub n: usize,
    /// `max |b_U + Σ terms − logit_burn|`.
    pub max_abs_error: f64,
    /// Mean of the same.
    pub mean_abs_error: f64,
    /// `max |error| / max(1, |logit|)`: the f32 forward's own rounding is ~6e-8 of |logit|.
    pub max_rel_error: f64,
    /// Largest |logit| seen (for scale).
    pub max_abs_logit: f64,
}

/// Checks the decomposition of every row of `ids` against `burn_logits`.
pub fn check_decomposition(raw: &RawModel, ids: &[u32], burn_logits: &[f32]) -> DecompositionCheck {
    let n_ctx = raw.config().n_ctx;
    let (mut max, mut sum, mut max_logit, mut rel) = (0f64, 0f64, 0f64, 0f64);
    for (row, &zb) in ids.chunks(n_ctx).zip(burn_logits) {
        let d = decompose(raw, row);
        let err = (d.logit() - f64::from(zb)).abs();
        max = max.max(err);
        rel = rel.max(err / f64::from(zb).abs().max(1.0));
        sum += err;
        max_logit = max_logit.max(f64::from(zb).abs());
    }
    let n = burn_logits.len();
    DecompositionCheck {
        n,
        max_abs_error: max,
        mean_abs_error: if n == 0 { 0.0 } else { sum / n as f64 },
        max_rel_error: rel,
        max_abs_logit: max_logit,
    }
}

/// A character and a number.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CharScore {
    /// The character (or `PAD`, `UNK`).
    pub token: String,
    /// The value.
    pub value: f64,
}

/// The QK and OV tables over the vocabulary.
#[derive(Debug, Clone, Serialize)]
pub struct Tables {
    /// Token labels, `[d_vocab]`.
    pub tokens: Vec<String>,
    /// `QK[a, b]`, `[d_vocab][d_vocab]`: pre-softmax score of query `a` on key `b`.
    pub qk: Vec<Vec<f64>>,
    /// `UV[q, c]`, `[n_ctx][d_vocab]`: what attending to `c` adds at query position `q`.
    pub ov: Vec<Vec<f64>>,
    /// Mean over positions of `UV[·, c]`, highest first (towards "face").
    pub towards_face: Vec<CharScore>,
    /// Lowest first (towards "not face").
    pub towards_not_face: Vec<CharScore>,
}

/// A token for display: `pad` and `unk` for the two special ids, `␣` for the space.
pub(crate) fn token_display(vocab: &Vocab, id: u32, pad: &str, unk: &str) -> String {
    match id {
        0 => pad.into(),
        1 => unk.into(),
        _ => {
            let s = vocab.token_str(id);
            if s == " " { "␣".into() } else { s }
        }
    }
}

/// Builds [`Tables`]; `top` characters each way.
pub fn tables(raw: &RawModel, vocab: &Vocab, top: usize) -> Tables {
    let cfg = raw.config();
    let (dv, n) = (cfg.d_vocab, cfg.n_ctx);
    let tokens: Vec<String> = (0..dv as u32)
        .map(|i| token_display(vocab, i, "PAD", "UNK"))
        .collect();
    let qk = raw
        .qk_table()
        .chunks(dv)
        .map(|r| r.iter().map(|&x| f64::from(x)).collect())
        .collect();
    let ov: Vec<Vec<f64>> = raw
        .uv_table()
        .chunks(dv)
        .map(|r| r.iter().map(|&x| f64::from(x)).collect())
        .collect();
    let mut mean: Vec<CharScore> = (2..dv)
        .map(|c| CharScore {
            token: tokens[c].clone(),
            value: (0..n).map(|q| ov[q][c]).sum::<f64>() / n as f64,
        })
        .collect();
    mean.sort_by(|a, b| b.value.total_cmp(&a.value));
    let towards_face = mean.iter().take(top).cloned().collect();
    let towards_not_face = mean.iter().rev().take(top).cloned().collect();
    Tables {
        tokens,
        qk,
        ov,
        towards_face,
        towards_not_face,
    }
}

/// How alike the readout rows `W_U[q]` are: `mean_q ‖W_U[q] − w̄‖ / ‖w̄‖`. Near 0 the
/// model cannot see order (it is a bag-of-characters classifier).
pub fn readout_dispersion(raw: &RawModel) -> f64 {
    let cfg = raw.config();
    let (n, d) = (cfg.n_ctx, cfg.d_model);
    let w = &raw.weights().w_u;
    let mean: Vec<f64> = (0..d)
        .map(|i| (0..n).map(|q| f64::from(w[q * d + i])).sum::<f64>() / n as f64)
        .collect();
    let norm = mean.iter().map(|x| x * x).sum::<f64>().sqrt();
    let disp: f64 = (0..n)
        .map(|q| {
            (0..d)
                .map(|i| (f64::from(w[q * d + i]) - mean[i]).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .sum::<f64>()
        / n as f64;
    if norm == 0.0 {
        f64::INFINITY
    } else {
        disp / norm
    }
}

/// Attention statistics.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttentionStats {
    /// Mean entropy (nats) of the attention rows of real (non-PAD) query positions, over
    /// every in-distribution string.
    pub mean_entropy: f64,
    /// Mean entropy of uniform attention over the same rows (`ln` of keys attended).
    pub uniform_entropy: f64,
    /// Positives: mean attention mass that face queries put on face keys.
    pub face_to_face_positive: f64,
    /// The same under uniform attention (face length / keys).
    pub face_to_face_positive_uniform: f64,
    /// Bag-matched negatives: mass from the former face characters to each other.
    pub face_to_face_bag_negative: f64,
    /// Under uniform attention.
    pub face_to_face_bag_negative_uniform: f64,
}

/// Entropy and face-to-face attention mass, from in-distribution positives and
/// bag-matched negatives (rows `ids`, with face character positions per string).
pub fn attention_stats(
    raw: &RawModel,
    in_dist: (&[u32], &[Option<Vec<usize>>]),
    bag: (&[u32], &[Option<Vec<usize>>]),
) -> AttentionStats {
    let n_ctx = raw.config().n_ctx;
    let mask = raw.config().mask_pad_keys;
    let (mut h, mut hu, mut rows) = (0f64, 0f64, 0usize);
    let mut mass = |ids: &[u32], faces: &[Option<Vec<usize>>], entropy: bool| -> (f64, f64) {
        let (mut m, mut mu, mut k) = (0f64, 0f64, 0usize);
        for (row, face) in ids.chunks(n_ctx).zip(faces) {
            let d = decompose(raw, row);
            let real: Vec<usize> = (0..n_ctx).filter(|&p| row[p] != PAD_ID).collect();
            let keys = if mask { real.len() } else { n_ctx };
            if entropy {
                for &q in &real {
                    h -= d
                        .pattern_row(q)
                        .iter()
                        .filter(|&&a| a > 0.0)
                        .map(|a| a * a.ln())
                        .sum::<f64>();
                    hu += (keys as f64).ln();
                    rows += 1;
                }
            }
            let Some(face) = face else { continue };
            if face.is_empty() {
                continue;
            }
            // Face character positions in text -> positions in the padded row.
            let pos: Vec<usize> = face.iter().filter_map(|&c| real.get(c).copied()).collect();
            for &q in &pos {
                let r = d.pattern_row(q);
                m += pos.iter().map(|&kk| r[kk]).sum::<f64>();
                mu += pos.len() as f64 / keys as f64;
                k += 1;
            }
        }
        if k == 0 {
            (f64::NAN, f64::NAN)
        } else {
            (m / k as f64, mu / k as f64)
        }
    };
    let (fp, fpu) = mass(in_dist.0, in_dist.1, true);
    let (fb, fbu) = mass(bag.0, bag.1, false);
    AttentionStats {
        mean_entropy: if rows == 0 { f64::NAN } else { h / rows as f64 },
        uniform_entropy: if rows == 0 {
            f64::NAN
        } else {
            hu / rows as f64
        },
        face_to_face_positive: fp,
        face_to_face_positive_uniform: fpu,
        face_to_face_bag_negative: fb,
        face_to_face_bag_negative_uniform: fbu,
    }
}

/// Permutation sensitivity: mean |logit(s) − logit(π(s))| over strings, divided by the
/// standard deviation of the logits (0: the model ignores order entirely).
pub fn permutation_sensitivity(raw: &RawModel, ids: &[u32], shuffled: &[u32]) -> f64 {
    let a = logits(raw, ids);
    let b = logits(raw, shuffled);
    let n = a.len().max(1) as f64;
    let mean = a.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let sd = (a
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let diff = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs())
        .sum::<f64>()
        / n;
    if sd == 0.0 { f64::NAN } else { diff / sd }
}

/// A labelled 2-D point.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point2 {
    /// Token.
    pub token: String,
    /// First principal component.
    pub x: f64,
    /// Second.
    pub y: f64,
}

/// PCA of the character embeddings (`W_E` rows of the characters, PAD and UNK
/// included): the projection on the top two components and their explained variance.
pub fn embedding_pca(raw: &RawModel, vocab: &Vocab) -> (Vec<Point2>, [f64; 2]) {
    let cfg = raw.config();
    let (dv, d) = (cfg.d_vocab, cfg.d_model);
    let w = &raw.weights().w_e;
    let mean: Vec<f64> = (0..d)
        .map(|i| (0..dv).map(|t| f64::from(w[t * d + i])).sum::<f64>() / dv as f64)
        .collect();
    let x: Vec<Vec<f64>> = (0..dv)
        .map(|t| (0..d).map(|i| f64::from(w[t * d + i]) - mean[i]).collect())
        .collect();
    let mut cov = vec![vec![0f64; d]; d];
    for row in &x {
        for i in 0..d {
            for j in 0..d {
                cov[i][j] += row[i] * row[j] / dv as f64;
            }
        }
    }
    let total: f64 = (0..d).map(|i| cov[i][i]).sum();
    let mut comps: Vec<Vec<f64>> = Vec::new();
    let mut vars = [0f64; 2];
    for (c, var) in vars.iter_mut().enumerate() {
        // Power iteration with deflation.
        let mut v: Vec<f64> = (0..d).map(|i| 1.0 + (i + c) as f64 * 0.1).collect();
        let mut lambda = 0.0;
        for _ in 0..500 {
            let mut nv: Vec<f64> = (0..d)
                .map(|i| (0..d).map(|j| cov[i][j] * v[j]).sum())
                .collect();
            for p in &comps {
                let dot: f64 = nv.iter().zip(p).map(|(a, b)| a * b).sum();
                for (a, b) in nv.iter_mut().zip(p) {
                    *a -= dot * b;
                }
            }
            let norm = nv.iter().map(|a| a * a).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            lambda = norm;
            v = nv.into_iter().map(|a| a / norm).collect();
        }
        *var = if total > 0.0 { lambda / total } else { 0.0 };
        comps.push(v);
    }
    let points = (0..dv)
        .map(|t| Point2 {
            token: token_display(vocab, t as u32, "PAD", "UNK"),
            x: x[t].iter().zip(&comps[0]).map(|(a, b)| a * b).sum(),
            y: x[t].iter().zip(&comps[1]).map(|(a, b)| a * b).sum(),
        })
        .collect();
    (points, vars)
}

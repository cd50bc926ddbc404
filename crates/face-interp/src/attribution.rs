//! Input attribution, scored against the mechanism: saliency, input × gradient,
//! integrated gradients (PAD and mean-embedding baselines, with their completeness
//! error) and occlusion, each compared with the exact single-position ablation effect.
//!
//! Gradients are taken with respect to the embeddings only (the parameters stay plain),
//! through the model's one instrumented forward ([`FaceModel::run_from_embeddings`]).

use burn::prelude::*;
use face_data::PAD_ID;
use face_model::batch::tokens_from_ids;
use face_model::{FaceModel, HookName, Intervention, Positions, RunOptions};
use serde::Serialize;

/// An attribution method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `‖∂logit/∂e_p‖₂`.
    Saliency,
    /// `Σ_d e_pd · ∂logit/∂e_pd`.
    InputXGradient,
    /// Integrated gradients from the PAD embedding at every position.
    IgPad,
    /// Integrated gradients from the mean character embedding.
    IgMean,
    /// `logit(x) − logit(x with position p set to PAD)`.
    Occlusion,
    /// `logit(x) − logit(x with hook_embed zeroed at p)`: the reference.
    Exact,
}

impl Method {
    /// Every method, the reference last.
    pub const ALL: [Method; 6] = [
        Method::Saliency,
        Method::InputXGradient,
        Method::IgPad,
        Method::IgMean,
        Method::Occlusion,
        Method::Exact,
    ];

    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Saliency => "saliency",
            Method::InputXGradient => "input_x_gradient",
            Method::IgPad => "ig_pad",
            Method::IgMean => "ig_mean",
            Method::Occlusion => "occlusion",
            Method::Exact => "exact",
        }
    }
}

/// Per-position attributions of a batch: `[batch][pos]`.
pub type Attr = Vec<Vec<f64>>;

fn rows(v: Vec<f32>, n: usize) -> Attr {
    v.chunks(n)
        .map(|r| r.iter().map(|&x| f64::from(x)).collect())
        .collect()
}

fn logits_of(model: &FaceModel, embed: Tensor<3>, pad: Option<Tensor<2, Bool>>) -> Tensor<1> {
    model
        .run_from_embeddings(embed, pad, &RunOptions::default())
        .logit
}

/// `(embedding, gradient of the logit)` at `embed`, both `[batch, pos, d_model]` flat.
fn grad_at(
    model: &FaceModel,
    embed: Tensor<3>,
    pad: Option<Tensor<2, Bool>>,
) -> (Vec<f32>, Vec<f32>) {
    let x = embed.clone().autodiff().require_grad();
    let grads = logits_of(model, x.clone(), pad).sum().backward();
    let g = x
        .grad(&grads)
        .map(|g| g.into_data().try_to_vec::<f32>().unwrap_or_default())
        .unwrap_or_default();
    (embed.into_data().try_to_vec::<f32>().unwrap_or_default(), g)
}

/// Saliency and input × gradient, `[batch][pos]` each.
pub fn gradient_methods(model: &FaceModel, ids: &[u32]) -> (Attr, Attr) {
    let dev = face_model::device::flex();
    let (n, d) = (model.n_ctx(), model.d_model());
    let tokens = tokens_from_ids(ids, n, &dev);
    let pad = model.pad_key_mask(&tokens);
    let embed = model.embed.forward(tokens);
    let (e, g) = grad_at(model, embed, pad);
    let sal = g
        .chunks(d)
        .map(|v| v.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt() as f32)
        .collect();
    let ixg = e
        .chunks(d)
        .zip(g.chunks(d))
        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
        .collect();
    (rows(sal, n), rows(ixg, n))
}

/// Which baseline integrated gradients starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// The PAD token's embedding at every position.
    Pad,
    /// The mean of the character embeddings (PAD and UNK excluded) at every position.
    Mean,
}

// Burn's `slice` takes one range per dimension; a one-element array is its API.
#[allow(clippy::single_range_in_vec_init)]
/// Integrated gradients with `steps` midpoint steps, batched: `[batch][pos]` and the
/// completeness error `|Σ_p IG_p − (logit(x) − logit(baseline))|` per input.
pub fn integrated_gradients(
    model: &FaceModel,
    ids: &[u32],
    baseline: Baseline,
    steps: usize,
) -> (Attr, Vec<f64>) {
    let dev = face_model::device::flex();
    let (n, d) = (model.n_ctx(), model.d_model());
    let b = ids.len() / n;
    let steps = steps.max(1);
    let tokens = tokens_from_ids(ids, n, &dev);
    let pad = model.pad_key_mask(&tokens);
    let x = model.embed.forward(tokens); // [b, n, d]
    let w_e = model.embed.weight.val(); // [d_vocab, d]
    let base_row: Tensor<1> = match baseline {
        Baseline::Pad => w_e
            .clone()
            .slice([PAD_ID as usize..PAD_ID as usize + 1])
            .reshape([d]),
        Baseline::Mean => {
            let dv = w_e.dims()[0];
            w_e.slice([2..dv]).mean_dim(0).reshape([d])
        }
    };
    let base = base_row.reshape([1, 1, d]).expand([b, n, d]);
    // Path points: alpha_i = (i + 0.5) / steps, stacked along the batch: [steps·b, n, d].
    let diff = x.clone() - base.clone();
    let points: Vec<Tensor<3>> = (0..steps)
        .map(|i| base.clone() + diff.clone().mul_scalar((i as f32 + 0.5) / steps as f32))
        .collect();
    let path = Tensor::cat(points, 0);
    let pad_rep = pad.clone().map(|p| Tensor::cat(vec![p; steps], 0));
    let (_, g) = grad_at(model, path, pad_rep); // [steps·b, n, d]
    let diff_v: Vec<f32> = diff.into_data().try_to_vec::<f32>().unwrap_or_default();
    let per = b * n * d;
    let mut ig = vec![0.0f64; b * n];
    for s in 0..steps {
        let gs = &g[s * per..(s + 1) * per];
        for (i, (gv, dv)) in gs.iter().zip(&diff_v).enumerate() {
            ig[i / d] += f64::from(*gv) * f64::from(*dv) / steps as f64;
        }
    }
    let zx: Vec<f32> = logits_of(model, x, pad.clone())
        .into_data()
        .try_to_vec()
        .unwrap_or_default();
    let zb: Vec<f32> = logits_of(model, base, pad)
        .into_data()
        .try_to_vec()
        .unwrap_or_default();
    let attr: Attr = ig.chunks(n).map(<[f64]>::to_vec).collect();
    let err = attr
        .iter()
        .zip(zx.iter().zip(&zb))
        .map(|(a, (&x, &b))| (a.iter().sum::<f64>() - (f64::from(x) - f64::from(b))).abs())
        .collect();
    (attr, err)
}

/// Occlusion: `logit(x) − logit(x with position p replaced by PAD)`, `[batch][pos]`.
pub fn occlusion(model: &FaceModel, ids: &[u32]) -> Attr {
    let dev = face_model::device::flex();
    let n = model.n_ctx();
    let b = ids.len() / n;
    let z0 = crate::causal::logits_with(model, tokens_from_ids(ids, n, &dev), Vec::new());
    let mut out = vec![vec![0.0; n]; b];
    for p in 0..n {
        let mut occ = ids.to_vec();
        for r in 0..b {
            occ[r * n + p] = PAD_ID;
        }
        let z = crate::causal::logits_with(model, tokens_from_ids(&occ, n, &dev), Vec::new());
        for (r, row) in out.iter_mut().enumerate() {
            row[p] = f64::from(z0[r]) - f64::from(z[r]);
        }
    }
    out
}

/// The reference: `logit(x) − logit(x with hook_embed zeroed at p)`, `[batch][pos]`.
pub fn exact_ablation(model: &FaceModel, ids: &[u32]) -> Attr {
    let dev = face_model::device::flex();
    let n = model.n_ctx();
    let b = ids.len() / n;
    let t = tokens_from_ids(ids, n, &dev);
    let z0 = crate::causal::logits_with(model, t.clone(), Vec::new());
    let mut out = vec![vec![0.0; n]; b];
    for p in 0..n {
        let z = crate::causal::logits_with(
            model,
            t.clone(),
            vec![Intervention::zero(
                HookName::Embed,
                Positions::Only(vec![p]),
            )],
        );
        for (r, row) in out.iter_mut().enumerate() {
            row[p] = f64::from(z0[r]) - f64::from(z[r]);
        }
    }
    out
}

/// Spearman's rank correlation of two equal-length samples (average ranks for ties);
/// `None` when either is constant.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    fn ranks(v: &[f64]) -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            let avg = (i + j) as f64 / 2.0;
            for k in i..=j {
                r[idx[k]] = avg;
            }
            i = j + 1;
        }
        r
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        None
    } else {
        Some(cov / (va * vb).sqrt())
    }
}

/// One method's scores.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MethodScore {
    /// Method.
    pub method: Method,
    /// Mean Spearman ρ over inputs between |attribution| and |exact effect|, over positions.
    pub spearman: f64,
    /// Share of positives whose top-k positions by |attribution| (k = face length) all lie
    /// in the face span.
    pub localisation: f64,
    /// Mean completeness error (integrated gradients only).
    pub completeness_error: Option<f64>,
}

/// Scores every method on a batch; `spans[i]` is the face's padded positions for
/// positives (None for negatives).
pub fn benchmark(
    model: &FaceModel,
    ids: &[u32],
    spans: &[Option<Vec<usize>>],
    ig_steps: usize,
) -> Vec<MethodScore> {
    let exact = exact_ablation(model, ids);
    let (sal, ixg) = gradient_methods(model, ids);
    let (igp, errp) = integrated_gradients(model, ids, Baseline::Pad, ig_steps);
    let (igm, errm) = integrated_gradients(model, ids, Baseline::Mean, ig_steps);
    let occ = occlusion(model, ids);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let abs = |v: &[f64]| v.iter().map(|x| x.abs()).collect::<Vec<f64>>();
    let score = |m: Method, attr: &Attr, err: Option<f64>| {
        let rhos: Vec<f64> = attr
            .iter()
            .zip(&exact)
            .filter_map(|(a, e)| spearman(&abs(a), &abs(e)))
            .collect();
        let (mut hit, mut pos) = (0usize, 0usize);
        for (a, span) in attr.iter().zip(spans) {
            let Some(span) = span else { continue };
            if span.is_empty() {
                continue;
            }
            pos += 1;
            let mut idx: Vec<usize> = (0..a.len()).collect();
            idx.sort_by(|&i, &j| a[j].abs().total_cmp(&a[i].abs()));
            hit += usize::from(
                idx[..span.len().min(idx.len())]
                    .iter()
                    .all(|p| span.contains(p)),
            );
        }
        MethodScore {
            method: m,
            spearman: mean(&rhos),
            localisation: if pos == 0 {
                f64::NAN
            } else {
                hit as f64 / pos as f64
            },
            completeness_error: err,
        }
    };
    vec![
        score(Method::Saliency, &sal, None),
        score(Method::InputXGradient, &ixg, None),
        score(Method::IgPad, &igp, Some(mean(&errp))),
        score(Method::IgMean, &igm, Some(mean(&errm))),
        score(Method::Occlusion, &occ, None),
        score(Method::Exact, &exact, None),
    ]
}

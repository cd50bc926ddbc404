//! Causal analyses through the model's one instrumented forward ([`FaceModel::run`] with
//! [`Intervention`]s): ablations (zero, mean, resample, uniform attention) per site and
//! slice, and activation patching between minimal pairs.

use burn::prelude::*;
use face_data::PAD_ID;
use face_model::batch::tokens_from_ids;
use face_model::{ActivationCache, FaceModel, HookName, Intervention, Positions, RunOptions};
use serde::Serialize;

use crate::analysis::bce;

/// The sites ablated and patched: every activation with a position axis.
pub const SITES: [HookName; 6] = [
    HookName::Embed,
    HookName::Q,
    HookName::K,
    HookName::V,
    HookName::Pattern,
    HookName::Z,
];

/// How a site is ablated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ablation {
    /// Set to zero.
    Zero,
    /// Set to its mean over a reference set, per position.
    Mean,
    /// Set to the activation of another input of the same set.
    Resample,
    /// Attention pattern only: uniform over the keys the model may attend to.
    Uniform,
}

/// Logits of `tokens` under `interventions`, `[batch]` as a vector.
pub fn logits_with(
    model: &FaceModel,
    tokens: Tensor<2, Int>,
    interventions: Vec<Intervention>,
) -> Vec<f32> {
    let opts = RunOptions {
        cache: false,
        interventions,
    };
    model
        .run(tokens, &opts)
        .logit
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

/// The clean run's cache.
pub fn cache(model: &FaceModel, tokens: Tensor<2, Int>) -> ActivationCache {
    model
        .run(tokens, &RunOptions::cached())
        .cache
        .expect("a cached run returns its cache")
}

/// Accuracy and mean BCE of logits against labels.
pub fn score(z: &[f32], labels: &[bool]) -> (f64, f64) {
    let n = z.len().max(1) as f64;
    let acc = z
        .iter()
        .zip(labels)
        .filter(|(z, l)| (**z >= 0.0) == **l)
        .count() as f64
        / n;
    let loss = z
        .iter()
        .zip(labels)
        .map(|(&z, &l)| bce(f64::from(z), l))
        .sum::<f64>()
        / n;
    (acc, loss)
}

/// The intervention that ablates `site` (all positions) of a batch whose clean cache is
/// `own`, with `reference` the cache of the reference set (for means).
///
/// # Shapes
/// - `tokens`: `[batch, pos]` (for the uniform pattern's PAD mask)
pub fn ablation(
    model: &FaceModel,
    site: HookName,
    kind: Ablation,
    tokens: &Tensor<2, Int>,
    own: &ActivationCache,
    reference: &ActivationCache,
) -> Option<Intervention> {
    match kind {
        Ablation::Zero => Some(Intervention::zero(site, Positions::All)),
        Ablation::Mean => Some(Intervention::set(
            site,
            Positions::All,
            reference.get(site).mean_dim(0), // [1, pos, last]
        )),
        Ablation::Resample => {
            // Each input takes the activation of the next one (a fixed derangement).
            let act = own.get(site);
            let b = act.dims()[0];
            if b < 2 {
                return None;
            }
            let idx: Vec<i64> = (0..b).map(|i| ((i + 1) % b) as i64).collect();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [b]), &act.device());
            Some(Intervention::set(site, Positions::All, act.select(0, idx)))
        }
        Ablation::Uniform => {
            if site != HookName::Pattern {
                return None;
            }
            let [b, n] = tokens.dims();
            let device = tokens.device();
            // Uniform over all keys, or over the non-PAD keys when the model masks PAD.
            let live: Tensor<2> = if model.mask_pad_keys() {
                tokens.clone().not_equal_elem(i64::from(PAD_ID)).float()
            } else {
                Tensor::<2>::ones([b, n], &device)
            };
            let count = live.clone().sum_dim(1).clamp_min(1.0); // [b, 1]
            let row = (live / count).reshape([b, 1, n]).expand([b, n, n]);
            Some(Intervention::set(site, Positions::All, row))
        }
    }
}

/// One (site, kind) ablation on one slice.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AblationResult {
    /// Hook name.
    pub site: String,
    /// Ablation kind.
    pub kind: Ablation,
    /// Slice.
    pub slice: String,
    /// Accuracy after − before.
    pub d_accuracy: f64,
    /// BCE after − before.
    pub d_bce: f64,
}

/// Every site × kind ablation of one slice (`ids` `[len, n_ctx]`, `labels` `[len]`),
/// with means over `reference_ids`.
pub fn ablations(
    model: &FaceModel,
    slice: &str,
    ids: &[u32],
    labels: &[bool],
    reference_ids: &[u32],
) -> Vec<AblationResult> {
    let device = face_model::device::flex();
    let n_ctx = model.n_ctx();
    let tokens = tokens_from_ids(ids, n_ctx, &device);
    let own = cache(model, tokens.clone());
    let reference = cache(model, tokens_from_ids(reference_ids, n_ctx, &device));
    let base = logits_with(model, tokens.clone(), Vec::new());
    let (acc0, bce0) = score(&base, labels);
    let mut out = Vec::new();
    for site in SITES {
        for kind in [
            Ablation::Zero,
            Ablation::Mean,
            Ablation::Resample,
            Ablation::Uniform,
        ] {
            let Some(iv) = ablation(model, site, kind, &tokens, &own, &reference) else {
                continue;
            };
            let z = logits_with(model, tokens.clone(), vec![iv]);
            let (acc, loss) = score(&z, labels);
            out.push(AblationResult {
                site: site.as_str().to_string(),
                kind,
                slice: slice.to_string(),
                d_accuracy: acc - acc0,
                d_bce: loss - bce0,
            });
        }
    }
    out
}

/// Sites (per slice) where the ablation kinds disagree: the spread of ΔBCE across zero,
/// mean and resample exceeds `margin`.
pub fn disagreements(results: &[AblationResult], margin: f64) -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    let mut keys: Vec<(String, String)> = results
        .iter()
        .map(|r| (r.slice.clone(), r.site.clone()))
        .collect();
    keys.dedup();
    for (slice, site) in keys {
        let v: Vec<f64> = results
            .iter()
            .filter(|r| r.slice == slice && r.site == site && r.kind != Ablation::Uniform)
            .map(|r| r.d_bce)
            .collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if hi - lo > margin {
            out.push((slice, site, hi - lo));
        }
    }
    out
}

/// Normalised patching effects for `n` pairs at every site and position:
/// `(patched − corrupt) / (clean − corrupt)` on the logit, where `patched` runs the
/// corrupt input with the clean activation at one (site, position).
///
/// Returns `effects[site][pos][pair]`.
pub fn patching(model: &FaceModel, clean_ids: &[u32], corrupt_ids: &[u32]) -> Vec<Vec<Vec<f64>>> {
    let device = face_model::device::flex();
    let n_ctx = model.n_ctx();
    let clean_t = tokens_from_ids(clean_ids, n_ctx, &device);
    let corrupt_t = tokens_from_ids(corrupt_ids, n_ctx, &device);
    let clean_cache = cache(model, clean_t.clone());
    let zc = logits_with(model, clean_t, Vec::new());
    let zr = logits_with(model, corrupt_t.clone(), Vec::new());
    SITES
        .iter()
        .map(|&site| {
            (0..n_ctx)
                .map(|p| {
                    let iv = Intervention::patch(site, Positions::Only(vec![p]), &clean_cache);
                    let zp = logits_with(model, corrupt_t.clone(), vec![iv]);
                    zp.iter()
                        .zip(zc.iter().zip(&zr))
                        .map(|(&p, (&c, &r))| normalised(p, c, r))
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// `(patched − corrupt) / (clean − corrupt)`; 0 when clean and corrupt agree.
pub fn normalised(patched: f32, clean: f32, corrupt: f32) -> f64 {
    let den = f64::from(clean) - f64::from(corrupt);
    if den.abs() < 1e-9 {
        0.0
    } else {
        (f64::from(patched) - f64::from(corrupt)) / den
    }
}

/// Which positions a patching hypothesis patches, per pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionRule {
    /// Where the clean and corrupt tokens differ.
    Edited,
    /// Those and their neighbours.
    EditedAndNeighbours,
    /// Every non-PAD position of either string.
    Text,
    /// Every position.
    All,
}

impl PositionRule {
    /// Every rule, smallest first.
    pub const ALL: [PositionRule; 4] = [
        PositionRule::Edited,
        PositionRule::EditedAndNeighbours,
        PositionRule::Text,
        PositionRule::All,
    ];

    fn mask(self, clean: &[u32], corrupt: &[u32]) -> Vec<bool> {
        let n = clean.len();
        let edited: Vec<bool> = clean.iter().zip(corrupt).map(|(a, b)| a != b).collect();
        match self {
            PositionRule::Edited => edited,
            PositionRule::EditedAndNeighbours => (0..n)
                .map(|p| edited[p] || (p > 0 && edited[p - 1]) || (p + 1 < n && edited[p + 1]))
                .collect(),
            PositionRule::Text => clean
                .iter()
                .zip(corrupt)
                .map(|(&a, &b)| a != PAD_ID || b != PAD_ID)
                .collect(),
            PositionRule::All => vec![true; n],
        }
    }
}

/// One patching hypothesis and how well it restores the logit difference.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PatchClaim {
    /// Hook name.
    pub site: String,
    /// Which positions.
    pub positions: PositionRule,
    /// Mean number of positions patched per pair.
    pub mean_positions: f64,
    /// Share of pairs whose normalised effect is at least `threshold`.
    pub share: f64,
    /// The threshold X.
    pub threshold: f64,
    /// Median normalised effect.
    pub median_effect: f64,
}

/// Patches the clean activation of `site` at each pair's `rule` positions into the
/// corrupt run; the normalised effect per pair.
pub fn patch_set(
    model: &FaceModel,
    site: HookName,
    rule: PositionRule,
    clean_ids: &[u32],
    corrupt_ids: &[u32],
) -> (Vec<f64>, f64) {
    let device = face_model::device::flex();
    let n = model.n_ctx();
    let clean_t = tokens_from_ids(clean_ids, n, &device);
    let corrupt_t = tokens_from_ids(corrupt_ids, n, &device);
    let clean_c = cache(model, clean_t.clone());
    let corrupt_c = cache(model, corrupt_t.clone());
    let zc = logits_with(model, clean_t, Vec::new());
    let zr = logits_with(model, corrupt_t.clone(), Vec::new());
    let mask: Vec<bool> = clean_ids
        .chunks(n)
        .zip(corrupt_ids.chunks(n))
        .flat_map(|(a, b)| rule.mask(a, b))
        .collect();
    let count = mask.iter().filter(|&&m| m).count() as f64 / zc.len().max(1) as f64;
    let b = zc.len();
    let clean_a = clean_c.get(site);
    let last = clean_a.dims()[2];
    let m = Tensor::<1, Bool>::from_data(TensorData::new(mask, [b * n]), &device)
        .reshape([b, n, 1])
        .expand([b, n, last]);
    let value = corrupt_c.get(site).mask_where(m, clean_a);
    let zp = logits_with(
        model,
        corrupt_t,
        vec![Intervention::set(site, Positions::All, value)],
    );
    let eff = zp
        .iter()
        .zip(zc.iter().zip(&zr))
        .map(|(&p, (&c, &r))| normalised(p, c, r))
        .collect();
    (eff, count)
}

/// Searches sites × position rules for the claim "patching P restores ≥ `threshold` of
/// the logit difference on ≥ 90% of pairs" with the fewest positions (else the largest
/// share). Returns every candidate, best first.
pub fn patch_claims(
    model: &FaceModel,
    clean_ids: &[u32],
    corrupt_ids: &[u32],
    threshold: f64,
) -> Vec<PatchClaim> {
    let mut out = Vec::new();
    // Patching the embedding at the edited positions only turns the corrupt input into
    // the clean one: true by construction, so the embedding is left out of the search.
    for site in SITES.into_iter().filter(|&s| s != HookName::Embed) {
        for rule in PositionRule::ALL {
            let (mut eff, count) = patch_set(model, site, rule, clean_ids, corrupt_ids);
            let share =
                eff.iter().filter(|&&e| e >= threshold).count() as f64 / eff.len().max(1) as f64;
            eff.sort_by(f64::total_cmp);
            out.push(PatchClaim {
                site: site.as_str().to_string(),
                positions: rule,
                mean_positions: count,
                share,
                threshold,
                median_effect: eff.get(eff.len() / 2).copied().unwrap_or(f64::NAN),
            });
        }
    }
    // z at every position is the head's whole input: restoring it restores the logit by
    // construction, so it is not a hypothesis either.
    out.retain(|c| !(c.site == HookName::Z.as_str() && c.positions == PositionRule::All));
    // Best: among hypotheses that restore ≥ threshold on ≥ 90% of pairs, the one that
    // patches the fewest positions; then the rest by share.
    let good = |c: &PatchClaim| c.share >= 0.9;
    out.sort_by(|a, b| {
        good(b)
            .cmp(&good(a))
            .then_with(|| {
                if good(a) {
                    a.mean_positions.total_cmp(&b.mean_positions)
                } else {
                    b.share.total_cmp(&a.share)
                }
            })
            .then(b.share.total_cmp(&a.share))
    });
    out
}

/// Sites ablated one position at a time.
pub const POSITION_SITES: [HookName; 3] = [HookName::Embed, HookName::V, HookName::Z];

/// Mean ablation of each of [`POSITION_SITES`] at one position at a time: ΔBCE,
/// `[site][pos]`.
pub fn position_ablations(
    model: &FaceModel,
    ids: &[u32],
    labels: &[bool],
    reference_ids: &[u32],
) -> Vec<Vec<f64>> {
    let device = face_model::device::flex();
    let n_ctx = model.n_ctx();
    let tokens = tokens_from_ids(ids, n_ctx, &device);
    let reference = cache(model, tokens_from_ids(reference_ids, n_ctx, &device));
    let (_, bce0) = score(&logits_with(model, tokens.clone(), Vec::new()), labels);
    POSITION_SITES
        .iter()
        .map(|&site| {
            let mean = reference.get(site).mean_dim(0); // [1, pos, last]
            (0..n_ctx)
                .map(|p| {
                    let iv = Intervention::set(site, Positions::Only(vec![p]), mean.clone());
                    score(&logits_with(model, tokens.clone(), vec![iv]), labels).1 - bce0
                })
                .collect()
        })
        .collect()
}

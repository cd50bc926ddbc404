//! The raw f32 evaluator equals the Burn forward on thousands of random inputs.

mod common;

use burn::prelude::*;
use common::*;
use face_model::batch::tokens_from_ids;
use face_model::{RawModel, Weights};

fn compare(
    cfg: &face_model::FaceModelConfig,
    model: &face_model::FaceModel,
    n: usize,
    seed: u64,
) -> (f32, f32, f32) {
    let device = Device::flex();
    let ids = random_ids(cfg, n, seed);
    let burn = vals(
        model
            .forward(tokens_from_ids(&ids, cfg.n_ctx, &device))
            .logit,
    );
    let raw = RawModel::new(cfg, Weights::from_model(model));
    let mut table = vec![0.0; n];
    raw.logits(&ids, &mut table);
    let direct: Vec<f32> = ids.chunks(cfg.n_ctx).map(|x| raw.logit_direct(x)).collect();
    let mut par = vec![0.0; n];
    raw.logits_par(&ids, &mut par, 2);
    assert_eq!(par, table, "threads change nothing");
    let scale = burn.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    (
        max_abs_diff(&burn, &table),
        max_abs_diff(&burn, &direct),
        scale,
    )
}

#[test]
fn raw_f32_paths_equal_the_burn_forward_within_1e_5() {
    let cfg = default_config();
    for (seed, k) in [(1u64, 1.0f32), (2, 1.0), (3, 2.5)] {
        let model = scaled(&cfg, &random_model(&cfg, seed), k);
        let (table, direct, scale) = compare(&cfg, &model, 4096, seed + 100);
        eprintln!(
            "seed {seed} weights x{k}: max |logit| {scale:.3}, max |Δ| table {table:e}, direct {direct:e}"
        );
        // 1e-5 absolute at the initial scale (|logit| < 1). With |logit| ~ 26 two f32
        // computations in different orders differ by ~1e-5 (ulp(26) = 1.9e-6, summed over
        // 144 attention terms), so the bound scales with the logit: 1e-5 per unit of |logit|.
        let bound = 1e-5 * scale.max(1.0);
        assert!(table <= bound, "table path off by {table} (bound {bound})");
        assert!(
            direct <= bound,
            "direct path off by {direct} (bound {bound})"
        );
    }
}

#[test]
fn raw_paths_also_match_with_pad_keys_masked_and_unscaled() {
    for cfg in [
        default_config().with_mask_pad_keys(true),
        default_config().with_scale(false),
    ] {
        let model = random_model(&cfg, 21);
        let (table, direct, _) = compare(&cfg, &model, 2048, 22);
        assert!(table <= 1e-5 && direct <= 1e-5, "{table} {direct}");
    }
}

#[test]
fn tables_are_what_the_docs_say() {
    let cfg = default_config();
    let model = random_model(&cfg, 31);
    let raw = RawModel::new(&cfg, Weights::from_model(&model));
    let device = Device::flex();
    // A string of one repeated token: the pattern is uniform, so the logit is
    // b_U + Σ_q UV[q, t].
    let t = 17u32;
    let ids = vec![t; 12];
    let want: f32 = raw.weights().b_u[0]
        + (0..12)
            .map(|q| raw.uv_table()[q * 92 + t as usize])
            .sum::<f32>();
    let got = vals(model.forward(tokens_from_ids(&ids, 12, &device)).logit)[0];
    assert!((got - want).abs() < 1e-5);
    // QK[a, b] is the cached score between a query a and a key b.
    let ids: Vec<u32> = (2..14).collect();
    let run = model.run(
        tokens_from_ids(&ids, 12, &device),
        &face_model::RunOptions::cached(),
    );
    let scores = vals(run.cache.expect("cache").attn_scores);
    for q in 0..12 {
        for k in 0..12 {
            let tab = raw.qk_table()[ids[q] as usize * 92 + ids[k] as usize];
            assert!((scores[q * 12 + k] - tab).abs() < 1e-5);
        }
    }
}

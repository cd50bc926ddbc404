//! The Burn forward: independent check on hand-set weights, batching, the instrumented run
//! (cache, interventions), gradients from embeddings, determinism, parameter count.

// The reference forward below indexes explicitly, like the maths it transcribes.
#![allow(clippy::needless_range_loop)]

mod common;

use burn::prelude::*;
use common::*;
use face_model::batch::tokens_from_ids;
use face_model::{FaceModelConfig, HookName, Intervention, Positions, RunOptions, Weights};

/// A 4-token, 3-position, 2-wide model with every weight set by hand.
fn hand_model() -> (FaceModelConfig, Weights) {
    let cfg = FaceModelConfig::new(4, 3).with_d_model(2);
    let w = Weights {
        w_e: vec![0.5, -1.0, 1.5, 0.25, -0.75, 2.0, 1.0, 1.0],
        w_q: vec![1.0, 0.5, -0.5, 2.0],
        b_q: vec![0.1, -0.2],
        w_k: vec![0.3, -1.2, 0.7, 0.4],
        b_k: vec![0.0, 0.5],
        w_v: vec![-1.0, 0.2, 0.6, 1.1],
        b_v: vec![0.05, -0.05],
        w_u: vec![0.9, -0.4, 0.3, 1.7, -1.3, 0.8],
        b_u: vec![0.25],
    };
    (cfg, w)
}

/// The seed's forward written out in f64 with plain loops, independently of the crate.
fn reference_logit(w: &Weights, tokens: &[usize], d: usize, scale: bool) -> f64 {
    let n = tokens.len();
    let at = |m: &[f32], r: usize, c: usize, cols: usize| f64::from(m[r * cols + c]);
    let proj = |wm: &[f32], b: &[f32], t: usize| -> Vec<f64> {
        (0..d)
            .map(|j| {
                f64::from(b[j])
                    + (0..d)
                        .map(|i| at(&w.w_e, t, i, d) * at(wm, i, j, d))
                        .sum::<f64>()
            })
            .collect()
    };
    let q: Vec<Vec<f64>> = tokens.iter().map(|&t| proj(&w.w_q, &w.b_q, t)).collect();
    let k: Vec<Vec<f64>> = tokens.iter().map(|&t| proj(&w.w_k, &w.b_k, t)).collect();
    let v: Vec<Vec<f64>> = tokens.iter().map(|&t| proj(&w.w_v, &w.b_v, t)).collect();
    let mut logit = f64::from(w.b_u[0]);
    for i in 0..n {
        let s: Vec<f64> = (0..n)
            .map(|j| {
                let dot: f64 = (0..d).map(|c| q[i][c] * k[j][c]).sum();
                if scale { dot / (d as f64).sqrt() } else { dot }
            })
            .collect();
        let e: Vec<f64> = s.iter().map(|x| x.exp()).collect();
        let total: f64 = e.iter().sum();
        for c in 0..d {
            let z: f64 = (0..n).map(|j| e[j] / total * v[j][c]).sum();
            logit += z * f64::from(w.w_u[i * d + c]);
        }
    }
    logit
}

#[test]
fn forward_on_hand_set_weights_equals_an_independent_computation() {
    let (cfg, w) = hand_model();
    let device = Device::flex();
    let inputs: [[usize; 3]; 4] = [[0, 1, 2], [3, 3, 1], [2, 0, 0], [1, 2, 3]];
    for scale in [true, false] {
        let cfg = cfg.clone().with_scale(scale);
        let model = w.to_model(&cfg, &device);
        let ids: Vec<u32> = inputs.iter().flatten().map(|&t| t as u32).collect();
        let got = vals(model.forward(tokens_from_ids(&ids, 3, &device)).logit);
        for (x, g) in inputs.iter().zip(&got) {
            let want = reference_logit(&w, x, 2, scale);
            assert!(
                (f64::from(*g) - want).abs() < 1e-5,
                "scale={scale} {x:?}: {g} vs {want}"
            );
        }
    }
}

#[test]
fn a_batch_of_n_equals_n_single_forwards() {
    let cfg = default_config();
    let model = random_model(&cfg, 1);
    let device = Device::flex();
    let ids = random_ids(&cfg, 64, 2);
    let batch = vals(model.forward(tokens_from_ids(&ids, 12, &device)).logit);
    let singles: Vec<f32> = ids
        .chunks(12)
        .flat_map(|x| vals(model.forward(tokens_from_ids(x, 12, &device)).logit))
        .collect();
    let diff = max_abs_diff(&batch, &singles);
    eprintln!("batch vs single max |Δlogit| = {diff:e}");
    assert!(diff <= 1e-6, "{diff}");
}

#[test]
fn cached_run_equals_plain_forward_exactly_and_rows_sum_to_one() {
    let cfg = default_config();
    let model = random_model(&cfg, 3);
    let device = Device::flex();
    let tokens = tokens_from_ids(&random_ids(&cfg, 32, 4), 12, &device);
    let plain = model.forward(tokens.clone());
    let run = model.run(tokens, &RunOptions::cached());
    assert_eq!(vals(plain.logit.clone()), vals(run.logit.clone()));
    assert_eq!(vals(plain.pattern.clone()), vals(run.pattern.clone()));
    let cache = run.cache.expect("cache requested");
    assert_eq!(vals(cache.head_out.clone()), vals(plain.logit));
    assert_eq!(cache.q.dims(), [32, 12, 10]);
    assert_eq!(cache.attn_scores.dims(), [32, 12, 12]);
    assert_eq!(cache.head_in.dims(), [32, 120]);
    let sums = vals(plain.pattern.sum_dim(2));
    let worst = sums.iter().map(|s| (s - 1.0).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-6, "row sums off by {worst}");
    let (shape, data) = cache.get_data(HookName::HeadIn);
    assert_eq!((shape, data.len()), (vec![32, 120], 32 * 120));
}

#[test]
fn patching_a_run_with_its_own_activations_changes_nothing() {
    let cfg = default_config();
    let model = random_model(&cfg, 5);
    let device = Device::flex();
    let tokens = tokens_from_ids(&random_ids(&cfg, 16, 6), 12, &device);
    let clean = model.run(tokens.clone(), &RunOptions::cached());
    let cache = clean.cache.expect("cache");
    let base = vals(clean.logit);
    for hook in HookName::ALL {
        for positions in [Positions::All, Positions::Only(vec![0, 5, 11])] {
            let opts = RunOptions {
                cache: false,
                interventions: vec![Intervention::patch(hook, positions.clone(), &cache)],
            };
            let patched = vals(model.run(tokens.clone(), &opts).logit);
            assert_eq!(patched, base, "{hook} {positions:?}");
        }
    }
}

#[test]
fn interventions_do_what_they_say() {
    let cfg = default_config();
    let model = random_model(&cfg, 7);
    let device = Device::flex();
    let a = tokens_from_ids(&random_ids(&cfg, 8, 8), 12, &device);
    let b = tokens_from_ids(&random_ids(&cfg, 8, 9), 12, &device);
    let run_a = model.run(a.clone(), &RunOptions::cached());
    let run_b = model.run(b, &RunOptions::cached());
    let cache_b = run_b.cache.expect("cache");
    let with = |iv: Intervention| {
        vals(
            model
                .run(
                    a.clone(),
                    &RunOptions {
                        cache: true,
                        interventions: vec![iv],
                    },
                )
                .logit,
        )
    };

    // Patching every position of the embeddings from b reproduces b's logit.
    let all_b = with(Intervention::patch(
        HookName::Embed,
        Positions::All,
        &cache_b,
    ));
    assert!(max_abs_diff(&all_b, &vals(run_b.logit.clone())) <= 1e-6);
    // Zeroing the logit gives zero; zeroing z leaves only the bias.
    assert!(
        with(Intervention::zero(HookName::HeadOut, Positions::All))
            .iter()
            .all(|&x| x == 0.0)
    );
    let b_u = Weights::from_model(&model).b_u[0];
    assert!(
        with(Intervention::zero(HookName::Z, Positions::All))
            .iter()
            .all(|&x| (x - b_u).abs() < 1e-6)
    );
    // Patching some positions of z moves the logit by exactly their head contribution.
    let part = with(Intervention::patch(
        HookName::Z,
        Positions::Only(vec![2]),
        &cache_b,
    ));
    let cache_a = run_a.cache.expect("cache");
    let w = Weights::from_model(&model);
    let (za, zb) = (vals(cache_a.z.clone()), vals(cache_b.z.clone()));
    for (i, p) in part.iter().enumerate() {
        let delta: f32 = (0..10)
            .map(|c| (zb[i * 120 + 20 + c] - za[i * 120 + 20 + c]) * w.w_u[20 + c])
            .sum();
        let base = vals(run_a.logit.clone())[i];
        assert!((p - (base + delta)).abs() < 1e-5, "{p} vs {}", base + delta);
    }
    // Mean ablation: a [1, pos, d] value broadcasts over the batch.
    let mean = cache_b.embed.clone().mean_dim(0);
    let m = with(Intervention::set(HookName::Embed, Positions::All, mean));
    assert!(
        m.windows(2).all(|p| (p[0] - p[1]).abs() < 1e-6),
        "all inputs become the mean input"
    );
    // Uniform attention replaces the pattern.
    let uniform = Tensor::<3>::ones([1, 12, 12], &device).div_scalar(12.0);
    let u = model.run(
        a.clone(),
        &RunOptions {
            cache: true,
            interventions: vec![Intervention::set(
                HookName::Pattern,
                Positions::All,
                uniform,
            )],
        },
    );
    let pat = vals(u.cache.expect("cache").pattern);
    assert!(pat.iter().all(|&p| (p - 1.0 / 12.0).abs() < 1e-7));
}

#[test]
fn gradients_flow_from_embeddings_and_match_finite_differences() {
    let cfg = default_config();
    let model = random_model(&cfg, 11);
    let device = Device::flex();
    let ids = random_ids(&cfg, 1, 12);
    let embed = model.embed.forward(tokens_from_ids(&ids, 12, &device));
    let leaf = embed.clone().autodiff().require_grad();
    let out = model.run_from_embeddings(leaf.clone(), None, &RunOptions::default());
    let grads = out.logit.sum().backward();
    let g = vals(leaf.grad(&grads).expect("gradient on the embeddings"));
    // Central finite differences on a few coordinates.
    let e0 = vals(embed.clone());
    let h = 1e-2f32;
    for idx in [0usize, 17, 63, 119] {
        let bump = |sign: f32| {
            let mut e = e0.clone();
            e[idx] += sign * h;
            let t = Tensor::<3>::from_data(TensorData::new(e, [1, 12, 10]), &device);
            vals(
                model
                    .run_from_embeddings(t, None, &RunOptions::default())
                    .logit,
            )[0]
        };
        let fd = (bump(1.0) - bump(-1.0)) / (2.0 * h);
        assert!(
            (fd - g[idx]).abs() < 1e-2 * (1.0 + fd.abs()),
            "coord {idx}: fd {fd} vs grad {}",
            g[idx]
        );
    }
}

#[test]
fn same_seed_same_weights_and_default_parameter_count() {
    let cfg = default_config();
    let a = Weights::from_model(&random_model(&cfg, 42));
    let b = Weights::from_model(&random_model(&cfg, 42));
    let c = Weights::from_model(&random_model(&cfg, 43));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let m = random_model(&cfg, 42);
    assert_eq!(cfg.n_params(), 1371);
    assert_eq!(m.num_params(), cfg.n_params());
}

#[test]
fn masking_pad_keys_gives_pad_zero_attention() {
    let cfg = default_config().with_mask_pad_keys(true);
    let model = random_model(&cfg, 13);
    let device = Device::flex();
    let ids = random_ids(&cfg, 16, 14);
    let pat = vals(model.forward(tokens_from_ids(&ids, 12, &device)).pattern);
    for (b, x) in ids.chunks(12).enumerate() {
        for q in 0..12 {
            for (k, &t) in x.iter().enumerate() {
                if t == face_data::PAD_ID {
                    assert_eq!(pat[b * 144 + q * 12 + k], 0.0);
                }
            }
        }
    }
}

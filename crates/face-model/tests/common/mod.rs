//! Shared helpers for the integration tests.
#![allow(dead_code)]

use burn::prelude::*;
use face_model::{FaceModel, FaceModelConfig, Weights};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The default config of the face charset: d_vocab 92, n_ctx 12, d_model 10, scaled.
pub fn default_config() -> FaceModelConfig {
    FaceModelConfig::new(face_data::Vocab::faces().d_vocab(), 12)
}

/// A randomly initialised model on Flex, reproducible from `seed`
/// ([`FaceModelConfig::init_seeded`] serialises Burn's global RNG).
pub fn random_model(cfg: &FaceModelConfig, seed: u64) -> FaceModel {
    cfg.init_seeded(seed, &Device::flex())
}

/// The same model with every weight multiplied by `k` (larger logits, sharper attention).
pub fn scaled(cfg: &FaceModelConfig, m: &FaceModel, k: f32) -> FaceModel {
    let w = Weights::from_model(m);
    let s = |v: &Vec<f32>| v.iter().map(|x| x * k).collect::<Vec<f32>>();
    let w2 = Weights {
        w_e: s(&w.w_e),
        w_q: s(&w.w_q),
        b_q: s(&w.b_q),
        w_k: s(&w.w_k),
        b_k: s(&w.b_k),
        w_v: s(&w.w_v),
        b_v: s(&w.b_v),
        w_u: s(&w.w_u),
        b_u: s(&w.b_u),
    };
    w2.to_model(cfg, &Device::flex())
}

/// `n` random padded inputs `[n, n_ctx]`: 1..=n_ctx real tokens, padded left or right.
pub fn random_ids(cfg: &FaceModelConfig, n: usize, seed: u64) -> Vec<u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * cfg.n_ctx);
    for _ in 0..n {
        let len = rng.random_range(1..=cfg.n_ctx);
        let toks: Vec<u32> = (0..len)
            .map(|_| rng.random_range(2..cfg.d_vocab as u32))
            .collect();
        let pad = vec![face_data::PAD_ID; cfg.n_ctx - len];
        if rng.random::<bool>() {
            out.extend(pad.iter().chain(&toks));
        } else {
            out.extend(toks.iter().chain(&pad));
        }
    }
    out
}

/// Values of a tensor as `f32`.
pub fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 data")
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

//! A plain `f32` evaluator of the trained model, with no Burn tensors, for bulk inference
//! and exhaustive checks.
//!
//! Without a positional embedding or residual path, q, k and v depend on the token alone,
//! so the model reduces to two small tables (interp-methods §0):
//! - `QK[a, b]`: the (scaled) score of a query token `a` on a key token `b`, `[d_vocab, d_vocab]`;
//! - `UV[pos, b]`: what attending to token `b` adds to the logit from query position `pos`,
//!   `W_U[pos]·(W_V·e_b + b_V)`, `[n_ctx, d_vocab]`.
//!
//! and `logit = b_U + Σ_q Σ_k pattern[q, k]·UV[q, t_k]` with
//! `pattern[q, ·] = softmax_k QK[t_q, t_k]`. [`RawModel::logit`] evaluates exactly this
//! with `exp` taken once per table entry; [`RawModel::logit_direct`] recomputes q, k, v
//! and the softmax step by step as the Burn forward does, as a second reference.

use face_data::PAD_ID;

use crate::config::FaceModelConfig;
use crate::weights::Weights;

/// The model as plain arrays plus its precomputed tables.
#[derive(Debug, Clone)]
pub struct RawModel {
    cfg: FaceModelConfig,
    w: Weights,
    /// `[d_vocab, d_model]` each: q, k, v of every token.
    q_tab: Vec<f32>,
    k_tab: Vec<f32>,
    v_tab: Vec<f32>,
    /// `[d_vocab, d_vocab]`: scaled scores.
    qk: Vec<f32>,
    /// `[d_vocab, d_vocab]`: `exp(QK[a, b] − max_b QK[a, ·])`, in (0, 1].
    exp_qk: Vec<f32>,
    /// `[n_ctx, d_vocab]`.
    uv: Vec<f32>,
}

fn affine(x: &[f32], w: &[f32], b: &[f32], out: &mut [f32]) {
    let d_out = out.len();
    for (j, o) in out.iter_mut().enumerate() {
        let mut acc = b[j];
        for (i, xi) in x.iter().enumerate() {
            acc += xi * w[i * d_out + j];
        }
        *o = acc;
    }
}

impl RawModel {
    /// Builds the evaluator and its tables. `w` must match `cfg` (see
    /// [`Weights::from_named`]).
    pub fn new(cfg: &FaceModelConfig, w: Weights) -> Self {
        let (dv, d, n) = (cfg.d_vocab, cfg.d_model, cfg.n_ctx);
        let mut q_tab = vec![0.0; dv * d];
        let mut k_tab = vec![0.0; dv * d];
        let mut v_tab = vec![0.0; dv * d];
        for t in 0..dv {
            let e = &w.w_e[t * d..(t + 1) * d];
            affine(e, &w.w_q, &w.b_q, &mut q_tab[t * d..(t + 1) * d]);
            affine(e, &w.w_k, &w.b_k, &mut k_tab[t * d..(t + 1) * d]);
            affine(e, &w.w_v, &w.b_v, &mut v_tab[t * d..(t + 1) * d]);
        }
        let inv = if cfg.scale {
            1.0 / (d as f64).sqrt()
        } else {
            1.0
        };
        let mut qk = vec![0.0f32; dv * dv];
        let mut exp_qk = vec![0.0f32; dv * dv];
        for a in 0..dv {
            let row: Vec<f64> = (0..dv)
                .map(|b| {
                    let s: f64 = (0..d)
                        .map(|i| f64::from(q_tab[a * d + i]) * f64::from(k_tab[b * d + i]))
                        .sum();
                    s * inv
                })
                .collect();
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for b in 0..dv {
                qk[a * dv + b] = row[b] as f32;
                exp_qk[a * dv + b] = (row[b] - max).exp() as f32;
            }
        }
        let mut uv = vec![0.0f32; n * dv];
        for p in 0..n {
            for b in 0..dv {
                let s: f64 = (0..d)
                    .map(|i| f64::from(w.w_u[p * d + i]) * f64::from(v_tab[b * d + i]))
                    .sum();
                uv[p * dv + b] = s as f32;
            }
        }
        RawModel {
            cfg: cfg.clone(),
            w,
            q_tab,
            k_tab,
            v_tab,
            qk,
            exp_qk,
            uv,
        }
    }

    /// The config.
    pub fn config(&self) -> &FaceModelConfig {
        &self.cfg
    }

    /// The weights.
    pub fn weights(&self) -> &Weights {
        &self.w
    }

    /// `QK[a, b]`, `[d_vocab, d_vocab]` row-major: scaled pre-softmax score.
    pub fn qk_table(&self) -> &[f32] {
        &self.qk
    }

    /// `UV[pos, b]`, `[n_ctx, d_vocab]` row-major.
    pub fn uv_table(&self) -> &[f32] {
        &self.uv
    }

    fn key_live(&self, t: u32) -> bool {
        !(self.cfg.mask_pad_keys && t == PAD_ID)
    }

    /// The logit of one padded input, `ids.len() == n_ctx`, every id below `d_vocab`
    /// (ids from the run's vocabulary always are).
    ///
    /// # Panics
    /// If `ids.len() != n_ctx` or an id is out of range (a caller bug: ids from the run's
    /// vocabulary are always in range).
    pub fn logit(&self, ids: &[u32]) -> f32 {
        assert_eq!(
            ids.len(),
            self.cfg.n_ctx,
            "RawModel::logit takes exactly n_ctx ids"
        );
        let dv = self.cfg.d_vocab;
        let mut logit = self.w.b_u[0];
        for (q, &tq) in ids.iter().enumerate() {
            let e_row = &self.exp_qk[tq as usize * dv..(tq as usize + 1) * dv];
            let uv_row = &self.uv[q * dv..(q + 1) * dv];
            let (mut den, mut num) = (0.0f32, 0.0f32);
            for &tk in ids {
                if self.key_live(tk) {
                    let e = e_row[tk as usize];
                    den += e;
                    num += e * uv_row[tk as usize];
                }
            }
            if den < 1e-30 {
                // Every key of this string sits far below the row's best key: exp underflowed.
                // Redo the row with its own maximum.
                let s_row = &self.qk[tq as usize * dv..(tq as usize + 1) * dv];
                let m = ids
                    .iter()
                    .filter(|&&t| self.key_live(t))
                    .map(|&t| s_row[t as usize])
                    .fold(f32::NEG_INFINITY, f32::max);
                (den, num) = (0.0, 0.0);
                for &tk in ids.iter().filter(|&&t| self.key_live(t)) {
                    let e = (s_row[tk as usize] - m).exp();
                    den += e;
                    num += e * uv_row[tk as usize];
                }
            }
            logit += num / den;
        }
        logit
    }

    /// The logit computed step by step like the Burn forward (q, k, v, scores, softmax with
    /// the row maximum, z, head). Slower; a second reference for [`RawModel::logit`].
    pub fn logit_direct(&self, ids: &[u32]) -> f32 {
        assert_eq!(
            ids.len(),
            self.cfg.n_ctx,
            "RawModel::logit_direct takes exactly n_ctx ids"
        );
        let d = self.cfg.d_model;
        let row = |tab: &[f32], t: u32| -> Vec<f32> {
            tab[t as usize * d..(t as usize + 1) * d].to_vec()
        };
        let inv = if self.cfg.scale {
            1.0 / (d as f32).sqrt()
        } else {
            1.0
        };
        let mut logit = self.w.b_u[0];
        for (qp, &tq) in ids.iter().enumerate() {
            let q = row(&self.q_tab, tq);
            let scores: Vec<f32> = ids
                .iter()
                .map(|&tk| {
                    if !self.key_live(tk) {
                        return f32::NEG_INFINITY;
                    }
                    let k = row(&self.k_tab, tk);
                    q.iter().zip(&k).map(|(a, b)| a * b).sum::<f32>() * inv
                })
                .collect();
            let m = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exps: Vec<f32> = scores.iter().map(|s| (s - m).exp()).collect();
            let total: f32 = exps.iter().sum();
            let mut z = vec![0.0f32; d];
            for (e, &tk) in exps.iter().zip(ids) {
                let p = e / total;
                for (zi, vi) in z.iter_mut().zip(row(&self.v_tab, tk)) {
                    *zi += p * vi;
                }
            }
            for (zi, ui) in z.iter().zip(&self.w.w_u[qp * d..(qp + 1) * d]) {
                logit += zi * ui;
            }
        }
        logit
    }

    /// Logits of `out.len()` inputs laid end to end in `ids` (`[batch, n_ctx]` row-major).
    pub fn logits(&self, ids: &[u32], out: &mut [f32]) {
        let n = self.cfg.n_ctx;
        assert_eq!(
            ids.len(),
            out.len() * n,
            "ids must hold out.len() inputs of n_ctx ids"
        );
        for (o, x) in out.iter_mut().zip(ids.chunks_exact(n)) {
            *o = self.logit(x);
        }
    }

    /// As [`RawModel::logits`], split over `threads` OS threads.
    pub fn logits_par(&self, ids: &[u32], out: &mut [f32], threads: usize) {
        let n = self.cfg.n_ctx;
        assert_eq!(
            ids.len(),
            out.len() * n,
            "ids must hold out.len() inputs of n_ctx ids"
        );
        let per = out.len().div_ceil(threads.max(1)).max(1);
        std::thread::scope(|s| {
            for (o, x) in out.chunks_mut(per).zip(ids.chunks(per * n)) {
                s.spawn(move || self.logits(x, o));
            }
        });
    }
}

//! The exact decomposition of this model (interp-methods §0): no residual stream, one
//! head, so
//!
//! ```text
//! logit = b_U + Σ_q Σ_k pattern[q, k] · UV[q, t_k],   UV[q, c] = W_U[q] · (E[c]·W_V + b_V)
//! pattern[q, ·] = softmax_k(QK[t_q, t_k]),            QK[a, b] = (E[a]W_Q + b_Q)·(E[b]W_K + b_K)/√d
//! ```
//!
//! Every term is computed here in `f64` from the two tables; the sum is checked against
//! the Burn forward (an independent implementation).

use face_data::PAD_ID;
use face_model::RawModel;
use serde::Serialize;

/// One input's terms.
#[derive(Debug, Clone, Serialize)]
pub struct Decomposition {
    /// `n_ctx`.
    pub n_ctx: usize,
    /// Attention pattern, `[query_pos, key_pos]` row-major.
    pub pattern: Vec<f64>,
    /// `pattern[q, k] · UV[q, t_k]`, `[query_pos, key_pos]` row-major.
    pub terms: Vec<f64>,
    /// `b_U`.
    pub bias: f64,
}

impl Decomposition {
    /// `b_U + Σ terms`: the logit.
    pub fn logit(&self) -> f64 {
        self.bias + self.terms.iter().sum::<f64>()
    }

    /// Contribution of each query position: `Σ_k terms[q, k]` (what the head writes at
    /// `q`, read out by `W_U[q]`), `[n_ctx]`.
    pub fn by_query(&self) -> Vec<f64> {
        self.terms
            .chunks(self.n_ctx)
            .map(|row| row.iter().sum())
            .collect()
    }

    /// Contribution routed through each key position: `Σ_q terms[q, k]`, `[n_ctx]`.
    pub fn by_key(&self) -> Vec<f64> {
        let n = self.n_ctx;
        (0..n)
            .map(|k| (0..n).map(|q| self.terms[q * n + k]).sum())
            .collect()
    }

    /// Row `q` of the pattern.
    pub fn pattern_row(&self, q: usize) -> &[f64] {
        &self.pattern[q * self.n_ctx..(q + 1) * self.n_ctx]
    }
}

/// The terms of one padded input (`ids.len() == n_ctx`).
pub fn decompose(raw: &RawModel, ids: &[u32]) -> Decomposition {
    let cfg = raw.config();
    let (n, dv) = (cfg.n_ctx, cfg.d_vocab);
    assert_eq!(ids.len(), n, "decompose takes exactly n_ctx ids");
    let qk = raw.qk_table();
    let uv = raw.uv_table();
    let live = |t: u32| !(cfg.mask_pad_keys && t == PAD_ID);
    let any_live = ids.iter().any(|&t| live(t));
    let mut pattern = vec![0.0f64; n * n];
    let mut terms = vec![0.0f64; n * n];
    for (q, &tq) in ids.iter().enumerate() {
        let row = &qk[tq as usize * dv..(tq as usize + 1) * dv];
        let scores: Vec<f64> = ids
            .iter()
            .map(|&tk| {
                if live(tk) || !any_live {
                    f64::from(row[tk as usize])
                } else {
                    f64::NEG_INFINITY
                }
            })
            .collect();
        let m = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
        let den: f64 = e.iter().sum();
        for (k, &tk) in ids.iter().enumerate() {
            let a = e[k] / den;
            pattern[q * n + k] = a;
            terms[q * n + k] = a * f64::from(uv[q * dv + tk as usize]);
        }
    }
    Decomposition {
        n_ctx: n,
        pattern,
        terms,
        bias: f64::from(raw.weights().b_u[0]),
    }
}

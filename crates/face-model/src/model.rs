//! The seed's `FaceClassifier` as a Burn module, with one instrumented forward.
//!
//! ```text
//! tokens [batch, pos]
//!   └─ W_E ──────────────► hook_embed          x  [batch, pos, d_model]
//!        ├─ x·W_Q + b_Q ─► hook_q              q  [batch, pos, d_model]
//!        ├─ x·W_K + b_K ─► hook_k              k  [batch, pos, d_model]
//!        └─ x·W_V + b_V ─► hook_v              v  [batch, pos, d_model]
//!   q·kᵀ (/√d_model) ────► hook_attn_scores       [batch, query_pos, key_pos]
//!   softmax over keys ───► hook_pattern           [batch, query_pos, key_pos]
//!   pattern·v ───────────► hook_z             z  [batch, pos, d_model]
//!   flatten ─────────────► head.hook_in           [batch, pos·d_model]
//!   ·W_U + b_U ──────────► head.hook_out  logit   [batch]
//! ```
//!
//! No positional embedding and no residual stream, as in the seed: position reaches the
//! logit only through the flatten, where `W_U` has a separate row for each position.

use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};
use face_data::PAD_ID;

use crate::config::FaceModelConfig;
use crate::hooks::{ActivationCache, HookName, RunOptions};

/// The single attention head's projections.
#[derive(Module, Debug)]
pub struct Attention {
    /// `W_Q` `[d_model, d_model]` (input rows, `x·W`), `b_Q` `[d_model]`.
    pub w_q: Linear,
    /// `W_K`, `b_K`, as `w_q`.
    pub w_k: Linear,
    /// `W_V`, `b_V`, as `w_q`.
    pub w_v: Linear,
}

/// The face classifier. Parameters are public for analysis.
#[derive(Module, Debug)]
pub struct FaceModel {
    /// `W_E` `[d_vocab, d_model]`.
    pub embed: Embedding,
    /// The attention head.
    pub attn: Attention,
    /// `W_U` `[n_ctx·d_model, 1]`, `b_U` `[1]`: the classifier head on flattened z.
    pub head: Linear,
    n_ctx: usize,
    d_model: usize,
    scale: bool,
    mask_pad_keys: bool,
}

/// The plain forward's result.
#[derive(Debug, Clone)]
pub struct Forward {
    /// Pre-sigmoid logit, `[batch]`.
    pub logit: Tensor<1>,
    /// Attention pattern, `[batch, query_pos, key_pos]` (the seed returns it too).
    pub pattern: Tensor<3>,
}

/// An instrumented run's result.
#[derive(Debug, Clone)]
pub struct Run {
    /// Pre-sigmoid logit, `[batch]`.
    pub logit: Tensor<1>,
    /// Attention pattern, `[batch, query_pos, key_pos]`.
    pub pattern: Tensor<3>,
    /// Every intermediate, when asked for.
    pub cache: Option<ActivationCache>,
}

impl FaceModelConfig {
    /// A freshly initialised model on `device`: `W_E ~ N(0, 1)`, linears
    /// `U(-1/√fan_in, 1/√fan_in)` as PyTorch's defaults (the seed). Seed the device
    /// (`device.seed(s)`) first for reproducible weights.
    pub fn init(&self, device: &Device) -> FaceModel {
        let d = self.d_model;
        FaceModel {
            embed: EmbeddingConfig::new(self.d_vocab, d).init(device),
            attn: Attention {
                w_q: LinearConfig::new(d, d).init(device),
                w_k: LinearConfig::new(d, d).init(device),
                w_v: LinearConfig::new(d, d).init(device),
            },
            head: LinearConfig::new(self.n_ctx * d, 1).init(device),
            n_ctx: self.n_ctx,
            d_model: d,
            scale: self.scale,
            mask_pad_keys: self.mask_pad_keys,
        }
    }

    /// A model whose initial weights depend on `seed` alone, on any device: initialised
    /// on Flex and moved to `device`, so a CPU and a GPU run of one seed start equal.
    ///
    /// Burn's RNG is process-global and parameters are initialised lazily (on first
    /// read), so concurrent inits would interleave their draws. A process-wide lock
    /// covers the seeding, the init and a first read of every parameter.
    pub fn init_seeded(&self, seed: u64, device: &Device) -> FaceModel {
        static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = RNG
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let flex = Device::flex();
        flex.seed(seed);
        let model = self.init(&flex);
        let _ = crate::weights::Weights::from_model(&model);
        let model = model.fork(device);
        // Parameters made on a plain device do not track gradients; enable them for
        // training on an autodiff device.
        if device.is_autodiff() {
            model.train()
        } else {
            model
        }
    }
}

impl FaceModel {
    /// Context length.
    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// Embedding width.
    pub fn d_model(&self) -> usize {
        self.d_model
    }

    /// Whether scores are divided by `sqrt(d_model)`.
    pub fn scale(&self) -> bool {
        self.scale
    }

    /// Whether PAD keys are masked out of attention.
    pub fn mask_pad_keys(&self) -> bool {
        self.mask_pad_keys
    }

    /// The logit and the attention pattern.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, pos]` with `pos == n_ctx`, ids below `d_vocab`
    /// - returns `logit` `[batch]`, `pattern` `[batch, query_pos, key_pos]`
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Forward {
        let run = self.run(tokens, &RunOptions::default());
        Forward {
            logit: run.logit,
            pattern: run.pattern,
        }
    }

    /// `sigmoid(logit)`, the probability of a face, `[batch]`.
    pub fn predict_proba(&self, tokens: Tensor<2, Int>) -> Tensor<1> {
        sigmoid(self.forward(tokens).logit)
    }

    /// The instrumented forward: the same computation as [`FaceModel::forward`] (which
    /// calls it), with optional caching and interventions.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, pos]`
    pub fn run(&self, tokens: Tensor<2, Int>, opts: &RunOptions) -> Run {
        let pad_keys = self.pad_key_mask(&tokens);
        let embed = self.embed.forward(tokens); // [batch, pos, d_model]
        self.run_from_embeddings(embed, pad_keys, opts)
    }

    /// `[batch, key_pos]`, true at PAD keys, when this model masks them.
    pub fn pad_key_mask(&self, tokens: &Tensor<2, Int>) -> Option<Tensor<2, Bool>> {
        self.mask_pad_keys
            .then(|| tokens.clone().equal_elem(i64::from(PAD_ID)))
    }

    /// The forward from embeddings onwards (for gradient attribution: make `embed` a
    /// leaf that requires gradients). `hook_embed` interventions still apply.
    ///
    /// # Shapes
    /// - `embed`: `[batch, pos, d_model]`
    /// - `pad_keys`: `[batch, key_pos]`, needed only when the model masks PAD keys
    ///
    /// # Panics
    /// If the model masks PAD keys and `pad_keys` is `None`: that would silently run a
    /// different function from [`FaceModel::forward`]. Use [`FaceModel::pad_key_mask`].
    pub fn run_from_embeddings(
        &self,
        embed: Tensor<3>,
        pad_keys: Option<Tensor<2, Bool>>,
        opts: &RunOptions,
    ) -> Run {
        let [batch, pos, d_model] = embed.dims();
        assert!(
            !self.mask_pad_keys || pad_keys.is_some(),
            "this model masks PAD keys: pass pad_keys (FaceModel::pad_key_mask) to run_from_embeddings"
        );
        let x = opts.apply(HookName::Embed, embed); // [batch, pos, d_model]
        let q = opts.apply(HookName::Q, self.attn.w_q.forward(x.clone())); // [batch, pos, d_model]
        let k = opts.apply(HookName::K, self.attn.w_k.forward(x.clone())); // [batch, pos, d_model]
        let v = opts.apply(HookName::V, self.attn.w_v.forward(x.clone())); // [batch, pos, d_model]
        let mut scores = q.clone().matmul(k.clone().swap_dims(1, 2)); // [batch, query_pos, key_pos]
        if self.scale {
            scores = scores.div_scalar((d_model as f32).sqrt());
        }
        if let (true, Some(pad)) = (self.mask_pad_keys, pad_keys) {
            let pad = pad.reshape([batch, 1, pos]).expand([batch, pos, pos]);
            scores = scores.mask_fill(pad, f32::NEG_INFINITY);
        }
        let scores = opts.apply(HookName::AttnScores, scores);
        let pattern = opts.apply(HookName::Pattern, softmax(scores.clone(), 2)); // [batch, query_pos, key_pos]
        let z = opts.apply(HookName::Z, pattern.clone().matmul(v.clone())); // [batch, pos, d_model]
        let head_in3 = opts.apply(HookName::HeadIn, z.clone()); // [batch, pos, d_model]
        let head_in: Tensor<2> = head_in3.reshape([batch, pos * d_model]); // [batch, pos·d_model]
        let mut logit: Tensor<1> = self.head.forward(head_in.clone()).reshape([batch]); // [batch]
        if opts.touches(HookName::HeadOut) {
            logit = opts
                .apply(HookName::HeadOut, logit.reshape([batch, 1, 1]))
                .reshape([batch]);
        }
        let cache = opts.cache.then(|| ActivationCache {
            embed: x,
            q,
            k,
            v,
            attn_scores: scores,
            pattern: pattern.clone(),
            z,
            head_in,
            head_out: logit.clone(),
        });
        Run {
            logit,
            pattern,
            cache,
        }
    }
}

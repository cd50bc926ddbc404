//! The model's configuration, named as TransformerLens names things.

use burn::prelude::*;

/// Configuration of [`crate::FaceModel`]. The defaults reproduce the seed's
/// `FaceClassifier(vocab_size, seq_len, n_dim=10)` with `SelfAttention(scale=True)`:
/// no positional embedding, no residual stream, PAD keys not masked.
#[derive(Config, Debug, PartialEq)]
pub struct FaceModelConfig {
    /// Vocabulary size, PAD and UNK included (92 for the face charset).
    pub d_vocab: usize,
    /// Context length: every input is padded to exactly this many positions (the seed's
    /// `seq_len`, 12).
    pub n_ctx: usize,
    /// Embedding width, also the width of q, k, v (one head, so `d_head = d_model`; the
    /// seed's `n_dim`).
    #[config(default = 10)]
    pub d_model: usize,
    /// Divide attention scores by `sqrt(d_model)` (the seed instantiates `scale=True`).
    #[config(default = true)]
    pub scale: bool,
    /// Variant, off in the seed: give PAD keys zero attention (scores set to -inf before
    /// the softmax), so padding cannot carry information through attention.
    #[config(default = false)]
    pub mask_pad_keys: bool,
}

/// What is wrong with a config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid model config: {0}")]
pub struct ConfigError(pub String);

impl FaceModelConfig {
    /// Checks the sizes: all positive, and `d_vocab` large enough for PAD, UNK and one
    /// character.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.d_vocab < 3 {
            return Err(ConfigError(format!(
                "d_vocab = {} leaves no room for PAD, UNK and a character",
                self.d_vocab
            )));
        }
        if self.n_ctx == 0 || self.d_model == 0 {
            return Err(ConfigError(format!(
                "n_ctx = {} and d_model = {} must both be at least 1",
                self.n_ctx, self.d_model
            )));
        }
        Ok(())
    }

    /// Number of trainable parameters: `W_E` + three `(W, b)` pairs + `(W_U, b_U)`.
    pub fn n_params(&self) -> usize {
        let d = self.d_model;
        self.d_vocab * d + 3 * (d * d + d) + self.n_ctx * d + 1
    }
}

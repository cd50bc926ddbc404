//! The planted counting model shared by the test binaries.

use face_data::Vocab;
use face_model::{FaceModelConfig, Weights};

/// d_model 2. Only `(` and `)` have a non-zero embedding ([1, 0]); Q and K are zero, so
/// attention is uniform over all `n_ctx` keys; V is the identity and every readout row is
/// [1, 0]; b_U = −1.5. So (with `n_ctx` 6) logit = (number of brackets) − 1.5: "a face"
/// iff at least 2 brackets.
pub fn counting(n_ctx: usize) -> (FaceModelConfig, Weights, Vocab) {
    let vocab = Vocab::faces();
    let cfg = FaceModelConfig::new(vocab.d_vocab(), n_ctx).with_d_model(2);
    let d = 2;
    let mut w_e = vec![0.0f32; vocab.d_vocab() * d];
    for c in ['(', ')'] {
        w_e[vocab.id(c) as usize * d] = 1.0;
    }
    let w = Weights {
        w_e,
        w_q: vec![0.0; d * d],
        b_q: vec![0.0; d],
        w_k: vec![0.0; d * d],
        b_k: vec![0.0; d],
        w_v: vec![1.0, 0.0, 0.0, 1.0],
        b_v: vec![0.0; d],
        w_u: (0..n_ctx).flat_map(|_| [1.0, 0.0]).collect(),
        b_u: vec![-1.5],
    };
    (cfg, w, vocab)
}

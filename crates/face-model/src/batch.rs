//! Turning strings into token tensors.

use burn::prelude::*;
use face_data::{PadSide, Vocab};

/// `[batch, n_ctx]` token ids from row-major `u32` ids.
///
/// # Panics
/// If `ids.len()` is not a multiple of `n_ctx` (a caller bug).
pub fn tokens_from_ids(ids: &[u32], n_ctx: usize, device: &Device) -> Tensor<2, Int> {
    assert!(
        n_ctx > 0 && ids.len().is_multiple_of(n_ctx),
        "{} ids do not split into rows of n_ctx = {n_ctx}",
        ids.len()
    );
    let batch = ids.len() / n_ctx;
    let data: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    Tensor::<2, Int>::from_data(TensorData::new(data, [batch, n_ctx]), device)
}

/// Encodes and pads `texts` (exactly, no truncation) into `[batch, n_ctx]` ids,
/// returning the ids and the number of unknown characters.
pub fn encode_texts<S: AsRef<str>>(
    vocab: &Vocab,
    texts: &[S],
    n_ctx: usize,
    side: PadSide,
) -> face_data::Result<(Vec<u32>, usize)> {
    let mut ids = Vec::with_capacity(texts.len() * n_ctx);
    let mut unknown = 0;
    for t in texts {
        let e = vocab.encode_padded(t.as_ref(), n_ctx, side)?;
        unknown += e.unknown;
        ids.extend_from_slice(&e.ids);
    }
    Ok((ids, unknown))
}

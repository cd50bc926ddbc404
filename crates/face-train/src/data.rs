//! The data of a run: generated from its [`DataSpec`], split, padded and encoded once,
//! then served to the Learner in batches by [`EpochLoader`].
//!
//! Burn's `DataLoaderBuilder::shuffle` draws each epoch's order from one RNG that a
//! resumed run would restart, so a resumed run would see other orders than an
//! uninterrupted one. [`EpochLoader`] derives epoch `e`'s order from `(seed, e)` alone:
//! resuming after epoch `k` replays exactly the orders of epochs `k+1, ...`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::prelude::*;
use face_data::{
    Example, FacePool, FaceSplit, GenStats, Stream, Vocab, generate, rng, train_test_split,
};
use face_model::DataSpec;
use face_model::train::FaceBatch;
use rand::seq::SliceRandom;

use crate::error::Result;

/// One split, encoded: `ids` is row-major `[len, n_ctx]`.
#[derive(Debug, Clone)]
pub struct EncodedSplit {
    /// Token ids, `[len, n_ctx]` row-major.
    pub ids: Vec<u32>,
    /// Labels (1: face), `[len]`.
    pub labels: Vec<u8>,
    /// The examples, in the same order.
    pub examples: Vec<Example>,
    /// Row length.
    pub n_ctx: usize,
}

impl EncodedSplit {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Row `i`'s ids.
    pub fn row(&self, i: usize) -> &[u32] {
        &self.ids[i * self.n_ctx..(i + 1) * self.n_ctx]
    }
}

/// A run's data.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Training examples.
    pub train: EncodedSplit,
    /// Test examples (the validation split during training, as in the notebook).
    pub test: EncodedSplit,
    /// The faces never used in training (empty when `held_out_frac` is 0).
    pub face_split: FaceSplit,
    /// Generator counters.
    pub stats: GenStats,
}

/// Regenerates a run's data exactly from its spec: examples from the `Examples` stream,
/// faces from the train pool when some are held out, the split from `TrainTest`, one
/// padding side per example (in generation order) from `Padding`.
pub fn build(spec: &DataSpec, vocab: &Vocab) -> Result<Splits> {
    let face_split = if spec.held_out_frac > 0.0 {
        FaceSplit::new(spec.held_out_frac, spec.split_seed)?
    } else {
        FaceSplit::none()
    };
    let pool = if face_split.held_out.is_empty() {
        FacePool::All
    } else {
        FacePool::Train(&face_split)
    };
    let data = generate(&spec.generator, pool, spec.n_examples, spec.seed)?;
    let n_ctx = spec.generator.n_ctx;
    let mut pad_rng = rng(spec.seed, Stream::Padding);
    let mut ids = Vec::with_capacity(data.examples.len() * n_ctx);
    for ex in &data.examples {
        let side = spec.padding.side(&mut pad_rng);
        ids.extend_from_slice(&vocab.encode_padded(&ex.text, n_ctx, side)?.ids);
    }
    let (train_idx, test_idx) = train_test_split(data.examples.len(), spec.test_frac, spec.seed)?;
    let take = |idx: &[usize]| EncodedSplit {
        ids: idx
            .iter()
            .flat_map(|&i| ids[i * n_ctx..(i + 1) * n_ctx].iter().copied())
            .collect(),
        labels: idx
            .iter()
            .map(|&i| u8::from(data.examples[i].label))
            .collect(),
        examples: idx.iter().map(|&i| data.examples[i].clone()).collect(),
        n_ctx,
    };
    Ok(Splits {
        train: take(&train_idx),
        test: take(&test_idx),
        face_split,
        stats: data.stats,
    })
}

/// Serves an [`EncodedSplit`] in batches; with a seed, epoch `e` (1-based) visits the
/// examples in an order that depends on `(seed, e)` only.
pub struct EpochLoader {
    data: Arc<EncodedSplit>,
    range: (usize, usize),
    batch_size: usize,
    shuffle: Option<u64>,
    next_epoch: AtomicUsize,
    device: Device,
}

impl EpochLoader {
    /// A loader whose first `iter()` is epoch `first_epoch` (1 for a fresh run, `k + 1`
    /// when resuming after epoch `k`).
    pub fn new(
        data: Arc<EncodedSplit>,
        batch_size: usize,
        shuffle: Option<u64>,
        first_epoch: usize,
        device: &Device,
    ) -> Self {
        assert!(batch_size > 0, "batch_size is validated before this point");
        let len = data.len();
        EpochLoader {
            data,
            range: (0, len),
            batch_size,
            shuffle,
            next_epoch: AtomicUsize::new(first_epoch),
            device: device.clone(),
        }
    }

    /// The order of epoch `epoch` (indices into the split).
    pub fn order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (self.range.0..self.range.1).collect();
        if let Some(seed) = self.shuffle {
            let mut r = rng(seed, Stream::Shuffle);
            // Each epoch reads its own region of the stream (2^36 words apart).
            r.set_word_pos((epoch as u128) << 36);
            order.shuffle(&mut r);
        }
        order
    }

    fn with(&self, range: (usize, usize), device: &Device) -> Self {
        EpochLoader {
            data: self.data.clone(),
            range,
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            next_epoch: AtomicUsize::new(self.next_epoch.load(Ordering::SeqCst)),
            device: device.clone(),
        }
    }
}

/// Builds one batch from rows of `data`.
///
/// # Shapes
/// - returns `tokens` `[rows.len(), n_ctx]`, `labels` `[rows.len()]`
pub fn make_batch(data: &EncodedSplit, rows: &[usize], device: &Device) -> FaceBatch {
    let n_ctx = data.n_ctx;
    let mut toks = Vec::with_capacity(rows.len() * n_ctx);
    let mut labels = Vec::with_capacity(rows.len());
    for &r in rows {
        toks.extend(data.row(r).iter().map(|&t| i64::from(t)));
        labels.push(i64::from(data.labels[r]));
    }
    FaceBatch {
        tokens: Tensor::<2, Int>::from_data(TensorData::new(toks, [rows.len(), n_ctx]), device),
        labels: Tensor::<1, Int>::from_data(TensorData::new(labels, [rows.len()]), device),
    }
}

struct EpochIter<'a> {
    loader: &'a EpochLoader,
    order: Vec<usize>,
    pos: usize,
}

impl Iterator for EpochIter<'_> {
    type Item = std::result::Result<FaceBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.order.len() {
            return None;
        }
        let end = (self.pos + self.loader.batch_size).min(self.order.len());
        let batch = make_batch(
            &self.loader.data,
            &self.order[self.pos..end],
            &self.loader.device,
        );
        self.pos = end;
        Some(Ok(batch))
    }
}

impl DataLoaderIterator<FaceBatch> for EpochIter<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.pos, self.order.len(), None)
    }
}

impl DataLoader<FaceBatch> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<FaceBatch> + 'a> {
        let epoch = self.next_epoch.fetch_add(1, Ordering::SeqCst);
        Box::new(EpochIter {
            loader: self,
            order: self.order(epoch),
            pos: 0,
        })
    }

    fn num_items(&self) -> usize {
        self.range.1 - self.range.0
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<FaceBatch>> {
        Arc::new(self.with(self.range, device))
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<FaceBatch>> {
        let a = (self.range.0 + start).min(self.range.1);
        let b = (self.range.0 + end).min(self.range.1).max(a);
        Arc::new(self.with((a, b), &self.device))
    }
}

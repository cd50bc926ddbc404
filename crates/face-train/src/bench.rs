//! Training throughput: the Learner end to end, the bare train step, and where a step's
//! time goes (batch building, forward, backward, optimiser).

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::train::TrainStep;
use face_data::Vocab;
use serde::Serialize;

use crate::config::TrainConfig;
use crate::data::{self, EncodedSplit, Splits};
use crate::device::Chosen;
use crate::error::Result;
use crate::renderer::Display;
use crate::run::{TrainOptions, fit_timed};

/// One batch size's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchRow {
    /// Examples per step.
    pub batch_size: usize,
    /// Steps timed.
    pub steps: usize,
    /// The Learner (one epoch of `steps` steps plus a 1-batch validation), samples/s.
    pub learner_samples_per_s: f64,
    /// The Learner's time per step, ms.
    pub learner_step_ms: f64,
    /// A bare train step (forward, backward, Adam) on prebuilt batches, ms.
    pub bare_step_ms: f64,
    /// Bare steps, samples/s.
    pub bare_samples_per_s: f64,
    /// Building a batch (ids to tensors), ms.
    pub batch_ms: f64,
    /// Forward and loss on the autodiff device, ms.
    pub forward_ms: f64,
    /// Forward, loss and backward, ms.
    pub forward_backward_ms: f64,
}

/// Times `steps` steps at each batch size on `chosen` (each figure the median of three
/// runs).
pub fn run(
    cfg: &TrainConfig,
    chosen: &Chosen,
    batch_sizes: &[usize],
    steps: usize,
) -> Result<Vec<BenchRow>> {
    let vocab = Vocab::faces();
    let max_bs = batch_sizes.iter().copied().max().unwrap_or(1);
    let mut spec = cfg.data_spec();
    spec.n_examples = steps * max_bs + max_bs;
    spec.test_frac = max_bs as f64 / spec.n_examples as f64;
    let splits = data::build(&spec, &vocab)?;
    let dir = std::env::temp_dir().join(format!("face-train-bench-{}", std::process::id()));
    let mut rows = Vec::new();
    for &bs in batch_sizes {
        let n = steps * bs;
        let train = slice(&splits.train, n);
        let test = slice(&splits.test, bs);
        let sub = Splits {
            train,
            test,
            face_split: splits.face_split.clone(),
            stats: splits.stats,
        };
        let mut c = cfg.clone();
        c.train.batch_size = bs;
        c.train.eval_batch_size = bs;
        c.train.epochs = 1;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(crate::error::io(&dir))?;
        let mut opts = TrainOptions::new(&dir);
        opts.display = Display::Quiet;
        // Warm up (kernel compilation on wgpu, allocator, rayon pool), then time.
        fit_timed(&c, &slice_splits(&sub, 8 * bs, bs), chosen, &dir, &opts)?;
        // Median of three runs each: the machines are shared and noisy.
        let mut learner = Vec::new();
        for _ in 0..3 {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(crate::error::io(&dir))?;
            learner.push(fit_timed(&c, &sub, chosen, &dir, &opts)?);
        }
        let _ = std::fs::remove_dir_all(&dir);
        learner.sort_by(f64::total_cmp);
        let learner_s = learner[1];
        let mut bares: Vec<Bare> = (0..3)
            .map(|_| bare_step(&c, &sub.train, chosen, bs, steps))
            .collect();
        bares.sort_by(|a, b| a.step_ms.total_cmp(&b.step_ms));
        let bare = bares.swap_remove(1);
        rows.push(BenchRow {
            batch_size: bs,
            steps,
            learner_samples_per_s: n as f64 / learner_s,
            learner_step_ms: 1e3 * learner_s / steps as f64,
            bare_step_ms: bare.step_ms,
            bare_samples_per_s: bs as f64 / (bare.step_ms / 1e3),
            batch_ms: bare.batch_ms,
            forward_ms: bare.forward_ms,
            forward_backward_ms: bare.forward_backward_ms,
        });
    }
    Ok(rows)
}

fn slice(s: &EncodedSplit, n: usize) -> EncodedSplit {
    let n = n.min(s.len());
    EncodedSplit {
        ids: s.ids[..n * s.n_ctx].to_vec(),
        labels: s.labels[..n].to_vec(),
        examples: s.examples[..n].to_vec(),
        n_ctx: s.n_ctx,
    }
}

fn slice_splits(s: &Splits, n_train: usize, n_test: usize) -> Splits {
    Splits {
        train: slice(&s.train, n_train),
        test: slice(&s.test, n_test),
        face_split: s.face_split.clone(),
        stats: s.stats,
    }
}

struct Bare {
    step_ms: f64,
    batch_ms: f64,
    forward_ms: f64,
    forward_backward_ms: f64,
}

fn bare_step(
    cfg: &TrainConfig,
    train: &EncodedSplit,
    chosen: &Chosen,
    bs: usize,
    steps: usize,
) -> Bare {
    let device = &chosen.device;
    let ad = device.clone().autodiff();
    let mut model = cfg.model_config().init_seeded(cfg.seed, &ad);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let rows: Vec<Vec<usize>> = (0..steps)
        .map(|s| ((s * bs)..((s + 1) * bs).min(train.len())).collect())
        .collect();
    // Backends may queue work; wait for it before reading the clock.
    let sync = |t: Tensor<1>| {
        let _ = t.into_data();
        let _ = device.sync();
    };

    let t = Instant::now();
    let batches: Vec<_> = rows
        .iter()
        .map(|r| data::make_batch(train, r, &ad))
        .collect();
    let batch_ms = 1e3 * t.elapsed().as_secs_f64() / steps as f64;

    // Warm-up.
    for b in batches.iter().take(10) {
        let out = TrainStep::step(&model, b.clone());
        model = optim.step(cfg.train.learning_rate, model, out.grads);
    }
    let t = Instant::now();
    let mut last = None;
    for b in &batches {
        last = Some(model.forward_classification(b.clone()).loss);
    }
    if let Some(l) = last.take() {
        sync(l.inner());
    }
    let forward_ms = 1e3 * t.elapsed().as_secs_f64() / steps as f64;

    let t = Instant::now();
    for b in &batches {
        let out = model.forward_classification(b.clone());
        let grads = out.loss.backward();
        let _ = GradientsParams::from_grads(grads, &model);
    }
    let _ = device.sync();
    let forward_backward_ms = 1e3 * t.elapsed().as_secs_f64() / steps as f64;

    let t = Instant::now();
    for b in &batches {
        let out = TrainStep::step(&model, b.clone());
        last = Some(out.item.loss);
        model = optim.step(cfg.train.learning_rate, model, out.grads);
    }
    if let Some(l) = last {
        sync(l.inner());
    }
    let step_ms = 1e3 * t.elapsed().as_secs_f64() / steps as f64;
    Bare {
        step_ms,
        batch_ms,
        forward_ms,
        forward_backward_ms,
    }
}

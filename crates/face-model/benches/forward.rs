//! Throughput of the model's forward: the raw f32 evaluator (table and direct paths,
//! one and all threads) beside the Burn forward on Flex, measured side by side in one run.
//! Prints strings/s; run with `cargo bench -p face-model`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use burn::prelude::*;
use face_model::batch::tokens_from_ids;
use face_model::{FaceModelConfig, RawModel, Weights};

/// Runs `f` (which processes `per_call` strings) repeatedly for about `budget`, three
/// times, and returns the best strings/s.
fn rate(per_call: usize, budget: Duration, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut best = 0.0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let mut calls = 0usize;
        while start.elapsed() < budget {
            f();
            calls += 1;
        }
        best = best.max((calls * per_call) as f64 / start.elapsed().as_secs_f64());
    }
    best
}

fn ids(n: usize, n_ctx: usize, d_vocab: u32) -> Vec<u32> {
    // A fixed pseudo-random stream (xorshift), padding included.
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..n * n_ctx)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % u64::from(d_vocab)) as u32
        })
        .collect()
}

fn main() {
    let cfg = FaceModelConfig::new(face_data::Vocab::faces().d_vocab(), 12);
    let device = Device::flex();
    device.seed(0);
    let model = cfg.init(&device);
    let raw = RawModel::new(&cfg, Weights::from_model(&model));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n = 1 << 16;
    let x = ids(n, cfg.n_ctx, cfg.d_vocab as u32);
    let mut out = vec![0.0f32; n];
    let budget = Duration::from_millis(700);

    println!(
        "face-model forward throughput: n_ctx {}, d_model {}, d_vocab {}, {} threads available",
        cfg.n_ctx, cfg.d_model, cfg.d_vocab, threads
    );
    let table1 = rate(n, budget, || raw.logits(black_box(&x), &mut out));
    println!(
        "raw f32, tables, 1 thread        {:>12.0} strings/s",
        table1
    );
    let table_n = rate(n, budget, || {
        raw.logits_par(black_box(&x), &mut out, threads)
    });
    println!(
        "raw f32, tables, {threads} threads       {:>12.0} strings/s",
        table_n
    );
    let direct = rate(n / 16, budget, || {
        for (o, s) in out.iter_mut().zip(x.chunks(cfg.n_ctx)).take(n / 16) {
            *o = raw.logit_direct(black_box(s));
        }
    });
    println!(
        "raw f32, direct, 1 thread        {:>12.0} strings/s",
        direct
    );
    let mut burn_rates = Vec::new();
    for batch in [64usize, 4096] {
        let xb = &x[..batch * cfg.n_ctx];
        let r = rate(batch, budget, || {
            let t = tokens_from_ids(black_box(xb), cfg.n_ctx, &device);
            let logits = model.forward(t).logit.into_data();
            black_box(logits);
        });
        println!("burn flex forward, batch {batch:>5}   {r:>12.0} strings/s");
        burn_rates.push(r);
    }
    let best_burn = burn_rates.iter().copied().fold(0.0, f64::max);
    println!(
        "ratio raw (all threads) / best burn flex: {:.1}x",
        table_n / best_burn
    );
}

//! Training through the Learner on the CPU: the seed recipe's accuracy, determinism,
//! resume, the run directory, and the GPU path when an adapter exists.
// Helpers outside #[test] fns unwrap too: a failed fixture is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use face_model::Weights;
use face_train::renderer::Display;
use face_train::{DeviceChoice, Status, TrainConfig, TrainOptions, load_run, train};

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

fn config(name: &str, sets: &[&str]) -> TrainConfig {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    TrainConfig::load(&configs().join(name), &sets).expect("valid config")
}

fn cpu(out: &Path) -> TrainOptions {
    let mut o = TrainOptions::new(out);
    o.device = DeviceChoice::Cpu;
    o.display = Display::Quiet;
    o
}

fn weights(dir: &Path) -> Weights {
    let run = load_run(dir, &face_model::device::flex()).expect("loadable run");
    Weights::from_model(&run.checkpoint.model)
}

fn load_test(dir: &Path) -> face_train::run::TestMetrics {
    load_run(dir, &face_model::device::flex())
        .unwrap()
        .metrics
        .and_then(|m| m.test)
        .expect("test metrics")
}

fn flat(w: &Weights) -> Vec<f32> {
    [
        &w.w_e, &w.w_q, &w.b_q, &w.w_k, &w.b_k, &w.w_v, &w.b_v, &w.w_u, &w.b_u,
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect()
}

/// A small, quick config: 600 examples, 3 epochs of batches of 16.
fn small(sets: &[&str]) -> TrainConfig {
    let mut all = vec![
        "data.n_examples=600",
        "train.epochs=3",
        "train.batch_size=16",
    ];
    all.extend_from_slice(sets);
    config("seed.toml", &all)
}

/// The notebook's recipe (configs/seed.toml: 750 training examples, one epoch, one
/// example per Adam step) clears 90% test accuracy with its fixed seed.
#[test]
fn seed_recipe_reaches_its_floor() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("seed");
    let cfg = config("seed.toml", &[]);
    let o = train(&cfg, &cpu(&out)).unwrap();
    assert_eq!(o.status, Status::Complete);
    let t = o.metrics.test.as_ref().expect("test metrics");
    assert_eq!(t.n, 250);
    assert!(
        t.accuracy >= 0.90,
        "seed recipe test accuracy {}",
        t.accuracy
    );
    // One epoch: one train and one valid line, valid on the test split.
    assert_eq!(o.metrics.epochs.len(), 2);
    let valid = &o.metrics.epochs[1];
    assert_eq!((valid.epoch, valid.split.as_str()), (1, "valid"));
    assert!(
        (valid.accuracy - t.accuracy).abs() < 1e-9,
        "the Learner's valid accuracy {} and the final evaluation {} disagree",
        valid.accuracy,
        t.accuracy
    );
    // The run directory loads as a face-model checkpoint and reproduces the figure.
    let run = load_run(&out, &face_model::device::flex()).unwrap();
    assert!(run.complete);
    assert_eq!(run.checkpoint.data, cfg.data_spec());
    assert!(out.join("model/manifest.json").is_file());
    assert!(out.join("metrics.json").is_file());
}

#[test]
fn same_config_gives_bit_identical_weights_and_another_seed_does_not() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let c = tmp.path().join("c");
    train(&small(&[]), &cpu(&a)).unwrap();
    train(&small(&[]), &cpu(&b)).unwrap();
    train(&small(&["seed=7"]), &cpu(&c)).unwrap();
    let (wa, wb, wc) = (weights(&a), weights(&b), weights(&c));
    assert_eq!(wa, wb, "two runs of one config differ");
    assert_ne!(wa, wc, "another seed gave the same weights");
}

#[test]
fn resumed_run_equals_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let parts = tmp.path().join("parts");
    let cfg = small(&[]);
    let full = train(&cfg, &cpu(&whole)).unwrap();

    let mut first = cpu(&parts);
    first.stop_before_epoch = Some(2);
    let stopped = train(&cfg, &first).unwrap();
    assert_eq!(stopped.status, Status::Interrupted);
    // Killed after epoch 1: the directory still loads, as epoch 1's checkpoint.
    let partial = load_run(&parts, &face_model::device::flex()).unwrap();
    assert!(!partial.complete);
    assert_eq!(partial.epoch, 1);

    // Without --resume the unfinished run is refused.
    let err = train(&cfg, &cpu(&parts)).unwrap_err();
    assert!(
        err.is_usage() && err.to_string().contains("--resume"),
        "{err}"
    );

    let mut second = cpu(&parts);
    second.resume = true;
    let resumed = train(&cfg, &second).unwrap();
    assert_eq!(resumed.status, Status::Complete);
    assert_eq!(weights(&whole), weights(&parts));
    assert_eq!(full.metrics.epochs.len(), resumed.metrics.epochs.len());
    for (x, y) in full.metrics.epochs.iter().zip(&resumed.metrics.epochs) {
        assert_eq!((x.epoch, &x.split), (y.epoch, &y.split));
        assert_eq!(x.loss, y.loss, "epoch {} {} loss", x.epoch, x.split);
        assert_eq!(x.accuracy, y.accuracy);
    }
    assert_eq!(full.metrics.test, resumed.metrics.test);
}

#[test]
fn a_complete_run_is_left_alone_and_a_different_one_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    let cfg = small(&["train.epochs=1"]);
    train(&cfg, &cpu(&out)).unwrap();
    let before = weights(&out);
    let again = train(&cfg, &cpu(&out)).unwrap();
    assert!(again.already_complete);
    let other = small(&["train.epochs=2"]);
    let err = train(&other, &cpu(&out)).unwrap_err();
    let msg = err.to_string();
    assert!(err.is_usage(), "{msg}");
    assert!(
        msg.contains("train.epochs") && msg.contains("--overwrite"),
        "{msg}"
    );
    let mut resume = cpu(&out);
    resume.resume = true;
    let err = train(&other, &resume).unwrap_err();
    assert!(err.to_string().contains("cannot resume"), "{err}");
    assert_eq!(weights(&out), before);
    let mut ow = cpu(&out);
    ow.overwrite = true;
    let o = train(&other, &ow).unwrap();
    assert_eq!(o.metrics.epochs.len(), 4);
}

/// Each epoch visits every training example once, in an order fixed by (seed, epoch).
#[test]
fn epoch_orders_are_permutations_fixed_by_seed_and_epoch() {
    use face_train::data::{EpochLoader, build};
    let cfg = small(&[]);
    let splits = build(&cfg.data_spec(), &face_data::Vocab::faces()).unwrap();
    let n = splits.train.len();
    let data = std::sync::Arc::new(splits.train);
    let dev = face_model::device::flex();
    let a = EpochLoader::new(data.clone(), 16, Some(1), 1, &dev);
    let b = EpochLoader::new(data.clone(), 16, Some(1), 5, &dev);
    let (o1, o2) = (a.order(1), a.order(2));
    let mut sorted = o1.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..n).collect::<Vec<_>>());
    assert_ne!(o1, o2);
    assert_eq!(o2, b.order(2));
    let unshuffled = EpochLoader::new(data, 16, None, 1, &dev);
    assert_eq!(unshuffled.order(3), (0..n).collect::<Vec<_>>());
}

/// The wgpu path trains the same function: same initial weights, same batches, so after
/// a few steps the weights agree with the CPU's to float rounding.
#[test]
fn gpu_path_matches_cpu_when_an_adapter_exists() {
    if let Err(e) = face_model::device::wgpu() {
        if std::env::var_os("FACE_REQUIRE_WGPU").is_some() {
            panic!("FACE_REQUIRE_WGPU is set but {e}");
        }
        eprintln!("skipped: {e}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(
        "seed.toml",
        &[
            "data.n_examples=256",
            "train.epochs=1",
            "train.batch_size=64",
        ],
    );
    let c = tmp.path().join("cpu");
    let g = tmp.path().join("gpu");
    train(&cfg, &cpu(&c)).unwrap();
    let mut go = cpu(&g);
    go.device = DeviceChoice::Gpu;
    let o = train(&cfg, &go).unwrap();
    assert_eq!(o.metrics.device.backend, "wgpu");
    let run_json = std::fs::read_to_string(g.join("run.json")).unwrap();
    assert!(run_json.contains("\"wgpu\""), "{run_json}");
    let (wc, wg) = (weights(&c), weights(&g));
    let max = flat(&wc)
        .iter()
        .zip(flat(&wg).iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    // Adam divides by sqrt(v): where a gradient is ~0 the float rounding of the two
    // backends can still move a weight by a fraction of the learning rate (0.01) per
    // step. Half a step after 3 steps bounds it; a wrong kernel moves weights by far more.
    assert!(max < 5e-3, "CPU and GPU weights differ by up to {max}");
    let cpu_test = load_test(&c);
    let gpu_test = o.metrics.test.clone().expect("test metrics");
    assert!(
        (cpu_test.loss - gpu_test.loss).abs() < 0.01 * cpu_test.loss.max(1e-3),
        "test loss CPU {} GPU {}",
        cpu_test.loss,
        gpu_test.loss
    );
}

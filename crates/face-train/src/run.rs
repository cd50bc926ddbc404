//! A training run and its directory.
//!
//! ```text
//! RUN/
//!   config.toml        the resolved config (file + overrides): what `--resume` compares
//!   run.json           status (training | interrupted | complete), device, versions
//!   metrics.json       per-epoch train/valid metrics, final test metrics, wall time
//!   checkpoint/        Learner checkpoints {model,optim,scheduler}-N.bpk (last two epochs)
//!   model/             the trained model: face-model's self-describing checkpoint
//!   train/ valid/      burn-train's per-iteration metric logs
//! ```
//!
//! Every file is written atomically (temporary file, sync, rename) and `model/` is
//! renamed into place whole, so a kill at any moment leaves a directory that
//! [`load_run`] reads: the final model when training finished, else the last complete
//! epoch checkpoint.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::metric::{AccuracyMetric, LossMetric, PrecisionMetric, RecallMetric};
use burn::train::{Interrupter, Learner, SupervisedTraining};
use face_data::Vocab;
use face_model::{Checkpoint, FaceModel};
use serde::{Deserialize, Serialize};

use crate::checkpointer::{AtomicFileCheckpointer, latest_complete};
use crate::config::TrainConfig;
use crate::data::{self, EncodedSplit, EpochLoader, Splits};
use crate::device::{Chosen, DeviceChoice, DeviceInfo, choose};
use crate::error::{Error, Result, io};
use crate::renderer::{Display, EpochRenderer, SplitMetrics};

/// `run.json`'s format tag.
pub const RUN_FORMAT: &str = "face-run/1";
const CONFIG_FILE: &str = "config.toml";
const RUN_FILE: &str = "run.json";
const METRICS_FILE: &str = "metrics.json";
const CHECKPOINT_DIR: &str = "checkpoint";
const MODEL_DIR: &str = "model";

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Started; the process may still be running or may have been killed.
    Training,
    /// Stopped before the last epoch; `--resume` continues it.
    Interrupted,
    /// Every epoch ran and `model/` holds the result.
    Complete,
}

/// `run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// [`RUN_FORMAT`].
    pub format: String,
    /// Where the run stands.
    pub status: Status,
    /// The device of the latest session.
    pub device: DeviceInfo,
    /// Epochs completed and checkpointed.
    pub epochs_done: usize,
    /// Version of `face-train` that wrote this.
    pub face_train_version: String,
}

/// Test-split figures of the final model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestMetrics {
    /// Examples.
    pub n: usize,
    /// Accuracy at threshold 0.5.
    pub accuracy: f64,
    /// Mean binary cross-entropy.
    pub loss: f64,
    /// Precision of the face class.
    pub precision: f64,
    /// Recall of the face class.
    pub recall: f64,
}

/// `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Train examples.
    pub n_train: usize,
    /// Test (validation) examples.
    pub n_test: usize,
    /// Trainable parameters.
    pub n_params: usize,
    /// Per epoch and split, in order.
    pub epochs: Vec<SplitMetrics>,
    /// The final model on the test split (absent until training completes).
    pub test: Option<TestMetrics>,
    /// Seconds spent training, summed over sessions (a resumed run adds its own).
    pub wall_s: f64,
    /// The device of the latest session.
    pub device: DeviceInfo,
}

/// How to run (not part of the config: none of it changes the result on one backend).
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// The run directory.
    pub out: PathBuf,
    /// Which device.
    pub device: DeviceChoice,
    /// Continue the run in `out` from its last checkpoint.
    pub resume: bool,
    /// Replace the run in `out`.
    pub overwrite: bool,
    /// How progress is shown.
    pub display: Display,
    /// Stop as this epoch starts (after the previous one is checkpointed), as a kill
    /// would; for tests.
    pub stop_before_epoch: Option<usize>,
}

impl TrainOptions {
    /// Defaults: fresh run, `auto` device, no output.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        TrainOptions {
            out: out.into(),
            device: DeviceChoice::Auto,
            resume: false,
            overwrite: false,
            display: Display::Quiet,
            stop_before_epoch: None,
        }
    }
}

/// What [`train`] did.
#[derive(Debug)]
pub struct Outcome {
    /// The run directory.
    pub dir: PathBuf,
    /// Its metrics.
    pub metrics: Metrics,
    /// Its status after this call.
    pub status: Status,
    /// The device notice (why `auto` chose the CPU), if any.
    pub notice: Option<String>,
    /// True when the run was already complete and nothing was trained.
    pub already_complete: bool,
}

/// What is in a directory before training.
enum Existing {
    Missing,
    Empty,
    Run {
        config: Box<TrainConfig>,
        info: RunInfo,
    },
    /// A run directory (it has `run.json`) whose files cannot be read.
    Broken(String),
}

fn inspect(dir: &Path) -> Result<Existing> {
    if !dir.exists() {
        return Ok(Existing::Missing);
    }
    let bad = |message: String| Error::RunDir {
        path: dir.to_path_buf(),
        message,
    };
    if !dir.is_dir() {
        return Err(bad(
            "exists and is not a directory; choose another --out".into()
        ));
    }
    let mut entries = fs::read_dir(dir).map_err(io(dir))?;
    if entries.next().is_none() {
        return Ok(Existing::Empty);
    }
    let run_file = dir.join(RUN_FILE);
    if !run_file.is_file() {
        return Err(bad(
            "is not empty and holds no face-train run (no run.json); choose another --out".into(),
        ));
    }
    let info: RunInfo = match fs::read(&run_file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(info) => info,
        Err(e) => return Ok(Existing::Broken(format!("run.json is unreadable ({e})"))),
    };
    match TrainConfig::load(&dir.join(CONFIG_FILE), &[]) {
        Ok(config) => Ok(Existing::Run {
            config: Box::new(config),
            info,
        }),
        Err(e) => Ok(Existing::Broken(format!(
            "its config.toml is unreadable ({e})"
        ))),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    face_data::io::write_atomic(path, |w| {
        use std::io::Write;
        w.write_all(text.as_bytes())?;
        w.write_all(b"\n")
    })?;
    Ok(())
}

fn read_metrics(dir: &Path) -> Option<Metrics> {
    serde_json::from_slice(&fs::read(dir.join(METRICS_FILE)).ok()?).ok()
}

/// Trains `cfg` into `opts.out` (see the module docs for the directory).
///
/// Refuses, before changing any file, a directory that holds a different run (unless
/// `overwrite`), an unfinished run of the same config (unless `resume` or `overwrite`),
/// a `resume` whose config differs, and a device that does not exist. A complete run of
/// the same config is left alone and reported (`already_complete`).
pub fn train(cfg: &TrainConfig, opts: &TrainOptions) -> Result<Outcome> {
    cfg.validate().map_err(|message| Error::Config {
        source_name: "(in memory)".into(),
        message,
    })?;
    let dir = opts.out.clone();
    let bad = |message: String| Error::RunDir {
        path: dir.clone(),
        message,
    };
    let existing = inspect(&dir)?;
    // Decide, without touching anything.
    let mut start_epoch = 0; // epochs already done
    let mut wipe = false;
    match &existing {
        Existing::Missing | Existing::Empty => {
            if opts.resume {
                return Err(bad(
                    "holds no run to resume; drop --resume to start one".into()
                ));
            }
        }
        Existing::Broken(reason) => {
            if opts.overwrite {
                wipe = true;
            } else {
                return Err(bad(format!("{reason}; --overwrite replaces the run")));
            }
        }
        Existing::Run { config, info } => {
            let diff = config.differences(cfg);
            if opts.overwrite {
                wipe = true;
            } else if !diff.is_empty() {
                let verb = if opts.resume {
                    "cannot resume: the run's config differs"
                } else {
                    "holds a different run"
                };
                return Err(bad(format!(
                    "{verb} (fields {}); --overwrite replaces it, or choose another --out",
                    diff.join(", ")
                )));
            } else if info.status == Status::Complete {
                let metrics = read_metrics(&dir).ok_or_else(|| {
                    bad(
                        "is marked complete but metrics.json is unreadable; --overwrite retrains"
                            .into(),
                    )
                })?;
                return Ok(Outcome {
                    dir: dir.clone(),
                    metrics,
                    status: Status::Complete,
                    notice: None,
                    already_complete: true,
                });
            } else if !opts.resume {
                return Err(bad(format!(
                    "holds an unfinished run of this config ({} epochs done); --resume continues it, --overwrite restarts it",
                    latest_complete(&dir.join(CHECKPOINT_DIR)).unwrap_or(0)
                )));
            } else {
                start_epoch = latest_complete(&dir.join(CHECKPOINT_DIR)).unwrap_or(0);
            }
        }
    }
    let chosen = choose(opts.device)?;
    let vocab = Vocab::faces();
    let splits = data::build(&cfg.data_spec(), &vocab)?;

    // From here on files change.
    if wipe {
        // Rename first: a kill during the deletion leaves no half-deleted run at `dir`.
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        let aside = dir.with_file_name(format!(".{name}.old-{}", std::process::id()));
        fs::rename(&dir, &aside).map_err(io(&dir))?;
        fs::remove_dir_all(&aside).map_err(io(&aside))?;
    }
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    // run.json first: from then on the directory is recognisably a run (so
    // --overwrite may replace it) even if the process dies before config.toml lands.
    let mut info = RunInfo {
        format: RUN_FORMAT.into(),
        status: Status::Training,
        device: chosen.info.clone(),
        epochs_done: start_epoch,
        face_train_version: env!("CARGO_PKG_VERSION").into(),
    };
    write_json(&dir.join(RUN_FILE), &info)?;
    let config_path = dir.join(CONFIG_FILE);
    let text = cfg.to_toml();
    face_data::io::write_atomic(&config_path, |w| {
        use std::io::Write;
        w.write_all(text.as_bytes())
    })?;

    let previous = if start_epoch > 0 {
        read_metrics(&dir)
    } else {
        None
    };
    let mut metrics = Metrics {
        n_train: splits.train.len(),
        n_test: splits.test.len(),
        n_params: cfg.model_config().n_params(),
        epochs: previous
            .as_ref()
            .map(|m| {
                m.epochs
                    .iter()
                    .filter(|e| e.epoch <= start_epoch)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
        test: None,
        wall_s: previous.as_ref().map_or(0.0, |m| m.wall_s),
        device: chosen.info.clone(),
    };
    write_json(&dir.join(METRICS_FILE), &metrics)?;

    let started = Instant::now();
    let wall_before = metrics.wall_s;
    let learned = fit(cfg, &splits, &chosen, &dir, start_epoch, opts, &mut metrics)?;
    metrics.wall_s = wall_before + started.elapsed().as_secs_f64();

    match learned {
        None => {
            info.status = Status::Interrupted;
            info.epochs_done = latest_complete(&dir.join(CHECKPOINT_DIR)).unwrap_or(0);
            write_json(&dir.join(METRICS_FILE), &metrics)?;
            write_json(&dir.join(RUN_FILE), &info)?;
            Ok(Outcome {
                dir,
                metrics,
                status: Status::Interrupted,
                notice: chosen.notice,
                already_complete: false,
            })
        }
        Some(model) => {
            let model = model.to_device(&face_model::device::flex());
            metrics.test = Some(evaluate(&model, &splits.test, cfg.train.eval_batch_size));
            let ckpt = Checkpoint {
                config: cfg.model_config(),
                vocab,
                data: cfg.data_spec(),
                model,
            };
            face_model::checkpoint::save(&dir.join(MODEL_DIR), &ckpt)?;
            write_json(&dir.join(METRICS_FILE), &metrics)?;
            info.status = Status::Complete;
            info.epochs_done = cfg.train.epochs;
            write_json(&dir.join(RUN_FILE), &info)?;
            Ok(Outcome {
                dir,
                metrics,
                status: Status::Complete,
                notice: chosen.notice,
                already_complete: false,
            })
        }
    }
}

/// Seconds one Learner run of `cfg` on `splits` takes (the benchmark's end-to-end path).
pub(crate) fn fit_timed(
    cfg: &TrainConfig,
    splits: &Splits,
    chosen: &Chosen,
    dir: &Path,
    opts: &TrainOptions,
) -> Result<f64> {
    let mut metrics = Metrics {
        n_train: splits.train.len(),
        n_test: splits.test.len(),
        n_params: cfg.model_config().n_params(),
        epochs: Vec::new(),
        test: None,
        wall_s: 0.0,
        device: chosen.info.clone(),
    };
    let t = Instant::now();
    fit(cfg, splits, chosen, dir, 0, opts, &mut metrics)?;
    let _ = chosen.device.sync();
    Ok(t.elapsed().as_secs_f64())
}

/// Runs the Learner from epoch `start_epoch + 1`; `None` when it was interrupted.
fn fit(
    cfg: &TrainConfig,
    splits: &Splits,
    chosen: &Chosen,
    dir: &Path,
    start_epoch: usize,
    opts: &TrainOptions,
    metrics: &mut Metrics,
) -> Result<Option<FaceModel>> {
    let device = &chosen.device;
    let ad = device.clone().autodiff();
    let model = cfg.model_config().init_seeded(cfg.seed, &ad);
    let train_loader = EpochLoader::new(
        Arc::new(splits.train.clone()),
        cfg.train.batch_size,
        Some(cfg.seed),
        start_epoch + 1,
        device,
    );
    let valid_loader = EpochLoader::new(
        Arc::new(splits.test.clone()),
        cfg.train.eval_batch_size,
        None,
        start_epoch + 1,
        device,
    );

    let shared = Arc::new(Mutex::new(metrics.clone()));
    let sink = shared.clone();
    let metrics_path = dir.join(METRICS_FILE);
    let wall_before = metrics.wall_s;
    let on_split = Box::new(move |m: &SplitMetrics| {
        let mut guard = sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.epochs.push(m.clone());
        // So a killed session's time is not lost.
        guard.wall_s = wall_before + m.elapsed_s;
        // A failed progress write loses nothing the final write will not redo.
        let _ = write_json(&metrics_path, &*guard);
    });
    let interrupter = Interrupter::new();
    let mut renderer = EpochRenderer::new(opts.display, &interrupter, on_split);
    if let Some(e) = opts.stop_before_epoch {
        renderer = renderer.stop_before_epoch(e, interrupter.clone());
    }
    let ckpt_dir = dir.join(CHECKPOINT_DIR);
    let ckpt = |name| AtomicFileCheckpointer::new(&ckpt_dir, name).map_err(io(&ckpt_dir));
    let mut training = SupervisedTraining::new(dir, Arc::new(train_loader), Arc::new(valid_loader))
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .metric_train_numeric(AccuracyMetric::new())
        .metric_valid_numeric(AccuracyMetric::new())
        .metric_train_numeric(PrecisionMetric::binary(0.5))
        .metric_valid_numeric(PrecisionMetric::binary(0.5))
        .metric_train_numeric(RecallMetric::binary(0.5))
        .metric_valid_numeric(RecallMetric::binary(0.5))
        .with_custom_checkpointers(ckpt("model")?, ckpt("optim")?, ckpt("scheduler")?)
        .with_checkpointing_strategy(KeepLastNCheckpoints::new(2))
        .with_application_logger(None)
        .with_interrupter(interrupter.clone())
        .renderer(Box::new(renderer))
        .num_epochs(cfg.train.epochs);
    if start_epoch > 0 {
        training = training.checkpoint(start_epoch);
    }
    // The notebook's Adam: PyTorch defaults (eps 1e-8; Burn's default is 1e-5).
    let optim = AdamConfig::new().with_epsilon(1e-8).init();
    let result = training.launch(Learner::new(model, optim, cfg.train.learning_rate));
    if let Some(e) = result.error {
        return Err(Error::Training(e.to_string()));
    }
    *metrics = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if result.interrupted.is_some() {
        return Ok(None);
    }
    Ok(Some(result.model))
}

/// Binary cross-entropy of one logit `z` against label `y`, in the stable form
/// `max(z, 0) − z·y + ln(1 + e^−|z|)`.
pub fn bce_with_logits(z: f64, y: bool) -> f64 {
    let y = if y { 1.0 } else { 0.0 };
    z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()
}

/// Accuracy, BCE, precision and recall of `model` on `split`, in batches.
pub fn evaluate(model: &FaceModel, split: &EncodedSplit, batch_size: usize) -> TestMetrics {
    let device = face_model::device::flex();
    let rows: Vec<usize> = (0..split.len()).collect();
    let (mut correct, mut loss, mut tp, mut fp, mut fneg) = (0usize, 0f64, 0usize, 0usize, 0usize);
    for chunk in rows.chunks(batch_size.max(1)) {
        let batch = data::make_batch(split, chunk, &device);
        let logit = model.forward(batch.tokens).logit;
        let p: Vec<f32> = sigmoid(logit.clone())
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let z: Vec<f32> = logit.into_data().try_to_vec::<f32>().unwrap_or_default();
        for ((&r, &pi), &zi) in chunk.iter().zip(&p).zip(&z) {
            let y = split.labels[r] == 1;
            let pred = pi >= 0.5;
            correct += usize::from(pred == y);
            tp += usize::from(pred && y);
            fp += usize::from(pred && !y);
            fneg += usize::from(!pred && y);
            loss += bce_with_logits(f64::from(zi), y);
        }
    }
    let n = split.len().max(1) as f64;
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    TestMetrics {
        n: split.len(),
        accuracy: correct as f64 / n,
        loss: loss / n,
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fneg),
    }
}

/// A run directory, read back.
#[derive(Debug)]
pub struct LoadedRun {
    /// Config, vocabulary, data spec and model.
    pub checkpoint: Checkpoint,
    /// The run's config.
    pub config: TrainConfig,
    /// Epochs the model was trained for.
    pub epoch: usize,
    /// True when training finished (the model is `model/`); false when it is the last
    /// epoch checkpoint of an unfinished run.
    pub complete: bool,
    /// `metrics.json`, when readable.
    pub metrics: Option<Metrics>,
}

/// Reads a run directory: the final model when training finished, else the latest
/// complete epoch checkpoint (a run killed mid-way is still loadable).
pub fn load_run(dir: &Path, device: &Device) -> Result<LoadedRun> {
    let bad = |message: String| Error::RunDir {
        path: dir.to_path_buf(),
        message,
    };
    let config = match inspect(dir)? {
        Existing::Run { config, .. } => *config,
        Existing::Broken(reason) => return Err(bad(reason)),
        _ => {
            return Err(bad(
                "holds no face-train run; train one with `cargo run --release -p face-train -- --out DIR`"
                    .into(),
            ));
        }
    };
    let metrics = read_metrics(dir);
    let model_dir = dir.join(MODEL_DIR);
    if model_dir.is_dir() {
        let checkpoint = face_model::checkpoint::load(&model_dir, device)?;
        return Ok(LoadedRun {
            checkpoint,
            epoch: config.train.epochs,
            config,
            complete: true,
            metrics,
        });
    }
    let ckpt_dir = dir.join(CHECKPOINT_DIR);
    let epoch = latest_complete(&ckpt_dir)
        .ok_or_else(|| bad("has no finished epoch yet; --resume continues the training".into()))?;
    let path = crate::checkpointer::path_for(&ckpt_dir, "model", epoch);
    let model_cfg = config.model_config();
    let model = model_cfg
        .init(device)
        .try_load_file(&path)
        .map_err(|e| bad(format!("{}: {e}", path.display())))?;
    Ok(LoadedRun {
        checkpoint: Checkpoint {
            config: model_cfg,
            vocab: Vocab::faces(),
            data: config.data_spec(),
            model,
        },
        config,
        epoch,
        complete: false,
        metrics,
    })
}

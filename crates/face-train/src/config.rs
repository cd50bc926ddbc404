//! Training configs: TOML files in `configs/`, every field overridable with
//! `--set section.field=value`, validated before any work starts.

use std::path::Path;

use face_data::{GenConfig, Padding, Task, Vocab};
use face_model::{DataSpec, FaceModelConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A whole training run. One `seed` fixes the data, the held-out faces, the split, the
/// padding sides, the initial weights and the shuffling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The run's only seed.
    pub seed: u64,
    /// What to train on.
    pub data: DataConfig,
    /// The model's shape.
    #[serde(default)]
    pub model: ModelConfig,
    /// The optimisation.
    pub train: OptimConfig,
}

/// The dataset: generator settings and splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// `seed` (the notebook's: a face alone or random characters) or `embedded`.
    pub task: Task,
    /// Examples generated, train and test together.
    pub n_examples: usize,
    /// Fraction of the examples kept for test (the notebook: 0.25).
    #[serde(default = "default_test_frac")]
    pub test_frac: f64,
    /// Fraction of unique faces never shown in training (0: every face is used).
    #[serde(default)]
    pub held_out_frac: f64,
    /// Probability that an example holds a face.
    #[serde(default = "default_face_prob")]
    pub face_prob: f64,
    /// Context length (the longest face has 12 characters).
    #[serde(default = "default_n_ctx")]
    pub n_ctx: usize,
    /// Shortest random negative of the `seed` task.
    #[serde(default = "default_min_len")]
    pub min_len: usize,
    /// Longest random negative of the `seed` task.
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// `random` (the notebook's: left or right per example), `left` or `right`.
    #[serde(default = "default_padding")]
    pub padding: Padding,
    /// Alphabet of random characters; absent means the face charset (the notebook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filler: Option<String>,
}

/// The model's hyperparameters (the vocabulary is the face charset's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Embedding width (the notebook: 10).
    pub d_model: usize,
    /// Divide attention scores by `sqrt(d_model)` (the notebook does).
    pub scale: bool,
    /// Mask PAD keys out of attention (the notebook does not).
    pub mask_pad_keys: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            d_model: 10,
            scale: true,
            mask_pad_keys: false,
        }
    }
}

/// Optimisation: Adam on binary cross-entropy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimConfig {
    /// Passes over the training split.
    pub epochs: usize,
    /// Examples per optimiser step (the notebook: 1).
    pub batch_size: usize,
    /// Adam's learning rate (the notebook: 0.01).
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    /// Examples per batch when evaluating (no effect on the result).
    #[serde(default = "default_eval_batch")]
    pub eval_batch_size: usize,
}

fn default_test_frac() -> f64 {
    face_data::DEFAULT_TEST_FRAC
}
fn default_face_prob() -> f64 {
    0.5
}
fn default_n_ctx() -> usize {
    12
}
fn default_min_len() -> usize {
    3
}
fn default_max_len() -> usize {
    10
}
fn default_padding() -> Padding {
    Padding::Random
}
fn default_lr() -> f64 {
    0.01
}
fn default_eval_batch() -> usize {
    1024
}

/// `configs/default.toml` as built into the binaries (used when the file is absent).
pub const DEFAULT_TOML: &str = include_str!("../../../configs/default.toml");

/// Where the default config lives, relative to the repository root.
pub const DEFAULT_PATH: &str = "configs/default.toml";

/// Largest number of examples a config may ask for (they are held in memory).
pub const MAX_EXAMPLES: usize = 50_000_000;

impl TrainConfig {
    /// Reads `path`, applies `overrides` (`section.field=value`, value in TOML syntax or
    /// a bare string), and validates the result.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            source_name: path.display().to_string(),
            message: match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".into(),
                std::io::ErrorKind::InvalidData => "not valid UTF-8".into(),
                _ => e.to_string(),
            },
        })?;
        Self::from_toml(&text, &path.display().to_string(), overrides)
    }

    /// As [`TrainConfig::load`], from text; `source_name` names it in errors.
    pub fn from_toml(text: &str, source_name: &str, overrides: &[String]) -> Result<Self> {
        let cfg_err = |message: String| Error::Config {
            source_name: source_name.to_string(),
            message,
        };
        // Parse errors of the file itself carry its line number.
        let located = |e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text.get(..s.start).unwrap_or(text).lines().count().max(1));
            let msg = e.message().trim().replace('\n', " ");
            cfg_err(match line {
                Some(l) => format!("line {l}: {msg}"),
                None => msg,
            })
        };
        // The file alone first, so that its own errors carry a line number.
        let from_file: TrainConfig = toml::from_str(text).map_err(located)?;
        let cfg = if overrides.is_empty() {
            from_file
        } else {
            let mut table: toml::Table = toml::from_str(text).map_err(located)?;
            for o in overrides {
                apply_override(&mut table, o)?;
            }
            table.try_into().map_err(|e: toml::de::Error| {
                cfg_err(format!(
                    "after --set {}: {}",
                    overrides.join(", "),
                    e.message().trim().replace('\n', " ")
                ))
            })?
        };
        cfg.validate().map_err(cfg_err)?;
        Ok(cfg)
    }

    /// The config as TOML (what a run directory stores).
    pub fn to_toml(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        toml::to_string_pretty(self).expect("a TrainConfig serialises to TOML")
    }

    /// Checks every field; the message names the field and what is allowed.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let d = &self.data;
        let t = &self.train;
        if t.epochs == 0 {
            return Err("train.epochs must be at least 1".into());
        }
        if t.batch_size == 0 {
            return Err("train.batch_size must be at least 1".into());
        }
        if t.eval_batch_size == 0 {
            return Err("train.eval_batch_size must be at least 1".into());
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return Err(format!(
                "train.learning_rate must be a positive number, not {}",
                t.learning_rate
            ));
        }
        if d.n_examples > MAX_EXAMPLES {
            return Err(format!(
                "data.n_examples is {}; at most {MAX_EXAMPLES} fit in memory",
                d.n_examples
            ));
        }
        if !(d.test_frac > 0.0 && d.test_frac < 1.0) {
            return Err(format!(
                "data.test_frac must be strictly between 0 and 1, not {}",
                d.test_frac
            ));
        }
        let (n_train, n_test) = split_sizes(d.n_examples, d.test_frac);
        if n_train == 0 || n_test == 0 {
            return Err(format!(
                "data.n_examples = {} with test_frac {} leaves {n_train} train and {n_test} test examples; both need at least 1",
                d.n_examples, d.test_frac
            ));
        }
        if !(0.0..1.0).contains(&d.held_out_frac) {
            return Err(format!(
                "data.held_out_frac must be in [0, 1), not {}",
                d.held_out_frac
            ));
        }
        if d.held_out_frac > 0.0 {
            let split = face_data::FaceSplit::new(d.held_out_frac, self.seed)
                .map_err(|e| format!("data.held_out_frac: {e}"))?;
            if split.held_out.len() >= face_data::faces().unique().len() && d.face_prob > 0.0 {
                return Err(format!(
                    "data.held_out_frac = {} holds out every face, leaving none to train on",
                    d.held_out_frac
                ));
            }
        }
        self.data_spec()
            .generator
            .validate()
            .map_err(|e| format!("data: {e}"))?;
        self.model_config()
            .validate()
            .map_err(|e| format!("model: {e}"))?;
        Ok(())
    }

    /// How the data is made, as stored in the checkpoint.
    pub fn data_spec(&self) -> DataSpec {
        let d = &self.data;
        DataSpec {
            generator: GenConfig {
                task: d.task,
                face_prob: d.face_prob,
                n_ctx: d.n_ctx,
                min_len: d.min_len,
                max_len: d.max_len,
                filler: d.filler.clone(),
            },
            seed: self.seed,
            n_examples: d.n_examples,
            test_frac: d.test_frac,
            held_out_frac: d.held_out_frac,
            split_seed: self.seed,
            padding: d.padding,
        }
    }

    /// The model's config over the face vocabulary.
    pub fn model_config(&self) -> FaceModelConfig {
        FaceModelConfig::new(Vocab::faces().d_vocab(), self.data.n_ctx)
            .with_d_model(self.model.d_model)
            .with_scale(self.model.scale)
            .with_mask_pad_keys(self.model.mask_pad_keys)
    }

    /// The dotted names of the fields where `self` and `other` differ.
    pub fn differences(&self, other: &TrainConfig) -> Vec<String> {
        let a = toml::Table::try_from(self).unwrap_or_default();
        let b = toml::Table::try_from(other).unwrap_or_default();
        let mut out = Vec::new();
        diff_tables("", &a, &b, &mut out);
        out
    }
}

/// Train and test sizes, with sklearn's rounding (test is `ceil(n · test_frac)`).
pub fn split_sizes(n: usize, test_frac: f64) -> (usize, usize) {
    let n_test = ((n as f64) * test_frac).ceil() as usize;
    let n_test = n_test.min(n);
    (n - n_test, n_test)
}

fn diff_tables(prefix: &str, a: &toml::Table, b: &toml::Table, out: &mut Vec<String>) {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (a.get(k), b.get(k)) {
            (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => {
                diff_tables(&name, x, y, out)
            }
            (x, y) if x != y => out.push(name),
            _ => {}
        }
    }
}

/// Applies one `a.b.c=value` override to `table`.
fn apply_override(table: &mut toml::Table, spec: &str) -> Result<()> {
    let bad = |message: String| Error::Config {
        source_name: format!("--set {spec}"),
        message,
    };
    let (key, value) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected section.field=value, e.g. train.epochs=5".into()))?;
    let path: Vec<&str> = key.trim().split('.').map(str::trim).collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(bad(format!("`{key}` is not a dotted field name")));
    }
    let value = value.trim();
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let (last, parents) = path.split_last().ok_or_else(|| bad("empty key".into()))?;
    let mut cur = table;
    for p in parents {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(bad(format!("`{p}` is a value, not a section"))),
        };
    }
    cur.insert(last.to_string(), parsed);
    Ok(())
}

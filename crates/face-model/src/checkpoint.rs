//! The self-describing run directory: everything needed to rebuild the model.
//!
//! ```text
//! <run>/
//!   manifest.json       format tag, and each file's size and FNV-1a 64 hash
//!   model_config.json   FaceModelConfig
//!   vocab.json          the vocabulary (face-data's format)
//!   data.json           the data config and seeds (DataSpec)
//!   model.bpk           weights in Burn's format (burnpack)
//!   model.safetensors   the same weights, TransformerLens names, x·W orientation
//! ```
//!
//! Writing is atomic at the directory level: files go to a temporary sibling directory,
//! are synced, and the directory is renamed into place (an existing run is first moved
//! aside, then removed). Loading checks, in order: every file present; sizes against the
//! manifest (truncation); config, vocabulary and safetensors parse and agree with each
//! other; hashes (silent corruption); then Burn loads `model.bpk`. Each failure is a typed
//! [`CheckpointError`] naming the file.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use face_data::{GenConfig, Padding, Vocab};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::config::FaceModelConfig;
use crate::model::FaceModel;
use crate::weights::{NamedTensor, WEIGHT_NAMES, Weights};

/// Format tag of `manifest.json`.
pub const RUN_FORMAT: &str = "face-run/1";
/// The orientation note stored in the safetensors metadata.
pub const ORIENTATION: &str = "x @ W + b: rows of every matrix are inputs (transpose of torch.nn.Linear.weight); W_U is [n_ctx, d_model] and logit = sum(z * W_U) + b_U";

const MANIFEST: &str = "manifest.json";
const CONFIG: &str = "model_config.json";
const VOCAB: &str = "vocab.json";
const DATA: &str = "data.json";
const BPK: &str = "model.bpk";
const SAFETENSORS: &str = "model.safetensors";

/// How the training data was made: enough to regenerate it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// Generator settings (task, face_prob, n_ctx, ...).
    pub generator: GenConfig,
    /// Seed of the example stream, the split and the padding.
    pub seed: u64,
    /// Examples generated (train + test).
    pub n_examples: usize,
    /// Fraction held out for test.
    pub test_frac: f64,
    /// Fraction of unique faces never shown in training (0 for none).
    pub held_out_frac: f64,
    /// Seed of the face split.
    pub split_seed: u64,
    /// Padding scheme.
    pub padding: Padding,
}

/// A loaded (or to-be-saved) run.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Model configuration.
    pub config: FaceModelConfig,
    /// Vocabulary; `d_vocab() == config.d_vocab`.
    pub vocab: Vocab,
    /// How the data was made.
    pub data: DataSpec,
    /// The weights.
    pub model: FaceModel,
}

/// Why a run directory could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// A required file is absent.
    #[error("{path}: missing; is this a run directory written by face-train? (train one with `cargo run --release -p face-train`)", path = path.display())]
    MissingFile {
        /// The missing file.
        path: PathBuf,
    },
    /// A file is damaged: truncated, unparsable, or not what the manifest recorded.
    #[error("{path}: corrupt: {reason}; re-run training or restore the run directory", path = path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Files disagree with each other (config vs weights, vocabulary vs config).
    #[error("{path}: mismatch: {reason}", path = path.display())]
    Mismatch {
        /// The file found inconsistent.
        path: PathBuf,
        /// What disagrees with what.
        reason: String,
    },
    /// An I/O failure.
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, CheckpointError>;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    bytes: u64,
    fnv1a64: String,
}

/// FNV-1a 64-bit hash, as 16 hex digits.
fn fnv1a64(bytes: &[u8]) -> String {
    format!("{:016x}", face_data::io::fnv1a64(bytes))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

/// Serialises weights to safetensors bytes with TransformerLens names and metadata.
pub fn safetensors_bytes(
    cfg: &FaceModelConfig,
    w: &Weights,
) -> std::result::Result<Vec<u8>, String> {
    let named = w.named(cfg);
    let raw: Vec<(String, Vec<usize>, Vec<u8>)> = named
        .iter()
        .map(|t| {
            let bytes = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (t.name.to_string(), t.shape.clone(), bytes)
        })
        .collect();
    let mut views = Vec::with_capacity(raw.len());
    for (name, shape, bytes) in &raw {
        let view = safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| e.to_string())?;
        views.push((name.clone(), view));
    }
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), RUN_FORMAT.to_string());
    meta.insert("orientation".to_string(), ORIENTATION.to_string());
    meta.insert(
        "model_config".to_string(),
        serde_json::to_string(cfg).map_err(|e| e.to_string())?,
    );
    safetensors::tensor::serialize(views, Some(meta)).map_err(|e| e.to_string())
}

/// Parses safetensors bytes into weights for `cfg`; errors say which tensor is wrong.
pub fn weights_from_safetensors(
    cfg: &FaceModelConfig,
    bytes: &[u8],
) -> std::result::Result<Weights, String> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
    let mut named = Vec::with_capacity(WEIGHT_NAMES.len());
    for name in WEIGHT_NAMES {
        let view = st
            .tensor(name)
            .map_err(|_| format!("tensor {name} is missing"))?;
        if view.dtype() != Dtype::F32 {
            return Err(format!("tensor {name} is {:?}, expected F32", view.dtype()));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        named.push(NamedTensor {
            name,
            shape: view.shape().to_vec(),
            values,
        });
    }
    Weights::from_named(cfg, &named)
}

/// Writes a run directory atomically (see the module docs).
///
/// Refuses (with [`CheckpointError::Mismatch`]) a checkpoint whose parts disagree: a model
/// built with other settings than `config`, or a vocabulary of another size.
pub fn save(dir: &Path, ckpt: &Checkpoint) -> Result<()> {
    check_consistent(dir, ckpt)?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = write_into(&tmp, ckpt).and_then(|()| {
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        let had_old = dir.exists();
        if had_old {
            fs::rename(dir, &old).map_err(io(dir))?;
        }
        if let Err(e) = fs::rename(&tmp, dir) {
            if had_old {
                // Put the previous run back rather than leave no run at all.
                let _ = fs::rename(&old, dir);
            }
            return Err(io(dir)(e));
        }
        if had_old {
            let _ = fs::remove_dir_all(&old);
        }
        Ok(())
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

fn check_consistent(dir: &Path, ckpt: &Checkpoint) -> Result<()> {
    let (c, m) = (&ckpt.config, &ckpt.model);
    let model_says = (m.n_ctx(), m.d_model(), m.scale(), m.mask_pad_keys());
    let config_says = (c.n_ctx, c.d_model, c.scale, c.mask_pad_keys);
    let mismatch = |file: &str, reason: String| CheckpointError::Mismatch {
        path: dir.join(file),
        reason,
    };
    c.validate().map_err(|e| mismatch(CONFIG, e.to_string()))?;
    if model_says != config_says {
        return Err(mismatch(
            CONFIG,
            format!(
                "the model has (n_ctx, d_model, scale, mask_pad_keys) = {model_says:?}, the config {config_says:?}"
            ),
        ));
    }
    let [d_vocab, _] = m.embed.weight.val().dims();
    if d_vocab != c.d_vocab || ckpt.vocab.d_vocab() != c.d_vocab {
        return Err(mismatch(
            VOCAB,
            format!(
                "d_vocab: config {}, model {d_vocab}, vocabulary {}",
                c.d_vocab,
                ckpt.vocab.d_vocab()
            ),
        ));
    }
    if ckpt.data.generator.n_ctx != c.n_ctx {
        return Err(mismatch(
            DATA,
            format!(
                "the data's n_ctx is {}, the model's {}",
                ckpt.data.generator.n_ctx, c.n_ctx
            ),
        ));
    }
    Ok(())
}

fn write_into(tmp: &Path, ckpt: &Checkpoint) -> Result<()> {
    if tmp.exists() {
        fs::remove_dir_all(tmp).map_err(io(tmp))?;
    }
    fs::create_dir_all(tmp).map_err(io(tmp))?;
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        (CONFIG, json(&ckpt.config).into_bytes()),
        (VOCAB, ckpt.vocab.to_json().into_bytes()),
        (DATA, json(&ckpt.data).into_bytes()),
    ];
    let weights = Weights::from_model(&ckpt.model);
    let st =
        safetensors_bytes(&ckpt.config, &weights).map_err(|reason| CheckpointError::Corrupt {
            path: tmp.join(SAFETENSORS),
            reason,
        })?;
    files.push((SAFETENSORS, st));
    for (name, bytes) in &files {
        write_synced(&tmp.join(name), bytes)?;
    }
    let bpk = tmp.join(BPK);
    ckpt.model
        .clone()
        .save_file(&bpk)
        .map_err(|e| CheckpointError::Corrupt {
            path: bpk.clone(),
            reason: format!("Burn could not write it: {e}"),
        })?;
    let bpk_bytes = fs::read(&bpk).map_err(io(&bpk))?;
    fs::File::open(&bpk)
        .and_then(|f| f.sync_all())
        .map_err(io(&bpk))?;
    files.push((BPK, bpk_bytes));
    let manifest = Manifest {
        format: RUN_FORMAT.into(),
        files: files
            .iter()
            .map(|(n, b)| {
                (
                    n.to_string(),
                    FileEntry {
                        bytes: b.len() as u64,
                        fnv1a64: fnv1a64(b),
                    },
                )
            })
            .collect(),
    };
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    write_synced(&tmp.join(MANIFEST), text.as_bytes())
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    match fs::read(&path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(CheckpointError::MissingFile { path })
        }
        Err(e) => Err(CheckpointError::Io { path, source: e }),
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| CheckpointError::Corrupt {
        path: dir.join(name),
        reason: format!("unreadable JSON: {e}"),
    })
}

/// Reads a run directory and rebuilds the model on `device` (see the module docs for the
/// checks and their order).
pub fn load(dir: &Path, device: &Device) -> Result<Checkpoint> {
    load_checked(dir, device).map_err(|e| match e {
        // A disagreement in files that also fail their hash was made after writing.
        CheckpointError::Mismatch { path, reason } => {
            let edited = edited_files(dir);
            let reason = if edited.is_empty() {
                reason
            } else {
                format!(
                    "{reason} ({} changed after the run was written)",
                    edited.join(", ")
                )
            };
            CheckpointError::Mismatch { path, reason }
        }
        other => other,
    })
}

/// Files whose hash no longer matches the manifest (best effort, for error messages).
fn edited_files(dir: &Path) -> Vec<String> {
    let Ok(bytes) = fs::read(dir.join(MANIFEST)) else {
        return Vec::new();
    };
    let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
        return Vec::new();
    };
    manifest
        .files
        .iter()
        .filter(|(name, entry)| {
            fs::read(dir.join(name)).map_or(true, |b| fnv1a64(&b) != entry.fnv1a64)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

fn load_checked(dir: &Path, device: &Device) -> Result<Checkpoint> {
    if !dir.is_dir() {
        return Err(CheckpointError::MissingFile {
            path: dir.to_path_buf(),
        });
    }
    let manifest: Manifest = parse_json(dir, MANIFEST, &read(dir, MANIFEST)?)?;
    if manifest.format != RUN_FORMAT {
        return Err(CheckpointError::Mismatch {
            path: dir.join(MANIFEST),
            reason: format!(
                "format {:?}, this build reads {RUN_FORMAT:?}",
                manifest.format
            ),
        });
    }
    let mut bytes: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for name in [CONFIG, VOCAB, DATA, BPK, SAFETENSORS] {
        let b = read(dir, name)?;
        let entry = manifest
            .files
            .get(name)
            .ok_or_else(|| CheckpointError::Corrupt {
                path: dir.join(MANIFEST),
                reason: format!("no entry for {name}"),
            })?;
        if b.len() as u64 != entry.bytes {
            return Err(CheckpointError::Corrupt {
                path: dir.join(name),
                reason: format!(
                    "{} bytes, the manifest recorded {} (truncated or overwritten)",
                    b.len(),
                    entry.bytes
                ),
            });
        }
        bytes.insert(name, b);
    }
    let get = |n: &str| bytes.get(n).map(Vec::as_slice).unwrap_or_default();
    let config: FaceModelConfig = parse_json(dir, CONFIG, get(CONFIG))?;
    config.validate().map_err(|e| CheckpointError::Corrupt {
        path: dir.join(CONFIG),
        reason: e.to_string(),
    })?;
    let vocab_text = std::str::from_utf8(get(VOCAB)).map_err(|_| CheckpointError::Corrupt {
        path: dir.join(VOCAB),
        reason: "not UTF-8".into(),
    })?;
    let vocab =
        Vocab::from_json(vocab_text, &dir.join(VOCAB)).map_err(|e| CheckpointError::Corrupt {
            path: dir.join(VOCAB),
            reason: e.to_string(),
        })?;
    if vocab.d_vocab() != config.d_vocab {
        return Err(CheckpointError::Mismatch {
            path: dir.join(VOCAB),
            reason: format!(
                "the vocabulary has {} ids, {CONFIG} says d_vocab = {}",
                vocab.d_vocab(),
                config.d_vocab
            ),
        });
    }
    let data: DataSpec = parse_json(dir, DATA, get(DATA))?;
    let weights = weights_from_safetensors(&config, get(SAFETENSORS)).map_err(|reason| {
        if reason.starts_with("not a safetensors") {
            CheckpointError::Corrupt {
                path: dir.join(SAFETENSORS),
                reason,
            }
        } else {
            CheckpointError::Mismatch {
                path: dir.join(SAFETENSORS),
                reason: format!("{reason} (config from {CONFIG})"),
            }
        }
    })?;
    for (name, b) in &bytes {
        if manifest.files.get(*name).map(|e| e.fnv1a64.as_str()) != Some(fnv1a64(b).as_str()) {
            return Err(CheckpointError::Corrupt {
                path: dir.join(name),
                reason: "contents differ from the manifest's hash".into(),
            });
        }
    }
    let model = config
        .init(device)
        .try_load_file(dir.join(BPK))
        .map_err(|e| CheckpointError::Mismatch {
            path: dir.join(BPK),
            reason: format!("Burn rejected the weights for {CONFIG}: {e}"),
        })?;
    // The two weight files must hold the same numbers.
    if Weights::from_model(&model) != weights {
        return Err(CheckpointError::Mismatch {
            path: dir.join(SAFETENSORS),
            reason: format!("weights differ from {BPK}"),
        });
    }
    Ok(Checkpoint {
        config,
        vocab,
        data,
        model,
    })
}

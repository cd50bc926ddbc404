//! `face-model`: the seed's single-head attention classifier as a Burn module.
//!
//! - [`config`]: [`FaceModelConfig`] (`d_vocab`, `n_ctx`, `d_model`, `scale`, variants);
//! - [`model`]: [`FaceModel`] with one forward implementation, [`FaceModel::run`], that
//!   the plain [`FaceModel::forward`] calls;
//! - [`hooks`]: TransformerLens-named hook points, the [`ActivationCache`] and
//!   [`Intervention`]s (zero, mean, patch) passed as values;
//! - [`raw`]: a plain `f32` evaluator for bulk inference, proven equal to the Burn forward;
//! - [`weights`]: parameters as named arrays (`W_E`, `W_Q`, ... `b_U`);
//! - [`checkpoint`]: the self-describing run directory (config, vocabulary, data spec,
//!   Burn weights, safetensors);
//! - [`device`]: Flex, and wgpu when an adapter exists;
//! - `train` (feature `train`): the batch, output and step impls burn-train's Learner needs.
//!
//! In Burn 0.22 modules take a runtime `Device`; nothing here is generic over a backend.
#![deny(missing_docs)]

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod device;
pub mod hooks;
pub mod model;
pub mod raw;
#[cfg(feature = "train")]
pub mod train;
pub mod weights;

pub use checkpoint::{Checkpoint, CheckpointError, DataSpec};
pub use config::FaceModelConfig;
pub use hooks::{ActivationCache, HookName, Intervention, Positions, RunOptions};
pub use model::{FaceModel, Forward, Run};
pub use raw::RawModel;
pub use weights::Weights;

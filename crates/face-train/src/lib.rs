//! `face-train`: trains the face classifier with burn-train's Learner.
//!
//! - [`config`]: [`TrainConfig`], read from TOML (`configs/*.toml`) with `--set` overrides;
//! - [`data`]: the run's data regenerated from its seed, and [`data::EpochLoader`], whose
//!   per-epoch order depends on `(seed, epoch)` only, so a resumed run equals an
//!   uninterrupted one;
//! - [`run`]: [`run::train`] (fresh, resumed or refused) and [`run::load_run`];
//! - [`checkpointer`]: Learner checkpoints written atomically;
//! - [`renderer`]: the TUI in a terminal, one line per epoch and split elsewhere;
//! - [`device`]: `auto | gpu | cpu`, probing wgpu before any tensor exists;
//! - [`bench`]: samples/s through the Learner and for the bare step.
#![deny(missing_docs)]

pub mod bench;
pub mod checkpointer;
pub mod config;
pub mod data;
pub mod device;
pub mod error;
pub mod renderer;
pub mod run;

pub use config::TrainConfig;
pub use device::DeviceChoice;
pub use error::{Error, Result};
pub use run::{LoadedRun, Metrics, Outcome, Status, TrainOptions, load_run, train};

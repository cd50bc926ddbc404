//! `face-data`: the data half of the ASCII-face classifier, with no Burn dependency.
//!
//! It reproduces the seed notebook's data pipeline (cells 1–8) and fixes its defects:
//! - [`faces`]: the 81-entry catalogue, canonical faces, the charset, and the label
//!   function [`contains_face`];
//! - [`canon`]: the seed's canonicalisation, made idempotent;
//! - [`vocab`]: character ids with PAD and UNK of their own, padding, `vocab.json`;
//! - [`generate`]: the `seed` and `embedded` tasks, held-out faces, train/test split;
//! - [`io`]: dataset files (JSONL/TSV) and atomic writes.
//!
//! Data flows one way: this crate feeds `face-model`, `face-train` and `face-interp`.
#![deny(missing_docs)]

pub mod canon;
pub mod cli;
pub mod error;
pub mod faces;
pub mod generate;
pub mod io;
pub mod vocab;

pub use canon::{canonicalize, canonicalize_fixpoint, canonicalize_once, is_canonical};
pub use error::{Error, Result};
pub use faces::{CATALOGUE, FaceMatch, Faces, charset, contains_face, faces};
pub use generate::{
    DEFAULT_TEST_FRAC, Dataset, Example, FacePool, FaceSplit, GenConfig, GenStats, Generator,
    MAX_N_CTX, PlantedFace, Stream, Task, containment_groups, generate, rng, train_test_split,
};
pub use vocab::{Encoded, PAD_ID, PadSide, Padding, UNK_ID, Vocab};

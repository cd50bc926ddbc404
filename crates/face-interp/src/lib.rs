//! `face-interp`: takes the trained face classifier apart.
//!
//! - [`slices`]: evaluation sets that expose shortcuts (held-out faces, truncated and
//!   shuffled faces, bag-matched negatives, brackets without a face, noise, offsets,
//!   padding side) and the "contains `(` and `)`" baseline;
//! - [`decompose`]: the exact per-(query, key) decomposition of the logit;
//! - [`analysis`]: per-slice evaluation, decomposition check, QK/OV tables, the
//!   bag-of-characters index, attention statistics, embedding PCA;
//! - [`rule`], [`scrub`], [`seeds`]: the extracted algorithm, causal scrubbing, the
//!   exhaustive check, and seed sweeps;
//! - [`report`]: the self-contained HTML/JSON/Markdown report;
//! - [`predict`], [`explain`]: the command-line tools;
//! - [`plot`], [`html`]: inline SVG charts and HTML/Markdown building, no dependencies.
#![deny(missing_docs)]

pub mod analysis;
pub mod attribution;
pub mod causal;
pub mod decompose;
pub mod error;
pub mod explain;
pub mod html;
pub mod plot;
pub mod predict;
pub mod report;
pub mod rule;
pub mod scrub;
pub mod seeds;
pub mod slices;

pub use error::{Error, Result};

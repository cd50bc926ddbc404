//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `face-data`. Messages name the problem and the fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A string longer than the context was given where exact encoding was asked for.
    #[error(
        "string of {len} characters is longer than n_ctx = {n_ctx}; shorten it or use a larger n_ctx"
    )]
    TooLong {
        /// Length in characters.
        len: usize,
        /// The context length asked for.
        n_ctx: usize,
    },
    /// An empty string was given where a non-empty one is required.
    #[error("empty string: there is nothing to encode")]
    Empty,
    /// A generator setting is out of range.
    #[error("invalid {field}: {reason}")]
    InvalidConfig {
        /// The setting's name as the user typed it.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A `vocab.json` that cannot be used.
    #[error("invalid vocabulary {path}: {reason}", path = path.display())]
    InvalidVocab {
        /// The file (or `<memory>`).
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A dataset line that cannot be read.
    #[error("{path}:{line}: {reason}", path = path.display())]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An I/O failure on a named file.
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        field,
        reason: reason.into(),
    }
}

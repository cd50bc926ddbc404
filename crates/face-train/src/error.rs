//! Typed errors of the training library. Every variant is the user's to fix except
//! `Training` (the backend failed) and `Io`.

use std::path::PathBuf;

/// Why a run could not start, go on, or be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config file or override is invalid.
    #[error("config {source_name}: {message}")]
    Config {
        /// The file or `--set` override at fault.
        source_name: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The output directory cannot be used as asked.
    #[error("run directory {}: {message}", path.display())]
    RunDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong and the next step.
        message: String,
    },
    /// The asked-for device does not exist.
    #[error("device: {0}")]
    Device(String),
    /// Data generation or encoding failed.
    #[error(transparent)]
    Data(#[from] face_data::Error),
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] face_model::CheckpointError),
    /// The backend failed during training.
    #[error("training failed: {0}")]
    Training(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// True when the user can fix it by changing the command line, config or files
    /// (the binary exits with code 2 for these).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Config { .. } | Error::RunDir { .. } | Error::Device(_) | Error::Checkpoint(_)
        )
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

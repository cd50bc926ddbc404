//! Typed errors of the analysis library.

use std::path::PathBuf;

/// Why an analysis could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The run directory could not be read or trained.
    #[error(transparent)]
    Train(#[from] face_train::Error),
    /// Data generation or encoding failed.
    #[error(transparent)]
    Data(#[from] face_data::Error),
    /// Bad input to `predict` or `explain`.
    #[error("{0}")]
    Input(String),
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
    /// True when the user can fix it (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            Error::Train(e) => e.is_usage(),
            Error::Input(_) => true,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::AlreadyExists
                    | std::io::ErrorKind::NotADirectory
                    | std::io::ErrorKind::PermissionDenied
            ),
            Error::Data(_) => true,
        }
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

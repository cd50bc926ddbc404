//! burn-train checkpointers that never leave a half-written file.
//!
//! The Learner's `FileCheckpointer` writes `checkpoint/{model,optim,scheduler}-N.bpk` in
//! place, so a kill during a write leaves a truncated file with a valid name. This one
//! writes each record to a temporary file, syncs it and renames it into place. Epoch `N`
//! is resumable when all three files exist (burn-train writes them on three threads, in
//! no fixed order; [`latest_complete`] checks all three).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use burn::train::checkpoint::{Checkpoint, Checkpointer, CheckpointerError};

/// The three record kinds of a Learner checkpoint, in the order they are written.
pub const KINDS: [&str; 3] = ["model", "optim", "scheduler"];

/// Writes `{name}-{epoch}.bpk` atomically.
#[derive(Debug, Clone)]
pub struct AtomicFileCheckpointer {
    dir: PathBuf,
    name: &'static str,
}

impl AtomicFileCheckpointer {
    /// A checkpointer for records called `name` in `dir` (created if missing).
    pub fn new(dir: &Path, name: &'static str) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        Ok(AtomicFileCheckpointer {
            dir: dir.to_path_buf(),
            name,
        })
    }

    fn path(&self, epoch: usize) -> PathBuf {
        path_for(&self.dir, self.name, epoch)
    }
}

/// `dir/{name}-{epoch}.bpk`.
pub fn path_for(dir: &Path, name: &str, epoch: usize) -> PathBuf {
    dir.join(format!("{name}-{epoch}.bpk"))
}

/// The latest epoch whose three records are all present in `dir`.
pub fn latest_complete(dir: &Path) -> Option<usize> {
    let entries = fs::read_dir(dir).ok()?;
    entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("scheduler-")?
                .strip_suffix(".bpk")?
                .parse::<usize>()
                .ok()
        })
        .filter(|&n| KINDS.iter().all(|k| path_for(dir, k, n).is_file()))
        .max()
}

impl<R: Checkpoint> Checkpointer<R> for AtomicFileCheckpointer {
    fn save(&self, epoch: usize, record: R) -> Result<(), CheckpointerError> {
        let bytes = record
            .checkpoint_into_bytes()
            .map_err(CheckpointerError::Record)?;
        face_data::io::write_atomic(&self.path(epoch), |w| w.write_all(&bytes))
            .map_err(|e| CheckpointerError::IOError(std::io::Error::other(e)))
    }

    fn delete(&self, epoch: usize) -> Result<(), CheckpointerError> {
        let path = self.path(epoch);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(CheckpointerError::IOError(e)),
        }
    }

    fn restore(&self, epoch: usize) -> Result<R, CheckpointerError> {
        let bytes = fs::read(self.path(epoch)).map_err(CheckpointerError::IOError)?;
        R::checkpoint_from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
            .map_err(CheckpointerError::Record)
    }
}

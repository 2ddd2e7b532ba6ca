//! Where a task's samples, ledger entries, leakage probes and shingle sets wait between the
//! per-task stages, the cross-task passes and the output.
//!
//! A build never holds a task's texts in memory: each sample is appended to the task's spill
//! file as soon as the per-batch stages have passed it, and the build keeps only its handle
//! (the byte offset) and a few bytes of per-sample state. Later passes read the samples back,
//! sequentially (leakage, writing) or one at a time (near-duplicate confirmation). Previews,
//! audits and `validate` render small inputs and keep everything in memory, through the same
//! code.
//!
//! Every on-disk store is one [`AppendFile`]: [`FramedFile`] adds length-prefixed records on
//! top of it (samples, ledger entries, shingle sets); [`RecordFile`] reads fixed-size records
//! by number (leakage probes).

mod append;
mod framed;
mod ledger;
mod records;
mod samples;
mod sets;

pub use append::{AppendFile, Sequential};
pub use framed::FramedFile;
pub use ledger::{Ledger, LedgerCounts, QuarantineCauses};
pub use records::RecordFile;
pub use samples::Store;
pub use sets::SetStore;

use std::path::{Path, PathBuf};

/// Records are read back from a store this many at a time.
pub const READ_BATCH: usize = 2048;

/// A store that cannot be written or read back. These are the build's own scratch files, so
/// any of them means a full disk, a deleted scratch folder or a bug, never bad input.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: corrupt record at byte {at}")]
    Corrupt { path: PathBuf, at: u64 },
    #[error("{path}: {what}")]
    Misuse { path: PathBuf, what: &'static str },
    #[error("{path}: {source}")]
    Encode {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no record {0} in the in-memory store")]
    NoRecord(u64),
}

impl StoreError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn misuse(path: &Path, what: &'static str) -> StoreError {
        StoreError::Misuse {
            path: path.to_path_buf(),
            what,
        }
    }

    pub(crate) fn corrupt(path: &Path, at: u64) -> StoreError {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            at,
        }
    }
}

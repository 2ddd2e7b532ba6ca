//! The output directory of a build.
//!
//! ```text
//! out/
//!   data/<task_id>/<split>-NNNNN-of-MMMMM.parquet   samples (zstd), one HF `datasets` config per task
//!   ledger.parquet                                  every removed sample or raw record, with reason
//!   index/ids.parquet                               id -> (file, row), sorted, for `medsins audit`
//!   README.md                                       dataset card
//!   medsins.lock.json                               what the build read and how (inputs only)
//!   stats.json                                      counts per corpus, task, split, stage, licence
//!   SHA256SUMS                                      checksum of every other file (`sha256sum -c`)
//! ```
//!
//! The directory is written under a temporary name beside its destination and renamed into
//! place only when complete, so an interrupted build never leaves a directory that looks done.
//! Nothing written depends on timing or thread count: same inputs, same bytes.

mod atomic;
mod checksums;
mod index;
mod lock;
mod shards;
mod stats;

pub use atomic::OutputDir;
pub use checksums::{
    CHECKSUMS_FILE, ChecksumProblem, list_files, read_checksums, verify_checksums, write_checksums,
};
pub use index::{
    INDEX_FILE, IndexHit, lookup_id, read_ledger_rows, read_sample_row, scan_for_id, shard_files,
    write_id_index,
};
pub use lock::{LOCK_FILE, Lock, LockedFile, LockedManifest, LockedMember};
pub use shards::{
    DEFAULT_ROW_GROUP_BYTES, LEDGER_FILE, LedgerWriter, ShardInfo, TaskShardWriter,
    for_each_row_batch, ledger_schema, read_ledger, read_samples, sample_schema,
    sample_schema_with_tokens, write_ledger, write_task_shards,
};
pub use stats::{
    Accounting, DeclaredYield, FileAccount, LOW_YIELD_SHARE, LengthStats, LowYield, Stats,
    TaskStats,
};

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parquet {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("{path}: {source}")]
    LedgerRow {
        path: std::path::PathBuf,
        source: shards::LedgerRowError,
    },
    #[error("{0}")]
    Refused(String),
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_path_buf(),
        source,
    }
}

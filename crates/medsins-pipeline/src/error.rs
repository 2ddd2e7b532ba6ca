//! What can go wrong in a build, as types. A [`TaskError`] fails one task (and so its corpus,
//! which the build report lists as failed while the rest builds); a [`BuildError`] stops the
//! whole build before anything replaces the previous output.

use crate::store::StoreError;
use medsins_manifest::{ListingError, PatternError};
use std::path::PathBuf;
use std::sync::Arc;

/// Why a declared file that is (at least partly) under the raw root cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FileProblem {
    /// `expected` is where the file is looked for.
    #[error("{expected}: {source}")]
    Pattern {
        expected: String,
        source: PatternError,
    },
    #[error(transparent)]
    Listing(#[from] ListingError),
    #[error(
        "{}: resolves outside {} (through a symbolic link); raw files must be inside the corpus folder",
        .path.display(),
        .folder.display()
    )]
    Outside { path: PathBuf, folder: PathBuf },
    #[error(
        "file `{file_id}` ({expected}) has {} candidates: {}; keep only the one to build from",
        .candidates.len(),
        .candidates.join(" and ")
    )]
    Candidates {
        file_id: String,
        expected: String,
        candidates: Vec<String>,
    },
}

/// Why a corpus whose files are present cannot be built (the rest of the build goes on).
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{corpus_id}: {problem}")]
    Unusable {
        corpus_id: String,
        problem: Arc<FileProblem>,
    },
    #[error("{}: cannot read: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: checksum mismatch: the manifest {manifest} expects sha256 {expected} but the file has {found}; \
         the file is not the release the manifest describes: obtain it again ({homepage}) or, if the release changed, update `sha256` in the manifest",
        .path.display()
    )]
    ChecksumMismatch {
        path: PathBuf,
        manifest: String,
        expected: String,
        found: String,
        homepage: String,
    },
}

impl CorpusError {
    pub(crate) fn unusable(corpus_id: &str, problem: Arc<FileProblem>) -> CorpusError {
        CorpusError::Unusable {
            corpus_id: corpus_id.to_string(),
            problem,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Read(#[from] medsins_readers::ReadError),
    /// The task's templates or steps do not compile: every problem, as `file:line:col: message`
    /// lines of its manifest.
    #[error("{0}")]
    Manifest(String),
    #[error("{manifest} has no task `{task}`")]
    UnknownTask { manifest: String, task: String },
    #[error("lookup file `{0}` is not available")]
    LookupMissing(String),
    #[error("split `{0}` is not train, validation or test")]
    UnknownSplit(String),
    #[error("a corrupt leakage probe in the task's scratch file")]
    CorruptProbe,
    #[error("the task reads more than 65,535 files; split it into tasks over fewer files")]
    TooManyFiles,
    /// Reading the files this task shares with other tasks of its group failed.
    #[error("{0}")]
    SharedRead(String),
    #[error("the task was not run")]
    NotRun,
    /// Most records fail: the task stopped early rather than spend the rest of the corpus on
    /// records that will be quarantined too (a template out of fuel costs ~80 ms a record).
    #[error(
        "stopped after {quarantined} of the first {read} records were quarantined, far above any error budget: {causes}"
    )]
    MostRecordsFail {
        quarantined: u64,
        read: u64,
        causes: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Output(#[from] medsins_output::OutputError),
    #[error(transparent)]
    Read(#[from] medsins_readers::ReadError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Benchmarks(#[from] medsins_quality::BenchmarksError),
    /// `--tokenizer` or `--chat-template` cannot be used (the message names the file).
    #[error(transparent)]
    Tokens(#[from] crate::tokens::TokensError),
    /// A sample of the task cannot be counted (`error` is part of the message, not a source).
    #[error("{task_id}: {error}")]
    TaskTokens {
        task_id: String,
        error: crate::tokens::TokensError,
    },
    #[error("task {task_id}: {source}")]
    Task {
        task_id: String,
        #[source]
        source: TaskError,
    },
    #[error("{}: {source}", .path.display())]
    Scratch {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A corpus or task id that could name a path outside the raw root or the output.
    #[error("{0}")]
    UnsafeName(String),
    /// The raw root and the output folder overlap.
    #[error("{0}")]
    Overlap(String),
    /// `--only` names something the catalogue does not have.
    #[error(
        "--only `{0}` is neither a corpus id nor a task id of the catalogue; `medsins list` shows them"
    )]
    UnknownOnly(String),
    /// Read limits that cannot be used (the lock's, for `verify --rebuild`).
    #[error(transparent)]
    Limits(#[from] medsins_readers::LimitsError),
    /// The options of a lock that this builder cannot reproduce (`verify --rebuild`).
    #[error("{0}")]
    Unreproducible(String),
    #[error(transparent)]
    Cache(#[from] crate::build::CacheError),
    /// `build-unit` was given a unit this build's plan does not have.
    #[error("no unit `{unit}` in this build's plan{why}; `medsins plan` lists the units")]
    UnknownUnit { unit: String, why: String },
}

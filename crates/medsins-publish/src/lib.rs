//! Publishing a build's output directory (docs/publishing.md):
//!
//! - [`report`]: one self-contained HTML page with SVG plots (`medsins report`);
//! - [`export`]: files for training — chat messages, ShareGPT, Alpaca, JSON Lines, MedS-Ins
//!   task JSON — with an optional token bound (`medsins export`);
//! - [`push`]: the upload to the Hugging Face Hub through `huggingface_hub`, refusing
//!   restricted rows outside a private, gated repository (`medsins push`).
//!
//! Everything reads the directory a build wrote ([`BuildDir`]): shards, `stats.json`,
//! `checks.json`, `ledger.parquet` and the lock.

mod build_dir;
pub mod export;
pub mod push;
pub mod report;
mod svg;

pub use build_dir::BuildDir;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Output(#[from] medsins_output::OutputError),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Tokens(#[from] medsins_pipeline::tokens::TokensError),
    /// The upload is refused (restricted rows, a missing tool); the message says what to do.
    #[error("{0}")]
    Refused(String),
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_path_buf(),
        source,
    }
}

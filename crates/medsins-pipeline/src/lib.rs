//! The build pipeline.
//!
//! ```text
//! manifest ─► resolve raw files (presence, checksums) ─► read ─► steps ─► render
//!          ─► normalise ─► exact dedup ─► near dedup ─► split ─► instruction
//!          ─► (all tasks) decontaminate ─► leakage ─► checks ─► write
//! ```
//!
//! Reading and rendering produce samples and ledger entries; every later stage is a
//! [`stages::Stage`]: one signature (samples in, samples out, removals to the ledger), and the
//! runner records each stage's in/out counts. Tasks build in parallel on a rayon pool; within a
//! task, every order is the raw files' order, so results do not depend on the thread count.

pub mod audit;
pub mod corpus;
pub mod options;
pub mod preview;
pub mod quality;
pub mod report;
pub mod stages;
pub mod task;
pub mod tokens;
pub mod verify;

mod build;
mod card;
mod catalogue_doc;

pub use build::{build, instruction_set};
pub use catalogue_doc::catalogue_doc;
pub use corpus::{Resolution, ResolvedCorpus, resolve_corpus};
pub use options::{BuildOptions, BuildSelection};
pub use preview::preview;
pub use report::{BuildReport, CorpusStatus};
pub use task::{TaskBuild, render_task};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Output(#[from] medsins_output::OutputError),
    #[error(transparent)]
    Read(#[from] medsins_readers::ReadError),
    #[error("{0}")]
    Invalid(String),
}

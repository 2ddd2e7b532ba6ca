//! The build pipeline.
//!
//! ```text
//! manifest ─► resolve raw files (presence, checksums) ─► read ─► steps ─► render
//!          ─► normalise ─► exact dedup ─► split ─► spill ─► near dedup ─► instruction
//!          ─► decontaminate ─► (all tasks) leakage ─► tokens, checks, write
//! ```
//!
//! Records stream from the readers in batches; every batch goes through the steps, the
//! templates and the per-batch [`stages::Stage`]s (one signature: samples in, samples out,
//! removals to the ledger; the runner records each stage's in/out counts and seconds), and its
//! samples go to the task's [`spill`] file. Whole-task passes (near-duplicates,
//! decontamination), the cross-task leakage pass and the writing of the shards read the
//! samples back, so memory is bounded by per-sample state, not by text (docs/benchmarks.md).
//! Tasks build in parallel on a rayon pool, largest first; within a task every order is the
//! raw files' order, so results do not depend on the thread count.

pub mod accounting;
pub mod corpus;
mod error;
pub mod options;
pub mod removals;
pub mod report;
pub mod stages;
pub mod store;
pub mod task;
pub mod tokens;

mod build;
mod card;

pub use build::cache::{self, CacheError};
pub use build::{
    CacheOptions, Inputs, Job, Plan, PlannedCorpus, PlannedUnit, Unit, UnitBuilt, UnitPlan, build,
    build_unit, build_with_cache, instruction_set, plan, plan_units,
};
pub use corpus::{Checksums, Resolution, ResolvedCorpus, resolve_corpus};
pub use error::{BuildError, CorpusError, FileProblem, TaskError};
pub use options::{BuildOptions, BuildSelection, DEFAULT_SEED, DEFAULT_SHARD_ROWS, Progress};
pub use report::{BuildReport, CacheReport, CorpusStatus, MissingVariant};
pub use task::{TaskBuild, TaskRun, render_task};

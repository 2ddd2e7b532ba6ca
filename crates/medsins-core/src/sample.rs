//! The two kinds of row a build writes: samples, and ledger entries for what was removed.

use crate::{LedgerReason, SampleId, Split};
use serde::{Deserialize, Serialize};

/// Task-level metadata repeated on every row of the task (shared, not copied per row).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskMeta {
    pub task_id: String,
    pub task_no: u32,
    pub corpus_id: String,
    pub category: String,
    pub text_source: String,
    pub domains: Vec<String>,
    pub languages: Vec<String>,
    pub license: String,
    pub access: String,
    /// The distribution of the corpus the task was built from (a manifest `[[variants]]` id,
    /// or `default`).
    pub source_variant: String,
    pub manifest_sha256: String,
}

/// One output sample. Task-level columns come from its [`TaskMeta`].
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    /// [`SampleId::UNDERIVED`] until normalisation derives it.
    pub id: SampleId,
    pub instruction: String,
    pub instruction_id: u32,
    pub input: String,
    pub output: String,
    /// `None` until the split is decided (a `head` split waits for the end of its file).
    pub split: Option<Split>,
    pub source_file: String,
    pub source_locator: String,
    pub raw_sha256: String,
    /// The rendered group key (split and leakage unit); the id when the task declares none.
    pub group_key: String,
    /// Position of the raw record in the task's input (file index, record index): the
    /// deterministic order key used to pick representatives.
    #[serde(skip)]
    pub order: (u32, u64),
}

/// A removed sample or raw record, with why and by which stage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LedgerEntry {
    /// The sample id, when the record got as far as rendering.
    pub id: Option<SampleId>,
    pub task_id: String,
    pub corpus_id: String,
    pub stage: String,
    pub reason: LedgerReason,
    /// For duplicates and leaks: the sample kept instead.
    pub kept_id: Option<SampleId>,
    pub similarity: Option<f64>,
    pub source_file: String,
    pub source_locator: String,
    pub detail: String,
}

impl LedgerEntry {
    /// An entry for the raw record of a task at `source_file` / `source_locator`; no sample id,
    /// kept id, similarity or detail yet (set them with struct update syntax).
    pub fn new(
        meta: &TaskMeta,
        stage: &str,
        reason: LedgerReason,
        source_file: &str,
        source_locator: &str,
    ) -> Self {
        LedgerEntry {
            id: None,
            task_id: meta.task_id.clone(),
            corpus_id: meta.corpus_id.clone(),
            stage: stage.into(),
            reason,
            kept_id: None,
            similarity: None,
            source_file: source_file.into(),
            source_locator: source_locator.into(),
            detail: String::new(),
        }
    }

    /// An entry for a rendered sample: its id (once it has one) and its source.
    pub fn for_sample(meta: &TaskMeta, s: &Sample, stage: &str, reason: LedgerReason) -> Self {
        LedgerEntry {
            id: s.id.is_derived().then_some(s.id),
            ..LedgerEntry::new(meta, stage, reason, &s.source_file, &s.source_locator)
        }
    }
}

//! The per-batch stages after rendering. Each has one signature: a batch of samples in (in task
//! order), samples out, removals to the ledger; a stage may keep state from batch to batch
//! (exact dedup keeps the ids it has seen). The task runner records every stage's in/out counts
//! and seconds for `stats.json`. The passes that need the whole task (near-duplicates,
//! decontamination) run after the last batch, over the task's store (`task.rs`).

use crate::TaskError;
use crate::store::Ledger;
use medsins_core::{
    LedgerEntry, LedgerReason, Sample, SampleId, Split, TaskMeta, normalize_text, seeded_unit,
};
use medsins_manifest::SplitPolicy;
use rayon::prelude::*;
use std::collections::HashSet;

/// What every stage may read about the task it runs on.
pub struct TaskContext<'a> {
    pub meta: &'a TaskMeta,
    pub split: &'a SplitPolicy,
    pub seed: u64,
    /// Instruction set: index 0 is the original definition, then paraphrases.
    pub instructions: &'a [String],
}

impl TaskContext<'_> {
    pub fn removal(
        &self,
        s: &Sample,
        stage: &str,
        reason: LedgerReason,
        kept: Option<SampleId>,
        detail: String,
    ) -> LedgerEntry {
        LedgerEntry {
            kept_id: kept,
            detail,
            ..LedgerEntry::for_sample(self.meta, s, stage, reason)
        }
    }

    /// The instruction of a sample: drawn from the task's instruction set by a seeded hash of
    /// the sample id (index 0 = the original definition).
    pub fn instruction(&self, id: SampleId) -> (u32, &str) {
        let n = self.instructions.len().max(1);
        let i = if n == 1 {
            0
        } else {
            let u = seeded_unit(self.seed, "instruction", &id.to_string());
            ((u * n as f64) as usize).min(n - 1)
        };
        (
            i as u32,
            self.instructions.get(i).map(String::as_str).unwrap_or(""),
        )
    }
}

pub trait Stage: Send {
    fn name(&self) -> &'static str;
    fn run(
        &mut self,
        cx: &TaskContext,
        batch: Vec<Sample>,
        ledger: &mut Ledger,
    ) -> Result<Vec<Sample>, TaskError>;
}

/// The per-batch stages every task goes through, in order.
pub fn batch_stages() -> Vec<Box<dyn Stage>> {
    vec![
        Box::new(Normalise),
        Box::new(ExactDedup::default()),
        Box::new(AssignSplit),
    ]
}

/// NFC, line endings, trim; then the content-derived id. Empty inputs or outputs are removed.
pub struct Normalise;

impl Stage for Normalise {
    fn name(&self) -> &'static str {
        "normalise"
    }
    fn run(
        &mut self,
        cx: &TaskContext,
        batch: Vec<Sample>,
        ledger: &mut Ledger,
    ) -> Result<Vec<Sample>, TaskError> {
        let task_id = &cx.meta.task_id;
        let batch: Vec<Sample> = batch
            .into_par_iter()
            .map(|mut s| {
                s.input = normalize_text(&s.input);
                s.output = normalize_text(&s.output);
                s.id = SampleId::derive(task_id, &s.input, &s.output);
                s.group_key = if s.group_key.is_empty() {
                    s.id.to_string()
                } else {
                    normalize_text(&s.group_key)
                };
                s
            })
            .collect();
        let mut out = Vec::with_capacity(batch.len());
        for s in batch {
            let empty = if s.input.is_empty() {
                Some((LedgerReason::EmptyInput, "input"))
            } else if s.output.is_empty() {
                Some((LedgerReason::EmptyOutput, "output"))
            } else {
                None
            };
            match empty {
                Some((reason, what)) => {
                    let detail = format!(
                        "the {what} is empty once normalised (an empty, missing or whitespace-only field in the raw record)"
                    );
                    ledger.push(cx.removal(&s, self.name(), reason, None, detail))?
                }
                None => out.push(s),
            }
        }
        Ok(out)
    }
}

/// Exact duplicates within a task share an id. Samples arrive in task order (earliest file,
/// earliest record first), so the first of a group to arrive is the one with the smallest
/// order key: it is kept, never whichever a thread saw first. State: the ids seen (16 bytes
/// a kept sample).
#[derive(Default)]
pub struct ExactDedup {
    seen: HashSet<SampleId>,
}

impl Stage for ExactDedup {
    fn name(&self) -> &'static str {
        "exact_dedup"
    }
    fn run(
        &mut self,
        cx: &TaskContext,
        batch: Vec<Sample>,
        ledger: &mut Ledger,
    ) -> Result<Vec<Sample>, TaskError> {
        let mut out = Vec::with_capacity(batch.len());
        for s in batch {
            if self.seen.insert(s.id) {
                out.push(s);
            } else {
                ledger.push(cx.removal(
                    &s,
                    self.name(),
                    LedgerReason::ExactDuplicate,
                    Some(s.id),
                    String::new(),
                ))?;
            }
        }
        Ok(out)
    }
}

/// Splits: official (from the file), fixed, or a seeded hash of the group key; `head` splits
/// are assigned when the file's record count is known (`task.rs`).
pub struct AssignSplit;

impl Stage for AssignSplit {
    fn name(&self) -> &'static str {
        "split"
    }
    fn run(
        &mut self,
        cx: &TaskContext,
        mut batch: Vec<Sample>,
        _ledger: &mut Ledger,
    ) -> Result<Vec<Sample>, TaskError> {
        for s in &mut batch {
            match cx.split {
                SplitPolicy::Official | SplitPolicy::Head { .. } => {} // set when rendered
                SplitPolicy::Fixed { split } => {
                    s.split = Some(
                        Split::parse(split)
                            .ok_or_else(|| TaskError::UnknownSplit(split.clone()))?,
                    )
                }
                SplitPolicy::Hash {
                    train, validation, ..
                } => {
                    let u = seeded_unit(
                        cx.seed,
                        "split",
                        &format!("{}\0{}", cx.meta.task_id, s.group_key),
                    );
                    s.split = Some(if u < *train {
                        Split::Train
                    } else if u < train + validation {
                        Split::Validation
                    } else {
                        Split::Test
                    });
                }
            }
        }
        Ok(batch)
    }
}

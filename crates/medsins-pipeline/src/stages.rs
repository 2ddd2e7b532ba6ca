//! The per-batch stages after rendering. Each has one signature: a batch of samples in (in task
//! order), samples out, removals to the ledger; a stage may keep state from batch to batch
//! (exact dedup keeps the ids it has seen). The task runner records every stage's in/out counts
//! and seconds for `stats.json`. The passes that need the whole task (near-duplicates,
//! decontamination) run after the last batch, over the task's store (`task.rs`).

use crate::TaskError;
use crate::store::Ledger;
use medsins_core::{
    LedgerEntry, LedgerReason, Profile, Sample, SampleId, Split, TaskMeta, normalize_text,
    seeded_unit,
};
use medsins_manifest::SplitPolicy;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

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

/// The per-batch stages every task goes through, in order. In the upstream profile the text
/// stays as rendered (no NFC, line-ending change or trim; empty texts kept) and exact
/// duplicates are kept with ids of their own, as the authors' scripts wrote them.
pub fn batch_stages(profile: Profile) -> Vec<Box<dyn Stage>> {
    let verbatim = profile == Profile::Upstream;
    vec![
        Box::new(Normalise { verbatim }),
        Box::new(ExactDedup {
            keep_repeats: verbatim,
            ..ExactDedup::default()
        }),
        Box::new(AssignSplit),
    ]
}

/// NFC, line endings, trim; then the content-derived id. Empty inputs or outputs are removed.
/// `verbatim` (upstream profile): the text is left as rendered and only the id is derived.
pub struct Normalise {
    pub verbatim: bool,
}

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
        let verbatim = self.verbatim;
        let batch: Vec<Sample> = batch
            .into_par_iter()
            .map(|mut s| {
                if !verbatim {
                    s.input = normalize_text(&s.input);
                    s.output = normalize_text(&s.output);
                }
                s.id = SampleId::derive(task_id, &s.input, &s.output);
                s.group_key = if s.group_key.is_empty() {
                    s.id.to_string()
                } else {
                    normalize_text(&s.group_key)
                };
                s
            })
            .collect();
        if verbatim {
            return Ok(batch);
        }
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
/// a kept sample, and a count each when repeats are kept).
///
/// `keep_repeats` (upstream profile): every copy is kept; the k-th later copy gets the id
/// [`SampleId::derive_repeat`] (so ids stay unique) and a ledger flag naming the first.
#[derive(Default)]
pub struct ExactDedup {
    pub keep_repeats: bool,
    seen: HashSet<SampleId>,
    /// With `keep_repeats`: the later copies seen so far of each repeated sample.
    repeats: HashMap<SampleId, u64>,
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
        for mut s in batch {
            if self.seen.insert(s.id) {
                out.push(s);
                continue;
            }
            let first = s.id;
            if !self.keep_repeats {
                let e = cx.removal(
                    &s,
                    self.name(),
                    LedgerReason::ExactDuplicate,
                    Some(first),
                    String::new(),
                );
                ledger.push(e)?;
                continue;
            }
            let repeat = self.repeats.entry(first).or_insert(0);
            *repeat += 1;
            s.id = SampleId::derive_repeat(&cx.meta.task_id, &s.input, &s.output, *repeat);
            let detail = "a later copy of the same input and output, kept (upstream profile: the authors' scripts did not deduplicate)".to_string();
            ledger.push(cx.removal(
                &s,
                self.name(),
                LedgerReason::ExactDuplicateFlag,
                Some(first),
                detail,
            ))?;
            out.push(s);
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

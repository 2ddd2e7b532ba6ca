//! The stages after rendering. Each has one signature: samples in, samples out, removals to
//! the ledger. The runner records every stage's in/out counts for `stats.json`.

use medsins_core::{LedgerEntry, Sample, TaskMeta, normalize_text, sample_id, seeded_unit};
use medsins_manifest::SplitPolicy;
use std::collections::HashMap;

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
        reason: &str,
        kept: Option<&str>,
        detail: String,
    ) -> LedgerEntry {
        LedgerEntry {
            kept_id: kept.map(str::to_string),
            detail,
            ..LedgerEntry::for_sample(self.meta, s, stage, reason)
        }
    }
}

pub trait Stage: Sync {
    fn name(&self) -> &'static str;
    fn run(
        &self,
        cx: &TaskContext,
        samples: Vec<Sample>,
        ledger: &mut Vec<LedgerEntry>,
    ) -> Vec<Sample>;
}

/// The stages every task goes through, in order (near-dedup configured by `[tasks.near_dedup]`).
pub fn standard_stages(task: &medsins_manifest::Task) -> Vec<Box<dyn Stage>> {
    let near = crate::quality::NearDedupStage(task.near_dedup.clone().unwrap_or_default());
    vec![
        Box::new(Normalise),
        Box::new(ExactDedup),
        Box::new(near),
        Box::new(AssignSplit),
        Box::new(AssignInstruction),
    ]
}

/// NFC, line endings, trim; then the content-derived id. Empty inputs or outputs are removed.
pub struct Normalise;

impl Stage for Normalise {
    fn name(&self) -> &'static str {
        "normalise"
    }
    fn run(
        &self,
        cx: &TaskContext,
        samples: Vec<Sample>,
        ledger: &mut Vec<LedgerEntry>,
    ) -> Vec<Sample> {
        let mut out = Vec::with_capacity(samples.len());
        for mut s in samples {
            s.input = normalize_text(&s.input);
            s.output = normalize_text(&s.output);
            s.id = sample_id(&cx.meta.task_id, &s.input, &s.output);
            if s.group_key.is_empty() {
                s.group_key = s.id.clone();
            } else {
                s.group_key = normalize_text(&s.group_key);
            }
            let empty = if s.input.is_empty() {
                Some("empty_input")
            } else if s.output.is_empty() {
                Some("empty_output")
            } else {
                None
            };
            match empty {
                Some(reason) => {
                    ledger.push(cx.removal(&s, self.name(), reason, None, String::new()))
                }
                None => out.push(s),
            }
        }
        out
    }
}

/// Exact duplicates within a task share an id; the representative is the one with the smallest
/// order key (earliest file, earliest record), never whichever a thread saw first.
pub struct ExactDedup;

impl Stage for ExactDedup {
    fn name(&self) -> &'static str {
        "exact_dedup"
    }
    fn run(
        &self,
        cx: &TaskContext,
        samples: Vec<Sample>,
        ledger: &mut Vec<LedgerEntry>,
    ) -> Vec<Sample> {
        let mut best: HashMap<&str, (u32, u64)> = HashMap::with_capacity(samples.len());
        for s in &samples {
            let e = best.entry(s.id.as_str()).or_insert(s.order);
            if s.order < *e {
                *e = s.order;
            }
        }
        let keep: Vec<bool> = samples
            .iter()
            .map(|s| best[s.id.as_str()] == s.order)
            .collect();
        let mut out = Vec::with_capacity(samples.len());
        for (s, k) in samples.into_iter().zip(keep) {
            if k {
                out.push(s);
            } else {
                let e = cx.removal(
                    &s,
                    self.name(),
                    "exact_duplicate",
                    Some(&s.id),
                    String::new(),
                );
                ledger.push(e);
            }
        }
        out
    }
}

/// Splits: official (from the file), fixed, or a seeded hash of the group key.
pub struct AssignSplit;

impl Stage for AssignSplit {
    fn name(&self) -> &'static str {
        "split"
    }
    fn run(
        &self,
        cx: &TaskContext,
        mut samples: Vec<Sample>,
        _ledger: &mut Vec<LedgerEntry>,
    ) -> Vec<Sample> {
        for s in &mut samples {
            match cx.split {
                SplitPolicy::Official | SplitPolicy::Head { .. } => {} // set when rendered
                SplitPolicy::Fixed { split } => s.split = split.clone(),
                SplitPolicy::Hash {
                    train, validation, ..
                } => {
                    let u = seeded_unit(
                        cx.seed,
                        "split",
                        &format!("{}\0{}", cx.meta.task_id, s.group_key),
                    );
                    s.split = if u < *train {
                        "train"
                    } else if u < train + validation {
                        "validation"
                    } else {
                        "test"
                    }
                    .into();
                }
            }
        }
        samples
    }
}

/// The instruction of each sample: drawn from the task's instruction set by a seeded hash of
/// the sample id (index 0 = the original definition).
pub struct AssignInstruction;

impl Stage for AssignInstruction {
    fn name(&self) -> &'static str {
        "instruction"
    }
    fn run(
        &self,
        cx: &TaskContext,
        mut samples: Vec<Sample>,
        _ledger: &mut Vec<LedgerEntry>,
    ) -> Vec<Sample> {
        let n = cx.instructions.len().max(1);
        for s in &mut samples {
            let i = if n == 1 {
                0
            } else {
                ((seeded_unit(cx.seed, "instruction", &s.id) * n as f64) as usize).min(n - 1)
            };
            s.instruction_id = i as u32;
            s.instruction = cx.instructions.get(i).cloned().unwrap_or_default();
        }
        samples
    }
}

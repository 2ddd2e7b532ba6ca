//! `stats.json`: counts per corpus, task, split and stage, removals by reason, rows per licence
//! and access class, and length distributions. Deterministic: no timings here, unless the
//! build was asked for them (`--timings`, benchmarks).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    pub samples: u64,
    pub tasks: u64,
    pub corpora: u64,
    pub per_split: BTreeMap<String, u64>,
    pub per_license: BTreeMap<String, u64>,
    pub per_access: BTreeMap<String, u64>,
    pub per_category: BTreeMap<String, u64>,
    pub removed_by_reason: BTreeMap<String, u64>,
    /// Ledger entries that flag a sample without removing it (e.g. `near_duplicate_flag`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flagged_by_reason: BTreeMap<String, u64>,
    pub per_corpus: BTreeMap<String, u64>,
    /// The distribution each corpus was read from (a manifest `[[variants]]` id, or `default`).
    #[serde(default)]
    pub source_variants: BTreeMap<String, String>,
    pub per_task: BTreeMap<String, TaskStats>,
    /// Every raw record of the build accounted for, summed over tasks and files (each task's
    /// `files` has the per-file counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounting: Option<Accounting>,
    /// Cross-task leakage check (docs/data-quality.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leakage: Option<serde_json::Value>,
    /// Decontamination against benchmark files, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decontamination: Option<serde_json::Value>,
    /// Seconds per stage, only in builds run with `--timings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TaskStats {
    pub task_no: u32,
    pub corpus_id: String,
    /// Raw records read from the task's files.
    pub records_read: u64,
    pub samples: u64,
    pub per_split: BTreeMap<String, u64>,
    /// For each stage in order: `[stage, in, out]`.
    pub stages: Vec<(String, u64, u64)>,
    pub removed_by_reason: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flagged_by_reason: BTreeMap<String, u64>,
    pub input_chars: LengthStats,
    pub output_chars: LengthStats,
    /// Where every record of each raw file the task read went (docs/data-quality.md,
    /// "Record accounting").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileAccount>,
    /// Token counts, when the build was given a tokenizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<LengthStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<LengthStats>,
}

/// Share of a file's records that may become samples before its yield is low: below it, the
/// task must declare why (`expected_yield`) or the `low_yield` check fails.
pub const LOW_YIELD_SHARE: f64 = 0.5;

/// One raw file of a task: where every record it held went. The identity
/// `records_read + added_by_steps = kept + removed + quarantined + merged_by_steps` holds for
/// every file (flags are not removals: their samples are among the kept).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileAccount {
    /// The file's id in the manifest.
    pub file_id: String,
    /// The file as the rows' and ledger's `source_file` name it.
    pub file: String,
    pub records_read: u64,
    /// Records the steps added: `explode` fanning a record out into n adds n − 1.
    #[serde(default)]
    pub added_by_steps: u64,
    /// Records the steps folded into another: a `group` of n merges n − 1.
    #[serde(default)]
    pub merged_by_steps: u64,
    /// Samples in the output.
    pub kept: u64,
    /// Samples and records removed, by ledger reason (`quarantined` and flags not included).
    pub removed: BTreeMap<String, u64>,
    /// Records that could not be read, stepped or rendered (ledger reason `quarantined`).
    pub quarantined: u64,
    /// Kept samples the ledger flags, by reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flagged: BTreeMap<String, u64>,
    /// The task's declaration that this file yields few samples, when it makes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_yield: Option<DeclaredYield>,
}

/// Why a file is expected to yield few samples (a task's `expected_yield`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DeclaredYield {
    pub reason: String,
    /// The smallest share that still passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
}

/// A file whose yield is under [`LOW_YIELD_SHARE`].
#[derive(Debug, Clone, PartialEq)]
pub struct LowYield<'a> {
    pub account: &'a FileAccount,
    /// kept / (records after the steps' reshaping).
    pub share: f64,
    /// Declared, and at or above the declared minimum.
    pub expected: bool,
}

impl FileAccount {
    /// Records once the steps have reshaped them: read + added − merged.
    pub fn units(&self) -> u64 {
        (self.records_read + self.added_by_steps).saturating_sub(self.merged_by_steps)
    }
    /// Removed samples and records, quarantined ones excluded.
    pub fn removed_total(&self) -> u64 {
        self.removed.values().sum()
    }
    /// Whether every record is accounted for.
    pub fn balanced(&self) -> bool {
        self.records_read + self.added_by_steps
            == self.kept + self.removed_total() + self.quarantined + self.merged_by_steps
    }
    /// The file's yield when it is low (under [`LOW_YIELD_SHARE`] of its records became
    /// samples); a file without records has none.
    pub fn low_yield(&self) -> Option<LowYield<'_>> {
        let units = self.units();
        if units == 0 {
            return None;
        }
        let share = self.kept as f64 / units as f64;
        (share < LOW_YIELD_SHARE).then(|| LowYield {
            account: self,
            share,
            expected: self
                .expected_yield
                .as_ref()
                .is_some_and(|d| share >= d.min.unwrap_or(0.0)),
        })
    }
}

/// The build's records, summed over every task's files.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Accounting {
    pub records_read: u64,
    pub added_by_steps: u64,
    pub merged_by_steps: u64,
    pub kept: u64,
    pub removed: u64,
    pub quarantined: u64,
    /// `task/file` of every file whose records do not add up (a defect of medsins: report it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unbalanced: Vec<String>,
}

impl Accounting {
    pub fn of<'a>(tasks: impl IntoIterator<Item = (&'a str, &'a [FileAccount])>) -> Accounting {
        let mut a = Accounting::default();
        for (task, files) in tasks {
            for f in files {
                a.records_read += f.records_read;
                a.added_by_steps += f.added_by_steps;
                a.merged_by_steps += f.merged_by_steps;
                a.kept += f.kept;
                a.removed += f.removed_total();
                a.quarantined += f.quarantined;
                if !f.balanced() {
                    a.unbalanced.push(format!("{task}/{}", f.file));
                }
            }
        }
        a
    }
}

/// Length distribution in characters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LengthStats {
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: f64,
}

impl LengthStats {
    pub fn of(mut lengths: Vec<u64>) -> LengthStats {
        if lengths.is_empty() {
            return LengthStats::default();
        }
        lengths.sort_unstable();
        let q = |p: f64| lengths[((lengths.len() - 1) as f64 * p).round() as usize];
        let sum: u64 = lengths.iter().sum();
        LengthStats {
            min: lengths[0],
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: *lengths.last().unwrap_or(&0),
            // rounded so the file does not depend on float printing details
            mean: (sum as f64 / lengths.len() as f64 * 100.0).round() / 100.0,
        }
    }
}

impl Stats {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("stats serialise");
        s.push('\n');
        s
    }
}

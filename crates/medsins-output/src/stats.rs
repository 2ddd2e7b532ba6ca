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
    /// Token counts, when the build was given a tokenizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<LengthStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<LengthStats>,
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

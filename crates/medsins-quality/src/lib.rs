//! The data-quality algorithms of medsins (docs/data-quality.md): what is a near-duplicate, a
//! leak or a contamination, and which semantic checks a task fails. Algorithms only: the build
//! (medsins-pipeline) decides when they run and writes their findings to the ledger.
//!
//! - [`minhash`]: word-shingle MinHash LSH; the per-task near-duplicate pass that runs after
//!   the task's last batch (`[tasks.near_dedup]`, policy `flag` by default).
//! - [`decontam`]: word n-gram overlap with benchmark test sets (`--decontaminate`), inputs and
//!   outputs separately; matches are removed (ledger `contaminated`).
//! - [`leakage`]: after all tasks are built, training samples whose input equals or
//!   near-duplicates a test/validation input of any task are removed (ledger `leak`).
//! - [`checks`]: semantic checks per task, reported all at once (`checks.json`, `medsins check`).
//!
//! In a build, decontamination runs per task after near-dedup, leakage after every task is
//! built, and the checks while the output is written.

pub mod checks;
pub mod decontam;
pub mod leakage;
pub mod minhash;

pub use checks::{CheckResult, ChecksReport, TaskChecker, TaskView};
pub use decontam::{BenchIndex, Benchmark, BenchmarkError, Contamination, load_benchmark};
pub use leakage::{HeldOut, LeakConfig};
pub use minhash::NearIndex;

use serde_json::json;
use std::collections::BTreeMap;

/// Default n of the decontamination n-grams.
pub const DEFAULT_NGRAM: usize = 13;

/// Contaminated samples of one task, by (benchmark, field).
pub type ContaminationCounts = BTreeMap<(String, String), u64>;

/// The `stats.json` summary of the decontamination, from every task's counts.
pub fn decontamination_summary(
    index: &BenchIndex,
    benchmarks: &[Benchmark],
    tasks: &[(&str, &ContaminationCounts)],
) -> serde_json::Value {
    let mut per_task: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_bench: BTreeMap<String, u64> =
        benchmarks.iter().map(|b| (b.name.clone(), 0)).collect();
    let mut per_field: BTreeMap<String, u64> = BTreeMap::new();
    for (task, counts) in tasks {
        for ((bench, field), n) in counts.iter() {
            *per_task.entry(task.to_string()).or_default() += n;
            *per_field.entry(field.clone()).or_default() += n;
            *per_bench.entry(bench.clone()).or_default() += n;
        }
    }
    json!({
        "ngram": index.n,
        "benchmarks": benchmarks.iter().map(|b| json!({"name": b.name, "sha256": b.sha256, "inputs": b.inputs.len(), "outputs": b.outputs.len()})).collect::<Vec<_>>(),
        "removed": per_task.values().sum::<u64>(),
        "removed_by_field": per_field,
        "removed_by_benchmark": per_bench,
        "removed_per_task": per_task,
    })
}

/// The `stats.json` summary of the leakage check. `policy` is what was done with the leaks
/// found (`remove` or `flag`): their counts are named `removed…` or `flagged…` after it.
pub fn leakage_summary(
    held_out: u64,
    train: u64,
    per_task: &BTreeMap<String, (u64, u64)>,
    cfg: &LeakConfig,
    policy: &str,
) -> serde_json::Value {
    let exact: u64 = per_task.values().map(|x| x.0).sum();
    let near: u64 = per_task.values().map(|x| x.1).sum();
    let found: BTreeMap<&String, u64> = per_task
        .iter()
        .filter(|(_, x)| x.0 + x.1 > 0)
        .map(|(t, x)| (t, x.0 + x.1))
        .collect();
    let done = if policy == "flag" {
        "flagged"
    } else {
        "removed"
    };
    json!({
        "policy": policy,
        "held_out_samples": held_out,
        "training_samples_checked": train,
        done: exact + near,
        format!("{done}_exact"): exact,
        format!("{done}_near_duplicate"): near,
        format!("{done}_per_task"): found,
        "config": cfg,
    })
}

/// Every `--decontaminate` file that could not be loaded, one line each.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct BenchmarksError(pub Vec<BenchmarkError>);

/// Loads every `--decontaminate` file (all errors at once).
pub fn load_benchmarks(paths: &[std::path::PathBuf]) -> Result<Vec<Benchmark>, BenchmarksError> {
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for p in paths {
        match load_benchmark(p) {
            Ok(b) => ok.push(b),
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() {
        Ok(ok)
    } else {
        Err(BenchmarksError(errs))
    }
}

//! Data quality beyond exact deduplication (issue #5; docs/data-quality.md).
//!
//! - [`minhash`]: word-shingle MinHash LSH; the per-task near-duplicate [`Stage`](crate::stages::Stage)
//!   that runs after exact dedup (`[tasks.near_dedup]`, policy `flag` by default).
//! - [`decontam`]: word n-gram overlap with benchmark test sets (`--decontaminate`), inputs and
//!   outputs separately; matches are removed (ledger `contaminated`).
//! - [`leakage`]: after all tasks are built, training samples whose input equals or
//!   near-duplicates a test/validation input of any task are removed (ledger `leak`).
//! - [`checks`]: semantic checks per task, reported all at once (`checks.json`, `medsins check`).
//!
//! The cross-task passes below run in build order: decontaminate, then leakage, then checks.

pub mod checks;
pub mod decontam;
pub mod leakage;
pub mod minhash;

pub use checks::{CheckResult, ChecksReport, TaskView};
pub use decontam::{BenchIndex, Benchmark, load_benchmark};
pub use leakage::LeakConfig;
pub use minhash::NearDedupStage;

use crate::task::TaskBuild;
use medsins_core::{LedgerEntry, Sample, TaskMeta};
use serde_json::json;
use std::collections::BTreeMap;

/// Default n of the decontamination n-grams.
pub const DEFAULT_NGRAM: usize = 13;

fn entry(
    meta: &TaskMeta,
    s: &Sample,
    stage: &str,
    reason: &str,
    kept: Option<String>,
    similarity: Option<f64>,
    detail: String,
) -> LedgerEntry {
    LedgerEntry {
        kept_id: kept,
        similarity,
        detail,
        ..LedgerEntry::for_sample(meta, s, stage, reason)
    }
}

/// Removes the samples at `drop` (sorted indices) and records the stage's in/out counts.
fn drop_samples(tb: &mut TaskBuild, stage: &str, drop: &[usize]) {
    let before = tb.samples.len() as u64;
    if !drop.is_empty() {
        let mut keep = vec![true; tb.samples.len()];
        for &i in drop {
            keep[i] = false;
        }
        let old = std::mem::take(&mut tb.samples);
        tb.samples = old
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(s, _)| s)
            .collect();
    }
    tb.stages
        .push((stage.to_string(), before, tb.samples.len() as u64));
}

/// Removes contaminated samples from every task; returns the `stats.json` summary.
pub fn decontaminate(
    tasks: &mut [&mut TaskBuild],
    benchmarks: &[Benchmark],
    n: usize,
    seed: u64,
) -> serde_json::Value {
    let index = BenchIndex::new(benchmarks, n, seed);
    let mut per_task: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_bench: BTreeMap<String, u64> =
        benchmarks.iter().map(|b| (b.name.clone(), 0)).collect();
    let mut per_field: BTreeMap<&str, u64> = BTreeMap::new();
    for tb in tasks.iter_mut() {
        let found = index.contaminated(&tb.samples);
        for c in &found {
            let s = &tb.samples[c.index];
            let detail = format!(
                "{} {}-gram \"{}\" occurs in benchmark {}",
                c.field, index.n, c.ngram, c.benchmark
            );
            let e = entry(
                &tb.meta,
                s,
                "decontaminate",
                "contaminated",
                None,
                Some(c.share),
                detail,
            );
            tb.ledger.push(e);
            *per_bench.entry(c.benchmark.clone()).or_default() += 1;
            *per_field.entry(c.field).or_default() += 1;
        }
        if !found.is_empty() {
            per_task.insert(tb.meta.task_id.clone(), found.len() as u64);
        }
        let drop: Vec<usize> = found.iter().map(|c| c.index).collect();
        drop_samples(tb, "decontaminate", &drop);
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

/// Removes training samples that leak a held-out input; returns the `stats.json` summary.
pub fn remove_leaks(
    tasks: &mut [&mut TaskBuild],
    cfg: &LeakConfig,
    seed: u64,
) -> serde_json::Value {
    let views: Vec<&[Sample]> = tasks.iter().map(|t| t.samples.as_slice()).collect();
    let (leaks, held, train) = leakage::find_leaks(&views, cfg, seed);
    let task_ids: Vec<String> = tasks.iter().map(|t| t.meta.task_id.clone()).collect();
    let mut per_task: BTreeMap<String, u64> = BTreeMap::new();
    let (mut exact, mut near) = (0u64, 0u64);
    let mut drops: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for l in &leaks {
        let tb = &mut tasks[l.task];
        let s = &tb.samples[l.index];
        let other = &task_ids[l.held_out_task];
        let detail = if l.exact {
            exact += 1;
            format!(
                "input equals (lower-cased words) the input of {} sample {} of {other}",
                l.held_out_split, l.held_out_id
            )
        } else {
            near += 1;
            format!(
                "input near-duplicates (Jaccard {:.4} over word {}-shingles) the input of {} sample {} of {other}",
                l.similarity, cfg.shingle, l.held_out_split, l.held_out_id
            )
        };
        let e = entry(
            &tb.meta,
            s,
            "leakage",
            "leak",
            Some(l.held_out_id.clone()),
            Some(l.similarity),
            detail,
        );
        tb.ledger.push(e);
        *per_task.entry(tb.meta.task_id.clone()).or_default() += 1;
        drops[l.task].push(l.index);
    }
    for (tb, d) in tasks.iter_mut().zip(drops) {
        drop_samples(tb, "leakage", &d);
    }
    json!({
        "held_out_samples": held,
        "training_samples_checked": train,
        "removed": exact + near,
        "removed_exact": exact,
        "removed_near_duplicate": near,
        "removed_per_task": per_task,
        "config": cfg,
    })
}

/// The semantic checks of built tasks.
pub fn check_builds(
    tasks: &[&TaskBuild],
    expected: &BTreeMap<String, Vec<medsins_manifest::ExpectedCheck>>,
) -> ChecksReport {
    let views: Vec<TaskView> = tasks
        .iter()
        .map(|t| TaskView {
            task_id: &t.meta.task_id,
            category: &t.meta.category,
            samples: t
                .samples
                .iter()
                .map(|s| (s.id.as_str(), s.input.as_str(), s.output.as_str()))
                .collect(),
            expected: expected
                .get(&t.meta.task_id)
                .map(|v| v.as_slice())
                .unwrap_or(&[]),
        })
        .collect();
    checks::run_checks(&views)
}

/// Ledger reasons that flag a sample without removing it.
pub fn is_flag(reason: &str) -> bool {
    reason.ends_with("_flag")
}

/// The cross-task passes of a build, on every task of the corpora that did not fail (in
/// corpus, then task order): decontamination (when benchmarks are given), then leakage.
/// Returns the `stats.json` summaries `(decontamination, leakage)`.
pub fn cross_task(
    per_corpus: &mut BTreeMap<usize, Vec<TaskBuild>>,
    failed: &BTreeMap<usize, String>,
    benchmarks: &[Benchmark],
    opts: &crate::BuildOptions,
) -> (Option<serde_json::Value>, serde_json::Value) {
    let mut tasks: Vec<&mut TaskBuild> = per_corpus
        .iter_mut()
        .filter(|(ci, _)| !failed.contains_key(ci))
        .flat_map(|(_, v)| v.iter_mut())
        .collect();
    let decontamination = (!benchmarks.is_empty())
        .then(|| decontaminate(&mut tasks, benchmarks, opts.decontaminate_ngram, opts.seed));
    let leakage = remove_leaks(&mut tasks, &LeakConfig::default(), opts.seed);
    (decontamination, leakage)
}

/// Loads every `--decontaminate` file (all errors at once).
pub fn load_benchmarks(paths: &[std::path::PathBuf]) -> Result<Vec<Benchmark>, String> {
    let (ok, errs): (Vec<_>, Vec<_>) = paths
        .iter()
        .map(|p| load_benchmark(p))
        .partition(|r| r.is_ok());
    if !errs.is_empty() {
        return Err(errs
            .into_iter()
            .filter_map(|e| e.err())
            .collect::<Vec<_>>()
            .join("\n"));
    }
    Ok(ok.into_iter().filter_map(|b| b.ok()).collect())
}

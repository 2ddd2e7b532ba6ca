//! `medsins check`: the semantic checks of docs/data-quality.md on a build's shards, task by
//! task, in bounded memory.

use medsins_manifest::{Catalogue, ExpectedCheck};
use medsins_output::{self as output, OutputError, Stats};
use medsins_quality::{CheckResult, ChecksReport, TaskChecker, checks};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    NotAnOutput(String),
    #[error(transparent)]
    Output(#[from] OutputError),
}

/// The `expected_checks` each task declares: from the catalogue when given, else those the
/// build recorded in `<out>/checks.json` (none when the file is absent).
pub fn expected_checks(
    out: &Path,
    catalogue: Option<&Catalogue>,
) -> Result<BTreeMap<String, Vec<ExpectedCheck>>, CheckError> {
    if let Some(cat) = catalogue {
        return Ok(cat
            .manifests
            .iter()
            .flat_map(|m| m.manifest.tasks.iter())
            .filter(|t| !t.expected_checks.is_empty())
            .map(|t| (t.id.get_ref().clone(), t.expected_checks.clone()))
            .collect());
    }
    let p = out.join("checks.json");
    if !p.exists() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(&p)
        .map_err(|e| CheckError::NotAnOutput(format!("{}: cannot read ({e})", p.display())))?;
    let r: ChecksReport = serde_json::from_str(&text).map_err(|e| {
        CheckError::NotAnOutput(format!(
            "{} is not a checks report ({e}); rerun `medsins build` or pass --manifests",
            p.display()
        ))
    })?;
    Ok(r.expected)
}

/// The `low_yield` results of the output `out`, from the record accounting of its
/// `stats.json` (none when the build predates it): each file's `expected_yield` as the build
/// recorded it, or, given a catalogue, as its manifests declare it now.
pub fn yield_checks(
    out: &Path,
    catalogue: Option<&Catalogue>,
) -> Result<Vec<CheckResult>, CheckError> {
    let p = out.join("stats.json");
    if !p.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&p)
        .map_err(|e| CheckError::NotAnOutput(format!("{}: cannot read ({e})", p.display())))?;
    let mut stats: Stats = serde_json::from_str(&text).map_err(|e| {
        CheckError::NotAnOutput(format!(
            "{} is not a build's stats ({e}); rerun `medsins build`",
            p.display()
        ))
    })?;
    if let Some(cat) = catalogue {
        for (task, ts) in &mut stats.per_task {
            let declared = cat
                .manifests
                .iter()
                .flat_map(|m| &m.manifest.tasks)
                .find(|t| t.id.get_ref() == task)
                .map(|t| t.expected_yield.as_slice())
                .unwrap_or_default();
            medsins_pipeline::accounting::declare(&mut ts.files, declared);
        }
    }
    Ok(medsins_pipeline::accounting::yield_checks(
        stats
            .per_task
            .iter()
            .map(|(t, ts)| (t.as_str(), &ts.files[..])),
    ))
}

/// The checks of every task of the output `out`, fed shard by shard, with the `low_yield`
/// results of [`yield_checks`] (`yields`).
pub fn check_output(
    out: &Path,
    expected: &BTreeMap<String, Vec<ExpectedCheck>>,
    yields: Vec<CheckResult>,
) -> Result<ChecksReport, CheckError> {
    if !out.join("data").is_dir() {
        return Err(CheckError::NotAnOutput(format!(
            "{} has no data/ folder; pass --out DIR of a `medsins build` output",
            out.display()
        )));
    }
    let mut tasks: BTreeMap<String, (TaskChecker, u64)> = BTreeMap::new();
    let none = Vec::new();
    for f in output::shard_files(out)? {
        output::for_each_row_batch(
            &out.join(f),
            &["id", "task_id", "category", "input", "output"],
            &mut |rows| {
                for r in rows {
                    let s = |k: &str| r.get(k).and_then(|v| v.as_str()).unwrap_or_default();
                    let task = s("task_id");
                    let e = tasks.entry(task.to_string()).or_insert_with(|| {
                        let exp = expected.get(task).unwrap_or(&none);
                        (TaskChecker::new(task, s("category"), exp), 0)
                    });
                    e.0.push(s("id"), s("input"), s("output"));
                    e.1 += 1;
                }
            },
        )?;
    }
    let mut results: BTreeMap<String, (Vec<CheckResult>, u64)> = tasks
        .into_iter()
        .map(|(task, (c, n))| (task, (c.finish(), n)))
        .collect();
    // a task whose samples were all removed has no shard, but its yield is reported
    for y in yields {
        results.entry(y.task_id.clone()).or_default().0.push(y);
    }
    Ok(checks::report(
        results.into_values().collect(),
        expected.clone(),
    ))
}

//! `medsins check <out>`: the semantic checks of docs/data-quality.md on a build's shards.

use crate::paths;
use anyhow::Context;
use medsins_quality::{ChecksReport, TaskChecker, checks};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Output directory of `medsins build`.
    out: PathBuf,
    /// Exit 1 when a check fails that the task does not declare in `expected_checks`.
    #[arg(long)]
    strict: bool,
    /// Manifest folder whose `expected_checks` to honour (default: those recorded in
    /// `<out>/checks.json` by the build).
    #[arg(long)]
    manifests: Option<PathBuf>,
    /// Print the report as JSON (the shape of `checks.json`).
    #[arg(long, value_enum, default_value_t)]
    format: paths::Format,
}

/// The checks of every task of an output, fed shard by shard in bounded memory.
fn check_output(
    out: &Path,
    expected: &BTreeMap<String, Vec<medsins_manifest::ExpectedCheck>>,
) -> anyhow::Result<ChecksReport> {
    let data = out.join("data");
    if !data.is_dir() {
        anyhow::bail!(
            "{} has no data/ folder; give the output directory of `medsins build`",
            out.display()
        );
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for d in std::fs::read_dir(&data).with_context(|| format!("reading {}", data.display()))? {
        let d = d?.path();
        if d.is_dir() {
            for f in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
                let f = f?.path();
                if f.extension().is_some_and(|e| e == "parquet") {
                    files.push(f);
                }
            }
        }
    }
    files.sort();
    let mut tasks: BTreeMap<String, (TaskChecker, u64)> = BTreeMap::new();
    let none = Vec::new();
    for f in files {
        medsins_output::for_each_row_batch(
            &f,
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
    let results = tasks.into_values().map(|(c, n)| (c.finish(), n)).collect();
    Ok(checks::report(results, expected.clone()))
}

fn expected_checks(
    out: &Path,
    manifests: Option<PathBuf>,
) -> anyhow::Result<BTreeMap<String, Vec<medsins_manifest::ExpectedCheck>>> {
    if let Some(dir) = manifests {
        let cat = paths::valid_catalogue(&dir)?;
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
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let r: ChecksReport = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a checks report; rerun `medsins build` or pass --manifests",
            p.display()
        )
    })?;
    Ok(r.expected)
}

/// Prints a checks report for people (shared with `medsins build`).
pub fn print_checks(r: &ChecksReport) {
    println!(
        "checks: {} failing (task, check) pair(s), {} unexpected, over {} task(s) and {} sample(s)",
        r.failing, r.unexpected, r.tasks_checked, r.samples_checked
    );
    for l in r.summary_lines() {
        println!("  {l}");
    }
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let expected = expected_checks(&a.out, a.manifests)?;
    let report = check_output(&a.out, &expected)?;
    if a.format == paths::Format::Json {
        print!("{}", report.to_json());
    } else {
        print_checks(&report);
    }
    if a.strict && report.unexpected > 0 {
        eprintln!(
            "error: {} unexpected failing check(s) (--strict); fix the data or declare them in the task's expected_checks with a reason",
            report.unexpected
        );
        return Ok(1);
    }
    Ok(0)
}

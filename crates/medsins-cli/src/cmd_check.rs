//! `medsins check --out <dir>`: the semantic checks of docs/data-quality.md on a build's shards.

use crate::output::Format;
use crate::paths::{self, OutDir};
use medsins_inspect::check::{check_output, expected_checks, yield_checks};
use medsins_quality::ChecksReport;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    out: OutDir,
    /// Exit 1 when a check fails that the task does not declare in `expected_checks` (or, for
    /// `low_yield`, in `expected_yield`).
    #[arg(long)]
    strict: bool,
    /// Manifest folder whose `expected_checks` and `expected_yield` to honour (default: those
    /// recorded in `<out>/checks.json` and `<out>/stats.json` by the build).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    /// Print the report as JSON (the shape of `checks.json`).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Prints a checks report for people (shared with `medsins build`).
pub fn print_checks(r: &ChecksReport) {
    outln!(
        "checks: {} failing (task, check) pair(s), {} unexpected, over {} task(s) and {} sample(s)",
        r.failing,
        r.unexpected,
        r.tasks_checked,
        r.samples_checked
    );
    for l in r.summary_lines() {
        outln!("  {l}");
    }
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let out = a.out.path();
    let catalogue = match a.manifests {
        Some(dir) => Some(paths::valid_catalogue(&paths::manifests_dir(Some(dir)))?),
        None => None,
    };
    let expected = expected_checks(out, catalogue.as_ref())?;
    let yields = yield_checks(out, catalogue.as_ref())?;
    let report = check_output(out, &expected, yields)?;
    if a.format == Format::Json {
        out!("{}", report.to_json());
    } else {
        print_checks(&report);
    }
    if a.strict && report.unexpected > 0 {
        errln!(
            "error: {} unexpected failing check(s) (--strict); fix the data or declare them in the task's expected_checks with a reason",
            report.unexpected
        );
        return Ok(1);
    }
    Ok(0)
}

use crate::output::Format;
use crate::paths::{self, RawRoot};
use anyhow::Context;
use medsins_inspect::validate::{
    ContributionReport, RenderCheck, TaskComparison, compare_reports, contribution_report, validate,
};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Manifest files or folders (default: the catalogue). The whole catalogue is always loaded
    /// too, so task numbers are checked against every other manifest.
    paths: Vec<PathBuf>,
    /// Manifest folder of the catalogue (default: `corpora-manifests` in the working
    /// directory, else the catalogue bundled with medsins).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    /// Also render the first records of every task from this raw root (default: the
    /// catalogue's fixtures, for the corpora that have one), reporting template errors at the
    /// template's line.
    #[arg(long, value_name = "DIR")]
    raw_root: Option<PathBuf>,
    /// Accept raw files whose SHA-256 differs from their manifest's.
    #[arg(long)]
    skip_checksums: bool,
    /// Records rendered per file by the render check.
    #[arg(long, default_value_t = 200)]
    sample: usize,
    /// Print a hashed summary of the full build of the given manifests on --raw-root (counts,
    /// checks, SHA-256 of the normalised output) for a maintainer to reproduce with --compare.
    #[arg(long)]
    report: bool,
    /// Compare the build on --raw-root with a report made elsewhere by --report.
    #[arg(long, value_name = "FILE")]
    compare: Option<PathBuf>,
    /// Print the problems (or the --compare result) as JSON.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// What `validate --format json` prints, and the exit code.
enum Outcome {
    Validated(medsins_inspect::validate::Validation),
    Report(ContributionReport),
    Compared(Vec<TaskComparison>),
}

fn outcome(a: &Args) -> anyhow::Result<Outcome> {
    let source = paths::manifests_dir(a.manifests.clone());
    let raw = RawRoot::choose(a.raw_root.clone(), a.skip_checksums, &source)?;
    let render = RenderCheck {
        raw_root: raw.path.clone(),
        checksums: raw.checksums,
        all: a.raw_root.is_some(),
        sample: a.sample,
    };
    let (cat, validation) = validate(&a.paths, &source, Some(&render));
    if !validation.ok || !(a.report || a.compare.is_some()) {
        return Ok(Outcome::Validated(validation));
    }
    if a.raw_root.is_none() {
        anyhow::bail!("--report and --compare need --raw-root (the real files)");
    }
    let mine = contribution_report(&cat, &raw.path, raw.checksums)?;
    let Some(theirs) = &a.compare else {
        return Ok(Outcome::Report(mine));
    };
    let text =
        std::fs::read_to_string(theirs).with_context(|| format!("reading {}", theirs.display()))?;
    let other: ContributionReport = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a report of `medsins validate --report`",
            theirs.display()
        )
    })?;
    Ok(Outcome::Compared(compare_reports(&mine, &other)))
}

/// The JSON of `validate --format json` (the Python module's `validate`).
pub fn report(a: &Args) -> anyhow::Result<serde_json::Value> {
    Ok(match outcome(a)? {
        Outcome::Validated(v) => serde_json::to_value(v)?,
        Outcome::Report(r) => serde_json::to_value(r)?,
        Outcome::Compared(c) => serde_json::json!({ "tasks": c }),
    })
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let json = a.format == Format::Json;
    match outcome(&a)? {
        Outcome::Validated(v) => {
            if json {
                crate::output::print_json(&v)?;
            } else if v.ok {
                outln!("ok: {} manifest(s), {} task(s) valid", v.manifests, v.tasks);
                if !v.not_rendered.is_empty() {
                    // Said so that `ok` never claims more than was checked.
                    errln!(
                        "note: not rendered on records (no raw files under the raw root): {}; \
                         their templates were checked only against the fields their formats fix",
                        v.not_rendered.join(", ")
                    );
                }
            } else {
                for d in &v.problems {
                    outln!("{d}");
                }
                errln!("{} problem(s) found", v.problems.len());
            }
            Ok(if v.ok { 0 } else { 1 })
        }
        Outcome::Report(r) => {
            crate::output::print_json(&r)?;
            Ok(0)
        }
        Outcome::Compared(tasks) => {
            if json {
                crate::output::print_json(&serde_json::json!({ "tasks": tasks }))?;
            } else {
                for t in &tasks {
                    match t {
                        TaskComparison::Match { task_id } => outln!("MATCH     {task_id}"),
                        TaskComparison::Different {
                            task_id,
                            here,
                            theirs,
                        } => outln!(
                            "DIFFERENT {task_id}: here {} samples ({}), report {} samples ({})",
                            here.samples,
                            here.output_sha256,
                            theirs.samples,
                            theirs.output_sha256
                        ),
                        TaskComparison::Missing { task_id } => {
                            outln!("MISSING   {task_id}: in the report, not built here")
                        }
                    }
                }
            }
            let same = tasks
                .iter()
                .all(|t| matches!(t, TaskComparison::Match { .. }));
            Ok(if same { 0 } else { 1 })
        }
    }
}

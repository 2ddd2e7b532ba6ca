use crate::paths;
use medsins_inspect::verify::{VerifyOptions, verify};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The build's output directory.
    #[arg(default_value = "out")]
    out: PathBuf,
    /// Re-hash the lock's raw files under this raw root (with --rebuild, default: the bundled
    /// fixtures, as for `build`).
    #[arg(long)]
    raw_root: Option<PathBuf>,
    /// Rebuild into a temporary directory from the lock's manifests and options, and compare
    /// every file byte for byte.
    #[arg(long)]
    rebuild: bool,
    /// The instruction bank the build used (needed by --rebuild when the lock names one).
    #[arg(long)]
    instructions: Option<PathBuf>,
    /// A benchmark file the build decontaminated against (repeatable; for --rebuild).
    #[arg(long)]
    decontaminate: Vec<PathBuf>,
    /// Manifest folder (for --rebuild).
    #[arg(long)]
    manifests: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: paths::Format,
}

/// Exit codes: 0 everything verified; 1 a file differs (each named) or the output is unreadable.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let raw_root = match (a.raw_root, a.rebuild) {
        (Some(r), _) => Some(r),
        (None, true) => Some(paths::raw_root(None)),
        (None, false) => None,
    };
    let opts = VerifyOptions {
        manifests: paths::manifests_dir(a.manifests),
        raw_root,
        rebuild: a.rebuild,
        instructions: a.instructions,
        decontaminate: a.decontaminate,
    };
    let report = match verify(&a.out, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(1);
        }
    };
    if a.format == paths::Format::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for n in &report.notes {
            println!("note: {n}");
        }
        for p in &report.problems {
            eprintln!("FAILED {:<18} {}", p.kind, p.message);
        }
        let raw = if opts.raw_root.is_some() {
            format!(", {} raw file(s) re-hashed", report.raw_files_checked)
        } else {
            String::new()
        };
        let rebuilt = report
            .rebuilt_files
            .map(|n| format!(", rebuilt {n} file(s) and compared byte for byte"))
            .unwrap_or_default();
        if report.ok {
            println!(
                "OK: {} output file(s) match SHA256SUMS{raw}{rebuilt}",
                report.output_files
            );
        } else {
            eprintln!(
                "verification failed: {} problem(s) in {}",
                report.problems.len(),
                report.out
            );
        }
    }
    Ok(if report.ok { 0 } else { 1 })
}

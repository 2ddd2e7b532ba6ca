use crate::output::Format;
use crate::paths::{self, OutDir, RawRoot};
use medsins_inspect::verify::{VerifyOptions, VerifyReport, verify};
use medsins_pipeline::Checksums;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    out: OutDir,
    /// Re-hash the lock's raw files under this raw root (with --rebuild, default: the
    /// catalogue's fixtures, as for `build`).
    #[arg(long, value_name = "DIR")]
    raw_root: Option<PathBuf>,
    /// Accept raw files whose SHA-256 differs from their manifest's (for --rebuild of a build
    /// made with --skip-checksums).
    #[arg(long)]
    skip_checksums: bool,
    /// Rebuild into a temporary directory from the lock's manifests and options, and compare
    /// every file byte for byte.
    #[arg(long)]
    rebuild: bool,
    /// The instruction bank the build used (needed by --rebuild when the lock names one).
    #[arg(long, value_name = "FILE")]
    instructions: Option<PathBuf>,
    /// A benchmark file the build decontaminated against (repeatable; for --rebuild).
    #[arg(long, value_name = "FILE")]
    decontaminate: Vec<PathBuf>,
    /// Manifest folder (for --rebuild; default: `corpora-manifests` in the working directory,
    /// else the catalogue bundled with medsins).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// The verification of the output (the Python module's `verify`).
pub fn report(a: &Args) -> anyhow::Result<VerifyReport> {
    let catalogue = paths::manifests_dir(a.manifests.clone());
    // the raw root must outlive the verification (a temporary copy of the bundled fixtures)
    let raw = match (&a.raw_root, a.rebuild) {
        (Some(_), _) | (None, true) => Some(RawRoot::choose(
            a.raw_root.clone(),
            a.skip_checksums,
            &catalogue,
        )?),
        (None, false) => None,
    };
    let opts = VerifyOptions {
        catalogue,
        raw_root: raw.as_ref().map(|r| r.path.clone()),
        checksums: raw.as_ref().map_or(Checksums::Verify, |r| r.checksums),
        rebuild: a.rebuild,
        instructions: a.instructions.clone(),
        decontaminate: a.decontaminate.clone(),
    };
    Ok(verify(a.out.path(), &opts)?)
}

/// Exit codes: 0 everything verified; 1 a file differs (each named) or the output is unreadable.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let report = match report(&a) {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e:#}");
            return Ok(1);
        }
    };
    if a.format == Format::Json {
        crate::output::print_json(&report)?;
        return Ok(if report.ok { 0 } else { 1 });
    }
    for n in &report.notes {
        outln!("note: {n}");
    }
    for p in &report.problems {
        errln!("FAILED {:<18} {}", p.kind, p.message);
    }
    let raw = if report.raw_files_checked > 0 || a.raw_root.is_some() {
        format!(", {} raw file(s) re-hashed", report.raw_files_checked)
    } else {
        String::new()
    };
    let rebuilt = report
        .rebuilt_files
        .map(|n| format!(", rebuilt {n} file(s) and compared byte for byte"))
        .unwrap_or_default();
    if report.ok {
        outln!(
            "OK: {} output file(s) match SHA256SUMS{raw}{rebuilt}",
            report.output_files
        );
    } else {
        errln!(
            "verification failed: {} problem(s) in {}",
            report.problems.len(),
            report.out
        );
    }
    Ok(if report.ok { 0 } else { 1 })
}

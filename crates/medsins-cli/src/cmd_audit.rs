use crate::output::Format;
use crate::paths;
use medsins_inspect::audit::{AuditError, AuditOptions, AuditReport, audit, render_text};
use medsins_pipeline::Checksums;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The sample id (the `id` column: 32 hexadecimal characters).
    id: String,
    /// The build's output directory.
    #[arg(long, value_name = "DIR", default_value = paths::DEFAULT_OUT)]
    out: PathBuf,
    /// Raw root: re-read the raw record and re-derive the sample from it.
    #[arg(long, value_name = "DIR")]
    raw_root: Option<PathBuf>,
    /// Accept raw files whose SHA-256 differs from their manifest's.
    #[arg(long)]
    skip_checksums: bool,
    /// The instruction bank the build used (to re-derive the instruction as well).
    #[arg(long, value_name = "FILE")]
    instructions: Option<PathBuf>,
    /// Manifest folder (default: `corpora-manifests` in the working directory, else the
    /// catalogue bundled with medsins).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// The audit of the id (the Python module's `audit`).
pub fn report(a: &Args) -> anyhow::Result<AuditReport> {
    Ok(audit_id(a)?)
}

fn audit_id(a: &Args) -> Result<AuditReport, AuditError> {
    let catalogue = paths::manifests_dir(a.manifests.clone());
    // without --raw-root nothing is re-derived, so no fixtures are needed
    let checksums = match &a.raw_root {
        Some(r) => paths::checksums_for(r, a.skip_checksums, &catalogue),
        None => Checksums::Verify,
    };
    let opts = AuditOptions {
        catalogue,
        raw_root: a.raw_root.clone(),
        checksums,
        instructions: a.instructions.clone(),
    };
    audit(&a.out, &a.id, &opts)
}

/// Exit codes: 0 found (and, with --raw-root, re-derived to MATCH); 1 unknown id, not an
/// output, or a re-derivation that differs.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let report = match audit_id(&a) {
        Ok(r) => r,
        Err(e @ (AuditError::UnknownId(_) | AuditError::NotAnOutput(_))) => {
            if a.format == Format::Json {
                outln!(
                    "{}",
                    serde_json::json!({ "id": a.id, "status": "unknown", "error": e.to_string() })
                );
            }
            errln!("error: {e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    if a.format == Format::Json {
        crate::output::print_json(&report)?;
    } else {
        out!("{}", render_text(&report));
    }
    Ok(if report.rederive.status == "DIFF" {
        1
    } else {
        0
    })
}

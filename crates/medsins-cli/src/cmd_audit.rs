use crate::paths;
use medsins_inspect::audit::{AuditError, AuditOptions, audit, render_text};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The sample id (the `id` column: 32 hexadecimal characters).
    id: String,
    /// The build's output directory.
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Raw root: re-read the raw record and re-derive the sample from it.
    #[arg(long)]
    raw_root: Option<PathBuf>,
    /// The instruction bank the build used (to re-derive the instruction as well).
    #[arg(long)]
    instructions: Option<PathBuf>,
    /// Manifest folder.
    #[arg(long)]
    manifests: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: paths::Format,
}

/// Exit codes: 0 found (and, with --raw-root, re-derived to MATCH); 1 unknown id, not an
/// output, or a re-derivation that differs.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let opts = AuditOptions {
        manifests: paths::manifests_dir(a.manifests),
        raw_root: a.raw_root,
        instructions: a.instructions,
    };
    let report = match audit(&a.out, &a.id, &opts) {
        Ok(r) => r,
        Err(e @ (AuditError::UnknownId(_) | AuditError::NotAnOutput(_))) => {
            if a.format == paths::Format::Json {
                println!(
                    "{}",
                    serde_json::json!({ "id": a.id, "status": "unknown", "error": e.to_string() })
                );
            }
            eprintln!("error: {e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    let text = if a.format == paths::Format::Json {
        serde_json::to_string_pretty(&report)? + "\n"
    } else {
        render_text(&report)
    };
    // a closed pipe (`| head`) is not an error
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    Ok(if report.rederive.status == "DIFF" {
        1
    } else {
        0
    })
}

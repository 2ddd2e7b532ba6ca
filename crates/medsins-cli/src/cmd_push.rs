use crate::output::Format;
use crate::paths::OutDir;
use anyhow::Context;
use medsins_publish::push::{Gate, PushOptions};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    out: OutDir,
    /// The Hugging Face dataset repository, ORG/NAME (created when missing).
    #[arg(long)]
    repo: String,
    /// Make the repository private.
    #[arg(long)]
    private: bool,
    /// Gate access: requests accepted automatically (`auto`) or reviewed (`manual`). A build
    /// with registration-only or credentialed rows is pushed only with --private and --gated.
    #[arg(long, value_parser = ["auto", "manual"])]
    gated: Option<String>,
    /// Check and list what would be sent; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// The Python interpreter that has huggingface_hub.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Commit message on the Hub.
    #[arg(long, default_value = "Upload a medsins build")]
    message: String,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Uploads a build to the Hugging Face Hub (docs/publishing.md).
pub fn run(a: Args) -> anyhow::Result<i32> {
    let dir = medsins_publish::BuildDir::open(a.out.path())?;
    let opts = PushOptions {
        repo: a.repo,
        private: a.private,
        gated: a
            .gated
            .as_deref()
            .map(|g| Gate::parse(g).context("--gated"))
            .transpose()?,
        dry_run: a.dry_run,
        python: a.python,
        commit_message: a.message,
    };
    let plan = medsins_publish::push::push(&dir, &opts)?;
    if a.format == Format::Json {
        crate::output::print_json(&plan)?;
        return Ok(0);
    }
    if opts.dry_run {
        for (f, size) in &plan.files {
            outln!("{size:>14}  {f}");
        }
    }
    outln!(
        "{} {} file(s), {} bytes, to dataset {} ({}{})",
        if plan.uploaded {
            "uploaded"
        } else {
            "dry run: would upload"
        },
        plan.files.len(),
        plan.bytes,
        plan.repo,
        if plan.private { "private" } else { "public" },
        plan.gated
            .map(|g| format!(", gated: {g}"))
            .unwrap_or_default()
    );
    Ok(0)
}

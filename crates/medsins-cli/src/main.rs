//! `medsins`: rebuild MedS-Ins from raw corpora. Each subcommand lives in its own module and
//! only parses arguments, calls the library crates and prints.
//!
//! Exit codes: 0 success; 1 error (invalid manifest, failed corpus, verification failure);
//! 2 usage error; 3 partial build (some requested corpora were missing). With `--strict`,
//! `build` and `check` exit 1 when a semantic check fails that the task does not expect.

mod cmd_audit;
mod cmd_build;
mod cmd_catalogue;
mod cmd_check;
mod cmd_export;
mod cmd_list;
mod cmd_new_corpus;
mod cmd_preview;
mod cmd_push;
mod cmd_report;
mod cmd_stats;
mod cmd_synth;
mod cmd_validate;
mod cmd_verify;
mod paths;

use clap::{Parser, Subcommand};

/// mimalloc: glibc malloc was ~20 % of build cycles, with arena contention at 2 threads
/// (docs/benchmarks.md). Allocation never affects the output bytes.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "medsins",
    version,
    about = "Rebuild the MedS-Ins medical instruction dataset from its raw corpora"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the dataset (sharded Parquet with provenance) from raw files.
    Build(cmd_build::Args),
    /// Check manifests: schema, meaning, templates; every error as file:line:col.
    Validate(cmd_validate::Args),
    /// Show rendered samples of a corpus or task, for review.
    Preview(cmd_preview::Args),
    /// List the catalogue's corpora and tasks.
    List(cmd_list::Args),
    /// Print the manifest JSON Schema, or write docs/catalogue.md.
    Catalogue(cmd_catalogue::Args),
    /// Run the semantic data checks on a build's output (docs/data-quality.md).
    Check(cmd_check::Args),
    /// Start a corpus: inspect raw files, write a manifest, a fixture and expected rows.
    NewCorpus(cmd_new_corpus::Args),
    /// Summarise a build's stats.json.
    Stats(cmd_stats::Args),
    /// Export a build for training (chat, ShareGPT, Alpaca, JSON Lines) or as MedS-Ins task JSON.
    Export(cmd_export::Args),
    /// Write a build's report: one self-contained HTML page with plots.
    Report(cmd_report::Args),
    /// Upload a build to a Hugging Face dataset repository (refuses restricted rows unless private and gated).
    Push(cmd_push::Args),
    /// Trace a sample id to its raw record, manifest and instruction; re-derive it.
    Audit(cmd_audit::Args),
    /// Check an output against its checksums and lock; re-hash raw files; rebuild and compare.
    Verify(cmd_verify::Args),
    /// Write a synthetic raw root at MedS-Ins scale from the fixtures (benchmarks).
    Synth(cmd_synth::Args),
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Build(a) => cmd_build::run(a),
        Command::Validate(a) => cmd_validate::run(a),
        Command::Preview(a) => cmd_preview::run(a),
        Command::List(a) => cmd_list::run(a),
        Command::Catalogue(a) => cmd_catalogue::run(a),
        Command::Check(a) => cmd_check::run(a),
        Command::NewCorpus(a) => cmd_new_corpus::run(a),
        Command::Stats(a) => cmd_stats::run(a),
        Command::Export(a) => cmd_export::run(a),
        Command::Report(a) => cmd_report::run(a),
        Command::Push(a) => cmd_push::run(a),
        Command::Audit(a) => cmd_audit::run(a),
        Command::Verify(a) => cmd_verify::run(a),
        Command::Synth(a) => cmd_synth::run(a),
    };
    match code {
        Ok(c) => std::process::exit(c),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

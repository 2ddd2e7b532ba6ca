//! `medsins`: rebuild MedS-Ins from raw corpora. Each subcommand lives in its own module and
//! only parses arguments, calls the library crates and prints. The same commands serve the
//! Python module (`medsins-py`): [`main`] is its `medsins` command, [`report`] its functions.
//!
//! Exit codes: 0 success; 1 error (invalid manifest, failed corpus, verification failure);
//! 2 usage error; 3 partial build (some requested corpora were missing). With `--strict`,
//! `build` and `check` exit 1 when a semantic check fails that the task does not expect.

#[macro_use]
mod output;
mod cmd_audit;
mod cmd_build;
mod cmd_build_unit;
mod cmd_cache;
mod cmd_catalogue;
mod cmd_check;
mod cmd_completions;
mod cmd_export;
mod cmd_list;
mod cmd_new_corpus;
mod cmd_plan;
mod cmd_preview;
mod cmd_push;
mod cmd_report;
mod cmd_stats;
mod cmd_synth;
mod cmd_validate;
mod cmd_verify;
mod paths;
mod profile_args;
mod progress;

use clap::{Parser, Subcommand};
use std::ffi::OsString;

#[derive(Parser)]
#[command(
    name = "medsins",
    version,
    about = "Rebuild the MedS-Ins medical instruction dataset from its raw corpora"
)]
struct Cli {
    /// Only errors: no warnings, no progress.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// More log output: -v info, -vv debug, -vvv trace (default: warnings; `RUST_LOG` is
    /// honoured when neither -q nor -v is given).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the dataset (sharded Parquet with provenance) from raw files.
    Build(cmd_build::Args),
    /// List a build's units (groups of tasks reading the same files) with their cost and cache key.
    Plan(cmd_plan::Args),
    /// Compute one unit of a build into a cache (--cache DIR), in a process of its own.
    BuildUnit(cmd_build_unit::Args),
    /// Housekeeping of a build cache: what it holds, and pruning.
    Cache(cmd_cache::Args),
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
    /// Print a shell completion script (e.g. `medsins completions bash > ~/.local/share/bash-completion/completions/medsins`).
    Completions(cmd_completions::Args),
}

/// How much the user asked to be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verbosity {
    Quiet,
    Normal,
    Verbose(u8),
}

impl Cli {
    fn verbosity(&self) -> Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, n) => Verbosity::Verbose(n),
        }
    }
}

/// Log levels from -q/-v (or `RUST_LOG` when neither is given); progress lines are log
/// records of the target `medsins::progress`, shown unless -q.
fn init_logging(v: Verbosity) {
    let filters = match v {
        Verbosity::Quiet => "error".to_string(),
        Verbosity::Normal => match std::env::var("RUST_LOG") {
            Ok(f) if !f.trim().is_empty() => f,
            _ => format!("warn,{}=info", progress::LOG_TARGET),
        },
        Verbosity::Verbose(n) => {
            let level = match n {
                1 => "info",
                2 => "debug",
                _ => "trace",
            };
            format!("{level},{}=info", progress::LOG_TARGET)
        }
    };
    // a second initialisation (the Python module calls in more than once) keeps the first
    let _ = env_logger::Builder::new()
        .parse_filters(&filters)
        .format_target(false)
        .try_init();
}

/// Runs the command line `args` (the program name first) and returns the exit code.
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            // help and version go to stdout (exit 0), usage errors to stderr (exit 2)
            let code = e.exit_code();
            if e.use_stderr() {
                let _ = e.print();
            } else {
                out!("{}", e.render());
            }
            return code;
        }
    };
    let verbosity = cli.verbosity();
    init_logging(verbosity);
    let result = match cli.command {
        Command::Build(a) => cmd_build::run(a, verbosity),
        Command::Plan(a) => cmd_plan::run(a),
        Command::BuildUnit(a) => cmd_build_unit::run(a),
        Command::Cache(a) => cmd_cache::run(a),
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
        Command::Completions(a) => cmd_completions::run(a),
    };
    let code = match result {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e:#}");
            1
        }
    };
    output::finish(code)
}

/// Why [`report`] gave no report.
#[derive(Debug)]
pub enum ReportError {
    /// An option the command does not have (clap's message).
    UnknownOption(String),
    /// The arguments are not a valid command line otherwise (clap's message).
    Usage(String),
    /// The command failed (the message `medsins` prints after `error:`).
    Failed(String),
}

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReportError::UnknownOption(m) | ReportError::Usage(m) | ReportError::Failed(m) => {
                f.write_str(m)
            }
        }
    }
}

/// clap's message for a library caller, without the `error: ` it starts with and the tip to
/// try `--help` it ends with (the caller raises it as its own error, and has no `--help`).
fn library_message(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let message = rendered.trim_end();
    let message = message.strip_prefix("error: ").unwrap_or(message);
    message
        .strip_suffix("For more information, try '--help'.")
        .unwrap_or(message)
        .trim_end()
        .to_string()
}

/// Runs a reporting command for a library caller and returns what `--format json` prints:
/// `args` are the command and its options as on the command line (no program name, no
/// `--format`). No progress is shown and nothing is printed.
pub fn report(args: &[String]) -> Result<serde_json::Value, ReportError> {
    let argv = std::iter::once("medsins".to_string()).chain(args.iter().cloned());
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        let message = library_message(&e);
        match e.kind() {
            clap::error::ErrorKind::UnknownArgument => ReportError::UnknownOption(message),
            _ => ReportError::Usage(message),
        }
    })?;
    init_logging(cli.verbosity());
    let failed = |e: anyhow::Error| ReportError::Failed(format!("{e:#}"));
    match cli.command {
        Command::Build(a) => cmd_build::report(&a, Verbosity::Quiet)
            .and_then(|r| Ok(serde_json::to_value(r)?))
            .map_err(failed),
        Command::Validate(a) => cmd_validate::report(&a).map_err(failed),
        Command::Audit(a) => cmd_audit::report(&a)
            .and_then(|r| Ok(serde_json::to_value(r)?))
            .map_err(failed),
        Command::Verify(a) => cmd_verify::report(&a)
            .and_then(|r| Ok(serde_json::to_value(r)?))
            .map_err(failed),
        Command::List(a) => cmd_list::report(&a)
            .and_then(|r| Ok(serde_json::to_value(r)?))
            .map_err(failed),
        _ => Err(ReportError::Usage(format!(
            "`{}` has no report to return; run it as a command",
            args.first().map(String::as_str).unwrap_or_default()
        ))),
    }
}

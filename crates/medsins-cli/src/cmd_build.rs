use crate::paths;
use anyhow::Context;
use medsins_core::Access;
use medsins_pipeline::{BuildOptions, CorpusStatus};
use medsins_readers::Limits;
use std::io::IsTerminal;
use std::path::PathBuf;

/// A byte count as the limit flags take and show it: `1048576`, `64MiB`, `16GiB`.
#[derive(Clone, Copy)]
struct ByteCount(u64);

impl std::str::FromStr for ByteCount {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        medsins_readers::parse_bytes(s).map(ByteCount)
    }
}

impl std::fmt::Display for ByteCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&medsins_readers::show_bytes(self.0))
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Folder holding one sub-folder per corpus, in each corpus's upstream layout
    /// (default: the fixtures bundled with the repository).
    #[arg(long)]
    raw_root: Option<PathBuf>,
    /// Output directory (replaced atomically).
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Build only these corpus or task ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Worker threads (default: all cores). The output does not depend on it.
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// The MedS-Ins instruction bank (RewriteDefinitions.json): its definitions and paraphrases
    /// become each task's instruction set.
    #[arg(long)]
    instructions: Option<PathBuf>,
    /// Most restricted access class to include: public, registration or credentialed.
    #[arg(long)]
    access: Option<String>,
    /// Leave out corpora whose licence contains this text (repeatable, case-insensitive).
    #[arg(long = "exclude-licence")]
    exclude_licence: Vec<String>,
    /// Seed for hash splits and instruction choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Maximum rows per Parquet shard.
    #[arg(long, default_value_t = 100_000)]
    shard_rows: usize,
    /// Manifest folder.
    #[arg(long)]
    manifests: Option<PathBuf>,
    /// Benchmark test sets to decontaminate against: task JSON (MedS-Bench / SNI), JSON Lines or
    /// Parquet with `input` and `output`/`outputs` fields. Matches are removed (ledger `contaminated`).
    #[arg(long, num_args = 1..)]
    decontaminate: Vec<PathBuf>,
    /// Word n-gram length for --decontaminate.
    #[arg(long, default_value_t = 13)]
    decontaminate_ngram: usize,
    /// A Hugging Face tokenizer.json: adds input_tokens/output_tokens columns and token
    /// histograms in stats.json.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// With --tokenizer: remove samples over this many input + output tokens (ledger `too_long`).
    #[arg(long, requires = "tokenizer")]
    max_tokens: Option<usize>,
    /// Exit 1 when a semantic check fails that the task does not declare in `expected_checks`.
    #[arg(long)]
    strict: bool,
    /// Record per-stage seconds in stats.json (benchmarks). The output is then no longer
    /// byte-identical from run to run (stats.json and SHA256SUMS differ).
    #[arg(long)]
    timings: bool,
    /// Deepest nesting of XML elements, JSON arrays/objects and Python literals in a raw file
    /// (at most 1024). Deeper files are refused, naming the file and position.
    #[arg(long, default_value_t = Limits::default().max_depth)]
    max_depth: usize,
    /// Largest raw record (a CSV row, JSON Lines line, XML record element, text file...),
    /// in bytes or with a unit (KiB, MiB, GiB, TiB).
    #[arg(long, default_value_t = ByteCount(Limits::default().max_record_bytes))]
    max_record_bytes: ByteCount,
    /// Largest decompressed size of a gzip file or zip member (and of an XLSX workbook's
    /// parts together), in bytes or with a unit.
    #[arg(long, default_value_t = ByteCount(Limits::default().max_decompressed_bytes))]
    max_decompressed_bytes: ByteCount,
    /// Largest expansion of compressed data: decompressed bytes over compressed bytes read,
    /// checked after the first 64 MiB.
    #[arg(long, default_value_t = Limits::default().max_decompression_ratio)]
    max_decompression_ratio: u64,
    /// Print the build report as JSON.
    #[arg(long, value_enum, default_value_t)]
    format: paths::Format,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    if let Some(j) = a.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(j.max(1))
            .build_global()
            .context("setting up worker threads")?;
    }
    let dir = paths::manifests_dir(a.manifests);
    let cat = paths::valid_catalogue(&dir)?;
    let mut opts = BuildOptions::new(paths::raw_root(a.raw_root), a.out);
    opts.selection.only = a.only;
    opts.selection.exclude_licence = a.exclude_licence;
    opts.selection.access = match a.access.as_deref() {
        None => None,
        Some(s) => Some(Access::parse(s).with_context(|| {
            format!("--access `{s}`: use public, registration or credentialed")
        })?),
    };
    opts.instructions = a.instructions;
    opts.seed = a.seed;
    opts.shard_rows = a.shard_rows;
    opts.decontaminate = a.decontaminate;
    if a.decontaminate_ngram == 0 {
        anyhow::bail!("--decontaminate-ngram must be at least 1 (default 13)");
    }
    opts.decontaminate_ngram = a.decontaminate_ngram;
    opts.tokenizer = a.tokenizer;
    opts.max_tokens = a.max_tokens;
    opts.timings = a.timings;
    opts.limits = Limits {
        max_depth: a.max_depth,
        max_record_bytes: a.max_record_bytes.0,
        max_decompressed_bytes: a.max_decompressed_bytes.0,
        max_decompression_ratio: a.max_decompression_ratio,
    };
    opts.limits.check().map_err(anyhow::Error::msg)?;
    for o in &opts.selection.only {
        let known = cat
            .manifests
            .iter()
            .any(|m| m.manifest.id() == o || m.manifest.tasks.iter().any(|t| t.id.get_ref() == o));
        if !known {
            anyhow::bail!(
                "--only `{o}` is neither a corpus id nor a task id of the catalogue; `medsins list` shows them"
            );
        }
    }
    let spinner = if std::io::stderr().is_terminal() {
        let p = indicatif::ProgressBar::new(0);
        p.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        p.set_message(format!("building from {}", opts.raw_root.display()));
        p.enable_steady_tick(std::time::Duration::from_millis(120));
        let bar = p.clone();
        opts.progress = Some(medsins_pipeline::Progress(std::sync::Arc::new(
            move |phase: &str, done: u64, total: u64| {
                bar.set_length(total);
                bar.set_position(done);
                bar.set_message(match phase {
                    "tasks" => "tasks built".to_string(),
                    other => other.to_string(),
                });
            },
        )));
        Some(p)
    } else {
        None
    };
    let report = medsins_pipeline::build(&cat, &opts);
    if let Some(p) = spinner {
        p.finish_and_clear();
    }
    let report = report?;
    let strict_fail = a.strict && report.checks.unexpected > 0;
    let code = if strict_fail && report.exit_code() == 0 {
        1
    } else {
        report.exit_code()
    };
    if a.format == paths::Format::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(code);
    }
    for c in &report.corpora {
        match &c.status {
            CorpusStatus::Built {
                source_variant,
                variant_name,
                tasks,
                samples,
                quarantined,
                missing,
                tasks_skipped,
            } => {
                let q = if *quarantined > 0 {
                    format!(", {quarantined} records quarantined (see ledger)")
                } else {
                    String::new()
                };
                let from = if source_variant == medsins_manifest::DEFAULT_VARIANT {
                    String::new()
                } else {
                    format!(" (from {variant_name}, variant `{source_variant}`)")
                };
                println!(
                    "built     {:<28} {tasks} task(s), {samples} samples{q}{from}",
                    c.corpus_id
                );
                if !missing.is_empty() {
                    eprintln!(
                        "partial   {}: built from the files present; not found:",
                        c.corpus_id
                    );
                    for p in missing {
                        eprintln!("            {p}");
                    }
                    if !tasks_skipped.is_empty() {
                        eprintln!("          tasks skipped: {}", tasks_skipped.join(", "));
                    }
                }
            }
            CorpusStatus::Missing {
                paths,
                homepage,
                access,
                obtain,
                alternatives,
                tasks,
            } => {
                eprintln!("missing   {}: raw files not found:", c.corpus_id);
                if alternatives.is_empty() {
                    for p in paths {
                        eprintln!("            {p}");
                    }
                }
                eprintln!("          access: {access}; get it from {homepage}");
                eprintln!("          {}", obtain.trim().replace('\n', "\n          "));
                if !alternatives.is_empty() {
                    eprintln!("          any one of these distributions is enough:");
                }
                for v in alternatives {
                    eprintln!("          - {} (variant `{}`):", v.name, v.variant);
                    for p in &v.paths {
                        eprintln!("              {p}");
                    }
                    eprintln!(
                        "            {}",
                        v.obtain.trim().replace('\n', "\n            ")
                    );
                }
                eprintln!("          tasks skipped: {}", tasks.join(", "));
            }
            CorpusStatus::Failed { message, tasks } => {
                eprintln!("FAILED    {}: {message}", c.corpus_id);
                eprintln!("          tasks skipped: {}", tasks.join(", "));
            }
            CorpusStatus::Excluded { reason } => println!("excluded  {:<28} {reason}", c.corpus_id),
        }
    }
    match &report.not_written {
        None => println!(
            "{} samples in {} tasks written to {}",
            report.samples, report.tasks, report.out
        ),
        Some(why) => eprintln!(
            "error: {why}; {} is unchanged ({} samples in {} tasks were built and discarded)",
            report.out, report.samples, report.tasks
        ),
    }
    let counts = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !report.removed_by_reason.is_empty() {
        println!(
            "removed (ledger.parquet): {}",
            counts(&report.removed_by_reason)
        );
    }
    if !report.flagged_by_reason.is_empty() {
        println!(
            "flagged, kept (ledger.parquet): {}",
            counts(&report.flagged_by_reason)
        );
    }
    crate::cmd_check::print_checks(&report.checks);
    let timing: Vec<String> = report
        .stage_seconds
        .iter()
        .map(|(s, t)| format!("{s} {t:.2}s"))
        .collect();
    log::info!("stage time (summed over tasks): {}", timing.join(", "));
    match report.exit_code() {
        3 => eprintln!(
            "partial build: {} corpus(es) missing (exit 3)",
            report.missing().count()
        ),
        1 if report.written => {
            eprintln!("{} corpus(es) failed (exit 1)", report.failed().count())
        }
        _ => {}
    }
    if strict_fail {
        eprintln!(
            "error: {} unexpected failing check(s) (--strict; see checks.json); fix the data or declare them in the task's expected_checks with a reason",
            report.checks.unexpected
        );
    }
    Ok(code)
}

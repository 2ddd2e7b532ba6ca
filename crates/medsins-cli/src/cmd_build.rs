use crate::output::Format;
use crate::paths::{self, RawRoot};
use crate::progress::Reporter;
use crate::{Verbosity, cmd_check};
use anyhow::Context;
use medsins_core::Access;
use medsins_manifest::NearDedupPolicy;
use medsins_pipeline::{BuildOptions, BuildReport, CorpusStatus};
use medsins_readers::Limits;
use std::path::PathBuf;

/// A byte count as the limit flags take and show it: `1048576`, `64MiB`, `16GiB`.
#[derive(Clone, Copy)]
struct ByteCount(u64);

impl std::str::FromStr for ByteCount {
    type Err = medsins_readers::LimitsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
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
    /// Folder holding one sub-folder per corpus, in each corpus's upstream layout (default:
    /// the catalogue's fixtures — the bundled ones outside a checkout).
    #[arg(long, value_name = "DIR")]
    raw_root: Option<PathBuf>,
    /// Accept raw files whose SHA-256 differs from their manifest's (a `medsins synth` root,
    /// edited files); the lock and the dataset card list every such file.
    #[arg(long)]
    skip_checksums: bool,
    /// Output directory (replaced atomically).
    #[arg(long, value_name = "DIR", default_value = paths::DEFAULT_OUT)]
    out: PathBuf,
    /// Build only these corpus or task ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Worker threads (default: all cores). The output does not depend on it.
    #[arg(long, short = 'j')]
    pub(crate) jobs: Option<usize>,
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
    #[arg(long, default_value_t = medsins_pipeline::DEFAULT_SEED)]
    seed: u64,
    #[command(flatten)]
    profile: crate::profile_args::ProfileArgs,
    /// Maximum rows per Parquet shard.
    #[arg(long, default_value_t = medsins_pipeline::DEFAULT_SHARD_ROWS, value_parser = at_least_one)]
    shard_rows: usize,
    /// Bound of a Parquet row group's uncompressed size, in MiB (the Hugging Face dataset
    /// viewer reads whole row groups).
    #[arg(long, default_value_t = 128, value_parser = at_least_one)]
    row_group_mib: usize,
    /// Manifest folder (default: `corpora-manifests` in the working directory, else the
    /// catalogue bundled with medsins).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    /// Benchmark test sets to decontaminate against: task JSON (MedS-Bench / SNI), JSON Lines or
    /// Parquet with `input` and `output`/`outputs` fields. Matches are removed (ledger `contaminated`).
    #[arg(long, num_args = 1..)]
    decontaminate: Vec<PathBuf>,
    /// Word n-gram length for --decontaminate.
    #[arg(long, default_value_t = medsins_quality::DEFAULT_NGRAM, value_parser = at_least_one)]
    decontaminate_ngram: usize,
    /// A Hugging Face tokenizer.json: adds input_tokens/output_tokens columns and token
    /// histograms in stats.json.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// With --tokenizer: remove samples over this many instruction + input + output tokens
    /// (with --chat-template: tokens of the rendered conversation; ledger `too_long`).
    #[arg(long, requires = "tokenizer")]
    max_tokens: Option<usize>,
    /// The model's tokenizer_config.json (or chat_template.jinja): --max-tokens counts the
    /// conversation its chat template renders (recorded in the lock).
    #[arg(long, requires = "max_tokens")]
    chat_template: Option<PathBuf>,
    /// Where the counted conversation puts the instruction: a system message, or before the
    /// input in the user message.
    #[arg(long, value_parser = ["system", "user"], default_value = "system")]
    instruction_in: String,
    /// Also write the build's HTML report (as `medsins report`) to this file.
    #[arg(long)]
    report: Option<PathBuf>,
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
    /// Reuse the units (groups of tasks reading the same files) this folder holds and store
    /// the ones computed; the output is the same bytes. Builds and `build-unit`s may share it
    /// at once (docs/scale-out.md).
    #[arg(long, value_name = "DIR")]
    pub(crate) cache: Option<PathBuf>,
    /// With --cache: assemble the output from the cache alone; fails, listing them, when
    /// units are missing (`medsins build-unit` computes them).
    #[arg(long, requires = "cache")]
    cached_only: bool,
    /// The near-duplicate policy of every task, instead of each manifest's `near_dedup`
    /// (`off` for fast iteration on a manifest; recorded in the lock).
    #[arg(long, value_name = "POLICY", value_parser = ["off", "flag", "remove"])]
    near_dedup: Option<String>,
    /// Print the build report as JSON.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) format: Format,
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("must be a whole number, at least 1".to_string()),
    }
}

/// `--near-dedup`: one near-duplicate policy for every task instead of each manifest's (a
/// function of its own so that other overrides, such as `--leakage`, merge beside it).
fn near_dedup_override(arg: Option<&str>) -> anyhow::Result<Option<NearDedupPolicy>> {
    arg.map(|p| match p {
        "off" => Ok(NearDedupPolicy::Off),
        "flag" => Ok(NearDedupPolicy::Flag),
        "remove" => Ok(NearDedupPolicy::Remove),
        other => anyhow::bail!("--near-dedup {other}: expected off, flag or remove"),
    })
    .transpose()
}

/// What the build options of the command line give: the catalogue, the options, and the raw
/// root (which must live as long as they are used: it may be a temporary copy of the bundled
/// fixtures).
pub struct Prepared {
    pub catalogue: medsins_manifest::Catalogue,
    pub opts: BuildOptions,
    pub raw: RawRoot,
}

/// The build options as the arguments say (`build`, `plan` and `build-unit` take the same).
pub fn prepare(a: &Args) -> anyhow::Result<Prepared> {
    let source = paths::manifests_dir(a.manifests.clone());
    let cat = paths::valid_catalogue_for(&source, &a.only)?;
    let raw = RawRoot::choose(a.raw_root.clone(), a.skip_checksums, &source)?;
    let mut opts = BuildOptions::new(raw.path.clone(), a.out.clone());
    opts.checksums = raw.checksums;
    opts.selection.only = a.only.clone();
    opts.selection.exclude_licence = a.exclude_licence.clone();
    opts.selection.access = match a.access.as_deref() {
        None => None,
        Some(s) => Some(Access::parse(s).with_context(|| {
            format!("--access `{s}`: use public, registration or credentialed")
        })?),
    };
    opts.selection.check(&cat).map_err(anyhow::Error::msg)?;
    opts.instructions = a.instructions.clone();
    opts.seed = a.seed;
    a.profile.apply(&mut opts);
    opts.shard_rows = a.shard_rows;
    opts.row_group_bytes = a.row_group_mib << 20;
    opts.decontaminate = a.decontaminate.clone();
    opts.decontaminate_ngram = a.decontaminate_ngram;
    opts.tokenizer = a.tokenizer.clone();
    opts.max_tokens = a.max_tokens;
    opts.chat_template = a.chat_template.clone();
    opts.instruction_in = medsins_pipeline::tokens::InstructionIn::parse(&a.instruction_in)
        .context("--instruction-in")?;
    opts.timings = a.timings;
    opts.near_dedup = near_dedup_override(a.near_dedup.as_deref())?;
    opts.limits = Limits {
        max_depth: a.max_depth,
        max_record_bytes: a.max_record_bytes.0,
        max_decompressed_bytes: a.max_decompressed_bytes.0,
        max_decompression_ratio: a.max_decompression_ratio,
    };
    opts.limits.check().map_err(anyhow::Error::msg)?;
    Ok(Prepared {
        catalogue: cat,
        opts,
        raw,
    })
}

/// A pool of its own with `--jobs` threads, so that a library caller can build several times
/// with other --jobs.
pub fn pool(jobs: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.unwrap_or(0))
        .build()
        .context("setting up worker threads")
}

/// Builds as the arguments say and returns the report (progress as `v` allows).
pub fn report(a: &Args, v: Verbosity) -> anyhow::Result<BuildReport> {
    let Prepared {
        catalogue: cat,
        mut opts,
        raw,
    } = prepare(a)?;
    let reporter = Reporter::new(
        v,
        &format!("building {} from {}", cat.source, raw.describe()),
    );
    opts.progress = reporter.progress();
    let cache = a.cache.as_ref().map(|dir| medsins_pipeline::CacheOptions {
        dir: dir.clone(),
        cached_only: a.cached_only,
    });
    let report =
        pool(a.jobs)?.install(|| medsins_pipeline::build_with_cache(&cat, &opts, cache.as_ref()));
    reporter.finish();
    Ok(report?)
}

pub fn run(a: Args, v: Verbosity) -> anyhow::Result<i32> {
    let report = report(&a, v)?;
    let strict_fail = a.strict && report.checks.unexpected > 0;
    let code = if strict_fail && report.exit_code() == 0 {
        1
    } else {
        report.exit_code()
    };
    if let (Some(file), true) = (&a.report, report.written) {
        let dir = medsins_publish::BuildDir::open(&a.out)?;
        medsins_publish::report::write(&dir, file)?;
        errln!("report written to {}", file.display());
    }
    if a.format == Format::Json {
        crate::output::print_json(&report)?;
        return Ok(code);
    }
    print_corpora(&report);
    if let Some(c) = &report.cache {
        print_cache(c);
    }
    match &report.not_written {
        None => outln!(
            "{} samples in {} tasks written to {}",
            report.samples,
            report.tasks,
            report.out
        ),
        Some(why) => errln!(
            "error: {why}; {} is unchanged ({} samples in {} tasks were built and discarded)",
            report.out,
            report.samples,
            report.tasks
        ),
    }
    outln!("catalogue: {}", report.catalogue);
    outln!("profile: {} (leakage: {})", report.profile, report.leakage);
    let counts = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(a) = &report.accounting {
        outln!(
            "records: {} read{} = {} kept + {} removed + {} quarantined{} (per file: stats.json)",
            a.records_read,
            if a.added_by_steps > 0 {
                format!(" + {} added by steps", a.added_by_steps)
            } else {
                String::new()
            },
            a.kept,
            a.removed,
            a.quarantined,
            if a.merged_by_steps > 0 {
                format!(" + {} merged by steps", a.merged_by_steps)
            } else {
                String::new()
            },
        );
    }
    for w in &report.warnings {
        errln!("warning: {w}");
    }
    if !report.removed_by_reason.is_empty() {
        outln!(
            "removed (ledger.parquet): {}",
            counts(&report.removed_by_reason)
        );
    }
    if !report.flagged_by_reason.is_empty() {
        outln!(
            "flagged, kept (ledger.parquet): {}",
            counts(&report.flagged_by_reason)
        );
    }
    cmd_check::print_checks(&report.checks);
    let timing: Vec<String> = report
        .stage_seconds
        .iter()
        .map(|(s, t)| format!("{s} {t:.2}s"))
        .collect();
    log::info!("stage time (summed over tasks): {}", timing.join(", "));
    match report.exit_code() {
        3 => errln!(
            "partial build: {} corpus(es) missing (exit 3)",
            report.missing().count()
        ),
        1 if report.written => errln!("{} corpus(es) failed (exit 1)", report.failed().count()),
        _ => {}
    }
    if strict_fail {
        errln!(
            "error: {} unexpected failing check(s) (--strict; see checks.json); fix the data or declare them in the task's expected_checks with a reason",
            report.checks.unexpected
        );
    }
    Ok(code)
}

/// Which units and which tasks' shards came from the cache: counts, and the computed units
/// and written tasks by id (what changed).
fn print_cache(c: &medsins_pipeline::CacheReport) {
    outln!(
        "cache     {}: {} unit(s) reused, {} computed; shards of {} task(s) reused, {} written",
        c.dir,
        c.reused.len(),
        c.computed.len(),
        c.shards_reused.len(),
        c.shards_written.len()
    );
    for id in &c.computed {
        outln!("          computed {id}");
    }
    for id in &c.shards_written {
        outln!("          wrote    {id}");
    }
    log::info!("units reused from the cache: {}", c.reused.join(", "));
    log::info!(
        "tasks whose shards were reused from the cache: {}",
        c.shards_reused.join(", ")
    );
}

fn print_corpora(report: &BuildReport) {
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
                outln!(
                    "built     {:<28} {tasks} task(s), {samples} samples{q}{from}",
                    c.corpus_id
                );
                if !missing.is_empty() {
                    errln!(
                        "partial   {}: built from the files present; not found:",
                        c.corpus_id
                    );
                    for p in missing {
                        errln!("            {p}");
                    }
                    if !tasks_skipped.is_empty() {
                        errln!("          tasks skipped: {}", tasks_skipped.join(", "));
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
                errln!("missing   {}: raw files not found:", c.corpus_id);
                if alternatives.is_empty() {
                    for p in paths {
                        errln!("            {p}");
                    }
                }
                errln!("          access: {access}; get it from {homepage}");
                errln!("          {}", obtain.trim().replace('\n', "\n          "));
                if !alternatives.is_empty() {
                    errln!("          any one of these distributions is enough:");
                }
                for v in alternatives {
                    errln!("          - {} (variant `{}`):", v.name, v.variant);
                    for p in &v.paths {
                        errln!("              {p}");
                    }
                    errln!(
                        "            {}",
                        v.obtain.trim().replace('\n', "\n            ")
                    );
                }
                errln!("          tasks skipped: {}", tasks.join(", "));
            }
            CorpusStatus::Failed { message, tasks } => {
                errln!("FAILED    {}: {message}", c.corpus_id);
                errln!("          tasks skipped: {}", tasks.join(", "));
            }
            CorpusStatus::Excluded { reason } => {
                outln!("excluded  {:<28} {reason}", c.corpus_id)
            }
        }
    }
}

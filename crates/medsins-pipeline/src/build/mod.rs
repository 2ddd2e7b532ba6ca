//! The whole build, as a short sequence of named phases, each a function with typed inputs
//! and outputs (docs/architecture.md):
//!
//! 1. [`plan`]: select corpora and tasks, resolve and checksum their raw files, group the jobs
//!    into [`units`];
//! 2. [`run`]: run every unit on the worker pool (samples spill to scratch files) or load it
//!    from the [`cache`], then the error budgets;
//! 3. [`leakage`]: the cross-task passes (leakage, the decontamination summary);
//! 4. [`write`]: every task's shards, then the ledger;
//! 5. [`assemble`]: stats, checks, lock, card, id index, checksums — and the directory is
//!    committed (renamed into place) only after all of them.

mod assemble;
pub mod cache;
mod distributed;
mod leakage;
mod plan;
mod run;
mod schedule;
mod units;
mod write;

#[cfg(test)]
mod phase_tests;

pub use cache::CacheError;
pub use distributed::{PlannedUnit, UnitBuilt, UnitPlan, build_unit, plan_units};
pub use plan::{Job, Plan, PlannedCorpus, plan};
pub use units::{Unit, UnitKey, unit_keys};

use crate::report::{BuildReport, CacheReport};
use crate::{BuildError, BuildOptions};
use medsins_manifest::{Catalogue, ExpectedCheck, Task};
use medsins_output::{self as output, LockedFile};
use medsins_quality::{BenchIndex, Benchmark, HeldOut, LeakConfig};
use medsins_readers::InstructionBank;
use std::collections::BTreeMap;

/// The instruction set of a task: the bank's original and paraphrases when the bank is given
/// and has the task, else the manifest's definition alone.
pub fn instruction_set(task: &Task, bank: Option<&InstructionBank>) -> Vec<String> {
    match bank.and_then(|b| b.tasks.get(task.number.get_ref())) {
        Some(t) => std::iter::once(t.original.clone())
            .chain(t.paraphrases.iter().cloned())
            .collect(),
        None => vec![task.definition.clone()],
    }
}

/// What a build reads besides the raw files: the instruction bank, the benchmarks to
/// decontaminate against, the tokenizer.
pub struct Inputs {
    pub bank: Option<InstructionBank>,
    /// The bank as the lock records it.
    pub bank_file: Option<LockedFile>,
    pub benchmarks: Vec<Benchmark>,
    pub bench_index: Option<BenchIndex>,
    pub counter: Option<crate::tokens::Counter>,
}

impl Inputs {
    pub fn load(opts: &BuildOptions) -> Result<Inputs, BuildError> {
        let bank = opts
            .instructions
            .as_deref()
            .map(InstructionBank::load)
            .transpose()?;
        let bank_file = bank
            .as_ref()
            .zip(opts.instructions.as_ref())
            .map(|(b, p)| -> Result<LockedFile, BuildError> {
                let size = std::fs::metadata(p)
                    .map_err(|source| medsins_readers::ReadError::Io {
                        path: p.clone(),
                        source,
                    })?
                    .len();
                Ok(LockedFile {
                    corpus_id: String::new(),
                    file_id: "instruction-bank".into(),
                    path: p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    size,
                    sha256: b.sha256.clone(),
                    members: Vec::new(),
                })
            })
            .transpose()?;
        let benchmarks = medsins_quality::load_benchmarks(&opts.decontaminate)?;
        let bench_index = (!benchmarks.is_empty())
            .then(|| BenchIndex::new(&benchmarks, opts.decontaminate_ngram, opts.seed));
        let counter = opts
            .tokenizer
            .as_deref()
            .map(|p| load_counter(p, opts))
            .transpose()?;
        Ok(Inputs {
            bank,
            bank_file,
            benchmarks,
            bench_index,
            counter,
        })
    }
}

/// Where a build keeps and finds its units (`--cache DIR`, docs/scale-out.md).
#[derive(Debug, Clone)]
pub struct CacheOptions {
    pub dir: std::path::PathBuf,
    /// Assemble the output from the cache alone: units missing from it fail the build,
    /// listed (`--cached-only`).
    pub cached_only: bool,
}

/// Builds `catalogue` into `opts.out`. The output folder is replaced only when the build
/// succeeds (see [`BuildReport::refusal`]); otherwise the previous output stays byte for byte.
pub fn build(catalogue: &Catalogue, opts: &BuildOptions) -> Result<BuildReport, BuildError> {
    build_with_cache(catalogue, opts, None)
}

/// [`build`], reusing the units a cache holds and storing the ones it computes there. The
/// output is the same bytes with or without a cache.
pub fn build_with_cache(
    catalogue: &Catalogue,
    opts: &BuildOptions,
    cache: Option<&CacheOptions>,
) -> Result<BuildReport, BuildError> {
    plan::check_names(catalogue, &opts.selection.only)?;
    refuse_overlap(opts)?;
    let cache_dir = cache.map(|c| cache::Cache::open(&c.dir)).transpose()?;
    let out_dir = output::OutputDir::create(&opts.out)?;
    let inputs = Inputs::load(opts)?;
    let plan = plan::plan(catalogue, opts);
    let units = plan.units();
    let keys: Vec<UnitKey> = match &cache_dir {
        Some(_) => unit_keys(&plan, &units, &inputs, opts),
        None => Vec::new(),
    };
    let cached_only = cache.is_some_and(|c| c.cached_only);
    if let (Some(c), true) = (&cache_dir, cached_only) {
        require_cached(c, &units, &keys)?;
    }
    let dir = out_dir.path().to_path_buf();
    let scratch = tempfile::Builder::new()
        .prefix(".spill-")
        .tempdir_in(&dir)
        .map_err(|source| BuildError::Scratch {
            path: dir.clone(),
            source,
        })?;
    let leak_cfg = LeakConfig::default();
    let held_keys = HeldOut::new(leak_cfg.clone(), opts.seed);
    let cx = run::UnitContext {
        jobs: plan.jobs(),
        inputs: &inputs,
        held_keys: &held_keys,
        opts,
        scratch: scratch.path(),
    };
    let cache_use = cache_dir.as_ref().map(|c| run::CacheUse {
        cache: c,
        keys: &keys,
        compute: !cached_only,
    });
    let mut runs = run::run_units(&units, &cx, cache_use.as_ref(), &plan)?;
    let cross = leakage::cross_task_passes(&mut runs, &plan, &inputs, &leak_cfg, opts)?;
    let write_cache = cache_dir.as_ref().map(|c| WriteCache {
        cache: c,
        units: &units,
        keys: &keys,
    });
    let (built, written, write_seconds) =
        write_all(&dir, &plan, &mut runs, &inputs, opts, write_cache.as_ref())?;
    drop(scratch);

    let expected = expected_checks(&plan);
    let assembled = assemble::Built {
        plan: &plan,
        runs: &built,
        written: &written,
        failed: &runs.failed,
        cross,
        expected: &expected,
        run_seconds: runs.seconds,
        write_seconds,
    };
    let mut report = assemble::assemble(&dir, assembled, &inputs, opts)?;
    report.cache = cache_dir.map(|c| {
        let task_ids = |from_cache: bool| -> Vec<String> {
            built
                .iter()
                .zip(&written)
                .filter(|(_, w)| w.from_cache == from_cache)
                .map(|((_, r), _)| r.meta.task_id.clone())
                .collect()
        };
        CacheReport {
            dir: c.dir().display().to_string(),
            reused: std::mem::take(&mut runs.reused),
            computed: std::mem::take(&mut runs.computed),
            shards_reused: task_ids(true),
            shards_written: task_ids(false),
        }
    });
    report.not_written = report.refusal();
    if report.not_written.is_none() {
        out_dir.commit()?;
        report.written = true;
    }
    Ok(report)
}

/// The units of a `--cached-only` build missing from the cache, as an error listing them.
fn require_cached(c: &cache::Cache, units: &[Unit], keys: &[UnitKey]) -> Result<(), BuildError> {
    let missing: Vec<String> = units
        .iter()
        .zip(keys)
        .filter(|(_, k)| !c.contains(&k.key))
        .map(|(u, _)| u.id.clone())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CacheError::Incomplete {
        dir: c.dir().to_path_buf(),
        units: missing,
    }
    .into())
}

/// Written tasks: their runs by job number in task-number order, what writing each gave, and
/// the phase's wall-clock seconds.
type WrittenTasks = (Vec<(usize, crate::TaskRun)>, Vec<write::Written>, f64);

/// The cache the write phase keeps tasks' written output in, and the units' keys (each
/// task's write key starts from its unit's).
struct WriteCache<'a> {
    cache: &'a cache::Cache,
    units: &'a [Unit],
    keys: &'a [UnitKey],
}

impl WriteCache<'_> {
    /// Job number -> its unit's key and its position in the unit.
    fn positions(&self) -> BTreeMap<usize, (&str, usize)> {
        self.units
            .iter()
            .zip(self.keys)
            .flat_map(|(u, k)| {
                u.jobs
                    .iter()
                    .enumerate()
                    .map(move |(pos, j)| (*j, (k.key.as_str(), pos)))
            })
            .collect()
    }
}

/// Phase 4: every built task's shards, then the ledger.
fn write_all(
    dir: &std::path::Path,
    plan: &Plan,
    runs: &mut run::Runs,
    inputs: &Inputs,
    opts: &BuildOptions,
    cache: Option<&WriteCache>,
) -> Result<WrittenTasks, BuildError> {
    let write_start = std::time::Instant::now();
    let expected = expected_checks(plan);
    let jobs = plan.jobs();
    let mut built: Vec<(usize, crate::TaskRun)> =
        std::mem::take(&mut runs.built).into_iter().collect();
    built.sort_by_key(|(_, r)| r.meta.task_no);
    let no_checks = Vec::new();
    let positions = cache.map(WriteCache::positions).unwrap_or_default();
    let (to_write, ledgers) = built
        .iter_mut()
        .map(|(j, run)| {
            let (run, ledger) = run.kept_and_ledger();
            let t = write::ToWrite {
                expected: expected.get(&run.meta.task_id).unwrap_or(&no_checks),
                task: jobs[*j].task,
                cached: cache.zip(positions.get(j)).map(|(c, (unit_key, pos))| {
                    write::CachedWrite {
                        cache: c.cache,
                        key: write::write_key(unit_key, *pos, &run, opts),
                    }
                }),
                run,
            };
            (t, ledger)
        })
        .unzip();
    let written = write::write_tasks(dir, to_write, ledgers, inputs, opts)?;
    if inputs.counter.is_some() {
        for ((_, run), w) in built.iter_mut().zip(&written) {
            write::record_tokens_stage(run, w);
        }
    }
    Ok((built, written, write_start.elapsed().as_secs_f64()))
}

/// Refuses a raw root inside the output folder (a rebuild would replace the raw files) and an
/// output folder inside a corpus folder of the raw root.
fn refuse_overlap(opts: &BuildOptions) -> Result<(), BuildError> {
    let full = |p: &std::path::Path| {
        std::path::absolute(p)
            .map(|a| a.components().collect::<std::path::PathBuf>())
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let (raw, out) = (full(&opts.raw_root), full(&opts.out));
    if raw.starts_with(&out) {
        return Err(BuildError::Overlap(format!(
            "the raw root {} is inside the output folder {}: a build replaces its output folder; keep the raw files elsewhere",
            opts.raw_root.display(),
            opts.out.display()
        )));
    }
    if out.starts_with(&raw) && out != raw && out.parent() != Some(raw.as_path()) {
        return Err(BuildError::Overlap(format!(
            "the output folder {} is inside a corpus folder of the raw root {}; choose an --out outside it",
            opts.out.display(),
            opts.raw_root.display()
        )));
    }
    Ok(())
}

/// The tokenizer (`--tokenizer`), with the chat template its counts go through when given.
fn load_counter(
    path: &std::path::Path,
    opts: &BuildOptions,
) -> Result<crate::tokens::Counter, BuildError> {
    let counter = crate::tokens::Counter::load(path).map_err(BuildError::Tokens)?;
    Ok(match &opts.chat_template {
        Some(t) => counter.with_template(
            crate::tokens::ChatTemplate::load(t, opts.instruction_in)
                .map_err(BuildError::Tokens)?,
        ),
        None => counter,
    })
}

/// The semantic checks each task expects to fail, by task id.
fn expected_checks(plan: &Plan) -> BTreeMap<String, Vec<ExpectedCheck>> {
    plan.corpora
        .iter()
        .flat_map(|pc| {
            pc.tasks()
                .into_iter()
                .map(|t| (t.id.get_ref().clone(), t.expected_checks.clone()))
        })
        .collect()
}

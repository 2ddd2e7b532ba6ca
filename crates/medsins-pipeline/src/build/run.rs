//! Phase 2, run: every unit of the plan on the worker pool, largest first. A unit's tasks
//! spill their samples and ledger to the unit's folder, so memory holds per-sample state only:
//! a folder in the build's scratch folder, or with a cache (`--cache`, docs/scale-out.md) one
//! that becomes the cache's unit — and a unit whose key is in the cache is loaded from it
//! instead of computed. Then the error budgets: a corpus with too many quarantined records
//! fails as a whole.

use super::Inputs;
use super::cache::{Cache, CacheError, Kind, UnitRecord};
use super::plan::{Job, Plan};
use super::schedule::largest_first;
use super::units::{CACHE_FORMAT, Unit, UnitKey};
use crate::store::{FramedFile, Ledger, QuarantineCauses, Store};
use crate::task::{GroupTask, RunOptions, TaskRun, run_group, task_files, task_meta};
use crate::{BuildError, BuildOptions, TaskError, instruction_set};
use medsins_core::LeakagePolicy;
use medsins_quality::HeldOut;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The runs of the build's tasks, by job number, and the corpora that failed.
pub struct Runs {
    pub built: BTreeMap<usize, TaskRun>,
    /// Corpus position -> every error of its failed tasks, or why its budget failed it.
    pub failed: BTreeMap<usize, String>,
    /// Wall-clock seconds of the phase.
    pub seconds: f64,
    /// With a cache: the ids of the units loaded from it, and of those computed.
    pub reused: Vec<String>,
    pub computed: Vec<String>,
    /// Folders of units computed but not cached (a task failed): removed after the runs.
    unsaved: Vec<tempfile::TempDir>,
}

/// What every unit runs with.
pub struct UnitContext<'a> {
    pub jobs: Vec<Job<'a>>,
    pub inputs: &'a Inputs,
    /// The leakage configuration: the probes tasks compute, and how saved ones decode.
    pub held_keys: &'a HeldOut,
    pub opts: &'a BuildOptions,
    /// The build's scratch folder: what later phases add to the ledgers of loaded units goes
    /// there.
    pub scratch: &'a Path,
}

/// The cache a build's units come from, with every unit's key (in unit order).
pub struct CacheUse<'a> {
    pub cache: &'a Cache,
    pub keys: &'a [UnitKey],
    /// Whether units missing from the cache may be computed (not with `--cached-only`).
    pub compute: bool,
}

/// One unit's runs, by job number, and where they came from.
pub struct UnitRun {
    pub results: Vec<(usize, Result<TaskRun, TaskError>)>,
    pub from_cache: bool,
    unsaved: Option<tempfile::TempDir>,
}

/// Runs every unit of the plan (see the module docs).
pub fn run_units(
    units: &[Unit],
    cx: &UnitContext,
    cache: Option<&CacheUse>,
    plan: &Plan,
) -> Result<Runs, BuildError> {
    let start = std::time::Instant::now();
    let total = cx.jobs.len() as u64;
    let done = AtomicU64::new(0);
    cx.opts.report("tasks", 0, total);
    let outcomes = largest_first(
        (0..units.len()).collect(),
        |i| units[*i].cost(),
        |i| {
            let u = &units[i];
            let out = match cache {
                Some(c) => cached_unit(cx, u, &c.keys[i], c),
                None => in_scratch(cx, u, &cx.scratch.join(format!("unit-{i}"))),
            };
            let n = done.fetch_add(u.jobs.len() as u64, Ordering::Relaxed);
            cx.opts.report("tasks", n + u.jobs.len() as u64, total);
            out
        },
    );
    let mut runs = Runs {
        built: BTreeMap::new(),
        failed: BTreeMap::new(),
        seconds: 0.0,
        reused: Vec::new(),
        computed: Vec::new(),
        unsaved: Vec::new(),
    };
    // by job number, so a failed corpus lists its tasks' errors in task order
    let mut results: BTreeMap<usize, Result<TaskRun, TaskError>> = BTreeMap::new();
    for (u, out) in units.iter().zip(outcomes) {
        let Some(out) = out else {
            results.extend(u.jobs.iter().map(|j| (*j, Err(TaskError::NotRun))));
            continue;
        };
        let out = out?;
        if cache.is_some() {
            let list = if out.from_cache {
                &mut runs.reused
            } else {
                &mut runs.computed
            };
            list.push(u.id.clone());
        }
        results.extend(out.results);
        runs.unsaved.extend(out.unsaved);
    }
    for (j, r) in results {
        match r {
            Ok(run) => {
                runs.built.insert(j, run);
            }
            Err(e) => {
                let e = e.to_string();
                runs.failed
                    .entry(cx.jobs[j].corpus)
                    .and_modify(|m| m.push_str(&format!("\n{e}")))
                    .or_insert(e);
            }
        }
    }
    apply_error_budgets(plan, &cx.jobs, &mut runs);
    runs.seconds = start.elapsed().as_secs_f64();
    Ok(runs)
}

/// A unit computed in a folder of the build's scratch folder (no cache).
fn in_scratch(cx: &UnitContext, u: &Unit, dir: &Path) -> Result<UnitRun, BuildError> {
    std::fs::create_dir(dir).map_err(|source| BuildError::Scratch {
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(UnitRun {
        results: compute(cx, u, dir),
        from_cache: false,
        unsaved: None,
    })
}

/// A unit from the cache: loaded when its key is there (a damaged copy is removed), else
/// computed into the cache and loaded from it.
fn cached_unit(
    cx: &UnitContext,
    u: &Unit,
    key: &UnitKey,
    c: &CacheUse,
) -> Result<UnitRun, BuildError> {
    if let Some((dir, record)) = c.cache.find::<UnitRecord>(&key.key, &u.id)? {
        match load(cx, u, &dir, &record) {
            Ok(runs) => return Ok(loaded(runs, true)),
            Err(e) => c
                .cache
                .evict_damaged(Kind::Unit, &key.key, &u.id, &e.to_string())?,
        }
    }
    if !c.compute {
        return Err(CacheError::Incomplete {
            dir: c.cache.dir().to_path_buf(),
            units: vec![u.id.clone()],
        }
        .into());
    }
    let tmp = c.cache.begin(Kind::Unit)?;
    let results = compute(cx, u, tmp.path());
    if results.iter().any(|(_, r)| r.is_err()) {
        return Ok(UnitRun {
            results,
            from_cache: false,
            unsaved: Some(tmp),
        });
    }
    let (dir, record) = save(cx, u, key, c.cache, tmp, results)?;
    Ok(loaded(load(cx, u, &dir, &record)?, false))
}

fn loaded(runs: Vec<(usize, TaskRun)>, from_cache: bool) -> UnitRun {
    UnitRun {
        results: runs.into_iter().map(|(j, r)| (j, Ok(r))).collect(),
        from_cache,
        unsaved: None,
    }
}

/// Runs the tasks of a unit, each with its files in `dir` (`task::task_files`); results by
/// job number.
pub(super) fn compute(
    cx: &UnitContext,
    u: &Unit,
    dir: &Path,
) -> Vec<(usize, Result<TaskRun, TaskError>)> {
    let first = &cx.jobs[u.jobs[0]];
    let instructions: Vec<Vec<String>> = u
        .jobs
        .iter()
        .map(|j| instruction_set(cx.jobs[*j].task, cx.inputs.bank.as_ref()))
        .collect();
    let mut members = Vec::new();
    let mut out = Vec::new();
    for (k, (j, instr)) in u.jobs.iter().zip(&instructions).enumerate() {
        let base = task_files(dir, k);
        let run_opts = RunOptions {
            seed: cx.opts.seed,
            instructions: instr,
            limit: None,
            benchmarks: cx.inputs.bench_index.as_ref(),
            held_out: (cx.opts.leakage != LeakagePolicy::Off).then_some((*j, cx.held_keys)),
            scratch: Some(base.clone()),
            near_dedup: cx.opts.near_dedup,
        };
        let files = FramedFile::create(base.with_extension("samples"))
            .and_then(|f| Ok((f, Ledger::spill(base.with_extension("ledger"))?)));
        match files {
            Ok((f, ledger)) => members.push((
                *j,
                GroupTask::new(cx.jobs[*j].task, run_opts, Store::Spill(f), ledger),
            )),
            Err(e) => out.push((*j, Err(e.into()))),
        }
    }
    let (ids, tasks): (Vec<usize>, Vec<GroupTask>) = members.into_iter().unzip();
    let mut all: Vec<(usize, Result<TaskRun, TaskError>)> = ids
        .into_iter()
        .zip(run_group(first.manifest, first.files, tasks))
        .collect();
    all.extend(out);
    all
}

/// Saves a unit computed in `tmp` (every task ran) and commits it to the cache; returns its
/// folder and record.
pub(super) fn save(
    cx: &UnitContext,
    u: &Unit,
    key: &UnitKey,
    cache: &Cache,
    tmp: tempfile::TempDir,
    results: Vec<(usize, Result<TaskRun, TaskError>)>,
) -> Result<(PathBuf, UnitRecord), BuildError> {
    let mut tasks = Vec::with_capacity(results.len());
    for (k, (j, r)) in results.into_iter().enumerate() {
        let mut run = r.map_err(|source| BuildError::Task {
            task_id: cx.jobs[j].task.id.get_ref().clone(),
            source,
        })?;
        tasks.push(run.save(&task_files(tmp.path(), k), cx.held_keys)?);
    }
    let record = UnitRecord {
        format: CACHE_FORMAT,
        unit: u.id.clone(),
        key: key.key.clone(),
        material: key.material.clone(),
        tasks,
        files: BTreeMap::new(),
    };
    let dir = cache.commit(tmp, record.clone())?;
    Ok((dir, record))
}

/// The runs of a cached unit, read in place; their later ledger entries go to the build's
/// scratch folder.
fn load(
    cx: &UnitContext,
    u: &Unit,
    dir: &Path,
    record: &UnitRecord,
) -> Result<Vec<(usize, TaskRun)>, CacheError> {
    let start = std::time::Instant::now();
    let damaged = |what: String| CacheError::Corrupt {
        path: dir.to_path_buf(),
        what,
    };
    if record.tasks.len() != u.jobs.len() {
        return Err(damaged(format!(
            "{} tasks saved, the unit has {}",
            record.tasks.len(),
            u.jobs.len()
        )));
    }
    let mut runs = Vec::with_capacity(u.jobs.len());
    for (k, (j, saved)) in u.jobs.iter().zip(&record.tasks).enumerate() {
        let job = &cx.jobs[*j];
        if saved.task_id != *job.task.id.get_ref() {
            return Err(damaged(format!(
                "task {k} is {}, expected {}",
                saved.task_id,
                job.task.id.get_ref()
            )));
        }
        let meta = task_meta(job.manifest, job.task);
        let scratch = cx.scratch.join(j.to_string());
        let run = TaskRun::load(&task_files(dir, k), saved, meta, *j, cx.held_keys, &scratch)
            .map_err(|e| damaged(e.to_string()))?;
        runs.push((*j, run));
    }
    let secs = start.elapsed().as_secs_f64() / runs.len().max(1) as f64;
    for (_, r) in &mut runs {
        r.seconds.push(("cache".to_string(), secs));
    }
    Ok(runs)
}

/// Error budget per corpus: quarantined records over records read. A corpus above its budget
/// fails as a whole, and its runs are dropped.
fn apply_error_budgets(plan: &Plan, jobs: &[Job], runs: &mut Runs) {
    for (ci, pc) in plan.corpora.iter().enumerate() {
        let of_corpus = || {
            runs.built
                .iter()
                .filter(|(j, _)| jobs[**j].corpus == ci)
                .map(|x| x.1)
        };
        let read: u64 = of_corpus().map(|t| t.records_read).sum();
        let bad: u64 = of_corpus().map(|t| t.quarantined()).sum();
        let budget = pc.manifest().manifest.corpus.error_budget.unwrap_or(0.01);
        if read > 0 && bad as f64 > budget * read as f64 && !runs.failed.contains_key(&ci) {
            let id = pc.manifest().manifest.id();
            let mut causes = QuarantineCauses::default();
            of_corpus().for_each(|t| causes.merge(&t.ledger.causes));
            runs.failed.insert(
                ci,
                format!(
                    "{bad} of {read} records were quarantined, above the error budget of {:.1}%: {}. Nothing of `{id}` is written; `medsins preview {id}` shows records with their errors",
                    budget * 100.0,
                    causes.describe(),
                ),
            );
        }
    }
    runs.built
        .retain(|j, _| !runs.failed.contains_key(&jobs[*j].corpus));
}

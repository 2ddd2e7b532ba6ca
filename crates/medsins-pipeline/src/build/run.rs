//! Phase 2, run: every group of tasks on the worker pool, largest first; each task's samples
//! and ledger spill to the build's scratch folder, so memory holds per-sample state only. Then
//! the error budgets: a corpus with too many quarantined records fails as a whole.

use super::Inputs;
use super::plan::{Job, Plan};
use super::schedule::largest_first;
use crate::store::{FramedFile, Ledger, QuarantineCauses, Store};
use crate::task::{GroupTask, RunOptions, TaskRun, run_group};
use crate::{BuildOptions, TaskError, instruction_set};
use medsins_quality::HeldOut;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The runs of the build's tasks, by job number, and the corpora that failed.
pub struct Runs {
    pub built: BTreeMap<usize, TaskRun>,
    /// Corpus position -> every error of its failed tasks, or why its budget failed it.
    pub failed: BTreeMap<usize, String>,
    /// Wall-clock seconds of the phase.
    pub seconds: f64,
}

/// Runs every job of the plan (see the module docs).
pub fn run_groups(
    plan: &Plan,
    inputs: &Inputs,
    scratch: &Path,
    held_keys: &HeldOut,
    opts: &BuildOptions,
) -> Runs {
    let start = std::time::Instant::now();
    let jobs = plan.jobs();
    let group_size = |g: &Vec<usize>| {
        let j = &jobs[g[0]];
        let bytes: u64 = j
            .manifest
            .manifest
            .task_files(j.task)
            .iter()
            .filter_map(|f| j.files.file(f.id.get_ref()))
            .map(|f| f.size)
            .sum();
        bytes * (1 + g.len() as u64)
    };
    let total = jobs.len() as u64;
    let done = AtomicU64::new(0);
    opts.report("tasks", 0, total);
    let grouped = largest_first(plan.groups(), group_size, |g| {
        let out = run_one_group(&jobs, &g, inputs, scratch, held_keys, opts);
        let n = done.fetch_add(out.len() as u64, Ordering::Relaxed);
        opts.report("tasks", n + out.len() as u64, total);
        out
    });
    let mut runs = Runs {
        built: BTreeMap::new(),
        failed: BTreeMap::new(),
        seconds: 0.0,
    };
    // by job number, so a failed corpus lists its tasks' errors in task order
    let results: BTreeMap<usize, Result<TaskRun, TaskError>> = grouped
        .into_iter()
        .zip(plan.groups())
        .flat_map(|(out, g)| match out {
            Some(out) => out,
            None => g.into_iter().map(|j| (j, Err(TaskError::NotRun))).collect(),
        })
        .collect();
    for (j, r) in results {
        match r {
            Ok(run) => {
                runs.built.insert(j, run);
            }
            Err(e) => {
                let e = e.to_string();
                runs.failed
                    .entry(jobs[j].corpus)
                    .and_modify(|m| m.push_str(&format!("\n{e}")))
                    .or_insert(e);
            }
        }
    }
    apply_error_budgets(plan, &jobs, &mut runs);
    runs.seconds = start.elapsed().as_secs_f64();
    runs
}

/// Runs the tasks of one group, each with its own spill files; results by job number.
fn run_one_group(
    jobs: &[Job],
    group: &[usize],
    inputs: &Inputs,
    scratch: &Path,
    held_keys: &HeldOut,
    opts: &BuildOptions,
) -> Vec<(usize, Result<TaskRun, TaskError>)> {
    let first = &jobs[group[0]];
    let instructions: Vec<Vec<String>> = group
        .iter()
        .map(|j| instruction_set(jobs[*j].task, inputs.bank.as_ref()))
        .collect();
    let mut members = Vec::new();
    let mut out = Vec::new();
    for (j, instr) in group.iter().zip(&instructions) {
        let run_opts = RunOptions {
            seed: opts.seed,
            instructions: instr,
            limit: None,
            benchmarks: inputs.bench_index.as_ref(),
            held_out: Some((*j, held_keys)),
            scratch: Some(scratch.join(format!("{j}"))),
            near_dedup: opts.near_dedup,
        };
        let files = FramedFile::create(scratch.join(format!("{j}.samples")))
            .and_then(|f| Ok((f, Ledger::spill(scratch.join(format!("{j}.ledger")))?)));
        match files {
            Ok((f, ledger)) => members.push((
                *j,
                GroupTask::new(jobs[*j].task, run_opts, Store::Spill(f), ledger),
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

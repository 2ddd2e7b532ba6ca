//! Phase 3, cross-task passes (docs/data-quality.md): leakage — every held-out input of every
//! task is indexed, then every task's training samples are checked against the index, and the
//! leaks are removed through the task-pass contract — and the decontamination summary.

use super::Inputs;
use super::plan::Plan;
use super::run::Runs;
use super::schedule::largest_first;
use crate::removals::leak_entry;
use crate::stages::TaskContext;
use crate::store::StoreError;
use crate::task::{Finding, TaskRun};
use crate::{BuildError, BuildOptions, TaskError};
use medsins_core::{LeakagePolicy, Split, TaskMeta};
use medsins_quality::leakage::{HeldSample, InputProbe};
use medsins_quality::minhash::text_shingles;
use medsins_quality::{HeldOut, LeakConfig};
use std::collections::BTreeMap;

/// What the cross-task passes report for `stats.json`.
pub struct CrossTask {
    pub leakage: serde_json::Value,
    pub decontamination: Option<serde_json::Value>,
    /// Wall-clock seconds of the phase.
    pub seconds: f64,
}

/// The leaks found in one task's training samples: `(position in kept, exact?, finding)`.
struct TaskLeaks {
    job: usize,
    found: Vec<(bool, Finding)>,
    train: u64,
}

pub fn cross_task_passes(
    runs: &mut Runs,
    plan: &Plan,
    inputs: &Inputs,
    cfg: &LeakConfig,
    opts: &BuildOptions,
) -> Result<CrossTask, BuildError> {
    opts.report("leakage", 0, 1);
    let start = std::time::Instant::now();
    let decontamination = decontamination_summary(runs, inputs);
    if opts.leakage == LeakagePolicy::Off {
        return Ok(CrossTask {
            leakage: serde_json::json!({ "policy": opts.leakage.as_str() }),
            decontamination,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    let remove = opts.leakage == LeakagePolicy::Remove;
    let mut held = HeldOut::new(cfg.clone(), opts.seed);
    for run in runs.built.values_mut() {
        held.add(std::mem::take(&mut run.held));
    }
    held.seal();
    let jobs = plan.jobs();
    let keys: Vec<usize> = runs.built.keys().copied().collect();
    let found = largest_first(
        keys,
        |j| runs.built[j].kept.len() as u64,
        |j| {
            let split = jobs[j].task.split.get_ref();
            task_leaks(&runs.built, j, split, &held, opts.seed, remove).map_err(|source| {
                BuildError::Task {
                    task_id: runs.built[&j].meta.task_id.clone(),
                    source,
                }
            })
        },
    );
    let mut per_task: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut train_checked = 0u64;
    for r in found {
        let leaks = r.ok_or(BuildError::Task {
            task_id: String::new(),
            source: TaskError::NotRun,
        })??;
        train_checked += leaks.train;
        let run = runs
            .built
            .get_mut(&leaks.job)
            .ok_or(StoreError::NoRecord(leaks.job as u64))?;
        let c = per_task.entry(run.meta.task_id.clone()).or_default();
        for (exact, _) in &leaks.found {
            if *exact {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
        }
        run.apply(
            "leakage",
            leaks.found.into_iter().map(|x| x.1).collect(),
            0.0,
        )?;
    }
    let leakage = medsins_quality::leakage_summary(
        held.len() as u64,
        train_checked,
        &per_task,
        cfg,
        opts.leakage.as_str(),
    );
    Ok(CrossTask {
        leakage,
        decontamination,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The `stats.json` summary of `--decontaminate`, when it was asked for.
fn decontamination_summary(runs: &Runs, inputs: &Inputs) -> Option<serde_json::Value> {
    inputs.bench_index.as_ref().map(|index| {
        let tasks: Vec<(&str, &medsins_quality::ContaminationCounts)> = runs
            .built
            .values()
            .map(|r| (r.meta.task_id.as_str(), &r.contamination))
            .collect();
        medsins_quality::decontamination_summary(index, &inputs.benchmarks, &tasks)
    })
}

/// The training samples of task `job` that leak a held-out sample of any task (to remove, or
/// to flag). The probes of the training samples stream from the task's probe file; a training
/// sample's text is read only for candidates the screening leaves.
fn task_leaks(
    runs: &BTreeMap<usize, TaskRun>,
    job: usize,
    split: &medsins_manifest::SplitPolicy,
    held: &HeldOut,
    seed: u64,
    remove: bool,
) -> Result<TaskLeaks, TaskError> {
    let run = &runs[&job];
    let train: Vec<usize> = (0..run.kept.len())
        .filter(|i| run.kept[*i].split == Split::Train)
        .collect();
    let mut leaks = TaskLeaks {
        job,
        found: Vec::new(),
        train: train.len() as u64,
    };
    let (false, Some(probes)) = (held.is_empty(), run.probes.as_ref()) else {
        return Ok(leaks);
    };
    let cx = TaskContext {
        meta: &run.meta,
        split,
        seed,
        instructions: &[],
    };
    let held_meta = |h: &HeldSample| -> Result<&TaskMeta, TaskError> {
        runs.get(&h.task)
            .map(|r| &r.meta)
            .ok_or(TaskError::Store(StoreError::NoRecord(h.task as u64)))
    };
    let load = |h: &HeldSample| -> Result<Vec<u64>, TaskError> {
        let run = runs
            .get(&h.task)
            .ok_or(TaskError::Store(StoreError::NoRecord(h.task as u64)))?;
        Ok(run.held_sets.get(h.set)?)
    };
    let ordinals: Vec<u64> = train.iter().map(|i| run.kept[*i].ordinal as u64).collect();
    let shingle = held.cfg.shingle;
    let mut at = 0usize;
    probes.for_each(&ordinals, &mut |batch| {
        let decoded: Vec<InputProbe> = batch
            .iter()
            .map(|b| held.decode(b).ok_or(TaskError::CorruptProbe))
            .collect::<Result<_, _>>()?;
        let base = at;
        let sample = |j: usize| run.store.get(run.kept[train[base + j]].handle);
        let train_set = |j: usize| -> Result<Vec<u64>, TaskError> {
            Ok(text_shingles(&sample(j)?.input, shingle, seed))
        };
        for l in held.check(&decoded, &load, &train_set)? {
            let h = held.get(l.held);
            let mut s = sample(l.index)?;
            s.split = Some(Split::Train);
            let entry = leak_entry(&cx, &s, &l, h, &held_meta(h)?.task_id, &held.cfg, remove);
            let finding = Finding {
                index: train[base + l.index],
                entry,
                remove,
            };
            leaks.found.push((l.exact, finding));
        }
        at += decoded.len();
        Ok::<(), TaskError>(())
    })?;
    Ok(leaks)
}

//! One task: read its files in batches, run the steps, render, run the per-batch stages and
//! push the samples to the task's store; then the passes that need the whole task.
//!
//! ```text
//! file ─► reader ─► batch of records ─► steps ─► render ─► normalise ─► exact dedup ─► split
//!                                                                  └─► store (+ near-dup keys)
//! end of task: near dedup (keys → candidates → exact Jaccard over the store's texts)
//!              ─► instruction ─► decontaminate, held-out keys (one pass over the store)
//! ```
//!
//! Only one batch of records and samples is in memory at a time; what stays for the whole task
//! is per-sample state: the handle and split of every kept sample (16 bytes), the ids seen by
//! exact dedup (16 bytes) and the near-duplicate band keys (64 bytes by default).
//!
//! - [`group`]: tasks that read the same files run together, each file read once;
//! - [`runner`]: one task's per-batch machinery (render, stages, store);
//! - [`passes`]: the whole-task passes, under one contract ([`TaskRun::pass`]);
//! - [`saved`]: a finished run saved to a folder and loaded back (the build cache).

mod group;
mod passes;
mod runner;
mod saved;

pub use group::{GroupTask, run_group, share_groups};
pub use passes::Finding;
pub use saved::{SavedTask, task_files};

use crate::TaskError;
use crate::stages::TaskContext;
use crate::store::{Ledger, RecordFile, SetStore, Store};
use medsins_core::{LedgerEntry, LedgerReason, Sample, Split, TaskMeta};
use medsins_manifest::{LoadedManifest, Task};
use medsins_quality::leakage::{HeldKeys, HeldOut};
use medsins_quality::{BenchIndex, ContaminationCounts};
use medsins_render::LookupFiles;

/// Records read before a batch goes through the steps and stages.
pub const BATCH_RECORDS: usize = 1024;

/// Everything one task produced, in memory (previews, audits, `validate`, tests).
#[derive(Debug, Clone)]
pub struct TaskBuild {
    pub meta: TaskMeta,
    pub samples: Vec<Sample>,
    pub ledger: Vec<LedgerEntry>,
    pub records_read: u64,
    /// Records that could not be read or rendered.
    pub quarantined: u64,
    /// `[stage, in, out]` for read, render and every later stage.
    pub stages: Vec<(String, u64, u64)>,
    /// Seconds per stage (reported, never written to the output).
    pub seconds: Vec<(String, f64)>,
    /// Where every record of each file went (docs/data-quality.md, "Record accounting").
    pub files: Vec<medsins_output::FileAccount>,
}

/// A kept sample: where it is in the task's store, its file and its split.
#[derive(Debug, Clone, Copy)]
pub struct Kept {
    pub handle: u64,
    /// Its position among the task's stored samples (its record in the probe file).
    pub ordinal: u32,
    /// The position of its raw file among the task's files (the `file_no` of [`FileTally`]).
    pub file: u16,
    pub split: Split,
}

/// What one raw file of a task gave the steps: records read, and those the steps added
/// (`explode`) or merged (`group`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileTally {
    /// The file's position among the task's files.
    pub file_no: u32,
    pub file_id: String,
    /// The file as rows and ledger entries name it (`source_file`).
    pub file: String,
    pub read: u64,
    pub added: u64,
    pub merged: u64,
}

/// What the per-task stages leave for the cross-task passes and the output.
pub struct TaskRun {
    pub meta: TaskMeta,
    pub store: Store,
    /// The kept samples, in task order.
    pub kept: Vec<Kept>,
    pub ledger: Ledger,
    pub records_read: u64,
    pub stages: Vec<(String, u64, u64)>,
    pub seconds: Vec<(String, f64)>,
    /// The leakage keys of the held-out samples (when asked for), and their input shingle sets.
    pub held: Vec<HeldKeys>,
    pub held_sets: SetStore,
    /// Every stored sample's leakage probe, by ordinal (when the build checks leakage).
    pub probes: Option<RecordFile>,
    /// Samples removed by decontamination, by (benchmark, field).
    pub contamination: ContaminationCounts,
    /// What each raw file gave the steps, in the task's file order.
    pub files: Vec<FileTally>,
}

impl TaskRun {
    /// Records that could not be read or rendered.
    pub fn quarantined(&self) -> u64 {
        self.ledger.count(LedgerReason::Quarantined)
    }

    /// Records a stage's counts and seconds (for `stats.json`).
    pub fn stage(&mut self, name: &str, before: u64, after: u64, secs: f64) {
        self.stages.push((name.to_string(), before, after));
        self.seconds.push((name.to_string(), secs));
    }

    /// The kept samples (with their splits), in task order, batch by batch.
    pub fn for_each_kept<E: From<crate::store::StoreError>>(
        &self,
        f: &mut dyn FnMut(Vec<Sample>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.kept_samples().for_each(f)
    }

    /// What reading the kept samples needs, borrowed from the run.
    pub fn kept_samples(&self) -> KeptSamples<'_> {
        KeptSamples {
            meta: &self.meta,
            store: &self.store,
            kept: &self.kept,
        }
    }

    /// The kept samples and the ledger, borrowed apart: the write phase writes a task's shards
    /// and its ledger at the same time.
    pub fn kept_and_ledger(&mut self) -> (KeptSamples<'_>, &mut Ledger) {
        let kept = KeptSamples {
            meta: &self.meta,
            store: &self.store,
            kept: &self.kept,
        };
        (kept, &mut self.ledger)
    }
}

/// A run's kept samples where they are stored, and its metadata.
#[derive(Clone, Copy)]
pub struct KeptSamples<'a> {
    pub meta: &'a TaskMeta,
    store: &'a Store,
    pub kept: &'a [Kept],
}

impl KeptSamples<'_> {
    /// The kept samples (with their splits), in task order, batch by batch.
    pub fn for_each<E: From<crate::store::StoreError>>(
        &self,
        f: &mut dyn FnMut(Vec<Sample>) -> Result<(), E>,
    ) -> Result<(), E> {
        let handles: Vec<u64> = self.kept.iter().map(|k| k.handle).collect();
        let mut at = 0usize;
        self.store
            .for_each(&handles, &mut |mut batch: Vec<Sample>| {
                for (s, k) in batch.iter_mut().zip(&self.kept[at..]) {
                    s.split = Some(k.split);
                }
                at += batch.len();
                f(batch)
            })
    }
}

/// What a task run needs besides the task.
#[derive(Clone)]
pub struct RunOptions<'a> {
    pub seed: u64,
    pub instructions: &'a [String],
    /// Records read per file at most (previews).
    pub limit: Option<usize>,
    /// Decontaminate against these benchmarks.
    pub benchmarks: Option<&'a BenchIndex>,
    /// Compute the held-out samples' leakage keys, as task number `.0` of the build.
    pub held_out: Option<(usize, &'a HeldOut)>,
    /// Where the task's scratch files go (shingle sets); `None` keeps them in memory.
    pub scratch: Option<std::path::PathBuf>,
    /// The near-duplicate policy instead of the manifest's (`--near-dedup`).
    pub near_dedup: Option<medsins_manifest::NearDedupPolicy>,
}

impl RunOptions<'_> {
    /// A shingle-set store for the task: a scratch file, or memory.
    fn sets(&self, name: &str) -> Result<SetStore, crate::store::StoreError> {
        match &self.scratch {
            Some(p) => SetStore::file(p.with_extension(name)),
            None => Ok(SetStore::memory()),
        }
    }

    /// Options for an in-memory run (previews, audits, validation).
    pub fn in_memory(seed: u64, instructions: &[String], limit: Option<usize>) -> RunOptions<'_> {
        RunOptions {
            seed,
            instructions,
            limit,
            benchmarks: None,
            held_out: None,
            scratch: None,
            near_dedup: None,
        }
    }
}

pub fn task_meta(lm: &LoadedManifest, task: &Task) -> TaskMeta {
    let m = &lm.manifest;
    TaskMeta {
        task_id: task.id.get_ref().clone(),
        task_no: *task.number.get_ref(),
        corpus_id: m.id().to_string(),
        category: task.category.get_ref().clone(),
        text_source: task.text_source.get_ref().clone(),
        domains: task.domains.clone(),
        languages: task.languages(),
        license: m.corpus.license.clone(),
        access: m.corpus.access.get_ref().clone(),
        source_variant: lm.variant_id().to_string(),
        manifest_sha256: lm.sha256.clone(),
    }
}

/// Loads the files the task's join and lookup steps refer to (held in memory: they are the
/// reference tables a join looks records up in).
pub fn load_lookups(
    lm: &LoadedManifest,
    task: &Task,
    rc: &crate::corpus::ResolvedCorpus,
) -> Result<LookupFiles, TaskError> {
    let mut lookups = LookupFiles::default();
    for id in lm.manifest.lookup_file_ids(task) {
        let (Some(spec), Some(file)) = (lm.manifest.file(id), rc.file(id)) else {
            return Err(TaskError::LookupMissing(id.to_string()));
        };
        let mut recs = Vec::new();
        file.read(spec, &rc.limits, &mut |r| {
            if let Ok(r) = r {
                recs.push(r)
            }
        })?;
        lookups.files.insert(id.to_string(), recs);
    }
    Ok(lookups)
}

impl crate::corpus::ResolvedCorpus {
    /// Builds one task in memory as this distribution gives it (previews, audits, `validate`,
    /// tests); see [`render_task`]. (Here, not in `corpus`, which knows nothing of tasks.)
    pub fn render_task(
        &self,
        task_id: &str,
        seed: u64,
        instructions: &[String],
        limit: Option<usize>,
    ) -> Result<TaskBuild, TaskError> {
        let task = self.task(task_id).ok_or_else(|| TaskError::UnknownTask {
            manifest: self.manifest.display_path(),
            task: task_id.to_string(),
        })?;
        render_task(&self.manifest, task, self, seed, instructions, limit)
    }
}

/// Reads, renders and runs every per-task stage of one task, in memory. `limit` caps the
/// records read per file (previews). An `Err` is a problem with the task as a whole (an
/// unreadable file, a template that does not compile), not with a record.
pub fn render_task(
    lm: &LoadedManifest,
    task: &Task,
    rc: &crate::corpus::ResolvedCorpus,
    seed: u64,
    instructions: &[String],
    limit: Option<usize>,
) -> Result<TaskBuild, TaskError> {
    let opts = RunOptions::in_memory(seed, instructions, limit);
    let run = run_task(
        lm,
        task,
        rc,
        &opts,
        Store::Memory(Vec::new()),
        Ledger::memory(),
    )?;
    let cx = TaskContext {
        meta: &run.meta,
        split: task.split.get_ref(),
        seed,
        instructions,
    };
    let mut samples = Vec::with_capacity(run.kept.len());
    run.for_each_kept(&mut |batch| {
        samples.extend(batch);
        Ok::<(), TaskError>(())
    })?;
    for s in &mut samples {
        let (i, text) = cx.instruction(s.id);
        s.instruction_id = i;
        s.instruction = text.to_string();
    }
    let quarantined = run.quarantined();
    let files = run.accounting(&task.expected_yield);
    Ok(TaskBuild {
        meta: run.meta,
        samples,
        ledger: run.ledger.into_entries()?,
        records_read: run.records_read,
        quarantined,
        stages: run.stages,
        seconds: run.seconds,
        files,
    })
}

/// Runs one task's per-task stages into `store` and `ledger` (see the module docs).
pub fn run_task(
    lm: &LoadedManifest,
    task: &Task,
    rc: &crate::corpus::ResolvedCorpus,
    opts: &RunOptions,
    store: Store,
    ledger: Ledger,
) -> Result<TaskRun, TaskError> {
    let one = GroupTask::new(task, opts.clone(), store, ledger);
    run_group(lm, rc, vec![one])
        .pop()
        .unwrap_or(Err(TaskError::NotRun))
}

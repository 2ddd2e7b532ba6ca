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

use crate::corpus::ResolvedCorpus;
use crate::quality::leakage::{HeldKeys, HeldOut, HeldSample, is_held_out};
use crate::quality::minhash::{NearIndex, near_entry, scan_into, shingles_into, text_shingles};
use crate::quality::sets::SetStore;
use crate::quality::{BenchIndex, ContaminationCounts, decontamination_entry};
use crate::spill::{Ledger, RecordFile, Store};
use crate::stages::{TaskContext, batch_stages};
use medsins_core::{LedgerEntry, Sample, Split, TaskMeta};
use medsins_manifest::{LoadedManifest, SplitPolicy, Task};
use medsins_readers::{Record, read_file};
use medsins_render::{LookupFiles, PandasPlan, Pass, Rendered, StepOutput, TaskRenderer};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

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
}

/// A kept sample: where it is in the task's store, and its split.
#[derive(Debug, Clone, Copy)]
pub struct Kept {
    pub handle: u64,
    /// Its position among the task's stored samples (its record in the probe file).
    pub ordinal: u32,
    pub split: Split,
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
}

impl TaskRun {
    /// Records that could not be read or rendered.
    pub fn quarantined(&self) -> u64 {
        self.ledger.count("quarantined")
    }

    pub fn stage(&mut self, name: &str, before: u64, after: u64, secs: f64) {
        self.stages.push((name.to_string(), before, after));
        self.seconds.push((name.to_string(), secs));
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
}

impl RunOptions<'_> {
    /// A shingle-set store for the task: a scratch file, or memory.
    fn sets(&self, name: &str) -> Result<SetStore, String> {
        match &self.scratch {
            Some(p) => SetStore::file(p.with_extension(name)),
            None => Ok(SetStore::memory()),
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
        manifest_sha256: lm.sha256.clone(),
    }
}

/// Loads the files the task's join and lookup steps refer to (held in memory: they are the
/// reference tables a join looks records up in).
pub fn load_lookups(
    lm: &LoadedManifest,
    task: &Task,
    rc: &ResolvedCorpus,
) -> Result<LookupFiles, String> {
    let mut lookups = LookupFiles::default();
    for id in lm.manifest.lookup_file_ids(task) {
        let (Some(spec), Some(file)) = (lm.manifest.file(id), rc.file(id)) else {
            return Err(format!("lookup file `{id}` is not available"));
        };
        let mut recs = Vec::new();
        read_file(
            &file.abs,
            spec.format.get_ref(),
            &spec.options,
            &rc.dir,
            &rc.limits,
            &mut |r| {
                if let Ok(r) = r {
                    recs.push(r)
                }
            },
        )
        .map_err(|e| e.to_string())?;
        lookups.files.insert(id.to_string(), recs);
    }
    Ok(lookups)
}

/// Reads, renders and runs every per-task stage of one task, in memory. `limit` caps the
/// records read per file (previews). An `Err` is a problem with the task as a whole (an
/// unreadable file, a template that does not compile), not with a record.
pub fn render_task(
    lm: &LoadedManifest,
    task: &Task,
    rc: &ResolvedCorpus,
    seed: u64,
    instructions: &[String],
    limit: Option<usize>,
) -> Result<TaskBuild, String> {
    let opts = RunOptions {
        seed,
        instructions,
        limit,
        benchmarks: None,
        held_out: None,
        scratch: None,
    };
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
    let handles: Vec<u64> = run.kept.iter().map(|k| k.handle).collect();
    let mut samples = run.store.take(&handles)?;
    for (s, k) in samples.iter_mut().zip(&run.kept) {
        s.split = k.split.as_str().to_string();
        let (i, text) = cx.instruction(&s.id);
        s.instruction_id = i;
        s.instruction = text.to_string();
    }
    let quarantined = run.ledger.count("quarantined");
    Ok(TaskBuild {
        meta: run.meta,
        samples,
        ledger: run.ledger.into_entries(),
        records_read: run.records_read,
        quarantined,
        stages: run.stages,
        seconds: run.seconds,
    })
}

/// Counts and seconds of the per-batch work, summed over batches.
#[derive(Default)]
struct Tally {
    read: f64,
    steps: f64,
    render: f64,
    rendered: u64,
    stages: Vec<(u64, u64, f64)>,
    near: f64,
    store: f64,
}

/// The per-file state of a task run.
struct FileRun<'a> {
    file_no: u32,
    rel: &'a str,
    official: String,
    /// Records out of the steps so far: the next record's number (its order key).
    n: u64,
    /// Index in `kept` of the file's first kept sample (for `head` splits).
    first_kept: usize,
}

/// The task's per-batch machinery.
struct Runner<'a> {
    cx: TaskContext<'a>,
    opts: RunOptions<'a>,
    renderer: &'a TaskRenderer,
    stages: Vec<Box<dyn crate::stages::Stage>>,
    near: NearIndex,
    store: Store,
    ledger: Ledger,
    kept: Vec<Kept>,
    /// leakage probes of the stored samples (builds only)
    probes: Option<RecordFile>,
    /// order key of each kept sample, for `head` splits (file number, record number)
    order: Vec<u64>,
    /// ids of the kept samples, as numbers (ids are 32 hex digits: numeric order = text order)
    ids: Vec<u128>,
    tally: Tally,
    buf: Vec<u8>,
}

impl Runner<'_> {
    fn entry(
        &self,
        stage: &str,
        reason: &str,
        file: &str,
        locator: &str,
        detail: String,
    ) -> LedgerEntry {
        LedgerEntry {
            detail,
            ..LedgerEntry::new(self.cx.meta, stage, reason, file, locator)
        }
    }

    /// A batch out of the steps: render, per-batch stages, store.
    fn take(&mut self, f: &mut FileRun, out: StepOutput) -> Result<(), String> {
        for d in out.dropped {
            let e = self.entry("steps", "filtered", f.rel, &d.locator, d.message);
            self.ledger.push(e)?;
        }
        for d in out.errors {
            let e = self.entry("steps", "quarantined", f.rel, &d.locator, d.message);
            self.ledger.push(e)?;
        }
        let start = Instant::now();
        let renderer = self.renderer;
        let rendered: Vec<(Record, Result<Rendered, String>)> = out
            .records
            .into_par_iter()
            .map(|mut rec| {
                let r = renderer.render(&mut rec);
                (rec, r)
            })
            .collect();
        let mut samples = Vec::with_capacity(rendered.len());
        for (rec, r) in rendered {
            let i = f.n;
            f.n += 1;
            let Record {
                locator,
                raw_sha256,
                ..
            } = rec;
            let e = match r {
                Err(message) => Some(("quarantined", message)),
                Ok(Rendered::Filtered) => Some(("filtered", "the task's filter is false".into())),
                Ok(Rendered::Sample {
                    group_key: Some(g), ..
                }) if g.trim().is_empty() => Some((
                    "quarantined",
                    "group_key renders empty for this record; choose a field every record has"
                        .into(),
                )),
                Ok(Rendered::Sample {
                    input,
                    output,
                    group_key,
                }) => {
                    samples.push(Sample {
                        id: String::new(),
                        instruction: String::new(),
                        instruction_id: 0,
                        input,
                        output,
                        split: f.official.clone(),
                        source_file: f.rel.to_string(),
                        source_locator: locator.clone(),
                        raw_sha256,
                        group_key: group_key.unwrap_or_default(),
                        order: (f.file_no, i),
                    });
                    None
                }
            };
            if let Some((reason, message)) = e {
                let e = self.entry("render", reason, f.rel, &locator, message);
                self.ledger.push(e)?;
            }
        }
        self.tally.rendered += samples.len() as u64;
        self.tally.render += start.elapsed().as_secs_f64();
        let mut batch = samples;
        for (k, stage) in self.stages.iter_mut().enumerate() {
            let start = Instant::now();
            let before = batch.len() as u64;
            batch = stage.run(&self.cx, batch, &mut self.ledger)?;
            let t = &mut self.tally.stages[k];
            t.0 += before;
            t.1 += batch.len() as u64;
            t.2 += start.elapsed().as_secs_f64();
        }
        // one scan of every input and output gives the near-dedup signature and the leakage
        // probe of the input (no scan when the task needs neither)
        let start = Instant::now();
        let (k, seed, near_on) = (self.near.cfg.shingle, self.cx.seed, self.near.enabled());
        let held = self.opts.held_out.map(|h| h.1);
        let scanned: Vec<(Vec<u64>, Option<Vec<u8>>)> = if !near_on && held.is_none() {
            Vec::new()
        } else {
            batch
                .par_iter()
                .map(|s| {
                    let mut hashes = Vec::new();
                    let exact = scan_into(&mut hashes, &s.input, k, seed, b'i');
                    let probe = held.map(|h| {
                        let p = if h.cfg.shingle == k {
                            h.probe(&hashes, exact)
                        } else {
                            h.probe_text(&s.input)
                        };
                        let mut b = Vec::with_capacity(h.probe_len());
                        h.encode(&p, &mut b);
                        b
                    });
                    if near_on {
                        shingles_into(&mut hashes, &s.output, k, seed, b'o');
                    }
                    (hashes, probe)
                })
                .collect()
        };
        let mut signed = Vec::with_capacity(scanned.len());
        for (hashes, probe) in scanned {
            if let (Some(f), Some(p)) = (self.probes.as_mut(), probe) {
                f.push(&p)?;
            }
            signed.push(hashes);
        }
        if near_on {
            self.near.add_hashes(&signed);
        }
        self.tally.near += start.elapsed().as_secs_f64();
        let start = Instant::now();
        for s in batch {
            let split = match Split::parse(&s.split) {
                Some(split) => split,
                // a head split is decided when the file's record count is known
                None if s.split.is_empty() => Split::Train,
                None => {
                    return Err(format!(
                        "{}: split `{}` is not train, validation or test",
                        f.rel, s.split
                    ));
                }
            };
            self.order.push(s.order.1);
            self.ids.push(
                u128::from_str_radix(&s.id, 16)
                    .map_err(|_| format!("sample id `{}` is not 32 hex digits", s.id))?,
            );
            let handle = self.store.push(s, &mut self.buf)?;
            let ordinal = self.kept.len() as u32;
            self.kept.push(Kept {
                handle,
                ordinal,
                split,
            });
        }
        self.tally.store += start.elapsed().as_secs_f64();
        Ok(())
    }
}

/// One task of a group: what it runs with, and where its samples and ledger go.
pub struct GroupTask<'a> {
    pub task: &'a Task,
    pub opts: RunOptions<'a>,
    pub store: Store,
    pub ledger: Ledger,
}

impl<'a> GroupTask<'a> {
    pub fn new(task: &'a Task, opts: RunOptions<'a>, store: Store, ledger: Ledger) -> Self {
        GroupTask {
            task,
            opts,
            store,
            ledger,
        }
    }
}

/// Runs one task's per-task stages into `store` and `ledger` (see the module docs).
pub fn run_task(
    lm: &LoadedManifest,
    task: &Task,
    rc: &ResolvedCorpus,
    opts: &RunOptions,
    store: Store,
    ledger: Ledger,
) -> Result<TaskRun, String> {
    let one = GroupTask::new(task, opts.clone(), store, ledger);
    run_group(lm, rc, vec![one])
        .pop()
        .unwrap_or_else(|| Err("no task to run".into()))
}

/// The tasks of a corpus that can share reads: the same files in the same order. Each
/// group is `(first task's position, positions)` in `tasks`' order.
pub fn share_groups(lm: &LoadedManifest, tasks: &[&Task]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(Vec<String>, Vec<usize>)> = Vec::new();
    for (i, t) in tasks.iter().enumerate() {
        let files: Vec<String> = lm
            .manifest
            .task_files(t)
            .iter()
            .map(|f| f.id.get_ref().clone())
            .collect();
        match groups.iter_mut().find(|g| g.0 == files) {
            Some(g) => g.1.push(i),
            None => groups.push((files, vec![i])),
        }
    }
    groups.into_iter().map(|g| g.1).collect()
}

/// The per-file state of one task of a group.
struct Member<'a> {
    r: Runner<'a>,
    task: &'a Task,
    records_read: u64,
    error: Option<String>,
}

impl Member<'_> {
    /// A batch out of the shared steps: the task's own steps, then `take`.
    fn feed(
        &mut self,
        fr: &mut FileRun,
        runner: &mut medsins_render::StepRunner,
        shared: &StepOutput,
        records: Vec<Record>,
    ) {
        if self.error.is_some() {
            return;
        }
        let res = (|| {
            for d in &shared.dropped {
                let e = self
                    .r
                    .entry("steps", "filtered", fr.rel, &d.locator, d.message.clone());
                self.r.ledger.push(e)?;
            }
            for d in &shared.errors {
                let e = self.r.entry(
                    "steps",
                    "quarantined",
                    fr.rel,
                    &d.locator,
                    d.message.clone(),
                );
                self.r.ledger.push(e)?;
            }
            let t = Instant::now();
            let out = runner.push(records);
            self.r.tally.steps += t.elapsed().as_secs_f64();
            self.r.take(fr, out)
        })();
        if let Err(e) = res {
            self.error = Some(e);
        }
    }
}

/// Runs a group of tasks that read the same files (see [`share_groups`]): each file is read
/// once for all of them, the steps they have in common run once, and each task's own steps,
/// templates and stages run on a copy of the shared records. Results are in the group's order.
pub fn run_group(
    lm: &LoadedManifest,
    rc: &ResolvedCorpus,
    group: Vec<GroupTask>,
) -> Vec<Result<TaskRun, String>> {
    let n = group.len();
    let mut results: Vec<Option<Result<TaskRun, String>>> = (0..n).map(|_| None).collect();
    // compile every task; a task that does not compile fails alone
    let mut compiled: Vec<(usize, TaskMeta, TaskRenderer, GroupTask)> = Vec::new();
    for (i, g) in group.into_iter().enumerate() {
        let meta = task_meta(lm, g.task);
        let renderer = load_lookups(lm, g.task, rc).and_then(|lookups| {
            TaskRenderer::compile(g.task, lookups)
                .map(|r| r.with_limits(rc.limits))
                .map_err(|errs| {
                    errs.iter()
                        .map(|e| lm.diag(e.offset, e.message.clone()).to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
        });
        match renderer {
            Ok(r) => compiled.push((i, meta, r, g)),
            Err(e) => results[i] = Some(Err(e)),
        }
    }
    if compiled.is_empty() {
        return results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err("not run".into())))
            .collect();
    }
    let limit = compiled[0].3.opts.limit;
    let mut order: Vec<usize> = Vec::new();
    let mut metas: Vec<TaskMeta> = Vec::new();
    let mut renderers: Vec<TaskRenderer> = Vec::new();
    let mut tasks: Vec<GroupTask> = Vec::new();
    for (i, meta, renderer, g) in compiled {
        order.push(i);
        metas.push(meta);
        renderers.push(renderer);
        tasks.push(g);
    }
    let mut members: Vec<Member> = Vec::new();
    for ((meta, renderer), g) in metas.iter().zip(&renderers).zip(tasks.iter_mut()) {
        let stages = batch_stages();
        let near = NearIndex::new(&g.task.near_dedup.clone().unwrap_or_default(), g.opts.seed);
        let probes = match (&g.opts.scratch, g.opts.held_out) {
            (Some(p), Some((_, h))) => Some(RecordFile::create(
                p.with_extension("probes"),
                h.probe_len(),
            )),
            _ => None,
        }
        .transpose();
        // a task whose probe file cannot be created fails alone
        let (probes, error) = match probes {
            Ok(p) => (p, None),
            Err(e) => (None, Some(e)),
        };
        members.push(Member {
            r: Runner {
                opts: g.opts.clone(),
                cx: TaskContext {
                    meta,
                    split: g.task.split.get_ref(),
                    seed: g.opts.seed,
                    instructions: g.opts.instructions,
                },
                renderer,
                tally: Tally {
                    stages: vec![(0, 0, 0.0); stages.len()],
                    ..Tally::default()
                },
                stages,
                near,
                store: std::mem::replace(&mut g.store, Store::Memory(Vec::new())),
                ledger: std::mem::replace(&mut g.ledger, Ledger::memory()),
                kept: Vec::new(),
                probes,
                order: Vec::new(),
                ids: Vec::new(),
                buf: Vec::new(),
            },
            task: g.task,
            records_read: 0,
            error,
        });
    }
    // the steps every task of the group starts with
    let first = members[0].r.renderer.steps();
    let shared_len = members
        .iter()
        .map(|m| {
            m.r.renderer
                .steps()
                .iter()
                .zip(first)
                .take_while(|(a, b)| a == b)
                .count()
        })
        .min()
        .unwrap_or(0);
    let files = lm.manifest.task_files(members[0].task);
    let outcome = read_group_files(rc, &files, limit, shared_len, &mut members);
    let mut runs = Vec::new();
    for m in members {
        let res = match (&outcome, m.error) {
            (Err(e), _) => Err(e.clone()),
            (_, Some(e)) => Err(e),
            (Ok(()), None) => finish_task(m.r, m.task, m.records_read),
        };
        runs.push(res);
    }
    for (i, run) in order.into_iter().zip(runs) {
        results[i] = Some(run);
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not run".into())))
        .collect()
}

/// Reads every file of a group once: learning passes, then the real pass through the shared
/// steps and every member's own steps and stages.
fn read_group_files(
    rc: &ResolvedCorpus,
    files: &[&medsins_manifest::RawFile],
    limit: Option<usize>,
    shared_len: usize,
    members: &mut [Member],
) -> Result<(), String> {
    for (file_no, spec) in files.iter().enumerate() {
        // a file absent from a partial build (reported at corpus level) contributes nothing
        let Some(file) = rc.file(spec.id.get_ref()) else {
            continue;
        };
        let read = |sink: &mut dyn FnMut(Result<Record, medsins_readers::RecordError>)| {
            let mut n = 0usize;
            read_file(
                &file.abs,
                spec.format.get_ref(),
                &spec.options,
                &rc.dir,
                &rc.limits,
                &mut |rec| {
                    if limit.is_none_or(|l| n < l) {
                        n += 1;
                        sink(rec);
                    }
                },
            )
            .map_err(|e| e.to_string())
        };
        // learning passes: the column types of `pandas_values` steps, over the whole file; a
        // learning step among the shared steps is learnt once for the group
        let mut learnt: Vec<BTreeMap<usize, Arc<PandasPlan>>> =
            vec![BTreeMap::new(); members.len()];
        let passes = members
            .iter()
            .map(|m| m.r.renderer.learning_steps().len())
            .max()
            .unwrap_or(0);
        for pass in 0..passes {
            let start = Instant::now();
            // (step position, members learning it with one runner)
            let mut learners: Vec<(usize, Vec<usize>)> = Vec::new();
            for (i, m) in members.iter().enumerate() {
                if let Some(&k) = m.r.renderer.learning_steps().get(pass) {
                    match learners.iter_mut().find(|l| l.0 == k && k < shared_len) {
                        Some(l) => l.1.push(i),
                        None => learners.push((k, vec![i])),
                    }
                }
            }
            let mut runners: Vec<medsins_render::StepRunner> = learners
                .iter()
                .map(|(k, who)| {
                    members[who[0]]
                        .r
                        .renderer
                        .runner(&learnt[who[0]], Pass::Learn(*k))
                })
                .collect();
            let mut batch = Vec::with_capacity(BATCH_RECORDS);
            let push = |runners: &mut Vec<medsins_render::StepRunner>, batch: Vec<Record>| {
                runners.par_iter_mut().for_each(|r| {
                    r.push(batch.clone());
                });
            };
            read(&mut |rec| {
                if let Ok(rec) = rec {
                    batch.push(rec);
                    if batch.len() == BATCH_RECORDS {
                        push(&mut runners, std::mem::take(&mut batch));
                    }
                }
            })?;
            push(&mut runners, batch);
            for ((k, who), mut r) in learners.into_iter().zip(runners) {
                r.finish();
                let plan = Arc::new(r.learnt().unwrap_or_default());
                for i in who {
                    learnt[i].insert(k, plan.clone());
                }
            }
            let secs = start.elapsed().as_secs_f64() / members.len() as f64;
            members.iter_mut().for_each(|m| m.r.tally.steps += secs);
        }

        let start = Instant::now();
        let busy = |ms: &[Member]| -> f64 { ms.iter().map(|m| m.r.tally.busy()).sum() };
        let busy_before = busy(members);
        let mut frs: Vec<FileRun> = members
            .iter()
            .map(|m| FileRun {
                file_no: file_no as u32,
                rel: &file.rel,
                official: match m.task.split.get_ref() {
                    SplitPolicy::Official => spec
                        .split
                        .as_ref()
                        .map(|s| s.get_ref().clone())
                        .unwrap_or_default(),
                    _ => String::new(),
                },
                n: 0,
                first_kept: m.r.kept.len(),
            })
            .collect();
        let mut shared = members[0]
            .r
            .renderer
            .runner(&learnt[0], Pass::Run(0..shared_len));
        let mut own: Vec<medsins_render::StepRunner> = members
            .iter()
            .zip(&learnt)
            .map(|(m, l)| m.r.renderer.runner(l, Pass::Run(shared_len..usize::MAX)))
            .collect();
        // a batch out of the shared steps goes to every member (a copy each but the last)
        let fan_out = |members: &mut [Member],
                       frs: &mut [FileRun],
                       own: &mut [medsins_render::StepRunner],
                       out: StepOutput| {
            let records = out.records;
            let shared_out = StepOutput {
                records: Vec::new(),
                errors: out.errors,
                dropped: out.dropped,
            };
            let last = members.len() - 1;
            let mut copies: Vec<Option<Vec<Record>>> = (0..last).map(|_| None).collect();
            if last > 0 {
                copies
                    .par_iter_mut()
                    .for_each(|c| *c = Some(records.clone()));
            }
            copies.push(Some(records));
            members
                .par_iter_mut()
                .zip(frs.par_iter_mut())
                .zip(own.par_iter_mut())
                .zip(copies.par_iter_mut())
                .for_each(|(((m, fr), r), c)| {
                    m.feed(fr, r, &shared_out, c.take().unwrap_or_default())
                });
        };
        let mut batch = Vec::with_capacity(BATCH_RECORDS);
        let mut shared_secs = 0.0;
        read(&mut |rec| {
            for m in members.iter_mut() {
                m.records_read += 1;
            }
            match rec {
                Ok(rec) => {
                    batch.push(rec);
                    if batch.len() == BATCH_RECORDS {
                        let t = Instant::now();
                        let out = shared.push(std::mem::take(&mut batch));
                        shared_secs += t.elapsed().as_secs_f64();
                        fan_out(members, &mut frs, &mut own, out);
                    }
                }
                Err(e) => {
                    for m in members.iter_mut().filter(|m| m.error.is_none()) {
                        let entry = m.r.entry(
                            "read",
                            "quarantined",
                            &file.rel,
                            &e.locator,
                            e.message.clone(),
                        );
                        if let Err(x) = m.r.ledger.push(entry) {
                            m.error = Some(x);
                        }
                    }
                }
            }
        })?;
        let t = Instant::now();
        let out = shared.push(batch);
        let flushed = shared.finish();
        shared_secs += t.elapsed().as_secs_f64();
        fan_out(members, &mut frs, &mut own, out);
        fan_out(members, &mut frs, &mut own, flushed);
        for ((m, fr), r) in members.iter_mut().zip(frs.iter_mut()).zip(own.iter_mut()) {
            if m.error.is_some() {
                continue;
            }
            let t = Instant::now();
            let out = r.finish();
            m.r.tally.steps += t.elapsed().as_secs_f64();
            if let Err(e) = m.r.take(fr, out) {
                m.error = Some(e);
            }
        }
        let k = members.len() as f64;
        let read_secs =
            (start.elapsed().as_secs_f64() - (busy(members) - busy_before) - shared_secs).max(0.0);
        for (m, fr) in members.iter_mut().zip(&frs) {
            m.r.tally.steps += shared_secs / k;
            m.r.tally.read += read_secs / k;
            // `head`: the first ⌊train × N⌋ records of the file (after the steps) are train
            if let (SplitPolicy::Head { train, rest }, None) = (m.task.split.get_ref(), &m.error) {
                let cut = (train * fr.n as f64) as u64;
                let Some(rest) = Split::parse(rest) else {
                    m.error = Some(format!("split `{rest}` is not train, validation or test"));
                    continue;
                };
                let r = &mut m.r;
                for (kept, order) in r.kept[fr.first_kept..]
                    .iter_mut()
                    .zip(&r.order[fr.first_kept..])
                {
                    kept.split = if *order < cut { Split::Train } else { rest };
                }
            }
        }
    }
    Ok(())
}

/// The whole-task passes after the last batch (see the module docs).
fn finish_task(mut r: Runner, task: &Task, records_read: u64) -> Result<TaskRun, String> {
    let _ = task;
    let opts = r.opts.clone();
    r.store.seal()?;

    let after_read = records_read - r.ledger.in_stage("read");
    let mut run = TaskRun {
        meta: r.cx.meta.clone(),
        store: Store::Memory(Vec::new()),
        kept: Vec::new(),
        ledger: Ledger::memory(),
        records_read,
        stages: vec![
            ("read".to_string(), records_read, after_read),
            ("render".to_string(), after_read, r.tally.rendered),
        ],
        seconds: vec![
            ("read".to_string(), r.tally.read),
            ("steps".to_string(), r.tally.steps),
            ("render".to_string(), r.tally.render),
            ("spill".to_string(), r.tally.store),
        ],
        held: Vec::new(),
        held_sets: opts.sets("held-sets")?,
        probes: None,
        contamination: ContaminationCounts::new(),
    };
    for (stage, (before, after, secs)) in r.stages.iter().zip(&r.tally.stages) {
        run.stage(stage.name(), *before, *after, *secs);
    }

    // near-duplicates, over the whole task
    let start = Instant::now();
    let before = r.kept.len() as u64;
    let cfg = r.near.cfg.clone();
    if r.near.enabled() && r.kept.len() >= 2 {
        let (store, kept) = (&r.store, &r.kept);
        let load = |pos: &[usize]| -> Result<Vec<(String, String)>, String> {
            pos.iter()
                .map(|p| store.get(kept[*p].handle).map(|s| (s.input, s.output)))
                .collect()
        };
        let found = r.near.find(&r.ids, &load)?;
        let mut drop = vec![false; r.kept.len()];
        for d in &found {
            let s = r.store.get(r.kept[d.index].handle)?;
            let kept = format!("{:032x}", r.ids[d.representative]);
            let e = near_entry(&r.cx, &cfg, &s, &kept, d);
            r.ledger.push(e)?;
            drop[d.index] = cfg.policy == medsins_manifest::NearDedupPolicy::Remove;
        }
        let mut i = 0;
        r.kept.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
    }
    run.stage(
        "near_dedup",
        before,
        r.kept.len() as u64,
        r.tally.near + start.elapsed().as_secs_f64(),
    );
    let n = r.kept.len() as u64;
    run.stage("instruction", n, n, 0.0);

    // decontamination and the held-out keys: one pass over the kept samples
    let start = Instant::now();
    if opts.benchmarks.is_some() || opts.held_out.is_some() {
        let handles: Vec<u64> = r.kept.iter().map(|k| k.handle).collect();
        let mut drop: Vec<bool> = vec![false; r.kept.len()];
        let mut at = 0usize;
        let (kept, ledger, cx) = (&r.kept, &mut r.ledger, &r.cx);
        let mut held = Vec::new();
        let (counts, held_sets) = (&mut run.contamination, &mut run.held_sets);
        if let Some(p) = r.probes.as_mut() {
            p.seal()?;
        }
        let probes = r.probes.as_ref();
        r.store.for_each(&handles, &mut |mut batch| {
            let base = at;
            at += batch.len();
            for (j, s) in batch.iter_mut().enumerate() {
                s.split = kept[base + j].split.as_str().to_string();
            }
            if let Some(index) = opts.benchmarks {
                for c in index.contaminated(&batch) {
                    ledger.push(decontamination_entry(cx, &batch[c.index], &c, index.n))?;
                    *counts
                        .entry((c.benchmark.clone(), c.field.to_string()))
                        .or_default() += 1;
                    drop[base + c.index] = true;
                }
            }
            if let (Some((task_no, ho)), Some(pf)) = (opts.held_out, probes) {
                let hb: Vec<(usize, Sample)> = batch
                    .into_iter()
                    .enumerate()
                    .filter(|(j, s)| !drop[base + j] && is_held_out(&s.split))
                    .collect();
                let sets: Vec<Vec<u64>> = hb
                    .par_iter()
                    .map(|(_, s)| text_shingles(&s.input, ho.cfg.shingle, opts.seed))
                    .collect();
                for ((j, s), set) in hb.into_iter().zip(sets) {
                    let bytes = pf.get(kept[base + j].ordinal as u64)?;
                    let probe = ho
                        .decode(&bytes)
                        .ok_or("a corrupt leakage probe in the task's scratch file")?;
                    held.push(HeldKeys {
                        sample: HeldSample {
                            task: task_no,
                            set: held_sets.push(&set)?,
                            id: s.id,
                            split: s.split,
                        },
                        probe,
                    });
                }
            }
            Ok(())
        })?;
        if opts.benchmarks.is_some() {
            let before = r.kept.len() as u64;
            let mut i = 0;
            r.kept.retain(|_| {
                i += 1;
                !drop[i - 1]
            });
            run.stage(
                "decontaminate",
                before,
                r.kept.len() as u64,
                start.elapsed().as_secs_f64(),
            );
        }
        run.held = held;
        run.held_sets.seal()?;
    }
    run.store = r.store;
    run.kept = r.kept;
    run.ledger = r.ledger;
    run.probes = r.probes;
    Ok(run)
}

impl Tally {
    /// Seconds spent on this task's work (not reading).
    fn busy(&self) -> f64 {
        self.render
            + self.store
            + self.near
            + self.steps
            + self.stages.iter().map(|s| s.2).sum::<f64>()
    }
}

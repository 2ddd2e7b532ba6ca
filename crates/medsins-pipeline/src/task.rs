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
use crate::quality::leakage::{HeldKeys, HeldOut, is_held_out};
use crate::quality::minhash::{NearIndex, near_entry};
use crate::quality::{BenchIndex, ContaminationCounts, decontamination_entry};
use crate::spill::{Ledger, Store};
use crate::stages::{TaskContext, batch_stages};
use medsins_core::{LedgerEntry, Sample, Split, TaskMeta};
use medsins_manifest::{LoadedManifest, SplitPolicy, Task};
use medsins_readers::{Record, read_file};
use medsins_render::{LookupFiles, Pass, Rendered, StepOutput, TaskRenderer};
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
    /// The leakage keys of the held-out samples (when asked for).
    pub held: Vec<HeldKeys>,
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
pub struct RunOptions<'a> {
    pub seed: u64,
    pub instructions: &'a [String],
    /// Records read per file at most (previews).
    pub limit: Option<usize>,
    /// Decontaminate against these benchmarks.
    pub benchmarks: Option<&'a BenchIndex>,
    /// Compute the held-out samples' leakage keys, as task number `.0` of the build.
    pub held_out: Option<(usize, &'a HeldOut)>,
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
    };
    let run = run_task(lm, task, rc, &opts, Store::Memory(Vec::new()), Ledger::memory())?;
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
    renderer: &'a TaskRenderer,
    stages: Vec<Box<dyn crate::stages::Stage>>,
    near: NearIndex,
    store: Store,
    ledger: Ledger,
    kept: Vec<Kept>,
    /// order key of each kept sample, for `head` splits (file number, record number)
    order: Vec<u64>,
    ids: Vec<String>,
    tally: Tally,
    buf: Vec<u8>,
}

impl Runner<'_> {
    fn entry(&self, stage: &str, reason: &str, file: &str, locator: &str, detail: String) -> LedgerEntry {
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
        if self.near.enabled() {
            let start = Instant::now();
            self.near.add(&batch);
            self.tally.near += start.elapsed().as_secs_f64();
        }
        let start = Instant::now();
        for s in batch {
            // a head split is decided when the file's record count is known
            let split = Split::parse(&s.split).unwrap_or(Split::Train);
            if !s.split.is_empty() && Split::parse(&s.split).is_none() {
                return Err(format!(
                    "{}: split `{}` is not train, validation or test",
                    f.rel, s.split
                ));
            }
            self.order.push(s.order.1);
            self.ids.push(s.id.clone());
            let handle = self.store.push(s, &mut self.buf)?;
            self.kept.push(Kept { handle, split });
        }
        self.tally.store += start.elapsed().as_secs_f64();
        Ok(())
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
    let meta = task_meta(lm, task);
    let lookups = load_lookups(lm, task, rc)?;
    let renderer = TaskRenderer::compile(task, lookups).map_err(|errs| {
        errs.iter()
            .map(|e| lm.diag(e.offset, e.message.clone()).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let stages = batch_stages();
    let mut r = Runner {
        cx: TaskContext {
            meta: &meta,
            split: task.split.get_ref(),
            seed: opts.seed,
            instructions: opts.instructions,
        },
        renderer: &renderer,
        tally: Tally {
            stages: vec![(0, 0, 0.0); stages.len()],
            ..Tally::default()
        },
        stages,
        near: NearIndex::new(&task.near_dedup.clone().unwrap_or_default(), opts.seed),
        store,
        ledger,
        kept: Vec::new(),
        order: Vec::new(),
        ids: Vec::new(),
        buf: Vec::new(),
    };
    let mut records_read = 0u64;
    let learning = renderer.learning_steps();
    for (file_no, spec) in lm.manifest.task_files(task).into_iter().enumerate() {
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
                &mut |rec| {
                    if opts.limit.is_none_or(|l| n < l) {
                        n += 1;
                        sink(rec);
                    }
                },
            )
            .map_err(|e| e.to_string())
        };
        // learning passes: the column types of `pandas_values` steps, over the whole file
        let mut learnt = BTreeMap::new();
        for &k in &learning {
            let start = Instant::now();
            let mut runner = renderer.runner(&learnt, Pass::Learn(k));
            let mut batch = Vec::with_capacity(BATCH_RECORDS);
            read(&mut |rec| {
                if let Ok(rec) = rec {
                    batch.push(rec);
                    if batch.len() == BATCH_RECORDS {
                        runner.push(std::mem::take(&mut batch));
                    }
                }
            })?;
            runner.push(batch);
            runner.finish();
            learnt.insert(k, Arc::new(runner.learnt().unwrap_or_default()));
            r.tally.read += start.elapsed().as_secs_f64();
        }
        let mut fr = FileRun {
            file_no: file_no as u32,
            rel: &file.rel,
            official: match task.split.get_ref() {
                SplitPolicy::Official => spec
                    .split
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                _ => String::new(),
            },
            n: 0,
            first_kept: r.kept.len(),
        };
        let start = Instant::now();
        let busy_before = r.tally.render + r.tally.store + r.tally.near + stage_secs(&r.tally);
        let mut runner = renderer.runner(&learnt, Pass::Run);
        let mut batch = Vec::with_capacity(BATCH_RECORDS);
        let mut failed: Option<String> = None;
        read(&mut |rec| {
            if failed.is_some() {
                return;
            }
            records_read += 1;
            let res = match rec {
                Ok(rec) => {
                    batch.push(rec);
                    if batch.len() == BATCH_RECORDS {
                        let out = runner.push(std::mem::take(&mut batch));
                        r.take(&mut fr, out)
                    } else {
                        Ok(())
                    }
                }
                Err(e) => {
                    let e = r.entry("read", "quarantined", &file.rel, &e.locator, e.message);
                    r.ledger.push(e)
                }
            };
            if let Err(e) = res {
                failed = Some(e);
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        let out = runner.push(batch);
        r.take(&mut fr, out)?;
        let out = runner.finish();
        r.take(&mut fr, out)?;
        let busy = r.tally.render + r.tally.store + r.tally.near + stage_secs(&r.tally) - busy_before;
        r.tally.read += start.elapsed().as_secs_f64() - busy;
        // `head`: the first ⌊train × N⌋ records of the file (after the steps) are train
        if let SplitPolicy::Head { train, rest } = task.split.get_ref() {
            let k = (train * fr.n as f64) as u64;
            let rest = Split::parse(rest).ok_or_else(|| {
                format!("split `{rest}` is not train, validation or test")
            })?;
            for (kept, order) in r.kept[fr.first_kept..].iter_mut().zip(&r.order[fr.first_kept..]) {
                kept.split = if *order < k { Split::Train } else { rest };
            }
        }
    }
    r.store.seal()?;

    let after_read = records_read - r.ledger.in_stage("read");
    let mut run = TaskRun {
        meta: meta.clone(),
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
            ("render".to_string(), r.tally.render + r.tally.store),
        ],
        held: Vec::new(),
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
        let ids: Vec<&str> = r.ids.iter().map(String::as_str).collect();
        let found = r.near.find(&ids, &load)?;
        let mut drop = vec![false; r.kept.len()];
        for d in &found {
            let s = r.store.get(r.kept[d.index].handle)?;
            let e = near_entry(&r.cx, &cfg, &s, &r.ids[d.representative], d);
            r.ledger.push(e)?;
            drop[d.index] = cfg.policy == medsins_manifest::NearDedupPolicy::Remove;
        }
        let mut i = 0;
        r.kept.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
    }
    run.stage("near_dedup", before, r.kept.len() as u64, r.tally.near + start.elapsed().as_secs_f64());
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
        let counts = &mut run.contamination;
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
            if let Some((task_no, ho)) = opts.held_out {
                let hb: Vec<(u64, Sample)> = batch
                    .into_iter()
                    .enumerate()
                    .filter(|(j, s)| !drop[base + j] && is_held_out(&s.split))
                    .map(|(j, s)| (kept[base + j].handle, s))
                    .collect();
                held.extend(ho.keys(task_no, &hb));
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
    }
    run.store = r.store;
    run.kept = r.kept;
    run.ledger = r.ledger;
    Ok(run)
}

fn stage_secs(t: &Tally) -> f64 {
    t.stages.iter().map(|s| s.2).sum()
}

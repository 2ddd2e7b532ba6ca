//! Tasks of a corpus that read the same files, in the same order, run as a group: each file is
//! read once for all of them, the steps they start with in common run once, and each task's
//! own steps, templates and stages run on a copy of the shared records.

use super::passes::finish_task;
use super::runner::{FileRun, Runner, Tally};
use super::{BATCH_RECORDS, RunOptions, TaskRun, load_lookups, task_meta};
use crate::TaskError;
use crate::corpus::{ResolvedCorpus, ResolvedFile};
use crate::stages::{TaskContext, batch_stages};
use crate::store::{Ledger, RecordFile, Store};
use medsins_core::{LedgerReason, Profile, Split, TaskMeta};
use medsins_manifest::{
    HEAD_REST_DROP, LoadedManifest, NearDedup, NearDedupPolicy, RawFile, SplitPolicy, Task,
};
use medsins_quality::minhash::NearIndex;
use medsins_readers::{Record, RecordError};
use medsins_render::{PandasPlan, Pass, StepOutput, StepRunner, TaskRenderer};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

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

/// The tasks of a corpus that can share reads: the same files in the same order. Each group
/// lists positions in `tasks`, in `tasks`' order.
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

/// Quarantined records after which a task where most records fail stops (see
/// [`Member::stop_if_most_records_fail`]).
const STOP_AFTER_QUARANTINED: u64 = 1000;

/// The per-file state of one task of a group.
struct Member<'a> {
    r: Runner<'a>,
    task: &'a Task,
    records_read: u64,
    error: Option<TaskError>,
}

impl Member<'_> {
    /// A batch out of the shared steps: the task's own steps, then the runner.
    fn feed(
        &mut self,
        fr: &mut FileRun,
        runner: &mut StepRunner,
        shared: &StepOutput,
        records: Vec<Record>,
    ) {
        if self.error.is_some() {
            return;
        }
        let res = (|| {
            fr.reshaped(shared);
            for d in &shared.dropped {
                let e = self.r.entry(
                    "steps",
                    LedgerReason::Filtered,
                    fr.rel,
                    &d.locator,
                    d.message.clone(),
                );
                self.r.ledger.push(e)?;
            }
            for d in &shared.errors {
                let e = self.r.entry(
                    "steps",
                    LedgerReason::Quarantined,
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
        self.stop_if_most_records_fail();
    }

    /// Fails the task once [`STOP_AFTER_QUARANTINED`] records were quarantined and they are
    /// more than half of those read: a broken template or reader, not stray records. Checked
    /// at batch boundaries, so where it stops does not depend on threads.
    fn stop_if_most_records_fail(&mut self) {
        let quarantined = self.r.ledger.count(LedgerReason::Quarantined);
        if self.error.is_none()
            && quarantined >= STOP_AFTER_QUARANTINED
            && quarantined * 2 > self.records_read
        {
            self.error = Some(TaskError::MostRecordsFail {
                quarantined,
                read: self.records_read,
                causes: self.r.ledger.causes.describe(),
            });
        }
    }

    /// Records a record the reader could not read.
    fn quarantine(&mut self, rel: &str, e: &RecordError) {
        if self.error.is_some() {
            return;
        }
        let entry = self.r.entry(
            "read",
            LedgerReason::Quarantined,
            rel,
            &e.locator,
            e.message.clone(),
        );
        if let Err(x) = self.r.ledger.push(entry) {
            self.error = Some(x.into());
        }
    }
}

/// A task of the group with its compiled templates and steps.
struct Compiled<'a> {
    at: usize,
    meta: TaskMeta,
    renderer: TaskRenderer,
    g: GroupTask<'a>,
}

/// Compiles every task of the group; a task that does not compile fails alone.
fn compile<'a>(
    lm: &LoadedManifest,
    rc: &ResolvedCorpus,
    group: Vec<GroupTask<'a>>,
    results: &mut [Option<Result<TaskRun, TaskError>>],
) -> Vec<Compiled<'a>> {
    let mut compiled = Vec::new();
    for (at, g) in group.into_iter().enumerate() {
        let meta = task_meta(lm, g.task);
        let renderer = load_lookups(lm, g.task, rc).and_then(|lookups| {
            TaskRenderer::compile(g.task, lookups)
                .map(|r| r.with_limits(rc.limits))
                .map_err(|errs| {
                    TaskError::Manifest(
                        errs.iter()
                            .map(|e| lm.diag(e.offset, e.message.clone()).to_string())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    )
                })
        });
        match renderer {
            Ok(renderer) => compiled.push(Compiled {
                at,
                meta,
                renderer,
                g,
            }),
            Err(e) => results[at] = Some(Err(e)),
        }
    }
    compiled
}

/// A member of the group, ready to read: its runner, stages, near-dup index and probe file.
fn member<'a>(
    meta: &'a TaskMeta,
    renderer: &'a TaskRenderer,
    g: &mut GroupTask<'a>,
    profile: Profile,
) -> Member<'a> {
    let stages = batch_stages(profile);
    let mut near_cfg = near_dedup(g.task, profile);
    if let Some(policy) = g.opts.near_dedup {
        near_cfg.policy = policy;
    }
    let near = NearIndex::new(&near_cfg, g.opts.seed);
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
        Err(e) => (None, Some(e.into())),
    };
    Member {
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
            files: Vec::new(),
            head_cut: Vec::new(),
            buf: Vec::new(),
        },
        task: g.task,
        records_read: 0,
        error,
    }
}

/// The task's near-duplicate settings in a profile: the upstream profile removes nothing
/// (the authors' scripts never deduplicated), so a `remove` policy only flags there.
fn near_dedup(task: &Task, profile: Profile) -> NearDedup {
    let mut nd = task.near_dedup.clone().unwrap_or_default();
    if profile == Profile::Upstream && nd.policy == NearDedupPolicy::Remove {
        nd.policy = NearDedupPolicy::Flag;
    }
    nd
}

/// Runs a group of tasks that read the same files (see [`share_groups`]). Results are in the
/// group's order.
pub fn run_group(
    lm: &LoadedManifest,
    rc: &ResolvedCorpus,
    group: Vec<GroupTask>,
) -> Vec<Result<TaskRun, TaskError>> {
    let mut results: Vec<Option<Result<TaskRun, TaskError>>> =
        (0..group.len()).map(|_| None).collect();
    let compiled = compile(lm, rc, group, &mut results);
    if !compiled.is_empty() {
        let limit = compiled[0].g.opts.limit;
        let mut at = Vec::new();
        let mut metas = Vec::new();
        let mut renderers = Vec::new();
        let mut tasks = Vec::new();
        for c in compiled {
            at.push(c.at);
            metas.push(c.meta);
            renderers.push(c.renderer);
            tasks.push(c.g);
        }
        let mut members: Vec<Member> = Vec::new();
        for ((meta, renderer), g) in metas.iter().zip(&renderers).zip(tasks.iter_mut()) {
            members.push(member(meta, renderer, g, lm.profile));
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
        let shared_failure = outcome.as_ref().err().map(|e| e.to_string());
        let mut failure = outcome.err();
        for (at, m) in at.into_iter().zip(members) {
            let res = match (failure.take(), &shared_failure, m.error) {
                // the group's read failed: every task of the group fails with it
                (Some(e), _, _) => Err(e),
                (None, Some(message), _) => Err(TaskError::SharedRead(message.clone())),
                (None, None, Some(e)) => Err(e),
                (None, None, None) => finish_task(m.r, m.records_read),
            };
            results[at] = Some(res);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or(Err(TaskError::NotRun)))
        .collect()
}

/// Reads every file of a group once: learning passes, then the real pass through the shared
/// steps and every member's own steps and stages.
fn read_group_files(
    rc: &ResolvedCorpus,
    files: &[&RawFile],
    limit: Option<usize>,
    shared_len: usize,
    members: &mut [Member],
) -> Result<(), TaskError> {
    for (file_no, spec) in files.iter().enumerate() {
        // a file absent from a partial build (reported at corpus level) contributes nothing
        let Some(file) = rc.file(spec.id.get_ref()) else {
            continue;
        };
        let reader = FileReader {
            rc,
            spec,
            file,
            limit,
        };
        let learnt = learn(&reader, shared_len, members)?;
        read_through(&reader, file_no as u32, &learnt, shared_len, members)?;
    }
    Ok(())
}

/// Reads one raw file of a group, up to the preview limit.
struct FileReader<'a> {
    rc: &'a ResolvedCorpus,
    spec: &'a RawFile,
    file: &'a ResolvedFile,
    limit: Option<usize>,
}

impl FileReader<'_> {
    fn read(&self, sink: &mut dyn FnMut(Result<Record, RecordError>)) -> Result<(), TaskError> {
        let mut n = 0usize;
        self.file.read(self.spec, &self.rc.limits, &mut |rec| {
            if self.limit.is_none_or(|l| n < l) {
                n += 1;
                sink(rec);
            }
        })?;
        Ok(())
    }
}

/// What the learning passes learnt, per member: step position -> plan.
type Learnt = Vec<BTreeMap<usize, Arc<PandasPlan>>>;

/// The learning passes over one file: the column types of `pandas_values` steps, over the
/// whole file; a learning step among the shared steps is learnt once for the group.
fn learn(
    reader: &FileReader,
    shared_len: usize,
    members: &mut [Member],
) -> Result<Learnt, TaskError> {
    let mut learnt: Learnt = vec![BTreeMap::new(); members.len()];
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
        let mut runners: Vec<StepRunner> = learners
            .iter()
            .map(|(k, who)| {
                members[who[0]]
                    .r
                    .renderer
                    .runner(&learnt[who[0]], Pass::Learn(*k))
            })
            .collect();
        let mut batch = Vec::with_capacity(BATCH_RECORDS);
        let push = |runners: &mut Vec<StepRunner>, batch: Vec<Record>| {
            runners.par_iter_mut().for_each(|r| {
                r.push(batch.clone());
            });
        };
        reader.read(&mut |rec| {
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
    Ok(learnt)
}

/// A batch out of the shared steps goes to every member (a copy each but the last).
fn fan_out(
    members: &mut [Member],
    frs: &mut [FileRun],
    own: &mut [StepRunner],
    mut out: StepOutput,
) {
    // what the shared steps did to records goes to every member; the records to copies
    let records = std::mem::take(&mut out.records);
    let shared_out = out;
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
        .for_each(|(((m, fr), r), c)| m.feed(fr, r, &shared_out, c.take().unwrap_or_default()));
}

/// The real pass over one file: shared steps once, then every member's own steps and stages.
fn read_through(
    reader: &FileReader,
    file_no: u32,
    learnt: &Learnt,
    shared_len: usize,
    members: &mut [Member],
) -> Result<(), TaskError> {
    let start = Instant::now();
    let busy = |ms: &[Member]| -> f64 { ms.iter().map(|m| m.r.tally.busy()).sum() };
    let busy_before = busy(members);
    let mut frs: Vec<FileRun> = members
        .iter()
        .map(|m| file_run(m, reader, file_no))
        .collect::<Result<_, _>>()?;
    let mut shared = members[0]
        .r
        .renderer
        .runner(&learnt[0], Pass::Run(0..shared_len));
    let mut own: Vec<StepRunner> = members
        .iter()
        .zip(learnt)
        .map(|(m, l)| m.r.renderer.runner(l, Pass::Run(shared_len..usize::MAX)))
        .collect();
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    let mut shared_secs = 0.0;
    let rel = &reader.file.rel;
    reader.read(&mut |rec| {
        for (m, fr) in members.iter_mut().zip(frs.iter_mut()) {
            m.records_read += 1;
            fr.read += 1;
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
            Err(e) => members.iter_mut().for_each(|m| m.quarantine(rel, &e)),
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
        m.r.files.push(fr.tally());
        if m.error.is_none()
            && let Err(e) = assign_head_split(m, fr)
        {
            m.error = Some(e);
        }
    }
    Ok(())
}

/// A member's state for one file: its official split (for tasks that keep them), counters.
fn file_run<'a>(
    m: &Member,
    reader: &'a FileReader,
    file_no: u32,
) -> Result<FileRun<'a>, TaskError> {
    let official = match (m.task.split.get_ref(), &reader.spec.split) {
        (SplitPolicy::Official, Some(s)) => Some(
            Split::parse(s.get_ref())
                .ok_or_else(|| TaskError::UnknownSplit(s.get_ref().clone()))?,
        ),
        _ => None,
    };
    Ok(FileRun {
        file_no,
        file_id: reader.spec.id.get_ref(),
        rel: &reader.file.rel,
        official,
        n: 0,
        first_kept: m.r.kept.len(),
        read: 0,
        added: 0,
        merged: 0,
    })
}

/// `head` splits: the first ⌊train × N⌋ records of the file (after the steps) are train; the
/// others go to `rest`, or, with `rest = "drop"`, are cut off (removed by the `split` pass when
/// the task ends, ledgered).
fn assign_head_split(m: &mut Member, fr: &FileRun) -> Result<(), TaskError> {
    let SplitPolicy::Head { train, rest } = m.task.split.get_ref() else {
        return Ok(());
    };
    let cut = (train * fr.n as f64) as u64;
    let rest = match rest.as_str() {
        HEAD_REST_DROP => None,
        r => Some(Split::parse(r).ok_or_else(|| TaskError::UnknownSplit(r.to_string()))?),
    };
    let r = &mut m.r;
    for (i, order) in r.order.iter().enumerate().skip(fr.first_kept) {
        r.kept[i].split = match rest {
            _ if *order < cut => Split::Train,
            Some(rest) => rest,
            None => {
                r.head_cut.push(r.kept[i].ordinal);
                Split::Train
            }
        };
    }
    Ok(())
}

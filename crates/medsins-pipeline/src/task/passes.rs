//! The whole-task passes after a task's last batch, and the contract every pass that removes
//! or flags samples of a built task runs under ([`TaskRun::pass`], [`TaskRun::apply`]): the
//! pass only says what it found; the contract writes the ledger, removes what is removed and
//! records the stage's counts and seconds. Near-dedup and decontamination run here; the
//! cross-task leakage pass (`build`) applies its findings through the same contract.

use super::runner::Runner;
use super::{Kept, RunOptions, TaskRun};
use crate::TaskError;
use crate::removals::{decontamination_entry, near_entry};
use crate::stages::TaskContext;
use crate::store::{RecordFile, SetStore, Store, StoreError};
use medsins_core::{LedgerEntry, LedgerReason, Sample, SampleId};
use medsins_manifest::NearDedupPolicy;
use medsins_quality::ContaminationCounts;
use medsins_quality::leakage::{HeldKeys, HeldSample, is_held_out};
use medsins_quality::minhash::{NearIndex, text_shingles};
use rayon::prelude::*;
use std::time::Instant;

/// What a whole-task pass found about one kept sample.
pub struct Finding {
    /// The sample's position in the task's `kept`.
    pub index: usize,
    pub entry: LedgerEntry,
    /// Whether the sample goes (a flag keeps it).
    pub remove: bool,
}

impl TaskRun {
    /// Runs a whole-task pass named `name`: `find` looks at the task and says what it found;
    /// the findings are then applied ([`TaskRun::apply`]). `earlier_secs` is time the pass
    /// already spent while the batches streamed (its signatures, say).
    pub fn pass(
        &mut self,
        name: &str,
        earlier_secs: f64,
        find: impl FnOnce(&TaskRun) -> Result<Vec<Finding>, TaskError>,
    ) -> Result<(), TaskError> {
        let start = Instant::now();
        let found = find(self)?;
        self.apply(name, found, earlier_secs + start.elapsed().as_secs_f64())?;
        Ok(())
    }

    /// Writes every finding to the ledger (in order), removes the samples they remove and
    /// records the stage `name` with its counts and `secs`.
    pub fn apply(&mut self, name: &str, found: Vec<Finding>, secs: f64) -> Result<(), StoreError> {
        let before = self.kept.len() as u64;
        let mut drop = vec![false; self.kept.len()];
        for f in found {
            drop[f.index] |= f.remove;
            self.ledger.push(f.entry)?;
        }
        let mut i = 0;
        self.kept.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
        self.stage(name, before, self.kept.len() as u64, secs);
        Ok(())
    }
}

/// The whole-task passes after the last batch (see the module docs).
pub(super) fn finish_task(mut r: Runner, records_read: u64) -> Result<TaskRun, TaskError> {
    r.store.seal()?;
    let opts = r.opts.clone();
    let after_read = records_read - r.ledger.in_stage("read");
    let mut run = TaskRun {
        meta: r.cx.meta.clone(),
        store: std::mem::replace(&mut r.store, Store::Memory(Vec::new())),
        kept: std::mem::take(&mut r.kept),
        ledger: std::mem::replace(&mut r.ledger, crate::store::Ledger::memory()),
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
        probes: r.probes.take(),
        contamination: ContaminationCounts::new(),
        files: std::mem::take(&mut r.files),
    };
    for (stage, (before, after, secs)) in r.stages.iter().zip(&r.tally.stages) {
        run.stage(stage.name(), *before, *after, *secs);
    }
    run.pass("near_dedup", r.tally.near, |run| {
        near_duplicates(run, &r.near, &r.ids, &r.cx)
    })?;
    if !r.head_cut.is_empty() {
        run.pass("split", 0.0, |run| head_cut(run, &r.head_cut, &r.cx))?;
    }
    let n = run.kept.len() as u64;
    run.stage("instruction", n, n, 0.0);
    if opts.benchmarks.is_some() || opts.held_out.is_some() {
        let start = Instant::now();
        if let Some(p) = run.probes.as_mut() {
            p.seal()?;
        }
        let mut scan = KeptScan {
            cx: &r.cx,
            opts: &opts,
            probes: run.probes.as_ref(),
            held_sets: &mut run.held_sets,
            counts: &mut run.contamination,
            found: Vec::new(),
            held: Vec::new(),
        };
        scan.run(&run.store, &run.kept)?;
        let (found, held) = (scan.found, scan.held);
        if opts.benchmarks.is_some() {
            run.apply("decontaminate", found, start.elapsed().as_secs_f64())?;
        }
        run.held = held;
        run.held_sets.seal()?;
    }
    Ok(run)
}

/// Near-duplicate clusters of the task: every member but the representative is flagged, or
/// removed when the task's policy says so.
fn near_duplicates(
    run: &TaskRun,
    near: &NearIndex,
    ids: &[SampleId],
    cx: &TaskContext,
) -> Result<Vec<Finding>, TaskError> {
    if !near.enabled() || run.kept.len() < 2 {
        return Ok(Vec::new());
    }
    let (store, kept) = (&run.store, &run.kept);
    // `pos` is increasing: a search that loads at least one sample in eight of the task (the
    // templated rows of MIMIC-IV-ED load nearly all) reads them in one sequential pass instead
    // of two reads a sample
    let load = |pos: &[usize]| -> Result<Vec<(String, String)>, StoreError> {
        if pos.len() * DENSE_LOAD < kept.len() {
            return pos
                .iter()
                .map(|p| store.get(kept[*p].handle).map(|s| (s.input, s.output)))
                .collect();
        }
        let handles: Vec<u64> = pos.iter().map(|p| kept[*p].handle).collect();
        let mut texts = Vec::with_capacity(pos.len());
        store.for_each(&handles, &mut |batch: Vec<Sample>| {
            texts.extend(batch.into_iter().map(|s| (s.input, s.output)));
            Ok::<(), StoreError>(())
        })?;
        Ok(texts)
    };
    let cfg = &near.cfg;
    let mut found = Vec::new();
    for d in near.find(ids, &load)? {
        let s = store.get(kept[d.index].handle)?;
        found.push(Finding {
            index: d.index,
            entry: near_entry(cx, cfg, &s, ids[d.representative], &d),
            remove: cfg.policy == NearDedupPolicy::Remove,
        });
    }
    Ok(found)
}

/// A near-dup search reads the samples it loads sequentially when it loads at least one in
/// this many of the task.
const DENSE_LOAD: usize = 8;

/// The samples after the head a `head` split with `rest = "drop"` keeps (`cut`: their
/// ordinals, ascending), removed as the script that kept only the head removed them.
fn head_cut(run: &TaskRun, cut: &[u32], cx: &TaskContext) -> Result<Vec<Finding>, TaskError> {
    let mut found = Vec::new();
    for (index, k) in run.kept.iter().enumerate() {
        if cut.binary_search(&k.ordinal).is_ok() {
            let s = run.store.get(k.handle)?;
            let detail = "after the head of its file that the task's `head` split keeps (rest = \"drop\"), as the authors' script cut it".to_string();
            found.push(Finding {
                index,
                entry: cx.removal(&s, "split", LedgerReason::Filtered, None, detail),
                remove: true,
            });
        }
    }
    Ok(found)
}

/// One pass over a task's kept samples for decontamination (`--decontaminate`) and the
/// held-out samples' leakage keys.
struct KeptScan<'a> {
    cx: &'a TaskContext<'a>,
    opts: &'a RunOptions<'a>,
    probes: Option<&'a RecordFile>,
    held_sets: &'a mut SetStore,
    counts: &'a mut ContaminationCounts,
    found: Vec<Finding>,
    held: Vec<HeldKeys>,
}

impl KeptScan<'_> {
    fn run(&mut self, store: &Store, kept: &[Kept]) -> Result<(), TaskError> {
        let handles: Vec<u64> = kept.iter().map(|k| k.handle).collect();
        let mut at = 0usize;
        store.for_each(&handles, &mut |mut batch: Vec<Sample>| {
            let base = at;
            at += batch.len();
            for (s, k) in batch.iter_mut().zip(&kept[base..]) {
                s.split = Some(k.split);
            }
            let dropped = self.decontaminate(&batch, base);
            self.hold(batch, base, kept, &dropped)
        })
    }

    /// Findings for the contaminated samples of a batch; returns their positions in it.
    fn decontaminate(&mut self, batch: &[Sample], base: usize) -> Vec<bool> {
        let mut dropped = vec![false; batch.len()];
        let Some(index) = self.opts.benchmarks else {
            return dropped;
        };
        for c in index.contaminated(batch) {
            self.found.push(Finding {
                index: base + c.index,
                entry: decontamination_entry(self.cx, &batch[c.index], &c, index.n),
                remove: true,
            });
            *self
                .counts
                .entry((c.benchmark.clone(), c.field.to_string()))
                .or_default() += 1;
            dropped[c.index] = true;
        }
        dropped
    }

    /// The leakage keys of the batch's held-out samples that decontamination kept.
    fn hold(
        &mut self,
        batch: Vec<Sample>,
        base: usize,
        kept: &[Kept],
        dropped: &[bool],
    ) -> Result<(), TaskError> {
        let (Some((task_no, ho)), Some(pf)) = (self.opts.held_out, self.probes) else {
            return Ok(());
        };
        let hb: Vec<(usize, Sample)> = batch
            .into_iter()
            .enumerate()
            .filter(|(j, s)| !dropped[*j] && is_held_out(s.split))
            .collect();
        let seed = self.opts.seed;
        let sets: Vec<Vec<u64>> = hb
            .par_iter()
            .map(|(_, s)| text_shingles(&s.input, ho.cfg.shingle, seed))
            .collect();
        for ((j, s), set) in hb.into_iter().zip(sets) {
            let k = kept[base + j];
            let bytes = pf.get(k.ordinal as u64)?;
            let probe = ho.decode(&bytes).ok_or(TaskError::CorruptProbe)?;
            self.held.push(HeldKeys {
                sample: HeldSample {
                    task: task_no,
                    set: self.held_sets.push(&set)?,
                    id: s.id,
                    split: k.split,
                },
                probe,
            });
        }
        Ok(())
    }
}

//! One task's per-batch machinery: a batch of records out of the steps is rendered, goes
//! through the per-batch stages, is scanned for near-dedup and leakage keys, and is stored.

use super::{Kept, RunOptions};
use crate::TaskError;
use crate::stages::{Stage, TaskContext};
use crate::store::{Ledger, RecordFile, Store};
use medsins_core::{LedgerEntry, LedgerReason, Sample, SampleId, Split};
use medsins_quality::minhash::{NearIndex, scan_into, shingles_into};
use medsins_readers::Record;
use medsins_render::{RecordRenderError, Rendered, StepOutput, TaskRenderer};
use rayon::prelude::*;
use std::time::Instant;

/// Counts and seconds of the per-batch work, summed over batches.
#[derive(Default)]
pub(super) struct Tally {
    pub read: f64,
    pub steps: f64,
    pub render: f64,
    pub rendered: u64,
    /// `(in, out, seconds)` of every per-batch stage, in order
    pub stages: Vec<(u64, u64, f64)>,
    pub near: f64,
    pub store: f64,
}

impl Tally {
    /// Seconds spent on this task's work (not reading).
    pub fn busy(&self) -> f64 {
        self.render
            + self.store
            + self.near
            + self.steps
            + self.stages.iter().map(|s| s.2).sum::<f64>()
    }
}

/// The per-file state of a task run.
pub(super) struct FileRun<'a> {
    pub file_no: u32,
    pub file_id: &'a str,
    pub rel: &'a str,
    /// The file's official split, for tasks whose split policy is `official`.
    pub official: Option<Split>,
    /// Records out of the steps so far: the next record's number (its order key).
    pub n: u64,
    /// Index in `kept` of the file's first kept sample (for `head` splits).
    pub first_kept: usize,
    /// Records read from the file, and those the steps added and merged.
    pub read: u64,
    pub added: u64,
    pub merged: u64,
}

impl FileRun<'_> {
    /// What the steps did to records without keeping them: counted for the accounting.
    pub fn reshaped(&mut self, out: &StepOutput) {
        self.added += out.added;
        self.merged += out.merged;
    }

    /// The file's tally once it has been read.
    pub fn tally(&self) -> super::FileTally {
        super::FileTally {
            file_no: self.file_no,
            file_id: self.file_id.to_string(),
            file: self.rel.to_string(),
            read: self.read,
            added: self.added,
            merged: self.merged,
        }
    }
}

/// The task's per-batch machinery.
pub(super) struct Runner<'a> {
    pub cx: TaskContext<'a>,
    pub opts: RunOptions<'a>,
    pub renderer: &'a TaskRenderer,
    pub stages: Vec<Box<dyn Stage>>,
    pub near: NearIndex,
    pub store: Store,
    pub ledger: Ledger,
    pub kept: Vec<Kept>,
    /// leakage probes of the stored samples (builds only)
    pub probes: Option<RecordFile>,
    /// order key of each kept sample, for `head` splits (record number in its file)
    pub order: Vec<u64>,
    /// ids of the kept samples, in `kept` order
    pub ids: Vec<SampleId>,
    /// what each file read so far gave the steps
    pub files: Vec<super::FileTally>,
    /// ordinals of the samples a `head` split with `rest = "drop"` cuts off
    pub head_cut: Vec<u32>,
    pub tally: Tally,
    pub buf: Vec<u8>,
}

impl Runner<'_> {
    /// A ledger entry for a raw record of this task.
    pub fn entry(
        &self,
        stage: &str,
        reason: LedgerReason,
        file: &str,
        locator: &str,
        detail: String,
    ) -> LedgerEntry {
        LedgerEntry {
            detail,
            ..LedgerEntry::new(self.cx.meta, stage, reason, file, locator)
        }
    }

    /// A batch out of the steps: render, per-batch stages, scan, store.
    pub fn take(&mut self, f: &mut FileRun, out: StepOutput) -> Result<(), TaskError> {
        f.reshaped(&out);
        for d in out.dropped {
            let e = self.entry(
                "steps",
                LedgerReason::Filtered,
                f.rel,
                &d.locator,
                d.message,
            );
            self.ledger.push(e)?;
        }
        for d in out.errors {
            let e = self.entry(
                "steps",
                LedgerReason::Quarantined,
                f.rel,
                &d.locator,
                d.message,
            );
            self.ledger.push(e)?;
        }
        let mut batch = self.render(f, out.records)?;
        for (k, stage) in self.stages.iter_mut().enumerate() {
            let start = Instant::now();
            let before = batch.len() as u64;
            batch = stage.run(&self.cx, batch, &mut self.ledger)?;
            let t = &mut self.tally.stages[k];
            t.0 += before;
            t.1 += batch.len() as u64;
            t.2 += start.elapsed().as_secs_f64();
        }
        self.scan(&batch)?;
        self.keep(batch)
    }

    /// Renders a batch (in parallel, order kept); a record that does not render, or renders an
    /// empty group key, is quarantined; one the filter rejects is ledgered as filtered.
    fn render(&mut self, f: &mut FileRun, records: Vec<Record>) -> Result<Vec<Sample>, TaskError> {
        let start = Instant::now();
        let renderer = self.renderer;
        let rendered: Vec<(Record, Result<Rendered, RecordRenderError>)> = records
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
            let problem = match r {
                Err(e) => Some((LedgerReason::Quarantined, e.to_string())),
                Ok(Rendered::Filtered) => {
                    Some((LedgerReason::Filtered, "the task's filter is false".into()))
                }
                Ok(Rendered::Sample {
                    group_key: Some(g), ..
                }) if g.trim().is_empty() => Some((
                    LedgerReason::Quarantined,
                    "group_key renders empty for this record; choose a field every record has"
                        .into(),
                )),
                Ok(Rendered::Sample {
                    input,
                    output,
                    group_key,
                }) => {
                    samples.push(Sample {
                        id: SampleId::UNDERIVED,
                        instruction: String::new(),
                        instruction_id: 0,
                        input,
                        output,
                        split: f.official,
                        source_file: f.rel.to_string(),
                        source_locator: locator.clone(),
                        raw_sha256,
                        group_key: group_key.unwrap_or_default(),
                        order: (f.file_no, i),
                    });
                    None
                }
            };
            if let Some((reason, message)) = problem {
                let e = self.entry("render", reason, f.rel, &locator, message);
                self.ledger.push(e)?;
            }
        }
        self.tally.rendered += samples.len() as u64;
        self.tally.render += start.elapsed().as_secs_f64();
        Ok(samples)
    }

    /// One scan of every input and output gives the near-dedup signature and the leakage probe
    /// of the input (no scan when the task needs neither).
    fn scan(&mut self, batch: &[Sample]) -> Result<(), TaskError> {
        let start = Instant::now();
        let (k, seed, near_on) = (self.near.cfg.shingle, self.cx.seed, self.near.enabled());
        let held = self.opts.held_out.map(|h| h.1);
        if !near_on && held.is_none() {
            return Ok(());
        }
        let scanned: Vec<(Vec<u64>, Option<Vec<u8>>)> = batch
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
            .collect();
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
        Ok(())
    }

    /// Stores the batch's samples and keeps their handles, ids and splits.
    fn keep(&mut self, batch: Vec<Sample>) -> Result<(), TaskError> {
        let start = Instant::now();
        for s in batch {
            // a head split is decided when the file's record count is known
            let split = s.split.unwrap_or(Split::Train);
            let file = u16::try_from(s.order.0).map_err(|_| TaskError::TooManyFiles)?;
            self.order.push(s.order.1);
            self.ids.push(s.id);
            let handle = self.store.push(s, &mut self.buf)?;
            let ordinal = self.kept.len() as u32;
            self.kept.push(Kept {
                handle,
                ordinal,
                file,
                split,
            });
        }
        self.tally.store += start.elapsed().as_secs_f64();
        Ok(())
    }
}

//! A task run saved to a folder and loaded back: how a unit lives in the build cache
//! (docs/scale-out.md). The store files the run wrote into the folder stay as they are
//! (`<k>.ledger`, `<k>.probes`, `<k>.held-sets`, `k` the task's position in its unit) but the
//! samples, the bulk of a unit, which are compressed (`<k>.samples.zst`, zstd); the per-sample
//! state the run kept in memory goes into two files of fixed-size records (`<k>.kept`: the
//! kept samples' handles, ordinals and splits; `<k>.held`: the held-out samples' leakage
//! keys), and its counts into a [`SavedTask`]. A loaded run reads its files in place,
//! read-only, and its samples from a decompressed copy in the build's scratch folder: what
//! later phases add to its ledger goes there too.

use super::{Kept, TaskRun};
use crate::store::{FramedFile, Ledger, LedgerCounts, RecordFile, SetStore, Store, StoreError};
use medsins_core::{SampleId, Split, TaskMeta};
use medsins_quality::ContaminationCounts;
use medsins_quality::leakage::{HeldKeys, HeldOut, HeldSample};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Bytes of a `<k>.kept` record: handle (u64), ordinal (u32), split (u8), file (u16).
const KEPT_RECORD: usize = 15;
/// Bytes of a `<k>.held` record before the encoded probe: set handle (u64), set number
/// (u32), sample id (u128), split (u8).
const HELD_PREFIX: usize = 29;

/// zstd level of a saved task's samples. Measured on the cache of a 0.03-scale synthetic
/// build (394 MB of samples, one stream): level 1 gives 86 MB for 1.4 CPU-s, level 3 66 MB
/// for 1.5 CPU-s, level 6 68 MB for 4.7 CPU-s; decompression costs 0.3 CPU-s at any level.
const SAMPLES_ZSTD_LEVEL: i32 = 3;

/// The compressed samples of a saved task at `base`.
fn packed_samples(base: &Path) -> PathBuf {
    base.with_extension("samples.zst")
}

/// Streams `from` through zstd (`compress`: at [`SAMPLES_ZSTD_LEVEL`]; else decompressing)
/// into a new file `to`.
fn zstd_copy(from: &Path, to: &Path, compress: bool) -> Result<(), StoreError> {
    let src = std::fs::File::open(from).map_err(StoreError::io(from))?;
    let dst = std::fs::File::create(to).map_err(StoreError::io(to))?;
    let mut dst = std::io::BufWriter::with_capacity(1 << 20, dst);
    let src = std::io::BufReader::with_capacity(1 << 20, src);
    if compress {
        zstd::stream::copy_encode(src, &mut dst, SAMPLES_ZSTD_LEVEL).map_err(StoreError::io(to))?;
    } else {
        zstd::stream::copy_decode(src, &mut dst).map_err(StoreError::io(from))?;
    }
    std::io::Write::flush(&mut dst).map_err(StoreError::io(to))
}

/// What a saved task run keeps besides its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedTask {
    pub task_id: String,
    pub records_read: u64,
    /// `[stage, in, out]`, as the run recorded them.
    pub stages: Vec<(String, u64, u64)>,
    pub ledger: LedgerCounts,
    /// Samples in the store (kept or not).
    pub stored: u64,
    pub kept: u64,
    pub held: u64,
    /// Whether the run wrote leakage probes.
    pub probes: bool,
    /// `(benchmark, field, samples removed)`.
    pub contamination: Vec<(String, String, u64)>,
    /// Per raw file: records read and those the steps added or merged (the accounting).
    pub files: Vec<super::FileTally>,
}

/// The files of the task at position `k` of a unit in `dir`, without extension: the scratch
/// path its run writes to (`<k>.samples`, `<k>.ledger`, and through
/// [`super::RunOptions::scratch`] `<k>.probes`, `<k>.held-sets`).
pub fn task_files(dir: &Path, k: usize) -> PathBuf {
    dir.join(k.to_string())
}

fn split_code(s: Split) -> u8 {
    Split::ALL.iter().position(|x| *x == s).unwrap_or(0) as u8
}

fn split_of(path: &Path, code: u8) -> Result<Split, StoreError> {
    Split::ALL
        .get(code as usize)
        .copied()
        .ok_or_else(|| StoreError::corrupt(path, 0))
}

/// `N` bytes of a record at `at` (records have their fixed size, so they are there).
fn le<const N: usize>(r: &[u8], at: usize) -> [u8; N] {
    let mut b = [0u8; N];
    b.copy_from_slice(&r[at..at + N]);
    b
}

impl TaskRun {
    /// Saves the run's in-memory state next to its files (`base` = [`task_files`]); its
    /// ledger is sealed, so the run is done with once saved.
    pub fn save(&mut self, base: &Path, held: &HeldOut) -> Result<SavedTask, StoreError> {
        self.ledger.seal()?;
        self.store.seal()?;
        let samples = base.with_extension("samples");
        zstd_copy(&samples, &packed_samples(base), true)?;
        std::fs::remove_file(&samples).map_err(StoreError::io(&samples))?;
        let mut kept = RecordFile::create(base.with_extension("kept"), KEPT_RECORD)?;
        let mut rec = Vec::with_capacity(HELD_PREFIX + held.probe_len());
        for k in &self.kept {
            rec.clear();
            rec.extend_from_slice(&k.handle.to_le_bytes());
            rec.extend_from_slice(&k.ordinal.to_le_bytes());
            rec.push(split_code(k.split));
            rec.extend_from_slice(&k.file.to_le_bytes());
            kept.push(&rec)?;
        }
        kept.seal()?;
        let handles = self.held_sets.handles().ok_or_else(|| {
            StoreError::misuse(base, "held-out sets kept in memory cannot be saved")
        })?;
        let mut file =
            RecordFile::create(base.with_extension("held"), HELD_PREFIX + held.probe_len())?;
        for h in &self.held {
            let s = &h.sample;
            let handle = handles
                .get(s.set as usize)
                .ok_or(StoreError::NoRecord(s.set as u64))?;
            rec.clear();
            rec.extend_from_slice(&handle.to_le_bytes());
            rec.extend_from_slice(&s.set.to_le_bytes());
            rec.extend_from_slice(&s.id.as_u128().to_le_bytes());
            rec.push(split_code(s.split));
            held.encode(&h.probe, &mut rec);
            file.push(&rec)?;
        }
        file.seal()?;
        Ok(SavedTask {
            task_id: self.meta.task_id.clone(),
            records_read: self.records_read,
            stages: self.stages.clone(),
            ledger: self.ledger.counts(),
            stored: self.store.records(),
            kept: self.kept.len() as u64,
            held: self.held.len() as u64,
            probes: self.probes.is_some(),
            contamination: self
                .contamination
                .iter()
                .map(|((b, f), n)| (b.clone(), f.clone(), *n))
                .collect(),
            files: self.files.clone(),
        })
    }

    /// A run saved at `base` ([`TaskRun::save`]), read in place. `job` is the task's position
    /// in this build (what its held-out samples name); its samples are decompressed to
    /// `<scratch>.samples` and later ledger entries go to `<scratch>.ledger`.
    pub fn load(
        base: &Path,
        saved: &SavedTask,
        meta: TaskMeta,
        job: usize,
        held: &HeldOut,
        scratch: &Path,
    ) -> Result<TaskRun, StoreError> {
        let kept_path = base.with_extension("kept");
        let mut kept = Vec::with_capacity(saved.kept as usize);
        each_record(
            RecordFile::open(kept_path.clone(), KEPT_RECORD)?,
            saved.kept,
            |r| {
                kept.push(Kept {
                    handle: u64::from_le_bytes(le(r, 0)),
                    ordinal: u32::from_le_bytes(le(r, 8)),
                    split: split_of(&kept_path, r[12])?,
                    file: u16::from_le_bytes(le(r, 13)),
                });
                Ok(())
            },
        )?;
        let held_path = base.with_extension("held");
        let mut keys = Vec::with_capacity(saved.held as usize);
        let mut handles = vec![0u64; saved.held as usize];
        let size = HELD_PREFIX + held.probe_len();
        each_record(
            RecordFile::open(held_path.clone(), size)?,
            saved.held,
            |r| {
                let set = u32::from_le_bytes(le(r, 8));
                let slot = handles
                    .get_mut(set as usize)
                    .ok_or_else(|| StoreError::corrupt(&held_path, set as u64))?;
                *slot = u64::from_le_bytes(le(r, 0));
                let probe = held
                    .decode(&r[HELD_PREFIX..])
                    .ok_or_else(|| StoreError::corrupt(&held_path, set as u64))?;
                keys.push(HeldKeys {
                    sample: HeldSample {
                        task: job,
                        set,
                        id: SampleId::from_u128(u128::from_le_bytes(le(r, 12))),
                        split: split_of(&held_path, r[28])?,
                    },
                    probe,
                });
                Ok(())
            },
        )?;
        let probes = saved
            .probes
            .then(|| RecordFile::open(base.with_extension("probes"), held.probe_len()))
            .transpose()?;
        let contamination: ContaminationCounts = saved
            .contamination
            .iter()
            .map(|(b, f, n)| ((b.clone(), f.clone()), *n))
            .collect();
        let samples = scratch.with_extension("samples");
        zstd_copy(&packed_samples(base), &samples, false)?;
        Ok(TaskRun {
            meta,
            store: Store::Spill(FramedFile::open(samples, saved.stored)?),
            kept,
            ledger: Ledger::resume(
                base.with_extension("ledger"),
                saved.ledger.clone(),
                scratch.with_extension("ledger"),
            )?,
            records_read: saved.records_read,
            stages: saved.stages.clone(),
            seconds: Vec::new(),
            held: keys,
            held_sets: SetStore::open(base.with_extension("held-sets"), handles)?,
            probes,
            contamination,
            files: saved.files.clone(),
        })
    }
}

/// Every record of `file`, which must hold exactly `n`.
fn each_record(
    file: RecordFile,
    n: u64,
    mut f: impl FnMut(&[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    if file.len() != n {
        return Err(StoreError::corrupt(file.path(), file.len()));
    }
    let numbers: Vec<u64> = (0..n).collect();
    file.for_each(&numbers, &mut |batch: Vec<Vec<u8>>| {
        batch.iter().try_for_each(|r| f(r))
    })
}

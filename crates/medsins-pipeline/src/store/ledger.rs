//! A task's ledger: entries kept in memory or spilled to a [`FramedFile`] (one JSON object a
//! record), plus the counts the stats need (by reason, by stage). A ledger saved with a unit in
//! the build cache is resumed read-only: later entries (the cross-task passes, the write phase)
//! go to a new file, read after it.

use super::{FramedFile, READ_BATCH, StoreError};
use medsins_core::{LedgerEntry, LedgerReason};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct Ledger {
    sink: Sink,
    pub by_reason: BTreeMap<LedgerReason, u64>,
    pub by_stage: BTreeMap<String, u64>,
    /// Entries by `source_file`, then reason (record accounting per file).
    pub by_file: BTreeMap<String, BTreeMap<LedgerReason, u64>>,
    pub len: u64,
    /// Why records were quarantined, kept beside the entries: a corpus that fails its error
    /// budget is not written, so its message must carry the cause itself.
    pub causes: QuarantineCauses,
}

/// The distinct details of quarantined records, each with its count and first record.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QuarantineCauses {
    by_detail: BTreeMap<String, (u64, String)>,
    /// Quarantined records whose detail came after the first [`DISTINCT_CAUSES`] kinds.
    other: u64,
}

/// Distinct causes kept per ledger; the rest are only counted.
const DISTINCT_CAUSES: usize = 16;
/// Causes named in a message.
const CAUSES_SHOWN: usize = 3;

impl QuarantineCauses {
    pub fn add(&mut self, detail: &str, file: &str, locator: &str) {
        let detail: String = detail.chars().take(200).collect();
        if let Some(c) = self.by_detail.get_mut(&detail) {
            c.0 += 1;
        } else if self.by_detail.len() < DISTINCT_CAUSES {
            self.by_detail
                .insert(detail, (1, format!("{file} {locator}")));
        } else {
            self.other += 1;
        }
    }

    /// Adds another ledger's causes (a later task's first records come after this one's).
    pub fn merge(&mut self, other: &QuarantineCauses) {
        for (detail, (n, first)) in &other.by_detail {
            let room = self.by_detail.len() < DISTINCT_CAUSES;
            match self.by_detail.get_mut(detail) {
                Some(c) => c.0 += n,
                None if room => {
                    self.by_detail.insert(detail.clone(), (*n, first.clone()));
                }
                None => self.other += n,
            }
        }
        self.other += other.other;
    }

    /// The most frequent causes, e.g. `12 × invalid JSON (first: data.jsonl line 3)`.
    pub fn describe(&self) -> String {
        let mut v: Vec<(&String, &(u64, String))> = self.by_detail.iter().collect();
        v.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
        let mut parts: Vec<String> = v
            .iter()
            .take(CAUSES_SHOWN)
            .map(|(d, (n, first))| format!("{n} × {d} (first: {first})"))
            .collect();
        let rest: u64 = v.iter().skip(CAUSES_SHOWN).map(|x| x.1.0).sum::<u64>() + self.other;
        if rest > 0 {
            parts.push(format!("{rest} for other reasons"));
        }
        parts.join("; ")
    }
}

/// A ledger's counts, as a unit in the build cache keeps them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LedgerCounts {
    pub len: u64,
    pub by_reason: BTreeMap<LedgerReason, u64>,
    pub by_stage: BTreeMap<String, u64>,
    #[serde(default)]
    pub by_file: BTreeMap<String, BTreeMap<LedgerReason, u64>>,
    pub causes: QuarantineCauses,
}

enum Sink {
    Memory(Vec<LedgerEntry>),
    Spill {
        /// Entries of a resumed ledger (read-only), read before `file`'s.
        base: Option<FramedFile>,
        file: FramedFile,
        buf: Vec<u8>,
    },
}

impl Ledger {
    pub fn memory() -> Ledger {
        Ledger::with(Sink::Memory(Vec::new()))
    }

    pub fn spill(path: PathBuf) -> Result<Ledger, StoreError> {
        Ok(Ledger::with(Sink::Spill {
            base: None,
            file: FramedFile::create(path)?,
            buf: Vec::new(),
        }))
    }

    /// A spilled ledger saved earlier (`base`, sealed, with its `counts`), continued: new
    /// entries go to `more`, and are read after the saved ones.
    pub fn resume(
        base: PathBuf,
        counts: LedgerCounts,
        more: PathBuf,
    ) -> Result<Ledger, StoreError> {
        Ok(Ledger {
            sink: Sink::Spill {
                base: Some(FramedFile::open(base, counts.len)?),
                file: FramedFile::create(more)?,
                buf: Vec::new(),
            },
            by_reason: counts.by_reason,
            by_stage: counts.by_stage,
            by_file: counts.by_file,
            len: counts.len,
            causes: counts.causes,
        })
    }

    pub fn counts(&self) -> LedgerCounts {
        LedgerCounts {
            len: self.len,
            by_reason: self.by_reason.clone(),
            by_stage: self.by_stage.clone(),
            by_file: self.by_file.clone(),
            causes: self.causes.clone(),
        }
    }

    /// Ends writing: a spill is flushed (to be saved); entries can no longer be added.
    pub fn seal(&mut self) -> Result<(), StoreError> {
        match &mut self.sink {
            Sink::Memory(_) => Ok(()),
            Sink::Spill { file, .. } => file.seal(),
        }
    }

    fn with(sink: Sink) -> Ledger {
        Ledger {
            sink,
            by_reason: BTreeMap::new(),
            by_stage: BTreeMap::new(),
            by_file: BTreeMap::new(),
            len: 0,
            causes: QuarantineCauses::default(),
        }
    }

    /// Appends an entry; it is counted only once stored (a sealed ledger refuses it).
    pub fn push(&mut self, e: LedgerEntry) -> Result<(), StoreError> {
        // counted only once stored, from what the entry says before it moves into the sink
        let (reason, stage, file) = (e.reason, e.stage.clone(), e.source_file.clone());
        let cause = (reason == LedgerReason::Quarantined)
            .then(|| (e.detail.clone(), e.source_locator.clone()));
        match &mut self.sink {
            Sink::Memory(v) => v.push(e),
            Sink::Spill { file, buf, .. } => {
                buf.clear();
                serde_json::to_writer(&mut *buf, &e).map_err(|e| file.encode_error(e))?;
                file.push(buf)?;
            }
        }
        *self.by_reason.entry(reason).or_default() += 1;
        *self.by_stage.entry(stage).or_default() += 1;
        if let Some((detail, locator)) = cause {
            self.causes.add(&detail, &file, &locator);
        }
        *self
            .by_file
            .entry(file)
            .or_default()
            .entry(reason)
            .or_default() += 1;
        self.len += 1;
        Ok(())
    }

    /// Entries removed by `stage`.
    pub fn in_stage(&self, stage: &str) -> u64 {
        self.by_stage.get(stage).copied().unwrap_or(0)
    }

    pub fn count(&self, reason: LedgerReason) -> u64 {
        self.by_reason.get(&reason).copied().unwrap_or(0)
    }

    /// Every entry, in order, batch by batch (a spill is sealed and read back).
    pub fn for_each<E: From<StoreError>>(
        &mut self,
        f: &mut dyn FnMut(Vec<LedgerEntry>) -> Result<(), E>,
    ) -> Result<(), E> {
        match &mut self.sink {
            Sink::Memory(v) => {
                for c in v.chunks(READ_BATCH) {
                    f(c.to_vec())?;
                }
                Ok(())
            }
            Sink::Spill { base, file, .. } => {
                file.seal()?;
                for file in base.iter().chain(std::iter::once(&*file)) {
                    file.for_all(
                        |body, at| serde_json::from_slice(body).map_err(|_| file.corrupt(at)),
                        f,
                    )?;
                }
                Ok(())
            }
        }
    }

    /// Every entry, in order.
    pub fn into_entries(mut self) -> Result<Vec<LedgerEntry>, StoreError> {
        if let Sink::Memory(v) = self.sink {
            return Ok(v);
        }
        let mut all = Vec::with_capacity(self.len as usize);
        self.for_each(&mut |b| {
            all.extend(b);
            Ok::<(), StoreError>(())
        })?;
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Task `t` of corpus `c`, the rest empty.
    fn task_meta() -> medsins_core::TaskMeta {
        medsins_core::TaskMeta {
            task_id: "t".into(),
            task_no: 1,
            corpus_id: "c".into(),
            category: String::new(),
            text_source: String::new(),
            domains: vec![],
            languages: vec![],
            license: String::new(),
            access: String::new(),
            source_variant: String::new(),
            manifest_sha256: String::new(),
        }
    }

    #[test]
    fn ledger_spill_keeps_order_and_counts_and_reads_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let mut l = Ledger::spill(tmp.path().join("t.ledger")).unwrap();
        let meta = task_meta();
        for i in 0..3000 {
            let reason = if i % 2 == 0 {
                LedgerReason::Filtered
            } else {
                LedgerReason::Quarantined
            };
            l.push(LedgerEntry::new(
                &meta,
                "read",
                reason,
                "f",
                &format!("line {i}"),
            ))
            .unwrap();
        }
        assert_eq!(
            (l.count(LedgerReason::Filtered), l.in_stage("read"), l.len),
            (1500, 3000, 3000)
        );
        assert_eq!(l.by_file["f"][&LedgerReason::Quarantined], 1500);
        let mut locs = Vec::new();
        l.for_each(&mut |b| {
            locs.extend(b.into_iter().map(|e| e.source_locator));
            Ok::<(), StoreError>(())
        })
        .unwrap();
        assert_eq!(locs.len(), 3000);
        assert_eq!(locs[2999], "line 2999");
        // a spilled ledger reads back whole, not empty
        let all = l.into_entries().unwrap();
        assert_eq!(all.len(), 3000);
        assert_eq!(all[1].reason, LedgerReason::Quarantined);
    }

    #[test]
    fn a_resumed_ledger_reads_the_saved_entries_then_the_new_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let meta = task_meta();
        let entry = |reason, loc: &str| LedgerEntry::new(&meta, "read", reason, "f", loc);
        let mut saved = Ledger::spill(tmp.path().join("0.ledger")).unwrap();
        saved.push(entry(LedgerReason::Filtered, "line 1")).unwrap();
        saved
            .push(entry(LedgerReason::Quarantined, "line 2"))
            .unwrap();
        saved.seal().unwrap();
        assert!(saved.push(entry(LedgerReason::Filtered, "late")).is_err());
        let counts = saved.counts();
        let causes = saved.causes.describe();
        assert!(
            causes.starts_with("1 × ") && causes.ends_with("(first: f line 2)"),
            "{causes}"
        );
        drop(saved);
        let mut l = Ledger::resume(
            tmp.path().join("0.ledger"),
            counts,
            tmp.path().join("0.ledger-more"),
        )
        .unwrap();
        l.push(entry(LedgerReason::Filtered, "line 3")).unwrap();
        assert_eq!(
            l.causes.describe(),
            causes,
            "the causes are saved with the counts"
        );
        assert_eq!(
            (l.len, l.count(LedgerReason::Filtered), l.in_stage("read")),
            (3, 2, 3)
        );
        let locs: Vec<String> = l
            .into_entries()
            .unwrap()
            .into_iter()
            .map(|e| e.source_locator)
            .collect();
        assert_eq!(locs, ["line 1", "line 2", "line 3"]);
    }
}

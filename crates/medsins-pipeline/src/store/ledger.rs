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
    pub len: u64,
}

/// A ledger's counts, as a unit in the build cache keeps them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LedgerCounts {
    pub len: u64,
    pub by_reason: BTreeMap<LedgerReason, u64>,
    pub by_stage: BTreeMap<String, u64>,
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
            len: counts.len,
        })
    }

    pub fn counts(&self) -> LedgerCounts {
        LedgerCounts {
            len: self.len,
            by_reason: self.by_reason.clone(),
            by_stage: self.by_stage.clone(),
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
            len: 0,
        }
    }

    /// Appends an entry; it is counted only once stored (a sealed ledger refuses it).
    pub fn push(&mut self, e: LedgerEntry) -> Result<(), StoreError> {
        let (reason, stage) = (e.reason, e.stage.clone());
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

    #[test]
    fn ledger_spill_keeps_order_and_counts_and_reads_back_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let mut l = Ledger::spill(tmp.path().join("t.ledger")).unwrap();
        let meta = medsins_core::TaskMeta {
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
        };
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
        let meta = medsins_core::TaskMeta {
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
        };
        let entry = |reason, loc: &str| LedgerEntry::new(&meta, "read", reason, "f", loc);
        let mut saved = Ledger::spill(tmp.path().join("0.ledger")).unwrap();
        saved.push(entry(LedgerReason::Filtered, "line 1")).unwrap();
        saved
            .push(entry(LedgerReason::Quarantined, "line 2"))
            .unwrap();
        saved.seal().unwrap();
        assert!(saved.push(entry(LedgerReason::Filtered, "late")).is_err());
        let counts = saved.counts();
        drop(saved);
        let mut l = Ledger::resume(
            tmp.path().join("0.ledger"),
            counts,
            tmp.path().join("0.ledger-more"),
        )
        .unwrap();
        l.push(entry(LedgerReason::Filtered, "line 3")).unwrap();
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

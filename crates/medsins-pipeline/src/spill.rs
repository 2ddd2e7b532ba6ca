//! Where a task's samples and ledger entries wait between the per-task stages, the cross-task
//! passes and the output.
//!
//! A build never holds a task's texts in memory: each sample is appended to the task's spill
//! file as soon as the per-batch stages have passed it, and the build keeps only its handle
//! (the byte offset) and a few bytes of per-sample state. Later passes read the samples back,
//! sequentially (leakage, writing) or one at a time (near-duplicate confirmation). Previews,
//! audits and `validate` render small inputs and keep everything in memory ([`Store::Memory`]),
//! through the same code.
//!
//! Spill record: `u32` length of the rest, `u32` file number, `u64` record number, then the
//! id, input, output, source file, source locator and raw SHA-256, each as `u32` length + UTF-8.

use medsins_core::{LedgerEntry, Sample};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Samples are read back from a spill this many at a time.
pub const READ_BATCH: usize = 2048;

/// A task's samples, in the order they were pushed.
pub enum Store {
    Memory(Vec<Sample>),
    Spill(SpillFile),
}

/// An append-only file of samples.
pub struct SpillFile {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    /// A second handle for positional reads (`pread`), opened once writing is done.
    reader: Option<File>,
    len: u64,
}

fn io_err(path: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

fn encode(s: &Sample, buf: &mut Vec<u8>) {
    buf.clear();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&s.order.0.to_le_bytes());
    buf.extend_from_slice(&s.order.1.to_le_bytes());
    for f in [
        &s.id,
        &s.input,
        &s.output,
        &s.source_file,
        &s.source_locator,
        &s.raw_sha256,
    ] {
        put_str(buf, f);
    }
    let n = (buf.len() - 4) as u32;
    buf[..4].copy_from_slice(&n.to_le_bytes());
}

fn decode(body: &[u8]) -> Option<Sample> {
    let mut at = 0usize;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = body.get(at..at + n)?;
        at += n;
        Some(s)
    };
    let file = u32::from_le_bytes(take(4)?.try_into().ok()?);
    let rec = u64::from_le_bytes(take(8)?.try_into().ok()?);
    let mut strs: Vec<String> = Vec::with_capacity(6);
    for _ in 0..6 {
        let n = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        strs.push(String::from_utf8(take(n)?.to_vec()).ok()?);
    }
    let mut it = strs.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Some(Sample {
        id: next(),
        input: next(),
        output: next(),
        source_file: next(),
        source_locator: next(),
        raw_sha256: next(),
        instruction: String::new(),
        instruction_id: 0,
        split: String::new(),
        group_key: String::new(),
        order: (file, rec),
    })
}

#[cfg(unix)]
pub(crate) fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(windows)]
pub(crate) fn read_exact_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(f, buf, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        offset += n as u64;
    }
    Ok(())
}

impl SpillFile {
    pub fn create(path: PathBuf) -> Result<SpillFile, String> {
        let f = File::create(&path).map_err(|e| io_err(&path, e))?;
        Ok(SpillFile {
            path,
            writer: Some(BufWriter::with_capacity(1 << 20, f)),
            reader: None,
            len: 0,
        })
    }

    fn push(&mut self, s: &Sample, buf: &mut Vec<u8>) -> Result<u64, String> {
        let at = self.len;
        encode(s, buf);
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| format!("{}: spill already sealed", self.path.display()))?;
        w.write_all(buf).map_err(|e| io_err(&self.path, e))?;
        self.len += buf.len() as u64;
        Ok(at)
    }

    /// Ends writing: everything is flushed and the file can be read.
    fn seal(&mut self) -> Result<(), String> {
        if let Some(mut w) = self.writer.take() {
            w.flush().map_err(|e| io_err(&self.path, e))?;
        }
        if self.reader.is_none() {
            self.reader = Some(File::open(&self.path).map_err(|e| io_err(&self.path, e))?);
        }
        Ok(())
    }

    fn get(&self, at: u64) -> Result<Sample, String> {
        let f = self
            .reader
            .as_ref()
            .ok_or_else(|| format!("{}: spill read before it was sealed", self.path.display()))?;
        let bad = || format!("{}: corrupt spill record at byte {at}", self.path.display());
        let mut n = [0u8; 4];
        read_exact_at(f, &mut n, at).map_err(|e| io_err(&self.path, e))?;
        let mut body = vec![0u8; u32::from_le_bytes(n) as usize];
        read_exact_at(f, &mut body, at + 4).map_err(|e| io_err(&self.path, e))?;
        decode(&body).ok_or_else(bad)
    }

    /// Reads the records at `handles` (increasing offsets) sequentially, batch by batch.
    fn for_each(
        &self,
        handles: &[u64],
        f: &mut dyn FnMut(Vec<Sample>) -> Result<(), String>,
    ) -> Result<(), String> {
        let file = File::open(&self.path).map_err(|e| io_err(&self.path, e))?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut pos = 0u64;
        let mut body = Vec::new();
        for chunk in handles.chunks(READ_BATCH) {
            let mut batch = Vec::with_capacity(chunk.len());
            for &at in chunk {
                if at < pos {
                    return Err(format!("{}: handles out of order", self.path.display()));
                }
                skip(&mut r, at - pos).map_err(|e| io_err(&self.path, e))?;
                let mut n = [0u8; 4];
                r.read_exact(&mut n).map_err(|e| io_err(&self.path, e))?;
                let len = u32::from_le_bytes(n) as usize;
                body.resize(len, 0);
                r.read_exact(&mut body).map_err(|e| io_err(&self.path, e))?;
                pos = at + 4 + len as u64;
                batch.push(decode(&body).ok_or_else(|| {
                    format!("{}: corrupt spill record at byte {at}", self.path.display())
                })?);
            }
            f(batch)?;
        }
        Ok(())
    }
}

/// Skips `n` bytes of a buffered reader.
fn skip(r: &mut BufReader<File>, mut n: u64) -> std::io::Result<()> {
    while n > 0 {
        let avail = r.fill_buf()?.len() as u64;
        if avail == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let k = avail.min(n);
        r.consume(k as usize);
        n -= k;
    }
    Ok(())
}

impl Store {
    /// Appends a sample; returns the handle that reads it back.
    pub fn push(&mut self, s: Sample, buf: &mut Vec<u8>) -> Result<u64, String> {
        match self {
            Store::Memory(v) => {
                v.push(s);
                Ok(v.len() as u64 - 1)
            }
            Store::Spill(f) => f.push(&s, buf),
        }
    }

    /// Ends writing (a spill is flushed and opened for reading).
    pub fn seal(&mut self) -> Result<(), String> {
        match self {
            Store::Memory(_) => Ok(()),
            Store::Spill(f) => f.seal(),
        }
    }

    /// One sample, by handle (the store must be sealed).
    pub fn get(&self, h: u64) -> Result<Sample, String> {
        match self {
            Store::Memory(v) => v
                .get(h as usize)
                .cloned()
                .ok_or_else(|| format!("no sample with handle {h}")),
            Store::Spill(f) => f.get(h),
        }
    }

    /// The samples at `handles` (in increasing order), in batches of [`READ_BATCH`].
    pub fn for_each(
        &self,
        handles: &[u64],
        f: &mut dyn FnMut(Vec<Sample>) -> Result<(), String>,
    ) -> Result<(), String> {
        match self {
            Store::Memory(v) => {
                for chunk in handles.chunks(READ_BATCH) {
                    let batch = chunk
                        .iter()
                        .map(|h| v.get(*h as usize).cloned())
                        .collect::<Option<Vec<Sample>>>()
                        .ok_or("a handle past the end of the store")?;
                    f(batch)?;
                }
                Ok(())
            }
            Store::Spill(s) => s.for_each(handles, f),
        }
    }

    /// The samples at `handles`, taken out of a memory store (previews, audits).
    pub fn take(self, handles: &[u64]) -> Result<Vec<Sample>, String> {
        match self {
            Store::Memory(mut v) => handles
                .iter()
                .map(|h| {
                    v.get_mut(*h as usize)
                        .map(std::mem::take)
                        .ok_or_else(|| format!("no sample with handle {h}"))
                })
                .collect(),
            Store::Spill(s) => {
                let mut out = Vec::with_capacity(handles.len());
                s.for_each(handles, &mut |b| {
                    out.extend(b);
                    Ok(())
                })?;
                Ok(out)
            }
        }
    }
}

/// An append-only file of fixed-size records (the leakage probes of a task's samples), read
/// back by record number.
pub struct RecordFile {
    path: PathBuf,
    size: usize,
    writer: Option<BufWriter<File>>,
    reader: Option<File>,
    pub len: u64,
}

impl RecordFile {
    pub fn create(path: PathBuf, size: usize) -> Result<RecordFile, String> {
        let f = File::create(&path).map_err(|e| io_err(&path, e))?;
        Ok(RecordFile {
            path,
            size,
            writer: Some(BufWriter::with_capacity(1 << 20, f)),
            reader: None,
            len: 0,
        })
    }

    pub fn push(&mut self, rec: &[u8]) -> Result<(), String> {
        if rec.len() != self.size {
            return Err(format!(
                "{}: a record of {} bytes where the file has {}",
                self.path.display(),
                rec.len(),
                self.size
            ));
        }
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| format!("{}: already sealed", self.path.display()))?;
        w.write_all(rec).map_err(|e| io_err(&self.path, e))?;
        self.len += 1;
        Ok(())
    }

    pub fn seal(&mut self) -> Result<(), String> {
        if let Some(mut w) = self.writer.take() {
            w.flush().map_err(|e| io_err(&self.path, e))?;
        }
        if self.reader.is_none() {
            self.reader = Some(File::open(&self.path).map_err(|e| io_err(&self.path, e))?);
        }
        Ok(())
    }

    pub fn get(&self, i: u64) -> Result<Vec<u8>, String> {
        let f = self
            .reader
            .as_ref()
            .ok_or_else(|| format!("{}: read before sealed", self.path.display()))?;
        let mut b = vec![0u8; self.size];
        read_exact_at(f, &mut b, i * self.size as u64).map_err(|e| io_err(&self.path, e))?;
        Ok(b)
    }

    /// The records at `numbers` (increasing), sequentially, in batches of [`READ_BATCH`].
    pub fn for_each(
        &self,
        numbers: &[u64],
        f: &mut dyn FnMut(Vec<Vec<u8>>) -> Result<(), String>,
    ) -> Result<(), String> {
        let file = File::open(&self.path).map_err(|e| io_err(&self.path, e))?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut pos = 0u64;
        for chunk in numbers.chunks(READ_BATCH) {
            let mut batch = Vec::with_capacity(chunk.len());
            for &n in chunk {
                let at = n * self.size as u64;
                if at < pos {
                    return Err(format!("{}: records out of order", self.path.display()));
                }
                skip(&mut r, at - pos).map_err(|e| io_err(&self.path, e))?;
                let mut b = vec![0u8; self.size];
                r.read_exact(&mut b).map_err(|e| io_err(&self.path, e))?;
                pos = at + self.size as u64;
                batch.push(b);
            }
            f(batch)?;
        }
        Ok(())
    }
}

/// A task's ledger: entries kept in memory or appended to a JSON Lines spill, plus the
/// counts the stats need (by reason, by stage).
pub struct Ledger {
    sink: LedgerSink,
    pub by_reason: BTreeMap<String, u64>,
    pub by_stage: BTreeMap<String, u64>,
    pub len: u64,
}

enum LedgerSink {
    Memory(Vec<LedgerEntry>),
    Spill { path: PathBuf, w: BufWriter<File> },
}

impl Ledger {
    pub fn memory() -> Ledger {
        Ledger::with(LedgerSink::Memory(Vec::new()))
    }

    pub fn spill(path: PathBuf) -> Result<Ledger, String> {
        let f = File::create(&path).map_err(|e| io_err(&path, e))?;
        Ok(Ledger::with(LedgerSink::Spill {
            path,
            w: BufWriter::with_capacity(256 << 10, f),
        }))
    }

    fn with(sink: LedgerSink) -> Ledger {
        Ledger {
            sink,
            by_reason: BTreeMap::new(),
            by_stage: BTreeMap::new(),
            len: 0,
        }
    }

    pub fn push(&mut self, e: LedgerEntry) -> Result<(), String> {
        *self.by_reason.entry(e.reason.clone()).or_default() += 1;
        *self.by_stage.entry(e.stage.clone()).or_default() += 1;
        self.len += 1;
        match &mut self.sink {
            LedgerSink::Memory(v) => v.push(e),
            LedgerSink::Spill { path, w } => {
                serde_json::to_writer(&mut *w, &e)
                    .map_err(|x| format!("{}: {x}", path.display()))?;
                w.write_all(b"\n").map_err(|x| io_err(path, x))?;
            }
        }
        Ok(())
    }

    /// Entries removed by `stage`.
    pub fn in_stage(&self, stage: &str) -> u64 {
        self.by_stage.get(stage).copied().unwrap_or(0)
    }

    pub fn count(&self, reason: &str) -> u64 {
        self.by_reason.get(reason).copied().unwrap_or(0)
    }

    /// Every entry, in order (a spill is flushed and read back, batch by batch).
    pub fn for_each(
        &mut self,
        f: &mut dyn FnMut(Vec<LedgerEntry>) -> Result<(), String>,
    ) -> Result<(), String> {
        match &mut self.sink {
            LedgerSink::Memory(v) => {
                for c in v.chunks(READ_BATCH) {
                    f(c.to_vec())?;
                }
                Ok(())
            }
            LedgerSink::Spill { path, w } => {
                w.flush().map_err(|e| io_err(path, e))?;
                let r = BufReader::new(File::open(&*path).map_err(|e| io_err(path, e))?);
                let mut batch = Vec::with_capacity(READ_BATCH);
                for line in r.lines() {
                    let line = line.map_err(|e| io_err(path, e))?;
                    batch.push(
                        serde_json::from_str(&line).map_err(|e| {
                            format!("{}: corrupt ledger spill: {e}", path.display())
                        })?,
                    );
                    if batch.len() == READ_BATCH {
                        f(std::mem::take(&mut batch))?;
                    }
                }
                if !batch.is_empty() {
                    f(batch)?;
                }
                Ok(())
            }
        }
    }

    /// The entries of a memory ledger.
    pub fn into_entries(self) -> Vec<LedgerEntry> {
        match self.sink {
            LedgerSink::Memory(v) => v,
            LedgerSink::Spill { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: u64, text: &str) -> Sample {
        Sample {
            id: format!("{i:032x}"),
            instruction: String::new(),
            instruction_id: 0,
            input: text.into(),
            output: format!("out {i}"),
            split: String::new(),
            source_file: "f.jsonl".into(),
            source_locator: format!("line {i}"),
            raw_sha256: "ab".repeat(32),
            group_key: String::new(),
            order: (1, i),
        }
    }

    #[test]
    fn spill_round_trips_random_and_sequential_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = Store::Spill(SpillFile::create(tmp.path().join("t.spill")).unwrap());
        let mut buf = Vec::new();
        let hs: Vec<u64> = (0..5000)
            .map(|i| {
                s.push(sample(i, &"é".repeat(i as usize % 7)), &mut buf)
                    .unwrap()
            })
            .collect();
        s.seal().unwrap();
        assert_eq!(
            s.get(hs[4321]).unwrap(),
            sample(4321, &"é".repeat(4321 % 7))
        );
        let every_third: Vec<u64> = hs.iter().copied().step_by(3).collect();
        let mut got = Vec::new();
        s.for_each(&every_third, &mut |b| {
            assert!(b.len() <= READ_BATCH);
            got.extend(b.into_iter().map(|x| x.order.1));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, (0..5000).step_by(3).collect::<Vec<u64>>());
    }

    #[test]
    fn ledger_spill_keeps_order_and_counts() {
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
            manifest_sha256: String::new(),
        };
        for i in 0..3000 {
            let reason = if i % 2 == 0 {
                "filtered"
            } else {
                "quarantined"
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
            (l.count("filtered"), l.in_stage("read"), l.len),
            (1500, 3000, 3000)
        );
        let mut locs = Vec::new();
        l.for_each(&mut |b| {
            locs.extend(b.into_iter().map(|e| e.source_locator));
            Ok(())
        })
        .unwrap();
        assert_eq!(locs.len(), 3000);
        assert_eq!(locs[2999], "line 2999");
    }
}

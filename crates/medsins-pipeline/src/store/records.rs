//! Fixed-size records on an [`AppendFile`], read back by number (the leakage probes of a
//! task's samples: one per stored sample, in store order).

use super::{AppendFile, READ_BATCH, StoreError};
use std::path::PathBuf;

pub struct RecordFile {
    file: AppendFile,
    size: usize,
}

impl RecordFile {
    pub fn create(path: PathBuf, size: usize) -> Result<RecordFile, StoreError> {
        Ok(RecordFile {
            file: AppendFile::create(path)?,
            size,
        })
    }

    /// An existing file of `size`-byte records, sealed: read-only (see [`AppendFile::open`]).
    pub fn open(path: PathBuf, size: usize) -> Result<RecordFile, StoreError> {
        let file = AppendFile::open(path)?;
        if file.len() % size.max(1) as u64 != 0 {
            return Err(StoreError::corrupt(file.path(), file.len()));
        }
        Ok(RecordFile { file, size })
    }

    pub fn path(&self) -> &std::path::Path {
        self.file.path()
    }

    /// Records appended so far.
    pub fn len(&self) -> u64 {
        self.file.len() / self.size.max(1) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.file.is_empty()
    }

    pub fn push(&mut self, rec: &[u8]) -> Result<(), StoreError> {
        if rec.len() != self.size {
            return Err(StoreError::misuse(
                self.file.path(),
                "a record of another size than the file's",
            ));
        }
        self.file.append(rec).map(|_| ())
    }

    pub fn seal(&mut self) -> Result<(), StoreError> {
        self.file.seal()
    }

    pub fn get(&self, i: u64) -> Result<Vec<u8>, StoreError> {
        let mut b = vec![0u8; self.size];
        self.file.read_at(&mut b, i * self.size as u64)?;
        Ok(b)
    }

    /// The records at `numbers` (increasing), sequentially, in batches of [`READ_BATCH`].
    pub fn for_each<E: From<StoreError>>(
        &self,
        numbers: &[u64],
        f: &mut dyn FnMut(Vec<Vec<u8>>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut r = self.file.sequential()?;
        for chunk in numbers.chunks(READ_BATCH) {
            let mut batch = Vec::with_capacity(chunk.len());
            for &n in chunk {
                let mut b = vec![0u8; self.size];
                r.read_at(&mut b, n * self.size as u64)?;
                batch.push(b);
            }
            f(batch)?;
        }
        Ok(())
    }
}

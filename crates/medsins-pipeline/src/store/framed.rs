//! Length-prefixed records on an [`AppendFile`]: `u32` length (little endian), then the body.

use super::{AppendFile, READ_BATCH, StoreError};
use std::path::PathBuf;

pub struct FramedFile {
    file: AppendFile,
    records: u64,
}

impl FramedFile {
    pub fn create(path: PathBuf) -> Result<FramedFile, StoreError> {
        Ok(FramedFile {
            file: AppendFile::create(path)?,
            records: 0,
        })
    }

    /// An existing file of `records` records, sealed: read-only (see [`AppendFile::open`]).
    pub fn open(path: PathBuf, records: u64) -> Result<FramedFile, StoreError> {
        Ok(FramedFile {
            file: AppendFile::open(path)?,
            records,
        })
    }

    /// Records appended so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Appends one record; returns its handle (the offset of its frame).
    pub fn push(&mut self, body: &[u8]) -> Result<u64, StoreError> {
        let len = u32::try_from(body.len())
            .map_err(|_| StoreError::misuse(self.file.path(), "a record of 4 GiB or more"))?;
        let at = self.file.append(&len.to_le_bytes())?;
        self.file.append(body)?;
        self.records += 1;
        Ok(at)
    }

    pub fn seal(&mut self) -> Result<(), StoreError> {
        self.file.seal()
    }

    /// The body of the record at `handle`.
    pub fn get(&self, handle: u64) -> Result<Vec<u8>, StoreError> {
        let mut n = [0u8; 4];
        self.file.read_at(&mut n, handle)?;
        let mut body = vec![0u8; u32::from_le_bytes(n) as usize];
        self.file.read_at(&mut body, handle + 4)?;
        Ok(body)
    }

    /// The bodies of the records at `handles` (increasing), read sequentially and handed to
    /// `f` in batches of [`READ_BATCH`]; `decode` turns each body into a value.
    pub fn for_each<T, E: From<StoreError>>(
        &self,
        handles: &[u64],
        decode: impl Fn(&[u8], u64) -> Result<T, StoreError>,
        f: &mut dyn FnMut(Vec<T>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut r = self.file.sequential()?;
        let mut body = Vec::new();
        for chunk in handles.chunks(READ_BATCH) {
            let mut batch = Vec::with_capacity(chunk.len());
            for &at in chunk {
                let mut n = [0u8; 4];
                r.read_at(&mut n, at)?;
                body.resize(u32::from_le_bytes(n) as usize, 0);
                r.read_at(&mut body, at + 4)?;
                batch.push(decode(&body, at)?);
            }
            f(batch)?;
        }
        Ok(())
    }

    /// Every record, in order (see [`FramedFile::for_each`]).
    pub fn for_all<T, E: From<StoreError>>(
        &self,
        decode: impl Fn(&[u8], u64) -> Result<T, StoreError>,
        f: &mut dyn FnMut(Vec<T>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut r = self.file.sequential()?;
        let (mut at, end) = (0u64, self.file.len());
        let mut batch = Vec::with_capacity(READ_BATCH);
        let mut body = Vec::new();
        while at < end {
            let mut n = [0u8; 4];
            r.read_at(&mut n, at)?;
            body.resize(u32::from_le_bytes(n) as usize, 0);
            r.read_at(&mut body, at + 4)?;
            batch.push(decode(&body, at)?);
            at += 4 + body.len() as u64;
            if batch.len() == READ_BATCH {
                f(std::mem::take(&mut batch))?;
            }
        }
        if !batch.is_empty() {
            f(batch)?;
        }
        Ok(())
    }

    pub(crate) fn encode_error(&self, source: serde_json::Error) -> StoreError {
        StoreError::Encode {
            path: self.file.path().to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(&self, at: u64) -> StoreError {
        StoreError::corrupt(self.file.path(), at)
    }
}

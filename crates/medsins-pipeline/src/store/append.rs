//! The one append-only file under every on-disk store of a build: written once, front to back,
//! then sealed and read back by byte offset (one record) or sequentially (many records in
//! increasing offset order).

use super::StoreError;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// How much a writer or a sequential reader buffers.
const BUFFER: usize = 1 << 20;

pub struct AppendFile {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    /// A second handle for positional reads (`pread`), opened once writing is done.
    reader: Option<File>,
    len: u64,
}

impl AppendFile {
    pub fn create(path: PathBuf) -> Result<AppendFile, StoreError> {
        let f = File::create(&path).map_err(StoreError::io(&path))?;
        Ok(AppendFile {
            path,
            writer: Some(BufWriter::with_capacity(BUFFER, f)),
            reader: None,
            len: 0,
        })
    }

    /// An existing file, sealed: read-only (a unit's files in the build cache).
    pub fn open(path: PathBuf) -> Result<AppendFile, StoreError> {
        let f = File::open(&path).map_err(StoreError::io(&path))?;
        let len = f.metadata().map_err(StoreError::io(&path))?.len();
        Ok(AppendFile {
            path,
            writer: None,
            reader: Some(f),
            len,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes appended so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `bytes`; returns the offset they start at.
    pub fn append(&mut self, bytes: &[u8]) -> Result<u64, StoreError> {
        let at = self.len;
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| StoreError::misuse(&self.path, "written after it was sealed"))?;
        w.write_all(bytes).map_err(StoreError::io(&self.path))?;
        self.len += bytes.len() as u64;
        Ok(at)
    }

    /// Ends writing: everything is flushed and the file can be read.
    pub fn seal(&mut self) -> Result<(), StoreError> {
        if let Some(mut w) = self.writer.take() {
            w.flush().map_err(StoreError::io(&self.path))?;
        }
        if self.reader.is_none() {
            self.reader = Some(File::open(&self.path).map_err(StoreError::io(&self.path))?);
        }
        Ok(())
    }

    /// Fills `buf` with the bytes at `offset` (the file must be sealed).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<(), StoreError> {
        let f = self
            .reader
            .as_ref()
            .ok_or_else(|| StoreError::misuse(&self.path, "read before it was sealed"))?;
        read_exact_at(f, buf, offset).map_err(StoreError::io(&self.path))
    }

    /// A reader that moves forward through the file (the file must be sealed).
    pub fn sequential(&self) -> Result<Sequential<'_>, StoreError> {
        if self.writer.is_some() {
            return Err(StoreError::misuse(&self.path, "read before it was sealed"));
        }
        let f = File::open(&self.path).map_err(StoreError::io(&self.path))?;
        Ok(Sequential {
            path: &self.path,
            r: BufReader::with_capacity(BUFFER, f),
            pos: 0,
        })
    }
}

/// Reads an [`AppendFile`] front to back, skipping what is not asked for.
pub struct Sequential<'a> {
    path: &'a Path,
    r: BufReader<File>,
    pos: u64,
}

impl Sequential<'_> {
    /// Fills `buf` with the bytes at `offset`, which may not be before the end of the last read.
    pub fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<(), StoreError> {
        if offset < self.pos {
            return Err(StoreError::misuse(self.path, "read out of order"));
        }
        self.skip(offset - self.pos)
            .and_then(|_| self.r.read_exact(buf))
            .map_err(StoreError::io(self.path))?;
        self.pos = offset + buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, mut n: u64) -> std::io::Result<()> {
        while n > 0 {
            let avail = self.r.fill_buf()?.len() as u64;
            if avail == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let k = avail.min(n);
            self.r.consume(k as usize);
            n -= k;
        }
        Ok(())
    }
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
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

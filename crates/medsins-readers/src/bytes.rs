//! Opening raw files: memory-mapped, or decompressed from gzip / a zip member into an
//! anonymous temporary file that is then mapped (so a multi-gigabyte `.csv.gz` never sits in
//! the heap).
//!
//! Mapped pages a reader has touched count in the process's resident set until they are
//! released: [`RawBytes::release`] hands them back to the page cache, so a reader streaming
//! through a large file keeps only the pages it is on resident.

use crate::ReadError;
use medsins_manifest::FileOptions;
use std::io::{Read, Write};
use std::path::Path;

/// The bytes of a raw file, memory-mapped when it is stored plain.
pub enum RawBytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// Files below this size are not worth releasing page by page.
const RELEASE_MIN_BYTES: usize = 64 << 20;

/// Decompresses `from` into an anonymous temporary file and maps it.
fn decompressed(path: &Path, mut from: impl Read) -> Result<RawBytes, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::tempfile().map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut tmp);
    let n = std::io::copy(&mut from, &mut w).map_err(io)?;
    w.flush().map_err(io)?;
    drop(w);
    if n == 0 {
        return Ok(RawBytes::Owned(Vec::new()));
    }
    // SAFETY: the file is private to this process (unlinked at creation) and never written again.
    let map = unsafe { memmap2::Mmap::map(&tmp) }.map_err(io)?;
    Ok(RawBytes::Mapped(map))
}

impl RawBytes {
    pub fn open(path: &Path, options: &FileOptions) -> Result<RawBytes, ReadError> {
        let io = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ReadError::Missing {
                    path: path.to_path_buf(),
                }
            } else {
                io(e)
            }
        })?;
        let gz = options.compression.as_deref() == Some("gzip")
            || (options.compression.is_none() && path.extension().is_some_and(|e| e == "gz"));
        if gz {
            return decompressed(
                path,
                flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)),
            );
        }
        if options.compression.as_deref() == Some("zip") {
            let mut archive = zip::ZipArchive::new(file)
                .map_err(|e| crate::format_err(path, format!("not a zip archive: {e}")))?;
            let member = options
                .member
                .as_deref()
                .ok_or_else(|| crate::format_err(path, "zip container needs `member`"))?;
            let entry = archive
                .by_name(member)
                .map_err(|e| crate::format_err(path, format!("zip member `{member}`: {e}")))?;
            return decompressed(path, entry);
        }
        if let Some(c) = &options.compression
            && c != "none"
        {
            return Err(crate::format_err(
                path,
                format!("unknown compression `{c}`; use `gzip` or `zip`"),
            ));
        }
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Ok(RawBytes::Owned(Vec::new()));
        }
        // SAFETY: the map is read-only and private to this process; raw files are inputs that
        // the build does not modify. A concurrent external truncation would be a user error the
        // lock's checksums reveal.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Ok(RawBytes::Mapped(map))
    }

    pub fn as_slice(&self) -> &[u8] {
        match self {
            RawBytes::Mapped(m) => m,
            RawBytes::Owned(v) => v,
        }
    }

    /// Hands the mapped pages of a large file back to the page cache. Readers may go on
    /// reading: a released page is read again from the cache (or disk) when touched, with the
    /// same bytes, so this bounds memory without changing what is read.
    pub fn release(&self) {
        #[cfg(unix)]
        if let RawBytes::Mapped(m) = self
            && m.len() >= RELEASE_MIN_BYTES
        {
            // SAFETY: the mapping is read-only and private, so no modification can be lost:
            // MADV_DONTNEED only drops clean pages, which the kernel re-reads from the file.
            let _ = unsafe { m.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }
}

/// Strips a UTF-8 byte-order mark.
pub(crate) fn strip_bom(data: &[u8]) -> &[u8] {
    data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data)
}

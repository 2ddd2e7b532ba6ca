//! Opening raw files: memory-mapped, or decompressed from gzip / a zip member into an
//! anonymous temporary file that is then mapped (so a multi-gigabyte `.csv.gz` never sits in
//! the heap).
//!
//! Mapped pages a reader has touched count in the process's resident set until they are
//! released: [`RawBytes::release`] hands them back to the page cache, so a reader streaming
//! through a large file keeps only the pages it is on resident.

use crate::limits::{Limit, Limits, RATIO_FREE_BYTES, show_bytes};
use crate::{ReadError, limit_err};
use medsins_manifest::FileOptions;
use std::cell::Cell;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::rc::Rc;

/// The bytes of a raw file, memory-mapped when it is stored plain.
pub enum RawBytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// Files below this size are not worth releasing page by page.
const RELEASE_MIN_BYTES: usize = 64 << 20;

/// A reader that counts the bytes it hands out, so decompression can be measured against the
/// compressed bytes read so far (the count is shared: zip archives own their reader).
struct Counted<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R> Counted<R> {
    fn new(inner: R) -> (Self, Rc<Cell<u64>>) {
        let count = Rc::new(Cell::new(0));
        (
            Counted {
                inner,
                count: count.clone(),
            },
            count,
        )
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counted<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Where decompressed bytes come from, for messages: the file, or a member of it.
fn source(member: Option<&str>) -> String {
    member.map_or_else(|| "it".to_string(), |m| format!("zip member `{m}`"))
}

/// Copies decompressed bytes from `from` to `to`, refusing to go past the limits: more than
/// `max_decompressed_bytes` in all (counting `before`, what earlier members of the same file
/// gave), or more than `max_decompression_ratio` times the compressed bytes read so far
/// (`compressed`) once [`RATIO_FREE_BYTES`] have come out. Returns the bytes copied.
fn bounded_copy(
    path: &Path,
    member: Option<&str>,
    mut from: impl Read,
    to: &mut impl Write,
    compressed: &Cell<u64>,
    before: u64,
    limits: &Limits,
) -> Result<u64, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut buf = vec![0u8; 256 << 10];
    let mut total = before;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        total += n as u64;
        if total > limits.max_decompressed_bytes {
            return Err(limit_err(
                path,
                Limit::DecompressedBytes,
                limits,
                format!(
                    "{} decompresses to more than {}",
                    source(member),
                    show_bytes(limits.max_decompressed_bytes)
                ),
            ));
        }
        let packed = compressed.get().max(1);
        if total > RATIO_FREE_BYTES && total > packed.saturating_mul(limits.max_decompression_ratio)
        {
            return Err(limit_err(
                path,
                Limit::DecompressionRatio,
                limits,
                format!(
                    "{} expands more than {} times its compressed size",
                    source(member),
                    limits.max_decompression_ratio
                ),
            ));
        }
        to.write_all(&buf[..n]).map_err(io)?;
    }
    Ok(total - before)
}

/// Decompresses `from` into an anonymous temporary file and maps it.
fn decompressed(
    path: &Path,
    member: Option<&str>,
    from: impl Read,
    compressed: &Cell<u64>,
    limits: &Limits,
) -> Result<RawBytes, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::tempfile().map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut tmp);
    let n = bounded_copy(path, member, from, &mut w, compressed, 0, limits)?;
    w.flush().map_err(io)?;
    drop(w);
    if n == 0 {
        return Ok(RawBytes::Owned(Vec::new()));
    }
    // SAFETY: the file is private to this process (unlinked at creation) and never written again.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&tmp) }.map_err(io)?;
    Ok(RawBytes::Mapped(map))
}

/// Checks that the members of a zip held in memory (an XLSX workbook) decompress within the
/// limits, all of them together, before a library inflates them into memory.
pub(crate) fn check_zip_members(
    path: &Path,
    data: &[u8],
    limits: &Limits,
) -> Result<(), ReadError> {
    let (reader, compressed) = Counted::new(std::io::Cursor::new(data));
    let mut archive = zip::ZipArchive::new(reader)
        .map_err(|e| crate::format_err(path, format!("not an XLSX workbook (a zip): {e}")))?;
    let mut total = 0u64;
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .map_err(|e| crate::format_err(path, format!("zip member {i}: {e}")))?;
        let name = entry.name().to_string();
        total += bounded_copy(
            path,
            Some(&name),
            entry,
            &mut std::io::sink(),
            &compressed,
            total,
            limits,
        )?;
    }
    Ok(())
}

impl RawBytes {
    pub fn open(
        path: &Path,
        options: &FileOptions,
        limits: &Limits,
    ) -> Result<RawBytes, ReadError> {
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
        if is_gzip(path, options) {
            let (file, compressed) = Counted::new(file);
            return decompressed(
                path,
                None,
                flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)),
                &compressed,
                limits,
            );
        }
        if options.compression.as_deref() == Some("zip") {
            let (file, compressed) = Counted::new(file);
            let mut archive = zip::ZipArchive::new(file)
                .map_err(|e| crate::format_err(path, format!("not a zip archive: {e}")))?;
            let wanted = options
                .member
                .as_deref()
                .ok_or_else(|| crate::format_err(path, "zip container needs `member`"))?;
            let member = zip_member(path, &archive, wanted)?;
            let entry = archive
                .by_name(&member)
                .map_err(|e| crate::format_err(path, format!("zip member `{member}`: {e}")))?;
            return decompressed(path, Some(&member), entry, &compressed, limits);
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
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        // readers walk the bytes front to back: a larger read-ahead window, pages dropped
        // behind. Only a hint: refused, every read still gives the same bytes.
        let _ = map.advise(memmap2::Advice::Sequential);
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
            // The advice only bounds memory: when the kernel refuses it, the pages stay mapped
            // and every read gives the same bytes, so its result is deliberately ignored.
            #[allow(unsafe_code)]
            let _ = unsafe { m.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }
}

/// Asks the kernel to start reading a whole file into the page cache (`madvise(WILLNEED)`,
/// which queues the reads and returns without waiting for them). Reading many files one after
/// the other waits for each file's first pages in turn; queueing them all first lets the disk
/// serve them concurrently (a cold 0.1-scale raw root of 18,858 files: 18 s read in turn, 4 s
/// with eight reads in flight). A hint only: the caller reads the file anyway.
pub fn prefetch(path: &Path) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(());
    }
    // SAFETY: the map is read-only, private, never read through and dropped at once.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file) }?;
    map.advise(memmap2::Advice::WillNeed)
}

/// Size and SHA-256 of a file, hashed through read-only maps of it: the bytes are hashed
/// where the page cache holds them, not first copied into a buffer by `read` (a second full
/// copy of every raw file, since the readers map them too: ≈ 3.5 % of a build's CPU). The file
/// is mapped [`HASH_WINDOW`] bytes at a time, since mapped pages count as the process's memory
/// (a 4 GB discharge-notes CSV mapped whole took a scale-1.0 build to 4.5 GB peak).
pub fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    sha256_in_windows(path, HASH_WINDOW)
}

/// [`sha256_file`] mapping `window` bytes (a multiple of the page size) at a time.
fn sha256_in_windows(path: &Path, window: u64) -> std::io::Result<(u64, String)> {
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut hasher = medsins_core::Sha256Writer::default();
    let mut at = 0u64;
    while at < len {
        let n = (len - at).min(window);
        // SAFETY: the map is read-only and private, and only read while hashing; raw files are
        // inputs the build does not modify (a concurrent external truncation would be a user
        // error, as for the readers' maps).
        #[allow(unsafe_code)]
        let map = unsafe {
            memmap2::MmapOptions::new()
                .offset(at)
                .len(n as usize)
                .map(&file)
        }?;
        std::io::Write::write_all(&mut hasher, &map)?;
        at += n;
    }
    let size = hasher.bytes;
    Ok((size, hasher.finish_hex()))
}

/// Bytes of a file [`sha256_file`] maps at once (a multiple of every page size).
const HASH_WINDOW: u64 = 64 << 20;

/// How many member names an error about an unmatched member pattern lists.
const MEMBERS_LISTED: usize = 10;

/// The member of `archive` that `wanted` names: itself, or when it is a pattern the one member
/// (not a folder entry) it matches; none or several is an error listing what the archive holds.
fn zip_member<R: Read + Seek>(
    path: &Path,
    archive: &zip::ZipArchive<R>,
    wanted: &str,
) -> Result<String, ReadError> {
    if !medsins_manifest::is_pattern(wanted) {
        return Ok(wanted.to_string());
    }
    let pattern = medsins_manifest::PathPattern::parse(wanted)
        .map_err(|e| crate::format_err(path, format!("zip member pattern: {e}")))?;
    let files: Vec<&str> = archive.file_names().filter(|n| !n.ends_with('/')).collect();
    let mut found: Vec<&str> = files
        .iter()
        .copied()
        .filter(|n| pattern.matches(n))
        .collect();
    found.sort_unstable();
    let list = |names: &[&str]| {
        let shown: Vec<String> = names
            .iter()
            .take(MEMBERS_LISTED)
            .map(|n| format!("`{n}`"))
            .collect();
        let more = names.len().saturating_sub(MEMBERS_LISTED);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    match found.as_slice() {
        [one] => Ok((*one).to_string()),
        [] => {
            let mut all = files;
            all.sort_unstable();
            Err(crate::format_err(
                path,
                format!(
                    "no zip member matches `{wanted}`; the archive holds {}",
                    list(&all)
                ),
            ))
        }
        several => Err(crate::format_err(
            path,
            format!(
                "{} zip members match `{wanted}`: {}; write `member` so that it names one",
                several.len(),
                list(several)
            ),
        )),
    }
}

/// Whether `path` is read through gzip: so declared, or named `.gz` with no compression given.
fn is_gzip(path: &Path, options: &FileOptions) -> bool {
    options.compression.as_deref() == Some("gzip")
        || (options.compression.is_none() && path.extension().is_some_and(|e| e == "gz"))
}

/// Whether `path` is read through a decompressor (gzip or zip).
pub(crate) fn is_compressed(path: &Path, options: &FileOptions) -> bool {
    is_gzip(path, options) || options.compression.as_deref() == Some("zip")
}

/// Strips a UTF-8 byte-order mark.
pub(crate) fn strip_bom(data: &[u8]) -> &[u8] {
    data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashing through maps of a few windows gives the file's SHA-256 and size: across window
    /// edges, at an edge, for a file shorter than a window and for an empty one.
    #[test]
    fn windowed_hash_is_the_files_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let window = 64 << 10; // a multiple of every page size in use
        for len in [0usize, 1, 1000, window, 3 * window + 12_345] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &data).unwrap();
            let want = (len as u64, medsins_core::sha256_hex(&data));
            assert_eq!(
                sha256_in_windows(&path, window as u64).unwrap(),
                want,
                "{len}"
            );
            assert_eq!(sha256_file(&path).unwrap(), want, "{len}");
        }
    }
}

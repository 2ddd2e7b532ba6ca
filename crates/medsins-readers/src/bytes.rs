//! Opening raw files: memory-mapped, or decompressed from gzip / a zip member.

use crate::ReadError;
use medsins_manifest::FileOptions;
use std::io::Read;
use std::path::Path;

/// The bytes of a raw file, memory-mapped when it is stored plain.
pub enum RawBytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
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
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))
                .read_to_end(&mut out)
                .map_err(io)?;
            return Ok(RawBytes::Owned(out));
        }
        if options.compression.as_deref() == Some("zip") {
            let mut archive = zip::ZipArchive::new(file)
                .map_err(|e| crate::format_err(path, format!("not a zip archive: {e}")))?;
            let member = options
                .member
                .as_deref()
                .ok_or_else(|| crate::format_err(path, "zip container needs `member`"))?;
            let mut entry = archive
                .by_name(member)
                .map_err(|e| crate::format_err(path, format!("zip member `{member}`: {e}")))?;
            let mut out = Vec::new();
            entry.read_to_end(&mut out).map_err(io)?;
            return Ok(RawBytes::Owned(out));
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
}

/// Strips a UTF-8 byte-order mark.
pub(crate) fn strip_bom(data: &[u8]) -> &[u8] {
    data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data)
}

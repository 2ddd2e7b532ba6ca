//! `SHA256SUMS`: the checksum of every file of the output, in `sha256sum` format.

use crate::{OutputError, io_err};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

pub const CHECKSUMS_FILE: &str = "SHA256SUMS";

/// Every file under `dir` (relative, `/`-separated, sorted), except the checksum file itself
/// and the marker of a build in progress.
pub fn list_files(dir: &Path) -> Result<Vec<String>, OutputError> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) -> Result<(), OutputError> {
        for e in std::fs::read_dir(d).map_err(io_err(d))? {
            let e = e.map_err(io_err(d))?;
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out)?;
            } else {
                let rel = p.strip_prefix(base).unwrap_or(&p);
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(rel.join("/"));
            }
        }
        Ok(())
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v)?;
    v.retain(|f| f != CHECKSUMS_FILE && f != crate::atomic::PARTIAL_MARKER);
    v.sort();
    Ok(v)
}

/// The SHA-256 of a file, streamed (a shard is not read into memory whole).
fn file_sha256(path: &Path) -> Result<String, OutputError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let mut hash = medsins_core::Sha256Writer::default();
    std::io::copy(&mut file, &mut hash).map_err(io_err(path))?;
    Ok(hash.finish_hex())
}

/// Writes `SHA256SUMS`; the files are hashed in parallel on the worker pool (the lines stay
/// in file order).
pub fn write_checksums(dir: &Path) -> Result<(), OutputError> {
    let files = list_files(dir)?;
    let sums: Vec<String> = files
        .par_iter()
        .map(|f| file_sha256(&dir.join(f)))
        .collect::<Result<_, _>>()?;
    let mut s = String::new();
    for (f, sum) in files.iter().zip(sums) {
        s.push_str(&format!("{sum}  {f}\n"));
    }
    let p = dir.join(CHECKSUMS_FILE);
    std::fs::write(&p, s).map_err(io_err(&p))
}

pub fn read_checksums(dir: &Path) -> Result<Vec<(String, String)>, OutputError> {
    let p = dir.join(CHECKSUMS_FILE);
    let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            l.split_once("  ")
                .map(|(h, f)| (f.to_string(), h.to_string()))
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChecksumProblem {
    Changed(PathBuf),
    Missing(PathBuf),
    Unlisted(PathBuf),
}

impl std::fmt::Display for ChecksumProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChecksumProblem::Changed(p) => {
                write!(f, "{}: content differs from its checksum", p.display())
            }
            ChecksumProblem::Missing(p) => {
                write!(f, "{}: listed in {CHECKSUMS_FILE} but missing", p.display())
            }
            ChecksumProblem::Unlisted(p) => {
                write!(f, "{}: not listed in {CHECKSUMS_FILE}", p.display())
            }
        }
    }
}

/// Compares every file of `dir` with `SHA256SUMS`.
pub fn verify_checksums(dir: &Path) -> Result<Vec<ChecksumProblem>, OutputError> {
    let listed = read_checksums(dir)?;
    let present = list_files(dir)?;
    let mut problems = Vec::new();
    for (f, h) in &listed {
        let p = dir.join(f);
        if !p.is_file() {
            problems.push(ChecksumProblem::Missing(PathBuf::from(f)));
        } else if file_sha256(&p)? != *h {
            problems.push(ChecksumProblem::Changed(PathBuf::from(f)));
        }
    }
    for f in present {
        if !listed.iter().any(|(l, _)| *l == f) {
            problems.push(ChecksumProblem::Unlisted(PathBuf::from(f)));
        }
    }
    Ok(problems)
}

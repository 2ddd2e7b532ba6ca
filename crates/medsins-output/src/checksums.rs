//! `SHA256SUMS`: the checksum of every file of the output, in `sha256sum` format.

use crate::{OutputError, io_err};
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

fn file_sha256(path: &Path) -> Result<String, OutputError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    Ok(medsins_core::sha256_hex(&bytes))
}

pub fn write_checksums(dir: &Path) -> Result<(), OutputError> {
    let mut s = String::new();
    for f in list_files(dir)? {
        s.push_str(&format!("{}  {f}\n", file_sha256(&dir.join(&f))?));
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

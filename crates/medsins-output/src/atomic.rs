//! The output directory, replaced only by a complete build and never at a user's expense.
//!
//! - A build is written to `.<name>.partial-<pid>-<n>` beside the destination and renamed into
//!   place by [`OutputDir::commit`]; dropped uncommitted (a failed build), it is removed and the
//!   previous output stays byte for byte.
//! - medsins never deletes a file it did not write: an existing destination is replaced only
//!   when every file in it is one its `SHA256SUMS` lists (a previous medsins output); anything
//!   else (notes, a `.git` folder, raw corpora, a symlink) is refused, with the list.
//! - Every partial folder holds a marker file that its build keeps locked (the operating
//!   system releases the lock when a build is killed). A new build into the same destination
//!   removes the partial folders whose marker it can lock — left by killed builds — and refuses
//!   to start while another build holds its lock. Folders without the marker are never
//!   touched.

use crate::{CHECKSUMS_FILE, OutputError, io_err, read_checksums};
use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Written into every partial folder and held locked by its build: marks the folder as
/// medsins's own, removable once nobody holds the lock.
pub(crate) const PARTIAL_MARKER: &str = ".medsins-partial";
/// Foreign files listed in a refusal (the rest are counted).
const LISTED: usize = 20;

pub struct OutputDir {
    partial: PathBuf,
    dest: PathBuf,
    committed: bool,
    /// The partial folder's marker, held locked until the build ends.
    marker: Option<File>,
}

/// Partial folders of this process are numbered, so one process can build twice at once.
static NEXT: AtomicUsize = AtomicUsize::new(0);

impl OutputDir {
    /// Prepares a fresh partial folder beside `dest`, after checking that `dest` may later be
    /// replaced (see the module docs) and removing stale partial folders of earlier builds.
    pub fn create(dest: &Path) -> Result<OutputDir, OutputError> {
        let (parent, name) = split(dest);
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        check_replaceable(dest)?;
        remove_stale(&parent, &name)?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let partial = parent.join(format!(".{name}.partial-{}-{n}", std::process::id()));
        std::fs::create_dir(&partial).map_err(io_err(&partial))?;
        let path = partial.join(PARTIAL_MARKER);
        let marker = File::create(&path)
            .and_then(|f| f.try_lock().map_err(std::io::Error::from).map(|_| f))
            .map_err(io_err(&path));
        let mut out = OutputDir {
            partial,
            dest: dest.to_path_buf(),
            committed: false,
            marker: None,
        };
        // on an error `out` is dropped, and the new partial folder with it
        out.marker = Some(marker?);
        Ok(out)
    }

    /// Where files are written until [`commit`](Self::commit).
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// Swaps the finished directory into place; the previous output (only files medsins
    /// wrote, as checked when the build started and again now) is removed after the swap.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        check_replaceable(&self.dest)?;
        drop(self.marker.take());
        let marker = self.partial.join(PARTIAL_MARKER);
        std::fs::remove_file(&marker).map_err(io_err(&marker))?;
        let replaced = replaced_name(&self.partial);
        let had_previous = self.dest.exists();
        if had_previous {
            std::fs::rename(&self.dest, &replaced).map_err(io_err(&self.dest))?;
        }
        if let Err(e) = std::fs::rename(&self.partial, &self.dest) {
            // put the previous output back: nothing is lost
            if had_previous {
                let _ = std::fs::rename(&replaced, &self.dest);
            }
            return Err(io_err(&self.partial)(e));
        }
        self.committed = true;
        if had_previous {
            std::fs::remove_dir_all(&replaced).map_err(io_err(&replaced))?;
        }
        Ok(self.dest.clone())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        drop(self.marker.take());
        if !self.committed {
            // only the partial folder this build created
            let _ = std::fs::remove_dir_all(&self.partial);
        }
    }
}

/// Where the previous output waits during the swap: the partial folder's name + `.replaced`.
fn replaced_name(partial: &Path) -> PathBuf {
    let mut name = partial.file_name().unwrap_or_default().to_os_string();
    name.push(".replaced");
    partial.with_file_name(name)
}

/// `(parent folder, file name)` of a destination.
fn split(dest: &Path) -> (PathBuf, String) {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    (parent, name)
}

/// Whether `dest` may be replaced: absent, an empty folder, or a previous medsins output whose
/// every file its `SHA256SUMS` lists. Otherwise a refusal listing what would be lost.
fn check_replaceable(dest: &Path) -> Result<(), OutputError> {
    let meta = match std::fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(dest)(e)),
    };
    if !meta.is_dir() {
        return Err(OutputError::Refused(format!(
            "{}: exists and is not a folder (a file or a symbolic link); choose another --out",
            dest.display()
        )));
    }
    let present = files_under(dest)?;
    if present.is_empty() {
        return Ok(());
    }
    let listed: BTreeSet<String> = match read_checksums(dest) {
        Ok(l) => l.into_iter().map(|(f, _)| f).collect(),
        Err(_) => BTreeSet::new(),
    };
    let ours = |f: &String| f == CHECKSUMS_FILE || listed.contains(f);
    let foreign: Vec<&String> = present.iter().filter(|f| !ours(f)).collect();
    if foreign.is_empty() {
        return Ok(());
    }
    let what = if listed.is_empty() {
        "is not a medsins output (it has no SHA256SUMS)".to_string()
    } else {
        "holds files that medsins did not write".to_string()
    };
    let mut list: Vec<String> = foreign
        .iter()
        .take(LISTED)
        .map(|f| format!("  {f}"))
        .collect();
    if foreign.len() > LISTED {
        list.push(format!("  … and {} more", foreign.len() - LISTED));
    }
    Err(OutputError::Refused(format!(
        "{} {what}; a build replaces its --out folder, and medsins never deletes files it did not write:\n{}\nmove them elsewhere or choose another --out",
        dest.display(),
        list.join("\n")
    )))
}

/// Every entry under `dir` that is not a folder (files, symbolic links), relative and
/// `/`-separated, sorted; symbolic links are listed, never followed.
fn files_under(dir: &Path) -> Result<Vec<String>, OutputError> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) -> Result<(), OutputError> {
        for e in std::fs::read_dir(d).map_err(io_err(d))? {
            let e = e.map_err(io_err(d))?;
            let p = e.path();
            let ty = e.file_type().map_err(io_err(&p))?;
            if ty.is_dir() {
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
    v.sort();
    Ok(v)
}

/// Removes the partial folders of `name` that earlier builds left (killed, or crashed): those
/// whose marker nobody holds locked; refuses to go on while another build holds one. Only
/// folders with the marker are removed. A previous output that a crash left set aside
/// mid-swap is put back.
fn remove_stale(parent: &Path, name: &str) -> Result<(), OutputError> {
    let prefix = format!(".{name}.partial-");
    for e in std::fs::read_dir(parent).map_err(io_err(parent))? {
        let e = e.map_err(io_err(parent))?;
        let file_name = e.file_name().to_string_lossy().into_owned();
        if !file_name.starts_with(&prefix) || !e.file_type().map_err(io_err(parent))?.is_dir() {
            continue;
        }
        let p = e.path();
        if file_name.ends_with(".replaced") {
            let dest = parent.join(name);
            if !dest.exists() {
                std::fs::rename(&p, &dest).map_err(io_err(&p))?;
                log::warn!(
                    "{}: restored the previous output that an interrupted build had set aside",
                    dest.display()
                );
            } else if p.join(CHECKSUMS_FILE).is_file() {
                std::fs::remove_dir_all(&p).map_err(io_err(&p))?;
            }
        } else if p.join(PARTIAL_MARKER).is_file() {
            let marker = File::open(p.join(PARTIAL_MARKER)).map_err(io_err(&p))?;
            match marker.try_lock() {
                Ok(()) => {
                    drop(marker);
                    log::info!("{}: removing what an interrupted build left", p.display());
                    std::fs::remove_dir_all(&p).map_err(io_err(&p))?;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(OutputError::Refused(format!(
                        "{}: another medsins build is writing it now ({} is in use); wait for it to finish or choose another --out",
                        parent.join(name).display(),
                        p.display()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&p)(e)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_output(out: &Path, files: &[(&str, &str)]) {
        let d = OutputDir::create(out).unwrap();
        for (f, text) in files {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        crate::write_checksums(d.path()).unwrap();
        d.commit().unwrap();
    }

    #[test]
    fn refuses_to_replace_a_foreign_folder_listing_what_would_be_lost() {
        let tmp = tempfile::tempdir().unwrap();
        let foreign = tmp.path().join("docs");
        std::fs::create_dir_all(foreign.join("sub")).unwrap();
        std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
        std::fs::write(foreign.join("sub/b.txt"), "and me").unwrap();
        let e = OutputDir::create(&foreign).err().unwrap().to_string();
        assert_eq!(
            e,
            format!(
                "{} is not a medsins output (it has no SHA256SUMS); a build replaces its --out folder, and medsins never deletes files it did not write:\n  notes.txt\n  sub/b.txt\nmove them elsewhere or choose another --out",
                foreign.display()
            )
        );
        assert_eq!(
            std::fs::read_to_string(foreign.join("notes.txt")).unwrap(),
            "keep me"
        );
    }

    #[test]
    fn a_previous_output_with_an_added_file_is_refused_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        commit_output(&out, &[("stats.json", "{}"), ("data/t/train.parquet", "x")]);
        std::fs::create_dir_all(out.join(".git")).unwrap();
        std::fs::write(out.join(".git/HEAD"), "ref: refs/heads/main").unwrap();
        let e = OutputDir::create(&out).err().unwrap().to_string();
        assert!(e.contains("holds files that medsins did not write"), "{e}");
        assert!(e.contains("\n  .git/HEAD\n"), "{e}");
        assert!(out.join(".git/HEAD").is_file() && out.join("stats.json").is_file());
        // without the foreign file, the previous output is replaced
        std::fs::remove_dir_all(out.join(".git")).unwrap();
        commit_output(&out, &[("stats.json", "{\"new\": 1}")]);
        assert_eq!(
            std::fs::read_to_string(out.join("stats.json")).unwrap(),
            "{\"new\": 1}"
        );
        assert!(!out.join("data").exists());
    }

    #[test]
    fn a_dropped_build_removes_only_its_partial_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        commit_output(&out, &[("stats.json", "old")]);
        let d = OutputDir::create(&out).unwrap();
        let partial = d.path().to_path_buf();
        std::fs::write(partial.join("stats.json"), "new").unwrap();
        drop(d);
        assert!(!partial.exists());
        assert_eq!(
            std::fs::read_to_string(out.join("stats.json")).unwrap(),
            "old"
        );
    }

    #[test]
    fn one_build_at_a_time_and_stale_partials_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let first = OutputDir::create(&out).unwrap();
        let e = OutputDir::create(&out).err().unwrap().to_string();
        assert!(e.contains("another medsins build is writing"), "{e}");
        drop(first);
        // nothing is left beside the destination
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
        // what a killed build leaves: a marked partial folder; an unmarked one is not ours
        let stale = tmp.path().join(".out.partial-999999-0");
        std::fs::create_dir_all(stale.join("data")).unwrap();
        std::fs::write(stale.join(PARTIAL_MARKER), "").unwrap();
        std::fs::write(stale.join("data/big.parquet"), vec![0u8; 1000]).unwrap();
        let unmarked = tmp.path().join(".out.partial-mine");
        std::fs::create_dir_all(&unmarked).unwrap();
        let d = OutputDir::create(&out).unwrap();
        assert!(!stale.exists());
        assert!(unmarked.exists());
        drop(d);
    }

    #[test]
    fn files_and_symlinks_are_not_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("out.txt");
        std::fs::write(&file, "x").unwrap();
        let e = OutputDir::create(&file).err().unwrap().to_string();
        assert!(e.contains("is not a folder"), "{e}");
        #[cfg(unix)]
        {
            let target = tmp.path().join("elsewhere");
            std::fs::create_dir(&target).unwrap();
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let e = OutputDir::create(&link).err().unwrap().to_string();
            assert!(e.contains("is not a folder"), "{e}");
        }
    }
}

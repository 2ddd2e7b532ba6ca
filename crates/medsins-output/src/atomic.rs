//! Atomic output directory: build under `<out>.partial-<pid>`, then swap into place.

use crate::{LOCK_FILE, OutputError, io_err};
use std::path::{Path, PathBuf};

pub struct OutputDir {
    partial: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl OutputDir {
    /// Prepares a fresh partial directory beside `dest`. Refuses to later replace an existing
    /// `dest` that is neither empty nor a previous medsins output (so `--out .` cannot wipe a
    /// folder of other files).
    pub fn create(dest: &Path) -> Result<OutputDir, OutputError> {
        if dest.exists() {
            let is_ours = dest.join(LOCK_FILE).is_file();
            let empty = std::fs::read_dir(dest)
                .map_err(io_err(dest))?
                .next()
                .is_none();
            if !is_ours && !empty {
                return Err(OutputError::Refused(format!(
                    "{}: exists and is not a medsins output (no {LOCK_FILE}); choose another --out or remove it",
                    dest.display()
                )));
            }
        }
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        let partial = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if partial.exists() {
            std::fs::remove_dir_all(&partial).map_err(io_err(&partial))?;
        }
        std::fs::create_dir_all(&partial).map_err(io_err(&partial))?;
        Ok(OutputDir {
            partial,
            dest: dest.to_path_buf(),
            committed: false,
        })
    }

    /// Where files are written until [`commit`](Self::commit).
    pub fn path(&self) -> &Path {
        &self.partial
    }

    /// Swaps the finished directory into place.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        let old = self.partial.with_file_name(format!(
            "{}.old",
            self.partial
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        if self.dest.exists() {
            std::fs::rename(&self.dest, &old).map_err(io_err(&self.dest))?;
        }
        std::fs::rename(&self.partial, &self.dest).map_err(io_err(&self.partial))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io_err(&old))?;
        }
        self.committed = true;
        Ok(self.dest.clone())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_replace_a_foreign_folder_and_cleans_up_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let foreign = tmp.path().join("docs");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("notes.txt"), "keep me").unwrap();
        let e = OutputDir::create(&foreign).err().unwrap().to_string();
        assert!(e.contains("is not a medsins output"), "{e}");

        let out = tmp.path().join("out");
        let d = OutputDir::create(&out).unwrap();
        let partial = d.path().to_path_buf();
        std::fs::write(partial.join("x"), "1").unwrap();
        drop(d);
        assert!(!partial.exists() && !out.exists());

        let d = OutputDir::create(&out).unwrap();
        std::fs::write(d.path().join(LOCK_FILE), "{}").unwrap();
        d.commit().unwrap();
        assert!(out.join(LOCK_FILE).is_file());
    }
}

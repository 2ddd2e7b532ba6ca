//! The build cache (`--cache DIR`, docs/scale-out.md): every unit's result under its key,
//! shared by any number of builds and `build-unit` processes at once, on one machine or on a
//! network file system.
//!
//! ```text
//! <cache>/medsins-cache.json         what the folder is; a folder holding other files is refused
//! <cache>/units/<key>/unit.json      the unit: id, what its key hashes, each task's counts, file sizes
//! <cache>/units/<key>/<k>.*          its tasks' files (`task::saved`)
//! <cache>/tmp/unit-*/                units being computed
//! ```
//!
//! A unit is computed into its own folder under `tmp/` and renamed to `units/<key>` once its
//! `unit.json` is written. The rename is atomic, so a reader sees a whole unit or none; when two
//! processes compute the same unit, the second rename fails and its copy is dropped (both
//! copies are the same bytes). Nothing is synced to disk: a unit whose files do not have the
//! sizes `unit.json` records (a crash between the rename and the write-back) is recomputed.
//! The modification time of `unit.json` is the unit's last use (`cache prune --older-than`).

use super::units::CACHE_FORMAT;
use crate::store::StoreError;
use crate::task::SavedTask;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The file that marks a folder as a medsins cache.
pub const MARKER: &str = "medsins-cache.json";
/// A unit's record in its folder.
pub const UNIT_FILE: &str = "unit.json";
/// Folders under `tmp/` untouched for this long belong to processes that were killed.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{}: not a medsins cache (it holds files but no {MARKER}); give --cache a new or empty folder, or one medsins created",
        .0.display()
    )]
    Foreign(PathBuf),
    #[error("{}: no medsins cache here (no {MARKER})", .0.display())]
    NotACache(PathBuf),
    #[error("{}: {what}", .path.display())]
    Corrupt { path: PathBuf, what: String },
    #[error(
        "the cache {} lacks {} unit(s) of this build: {}; compute them with `medsins build-unit <unit> --cache {}` (`medsins plan` lists them), or build without --cached-only",
        .dir.display(), .units.len(), .units.join(", "), .dir.display()
    )]
    Incomplete { dir: PathBuf, units: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `unit.json`: a cached unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnitRecord {
    pub format: u32,
    /// The unit's id (`<corpus>/<first task>`).
    pub unit: String,
    pub key: String,
    /// What the key hashes (to tell why a unit was recomputed).
    pub material: serde_json::Value,
    /// Its tasks, in the unit's order.
    pub tasks: Vec<SavedTask>,
    /// Every file of the unit's folder and its size.
    pub files: BTreeMap<String, u64>,
}

/// An open cache folder.
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// Opens the cache at `dir`, creating it when absent or empty; refuses a folder that holds
    /// other files (`prune` deletes what is in a cache).
    pub fn open(dir: &Path) -> Result<Cache, CacheError> {
        let marker = dir.join(MARKER);
        if !marker.is_file() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            // another process may be creating the same cache: its parts are not foreign
            let foreign = std::fs::read_dir(dir)
                .map_err(io(dir))?
                .flatten()
                .any(|e| !matches!(e.file_name().to_str(), Some("units" | "tmp" | MARKER)));
            if foreign {
                return Err(CacheError::Foreign(dir.to_path_buf()));
            }
        }
        for sub in ["units", "tmp"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(io(dir))?;
        }
        if !marker.is_file() {
            let text = serde_json::json!({
                "medsins_cache": CACHE_FORMAT,
                "note": "build cache of medsins (docs/scale-out.md): `medsins cache stats|prune --cache <this folder>`",
            });
            write_atomically(&dir.join("tmp"), &marker, format!("{text:#}\n").as_bytes())?;
        }
        Ok(Cache {
            root: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.root
    }

    fn unit_dir(&self, key: &str) -> PathBuf {
        self.root.join("units").join(key)
    }

    /// Whether the unit of `key` is in the cache (not checked: see [`Cache::load_record`]).
    pub fn contains(&self, key: &str) -> bool {
        self.unit_dir(key).join(UNIT_FILE).is_file()
    }

    /// The unit of `key` — its folder and record — when it is in the cache and whole; marks it
    /// used. A unit whose record or files are damaged is [`CacheError::Corrupt`].
    pub fn load_record(&self, key: &str) -> Result<Option<(PathBuf, UnitRecord)>, CacheError> {
        let dir = self.unit_dir(key);
        let file = dir.join(UNIT_FILE);
        let text = match std::fs::read(&file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            other => other.map_err(io(&file))?,
        };
        let corrupt = |what: String| CacheError::Corrupt {
            path: file.clone(),
            what,
        };
        let record: UnitRecord =
            serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
        if record.key != key || record.format != CACHE_FORMAT {
            return Err(corrupt(format!(
                "records key {} (format {}), expected {key} (format {CACHE_FORMAT})",
                record.key, record.format
            )));
        }
        for (name, size) in &record.files {
            let found = std::fs::metadata(dir.join(name)).map(|m| m.len()).ok();
            if found != Some(*size) {
                return Err(corrupt(format!(
                    "{name} has {} bytes, {size} were written",
                    found.map_or("no".to_string(), |n| n.to_string())
                )));
            }
        }
        mark_used(&file);
        Ok(Some((dir, record)))
    }

    /// [`Cache::load_record`], but a damaged unit is removed (so that it is recomputed) and
    /// found as absent.
    pub fn find(
        &self,
        key: &str,
        unit_id: &str,
    ) -> Result<Option<(PathBuf, UnitRecord)>, CacheError> {
        match self.load_record(key) {
            Err(e @ CacheError::Corrupt { .. }) => {
                self.evict_damaged(key, unit_id, &e.to_string())?;
                Ok(None)
            }
            other => other,
        }
    }

    /// Removes a unit found damaged, saying so.
    pub fn evict_damaged(&self, key: &str, unit_id: &str, why: &str) -> Result<(), CacheError> {
        log::warn!("cache: unit {unit_id} is damaged ({why}); it is recomputed");
        self.evict(key)
    }

    /// A new folder to compute a unit in (removed when dropped, unless committed).
    pub fn begin(&self) -> Result<tempfile::TempDir, CacheError> {
        let tmp = self.root.join("tmp");
        tempfile::Builder::new()
            .prefix("unit-")
            .tempdir_in(&tmp)
            .map_err(io(&tmp))
    }

    /// Makes the unit computed in `tmp` the cache's unit of `record.key`: its record is written
    /// (with the sizes of its files) and the folder renamed into place. When another process
    /// committed the same unit first, this copy is dropped. Returns the unit's folder.
    pub fn commit(
        &self,
        tmp: tempfile::TempDir,
        mut record: UnitRecord,
    ) -> Result<PathBuf, CacheError> {
        record.files = file_sizes(tmp.path())?;
        let file = tmp.path().join(UNIT_FILE);
        let text = serde_json::to_vec(&record).map_err(|e| CacheError::Corrupt {
            path: file.clone(),
            what: e.to_string(),
        })?;
        std::fs::write(&file, text).map_err(io(&file))?;
        let target = self.unit_dir(&record.key);
        match std::fs::rename(tmp.path(), &target) {
            Ok(()) => {
                // renamed away: nothing left for the guard to remove
                let _moved = tmp.keep();
                Ok(target)
            }
            Err(_) if self.contains(&record.key) => Ok(target),
            Err(e) => Err(io(&target)(e)),
        }
    }

    /// Removes the unit of `key` (renamed out of `units/` first, so no reader sees part of it).
    pub fn evict(&self, key: &str) -> Result<(), CacheError> {
        remove_unit(&self.root, &self.unit_dir(key))
    }
}

/// Renames a unit folder into `tmp/` (atomically out of sight), then deletes it.
fn remove_unit(root: &Path, dir: &Path) -> Result<(), CacheError> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let trash = root.join("tmp").join(format!(
        "removed-{}-{}",
        name.unwrap_or_default(),
        std::process::id()
    ));
    match std::fs::rename(dir, &trash) {
        Ok(()) => std::fs::remove_dir_all(&trash).map_err(io(&trash)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(dir)(e)),
    }
}

/// Sets the modification time of a unit's record to now: the unit's last use. A cache on
/// read-only storage cannot record it, which only matters to `prune --older-than`.
fn mark_used(file: &Path) {
    let touched = std::fs::File::options()
        .write(true)
        .open(file)
        .and_then(|f| f.set_modified(SystemTime::now()));
    if let Err(e) = touched {
        log::debug!("{}: cannot record the unit's use: {e}", file.display());
    }
}

/// Every file of a folder (not recursive) and its size.
fn file_sizes(dir: &Path) -> Result<BTreeMap<String, u64>, CacheError> {
    let mut sizes = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let meta = entry.metadata().map_err(io(&entry.path()))?;
        if meta.is_file() {
            sizes.insert(entry.file_name().to_string_lossy().into_owned(), meta.len());
        }
    }
    Ok(sizes)
}

/// Writes `bytes` to `path` through a temporary file in `dir` and a rename.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(io(path))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    Ok(())
}

/// Bytes of everything under `path`.
fn bytes_under(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| bytes_under(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// How long ago `path` was last modified (zero for a time in the future or unknown).
fn age(path: &Path) -> std::time::Duration {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default()
}

/// `medsins cache stats`: what a cache holds.
#[derive(Debug, Clone, Serialize)]
pub struct CacheStats {
    pub dir: String,
    pub units: Vec<CachedUnit>,
    pub bytes: u64,
    /// Folders of units being computed, or left by killed processes.
    pub in_progress: usize,
    pub in_progress_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CachedUnit {
    pub unit: String,
    pub key: String,
    pub tasks: usize,
    pub bytes: u64,
    /// Days since a build last used it.
    pub idle_days: f64,
}

/// Every unit of the cache at `dir`, sorted by id (a damaged record lists as `?`).
pub fn stats(dir: &Path) -> Result<CacheStats, CacheError> {
    if !dir.join(MARKER).is_file() {
        return Err(CacheError::NotACache(dir.to_path_buf()));
    }
    let cache = Cache::open(dir)?;
    let mut units = Vec::new();
    let units_dir = cache.root.join("units");
    for entry in std::fs::read_dir(&units_dir).map_err(io(&units_dir))? {
        let path = entry.map_err(io(&units_dir))?.path();
        let key = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let record: Option<UnitRecord> = std::fs::read(path.join(UNIT_FILE))
            .ok()
            .and_then(|t| serde_json::from_slice(&t).ok());
        units.push(CachedUnit {
            unit: record.as_ref().map_or("?".into(), |r| r.unit.clone()),
            key: key.unwrap_or_default(),
            tasks: record.as_ref().map_or(0, |r| r.tasks.len()),
            bytes: bytes_under(&path),
            idle_days: (age(&path.join(UNIT_FILE)).as_secs_f64() / 86_400.0 * 100.0).round()
                / 100.0,
        });
    }
    units.sort_by(|a, b| (&a.unit, &a.key).cmp(&(&b.unit, &b.key)));
    let tmp = cache.root.join("tmp");
    let pending: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .map_err(io(&tmp))?
        .flatten()
        .map(|e| e.path())
        .collect();
    Ok(CacheStats {
        dir: dir.display().to_string(),
        bytes: units.iter().map(|u| u.bytes).sum(),
        units,
        in_progress: pending.len(),
        in_progress_bytes: pending.iter().map(|p| bytes_under(p)).sum(),
    })
}

/// What `medsins cache prune` removes.
#[derive(Debug, Clone, Copy)]
pub enum Prune {
    /// Units no build used for this many days, and abandoned folders.
    IdleFor(f64),
    /// Everything (no build may be using the cache).
    All,
}

/// What a prune removed.
#[derive(Debug, Clone, Serialize)]
pub struct Pruned {
    pub units: Vec<String>,
    pub bytes: u64,
    /// Folders of units being computed that were removed (left by killed processes).
    pub abandoned: usize,
}

/// Removes the units `what` says, and the folders under `tmp/` that killed processes left
/// (untouched for a day; all of them with [`Prune::All`]).
pub fn prune(dir: &Path, what: Prune) -> Result<Pruned, CacheError> {
    let before = stats(dir)?;
    let root = Path::new(dir);
    let mut pruned = Pruned {
        units: Vec::new(),
        bytes: 0,
        abandoned: 0,
    };
    for u in before.units {
        let gone = match what {
            Prune::All => true,
            Prune::IdleFor(days) => u.idle_days >= days,
        };
        if gone {
            remove_unit(root, &root.join("units").join(&u.key))?;
            pruned.bytes += u.bytes;
            pruned.units.push(u.unit);
        }
    }
    let tmp = root.join("tmp");
    for entry in std::fs::read_dir(&tmp).map_err(io(&tmp))?.flatten() {
        let path = entry.path();
        let newest = newest_change(&path);
        if matches!(what, Prune::All) || newest >= ABANDONED_AFTER {
            pruned.bytes += bytes_under(&path);
            std::fs::remove_dir_all(&path).map_err(io(&path))?;
            pruned.abandoned += 1;
        }
    }
    Ok(pruned)
}

/// The shortest [`age`] of a folder and the files in it: how long ago its process last wrote.
fn newest_change(dir: &Path) -> std::time::Duration {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| age(&e.path()))
                .min()
                .unwrap_or_default()
        })
        .unwrap_or_default()
        .min(age(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str) -> UnitRecord {
        UnitRecord {
            format: CACHE_FORMAT,
            unit: "c/task1_x".into(),
            key: key.into(),
            material: serde_json::json!({}),
            tasks: Vec::new(),
            files: BTreeMap::new(),
        }
    }

    #[test]
    fn two_processes_committing_one_unit_leave_one_whole_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(&tmp.path().join("c")).unwrap();
        let (a, b) = (cache.begin().unwrap(), cache.begin().unwrap());
        std::fs::write(a.path().join("0.samples"), b"abc").unwrap();
        std::fs::write(b.path().join("0.samples"), b"abc").unwrap();
        let b_path = b.path().to_path_buf();
        let first = cache.commit(a, record("k1")).unwrap();
        let second = cache.commit(b, record("k1")).unwrap();
        assert_eq!(first, second);
        assert!(!b_path.exists(), "the losing copy is removed");
        let (dir, r) = cache.load_record("k1").unwrap().unwrap();
        assert_eq!(r.files, BTreeMap::from([("0.samples".to_string(), 3)]));
        assert_eq!(std::fs::read(dir.join("0.samples")).unwrap(), b"abc");
        assert!(cache.load_record("k2").unwrap().is_none());
    }

    #[test]
    fn a_truncated_unit_is_corrupt_and_evicted() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(tmp.path()).unwrap();
        let a = cache.begin().unwrap();
        std::fs::write(a.path().join("0.samples"), b"abcdef").unwrap();
        let dir = cache.commit(a, record("k")).unwrap();
        std::fs::write(dir.join("0.samples"), b"abc").unwrap();
        let err = cache.load_record("k").unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}: 0.samples has 3 bytes, 6 were written",
                dir.join(UNIT_FILE).display()
            )
        );
        cache.evict("k").unwrap();
        assert!(!cache.contains("k") && !dir.exists());
    }

    #[test]
    fn a_folder_of_other_files_is_refused_and_prune_all_empties_a_cache() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
        let err = Cache::open(tmp.path()).err().unwrap().to_string();
        assert!(err.ends_with("not a medsins cache (it holds files but no medsins-cache.json); give --cache a new or empty folder, or one medsins created"), "{err}");
        let dir = tmp.path().join("cache");
        let cache = Cache::open(&dir).unwrap();
        let a = cache.begin().unwrap();
        std::fs::write(a.path().join("x"), b"12345").unwrap();
        cache.commit(a, record("k")).unwrap();
        let _running = cache.begin().unwrap();
        assert_eq!(prune(&dir, Prune::IdleFor(1.0)).unwrap().units.len(), 0);
        let s = stats(&dir).unwrap();
        assert_eq!((s.units.len(), s.in_progress), (1, 1));
        let p = prune(&dir, Prune::All).unwrap();
        assert_eq!((p.units, p.abandoned), (vec!["c/task1_x".to_string()], 1));
        assert!(stats(&dir).unwrap().units.is_empty());
    }
}

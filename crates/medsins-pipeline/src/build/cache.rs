//! The build cache (`--cache DIR`, docs/scale-out.md): every unit's result under its key,
//! shared by any number of builds and `build-unit` processes at once, on one machine or on a
//! network file system.
//!
//! ```text
//! <cache>/medsins-cache.json         what the folder is; a folder holding other files is refused
//! <cache>/units/<key>/unit.json      the unit: id, what its key hashes, each task's counts, file sizes
//! <cache>/units/<key>/<k>.*          its tasks' files (`task::saved`)
//! <cache>/written/<key>/written.json  one task's written output: its shards' names, sizes and
//!                                     SHA-256, what writing it gave (`build::write`)
//! <cache>/written/<key>/*.parquet     its shards, as the output holds them
//! <cache>/tmp/{unit,written}-*/       entries being computed
//! ```
//!
//! An entry (a unit, or a task's written shards) is computed into its own folder under `tmp/`
//! and renamed to `units/<key>` or `written/<key>` once its record is written. The rename is
//! atomic, so a reader sees a whole entry or none; when two processes compute the same entry,
//! the second rename fails and its copy is dropped (both copies are the same bytes). Nothing is
//! synced to disk: an entry whose files do not have the sizes its record lists (a crash
//! between the rename and the write-back) is recomputed. The modification time of the record
//! is the entry's last use (`cache prune --older-than`).

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
/// A written task's record in its folder.
pub const WRITTEN_FILE: &str = "written.json";
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

/// The two kinds of cache entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A unit's run (`units/<key>`).
    Unit,
    /// A task's written shards (`written/<key>`).
    Written,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Unit, Kind::Written];

    /// The folder of the cache holding the entries of this kind.
    fn folder(self) -> &'static str {
        match self {
            Kind::Unit => "units",
            Kind::Written => "written",
        }
    }

    /// The record file in an entry's folder.
    fn record(self) -> &'static str {
        match self {
            Kind::Unit => UNIT_FILE,
            Kind::Written => WRITTEN_FILE,
        }
    }

    /// What a log line calls an entry.
    fn noun(self) -> &'static str {
        match self {
            Kind::Unit => "unit",
            Kind::Written => "written shards of",
        }
    }
}

/// The record of a cache entry: its key, its format and the sizes of its files.
pub trait Record: Serialize + serde::de::DeserializeOwned {
    const KIND: Kind;
    fn key(&self) -> &str;
    fn format(&self) -> u32;
    /// Every file of the entry's folder and its size (filled in by [`Cache::commit`]).
    fn files(&self) -> &BTreeMap<String, u64>;
    fn files_mut(&mut self) -> &mut BTreeMap<String, u64>;
    /// What it names, for `cache stats`: a unit's id, a written task's id.
    fn name(&self) -> &str;
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

impl Record for UnitRecord {
    const KIND: Kind = Kind::Unit;
    fn key(&self) -> &str {
        &self.key
    }
    fn format(&self) -> u32 {
        self.format
    }
    fn files(&self) -> &BTreeMap<String, u64> {
        &self.files
    }
    fn files_mut(&mut self) -> &mut BTreeMap<String, u64> {
        &mut self.files
    }
    fn name(&self) -> &str {
        &self.unit
    }
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
            let mut foreign = false;
            for entry in std::fs::read_dir(dir).map_err(io(dir))? {
                let name = entry.map_err(io(dir))?.file_name();
                // a name that is not UTF-8 is none of ours: foreign
                let name = name.to_str().unwrap_or_default();
                foreign |= !(name == "tmp"
                    || name == MARKER
                    || Kind::ALL.iter().any(|k| k.folder() == name));
            }
            if foreign {
                return Err(CacheError::Foreign(dir.to_path_buf()));
            }
        }
        for sub in Kind::ALL.map(Kind::folder).into_iter().chain(["tmp"]) {
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

    fn entry_dir(&self, kind: Kind, key: &str) -> PathBuf {
        self.root.join(kind.folder()).join(key)
    }

    /// Whether the unit of `key` is in the cache (not checked: see [`Cache::load_record`]).
    pub fn contains(&self, key: &str) -> bool {
        self.entry_dir(Kind::Unit, key).join(UNIT_FILE).is_file()
    }

    /// The entry of `key` — its folder and record — when it is in the cache and whole; marks
    /// it used. An entry whose record or files are damaged is [`CacheError::Corrupt`].
    pub fn load_record<R: Record>(&self, key: &str) -> Result<Option<(PathBuf, R)>, CacheError> {
        let dir = self.entry_dir(R::KIND, key);
        let file = dir.join(R::KIND.record());
        let text = match std::fs::read(&file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            other => other.map_err(io(&file))?,
        };
        let corrupt = |what: String| CacheError::Corrupt {
            path: file.clone(),
            what,
        };
        let record: R = serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
        if record.key() != key || record.format() != CACHE_FORMAT {
            return Err(corrupt(format!(
                "records key {} (format {}), expected {key} (format {CACHE_FORMAT})",
                record.key(),
                record.format()
            )));
        }
        for (name, size) in record.files() {
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

    /// [`Cache::load_record`], but a damaged entry is removed (so that it is recomputed) and
    /// found as absent. `name` says what it is in the warning.
    pub fn find<R: Record>(
        &self,
        key: &str,
        name: &str,
    ) -> Result<Option<(PathBuf, R)>, CacheError> {
        match self.load_record::<R>(key) {
            Err(e @ CacheError::Corrupt { .. }) => {
                self.evict_damaged(R::KIND, key, name, &e.to_string())?;
                Ok(None)
            }
            other => other,
        }
    }

    /// Removes an entry found damaged, saying so.
    pub fn evict_damaged(
        &self,
        kind: Kind,
        key: &str,
        name: &str,
        why: &str,
    ) -> Result<(), CacheError> {
        log::warn!(
            "cache: the {} {name} is damaged ({why}); it is recomputed",
            kind.noun()
        );
        self.evict(kind, key)
    }

    /// A new folder to compute an entry in (removed when dropped, unless committed).
    pub fn begin(&self, kind: Kind) -> Result<tempfile::TempDir, CacheError> {
        let tmp = self.root.join("tmp");
        let prefix = match kind {
            Kind::Unit => "unit-",
            Kind::Written => "written-",
        };
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&tmp)
            .map_err(io(&tmp))
    }

    /// Makes the entry computed in `tmp` the cache's entry of `record.key()`: its record is
    /// written (with the sizes of its files) and the folder renamed into place. When another
    /// process committed the same entry first, this copy is dropped. Returns the entry's
    /// folder.
    pub fn commit<R: Record>(
        &self,
        tmp: tempfile::TempDir,
        mut record: R,
    ) -> Result<PathBuf, CacheError> {
        *record.files_mut() = file_sizes(tmp.path())?;
        let file = tmp.path().join(R::KIND.record());
        let text = serde_json::to_vec(&record).map_err(|e| CacheError::Corrupt {
            path: file.clone(),
            what: e.to_string(),
        })?;
        std::fs::write(&file, text).map_err(io(&file))?;
        let target = self.entry_dir(R::KIND, record.key());
        match std::fs::rename(tmp.path(), &target) {
            Ok(()) => {
                // renamed away: nothing left for the guard to remove
                let _moved = tmp.keep();
                Ok(target)
            }
            Err(_) if target.join(R::KIND.record()).is_file() => Ok(target),
            Err(e) => Err(io(&target)(e)),
        }
    }

    /// Removes the entry of `key` (renamed out of its folder first, so no reader sees part of
    /// it).
    pub fn evict(&self, kind: Kind, key: &str) -> Result<(), CacheError> {
        remove_entry(&self.root, &self.entry_dir(kind, key))
    }
}

/// Renames an entry's folder into `tmp/` (atomically out of sight), then deletes it.
fn remove_entry(root: &Path, dir: &Path) -> Result<(), CacheError> {
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

/// Bytes of everything under `path`. Best effort on purpose: another process may rename or
/// remove an entry while it is walked (the cache is shared); what is gone counts as 0 bytes.
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
    /// Tasks' written shards.
    pub written: Vec<CachedWritten>,
    /// Bytes of the units and the written shards.
    pub bytes: u64,
    /// Folders of entries being computed, or left by killed processes.
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

#[derive(Debug, Clone, Serialize)]
pub struct CachedWritten {
    pub task: String,
    pub key: String,
    pub bytes: u64,
    /// Days since a build last used it.
    pub idle_days: f64,
}

/// An entry found in a cache folder: its record when readable.
struct Found<R> {
    key: String,
    record: Option<R>,
    bytes: u64,
    idle_days: f64,
}

/// Every entry of one kind in the cache at `root`.
fn entries<R: Record>(root: &Path) -> Result<Vec<Found<R>>, CacheError> {
    let folder = root.join(R::KIND.folder());
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&folder).map_err(io(&folder))? {
        let path = entry.map_err(io(&folder))?.path();
        let record_file = path.join(R::KIND.record());
        found.push(Found {
            key: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            record: std::fs::read(&record_file)
                .ok()
                .and_then(|t| serde_json::from_slice(&t).ok()),
            bytes: bytes_under(&path),
            idle_days: (age(&record_file).as_secs_f64() / 86_400.0 * 100.0).round() / 100.0,
        });
    }
    Ok(found)
}

/// Every entry of the cache at `dir`, sorted by what it names (a damaged record lists as `?`).
pub fn stats(dir: &Path) -> Result<CacheStats, CacheError> {
    if !dir.join(MARKER).is_file() {
        return Err(CacheError::NotACache(dir.to_path_buf()));
    }
    let cache = Cache::open(dir)?;
    let mut units: Vec<CachedUnit> = entries::<UnitRecord>(&cache.root)?
        .into_iter()
        .map(|f| CachedUnit {
            unit: f.record.as_ref().map_or("?".into(), |r| r.unit.clone()),
            tasks: f.record.as_ref().map_or(0, |r| r.tasks.len()),
            key: f.key,
            bytes: f.bytes,
            idle_days: f.idle_days,
        })
        .collect();
    units.sort_by(|a, b| (&a.unit, &a.key).cmp(&(&b.unit, &b.key)));
    let mut written: Vec<CachedWritten> = entries::<super::write::WrittenRecord>(&cache.root)?
        .into_iter()
        .map(|f| CachedWritten {
            task: f
                .record
                .as_ref()
                .map_or("?".into(), |r| r.name().to_string()),
            key: f.key,
            bytes: f.bytes,
            idle_days: f.idle_days,
        })
        .collect();
    written.sort_by(|a, b| (&a.task, &a.key).cmp(&(&b.task, &b.key)));
    let tmp = cache.root.join("tmp");
    let pending: Vec<PathBuf> = std::fs::read_dir(&tmp)
        .map_err(io(&tmp))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io(&tmp))?;
    Ok(CacheStats {
        dir: dir.display().to_string(),
        bytes: units.iter().map(|u| u.bytes).sum::<u64>()
            + written.iter().map(|w| w.bytes).sum::<u64>(),
        units,
        written,
        in_progress: pending.len(),
        in_progress_bytes: pending.iter().map(|p| bytes_under(p)).sum(),
    })
}

/// What `medsins cache prune` removes.
#[derive(Debug, Clone, Copy)]
pub enum Prune {
    /// Entries no build used for this many days, and abandoned folders.
    IdleFor(f64),
    /// Everything (no build may be using the cache).
    All,
}

/// What a prune removed.
#[derive(Debug, Clone, Serialize)]
pub struct Pruned {
    pub units: Vec<String>,
    /// Tasks whose written shards were removed.
    pub written: Vec<String>,
    pub bytes: u64,
    /// Folders of entries being computed that were removed (left by killed processes).
    pub abandoned: usize,
}

/// Removes the entries `what` says, and the folders under `tmp/` that killed processes left
/// (untouched for a day; all of them with [`Prune::All`]).
pub fn prune(dir: &Path, what: Prune) -> Result<Pruned, CacheError> {
    let before = stats(dir)?;
    let root = Path::new(dir);
    let gone = |idle_days: f64| match what {
        Prune::All => true,
        Prune::IdleFor(days) => idle_days >= days,
    };
    let mut pruned = Pruned {
        units: Vec::new(),
        written: Vec::new(),
        bytes: 0,
        abandoned: 0,
    };
    for u in before.units.into_iter().filter(|u| gone(u.idle_days)) {
        remove_entry(root, &root.join(Kind::Unit.folder()).join(&u.key))?;
        pruned.bytes += u.bytes;
        pruned.units.push(u.unit);
    }
    for w in before.written.into_iter().filter(|w| gone(w.idle_days)) {
        remove_entry(root, &root.join(Kind::Written.folder()).join(&w.key))?;
        pruned.bytes += w.bytes;
        pruned.written.push(w.task);
    }
    let tmp = root.join("tmp");
    for entry in std::fs::read_dir(&tmp).map_err(io(&tmp))? {
        let path = entry.map_err(io(&tmp))?.path();
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
/// Best effort like [`bytes_under`]: an entry that vanished mid-walk has no age.
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
        let (a, b) = (
            cache.begin(Kind::Unit).unwrap(),
            cache.begin(Kind::Unit).unwrap(),
        );
        std::fs::write(a.path().join("0.samples"), b"abc").unwrap();
        std::fs::write(b.path().join("0.samples"), b"abc").unwrap();
        let b_path = b.path().to_path_buf();
        let first = cache.commit(a, record("k1")).unwrap();
        let second = cache.commit(b, record("k1")).unwrap();
        assert_eq!(first, second);
        assert!(!b_path.exists(), "the losing copy is removed");
        let (dir, r) = cache.load_record::<UnitRecord>("k1").unwrap().unwrap();
        assert_eq!(r.files, BTreeMap::from([("0.samples".to_string(), 3)]));
        assert_eq!(std::fs::read(dir.join("0.samples")).unwrap(), b"abc");
        assert!(cache.load_record::<UnitRecord>("k2").unwrap().is_none());
    }

    #[test]
    fn a_truncated_unit_is_corrupt_and_evicted() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::open(tmp.path()).unwrap();
        let a = cache.begin(Kind::Unit).unwrap();
        std::fs::write(a.path().join("0.samples"), b"abcdef").unwrap();
        let dir = cache.commit(a, record("k")).unwrap();
        std::fs::write(dir.join("0.samples"), b"abc").unwrap();
        let err = cache
            .load_record::<UnitRecord>("k")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}: 0.samples has 3 bytes, 6 were written",
                dir.join(UNIT_FILE).display()
            )
        );
        cache.evict(Kind::Unit, "k").unwrap();
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
        let a = cache.begin(Kind::Unit).unwrap();
        std::fs::write(a.path().join("x"), b"12345").unwrap();
        cache.commit(a, record("k")).unwrap();
        let _running = cache.begin(Kind::Unit).unwrap();
        assert_eq!(prune(&dir, Prune::IdleFor(1.0)).unwrap().units.len(), 0);
        let s = stats(&dir).unwrap();
        assert_eq!((s.units.len(), s.in_progress), (1, 1));
        let p = prune(&dir, Prune::All).unwrap();
        assert_eq!((p.units, p.abandoned), (vec!["c/task1_x".to_string()], 1));
        assert!(stats(&dir).unwrap().units.is_empty());
    }
}

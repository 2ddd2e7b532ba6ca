//! A build's output directory, read back.

use crate::{PublishError, io_err};
use medsins_output::{LOCK_FILE, Lock, Stats};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The output directory of a build: its stats and lock, and where its shards are.
pub struct BuildDir {
    pub path: PathBuf,
    pub stats: Stats,
    pub lock: Lock,
}

impl BuildDir {
    /// Opens `path`; fails, naming the file, when it is not a complete medsins output.
    pub fn open(path: &Path) -> Result<BuildDir, PublishError> {
        let read = |name: &str| -> Result<String, PublishError> {
            let p = path.join(name);
            std::fs::read_to_string(&p).map_err(|e| {
                PublishError::Invalid(format!(
                    "{}: {e}; give the directory a `medsins build` wrote (it holds {name})",
                    p.display()
                ))
            })
        };
        let parse_err = |name: &str, e: serde_json::Error| {
            PublishError::Invalid(format!("{}: {e}", path.join(name).display()))
        };
        let stats: Stats =
            serde_json::from_str(&read("stats.json")?).map_err(|e| parse_err("stats.json", e))?;
        let lock: Lock =
            serde_json::from_str(&read(LOCK_FILE)?).map_err(|e| parse_err(LOCK_FILE, e))?;
        Ok(BuildDir {
            path: path.to_path_buf(),
            stats,
            lock,
        })
    }

    /// Every shard, grouped by (task id, split), in file-name order.
    pub fn shards(&self) -> Result<BTreeMap<(String, String), Vec<PathBuf>>, PublishError> {
        let mut m: BTreeMap<(String, String), Vec<PathBuf>> = BTreeMap::new();
        for rel in medsins_output::shard_files(&self.path)? {
            // data/<task_id>/<split>-NNNNN-of-MMMMM.parquet
            let mut parts = rel.split('/').skip(1);
            let (Some(task), Some(file)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Some(split) = file.split('-').next() else {
                continue;
            };
            m.entry((task.to_string(), split.to_string()))
                .or_default()
                .push(self.path.join(&rel));
        }
        for v in m.values_mut() {
            v.sort();
        }
        Ok(m)
    }

    /// Rows per access class other than `public` (registration, credentialed).
    pub fn restricted_rows(&self) -> BTreeMap<String, u64> {
        self.stats
            .per_access
            .iter()
            .filter(|(a, n)| a.as_str() != "public" && **n > 0)
            .map(|(a, n)| (a.clone(), *n))
            .collect()
    }

    /// `checks.json`, when the build wrote one.
    pub fn checks(&self) -> Result<Option<serde_json::Value>, PublishError> {
        let p = self.path.join("checks.json");
        if !p.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| PublishError::Invalid(format!("{}: {e}", p.display())))
    }
}

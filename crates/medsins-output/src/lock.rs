//! `medsins.lock.json`: everything a build read and every option that shaped it. Two builds
//! with equal locks produce byte-identical directories, whatever the thread count (which is
//! therefore not recorded).

use serde::{Deserialize, Serialize};

pub const LOCK_FILE: &str = "medsins.lock.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Lock {
    pub builder_version: String,
    /// false when a requested corpus was missing or failed (see `missing` and `failed`).
    pub complete: bool,
    pub options: serde_json::Value,
    pub instruction_bank: Option<LockedFile>,
    pub manifests: Vec<LockedManifest>,
    pub raw_files: Vec<LockedFile>,
    /// Corpora requested but not built because raw files were missing.
    pub missing: Vec<String>,
    /// Corpora requested but not built because of an error.
    pub failed: Vec<String>,
    /// Where the manifests came from: `bundled` (compiled into medsins) or `directory`.
    #[serde(default)]
    pub catalogue: String,
    /// Raw files (relative to the raw root) whose SHA-256 differs from the manifest's and was
    /// accepted, because the build was told not to verify checksums (the bundled fixtures, a
    /// synthetic root). Empty for a build of real releases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checksums_skipped: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockedManifest {
    pub corpus_id: String,
    pub path: String,
    pub sha256: String,
    /// The distribution of the corpus the build read (a `[[variants]]` id, or `default`).
    #[serde(default = "default_variant")]
    pub source_variant: String,
}

fn default_variant() -> String {
    "default".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockedFile {
    pub corpus_id: String,
    pub file_id: String,
    /// Relative to the raw root, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// For a file set (`many`): each file read, relative to `path`, in reading order; the
    /// set's `sha256` is that of the lines `<member path>\0<member sha256>\n`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<LockedMember>,
}

/// One file of a file set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockedMember {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl Lock {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("lock serialises");
        s.push('\n');
        s
    }
}

//! Where a catalogue's manifests come from: the catalogue compiled into medsins, or a folder.
//! (Loading either is `bundled.rs`; the catalogue records its source, so this type sits below
//! both.)

use serde::Serialize;
use std::path::{Path, PathBuf};

/// The manifest folder looked for in the working directory.
pub const WORKING_CATALOGUE: &str = "corpora-manifests";

/// Where a catalogue's manifests come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CatalogueSource {
    /// The manifests compiled into this medsins (those of its release).
    Bundled,
    /// A folder of manifests (`--manifests`, or `corpora-manifests` in the working directory),
    /// or the manifest files given.
    Directory { path: PathBuf },
}

impl std::fmt::Display for CatalogueSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CatalogueSource::Bundled => write!(
                f,
                "the catalogue bundled with medsins {}",
                medsins_core::BUILDER_VERSION
            ),
            CatalogueSource::Directory { path } => write!(f, "{}", path.display()),
        }
    }
}

impl CatalogueSource {
    /// The folder given; else `corpora-manifests` in the working directory when there is one;
    /// else the bundled catalogue.
    pub fn choose(given: Option<PathBuf>) -> Self {
        match given {
            Some(path) => CatalogueSource::Directory { path },
            None if Path::new(WORKING_CATALOGUE).is_dir() => CatalogueSource::Directory {
                path: PathBuf::from(WORKING_CATALOGUE),
            },
            None => CatalogueSource::Bundled,
        }
    }

    /// `bundled` or `directory`: what the lock records (no machine-specific path).
    pub fn kind(&self) -> &'static str {
        match self {
            CatalogueSource::Bundled => "bundled",
            CatalogueSource::Directory { .. } => "directory",
        }
    }

    /// The folder of a directory catalogue.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            CatalogueSource::Bundled => None,
            CatalogueSource::Directory { path } => Some(path),
        }
    }
}

//! Scaffolding for contributors.
//!
//! `medsins new-corpus` is built from these pieces: [`inspect`] guesses a raw file's format and
//! lists its fields, [`starting_manifest`] writes a manifest with every field it could infer and
//! `TODO` markers for the rest, [`cut_fixture`] copies the first records into a fixture of the same
//! layout, and [`manifest_from_task_json`] / [`manifest_from_workbook`] turn the formats MedS-Ins
//! itself accepts contributions in into complete manifests.

mod fixture;
mod inspect;
mod upstream;
mod write;
pub mod xlsx;

pub use fixture::cut_fixture;
pub use inspect::{Inspection, inspect};
pub use upstream::{Contribution, manifest_from_task_json, manifest_from_workbook};
pub use write::starting_manifest;

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(transparent)]
    Read(#[from] medsins_readers::ReadError),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Unsupported(String),
}

/// Quotes a string as a TOML basic string (or a multi-line literal when it has line breaks).
pub(crate) fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

//! Why `synth` could not write a synthetic raw root.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The output folder holds something `synth` did not write: it may be real releases.
    #[error(
        "{}: refusing to write a synthetic raw root into a folder that is not empty and was not \
         written by `medsins synth` (no {marker} of its own): it may hold real releases. \
         Give a new or empty folder to --out",
        path.display()
    )]
    NotOurs { path: PathBuf, marker: &'static str },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    /// A fixture path pattern that does not parse (the catalogue was not checked).
    #[error("path `{path}`: {source}")]
    Pattern {
        path: String,
        source: medsins_manifest::PatternError,
    },
    #[error(transparent)]
    Listing(#[from] medsins_manifest::ListingError),
    /// A zip member planned for replication whose format cannot be written as a stream.
    #[error("{member}: not a stream format")]
    NotStream { member: String },
}

impl SynthError {
    /// An I/O error on `path`, for `map_err`.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SynthError {
        let path = path.into();
        move |source| SynthError::Io { path, source }
    }

    /// A zip error on the archive at `path`, for `map_err`.
    pub(crate) fn zip(
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(zip::result::ZipError) -> SynthError {
        let path = path.into();
        move |source| SynthError::Zip { path, source }
    }
}

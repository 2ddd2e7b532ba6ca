//! Resolving a corpus's raw files under the raw root: presence, size, checksum.

use medsins_manifest::{LoadedManifest, RawFile};
use medsins_output::LockedFile;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A raw file found on disk.
#[derive(Debug, Clone)]
pub struct ResolvedFile {
    pub id: String,
    pub abs: PathBuf,
    /// Relative to the raw root, `/`-separated (what rows and the lock record).
    pub rel: String,
    pub size: u64,
    pub sha256: String,
    /// The file differs from the `sha256` its manifest declares, accepted by [`Checksums::Skip`].
    pub checksum_skipped: bool,
}

#[derive(Debug, Clone)]
pub struct ResolvedCorpus {
    /// The corpus folder, `<raw-root>/<corpus-id>`.
    pub dir: PathBuf,
    pub files: Vec<ResolvedFile>,
    /// The bounds its files are read within (the defaults unless the build raised them).
    pub limits: medsins_readers::Limits,
}

impl ResolvedCorpus {
    pub fn file(&self, id: &str) -> Option<&ResolvedFile> {
        self.files.iter().find(|f| f.id == id)
    }
    pub fn locked(&self, corpus_id: &str) -> Vec<LockedFile> {
        self.files
            .iter()
            .map(|f| LockedFile {
                corpus_id: corpus_id.into(),
                file_id: f.id.clone(),
                path: f.rel.clone(),
                size: f.size,
                sha256: f.sha256.clone(),
            })
            .collect()
    }
    /// Paths (relative to the raw root) of the files accepted despite a checksum difference.
    pub fn checksums_skipped(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .filter(|f| f.checksum_skipped)
            .map(|f| f.rel.as_str())
    }
}

pub enum Resolution {
    Ready(ResolvedCorpus),
    /// Expected paths (as the user should create them).
    Missing(Vec<String>),
    /// A file is present but wrong (checksum) or unreadable.
    Failed(String),
}

/// Whether raw files must have the `sha256` their manifest declares. Only the caller decides
/// (a front end, for the fixture root it chose itself; a test): nothing in a raw root does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checksums {
    /// A file that differs from its release fails its corpus.
    #[default]
    Verify,
    /// Differences are accepted and recorded (`ResolvedFile::checksum_skipped`; the lock and
    /// the dataset card list them): for fixtures and synthetic roots, which are not releases.
    Skip,
}

/// Where a raw file lives: `<raw-root>/<root or corpus-id>/<path>`.
pub fn raw_rel_path(corpus_id: &str, f: &RawFile) -> String {
    let folder = f
        .root
        .as_ref()
        .map(|r| r.get_ref().as_str())
        .unwrap_or(corpus_id);
    format!("{folder}/{}", f.path.get_ref())
}

pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut w = medsins_core::Sha256Writer::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        std::io::Write::write_all(&mut w, &buf[..n])?;
    }
    let size = w.bytes;
    Ok((size, w.finish_hex()))
}

/// Resolves the given files of a corpus (all of them when `file_ids` is None).
pub fn resolve_corpus(
    lm: &LoadedManifest,
    raw_root: &Path,
    file_ids: Option<&[String]>,
    checksums: Checksums,
) -> Resolution {
    let m = &lm.manifest;
    let wanted: Vec<&RawFile> = m
        .files
        .iter()
        .filter(|f| file_ids.is_none_or(|ids| ids.iter().any(|i| i == f.id.get_ref())))
        .collect();
    let missing: Vec<String> = wanted
        .iter()
        .map(|f| raw_rel_path(m.id(), f))
        .filter(|rel| !(raw_root.join(rel).is_file() || raw_root.join(rel).is_dir()))
        .map(|rel| raw_root.join(rel).display().to_string())
        .collect();
    if !missing.is_empty() {
        return Resolution::Missing(missing);
    }
    let mut files = Vec::new();
    for f in wanted {
        let rel = raw_rel_path(m.id(), f);
        let abs = raw_root.join(&rel);
        let hashed = if abs.is_dir() {
            medsins_readers::folder_sha256(&abs)
        } else {
            hash_file(&abs)
        };
        let (size, sha256) = match hashed {
            Ok(x) => x,
            Err(e) => return Resolution::Failed(format!("{}: cannot read: {e}", abs.display())),
        };
        let differs = f
            .sha256
            .as_ref()
            .is_some_and(|expected| *expected != sha256);
        if differs && checksums == Checksums::Skip {
            log::info!(
                "{}: differs from the release checksum (accepted: checksums are not verified for this raw root)",
                abs.display()
            );
        } else if let Some(expected) = &f.sha256
            && differs
        {
            return Resolution::Failed(format!(
                "{}: checksum mismatch: the manifest {} expects sha256 {expected} but the file has {sha256}; \
                 the file is not the release the manifest describes: obtain it again ({}) or, if the release changed, update `sha256` in the manifest",
                abs.display(),
                lm.display_path(),
                m.corpus.homepage
            ));
        }
        files.push(ResolvedFile {
            id: f.id.get_ref().clone(),
            abs,
            rel,
            size,
            sha256,
            checksum_skipped: differs,
        });
    }
    Resolution::Ready(ResolvedCorpus {
        dir: raw_root.join(m.id()),
        files,
        limits: medsins_readers::Limits::default(),
    })
}

//! The catalogue compiled into medsins — its manifests and the fixtures that are its demo raw
//! root — and loading it, or a manifest folder on disk ([`CatalogueSource`] says which).
//!
//! An installed `medsins` has no checkout beside it: it builds from the catalogue it was
//! compiled with, unless the user names a folder (`--manifests`) or works in a folder holding
//! `corpora-manifests/` (a checkout, or a contributor's working copy), which then wins.

use crate::catalogue::{Catalogue, LoadedManifest};
use crate::error::Diagnostics;
use crate::source::CatalogueSource;
use std::path::{Path, PathBuf};

/// Why one corpus's manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadManifestError {
    #[error(
        "{}: cannot read the manifest ({source}); pass --manifests DIR holding it",
        .path.display()
    )]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the bundled catalogue has no corpus `{corpus_id}`; pass --manifests DIR holding {corpus_id}.toml"
    )]
    NotBundled { corpus_id: String },
    /// The manifest does not parse: its `file:line:col` diagnostics.
    #[error("{0}; fix the manifest (see `medsins validate`)")]
    Invalid(Diagnostics),
}

pub(crate) mod data {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// Where the fixtures of a manifest folder live, relative to the folder holding it.
const FIXTURES_BESIDE: &str = "fixtures/raw";

/// How bundled manifests are named in diagnostics and provenance (no such file on disk).
const BUNDLED_PREFIX: &str = "<bundled>/corpora-manifests";

/// `(path relative to the fixture root, bytes)` of every bundled fixture file.
pub fn bundled_fixtures() -> &'static [(&'static str, &'static [u8])] {
    data::FIXTURES
}

impl CatalogueSource {
    /// Every manifest, parsed (parse errors of all files together; files that parse are
    /// still returned).
    pub fn load(&self) -> (Catalogue, Diagnostics) {
        match self {
            CatalogueSource::Directory { path } => Catalogue::load(std::slice::from_ref(path)),
            CatalogueSource::Bundled => {
                let mut diags = Diagnostics::default();
                let mut manifests = Vec::new();
                for (name, text) in data::MANIFESTS {
                    match LoadedManifest::parse(&bundled_path(name), text.to_string()) {
                        Ok(m) => manifests.push(m),
                        Err(d) => diags.0.extend(d.0),
                    }
                }
                manifests.sort_by(|a, b| a.manifest.id().cmp(b.manifest.id()));
                let cat = Catalogue {
                    manifests,
                    source: CatalogueSource::Bundled,
                };
                (cat, diags)
            }
        }
    }

    /// Every manifest, parsed and checked (meaning across the whole catalogue): the
    /// diagnostics are every problem, sorted.
    pub fn load_checked(&self) -> (Catalogue, Diagnostics) {
        let (cat, mut diags) = self.load();
        diags.0.extend(crate::check_catalogue(&cat.manifests).0);
        diags.sort();
        (cat, diags)
    }

    /// One corpus's manifest alone (other manifests being edited do not matter).
    pub fn load_manifest(&self, corpus_id: &str) -> Result<LoadedManifest, LoadManifestError> {
        let name = format!("{corpus_id}.toml");
        let (path, text) = match self {
            CatalogueSource::Directory { path } => {
                let p = path.join(&name);
                let text = std::fs::read_to_string(&p).map_err(|source| {
                    LoadManifestError::Unreadable {
                        path: p.clone(),
                        source,
                    }
                })?;
                (p, text)
            }
            CatalogueSource::Bundled => {
                let text = data::MANIFESTS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| t.to_string())
                    .ok_or_else(|| LoadManifestError::NotBundled {
                        corpus_id: corpus_id.to_string(),
                    })?;
                (bundled_path(&name), text)
            }
        };
        LoadedManifest::parse(&path, text).map_err(LoadManifestError::Invalid)
    }

    /// The fixture folder that goes with this catalogue: `fixtures/raw` beside a manifest
    /// folder when there is one (a checkout or a contributor's working copy), else the bundled
    /// fixtures, written to a temporary folder that lives as long as the returned value.
    pub fn fixture_root(&self) -> std::io::Result<FixtureRoot> {
        if let Some(dir) = self.fixture_dir() {
            return Ok(FixtureRoot {
                path: dir,
                extracted: None,
            });
        }
        let tmp = tempfile::Builder::new()
            .prefix("medsins-fixtures-")
            .tempdir()?;
        extract_fixtures(tmp.path())?;
        Ok(FixtureRoot {
            path: tmp.path().to_path_buf(),
            extracted: Some(tmp),
        })
    }

    /// `fixtures/raw` beside a manifest folder, when it exists (nothing is extracted).
    pub fn fixture_dir(&self) -> Option<PathBuf> {
        let dir = self.dir()?;
        let parent = match dir.canonicalize() {
            Ok(abs) => abs.parent()?.to_path_buf(),
            Err(_) => dir.parent()?.to_path_buf(),
        };
        let fixtures = parent.join(FIXTURES_BESIDE);
        fixtures.is_dir().then_some(fixtures)
    }

    /// Where a contributor's new fixtures go: `fixtures/raw` beside the manifest folder
    /// (created when needed); None for the bundled catalogue.
    pub fn fixture_dir_for_new_corpora(&self) -> Option<PathBuf> {
        let dir = self.dir()?;
        Some(match dir.parent() {
            Some(p) => p.join(FIXTURES_BESIDE),
            None => PathBuf::from(FIXTURES_BESIDE),
        })
    }
}

fn bundled_path(name: &str) -> PathBuf {
    PathBuf::from(format!("{BUNDLED_PREFIX}/{name}"))
}

/// Writes every bundled fixture file under `dest` (the layout of `fixtures/raw`).
pub fn extract_fixtures(dest: &Path) -> std::io::Result<()> {
    for (rel, bytes) in data::FIXTURES {
        let p = dest.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, bytes)?;
    }
    Ok(())
}

/// A catalogue's fixture folder: a raw root of small files in each corpus's exact layout,
/// which are not the releases (their checksums differ from the manifests').
#[derive(Debug)]
pub struct FixtureRoot {
    path: PathBuf,
    /// The temporary copy of the bundled fixtures, removed on drop.
    extracted: Option<tempfile::TempDir>,
}

impl FixtureRoot {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether these are the bundled fixtures (written to a temporary folder).
    pub fn is_bundled(&self) -> bool {
        self.extracted.is_some()
    }

    /// Whether `raw_root` is this fixture folder.
    pub fn is(&self, raw_root: &Path) -> bool {
        same_folder(&self.path, raw_root)
    }
}

/// Whether two paths name the same existing folder, however they are written.
pub fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_catalogue_is_the_checkouts() {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../corpora-manifests");
        let (disk, d1) = CatalogueSource::Directory { path: here }.load_checked();
        let (bundled, d2) = CatalogueSource::Bundled.load_checked();
        assert!(d1.is_empty() && d2.is_empty(), "{d1}\n{d2}");
        assert_eq!(bundled.manifests.len(), 58);
        assert_eq!(bundled.tasks().len(), 122);
        let hashes = |c: &Catalogue| -> Vec<(String, String)> {
            c.manifests
                .iter()
                .map(|m| (m.manifest.id().to_string(), m.sha256.clone()))
                .collect()
        };
        assert_eq!(hashes(&disk), hashes(&bundled));
        assert_eq!(bundled.source, CatalogueSource::Bundled);
        assert_eq!(
            bundled.manifests[0].path,
            PathBuf::from("<bundled>/corpora-manifests/ade-corpus.toml")
        );
    }

    #[test]
    fn bundled_fixtures_extract_to_the_checkouts_bytes() {
        let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/raw");
        let root = CatalogueSource::Bundled.fixture_root().unwrap();
        assert!(root.is_bundled());
        let xlsx = "meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx";
        assert_eq!(
            std::fs::read(root.path().join(xlsx)).unwrap(),
            std::fs::read(fixtures.join(xlsx)).unwrap()
        );
        assert!(root.is(root.path()));
        assert!(!root.is(&fixtures));
        assert!(bundled_fixtures().len() > 100);
        let tmp = root.path().to_path_buf();
        drop(root);
        assert!(!tmp.exists(), "the temporary copy is removed");
    }

    #[test]
    fn a_folder_beside_fixtures_uses_them_and_unknown_corpora_are_named() {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let src = CatalogueSource::Directory {
            path: repo.join("corpora-manifests"),
        };
        let root = src.fixture_root().unwrap();
        assert!(!root.is_bundled());
        assert!(root.is(&repo.join("fixtures/raw")));
        assert_eq!(
            CatalogueSource::Bundled
                .load_manifest("nope")
                .unwrap_err()
                .to_string(),
            "the bundled catalogue has no corpus `nope`; pass --manifests DIR holding nope.toml"
        );
        assert_eq!(
            CatalogueSource::Bundled
                .load_manifest("meqsum")
                .unwrap()
                .manifest
                .id(),
            "meqsum"
        );
    }
}

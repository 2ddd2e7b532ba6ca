//! Loading manifests from files and directories.

use crate::error::{Diagnostic, Diagnostics, LineIndex};
use crate::model::Manifest;
use crate::source::CatalogueSource;
use std::path::{Path, PathBuf};

/// A parsed manifest together with the text it came from (for located diagnostics) and its hash.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    pub path: PathBuf,
    pub text: String,
    pub sha256: String,
    pub manifest: Manifest,
    /// `Some(id)` when `manifest` is the view of one distribution ([`Self::for_variant`]);
    /// `None` as loaded.
    pub variant: Option<String>,
}

impl LoadedManifest {
    /// Parses a manifest. When it cannot be read, every syntax and type mistake is reported at
    /// once (see [`crate::schema_check`]), each located `file:line:col`.
    pub fn parse(path: &Path, text: String) -> Result<Self, Diagnostics> {
        match toml::from_str::<Manifest>(&text) {
            Ok(manifest) => Ok(LoadedManifest {
                path: path.to_path_buf(),
                sha256: medsins_core::sha256_hex(text.as_bytes()),
                manifest,
                text,
                variant: None,
            }),
            Err(e) => {
                let index = LineIndex { path, text: &text };
                let mut found: Vec<Diagnostic> = crate::schema_check::problems(&text)
                    .into_iter()
                    .map(|p| index.at(p.span.start, p.message))
                    .collect();
                if found.is_empty() {
                    // A mistake the schema cannot express (a value serde rejects by content).
                    let offset = e.span().map(|s| s.start).unwrap_or(0);
                    found.push(index.at(offset, e.message().trim().to_string()));
                }
                Err(Diagnostics(found))
            }
        }
    }

    /// This manifest as one of its distributions sees it (see [`Manifest::for_variant`]): same
    /// file, text and hash, so diagnostics and provenance still point at the manifest.
    pub fn for_variant(&self, id: &str) -> Option<LoadedManifest> {
        Some(LoadedManifest {
            path: self.path.clone(),
            text: self.text.clone(),
            sha256: self.sha256.clone(),
            manifest: self.manifest.for_variant(id)?,
            variant: Some(id.to_string()),
        })
    }

    /// The distribution this view is of (`default` for a manifest without variants).
    pub fn variant_id(&self) -> &str {
        self.variant
            .as_deref()
            .unwrap_or(crate::model::DEFAULT_VARIANT)
    }

    /// A diagnostic at a byte offset of this manifest's text.
    pub fn diag(&self, offset: usize, message: impl Into<String>) -> Diagnostic {
        LineIndex {
            path: &self.path,
            text: &self.text,
        }
        .at(offset, message)
    }

    /// The manifest's path for display: relative to the working directory when possible.
    pub fn display_path(&self) -> String {
        self.path.display().to_string()
    }
}

/// Every manifest of a catalogue directory, sorted by corpus id.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub manifests: Vec<LoadedManifest>,
    /// Where the manifests came from (the build report and lock say it).
    pub source: CatalogueSource,
}

impl Catalogue {
    /// Loads every `*.toml` of `dir` (or the given files). Parse errors of all files are
    /// returned together; files that parse are still returned.
    pub fn load(paths: &[PathBuf]) -> (Catalogue, Diagnostics) {
        let mut files = Vec::new();
        let mut diags = Diagnostics::default();
        for p in paths {
            if p.is_dir() {
                match std::fs::read_dir(p) {
                    Ok(rd) => {
                        let mut v: Vec<PathBuf> = rd
                            .filter_map(|e| e.ok().map(|e| e.path()))
                            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                            .collect();
                        v.sort();
                        files.extend(v);
                    }
                    Err(e) => diags.0.push(Diagnostic {
                        file: p.clone(),
                        line: 1,
                        col: 1,
                        message: format!("cannot read manifest directory: {e}"),
                    }),
                }
            } else {
                files.push(p.clone());
            }
        }
        let mut manifests = Vec::new();
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(text) => match LoadedManifest::parse(&f, text) {
                    Ok(m) => manifests.push(m),
                    Err(d) => diags.0.extend(d.0),
                },
                Err(e) => diags.0.push(Diagnostic {
                    file: f.clone(),
                    line: 1,
                    col: 1,
                    message: format!("cannot read manifest: {e}"),
                }),
            }
        }
        manifests.sort_by(|a, b| a.manifest.id().cmp(b.manifest.id()));
        let source = CatalogueSource::Directory {
            path: paths.first().cloned().unwrap_or_default(),
        };
        (Catalogue { manifests, source }, diags)
    }

    pub fn get(&self, corpus_id: &str) -> Option<&LoadedManifest> {
        self.manifests.iter().find(|m| m.manifest.id() == corpus_id)
    }

    /// All (manifest, task) pairs, ordered by task number.
    pub fn tasks(&self) -> Vec<(&LoadedManifest, &crate::model::Task)> {
        let mut v: Vec<_> = self
            .manifests
            .iter()
            .flat_map(|m| m.manifest.tasks.iter().map(move |t| (m, t)))
            .collect();
        v.sort_by_key(|(_, t)| *t.number.get_ref());
        v
    }
}

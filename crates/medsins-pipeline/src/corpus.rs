//! Finding a corpus's raw files under the raw root, as users place them: which distribution
//! (variant) is present, where each declared path is, size and checksum.
//!
//! A declared `path` is looked for in the corpus folder `<raw-root>/<corpus-id>/` (or
//! `<raw-root>/<root>/`) and one folder deeper, the top folder a clone or an archive leaves
//! (`medquad/MedQuAD/1_CancerGov_QA/…`). A path may be a pattern ([`medsins_manifest::PathPattern`]):
//! for a single file it must match exactly one file (two candidates are an error naming both);
//! a `many` file is the set of everything it matches, read in natural (or `order_by`) order.
//! Nothing outside the corpus folder is ever read: patterns do not follow symbolic links, and a
//! path that resolves outside the folder (through a link) is refused.

use crate::error::{CorpusError, FileProblem};
use medsins_manifest::{
    ListingError, LoadedManifest, PathPattern, RawFile, Task, listing, natural_cmp, release_cmp,
    release_key,
};
use medsins_output::{LockedFile, LockedMember};
use medsins_readers::{Limits, ReadError, Record, RecordError, Sink};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One file of a `many` file set.
#[derive(Debug, Clone)]
pub struct Part {
    /// Relative to the set's folder, `/`-separated (the prefix of its records' locators).
    pub rel: String,
    pub abs: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// A raw file found on disk.
#[derive(Debug, Clone)]
pub struct ResolvedFile {
    pub id: String,
    /// The file or folder; for a file set, the set's folder.
    pub abs: PathBuf,
    /// Relative to the raw root, `/`-separated (what rows and the lock record).
    pub rel: String,
    pub size: u64,
    pub sha256: String,
    /// The folder the path was found in (the corpus folder, or the top folder of a clone one
    /// level deeper): formats that open further files resolve them there.
    pub base: PathBuf,
    /// The files of a `many` file set, in reading order (empty otherwise).
    pub parts: Vec<Part>,
    /// The file differs from the `sha256` its manifest declares, accepted by [`Checksums::Skip`].
    pub checksum_skipped: bool,
}

/// Whether raw files must have the checksums their manifests declare. The binary decides,
/// never a file in the raw root: only the fixtures it bundles (they are not the releases) and
/// roots the user marks with `--skip-checksums` (synthetic data) are built with differences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Checksums {
    /// A file that differs from its release fails its corpus.
    #[default]
    Verify,
    /// Differences are accepted and recorded (`ResolvedFile::checksum_skipped`; the lock and
    /// the dataset card list them): for fixtures and synthetic roots, which are not releases.
    Skip,
}

impl ResolvedFile {
    /// Reads the file (every file of a set, one after the other) as `spec` describes it,
    /// within `limits`.
    pub fn read(&self, spec: &RawFile, limits: &Limits, sink: &mut Sink) -> Result<(), ReadError> {
        let (format, options) = (spec.format.get_ref(), &spec.options);
        if spec.many {
            let parts: Vec<(String, PathBuf)> = self
                .parts
                .iter()
                .map(|p| (p.rel.clone(), p.abs.clone()))
                .collect();
            medsins_readers::read_file_set(
                &self.abs, &parts, format, options, &self.base, limits, sink,
            )
        } else {
            medsins_readers::read_file(&self.abs, format, options, &self.base, limits, sink)
        }
    }

    /// Every record of the file, in memory (lookups, audits).
    pub fn read_all(
        &self,
        spec: &RawFile,
        limits: &Limits,
    ) -> Result<Vec<Result<Record, RecordError>>, ReadError> {
        let mut out = Vec::new();
        self.read(spec, limits, &mut |r| out.push(r))?;
        Ok(out)
    }
}

/// A corpus's files, found: from which distribution, and the manifest as that distribution
/// sees it ([`LoadedManifest::for_variant`]), which is what its tasks run with.
#[derive(Debug, Clone)]
pub struct ResolvedCorpus {
    pub manifest: LoadedManifest,
    /// The variant's human-readable name (the corpus's name for a single distribution).
    pub variant_name: String,
    pub files: Vec<ResolvedFile>,
    /// The bounds its files are read within (the defaults unless the build raised them).
    pub limits: Limits,
}

impl ResolvedCorpus {
    pub fn variant(&self) -> &str {
        self.manifest.variant_id()
    }
    pub fn file(&self, id: &str) -> Option<&ResolvedFile> {
        self.files.iter().find(|f| f.id == id)
    }
    /// A task as this distribution builds it.
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.manifest
            .manifest
            .tasks
            .iter()
            .find(|t| t.id.get_ref() == id)
    }
    /// The raw files whose differing checksum was accepted ([`Checksums::Skip`]).
    pub fn checksums_skipped(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .filter(|f| f.checksum_skipped)
            .map(|f| f.rel.as_str())
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
                members: f
                    .parts
                    .iter()
                    .map(|p| LockedMember {
                        path: p.rel.clone(),
                        size: p.size,
                        sha256: p.sha256.clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}

pub enum Resolution {
    Ready(Box<ResolvedCorpus>),
    /// Expected paths (as the user should create them).
    Missing(Vec<String>),
    /// A file is present but wrong (checksum, two candidates, outside the corpus folder) or
    /// unreadable.
    Failed(CorpusError),
}

/// The folder under the raw root a file is looked for in: its `root`, else the corpus id.
fn folder_name<'a>(corpus_id: &'a str, f: &'a RawFile) -> &'a str {
    f.root
        .as_ref()
        .map(|r| r.get_ref().as_str())
        .unwrap_or(corpus_id)
}

/// A file's declared place under the raw root: `<root or corpus-id>/<path>` (its path may be a
/// pattern).
pub fn raw_rel_path(corpus_id: &str, f: &RawFile) -> String {
    format!("{}/{}", folder_name(corpus_id, f), f.path.get_ref())
}

/// Size and SHA-256 of a file (hashed through a map of it).
pub use medsins_readers::sha256_file as hash_file;

/// Size and SHA-256 of a file, or of a folder's listing of files and their hashes.
pub fn hash_path(p: &Path) -> std::io::Result<(u64, String)> {
    if p.is_dir() {
        medsins_readers::folder_sha256(p)
    } else {
        hash_file(p)
    }
}

/// Size and SHA-256 of a file set from its members' `(path, size, sha256)`, in reading order:
/// the SHA-256 of the lines `<path>\0<sha256>\n` (as a folder's is of its files').
pub fn set_sha256<'a>(members: impl Iterator<Item = (&'a str, u64, &'a str)>) -> (u64, String) {
    let mut listing = String::new();
    let mut size = 0;
    for (path, n, sha) in members {
        listing.push_str(&format!("{path}\0{sha}\n"));
        size += n;
    }
    (size, medsins_core::sha256_hex(listing.as_bytes()))
}

/// Where a declared file is, before hashing.
#[derive(Debug, Clone)]
pub enum Located {
    One {
        abs: PathBuf,
        base: PathBuf,
    },
    /// A `many` file: the set's folder and its files (relative to it), in reading order.
    Set {
        folder: PathBuf,
        parts: Vec<(String, PathBuf)>,
    },
}

impl Located {
    /// Where it is relative to the raw root, as rows and the lock record it: the file or
    /// folder, or a set's folder.
    pub fn rel_under(&self, raw_root: &Path) -> String {
        let p = match self {
            Located::One { abs, .. } => abs,
            Located::Set { folder, .. } => folder,
        };
        p.strip_prefix(raw_root)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| p.display().to_string())
    }
}

/// What looking for one declared file found.
#[derive(Debug, Clone)]
pub enum Found {
    Here(Located),
    /// Nothing matches; the path the user should create.
    Missing(String),
    /// Something is there but cannot be used (two candidates, outside the corpus folder, a
    /// folder that cannot be listed); shared, as every survey of it reports the same problem.
    Unusable(Arc<FileProblem>),
}

/// Finds one declared file under the raw root (see the module docs).
pub fn locate(raw_root: &Path, corpus_id: &str, f: &RawFile) -> Found {
    match find(raw_root, corpus_id, f) {
        Ok(found) => found,
        Err(problem) => Found::Unusable(Arc::new(problem)),
    }
}

fn find(raw_root: &Path, corpus_id: &str, f: &RawFile) -> Result<Found, FileProblem> {
    let folder = raw_root.join(folder_name(corpus_id, f));
    let expected = raw_root
        .join(raw_rel_path(corpus_id, f))
        .display()
        .to_string();
    let pattern = PathPattern::parse(f.path.get_ref()).map_err(|source| FileProblem::Pattern {
        expected: expected.clone(),
        source,
    })?;
    // the corpus folder itself, then every folder directly in it (a clone's top folder)
    let mut bases: Vec<(Option<String>, PathBuf)> = vec![(None, folder.clone())];
    bases.extend(
        listing(&folder)?
            .into_iter()
            .filter(|e| e.2)
            .map(|(name, p, _)| (Some(name), p)),
    );
    // (top folder it was found under, path relative to the corpus folder, where)
    let mut matches: Vec<(Option<String>, String, PathBuf)> = Vec::new();
    for (top, base) in &bases {
        for (rel, abs) in pattern.find(base)? {
            let rel = match top {
                Some(t) => format!("{t}/{rel}"),
                None => rel,
            };
            if !matches.iter().any(|m| m.1 == rel) {
                matches.push((top.clone(), rel, abs));
            }
        }
    }
    if matches.is_empty() {
        return Ok(Found::Missing(expected));
    }
    // nothing outside the corpus folder, whatever links the path goes through
    let resolved = |p: &Path| {
        p.canonicalize()
            .map_err(|source| ListingError::Inaccessible {
                path: p.to_path_buf(),
                source,
            })
    };
    let inside = resolved(&folder)?;
    for (_, rel, abs) in &matches {
        if !resolved(abs)?.starts_with(&inside) {
            return Err(FileProblem::Outside {
                path: folder.join(rel),
                folder,
            });
        }
    }
    let shown = |rel: &str| folder.join(rel).display().to_string();
    if !f.many {
        if matches.len() > 1 {
            return Err(FileProblem::Candidates {
                file_id: f.id.get_ref().clone(),
                expected,
                candidates: matches.iter().map(|m| shown(&m.1)).collect(),
            });
        }
        let (top, _, abs) = matches.remove(0);
        let base = top
            .map(|t| folder.join(t))
            .unwrap_or_else(|| folder.clone());
        return Ok(Found::Here(Located::One { abs, base }));
    }
    // a set found entirely inside one top folder is read from there (same locators as a
    // release unpacked directly into the corpus folder)
    let one_top = matches[0]
        .0
        .clone()
        .filter(|t| matches.iter().all(|m| m.0.as_deref() == Some(t.as_str())));
    let (set_folder, strip) = match &one_top {
        Some(t) => (folder.join(t), t.len() + 1),
        None => (folder.clone(), 0),
    };
    let order = f
        .order_by
        .as_deref()
        .and_then(|o| regex::Regex::new(o).ok());
    let mut parts: Vec<(String, PathBuf)> = matches
        .into_iter()
        .map(|(_, rel, abs)| (rel[strip..].to_string(), abs))
        .collect();
    parts.sort_by(|a, b| {
        let by_release = match &order {
            Some(re) => {
                let name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
                release_cmp(&release_key(re, &name(&a.0)), &release_key(re, &name(&b.0)))
            }
            None => std::cmp::Ordering::Equal,
        };
        by_release.then_with(|| natural_cmp(&a.0, &b.0))
    });
    Ok(Found::Here(Located::Set {
        folder: set_folder,
        parts,
    }))
}

/// Sizes and checksums of a located file; a declared checksum that differs fails the corpus
/// unless `checksums` says to accept it.
fn hash_located(
    lm: &LoadedManifest,
    raw_root: &Path,
    f: &RawFile,
    located: Located,
    checksums: Checksums,
) -> Result<ResolvedFile, CorpusError> {
    let rel = located.rel_under(raw_root);
    let cannot = |p: &Path, source| CorpusError::Unreadable {
        path: p.to_path_buf(),
        source,
    };
    let resolved = match located {
        Located::One { abs, base } => {
            let (size, sha256) = hash_path(&abs).map_err(|e| cannot(&abs, e))?;
            ResolvedFile {
                id: f.id.get_ref().clone(),
                rel,
                abs,
                size,
                sha256,
                base,
                parts: Vec::new(),
                checksum_skipped: false,
            }
        }
        Located::Set { folder, parts } => {
            // in parallel; the first failure in reading order is the one reported
            let hashed: Vec<Result<Part, CorpusError>> = parts
                .into_par_iter()
                .map(|(rel, abs)| {
                    let (size, sha256) = hash_path(&abs).map_err(|e| cannot(&abs, e))?;
                    Ok(Part {
                        rel,
                        abs,
                        size,
                        sha256,
                    })
                })
                .collect();
            let hashed: Vec<Part> = hashed.into_iter().collect::<Result<_, _>>()?;
            let (size, sha256) = set_sha256(
                hashed
                    .iter()
                    .map(|p| (p.rel.as_str(), p.size, p.sha256.as_str())),
            );
            ResolvedFile {
                id: f.id.get_ref().clone(),
                rel,
                abs: folder.clone(),
                size,
                sha256,
                base: folder,
                parts: hashed,
                checksum_skipped: false,
            }
        }
    };
    let mut resolved = resolved;
    if let Some(expected) = &f.sha256
        && *expected != resolved.sha256
    {
        if checksums == Checksums::Skip {
            log::info!(
                "{}: differs from the release checksum (accepted: checksums are not verified for this raw root)",
                resolved.abs.display()
            );
            resolved.checksum_skipped = true;
        } else {
            return Err(CorpusError::ChecksumMismatch {
                path: resolved.abs,
                manifest: lm.display_path(),
                expected: expected.clone(),
                found: resolved.sha256,
                homepage: lm.manifest.corpus.homepage.clone(),
            });
        }
    }
    Ok(resolved)
}

/// Queues the reads of located files ([`medsins_readers::prefetch`]), in hashing order.
fn prefetch<'a>(located: impl Iterator<Item = &'a Located>) {
    for l in located {
        let paths: Vec<&Path> = match l {
            Located::One { abs, .. } => vec![abs.as_path()],
            Located::Set { parts, .. } => parts.iter().map(|p| p.1.as_path()).collect(),
        };
        for p in paths.into_iter().filter(|p| p.is_file()) {
            // a hint only: a file that cannot be prefetched is read (and its error reported)
            // by the hashing that runs beside
            let _ = medsins_readers::prefetch(p);
        }
    }
}

/// What one distribution's files look like under the raw root.
pub struct Survey {
    /// The distribution's view of the manifest.
    pub view: LoadedManifest,
    /// The distribution's name (the corpus's name for its one distribution).
    pub variant_name: String,
    /// (file id, what was found), for the files asked about, in manifest order.
    pub files: Vec<(String, Found)>,
}

impl Survey {
    /// Looks for the given files of a view (every file when `file_ids` is None).
    pub fn of(view: LoadedManifest, raw_root: &Path, file_ids: Option<&[String]>) -> Survey {
        let files = view
            .manifest
            .files
            .iter()
            .filter(|f| file_ids.is_none_or(|ids| ids.iter().any(|i| i == f.id.get_ref())))
            .map(|f| {
                (
                    f.id.get_ref().clone(),
                    locate(raw_root, view.manifest.id(), f),
                )
            })
            .collect();
        let variant_name = view.manifest.corpus.name.clone();
        Survey {
            view,
            variant_name,
            files,
        }
    }
    pub fn complete(&self) -> bool {
        self.files.iter().all(|(_, f)| matches!(f, Found::Here(_)))
    }
    /// Ids of the files found.
    pub fn present(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|(_, f)| matches!(f, Found::Here(_)))
            .map(|(id, _)| id.clone())
            .collect()
    }
    pub fn missing(&self) -> Vec<String> {
        self.files
            .iter()
            .filter_map(|(_, f)| match f {
                Found::Missing(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }
    /// The first reason a file found cannot be used.
    pub fn problem(&self) -> Option<Arc<FileProblem>> {
        self.files.iter().find_map(|(_, f)| match f {
            Found::Unusable(m) => Some(m.clone()),
            _ => None,
        })
    }
    /// Hashes the files found (all of them, or the given ones) into a resolved corpus.
    pub fn resolve(
        self,
        raw_root: &Path,
        only: Option<&[String]>,
        checksums: Checksums,
    ) -> Resolution {
        if let Some(problem) = self.problem() {
            return Resolution::Failed(CorpusError::unusable(self.view.manifest.id(), problem));
        }
        let todo: Vec<(&RawFile, &Located)> = self
            .files
            .iter()
            .filter(|(id, _)| only.is_none_or(|o| o.contains(id)))
            .filter_map(|(id, found)| match (found, self.view.manifest.file(id)) {
                (Found::Here(located), Some(spec)) => Some((spec, located)),
                _ => None,
            })
            .collect();
        // the files are hashed in parallel (reading them is most of a cold build's waiting),
        // while another thread queues the reads of all of them; the first failure in the
        // manifest's order is the one reported, as before
        let hashed: Vec<Result<ResolvedFile, CorpusError>> = std::thread::scope(|s| {
            s.spawn(|| prefetch(todo.iter().map(|t| t.1)));
            todo.par_iter()
                .map(|(spec, located)| {
                    hash_located(&self.view, raw_root, spec, (*located).clone(), checksums)
                })
                .collect()
        });
        let mut files = Vec::new();
        for h in hashed {
            match h {
                Ok(f) => files.push(f),
                Err(m) => return Resolution::Failed(m),
            }
        }
        Resolution::Ready(Box::new(ResolvedCorpus {
            manifest: self.view,
            variant_name: self.variant_name,
            files,
            limits: Limits::default(),
        }))
    }
}

/// Every distribution of a corpus, surveyed for the files the given tasks need (all tasks when
/// `task_ids` is None), in the manifest's order of preference.
pub fn survey_variants(
    lm: &LoadedManifest,
    raw_root: &Path,
    task_ids: Option<&[String]>,
) -> Vec<Survey> {
    lm.manifest
        .variant_ids()
        .into_iter()
        .filter_map(|id| Some((lm.for_variant(id)?, lm.manifest.variant(id))))
        .map(|(view, variant)| {
            let m = &view.manifest;
            let needed: Vec<String> = m
                .tasks
                .iter()
                .filter(|t| task_ids.is_none_or(|ids| ids.contains(t.id.get_ref())))
                .flat_map(|t| m.needed_file_ids(t))
                .collect();
            let mut s = Survey::of(view, raw_root, Some(&needed));
            if let Some(v) = variant {
                s.variant_name = v.name.clone();
            }
            s
        })
        .collect()
}

/// The paths of every distribution that are missing, each named by its variant when there are
/// several.
fn missing_paths(lm: &LoadedManifest, surveys: &[Survey]) -> Vec<String> {
    let several = !lm.manifest.variants.is_empty();
    surveys
        .iter()
        .flat_map(|s| {
            let v = s.view.variant_id().to_string();
            s.missing().into_iter().map(move |p| {
                if several {
                    format!("{p} (variant `{v}`)")
                } else {
                    p
                }
            })
        })
        .collect()
}

/// Resolves the files the given tasks need (all tasks when `task_ids` is None) from the first
/// distribution whose files are all present.
pub fn resolve_corpus(
    lm: &LoadedManifest,
    raw_root: &Path,
    task_ids: Option<&[String]>,
    checksums: Checksums,
) -> Resolution {
    let surveys = survey_variants(lm, raw_root, task_ids);
    if let Some(i) = surveys.iter().position(|s| s.complete()) {
        return surveys
            .into_iter()
            .nth(i)
            .map(|s| s.resolve(raw_root, None, checksums))
            .unwrap_or_else(|| Resolution::Missing(Vec::new()));
    }
    if let Some(problem) = surveys.iter().find_map(Survey::problem) {
        return Resolution::Failed(CorpusError::unusable(lm.manifest.id(), problem));
    }
    Resolution::Missing(missing_paths(lm, &surveys))
}

/// Whether any file of any distribution of the corpus is under the raw root.
pub fn any_present(lm: &LoadedManifest, raw_root: &Path) -> bool {
    survey_variants(lm, raw_root, None)
        .iter()
        .any(|s| !s.present().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// A manifest of corpus `c` with the given `[[files]]` entries (TOML).
    fn manifest(files: &str) -> LoadedManifest {
        let text = format!(
            "[corpus]\nid = \"c\"\nname = \"C\"\nhomepage = \"h\"\nversion = \"1\"\nlicense = \"l\"\naccess = \"public\"\ncitation = \"x\"\nobtain = \"o\"\n{files}"
        );
        LoadedManifest::parse(Path::new("c.toml"), text).unwrap()
    }

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn found(root: &Path, lm: &LoadedManifest) -> Found {
        locate(root, "c", &lm.manifest.files[0])
    }

    #[test]
    fn a_path_is_found_in_the_corpus_folder_or_one_folder_deeper() {
        let d = tempfile::tempdir().unwrap();
        let lm =
            manifest("[[files]]\nid = \"t\"\npath = \"data/train.jsonl\"\nformat = \"jsonl\"\n");
        assert!(
            matches!(found(d.path(), &lm), Found::Missing(p) if p == d.path().join("c/data/train.jsonl").display().to_string())
        );
        write(d.path(), "c/Release-main/data/train.jsonl", "{}\n");
        let Found::Here(Located::One { abs, base }) = found(d.path(), &lm) else {
            panic!("not found one folder deeper")
        };
        assert_eq!(base, d.path().join("c/Release-main"));
        assert_eq!(abs, d.path().join("c/Release-main/data/train.jsonl"));
        // the same file directly in the corpus folder too: two candidates, both named
        write(d.path(), "c/data/train.jsonl", "{}\n");
        let Found::Unusable(m) = found(d.path(), &lm) else {
            panic!("two candidates accepted")
        };
        let root = d.path().join("c").display().to_string();
        assert_eq!(
            m.to_string(),
            format!(
                "file `t` ({root}/data/train.jsonl) has 2 candidates: {root}/data/train.jsonl and {root}/Release-main/data/train.jsonl; keep only the one to build from"
            )
        );
    }

    #[test]
    fn a_pattern_stands_for_a_name_that_changes_between_releases() {
        let d = tempfile::tempdir().unwrap();
        let lm = manifest(
            "[[files]]\nid = \"t\"\npath = \"data/question-answering/{COVID-QA,*covidQA}.json\"\nformat = \"json\"\n",
        );
        write(
            d.path(),
            "c/data/question-answering/200423_covidQA.json",
            "{}",
        );
        write(d.path(), "c/data/question-answering/readme.md", "");
        let Found::Here(Located::One { abs, .. }) = found(d.path(), &lm) else {
            panic!("pattern not matched")
        };
        assert!(abs.ends_with("200423_covidQA.json"));
    }

    #[test]
    fn a_file_set_is_read_in_natural_or_release_order_from_its_folder() {
        let d = tempfile::tempdir().unwrap();
        let lm = manifest(
            "[[files]]\nid = \"q\"\npath = \"{*train*b.json,*_golden.json}\"\nmany = true\norder_by = '(\\d+)[bB](\\d*)'\nformat = \"json\"\n",
        );
        for f in [
            "c/training12b.json",
            "c/Task11BGoldenEnriched/11B2_golden.json",
            "c/Task11BGoldenEnriched/11B10_golden.json",
            "c/BioASQ-training11b/training11b.json",
            "c/notes.txt",
        ] {
            write(d.path(), f, "{\"questions\": []}");
        }
        let Found::Here(Located::Set { folder, parts }) = found(d.path(), &lm) else {
            panic!("set not found")
        };
        assert_eq!(folder, d.path().join("c"));
        let rels: Vec<&str> = parts.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            rels,
            [
                "BioASQ-training11b/training11b.json",
                "Task11BGoldenEnriched/11B2_golden.json",
                "Task11BGoldenEnriched/11B10_golden.json",
                "training12b.json"
            ]
        );
        // a set entirely inside a clone's top folder is read from there; directly in the
        // corpus folder, from the corpus folder: the same parts either way
        let lm = manifest(
            "[[files]]\nid = \"d\"\npath = \"[0-9]*_*_QA*\"\nmany = true\nformat = \"xml\"\n",
        );
        for top in ["c/MedQuAD", "c"] {
            let d = tempfile::tempdir().unwrap();
            for f in [
                "10_MPlus_ADAM_QA/0000001.xml",
                "9_CDC_QA/0000001_1.xml",
                "8_NHLBI_QA_XML/0000002.xml",
                "readme.txt",
            ] {
                write(d.path(), &format!("{top}/{f}"), "<a/>");
            }
            let Found::Here(Located::Set { folder, parts }) = found(d.path(), &lm) else {
                panic!("set not found")
            };
            assert_eq!(folder, d.path().join(top));
            let rels: Vec<&str> = parts.iter().map(|p| p.0.as_str()).collect();
            assert_eq!(rels, ["8_NHLBI_QA_XML", "9_CDC_QA", "10_MPlus_ADAM_QA"]);
        }
    }

    #[cfg(unix)]
    #[test]
    fn nothing_outside_the_corpus_folder_is_read_through_a_link() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "outside/secret.jsonl", "{}\n");
        fs::create_dir_all(d.path().join("raw/c")).unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), d.path().join("raw/c/data")).unwrap();
        let root = d.path().join("raw");
        // a literal path through the link resolves outside: refused
        let lm =
            manifest("[[files]]\nid = \"t\"\npath = \"data/secret.jsonl\"\nformat = \"jsonl\"\n");
        let Found::Unusable(m) = locate(&root, "c", &lm.manifest.files[0]) else {
            panic!("a link out of the corpus folder was followed")
        };
        assert_eq!(
            m.to_string(),
            format!(
                "{}: resolves outside {} (through a symbolic link); raw files must be inside the corpus folder",
                root.join("c/data/secret.jsonl").display(),
                root.join("c").display()
            )
        );
        // a pattern never walks into a link
        let lm = manifest("[[files]]\nid = \"t\"\npath = \"*/secret.jsonl\"\nformat = \"jsonl\"\n");
        assert!(matches!(
            locate(&root, "c", &lm.manifest.files[0]),
            Found::Missing(_)
        ));
        // the corpus folder itself may be a link to where the user keeps the data
        fs::remove_file(d.path().join("raw/c/data")).unwrap();
        fs::remove_dir(d.path().join("raw/c")).unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), d.path().join("raw/c")).unwrap();
        let lm = manifest("[[files]]\nid = \"t\"\npath = \"secret.jsonl\"\nformat = \"jsonl\"\n");
        assert!(matches!(
            locate(&root, "c", &lm.manifest.files[0]),
            Found::Here(_)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_that_cannot_be_listed_fails_the_corpus_instead_of_missing_it() {
        let d = tempfile::tempdir().unwrap();
        // the corpus folder is a link to itself: unreadable even for root
        std::os::unix::fs::symlink(d.path().join("c"), d.path().join("c")).unwrap();
        let lm = manifest("[[files]]\nid = \"t\"\npath = \"*.jsonl\"\nformat = \"jsonl\"\n");
        let survey = Survey::of(lm, d.path(), None);
        let Resolution::Failed(e) = survey.resolve(d.path(), None, Checksums::Verify) else {
            panic!("an unreadable corpus folder was taken for a missing file")
        };
        let e = e.to_string();
        let folder = d.path().join("c").display().to_string();
        assert!(
            e.starts_with(&format!(
                "c: {folder}: cannot list this folder (Too many levels of symbolic links"
            )),
            "{e}"
        );
        assert!(
            e.ends_with("check its permissions and any symbolic link leading to it)"),
            "{e}"
        );
    }
}

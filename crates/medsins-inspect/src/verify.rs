//! `medsins verify --out DIR`: is this output what its lock says it is?
//!
//! 1. every file of the output against `SHA256SUMS` (changed, missing or unlisted files);
//! 2. with a raw root, every raw file of the lock re-hashed (changed or missing files);
//! 3. with `rebuild`, the build re-run into a temporary directory from the lock's manifests and
//!    options, and every file compared byte for byte with the output.

use crate::audit::read_lock;
use medsins_manifest::{Catalogue, CatalogueSource, LoadedManifest};
use medsins_output::{self as output, ChecksumProblem, Lock};
use medsins_pipeline::corpus::{Checksums, hash_file, hash_path, set_sha256};
use medsins_pipeline::{BuildOptions, build};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The catalogue holding the build's manifests (for `rebuild`).
    pub catalogue: CatalogueSource,
    /// Re-hash the lock's raw files under this root (and rebuild from it).
    pub raw_root: Option<PathBuf>,
    /// Whether the rebuild verifies the raw files' checksums against the manifests (the
    /// re-hash against the lock always compares).
    pub checksums: Checksums,
    pub rebuild: bool,
    /// The instruction bank, when the build used one (for `rebuild`).
    pub instructions: Option<PathBuf>,
    /// The benchmark files the build decontaminated against, when it did (for `rebuild`).
    pub decontaminate: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Problem {
    /// `output_changed`, `output_missing`, `output_unlisted`, `raw_changed`, `raw_missing`,
    /// `instructions_changed`, `manifest_changed`, `manifest_missing`, `rebuild_differs`,
    /// `rebuild_missing`, `rebuild_extra`, `rebuild_failed`.
    pub kind: String,
    /// The file concerned (relative to the output, the raw root or the manifest folder).
    pub file: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct VerifyReport {
    pub out: String,
    pub ok: bool,
    pub output_files: usize,
    pub raw_files_checked: usize,
    pub rebuilt_files: Option<usize>,
    pub problems: Vec<Problem>,
    pub notes: Vec<String>,
}

impl VerifyReport {
    fn problem(&mut self, kind: &str, file: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            kind: kind.into(),
            file: file.into(),
            message: message.into(),
        });
    }
}

/// The size and SHA-256 a locked raw file has now: a file or folder's own, or for a file set
/// the hash of its members' listing (members re-hashed one by one).
fn hash_locked(abs: &Path, f: &output::LockedFile) -> std::io::Result<(u64, String)> {
    if f.members.is_empty() {
        return hash_path(abs);
    }
    let now = f
        .members
        .iter()
        .map(|m| hash_path(&abs.join(&m.path)).map(|(n, s)| (m.path.as_str(), n, s)))
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(set_sha256(now.iter().map(|(p, n, s)| (*p, *n, s.as_str()))))
}

pub fn verify(out: &Path, opts: &VerifyOptions) -> Result<VerifyReport, crate::audit::AuditError> {
    let lock = read_lock(out)?;
    let mut r = VerifyReport {
        out: out.display().to_string(),
        ..Default::default()
    };
    if lock.builder_version != medsins_core::BUILDER_VERSION {
        r.notes.push(format!(
            "built by {}, verified by {}",
            lock.builder_version,
            medsins_core::BUILDER_VERSION
        ));
    }
    if !lock.complete {
        r.notes.push(format!(
            "a partial build: missing {:?}, failed {:?}",
            lock.missing, lock.failed
        ));
    }

    // 1. the output against SHA256SUMS (which covers the lock too)
    r.output_files = output::read_checksums(out)?.len();
    for p in output::verify_checksums(out)? {
        let (kind, file) = match &p {
            ChecksumProblem::Changed(f) => ("output_changed", f),
            ChecksumProblem::Missing(f) => ("output_missing", f),
            ChecksumProblem::Unlisted(f) => ("output_unlisted", f),
        };
        let what = match kind {
            "output_changed" => {
                "content differs from SHA256SUMS: the file was modified after the build; rebuild or restore it"
            }
            "output_missing" => {
                "listed in SHA256SUMS but missing: the file was deleted after the build; rebuild or restore it"
            }
            _ => {
                "not listed in SHA256SUMS: the file was added after the build; remove it or rebuild"
            }
        };
        r.problem(
            kind,
            file.display().to_string(),
            format!("{}: {what}", out.join(file).display()),
        );
    }

    // 2. the raw files against the lock
    if let Some(root) = &opts.raw_root {
        for f in &lock.raw_files {
            r.raw_files_checked += 1;
            let abs = root.join(&f.path);
            if !abs.exists() {
                r.problem(
                    "raw_missing",
                    &f.path,
                    format!(
                        "{}: raw file of the lock not found; put the release the build used there",
                        abs.display()
                    ),
                );
                continue;
            }
            match hash_locked(&abs, f) {
                Ok((_, sha)) if sha == f.sha256 => {}
                Ok((_, sha)) => r.problem(
                    "raw_changed",
                    &f.path,
                    format!("{}: sha256 {sha} differs from the lock's {}; the raw file changed since the build: restore the release the build used, or rebuild", abs.display(), f.sha256),
                ),
                Err(e) => r.problem("raw_missing", &f.path, format!("{}: cannot read: {e}", abs.display())),
            }
        }
    }
    if let (Some(locked), Some(p)) = (&lock.instruction_bank, &opts.instructions) {
        match hash_file(p) {
            Ok((_, sha)) if sha == locked.sha256 => {}
            Ok((_, sha)) => r.problem(
                "instructions_changed",
                p.display().to_string(),
                format!("{}: sha256 {sha} is not the instruction bank the build used ({}); pass the bank the lock names", p.display(), locked.sha256),
            ),
            Err(e) => r.problem("instructions_changed", p.display().to_string(), format!("{}: cannot read: {e}", p.display())),
        }
    }

    // 3. a rebuild, byte for byte
    if opts.rebuild {
        rebuild_and_compare(out, &lock, opts, &mut r);
    }
    r.ok = r.problems.is_empty();
    Ok(r)
}

fn rebuild_and_compare(out: &Path, lock: &Lock, opts: &VerifyOptions, r: &mut VerifyReport) {
    let Some(raw_root) = rebuild_inputs(lock, opts, r) else {
        return;
    };
    let Some(cat) = locked_catalogue(lock, opts, r) else {
        r.problem(
            "rebuild_failed",
            "",
            "rebuild skipped: the manifests differ from the lock (see above)",
        );
        return;
    };
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            return r.problem(
                "rebuild_failed",
                "",
                format!("cannot create a temporary directory: {e}"),
            );
        }
    };
    let dest = tmp.path().join("rebuild");
    let opts = match BuildOptions::from_locked(
        &lock.options,
        raw_root.to_path_buf(),
        dest.clone(),
        opts.instructions.clone(),
    ) {
        Ok(mut o) => {
            o.decontaminate = opts.decontaminate.clone();
            o.checksums = opts.checksums;
            o
        }
        Err(e) => return r.problem("rebuild_failed", output::LOCK_FILE, e.to_string()),
    };
    if let Err(e) = build(&cat, &opts) {
        return r.problem("rebuild_failed", "", format!("the rebuild failed: {e}"));
    }
    compare_dirs(out, &dest, r);
}

/// The raw root of a rebuild, once every input the lock names is at hand.
fn rebuild_inputs<'a>(
    lock: &Lock,
    opts: &'a VerifyOptions,
    r: &mut VerifyReport,
) -> Option<&'a Path> {
    let Some(raw_root) = &opts.raw_root else {
        r.problem(
            "rebuild_failed",
            "",
            "a rebuild needs the raw root: pass --raw-root DIR",
        );
        return None;
    };
    if r.problems
        .iter()
        .any(|p| p.kind.starts_with("raw_") || p.kind == "instructions_changed")
    {
        r.problem(
            "rebuild_failed",
            "",
            "rebuild skipped: the raw inputs differ from the lock (see above)",
        );
        return None;
    }
    if let (Some(bank), None) = (&lock.instruction_bank, &opts.instructions) {
        let name = bank.path.clone();
        r.problem(
            "rebuild_failed",
            name.clone(),
            format!(
                "the build used the instruction bank `{name}`: pass --instructions FILE to rebuild"
            ),
        );
        return None;
    }
    if let Some(b) = lock.options.get("decontaminate").and_then(|v| v.as_array())
        && !b.is_empty()
        && opts.decontaminate.is_empty()
    {
        let names: Vec<&str> = b
            .iter()
            .filter_map(|x| x.get("name").and_then(|n| n.as_str()))
            .collect();
        r.problem("rebuild_failed", "", format!("the build was decontaminated against {}: pass --decontaminate FILE for each to rebuild", names.join(", ")));
        return None;
    }
    Some(raw_root)
}

/// The corpora of the build (built, partly present, missing, failed: each once), from today's
/// manifest folder, checked against the hashes the lock recorded. `None` when one differs.
fn locked_catalogue(lock: &Lock, opts: &VerifyOptions, r: &mut VerifyReport) -> Option<Catalogue> {
    let ids: std::collections::BTreeSet<&String> = lock
        .manifests
        .iter()
        .map(|m| &m.corpus_id)
        .chain(lock.missing.iter().chain(&lock.failed))
        .collect();
    let mut manifests: Vec<LoadedManifest> = Vec::new();
    for id in ids {
        match opts.catalogue.load_manifest(id) {
            Ok(lm) => {
                if let Some(locked) = lock.manifests.iter().find(|m| m.corpus_id == *id)
                    && locked.sha256 != lm.sha256
                {
                    let p = lm.path.display();
                    r.problem(
                        "manifest_changed",
                        p.to_string(),
                        format!("{p}: sha256 {} differs from the lock's {}; the manifest changed since the build: restore that version (e.g. from version control) to rebuild", lm.sha256, locked.sha256),
                    );
                }
                manifests.push(lm);
            }
            Err(e) => r.problem("manifest_missing", format!("{id}.toml"), e.to_string()),
        }
    }
    if r.problems.iter().any(|p| p.kind.starts_with("manifest_")) {
        return None;
    }
    manifests.sort_by(|a, b| a.manifest.id().cmp(b.manifest.id()));
    // the manifests are the lock's (same hashes): the rebuild records the lock's kind of
    // catalogue, so that a build is not reported different for being verified from a folder
    let source = if lock.catalogue == CatalogueSource::Bundled.kind() {
        CatalogueSource::Bundled
    } else {
        CatalogueSource::Directory {
            path: opts.catalogue.dir().unwrap_or(Path::new("")).to_path_buf(),
        }
    };
    Some(Catalogue { manifests, source })
}

fn compare_dirs(out: &Path, rebuilt: &Path, r: &mut VerifyReport) {
    let list = |d: &Path, r: &mut VerifyReport| -> Vec<String> {
        let mut v = match output::list_files(d) {
            Ok(v) => v,
            Err(e) => {
                // nothing of this folder can be compared: say so rather than pass
                r.problem(
                    "rebuild_failed",
                    "",
                    format!("{}: could not be listed: {e}", d.display()),
                );
                Vec::new()
            }
        };
        if d.join(output::CHECKSUMS_FILE).is_file() {
            v.push(output::CHECKSUMS_FILE.to_string());
        }
        v.sort();
        v
    };
    let a = list(out, r);
    let b = list(rebuilt, r);
    r.rebuilt_files = Some(b.len());
    for f in &a {
        if !b.contains(f) {
            r.problem(
                "rebuild_missing",
                f,
                format!(
                    "{}: the rebuild does not produce this file",
                    out.join(f).display()
                ),
            );
            continue;
        }
        let message = match (std::fs::read(out.join(f)), std::fs::read(rebuilt.join(f))) {
            (Ok(x), Ok(y)) if x == y => continue,
            (Ok(_), Ok(_)) => format!(
                "{}: differs from the rebuilt file (same lock inputs, different bytes)",
                out.join(f).display()
            ),
            (Err(e), _) => format!(
                "{}: could not be read to compare: {e}",
                out.join(f).display()
            ),
            (_, Err(e)) => format!(
                "{}: could not be read to compare: {e}",
                rebuilt.join(f).display()
            ),
        };
        r.problem("rebuild_differs", f, message);
    }
    for f in &b {
        if !a.contains(f) {
            r.problem(
                "rebuild_extra",
                f,
                format!(
                    "{}: the rebuild produces this file but the output lacks it",
                    out.join(f).display()
                ),
            );
        }
    }
}

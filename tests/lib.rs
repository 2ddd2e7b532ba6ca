//! Helpers shared by the end-to-end tests: where things are, and building one corpus in memory.

use medsins_manifest::{Catalogue, LoadedManifest};
use medsins_pipeline::TaskBuild;
use medsins_pipeline::corpus::{Checksums, Resolution, resolve_corpus};
use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("repository root")
}

pub fn fixtures_root() -> PathBuf {
    repo().join("fixtures/raw")
}

/// The repository's fixtures (the demo raw root, and each variant's under `fixtures/variants`)
/// are not the releases, so their checksums are not verified; any other raw root's are.
pub fn checksums_for(raw_root: &Path) -> Checksums {
    let fixtures = repo().join("fixtures");
    let under = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    if under(raw_root).starts_with(under(&fixtures)) {
        Checksums::Skip
    } else {
        Checksums::Verify
    }
}

/// `../shared` beside the repository, when present (CI and developers have it; a user's clone
/// does not, and tests that need it print why they skip).
pub fn shared() -> Option<PathBuf> {
    let p = repo().join("../shared");
    p.join("corpora").is_dir().then_some(p)
}

pub fn skip(reason: &str) {
    println!("SKIPPED: {reason}");
    eprintln!("SKIPPED: {reason}");
}

pub fn catalogue() -> Catalogue {
    let (cat, diags) = Catalogue::load(&[repo().join("corpora-manifests")]);
    assert!(diags.is_empty(), "manifests do not parse:\n{diags}");
    cat
}

/// Builds every task of a corpus from `raw_root` without writing anything.
pub fn build_corpus(lm: &LoadedManifest, raw_root: &Path) -> Result<Vec<TaskBuild>, String> {
    let rc = match resolve_corpus(lm, raw_root, None, checksums_for(raw_root)) {
        Resolution::Ready(rc) => rc,
        Resolution::Missing(p) => return Err(format!("missing: {}", p.join(", "))),
        Resolution::Failed(e) => return Err(e.to_string()),
    };
    rc.manifest
        .manifest
        .tasks
        .iter()
        .map(|t| {
            rc.render_task(t.id.get_ref(), 0, std::slice::from_ref(&t.definition), None)
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Builds `corpus` from the real files in `../shared/corpora` and checks that every raw record
/// is accounted for (kept + removed + quarantined = read, for tasks without group/explode
/// steps) and that each listed task keeps exactly the given number of samples. Returns the
/// problems found (empty = pass). Panics if the corpus has no manifest.
pub fn check_real_corpus(shared: &Path, corpus: &str, expected: &[(&str, usize)]) -> Vec<String> {
    let cat = catalogue();
    let lm = cat
        .get(corpus)
        .unwrap_or_else(|| panic!("no manifest for {corpus}"));
    let mut failures = Vec::new();
    let builds = match build_corpus(lm, &shared.join("corpora")) {
        Ok(b) => b,
        Err(e) => return vec![format!("{corpus}: {e}")],
    };
    for tb in &builds {
        // flags (e.g. `near_duplicate_flag`) keep their sample: not removals
        let removed = tb.ledger.iter().filter(|e| !e.reason.is_flag()).count() as u64;
        let reshapes = lm
            .manifest
            .tasks
            .iter()
            .find(|t| *t.id.get_ref() == tb.meta.task_id)
            .is_some_and(|t| {
                t.steps.iter().any(|s| {
                    matches!(
                        s.get_ref(),
                        medsins_manifest::Step::Group { .. }
                            | medsins_manifest::Step::Explode { .. }
                    )
                })
            });
        if !reshapes && tb.samples.len() as u64 + removed != tb.records_read {
            failures.push(format!(
                "{corpus}/{}: {} kept + {removed} removed != {} read",
                tb.meta.task_id,
                tb.samples.len(),
                tb.records_read
            ));
        }
        if tb.samples.is_empty() {
            failures.push(format!(
                "{corpus}/{}: no samples from the real files",
                tb.meta.task_id
            ));
        }
        match expected.iter().find(|(t, _)| *t == tb.meta.task_id) {
            Some((_, n)) if tb.samples.len() != *n => failures.push(format!(
                "{corpus}/{}: {} samples, expected {n}",
                tb.meta.task_id,
                tb.samples.len()
            )),
            Some(_) => {}
            None => failures.push(format!(
                "{corpus}/{}: no expected sample count given",
                tb.meta.task_id
            )),
        }
    }
    failures
}

/// Every file under `dir` (relative path -> bytes).
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                files.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

/// Two folders hold the same files with the same bytes (two builds gave the same output).
pub fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    for (name, bytes) in &ta {
        assert!(bytes == &tb[name], "{name} differs");
    }
}

/// Copies the folder `from` to `to`, recursively.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

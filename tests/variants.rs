//! Corpora distributed in several ways (manifest `[[variants]]`), and raw files placed as users
//! place them (nested clones, file-name patterns, file sets).
//!
//! `fixtures/raw` (the demo) holds one distribution per corpus: the first present is read.
//! Every other distribution has its own raw root `fixtures/variants/<corpus>/<variant>/`
//! holding `<corpus>/…` in that distribution's exact layout, and its exact rows beside it in
//! `fixtures/variants/<corpus>/<variant>.jsonl` (every sample the build gives, in build order).

use medsins_e2e::*;
use medsins_pipeline::corpus::{Checksums, Resolution, resolve_corpus};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// (corpus, variant, raw root) of every variant fixture.
fn variant_fixtures() -> Vec<(String, String, PathBuf)> {
    let dir = repo().join("fixtures/variants");
    let mut out = Vec::new();
    let mut corpora: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/variants")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    corpora.sort_by_key(|e| e.file_name());
    for c in corpora {
        let mut variants: Vec<_> = std::fs::read_dir(c.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .collect();
        variants.sort_by_key(|e| e.file_name());
        for v in variants {
            out.push((
                c.file_name().to_string_lossy().into_owned(),
                v.file_name().to_string_lossy().into_owned(),
                v.path(),
            ));
        }
    }
    out
}

/// Every sample of every task of `corpus` built from `root`, as expected-row objects, and the
/// variant read.
fn rows(corpus: &str, root: &Path) -> Result<(String, Vec<Value>), String> {
    let cat = catalogue();
    let lm = cat.get(corpus).ok_or(format!("no manifest {corpus}"))?;
    let rc = match resolve_corpus(lm, root, None, Checksums::Skip) {
        Resolution::Ready(rc) => rc,
        Resolution::Missing(p) => return Err(format!("missing: {}", p.join(", "))),
        Resolution::Failed(e) => return Err(e.to_string()),
    };
    let mut out = Vec::new();
    for t in &rc.manifest.manifest.tasks {
        let tb = rc
            .render_task(t.id.get_ref(), 0, std::slice::from_ref(&t.definition), None)
            .map_err(|e| e.to_string())?;
        assert_eq!(tb.meta.source_variant, rc.variant());
        for s in tb.samples {
            out.push(json!({
                "task_id": tb.meta.task_id, "source_file": s.source_file, "source_locator": s.source_locator,
                "split": s.split, "input": s.input, "output": s.output,
            }));
        }
    }
    Ok((rc.variant().to_string(), out))
}

fn read_jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("expected row is JSON"))
        .collect()
}

#[test]
fn every_variant_fixture_builds_from_its_variant_and_gives_exactly_its_rows() {
    let fixtures = variant_fixtures();
    assert!(!fixtures.is_empty());
    let mut failures = Vec::new();
    for (corpus, variant, root) in fixtures {
        let (read, got) = match rows(&corpus, &root) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{corpus}/{variant}: does not build: {e}"));
                continue;
            }
        };
        if read != variant {
            failures.push(format!(
                "{corpus}/{variant}: the build read variant `{read}`"
            ));
        }
        let expected_path = root.with_extension("jsonl");
        let expected = read_jsonl(&expected_path);
        if got.len() != expected.len() {
            failures.push(format!(
                "{corpus}/{variant}: {} rows, {} expected in {}",
                got.len(),
                expected.len(),
                expected_path.display()
            ));
        }
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            if g != e {
                failures.push(format!(
                    "{corpus}/{variant}: row {}:\n  expected: {e}\n  got:      {g}",
                    i + 1
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each accepted distribution of a corpus is tested: it is the demo's (the first present in
/// `fixtures/raw`) or has a fixture of its own.
#[test]
fn every_declared_variant_has_a_fixture() {
    let cat = catalogue();
    let fixtures = variant_fixtures();
    let mut untested = Vec::new();
    for lm in cat
        .manifests
        .iter()
        .filter(|m| !m.manifest.variants.is_empty())
    {
        let id = lm.manifest.id();
        let demo = match resolve_corpus(lm, &fixtures_root(), None, Checksums::Skip) {
            Resolution::Ready(rc) => rc.variant().to_string(),
            _ => String::new(),
        };
        for v in lm.manifest.variant_ids() {
            let own = fixtures.iter().any(|(c, fv, _)| c == id && fv == v);
            if v != demo && !own {
                untested.push(format!("{id}/{v}"));
            }
            assert!(
                !(v == demo && own),
                "{id}/{v} is the demo's variant: its fixture belongs in fixtures/raw only"
            );
        }
    }
    assert!(
        untested.is_empty(),
        "variants without a fixture: {}",
        untested.join(", ")
    );
}

/// The authors' IgakuQA exams, brought to MMedBench's shape by the variant's steps, give
/// exactly MMedBench's rendering of the same question.
#[test]
fn igakuqa_authors_question_renders_as_mmedbench_renders_it() {
    let (_, authors) = rows("igakuqa", &repo().join("fixtures/variants/igakuqa/authors")).unwrap();
    let (variant, demo) = rows("igakuqa", &fixtures_root()).unwrap();
    assert_eq!(variant, "mmedbench");
    let by_authors = authors
        .iter()
        .find(|r| r["source_locator"] == "data/2019/113-B.jsonl line 3")
        .unwrap();
    let by_mmedbench = demo
        .iter()
        .find(|r| r["source_locator"] == "line 2")
        .unwrap();
    assert_eq!(by_authors["input"], by_mmedbench["input"]);
    assert_eq!(by_authors["output"], by_mmedbench["output"]);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn build_only(corpus: &str, raw: &Path, out: &Path) -> medsins_pipeline::BuildReport {
    let mut opts = medsins_pipeline::BuildOptions::new(raw.to_path_buf(), out.to_path_buf());
    opts.checksums = Checksums::Skip; // fixtures, not the releases
    opts.selection.only = vec![corpus.to_string()];
    medsins_pipeline::build(&catalogue(), &opts).expect("build")
}

/// The distribution read is said in the build report and recorded in the lock, `stats.json`,
/// the dataset card and every row; `audit` re-derives a row from that distribution even when
/// another one, preferred by the manifest, is now present too.
#[test]
fn the_variant_read_is_recorded_everywhere_and_audit_uses_it() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    copy_dir(&repo().join("fixtures/variants/igakuqa/authors"), &raw);
    let out = tmp.path().join("out");
    let report = build_only("igakuqa", &raw, &out);
    match &report.corpora[0].status {
        medsins_pipeline::CorpusStatus::Built {
            source_variant,
            variant_name,
            samples,
            ..
        } => {
            assert_eq!(source_variant, "authors");
            assert_eq!(
                variant_name,
                "the authors' release (GitHub jungokasai/IgakuQA)"
            );
            assert_eq!(*samples, 6);
        }
        other => panic!("{other:?}"),
    }
    let lock = medsins_inspect::audit::read_lock(&out).unwrap();
    assert_eq!(lock.manifests[0].source_variant, "authors");
    let f = &lock.raw_files[0];
    assert_eq!(
        (f.file_id.as_str(), f.path.as_str()),
        ("questions", "igakuqa")
    );
    let members: Vec<&str> = f.members.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(members, ["data/2018/112-A.jsonl", "data/2019/113-B.jsonl"]);
    let stats: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["source_variants"], json!({"igakuqa": "authors"}));
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(
        card.contains("| the authors' release (GitHub jungokasai/IgakuQA) (`authors`) |"),
        "{card}"
    );
    let rows: Vec<_> = medsins_output::shard_files(&out)
        .unwrap()
        .into_iter()
        .flat_map(|f| medsins_output::read_samples(&out.join(f)).unwrap())
        .collect();
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r["source_variant"] == "authors"));
    let id = rows[0]["id"].as_str().unwrap().to_string();
    // the file set's members are re-hashed one by one against the lock
    let vopts = medsins_inspect::verify::VerifyOptions {
        catalogue: medsins_manifest::CatalogueSource::Directory {
            path: repo().join("corpora-manifests"),
        },
        raw_root: Some(raw.clone()),
        checksums: Checksums::Skip,
        rebuild: false,
        instructions: None,
        decontaminate: vec![],
    };
    let v = medsins_inspect::verify::verify(&out, &vopts).unwrap();
    assert!(v.ok && v.raw_files_checked == 1, "{:?}", v.problems);
    std::fs::write(raw.join("igakuqa/data/2019/113-B.jsonl"), "{}\n").unwrap();
    let v = medsins_inspect::verify::verify(&out, &vopts).unwrap();
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    copy_dir(&repo().join("fixtures/variants/igakuqa/authors"), &raw);
    // MMedBench's file appears beside the authors' release: the audit still reads the authors'
    copy_dir(
        &repo().join("fixtures/raw/mmedbench"),
        &raw.join("mmedbench"),
    );
    let opts = medsins_inspect::audit::AuditOptions {
        catalogue: medsins_manifest::CatalogueSource::Directory {
            path: repo().join("corpora-manifests"),
        },
        raw_root: Some(raw.clone()),
        checksums: Checksums::Skip,
        instructions: None,
    };
    let a = medsins_inspect::audit::audit(&out, &id, &opts).unwrap();
    assert!(a.rederive.is_match(), "{:?} {:?}", a.rederive, a.notes);
    assert_eq!(a.manifest.source_variant, "authors");
    assert_eq!(a.manifest.steps[0]["op"], "set");
    // while a new build now prefers MMedBench's split
    let report = build_only("igakuqa", &raw, &tmp.path().join("out2"));
    assert!(matches!(
        &report.corpora[0].status,
        medsins_pipeline::CorpusStatus::Built { source_variant, .. } if source_variant == "mmedbench"
    ));
}

/// With no distribution present, the report lists every accepted one with its paths and how
/// to obtain it.
#[test]
fn a_missing_corpus_lists_every_accepted_distribution() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let report = build_only("igakuqa", &raw, &tmp.path().join("out"));
    let medsins_pipeline::CorpusStatus::Missing {
        paths,
        alternatives,
        ..
    } = &report.corpora[0].status
    else {
        panic!("{:?}", report.corpora[0].status)
    };
    assert_eq!(
        paths,
        &[raw
            .join("mmedbench/Train/Japanese.jsonl")
            .display()
            .to_string()]
    );
    let got: Vec<(&str, Vec<String>)> = alternatives
        .iter()
        .map(|v| (v.variant.as_str(), v.paths.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "mmedbench",
                vec![
                    raw.join("mmedbench/Train/Japanese.jsonl")
                        .display()
                        .to_string()
                ]
            ),
            (
                "authors",
                vec![raw.join("igakuqa/data/*/*-?.jsonl").display().to_string()]
            ),
        ]
    );
    assert!(
        alternatives[1]
            .obtain
            .contains("git clone https://github.com/jungokasai/IgakuQA")
    );
    // nothing was present, so nothing was written
    assert_eq!(report.exit_code(), 1);
}

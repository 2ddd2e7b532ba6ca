//! Provenance end to end: `audit` re-derives samples from their raw records (the demo fixtures,
//! including grouped and exploded records, and the real corpora in `../shared`), shows ledger
//! entries of removed ids and refuses unknown ones; `verify` catches a changed shard or raw file
//! and proves a rebuild byte-identical; access and licence profiles keep restricted rows out.

use medsins_e2e::*;
use medsins_inspect::audit::{AuditError, AuditOptions, AuditReport, audit};
use medsins_inspect::verify::{VerifyOptions, verify};
use medsins_manifest::{Catalogue, CatalogueSource};
use medsins_pipeline::{BuildOptions, Checksums, CorpusStatus, build};
use std::path::{Path, PathBuf};

fn audit_opts(manifests: &Path, raw_root: Option<&Path>, checksums: Checksums) -> AuditOptions {
    AuditOptions {
        catalogue: CatalogueSource::Directory {
            path: manifests.to_path_buf(),
        },
        raw_root: raw_root.map(Path::to_path_buf),
        checksums,
        instructions: None,
    }
}

fn verify_opts(
    manifests: &Path,
    raw_root: Option<&Path>,
    rebuild: bool,
    checksums: Checksums,
) -> VerifyOptions {
    VerifyOptions {
        catalogue: CatalogueSource::Directory {
            path: manifests.to_path_buf(),
        },
        raw_root: raw_root.map(Path::to_path_buf),
        checksums,
        rebuild,
        instructions: None,
        decontaminate: vec![],
    }
}

/// Every sample row of an output: (shard, row as JSON).
fn all_rows(out: &Path) -> Vec<(String, serde_json::Map<String, serde_json::Value>)> {
    medsins_output::shard_files(out)
        .unwrap()
        .into_iter()
        .flat_map(|f| {
            medsins_output::read_samples(&out.join(&f))
                .unwrap()
                .into_iter()
                .map(move |r| (f.clone(), r))
        })
        .collect()
}

/// A build of the fixtures (or a copy of them), which are not the releases.
fn demo_build(out: &Path, raw_root: &Path) -> medsins_pipeline::BuildReport {
    let mut opts = BuildOptions::new(raw_root.to_path_buf(), out.to_path_buf());
    opts.shard_rows = 2;
    opts.checksums = Checksums::Skip;
    build(&catalogue(), &opts).expect("demo build")
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

fn assert_match(r: &AuditReport, what: &str) -> Result<(), String> {
    if r.rederive.is_match() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {} {:?} {:?} notes {:?}",
            r.rederive.status, r.rederive.reason, r.rederive.differences, r.notes
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// A tiny catalogue written for these tests: three corpora of each access class, one duplicate
// record, one record with an empty output.

const TINY_RECORDS: &str = "{\"q\": \"What is aspirin?\", \"a\": \"An analgesic.\"}\n\
{\"q\": \"What is insulin?\", \"a\": \"A hormone.\"}\n\
{\"q\": \"What is aspirin?\", \"a\": \"An analgesic.\"}\n\
{\"q\": \"What is nothing?\", \"a\": \"  \"}\n";

fn tiny_manifest(id: &str, number: u32, license: &str, access: &str) -> String {
    format!(
        r#"[corpus]
id = "{id}"
name = "Tiny {id}"
homepage = "https://example.invalid/{id}"
version = "test 1"
license = "{license}"
access = "{access}"
citation = "@misc{{{id}, title = {{Tiny {id}}}}}"
obtain = "Written by the tests."

[[files]]
id = "qa"
path = "qa.jsonl"
format = "jsonl"

[[tasks]]
id = "task{number}_{id}_qa"
number = {number}
name = "Answer a tiny question"
category = "Question Answering"
text_source = "Medical Knowledge"
input_languages = ["en"]
output_languages = ["en"]
definition = "Answer the question."
input = "{{{{ q }}}}"
output = "{{{{ a }}}}"
split = {{ policy = "fixed", split = "train" }}
"#
    )
}

struct Tiny {
    _tmp: tempfile::TempDir,
    manifests: PathBuf,
    raw: PathBuf,
    root: PathBuf,
}

fn tiny() -> Tiny {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let manifests = root.join("manifests");
    let raw = root.join("raw");
    std::fs::create_dir_all(&manifests).unwrap();
    for (id, n, lic, acc) in [
        ("tinypub", 9001, "CC-BY-NC-4.0", "public"),
        ("tinyreg", 9002, "Research use agreement", "registration"),
        (
            "tinycred",
            9003,
            "PhysioNet Credentialed Health Data Use Agreement 1.5.0",
            "credentialed",
        ),
    ] {
        std::fs::write(
            manifests.join(format!("{id}.toml")),
            tiny_manifest(id, n, lic, acc),
        )
        .unwrap();
        std::fs::create_dir_all(raw.join(id)).unwrap();
        std::fs::write(raw.join(id).join("qa.jsonl"), TINY_RECORDS).unwrap();
    }
    Tiny {
        _tmp: tmp,
        manifests,
        raw,
        root,
    }
}

fn tiny_catalogue(t: &Tiny) -> Catalogue {
    let (cat, diags) = Catalogue::load(std::slice::from_ref(&t.manifests));
    assert!(diags.is_empty(), "{diags}");
    let more = medsins_manifest::check_catalogue(&cat.manifests);
    assert!(more.is_empty(), "{more}");
    cat
}

fn tiny_build(
    t: &Tiny,
    out: &Path,
    access: Option<medsins_core::Access>,
) -> medsins_pipeline::BuildReport {
    let mut opts = BuildOptions::new(t.raw.clone(), out.to_path_buf());
    opts.selection.access = access;
    build(&tiny_catalogue(t), &opts).expect("tiny build")
}

#[test]
fn duplicate_and_removed_ids_show_their_ledger_entries_and_unknown_ids_are_refused() {
    let t = tiny();
    let out = t.root.join("out");
    assert_eq!(tiny_build(&t, &out, None).exit_code(), 0);
    let dup =
        medsins_core::SampleId::derive("task9001_tinypub_qa", "What is aspirin?", "An analgesic.")
            .to_string();

    // the kept sample and the duplicate removed in its favour share the id
    let r = audit(
        &out,
        &dup,
        &audit_opts(&t.manifests, Some(&t.raw), Checksums::Verify),
    )
    .unwrap();
    assert_eq!(r.status, "kept");
    assert_eq!(r.source.locator, "line 1");
    assert_eq!(r.corpus.license.as_deref(), Some("CC-BY-NC-4.0"));
    let e = r
        .ledger
        .iter()
        .find(|e| e.reason == medsins_core::LedgerReason::ExactDuplicate)
        .expect("ledger entry of the duplicate");
    assert_eq!(e.stage, "exact_dedup");
    assert_eq!(e.kept_id.map(|x| x.to_string()), Some(dup.clone()));
    assert_eq!(e.source_locator, "line 3");
    assert_match(&r, "duplicate").unwrap();
    let raw = r.raw_records.as_ref().unwrap();
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].fields["q"], "What is aspirin?");
    let lock = medsins_inspect::audit::read_lock(&out).unwrap();
    let locked = lock
        .raw_files
        .iter()
        .find(|f| f.path == "tinypub/qa.jsonl")
        .unwrap();
    assert_eq!(r.raw_sha256.as_deref(), Some(locked.sha256.as_str()));
    assert!(!r.manifest.changed);
    assert_eq!(r.manifest.input_template.as_deref(), Some("{{ q }}"));

    // an id only in the ledger (empty output after normalisation)
    let empty =
        medsins_core::SampleId::derive("task9001_tinypub_qa", "What is nothing?", "").to_string();
    let r = audit(
        &out,
        &empty,
        &audit_opts(&t.manifests, Some(&t.raw), Checksums::Verify),
    )
    .unwrap();
    assert_eq!(r.status, "removed");
    assert!(r.sample.is_none());
    assert_eq!(r.ledger.len(), 1);
    assert_eq!(
        (r.ledger[0].stage.as_str(), r.ledger[0].reason.as_str()),
        ("normalise", "empty_output")
    );
    assert_eq!(r.source.locator, "line 4");
    assert_match(&r, "removed").unwrap();

    // unknown ids: a clear error
    let e = audit(
        &out,
        "0123456789abcdef0123456789abcdef",
        &audit_opts(&t.manifests, None, Checksums::Verify),
    )
    .unwrap_err();
    assert!(matches!(e, AuditError::UnknownId(_)), "{e}");
    assert!(
        e.to_string()
            .contains("unknown id `0123456789abcdef0123456789abcdef`"),
        "{e}"
    );
    let e = audit(
        &t.root.join("nope"),
        &dup,
        &audit_opts(&t.manifests, None, Checksums::Verify),
    )
    .unwrap_err();
    assert!(matches!(e, AuditError::NotAnOutput(_)), "{e}");

    // the manifest changes after the build: audit says so, a rebuild refuses
    let p = t.manifests.join("tinypub.toml");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("Answer the question.", "Answer the question briefly.");
    std::fs::write(&p, text).unwrap();
    let r = audit(
        &out,
        &dup,
        &audit_opts(&t.manifests, None, Checksums::Verify),
    )
    .unwrap();
    assert!(r.manifest.changed);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("manifest changed since the build")),
        "{:?}",
        r.notes
    );
    let v = verify(
        &out,
        &verify_opts(&t.manifests, Some(&t.raw), true, Checksums::Verify),
    )
    .unwrap();
    assert!(!v.ok);
    assert!(
        v.problems
            .iter()
            .any(|p| p.kind == "manifest_changed" && p.file.ends_with("tinypub.toml")),
        "{:?}",
        v.problems
    );
}

#[test]
fn an_edited_shard_is_refused_not_shown_under_the_asked_id() {
    let t = tiny();
    let out = t.root.join("out");
    tiny_build(&t, &out, None);
    let rows = all_rows(&out);
    let (pub_shard, first) = rows
        .iter()
        .find(|(f, _)| f.contains("task9001"))
        .cloned()
        .unwrap();
    let asked = first["id"].as_str().unwrap().to_string();
    // the shard of another task copied over it: the index still points at row 0
    let other = rows
        .iter()
        .find(|(f, _)| f.contains("task9002"))
        .map(|(f, r)| (f.clone(), r["id"].as_str().unwrap().to_string()))
        .unwrap();
    std::fs::copy(out.join(&other.0), out.join(&pub_shard)).unwrap();
    let opts = audit_opts(&t.manifests, Some(&t.raw), Checksums::Verify);
    let e = audit(&out, &asked, &opts).unwrap_err();
    assert!(matches!(e, AuditError::IndexMismatch { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "{pub_shard} row 0 holds id `{}`, not `{asked}` as the index says: the output was modified after the build; run `medsins verify` on it and rebuild",
            other.1
        )
    );
}

#[test]
fn access_profiles_keep_restricted_rows_out_and_the_card_warns() {
    let t = tiny();
    let all = t.root.join("all");
    tiny_build(&t, &all, None);
    let card = std::fs::read_to_string(all.join("README.md")).unwrap();
    assert!(card.contains("Warning: restricted data"), "{card}");
    assert!(card.contains("tinycred") && card.contains("tinyreg"));
    assert!(card.contains("Warning: non-commercial licences"), "{card}");
    assert!(
        card.contains("| PhysioNet Credentialed Health Data Use Agreement 1.5.0 | credentialed |"),
        "{card}"
    );
    assert!(
        card.contains("@misc{tinycred, title = {Tiny tinycred}}"),
        "{card}"
    );
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(all.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["per_access"]["credentialed"], 2);
    assert_eq!(stats["per_access"]["registration"], 2);
    assert_eq!(stats["per_license"]["CC-BY-NC-4.0"], 2);

    let public = t.root.join("public");
    let report = tiny_build(&t, &public, Some(medsins_core::Access::Public));
    for c in ["tinycred", "tinyreg"] {
        let st = &report
            .corpora
            .iter()
            .find(|r| r.corpus_id == c)
            .unwrap()
            .status;
        assert!(matches!(st, CorpusStatus::Excluded { .. }), "{c}: {st:?}");
    }
    let rows = all_rows(&public);
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|(_, r)| r["access"] == "public" && r["corpus_id"] == "tinypub")
    );
    let card = std::fs::read_to_string(public.join("README.md")).unwrap();
    assert!(!card.contains("restricted data"), "{card}");
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(public.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["per_access"], serde_json::json!({ "public": 2 }));

    // --exclude-licence leaves out the non-commercial corpus
    let mut opts = BuildOptions::new(t.raw.clone(), t.root.join("commercial"));
    opts.selection.exclude_licence = vec!["nc".into()];
    build(&tiny_catalogue(&t), &opts).unwrap();
    assert!(
        all_rows(&t.root.join("commercial"))
            .iter()
            .all(|(_, r)| r["corpus_id"] != "tinypub")
    );

    // a profile build verifies and rebuilds byte for byte from its lock
    let v = verify(
        &public,
        &verify_opts(&t.manifests, Some(&t.raw), true, Checksums::Verify),
    )
    .unwrap();
    assert!(v.ok, "{:?}", v.problems);
}

// ---------------------------------------------------------------------------------------------
// The demo build (fixtures)

#[test]
fn every_demo_sample_rederives_including_grouped_and_exploded_records() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    demo_build(&out, &fixtures_root());
    let manifests = repo().join("corpora-manifests");
    let rows = all_rows(&out);
    assert!(!rows.is_empty());
    let mut failures = Vec::new();
    let (mut grouped, mut exploded) = (0, 0);
    for (shard, row) in &rows {
        let id = row["id"].as_str().unwrap();
        let r = match audit(
            &out,
            id,
            &audit_opts(&manifests, Some(&fixtures_root()), Checksums::Skip),
        ) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{id}: {e}"));
                continue;
            }
        };
        assert_eq!(
            r.shard.as_ref().map(|s| s.file.as_str()),
            Some(shard.as_str())
        );
        assert_eq!(r.sample.as_ref().unwrap()["id"], row["id"]);
        let loc = row["source_locator"].as_str().unwrap();
        grouped += loc.contains(" .. ") as usize;
        exploded += loc.contains(" #") as usize;
        if r.raw_records.as_ref().is_none_or(|v| v.is_empty()) {
            failures.push(format!(
                "{id}: no raw record re-read at `{loc}` in {}",
                r.source.file
            ));
        }
        if let Err(e) = assert_match(&r, &format!("{} {} @ {loc}", row["task_id"], r.source.file)) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} samples:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
    println!(
        "audited {} demo samples ({grouped} grouped, {exploded} exploded)",
        rows.len()
    );
}

#[test]
fn verify_rebuilds_a_build_of_a_partly_present_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    // only MedQA's US test split: the corpus is built from some of its files (exit 3)
    let rel = "medqa/data_clean/questions/US/4_options/phrases_no_exclude_test.jsonl";
    std::fs::create_dir_all(raw.join(rel).parent().unwrap()).unwrap();
    std::fs::copy(fixtures_root().join(rel), raw.join(rel)).unwrap();
    let out = tmp.path().join("out");
    let mut opts = BuildOptions::new(raw.clone(), out.clone());
    opts.checksums = Checksums::Skip;
    opts.selection.only = vec!["medqa".into(), "meqsum".into()];
    let report = build(&catalogue(), &opts).unwrap();
    assert_eq!(report.exit_code(), 3, "{:?}", report.corpora);
    let manifests = repo().join("corpora-manifests");
    let v = verify(
        &out,
        &verify_opts(&manifests, Some(&raw), true, Checksums::Skip),
    )
    .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert!(v.rebuilt_files.unwrap() > 3);
}

#[test]
fn verify_names_a_changed_shard_or_raw_file_and_rebuilds_byte_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    copy_dir(&fixtures_root(), &raw);
    let out = tmp.path().join("out");
    demo_build(&out, &raw);
    let manifests = repo().join("corpora-manifests");

    let v = verify(
        &out,
        &verify_opts(&manifests, Some(&raw), true, Checksums::Skip),
    )
    .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert!(v.rebuilt_files.unwrap() > 3);
    assert!(v.raw_files_checked > 0);

    // one byte of a shard
    let shards = medsins_output::shard_files(&out).unwrap();
    let shard = shards
        .iter()
        .find(|f| f.starts_with("data/task114_"))
        .unwrap()
        .as_str();
    let p = out.join(shard);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    let v = verify(&out, &verify_opts(&manifests, None, false, Checksums::Skip)).unwrap();
    assert!(!v.ok);
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    assert_eq!(
        (v.problems[0].kind.as_str(), v.problems[0].file.as_str()),
        ("output_changed", shard)
    );
    assert!(v.problems[0].message.contains(shard));
    bytes[40] ^= 1;
    std::fs::write(&p, &bytes).unwrap();

    // one byte of a raw file
    let rel = "meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx";
    let p = raw.join(rel);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    let v = verify(
        &out,
        &verify_opts(&manifests, Some(&raw), false, Checksums::Skip),
    )
    .unwrap();
    assert!(!v.ok);
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    assert_eq!(
        (v.problems[0].kind.as_str(), v.problems[0].file.as_str()),
        ("raw_changed", rel)
    );
}

#[test]
fn lock_options_round_trip_into_build_options() {
    let mut o = BuildOptions::new("raw".into(), "out".into());
    o.seed = 7;
    o.shard_rows = 9;
    o.selection.only = vec!["meqsum".into()];
    o.selection.access = Some(medsins_core::Access::Registration);
    o.selection.exclude_licence = vec!["NC".into()];
    let back = BuildOptions::from_locked(&o.locked(), "r".into(), "o".into(), None).unwrap();
    assert_eq!(back.locked(), o.locked());
    let mut odd = o.locked();
    odd["shard_rows"] = serde_json::json!("many");
    assert!(BuildOptions::from_locked(&odd, "r".into(), "o".into(), None).is_err());
}

// ---------------------------------------------------------------------------------------------
// The real corpora

#[test]
fn a_sample_of_every_real_corpus_rederives_to_match() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: real-corpus audits need it beside the repository");
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let raw = shared.join("corpora");
    let report =
        build(&catalogue(), &BuildOptions::new(raw.clone(), out.clone())).expect("real build");
    let manifests = repo().join("corpora-manifests");
    let built: Vec<&str> = report
        .corpora
        .iter()
        .filter(|c| matches!(c.status, CorpusStatus::Built { samples, .. } if samples > 0))
        .map(|c| c.corpus_id.as_str())
        .collect();
    assert!(!built.is_empty(), "no corpus builds from {}", raw.display());
    // one sample per task (the first row of its first shard), so every corpus is covered
    let mut seen = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    let mut audited = std::collections::BTreeSet::new();
    for shard in medsins_output::shard_files(&out).unwrap() {
        let task = shard.split('/').nth(1).unwrap().to_string();
        if !seen.insert(task.clone()) {
            continue;
        }
        let rows = medsins_output::read_samples(&out.join(&shard)).unwrap();
        let row = &rows[0];
        let id = row["id"].as_str().unwrap();
        match audit(
            &out,
            id,
            &audit_opts(&manifests, Some(&raw), Checksums::Verify),
        ) {
            Ok(r) => {
                audited.insert(r.corpus.id.clone());
                if r.raw_records.as_ref().is_none_or(|v| v.is_empty()) {
                    failures.push(format!(
                        "{task} {id}: raw record not re-read at {}",
                        r.source.locator
                    ));
                }
                if let Err(e) = assert_match(&r, &format!("{task} {id} @ {}", r.source.locator)) {
                    failures.push(e);
                }
            }
            Err(e) => failures.push(format!("{task} {id}: {e}")),
        }
    }
    let missed: Vec<&&str> = built.iter().filter(|c| !audited.contains(**c)).collect();
    assert!(
        missed.is_empty(),
        "corpora built but not audited: {missed:?}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    println!(
        "audited {} task(s) of {} real corpora: {}",
        seen.len(),
        audited.len(),
        built.join(", ")
    );
}

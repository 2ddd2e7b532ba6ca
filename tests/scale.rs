//! Scale tooling (issue #6): `medsins synth` raw roots (deterministic, every corpus builds)
//! and token counts with a tokenizer the test writes itself.

use medsins_e2e::*;
use medsins_pipeline::{BuildOptions, Checksums, CorpusStatus, build};
use medsins_synth::{SynthOptions, synth};
use std::path::Path;

fn synth_to(out: &Path, scale: f64, seed: u64) -> medsins_synth::SynthReport {
    synth(
        &catalogue(),
        &fixtures_root(),
        out,
        &SynthOptions {
            scale,
            seed,
            dup_rate: 0.05,
        },
    )
    .expect("synth")
}

fn bytes_of(root: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn synth_is_deterministic_and_keeps_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let ra = synth_to(&a, 0.005, 7);
    synth_to(&b, 0.005, 7);
    synth_to(&c, 0.005, 8);
    let files = [
        "mednli/mli_train_v1.jsonl",
        "ddxplus/release_train_patients",
        "species800/train.tsv",
        "ebms/ClinicalInquiries.xml",
        "natural-instructions/tasks/task1447_drug_extraction_ade.json",
        "pubmedqa/data/ori_pqal.json",
        "cmedqa2/answer.zip",
        "meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx",
    ];
    for f in files {
        assert!(
            bytes_of(&a, f) == bytes_of(&b, f),
            "{f}: same seed, different bytes"
        );
    }
    assert!(
        bytes_of(&a, files[0]) != bytes_of(&c, files[0]),
        "another seed should vary the texts"
    );
    // more records than the fixture, in the same layout
    let fixture_lines = std::fs::read_to_string(fixtures_root().join(files[0]))
        .unwrap()
        .lines()
        .count();
    let lines = String::from_utf8(bytes_of(&a, files[0])).unwrap();
    assert!(lines.lines().count() > fixture_lines);
    for l in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("JSON Lines stay JSON Lines");
        assert!(v.get("gold_label").is_some());
    }
    let keyed: serde_json::Value =
        serde_json::from_slice(&bytes_of(&a, "pubmedqa/data/ori_pqal.json")).unwrap();
    let n = ra
        .files
        .iter()
        .find(|f| f.path == "pubmedqa/data/ori_pqal.json")
        .unwrap()
        .records;
    assert_eq!(
        keyed.as_object().unwrap().len(),
        n,
        "keys of an id-keyed object stay unique"
    );
}

/// The built per-corpus counts (`stats.json` `per_corpus`) of a small synthetic root are near
/// `scale × TARGETS` for corpora of every kind of layout (generated DDXPlus patients, a
/// folder of reports behind an index, a one-file radiology corpus of 19 filtered tasks, an
/// OBO ontology, an MCQ corpus with a filtered task), and the total is near the target.
#[test]
fn synth_counts_are_near_the_targets() {
    let scale = 0.002;
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let report = synth_to(&raw, scale, 0);
    // every rule and yield still names something the catalogue has
    for f in medsins_synth::rules::FIELDS {
        assert!(
            report.files.iter().any(|x| x.path.starts_with(f.path)),
            "rule for `{}` matches no synthesised file",
            f.path
        );
    }
    let cat = catalogue();
    let tasks: Vec<String> = cat
        .tasks()
        .iter()
        .map(|(_, t)| t.id.get_ref().clone())
        .collect();
    for (t, _) in medsins_synth::YIELDS {
        assert!(tasks.iter().any(|x| x == t), "yield for unknown task {t}");
    }
    let out = tmp.path().join("out");
    let mut opts = BuildOptions::new(raw, out.clone());
    opts.checksums = Checksums::Skip; // a synthetic root is not the releases
    opts.shard_rows = 5000;
    build(&cat, &opts).expect("build");
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    let built = |c: &str| stats["per_corpus"][c].as_f64().unwrap_or(0.0);
    let mut off = Vec::new();
    for c in [
        "ddxplus",
        "mimic-cxr",
        "mimic-iv-radiology",
        "disease-ontology",
        "medmcqa",
        "mimic-iv-discharge",
        "pubmedqa",
        "icd10cm",
    ] {
        let target = scale * medsins_synth::instances(c) as f64;
        let r = built(c) / target;
        if !(0.8..=1.2).contains(&r) {
            off.push(format!(
                "{c}: {} built for a target of {target:.0}",
                built(c)
            ));
        }
    }
    assert!(
        off.is_empty(),
        "per-corpus counts off by more than 20 %:\n{}",
        off.join("\n")
    );
    let target: f64 = scale
        * medsins_synth::TARGETS
            .iter()
            .map(|(_, n)| *n as f64)
            .sum::<f64>();
    let total = stats["samples"].as_f64().unwrap();
    assert!(
        (0.9..=1.1).contains(&(total / target)),
        "{total} samples built for a target of {target:.0}"
    );
}

#[test]
fn synth_output_builds_with_every_corpus_present() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    synth_to(&raw, 0.0005, 0);
    let mut opts = BuildOptions::new(raw, tmp.path().join("out"));
    opts.checksums = Checksums::Skip; // a synthetic root is not the releases
    opts.shard_rows = 1000;
    let report = build(&catalogue(), &opts).expect("build");
    let bad: Vec<String> = report
        .corpora
        .iter()
        .filter(|c| !matches!(c.status, CorpusStatus::Built { .. }))
        .map(|c| format!("{}: {:?}", c.corpus_id, c.status))
        .collect();
    assert!(
        bad.is_empty(),
        "not built from the synthetic root:\n{}",
        bad.join("\n")
    );
    assert_eq!(report.tasks, catalogue().tasks().len());
}

/// A word-level tokenizer: every whitespace-separated word is one token.
fn write_tokenizer(path: &Path) {
    let t = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": null,
        "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "the": 1}, "unk_token": "[UNK]"}
    });
    std::fs::write(path, serde_json::to_string(&t).unwrap()).unwrap();
}

#[test]
fn tokenizer_adds_token_columns_and_max_tokens_ledgers_too_long() {
    let tmp = tempfile::tempdir().unwrap();
    let tok = tmp.path().join("tokenizer.json");
    write_tokenizer(&tok);
    let task = "task114_medqsum_text_summurization";
    let run = |out: &Path, max: Option<usize>| {
        let mut opts = BuildOptions::new(fixtures_root(), out.to_path_buf());
        opts.checksums = Checksums::Skip; // the fixtures are not the releases
        opts.selection.only = vec!["meqsum".into()];
        opts.tokenizer = Some(tok.clone());
        opts.max_tokens = max;
        build(&catalogue(), &opts).expect("build")
    };
    let out = tmp.path().join("out");
    run(&out, None);
    let rows = medsins_output::read_samples(
        &out.join(format!("data/{task}/train-00000-of-00001.parquet")),
    )
    .unwrap();
    assert!(!rows.is_empty());
    let words = |s: &serde_json::Value| s.as_str().unwrap().split_whitespace().count() as u64;
    for r in &rows {
        let cols: Vec<&str> = r.keys().map(|k| k.as_str()).collect();
        assert_eq!(&cols[cols.len() - 2..], ["input_tokens", "output_tokens"]);
        assert_eq!(r["input_tokens"].as_u64().unwrap(), words(&r["input"]));
        assert_eq!(r["output_tokens"].as_u64().unwrap(), words(&r["output"]));
    }
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    let ts = &stats["per_task"][task];
    let max_in = rows
        .iter()
        .map(|r| r["input_tokens"].as_u64().unwrap())
        .max()
        .unwrap();
    assert_eq!(ts["input_tokens"]["max"], max_in);
    for k in ["min", "p50", "p90", "p99", "max"] {
        assert!(ts["output_tokens"][k].is_u64(), "{k}");
    }
    let lock = std::fs::read_to_string(out.join("medsins.lock.json")).unwrap();
    assert!(lock.contains("\"tokenizer\""), "{lock}");

    // the shortest sample survives a limit just under the longest; --max-tokens counts the
    // instruction's tokens too
    let totals: Vec<u64> = rows
        .iter()
        .map(|r| {
            words(&r["instruction"])
                + r["input_tokens"].as_u64().unwrap()
                + r["output_tokens"].as_u64().unwrap()
        })
        .collect();
    let limit = *totals.iter().max().unwrap() - 1;
    let too_long = totals.iter().filter(|&&t| t > limit).count();
    let out2 = tmp.path().join("out2");
    let rep = run(&out2, Some(limit as usize));
    assert_eq!(
        rep.removed_by_reason.get("too_long").copied(),
        Some(too_long as u64)
    );
    let ledger = medsins_output::read_ledger(&out2.join("ledger.parquet")).unwrap();
    let l: Vec<_> = ledger
        .iter()
        .filter(|e| e.reason == medsins_core::LedgerReason::TooLong)
        .collect();
    assert_eq!(l.len(), too_long);
    assert!(
        l.iter()
            .all(|e| e.stage == "tokens" && e.task_id == task && e.id.is_some())
    );
}

#[test]
fn without_a_tokenizer_the_schema_has_no_token_columns() {
    let names: Vec<String> = medsins_output::sample_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with("_tokens")));
    let with: Vec<String> = medsins_output::sample_schema_with_tokens()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(with.len(), names.len() + 2);
}

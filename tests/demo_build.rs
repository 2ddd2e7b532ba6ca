//! The demo build end to end: output layout, Parquet read back, determinism across thread
//! counts, atomic replacement.

use medsins_e2e::*;
use medsins_pipeline::{BuildOptions, Checksums, build};
use std::path::Path;

fn build_with_threads(
    out: &Path,
    threads: usize,
    instructions: Option<std::path::PathBuf>,
) -> medsins_pipeline::BuildReport {
    let cat = catalogue();
    let mut opts = BuildOptions::new(fixtures_root(), out.to_path_buf());
    opts.checksums = Checksums::Skip; // the fixtures are not the releases
    opts.instructions = instructions;
    opts.shard_rows = 2; // several shards per task even on fixtures
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| build(&cat, &opts)).expect("demo build")
}

#[test]
fn demo_build_is_byte_identical_at_one_and_two_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let ra = build_with_threads(&a, 1, None);
    build_with_threads(&b, 2, None);
    assert_eq!(ra.exit_code(), 0, "{:?}", ra.corpora);
    let sums_a = std::fs::read_to_string(a.join("SHA256SUMS")).unwrap();
    let sums_b = std::fs::read_to_string(b.join("SHA256SUMS")).unwrap();
    assert_eq!(sums_a, sums_b);
    assert!(
        sums_a.contains("data/task114_medqsum_text_summurization/train-00000-of-00002.parquet"),
        "{sums_a}"
    );
    assert!(medsins_output::verify_checksums(&a).unwrap().is_empty());
}

#[test]
fn shards_read_back_with_every_column_and_provenance() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    build_with_threads(&out, 2, None);
    let rows = medsins_output::read_samples(
        &out.join("data/task114_medqsum_text_summurization/train-00000-of-00002.parquet"),
    )
    .unwrap();
    assert_eq!(rows.len(), 2);
    let cols: Vec<&str> = rows[0].keys().map(|k| k.as_str()).collect();
    assert_eq!(
        cols,
        [
            "id",
            "task_id",
            "task_no",
            "corpus_id",
            "category",
            "text_source",
            "domains",
            "instruction",
            "instruction_id",
            "input",
            "output",
            "split",
            "languages",
            "license",
            "access",
            "source_variant",
            "source_file",
            "source_locator",
            "raw_sha256",
            "manifest_sha256",
            "builder_version"
        ]
    );
    let r = &rows[0];
    assert_eq!(r["task_no"], 114);
    assert_eq!(r["source_locator"], "QS!row 2");
    assert_eq!(r["source_variant"], "default");
    assert_eq!(
        r["source_file"],
        "meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
    );
    assert_eq!(r["output"], "Who manufactures loratadine?");
    assert_eq!(
        r["id"],
        medsins_core::SampleId::derive(
            "task114_medqsum_text_summurization",
            r["input"].as_str().unwrap(),
            "Who manufactures loratadine?"
        )
        .to_string()
    );
    assert_eq!(r["instruction_id"], 0);
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("medsins.lock.json")).unwrap())
            .unwrap();
    assert_eq!(lock["complete"], true);
    assert!(
        lock["raw_files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx")
    );
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.starts_with("---\n"));
    assert!(card.contains("- config_name: \"task114_medqsum_text_summurization\"\n  data_files:\n  - split: train\n    path: \"data/task114_medqsum_text_summurization/train-*.parquet\""));
}

#[test]
fn instruction_bank_supplies_paraphrases_chosen_by_id() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: no instruction bank to test with");
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    build_with_threads(
        &out,
        2,
        Some(shared.join("upstream/RewriteDefinitions.json")),
    );
    let bank =
        medsins_readers::InstructionBank::load(&shared.join("upstream/RewriteDefinitions.json"))
            .unwrap();
    assert_eq!(bank.tasks.len(), 122);
    assert_eq!(bank.paraphrase_count(), 18_996);
    let t = &bank.tasks[&114];
    let mut ids = std::collections::BTreeSet::new();
    for shard in [
        "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet",
    ] {
        for r in medsins_output::read_samples(
            &out.join("data/task114_medqsum_text_summurization")
                .join(shard),
        )
        .unwrap()
        {
            let i = r["instruction_id"].as_u64().unwrap() as usize;
            let expect = if i == 0 {
                &t.original
            } else {
                &t.paraphrases[i - 1]
            };
            assert_eq!(r["instruction"].as_str().unwrap(), expect);
            ids.insert(i);
        }
    }
    assert!(!ids.is_empty());
}

/// The 122 MedS-Ins task numbers (the keys of RewriteDefinitions.json): 1–3, 11–29, 31, 33,
/// 35–120, 124–126, 128–136.
fn meds_ins_task_numbers() -> Vec<u32> {
    let mut v: Vec<u32> = (1..=136).collect();
    v.retain(|n| !matches!(n, 4..=10 | 30 | 32 | 34 | 121..=123 | 127));
    v
}

#[test]
fn the_catalogue_is_all_of_meds_ins_and_the_demo_has_rows_in_every_task() {
    let cat = catalogue();
    assert_eq!(cat.manifests.len(), 58);
    let mut numbers: Vec<u32> = cat
        .tasks()
        .iter()
        .map(|(_, t)| *t.number.get_ref())
        .collect();
    numbers.sort();
    assert_eq!(numbers, meds_ins_task_numbers());
    if let Some(shared) = shared() {
        let bank = medsins_readers::InstructionBank::load(
            &shared.join("upstream/RewriteDefinitions.json"),
        )
        .unwrap();
        assert_eq!(bank.tasks.keys().copied().collect::<Vec<_>>(), numbers);
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let report = build_with_threads(&out, 2, None);
    assert_eq!(report.exit_code(), 0);
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    let per_task = stats["per_task"].as_object().unwrap();
    assert_eq!(per_task.len(), 122);
    let empty: Vec<&String> = per_task
        .iter()
        .filter(|(_, t)| t["samples"] == 0)
        .map(|(k, _)| k)
        .collect();
    assert!(
        empty.is_empty(),
        "tasks without a sample in the demo: {empty:?}"
    );
}

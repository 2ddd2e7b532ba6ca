//! The build cache (issue #16, docs/scale-out.md): a build with `--cache` is the same bytes as
//! one without; a second build reuses every unit; editing one manifest recomputes only its
//! corpus's units; an option that changes units changes every key, one that only changes the
//! write phase none; `--cached-only` lists the units a cache lacks; a damaged unit is
//! recomputed. Tasks' written shards are cached too: reused when nothing that decides them
//! changed, rewritten when a write option changed, found and rewritten when damaged.

use medsins_e2e::*;
use medsins_manifest::Catalogue;
use medsins_pipeline::{
    BuildOptions, BuildReport, CacheOptions, CacheReport, Checksums, build, build_with_cache,
    plan_units,
};
use std::path::Path;

fn options(raw: &Path, out: &Path) -> BuildOptions {
    let mut opts = BuildOptions::new(raw.to_path_buf(), out.to_path_buf());
    opts.checksums = Checksums::Skip; // fixtures and synthetic roots are not the releases
    opts.shard_rows = 3; // several shards per task even on fixtures
    opts
}

fn cached(cat: &Catalogue, opts: &BuildOptions, cache: &Path) -> (BuildReport, CacheReport) {
    let c = CacheOptions {
        dir: cache.to_path_buf(),
        cached_only: false,
    };
    let report = build_with_cache(cat, opts, Some(&c)).expect("cached build");
    assert_eq!(report.exit_code(), 0, "{:?}", report.corpora);
    let used = report
        .cache
        .clone()
        .expect("a cached build reports its units");
    (report, used)
}

/// The ids of the units a build of `cat` has.
fn unit_ids(cat: &Catalogue, opts: &BuildOptions) -> Vec<String> {
    let mut ids: Vec<String> = plan_units(cat, opts, None)
        .unwrap()
        .units
        .into_iter()
        .map(|u| u.id)
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The repository's manifests copied to `dir`, to edit.
fn manifests_copy(dir: &Path) -> Catalogue {
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(repo().join("corpora-manifests")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    load(dir)
}

fn load(dir: &Path) -> Catalogue {
    let (cat, diags) = Catalogue::load(&[dir.to_path_buf()]);
    assert!(diags.is_empty(), "{diags}");
    cat
}

/// MeQSum's instruction changed: its one task's output changes, nothing else does.
fn edit_meqsum(manifests: &Path) -> Catalogue {
    let path = manifests.join("meqsum.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace(
        "Your task is to summarize the consumer health question.",
        "Your task is to summarise the consumer health question in one sentence.",
    );
    assert_ne!(text, edited, "the edit applies");
    std::fs::write(&path, edited).unwrap();
    load(manifests)
}

#[test]
fn the_demo_with_a_cache_is_the_same_bytes_and_a_second_build_reuses_every_unit() {
    let tmp = tempfile::tempdir().unwrap();
    let (cat, raw, cache) = (catalogue(), fixtures_root(), tmp.path().join("cache"));
    let plain = tmp.path().join("plain");
    build(&cat, &options(&raw, &plain)).expect("plain build");
    let units = unit_ids(&cat, &options(&raw, &plain));
    assert_eq!(units.len(), 87, "the demo's units");
    assert!(units.contains(&"mimic-iv-radiology/task78_mimic_ultrasound_summarization".into()));

    let first = tmp.path().join("first");
    let (_, used) = cached(&cat, &options(&raw, &first), &cache);
    assert_eq!(
        (used.reused.len(), sorted(used.computed)),
        (0, units.clone())
    );
    assert_eq!(
        (used.shards_reused.len(), used.shards_written.len()),
        (0, 122)
    );
    assert_same_tree(&plain, &first);

    let second = tmp.path().join("second");
    let (report, used) = cached(&cat, &options(&raw, &second), &cache);
    assert_eq!((sorted(used.reused), used.computed.len()), (units, 0));
    assert_eq!(
        (used.shards_reused.len(), used.shards_written.len()),
        (122, 0)
    );
    assert_same_tree(&plain, &second);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["cache"]["computed"], serde_json::json!([]));
    assert_eq!(json["cache"]["shards_written"], serde_json::json!([]));
    assert_eq!(
        json["cache"]["shards_reused"][0],
        "task1_participant_extraction"
    );
}

#[test]
fn editing_one_manifest_recomputes_only_its_units_with_a_clean_builds_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let manifests = tmp.path().join("manifests");
    let cat = manifests_copy(&manifests);
    let (raw, cache) = (fixtures_root(), tmp.path().join("cache"));
    cached(&cat, &options(&raw, &tmp.path().join("before")), &cache);

    let edited = edit_meqsum(&manifests);
    let after = tmp.path().join("after");
    let (_, used) = cached(&edited, &options(&raw, &after), &cache);
    assert_eq!(used.computed, ["meqsum/task114_medqsum_text_summurization"]);
    assert_eq!(used.reused.len(), 86);
    assert_eq!(used.shards_written, ["task114_medqsum_text_summurization"]);
    assert_eq!(used.shards_reused.len(), 121);
    let clean = tmp.path().join("clean");
    build(&edited, &options(&raw, &clean)).expect("clean build");
    assert_same_tree(&clean, &after);
    assert_ne!(
        tree(&tmp.path().join("before")),
        tree(&after),
        "the edit changed the output"
    );
}

#[test]
fn the_seed_changes_every_key_and_shard_size_none_but_the_shards_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (cat, raw, cache) = (catalogue(), fixtures_root(), tmp.path().join("cache"));
    let only =
        |opts: &mut BuildOptions| opts.selection.only = vec!["meqsum".into(), "mednli".into()];
    let mut opts = options(&raw, &tmp.path().join("a"));
    only(&mut opts);
    let (_, used) = cached(&cat, &opts, &cache);
    assert_eq!(used.computed.len(), 2);
    let tasks = [
        "task114_medqsum_text_summurization",
        "task41_mednli_textual_entailment_discriminative",
        "task42_mednli_textual_entailment_generative",
        "task43_mednli_wrong_textual_entailment_generative",
        "task44_mednli_textual_entailment_classification",
    ];
    assert_eq!(sorted(used.shards_written.clone()), tasks);

    let mut reshard = options(&raw, &tmp.path().join("b"));
    only(&mut reshard);
    reshard.shard_rows = 1;
    let (_, used) = cached(&cat, &reshard, &cache);
    assert_eq!((used.reused.len(), used.computed.len()), (2, 0));
    assert_eq!(sorted(used.shards_written), tasks, "another shard size");
    let mut plain = reshard.clone();
    plain.out = tmp.path().join("b-plain");
    build(&cat, &plain).unwrap();
    assert_same_tree(&plain.out, &reshard.out);

    // another row-group bound rewrites the shards too; the same options again reuse them
    let mut groups = options(&raw, &tmp.path().join("groups"));
    only(&mut groups);
    groups.row_group_bytes = 1 << 10;
    let (_, used) = cached(&cat, &groups, &cache);
    assert_eq!(
        sorted(used.shards_written),
        tasks,
        "another row-group bound"
    );
    let mut plain = groups.clone();
    plain.out = tmp.path().join("groups-plain");
    build(&cat, &plain).unwrap();
    assert_same_tree(&plain.out, &groups.out);
    let shard = "data/task114_medqsum_text_summurization/train-00000-of-00001.parquet";
    assert_ne!(
        tree(&plain.out)[shard],
        tree(&opts.out)[shard],
        "the row-group bound is applied"
    );
    groups.out = tmp.path().join("groups-again");
    let (_, used) = cached(&cat, &groups, &cache);
    assert_eq!(
        (used.shards_reused.len(), used.shards_written.len()),
        (5, 0)
    );

    let mut reseed = options(&raw, &tmp.path().join("c"));
    only(&mut reseed);
    reseed.seed = 7;
    let (_, used) = cached(&cat, &reseed, &cache);
    assert_eq!((used.reused.len(), used.computed.len()), (0, 2));
}

#[test]
fn cached_only_lists_the_units_the_cache_lacks() {
    let tmp = tempfile::tempdir().unwrap();
    let (cat, raw, cache) = (catalogue(), fixtures_root(), tmp.path().join("cache"));
    let mut some = options(&raw, &tmp.path().join("some"));
    some.selection.only = vec!["meqsum".into(), "mednli".into(), "medquad".into()];
    cached(&cat, &some, &cache);

    let out = tmp.path().join("out");
    let mut opts = options(&raw, &out);
    opts.selection.only = vec!["meqsum".into(), "mednli".into(), "wikidoc".into()];
    let c = CacheOptions {
        dir: cache.clone(),
        cached_only: true,
    };
    let err = build_with_cache(&cat, &opts, Some(&c))
        .unwrap_err()
        .to_string();
    let missing = [
        "wikidoc/task69_wikidoc_patient_information_question_answering",
        "wikidoc/task70_wikidoc_question_answering",
    ];
    assert_eq!(
        err,
        format!(
            "the cache {d} lacks 2 unit(s) of this build: {}; compute them with `medsins build-unit <unit> --cache {d}` (`medsins plan` lists them), or build without --cached-only",
            missing.join(", "),
            d = cache.display()
        )
    );
    assert!(!out.exists(), "nothing is written");

    opts.selection.only.pop();
    let report = build_with_cache(&cat, &opts, Some(&c)).unwrap();
    assert_eq!(report.cache.unwrap().computed.len(), 0);
    assert!(out.join("SHA256SUMS").is_file());
}

#[test]
fn a_damaged_unit_is_recomputed() {
    let tmp = tempfile::tempdir().unwrap();
    let (cat, raw, cache) = (catalogue(), fixtures_root(), tmp.path().join("cache"));
    let mut opts = options(&raw, &tmp.path().join("a"));
    opts.selection.only = vec!["meqsum".into()];
    cached(&cat, &opts, &cache);
    let units: Vec<_> = std::fs::read_dir(cache.join("units"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(units.len(), 1);
    let samples = units[0].path().join("0.samples.zst");
    let len = std::fs::metadata(&samples).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&samples)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    opts.out = tmp.path().join("b");
    let (_, used) = cached(&cat, &opts, &cache);
    assert_eq!(used.computed, ["meqsum/task114_medqsum_text_summurization"]);
    let mut plain = opts.clone();
    plain.out = tmp.path().join("plain");
    build(&cat, &plain).unwrap();
    assert_same_tree(&plain.out, &opts.out);
}

/// The acceptance on a synthetic root: after one manifest changes, a cached rebuild
/// gives the bytes of a clean build. (docs/scale-out.md measures the times at scale 0.03
/// with the release binary.)
#[test]
fn a_rebuild_of_a_synth_root_after_one_manifest_changes_is_a_clean_builds_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    medsins_synth::synth(
        &catalogue(),
        &fixtures_root(),
        &raw,
        &medsins_synth::SynthOptions {
            scale: 0.002,
            seed: 0,
            dup_rate: 0.05,
        },
    )
    .expect("synth");
    let manifests = tmp.path().join("manifests");
    let cat = manifests_copy(&manifests);
    let cache = tmp.path().join("cache");
    let mut opts = options(&raw, &tmp.path().join("first"));
    opts.shard_rows = 1000;
    cached(&cat, &opts, &cache);

    let edited = edit_meqsum(&manifests);
    opts.out = tmp.path().join("rebuilt");
    let (_, used) = cached(&edited, &opts, &cache);
    assert_eq!(used.computed, ["meqsum/task114_medqsum_text_summurization"]);
    let mut clean = opts.clone();
    clean.out = tmp.path().join("clean");
    build(&edited, &clean).expect("clean build");
    assert_same_tree(&clean.out, &opts.out);
}

#[test]
fn a_changed_raw_file_recomputes_only_the_units_that_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (raw, cache) = (tmp.path().join("raw"), tmp.path().join("cache"));
    copy_tree(&fixtures_root(), &raw);
    let cat = catalogue();
    let mut opts = options(&raw, &tmp.path().join("a"));
    opts.selection.only = vec!["mednli".into(), "wikidoc".into()];
    let (_, used) = cached(&cat, &opts, &cache);
    assert_eq!(used.computed.len(), 3);

    let dev = raw.join("mednli/mli_dev_v1.jsonl");
    let text = std::fs::read_to_string(&dev).unwrap();
    let fewer: Vec<&str> = text.lines().collect();
    assert!(fewer.len() > 1);
    std::fs::write(&dev, fewer[..fewer.len() - 1].join("\n") + "\n").unwrap();
    opts.out = tmp.path().join("b");
    let (_, used) = cached(&cat, &opts, &cache);
    assert_eq!(
        (used.computed, used.reused.len()),
        (
            vec!["mednli/task41_mednli_textual_entailment_discriminative".to_string()],
            2
        )
    );
    let mut clean = opts.clone();
    clean.out = tmp.path().join("clean");
    build(&cat, &clean).unwrap();
    assert_same_tree(&clean.out, &opts.out);
}

/// The one entry of a cache folder of `kind` (`units`, `written`).
fn only_entry(cache: &Path, kind: &str) -> std::path::PathBuf {
    let entries: Vec<_> = std::fs::read_dir(cache.join(kind))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0].clone()
}

#[test]
fn damaged_written_shards_are_found_and_the_task_written_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (cat, raw, cache) = (catalogue(), fixtures_root(), tmp.path().join("cache"));
    let mut opts = options(&raw, &tmp.path().join("a"));
    opts.selection.only = vec!["meqsum".into()];
    let (_, used) = cached(&cat, &opts, &cache);
    assert_eq!(used.shards_written, ["task114_medqsum_text_summurization"]);
    let mut plain = opts.clone();
    plain.out = tmp.path().join("plain");
    build(&cat, &plain).unwrap();
    let entry = only_entry(&cache, "written");
    let shard = entry.join("train-00000-of-00001.parquet");

    // one byte changed, the size kept: the SHA-256 checked while copying finds it
    let mut bytes = std::fs::read(&shard).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&shard, &bytes).unwrap();
    opts.out = tmp.path().join("b");
    let (_, used) = cached(&cat, &opts, &cache);
    assert_eq!(
        (used.reused.len(), used.shards_written),
        (1, vec!["task114_medqsum_text_summurization".to_string()])
    );
    assert_same_tree(&plain.out, &opts.out);

    // a shard cut short (a copy interrupted): its size differs from the record's
    let entry = only_entry(&cache, "written");
    let shard = entry.join("train-00000-of-00001.parquet");
    let len = std::fs::metadata(&shard).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&shard)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    opts.out = tmp.path().join("c");
    let (_, used) = cached(&cat, &opts, &cache);
    assert_eq!(used.shards_written.len(), 1);
    assert_same_tree(&plain.out, &opts.out);

    // a record that does not parse
    std::fs::write(only_entry(&cache, "written").join("written.json"), "{").unwrap();
    opts.out = tmp.path().join("d");
    let (_, used) = cached(&cat, &opts, &cache);
    assert_eq!(used.shards_written.len(), 1);
    assert_same_tree(&plain.out, &opts.out);

    // and whole again: reused, the output a copy that does not share the cache's files
    opts.out = tmp.path().join("e");
    let (_, used) = cached(&cat, &opts, &cache);
    assert_eq!(
        (used.shards_reused.len(), used.shards_written.len()),
        (1, 0)
    );
    assert_same_tree(&plain.out, &opts.out);
    let out_shard = opts
        .out
        .join("data/task114_medqsum_text_summurization/train-00000-of-00001.parquet");
    std::fs::write(&out_shard, b"edited by a user").unwrap();
    let cached_shard = only_entry(&cache, "written").join("train-00000-of-00001.parquet");
    assert_eq!(
        std::fs::read(cached_shard).unwrap(),
        std::fs::read(
            plain
                .out
                .join("data/task114_medqsum_text_summurization/train-00000-of-00001.parquet")
        )
        .unwrap()
    );
}

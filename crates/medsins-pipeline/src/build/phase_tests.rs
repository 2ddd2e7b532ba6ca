//! The build's phases one at a time, on a catalogue written into a temp dir: four corpora
//! (one built from a train and a test file, one whose training sample leaks the other's test
//! input, one left out by `--access`, one whose raw files are absent). Each phase's output is
//! asserted exactly, then handed to the next, as `build()` does.

use super::{Inputs, assemble, leakage, plan, run, write};
use crate::report::CorpusStatus;
use crate::{BuildOptions, Checksums};
use medsins_core::{Access, LedgerReason};
use medsins_manifest::Catalogue;
use medsins_quality::{HeldOut, LeakConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

fn corpus(id: &str, access: &str, files: &str, tasks: &str) -> String {
    format!(
        "[corpus]\nid = \"{id}\"\nname = \"{id}\"\nhomepage = \"https://example.invalid\"\nversion = \"1\"\n\
         license = \"CC0-1.0\"\naccess = \"{access}\"\ncitation = \"none\"\nobtain = \"written by the test\"\n\
         {files}{tasks}"
    )
}

fn file(id: &str, split: Option<&str>) -> String {
    let split = split
        .map(|s| format!("split = \"{s}\"\n"))
        .unwrap_or_default();
    format!("\n[[files]]\nid = \"{id}\"\npath = \"{id}.jsonl\"\nformat = \"jsonl\"\n{split}")
}

fn task(id: &str, number: u32, files: &str, split: &str) -> String {
    format!(
        "\n[[tasks]]\nid = \"{id}\"\nnumber = {number}\nname = \"t\"\ncategory = \"Question Answering\"\n\
         text_source = \"Exam\"\ninput_languages = [\"en\"]\noutput_languages = [\"en\"]\n\
         definition = \"Answer.\"\nfiles = [{files}]\ninput = \"{{{{ q }}}}\"\noutput = \"{{{{ a }}}}\"\n\
         split = {split}\n"
    )
}

fn jsonl(root: &Path, rel: &str, rows: &[(&str, &str)]) {
    let text: String = rows
        .iter()
        .map(|(q, a)| json!({"q": q, "a": a}).to_string() + "\n")
        .collect();
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const HELD_OUT: &str = "which drug lowers blood pressure fastest in an emergency";

/// The catalogue and raw root (see the module docs).
fn catalogue(root: &Path) -> Catalogue {
    let manifests = root.join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    let official = "{ policy = \"official\" }";
    let train = "{ policy = \"fixed\", split = \"train\" }";
    let write = |id: &str, text: String| std::fs::write(manifests.join(format!("{id}.toml")), text);
    write(
        "alpha",
        corpus(
            "alpha",
            "public",
            &(file("train", Some("train")) + &file("test", Some("test"))),
            &task("task901_alpha_qa", 901, "\"train\", \"test\"", official),
        ),
    )
    .unwrap();
    write(
        "beta",
        corpus(
            "beta",
            "public",
            &file("beta", None),
            &task("task902_beta_qa", 902, "\"beta\"", train),
        ),
    )
    .unwrap();
    write(
        "gamma",
        corpus(
            "gamma",
            "credentialed",
            &file("gamma", None),
            &task("task903_gamma_qa", 903, "\"gamma\"", train),
        ),
    )
    .unwrap();
    write(
        "delta",
        corpus(
            "delta",
            "public",
            &file("delta", None),
            &task("task904_delta_qa", 904, "\"delta\"", train),
        ),
    )
    .unwrap();
    let raw = root.join("raw");
    jsonl(
        &raw,
        "alpha/train.jsonl",
        &[
            (
                "what is the first line treatment of asthma",
                "inhaled steroids",
            ),
            (
                "what is the first line treatment of asthma",
                "inhaled steroids",
            ),
            ("name a beta blocker", "metoprolol"),
        ],
    );
    jsonl(&raw, "alpha/test.jsonl", &[(HELD_OUT, "labetalol")]);
    jsonl(
        &raw,
        "beta/beta.jsonl",
        &[
            (HELD_OUT, "nicardipine"),
            ("name an antiplatelet drug", "aspirin"),
        ],
    );
    jsonl(&raw, "gamma/gamma.jsonl", &[("q", "a")]);
    let (cat, diags) = Catalogue::load(&[manifests]);
    assert!(diags.is_empty(), "{diags}");
    cat
}

fn options(root: &Path) -> BuildOptions {
    let mut opts = BuildOptions::new(root.join("raw"), root.join("out"));
    opts.selection.access = Some(Access::Registration);
    opts.checksums = Checksums::Skip;
    opts
}

#[test]
fn plan_selects_builds_and_reports_the_corpora_it_leaves_out() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = catalogue(tmp.path());
    let plan = plan::plan(&cat, &options(tmp.path()));
    let planned: Vec<&str> = plan
        .corpora
        .iter()
        .map(|pc| pc.manifest().manifest.id())
        .collect();
    assert_eq!(planned, ["alpha", "beta"]);
    let jobs: Vec<(usize, &str)> = plan
        .jobs()
        .iter()
        .map(|j| (j.corpus, j.task.id.get_ref().as_str()))
        .collect();
    assert_eq!(jobs, [(0, "task901_alpha_qa"), (1, "task902_beta_qa")]);
    assert_eq!(plan.groups(), [vec![0], vec![1]]);
    let unbuilt: BTreeMap<&str, &CorpusStatus> = plan
        .unbuilt
        .iter()
        .map(|r| (r.corpus_id.as_str(), &r.status))
        .collect();
    assert_eq!(unbuilt.len(), 2);
    match unbuilt["gamma"] {
        CorpusStatus::Excluded { reason } => assert_eq!(
            reason,
            "access class `credentialed` is above --access registration"
        ),
        other => panic!("gamma: {other:?}"),
    }
    match unbuilt["delta"] {
        CorpusStatus::Missing { paths, tasks, .. } => {
            let expected = tmp.path().join("raw/delta/delta.jsonl");
            assert_eq!(paths, &[expected.display().to_string()]);
            assert_eq!(tasks, &["task904_delta_qa"]);
        }
        other => panic!("delta: {other:?}"),
    }
}

#[test]
fn plan_refuses_an_id_that_would_name_a_path() {
    let tmp = tempfile::tempdir().unwrap();
    let manifests = tmp.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    let text = corpus(
        "Alpha",
        "public",
        &file("train", None),
        &task(
            "task901_alpha_qa",
            901,
            "\"train\"",
            "{ policy = \"official\" }",
        ),
    );
    std::fs::write(manifests.join("Alpha.toml"), text).unwrap();
    let (cat, diags) = Catalogue::load(&[manifests]);
    assert!(diags.is_empty(), "{diags}");
    let e = plan::check_names(&cat, &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: `Alpha` is not a valid id (corpus ids are `[a-z0-9-]+`, task ids `task<N>_[A-Za-z0-9_]+`); ids name folders, so nothing was built; run `medsins validate`",
            cat.manifests[0].display_path()
        )
    );
    // a selection that leaves the manifest out does not stop the build
    assert!(plan::check_names(&cat, &["beta".into()]).is_ok());
}

#[test]
fn each_phase_hands_the_next_exactly_what_it_built() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = catalogue(tmp.path());
    let opts = options(tmp.path());
    let dir = tmp.path().join("partial");
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = tempfile::tempdir_in(&dir).unwrap();
    let inputs = Inputs::load(&opts).unwrap();
    let plan = plan::plan(&cat, &opts);

    // run: exact dedup removes alpha's repeated training question; nothing fails
    let leak_cfg = LeakConfig::default();
    let held_keys = HeldOut::new(leak_cfg.clone(), opts.seed);
    let cx = run::UnitContext {
        jobs: plan.jobs(),
        inputs: &inputs,
        held_keys: &held_keys,
        opts: &opts,
        scratch: scratch.path(),
    };
    let mut runs = run::run_units(&plan.units(), &cx, None, &plan).unwrap();
    assert!(runs.failed.is_empty(), "{:?}", runs.failed);
    let kept = |runs: &run::Runs| -> Vec<(usize, usize)> {
        runs.built.iter().map(|(j, r)| (*j, r.kept.len())).collect()
    };
    assert_eq!(kept(&runs), [(0, 3), (1, 2)]);
    assert_eq!(runs.built[&0].records_read, 4);
    assert_eq!(runs.built[&0].ledger.count(LedgerReason::ExactDuplicate), 1);
    assert_eq!(runs.built[&0].held.len(), 1, "alpha's one test sample");

    // cross-task passes: beta's training copy of alpha's test input is removed as a leak
    let cross = leakage::cross_task_passes(&mut runs, &plan, &inputs, &leak_cfg, &opts).unwrap();
    assert_eq!(kept(&runs), [(0, 3), (1, 1)]);
    assert_eq!(runs.built[&1].ledger.count(LedgerReason::Leak), 1);
    assert_eq!(cross.leakage["held_out_samples"], 1);
    assert_eq!(cross.leakage["training_samples_checked"], 4);
    assert_eq!(
        cross.leakage["removed_per_task"],
        json!({"task902_beta_qa": 1})
    );
    assert_eq!(cross.leakage["removed_exact"], 1);
    assert_eq!(cross.leakage["removed_near_duplicate"], 0);
    assert!(cross.decontamination.is_none(), "no --decontaminate");

    // write: the shards of each task, then the ledger
    let mut built: Vec<(usize, crate::TaskRun)> =
        std::mem::take(&mut runs.built).into_iter().collect();
    let jobs = plan.jobs();
    let (to_write, ledgers) = built
        .iter_mut()
        .map(|(j, run)| {
            let (run, ledger) = run.kept_and_ledger();
            let t = write::ToWrite {
                expected: &[],
                task: jobs[*j].task,
                cached: None,
                run,
            };
            (t, ledger)
        })
        .unzip();
    let written = write::write_tasks(&dir, to_write, ledgers, &inputs, &opts).unwrap();
    let per_split: Vec<(u64, BTreeMap<String, u64>)> = written
        .iter()
        .map(|w| (w.samples, w.per_split.clone()))
        .collect();
    let splits = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
        pairs.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    };
    assert_eq!(
        per_split,
        [
            (3, splits(&[("test", 1), ("train", 2)])),
            (1, splits(&[("train", 1)]))
        ]
    );
    assert_eq!(written[0].input_chars, [42, 19, HELD_OUT.len() as u64]);
    assert!(written[0].tokens.is_none(), "no --tokenizer");
    drop(scratch);
    let mut files: Vec<String> = medsins_output::shard_files(&dir).unwrap();
    files.sort();
    assert_eq!(
        files,
        [
            "data/task901_alpha_qa/test-00000-of-00001.parquet",
            "data/task901_alpha_qa/train-00000-of-00001.parquet",
            "data/task902_beta_qa/train-00000-of-00001.parquet",
        ]
    );

    // assemble: the report and the rest of the directory
    let expected = BTreeMap::new();
    let failed = BTreeMap::new();
    let assembled = assemble::Built {
        plan: &plan,
        runs: &built,
        written: &written,
        failed: &failed,
        cross,
        expected: &expected,
        run_seconds: 0.0,
        write_seconds: 0.0,
    };
    let report = assemble::assemble(&dir, assembled, &inputs, &opts).unwrap();
    assert_eq!(report.samples, 4);
    assert_eq!(report.tasks, 2);
    let removed: Vec<(&str, u64)> = report
        .removed_by_reason
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(removed, [("exact_duplicate", 1), ("leak", 1)]);
    let statuses: Vec<(String, serde_json::Value, serde_json::Value)> = report
        .corpora
        .iter()
        .map(|c| {
            let v = serde_json::to_value(c).unwrap();
            (
                c.corpus_id.clone(),
                v["status"].clone(),
                v["samples"].clone(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("alpha".to_string(), json!("built"), json!(3)),
            ("beta".to_string(), json!("built"), json!(1)),
            ("delta".to_string(), json!("missing"), json!(null)),
            ("gamma".to_string(), json!("excluded"), json!(null)),
        ]
    );
    for f in [
        "stats.json",
        "checks.json",
        medsins_output::LOCK_FILE,
        "README.md",
        "SHA256SUMS",
        "index/ids.parquet",
        "ledger.parquet",
    ] {
        assert!(dir.join(f).is_file(), "{f} not written");
    }
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["samples"], 4);
}

/// With a cache, a task's written shards are keyed by what the cross-task passes removed from
/// it: when another corpus's held-out sample changes, beta's unit is reused but its leak is
/// gone, so its shards are written again — the bytes of a build without the cache.
#[test]
fn a_changed_leakage_removal_rewrites_the_cached_shards_of_its_task() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = catalogue(tmp.path());
    let cache = super::CacheOptions {
        dir: tmp.path().join("cache"),
        cached_only: false,
    };
    let mut opts = options(tmp.path());
    let sums = |out: &Path| std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    let build = |opts: &BuildOptions| {
        let report = super::build_with_cache(&cat, opts, Some(&cache)).unwrap();
        assert!(report.written, "{:?}", report.corpora);
        let stats: serde_json::Value =
            serde_json::from_slice(&std::fs::read(opts.out.join("stats.json")).unwrap()).unwrap();
        (
            report.cache.unwrap(),
            stats["leakage"]["removed"].as_u64().unwrap(),
        )
    };
    let both = ["task901_alpha_qa", "task902_beta_qa"].map(String::from);

    opts.out = tmp.path().join("first");
    let (used, removed) = build(&opts);
    assert_eq!((used.shards_written, removed), (both.to_vec(), 1));
    opts.out = tmp.path().join("again");
    let (used, _) = build(&opts);
    assert_eq!(
        (used.shards_reused, used.shards_written.len()),
        (both.to_vec(), 0)
    );
    assert_eq!(sums(&opts.out), sums(&tmp.path().join("first")));

    jsonl(
        &tmp.path().join("raw"),
        "alpha/test.jsonl",
        &[("which antibiotic treats strep throat", "penicillin")],
    );
    opts.out = tmp.path().join("after");
    let (used, removed) = build(&opts);
    assert_eq!(
        (used.computed, used.reused),
        (
            vec!["alpha/task901_alpha_qa".to_string()],
            vec!["beta/task902_beta_qa".to_string()]
        )
    );
    assert_eq!((used.shards_written, removed), (both.to_vec(), 0));
    let mut clean = opts.clone();
    clean.out = tmp.path().join("clean");
    assert!(super::build(&cat, &clean).unwrap().written);
    assert_eq!(sums(&opts.out), sums(&clean.out));
    assert_ne!(sums(&opts.out), sums(&tmp.path().join("first")));
}

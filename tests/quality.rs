//! Data quality end to end (docs/data-quality.md): planted exact duplicates, near-duplicates
//! (one word changed), cross-task leaks and a fake benchmark file, built from manifests and raw
//! files written into a temp dir; the ledger entries are asserted exactly.

use medsins_core::{LedgerEntry, SampleId, sha256_hex};
use medsins_manifest::{Catalogue, NearDedupPolicy};
use medsins_pipeline::{BuildOptions, build};
use medsins_quality::minhash::{jaccard, round4, sample_shingles, text_shingles};
use serde_json::json;
use std::path::{Path, PathBuf};

fn words(stem: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{stem}{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn changed(text: &str, from: &str, to: &str) -> String {
    text.split(' ')
        .map(|w| if w == from { to } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

fn jsonl(rows: &[(&str, &str)]) -> String {
    rows.iter()
        .map(|(q, a)| json!({"q": q, "a": a}).to_string() + "\n")
        .collect()
}

const CORPUS: &str = r#"
name = "Test"
homepage = "https://example.invalid"
version = "1"
license = "CC0-1.0"
access = "public"
citation = "none"
obtain = "written by the test"
"#;

fn task(id: &str, number: u32, files: &str, split: &str, extra: &str) -> String {
    format!(
        r#"
[[tasks]]
id = "{id}"
number = {number}
name = "t"
category = "Question Answering"
text_source = "Exam"
input_languages = ["en"]
output_languages = ["en"]
definition = "Answer."
files = [{files}]
input = "{{{{ q }}}}"
output = "{{{{ a }}}}"
split = {split}
{extra}
"#
    )
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    a: String,
    a2: String,
    b: String,
    c: String,
    c2: String,
    d: String,
    d2: String,
    e: String,
    g: String,
    short: &'static str,
    mc: &'static str,
    bench: PathBuf,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let a = words("alpha", 100);
    let a2 = changed(&a, "alpha50", "changed");
    let b = words("bravo", 40);
    let c = words("charlie", 100);
    let c2 = changed(&c, "charlie50", "changed");
    let d = words("delta", 100);
    let d2 = changed(&d, "delta50", "changed");
    let e = words("echo", 30);
    let g = words("golf", 20);
    let short = "What is the dose of aspirin?";
    let mc = "Which drug?\nA. aspirin\nB. heparin";
    std::fs::create_dir_all(root.join("manifests")).unwrap();
    std::fs::create_dir_all(root.join("raw/alpha")).unwrap();
    std::fs::create_dir_all(root.join("raw/beta")).unwrap();
    let alpha = format!(
        "[corpus]\nid = \"alpha\"\n{CORPUS}\n[[files]]\nid = \"train\"\npath = \"train.jsonl\"\nformat = \"jsonl\"\nsplit = \"train\"\n\n[[files]]\nid = \"test\"\npath = \"test.jsonl\"\nformat = \"jsonl\"\nsplit = \"test\"\n\n[[files]]\nid = \"more\"\npath = \"more.jsonl\"\nformat = \"jsonl\"\n{}{}",
        task(
            "task901_alpha_qa",
            901,
            "\"train\", \"test\"",
            "{ policy = \"official\" }",
            "near_dedup = { policy = \"remove\" }"
        ),
        task(
            "task902_alpha_flag",
            902,
            "\"more\"",
            "{ policy = \"fixed\", split = \"train\" }",
            ""
        ),
    );
    std::fs::write(root.join("manifests/alpha.toml"), alpha).unwrap();
    std::fs::write(
        root.join("raw/alpha/train.jsonl"),
        jsonl(&[(&a, "ans1"), (&a, "ans1"), (&a2, "ans1"), (&b, "ans2")]),
    )
    .unwrap();
    std::fs::write(
        root.join("raw/alpha/test.jsonl"),
        jsonl(&[(&c, "x"), (short, "y")]),
    )
    .unwrap();
    std::fs::write(
        root.join("raw/alpha/more.jsonl"),
        jsonl(&[(&d, "o"), (&d2, "o")]),
    )
    .unwrap();
    let beta = format!(
        "[corpus]\nid = \"beta\"\n{CORPUS}\n[[files]]\nid = \"beta\"\npath = \"beta.jsonl\"\nformat = \"jsonl\"\n{}",
        task(
            "task903_beta_qa",
            903,
            "\"beta\"",
            "{ policy = \"fixed\", split = \"train\" }",
            "expected_checks = [{ check = \"mc_answer_not_in_options\", reason = \"planted by the test\" }]\nexpected_yield = [{ reason = \"planted leaks and contamination\" }]"
        ),
    );
    std::fs::write(root.join("manifests/beta.toml"), beta).unwrap();
    std::fs::write(
        root.join("raw/beta/beta.jsonl"),
        jsonl(&[
            ("what is the DOSE of aspirin", "q1"),
            (&c2, "z"),
            (&e, "e1"),
            ("plain question here", &g),
            ("clean input text", "fine"),
            (mc, "C"),
        ]),
    )
    .unwrap();
    let bench = root.join("bench.json");
    let bench_text = json!({"Definition": ["x"], "Instances": [
        {"id": "b1", "input": format!("unrelated words {} more words", words("echo", 18).split(' ').skip(5).collect::<Vec<_>>().join(" ")), "output": ["no"]},
        {"id": "b2", "input": "something else", "output": [format!("prefix {} suffix", words("golf", 16).split(' ').skip(3).collect::<Vec<_>>().join(" "))]},
    ]});
    std::fs::write(&bench, serde_json::to_string_pretty(&bench_text).unwrap()).unwrap();
    Fixture {
        _tmp: tmp,
        root,
        a,
        a2,
        b,
        c,
        c2,
        d,
        d2,
        e,
        g,
        short,
        mc,
        bench,
    }
}

fn run(f: &Fixture, out: &Path, threads: usize) -> medsins_pipeline::BuildReport {
    run_with(f, out, threads, |_| {})
}

/// [`run`] with options changed by `set`.
fn run_with(
    f: &Fixture,
    out: &Path,
    threads: usize,
    set: impl FnOnce(&mut BuildOptions),
) -> medsins_pipeline::BuildReport {
    let (cat, diags) = Catalogue::load(&[f.root.join("manifests")]);
    assert!(diags.is_empty(), "{diags}");
    let check = medsins_manifest::check_catalogue(&cat.manifests);
    assert!(check.is_empty(), "{check}");
    let mut opts = BuildOptions::new(f.root.join("raw"), out.to_path_buf());
    opts.decontaminate = vec![f.bench.clone()];
    set(&mut opts);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| build(&cat, &opts)).expect("quality build")
}

type Row = (
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<f64>,
    String,
);

fn row(e: &LedgerEntry) -> Row {
    (
        e.task_id.clone(),
        e.id.map(|x| x.to_string()),
        e.stage.clone(),
        e.reason.as_str().to_string(),
        e.kept_id.map(|x| x.to_string()),
        e.similarity,
        e.detail.clone(),
    )
}

#[test]
fn planted_duplicates_leaks_and_contamination_give_exact_ledger_entries() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let report = run(&f, &out, 2);
    assert_eq!(report.exit_code(), 0, "{:?}", report.corpora);

    let t1 = "task901_alpha_qa";
    let t2 = "task902_alpha_flag";
    let t3 = "task903_beta_qa";
    let id = |t: &str, i: &str, o: &str| SampleId::derive(t, i, o).to_string();
    let (ia, ia2) = (id(t1, &f.a, "ans1"), id(t1, &f.a2, "ans1"));
    let (near_rep, near_gone, gone_text) = if ia < ia2 {
        (&ia, &ia2, &f.a2)
    } else {
        (&ia2, &ia, &f.a)
    };
    let near_sim = round4(jaccard(
        &sample_shingles(gone_text, "ans1", 5, 0),
        &sample_shingles(near_rep_text(&ia, &ia2, &f.a, &f.a2), "ans1", 5, 0),
    ));
    let (id_d, id_d2) = (id(t2, &f.d, "o"), id(t2, &f.d2, "o"));
    let (flag_rep, flag_id) = if id_d < id_d2 {
        (&id_d, &id_d2)
    } else {
        (&id_d2, &id_d)
    };
    let flag_sim = round4(jaccard(
        &sample_shingles(&f.d, "o", 5, 0),
        &sample_shingles(&f.d2, "o", 5, 0),
    ));
    let test_c = id(t1, &f.c, "x");
    let test_short = id(t1, f.short, "y");
    let leak_sim = round4(jaccard(
        &text_shingles(&f.c2, 5, 0),
        &text_shingles(&f.c, 5, 0),
    ));
    assert!(
        (0.8..1.0).contains(&near_sim) && flag_sim >= 0.8 && leak_sim >= 0.8,
        "{near_sim} {flag_sim} {leak_sim}"
    );

    let near = |t: &str, gone: &str, rep: &str, reason: &str, sim: f64| -> Row {
        (
            t.into(),
            Some(gone.into()),
            "near_dedup".into(),
            reason.into(),
            Some(rep.into()),
            Some(sim),
            format!(
                "Jaccard {sim:.4} with {rep} over input+output word 5-shingles (cluster of 2, threshold 0.8)"
            ),
        )
    };
    let expected: Vec<Row> = vec![
        (
            t1.into(),
            Some(ia.clone()),
            "exact_dedup".into(),
            "exact_duplicate".into(),
            Some(ia.clone()),
            None,
            String::new(),
        ),
        near(t1, near_gone, near_rep, "near_duplicate", near_sim),
        near(t2, flag_id, flag_rep, "near_duplicate_flag", flag_sim),
        (
            t3.into(),
            Some(id(t3, &f.e, "e1")),
            "decontaminate".into(),
            "contaminated".into(),
            None,
            Some(round4(1.0 / 18.0)),
            format!(
                "input 13-gram \"{}\" occurs in benchmark bench.json",
                (5..18)
                    .map(|i| format!("echo{i}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        (
            t3.into(),
            Some(id(t3, "plain question here", &f.g)),
            "decontaminate".into(),
            "contaminated".into(),
            None,
            Some(0.125),
            format!(
                "output 13-gram \"{}\" occurs in benchmark bench.json",
                (3..16)
                    .map(|i| format!("golf{i}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        (
            t3.into(),
            Some(id(t3, "what is the DOSE of aspirin", "q1")),
            "leakage".into(),
            "leak".into(),
            Some(test_short.clone()),
            Some(1.0),
            format!(
                "input equals (lower-cased words) the input of test sample {test_short} of {t1}"
            ),
        ),
        (
            t3.into(),
            Some(id(t3, &f.c2, "z")),
            "leakage".into(),
            "leak".into(),
            Some(test_c.clone()),
            Some(leak_sim),
            format!(
                "input near-duplicates (Jaccard {leak_sim:.4} over word 5-shingles) the input of test sample {test_c} of {t1}"
            ),
        ),
    ];
    let ledger = medsins_output::read_ledger(&out.join("ledger.parquet")).unwrap();
    let got: Vec<Row> = ledger
        .iter()
        .filter(|e| {
            ["exact_dedup", "near_dedup", "decontaminate", "leakage"].contains(&e.stage.as_str())
        })
        .map(row)
        .collect();
    assert_eq!(got, expected);

    // what stays: task901 keeps the representative and B (train) + both test rows; task902 keeps
    // both flagged samples; task903 keeps the clean and the multiple-choice rows
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["per_task"][t1]["samples"], 4);
    assert_eq!(stats["per_task"][t2]["samples"], 2);
    assert_eq!(stats["per_task"][t3]["samples"], 2);
    assert_eq!(
        stats["flagged_by_reason"],
        json!({"near_duplicate_flag": 1})
    );
    assert_eq!(
        stats["removed_by_reason"],
        json!({"contaminated": 2, "exact_duplicate": 1, "leak": 2, "near_duplicate": 1})
    );
    assert_eq!(stats["leakage"]["removed_exact"], 1);
    assert_eq!(stats["leakage"]["removed_near_duplicate"], 1);
    assert_eq!(stats["leakage"]["held_out_samples"], 2);
    assert_eq!(
        stats["decontamination"]["removed_by_field"],
        json!({"input": 1, "output": 1})
    );
    assert_eq!(
        stats["per_task"][t3]["stages"]
            .as_array()
            .unwrap()
            .iter()
            .skip(2)
            .map(|s| s[0].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "normalise",
            "exact_dedup",
            "split",
            "near_dedup",
            "instruction",
            "decontaminate",
            "leakage"
        ]
    );
    assert_eq!(stats["per_task"][t3]["stages"][8], json!(["leakage", 4, 2]));
    let _ = (&f.b, &f.a);

    // lock: benchmark names and hashes, no paths
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("medsins.lock.json")).unwrap())
            .unwrap();
    assert_eq!(
        lock["options"]["decontaminate"],
        json!([{"name": "bench.json", "sha256": sha256_hex(&std::fs::read(&f.bench).unwrap())}])
    );
    assert_eq!(lock["options"]["decontaminate_ngram"], 13);

    // checks: the planted multiple-choice answer is reported, as expected
    let checks: medsins_quality::ChecksReport =
        serde_json::from_str(&std::fs::read_to_string(out.join("checks.json")).unwrap()).unwrap();
    assert_eq!(checks.unexpected, 0, "{:?}", checks.results);
    assert_eq!(checks.results.len(), 2);
    let r = &checks.results[0];
    assert_eq!(
        (r.task_id.as_str(), r.check.as_str(), r.count, r.expected),
        (t3, "mc_answer_not_in_options", 1, true)
    );
    assert_eq!(r.examples, [id(t3, f.mc, "C")]);
    assert_eq!(r.reason.as_deref(), Some("planted by the test"));
    // the planted removals leave 2 of beta's 6 records: a low yield, declared
    let y = &checks.results[1];
    assert_eq!(
        (y.task_id.as_str(), y.check.as_str(), y.count, y.expected),
        (t3, "low_yield", 4, true)
    );
    assert_eq!(
        y.detail,
        "beta/beta.jsonl: 2 of 6 records became samples (33.3 %, under 50 %; removed: contaminated 2, leak 2)"
    );
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.checks, checks);
}

/// `--near-dedup` replaces every task's policy (task901 says remove, task902 flags by default)
/// and is recorded in the lock, so `medsins verify` rebuilds with it.
#[test]
fn the_near_dedup_override_replaces_every_tasks_policy() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let near = |dir: &str, policy: NearDedupPolicy| {
        let out = tmp.path().join(dir);
        let report = run_with(&f, &out, 2, |o| o.near_dedup = Some(policy));
        assert_eq!(report.exit_code(), 0, "{:?}", report.corpora);
        let ledger = medsins_output::read_ledger(&out.join("ledger.parquet")).unwrap();
        let found: Vec<(String, String)> = ledger
            .iter()
            .filter(|e| e.stage == "near_dedup")
            .map(|e| (e.task_id.clone(), e.reason.as_str().to_string()))
            .collect();
        let text = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
        let stats: serde_json::Value = serde_json::from_str(&text("stats.json")).unwrap();
        let lock: serde_json::Value = serde_json::from_str(&text("medsins.lock.json")).unwrap();
        let samples = |t: &str| stats["per_task"][t]["samples"].as_u64().unwrap();
        (
            found,
            samples("task901_alpha_qa"),
            samples("task902_alpha_flag"),
            lock["options"]["near_dedup"].clone(),
        )
    };
    let pair = |t: &str, r: &str| (t.to_string(), r.to_string());
    assert_eq!(
        near("off", NearDedupPolicy::Off),
        (vec![], 5, 2, json!("off"))
    );
    assert_eq!(
        near("remove", NearDedupPolicy::Remove),
        (
            vec![
                pair("task901_alpha_qa", "near_duplicate"),
                pair("task902_alpha_flag", "near_duplicate")
            ],
            4,
            1,
            json!("remove")
        )
    );
    assert_eq!(
        near("flag", NearDedupPolicy::Flag),
        (
            vec![
                pair("task901_alpha_qa", "near_duplicate_flag"),
                pair("task902_alpha_flag", "near_duplicate_flag")
            ],
            5,
            2,
            json!("flag")
        )
    );
    // without the override the lock has no such option (each manifest's policy holds)
    let default = tmp.path().join("default");
    run(&f, &default, 2);
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(default.join("medsins.lock.json")).unwrap())
            .unwrap();
    assert!(lock["options"].get("near_dedup").is_none(), "{lock}");
}

fn near_rep_text<'a>(ia: &str, ia2: &str, a: &'a str, a2: &'a str) -> &'a str {
    if ia < ia2 { a } else { a2 }
}

#[test]
fn quality_passes_are_byte_identical_at_one_and_two_threads() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    run(&f, &tmp.path().join("a"), 1);
    run(&f, &tmp.path().join("b"), 2);
    let sums = |d: &str| std::fs::read_to_string(tmp.path().join(d).join("SHA256SUMS")).unwrap();
    assert_eq!(sums("a"), sums("b"));
    assert!(sums("a").contains("checks.json"));
}

#[test]
fn a_bad_benchmark_file_is_a_clear_error() {
    let f = fixture();
    std::fs::write(&f.bench, "{\"no\": 1}").unwrap();
    let (cat, _) = Catalogue::load(&[f.root.join("manifests")]);
    let mut opts = BuildOptions::new(f.root.join("raw"), f.root.join("out"));
    opts.decontaminate = vec![f.bench.clone()];
    let err = build(&cat, &opts).unwrap_err().to_string();
    assert!(
        err.contains("bench.json") && err.contains("`input`"),
        "{err}"
    );
    assert!(!f.root.join("out").exists());
}

#[test]
fn real_corpora_quality_numbers() {
    let Some(shared) = medsins_e2e::shared() else {
        return medsins_e2e::skip("../shared is absent: no real corpora to measure");
    };
    let tmp = tempfile::tempdir().unwrap();
    let cat = medsins_e2e::catalogue();
    let opts = BuildOptions::new(shared.join("corpora"), tmp.path().join("out"));
    let report = build(&cat, &opts).expect("real build");
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("out/stats.json")).unwrap())
            .unwrap();
    println!(
        "removed: {}\nflagged: {}\nleakage: {}",
        stats["removed_by_reason"], stats["flagged_by_reason"], stats["leakage"]
    );
    assert!(report.tasks > 0);
    // every training sample that leaks a held-out input is gone
    let ledger = medsins_output::read_ledger(&tmp.path().join("out/ledger.parquet")).unwrap();
    let mut shown: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for e in ledger
        .iter()
        .filter(|e| ["leak", "near_duplicate_flag", "exact_duplicate"].contains(&e.reason.as_str()))
    {
        let n = shown
            .entry((e.task_id.clone(), e.reason.as_str().to_string()))
            .or_default();
        *n += 1;
        if *n <= 2 {
            println!(
                "{} {} {:?} kept {:?} sim {:?}: {}",
                e.task_id, e.reason, e.id, e.kept_id, e.similarity, e.detail
            );
        }
    }
    for e in ledger
        .iter()
        .filter(|e| e.reason == medsins_core::LedgerReason::Leak)
    {
        assert!(
            e.kept_id.is_some() && e.similarity.is_some_and(|s| s >= 0.8),
            "{e:?}"
        );
    }
}

/// The planted fixture built with `--leakage <policy>` (checksums of test-written raw files
/// are not verified).
fn run_leakage(f: &Fixture, out: &Path, policy: medsins_core::LeakagePolicy) {
    let (cat, diags) = Catalogue::load(&[f.root.join("manifests")]);
    assert!(diags.is_empty(), "{diags}");
    let mut opts = BuildOptions::new(f.root.join("raw"), out.to_path_buf());
    opts.decontaminate = vec![f.bench.clone()];
    opts.leakage = policy;
    build(&cat, &opts).expect("leakage build");
}

fn ledger_ids(out: &Path, reason: &str) -> Vec<String> {
    let mut ids: Vec<String> = medsins_output::read_ledger(&out.join("ledger.parquet"))
        .unwrap()
        .into_iter()
        .filter(|e| e.reason.as_str() == reason)
        .map(|e| e.id.unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn json_of(out: &Path, file: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join(file)).unwrap()).unwrap()
}

#[test]
fn leakage_flag_keeps_the_leaks_off_does_not_look_and_verify_rebuilds_with_the_policy() {
    use medsins_core::LeakagePolicy;
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let dir = |p: &str| tmp.path().join(p);
    run_leakage(&f, &dir("remove"), LeakagePolicy::Remove);
    run_leakage(&f, &dir("flag"), LeakagePolicy::Flag);
    run_leakage(&f, &dir("off"), LeakagePolicy::Off);
    let leaks = ledger_ids(&dir("remove"), "leak");
    assert!(leaks.len() >= 2, "{leaks:?}");
    // flag: the same samples, ledgered as flags and still in the output
    assert_eq!(ledger_ids(&dir("flag"), "leak_flag"), leaks);
    assert!(ledger_ids(&dir("flag"), "leak").is_empty());
    let mut rows = Vec::new();
    for shard in medsins_output::shard_files(&dir("flag")).unwrap() {
        for r in medsins_output::read_samples(&dir("flag").join(&shard)).unwrap() {
            rows.push(r["id"].as_str().unwrap().to_string());
        }
    }
    assert!(leaks.iter().all(|l| rows.contains(l)), "{leaks:?}");
    let stats = json_of(&dir("flag"), "stats.json");
    assert_eq!(stats["leakage"]["policy"], "flag");
    assert_eq!(stats["leakage"]["flagged"], json!(leaks.len()));
    assert_eq!(stats["flagged_by_reason"]["leak_flag"], json!(leaks.len()));
    assert_eq!(
        json_of(&dir("remove"), "stats.json")["leakage"]["removed"],
        json!(leaks.len())
    );
    // off: nothing looked for
    assert!(
        ledger_ids(&dir("off"), "leak").is_empty()
            && ledger_ids(&dir("off"), "leak_flag").is_empty()
    );
    assert_eq!(
        json_of(&dir("off"), "stats.json")["leakage"],
        json!({"policy": "off"})
    );
    // the lock records the policy, and a rebuild from the lock honours it
    for (d, policy) in [("remove", "remove"), ("flag", "flag"), ("off", "off")] {
        let lock = json_of(&dir(d), medsins_output::LOCK_FILE);
        assert_eq!(lock["options"]["leakage"], policy);
        assert_eq!(lock["options"]["profile"], "clean");
    }
    let v = medsins_inspect::verify::verify(
        &dir("flag"),
        &medsins_inspect::verify::VerifyOptions {
            catalogue: medsins_manifest::CatalogueSource::Directory {
                path: f.root.join("manifests"),
            },
            raw_root: Some(f.root.join("raw")),
            checksums: medsins_pipeline::Checksums::Skip,
            rebuild: true,
            instructions: None,
            decontaminate: vec![f.bench.clone()],
        },
    )
    .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    assert!(v.rebuilt_files.unwrap() > 0);
}

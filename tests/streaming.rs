//! The streaming build (issue #6): tasks that share their files are built from one read and
//! give exactly what each gives alone; spill files never outlive the build; `--timings` is
//! the only thing that puts timings into the output.

use medsins_e2e::*;
use medsins_pipeline::{BuildOptions, Checksums, build};
use std::collections::BTreeMap;
use std::path::Path;

type Row = (String, String, i64, String, String);

/// `task_id -> sorted (id, split, instruction_id, input, source_locator)` of every shard row.
fn rows_by_task(out: &Path) -> BTreeMap<String, Vec<Row>> {
    let mut by: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for f in medsins_output::shard_files(out).unwrap() {
        for r in medsins_output::read_samples(&out.join(&f)).unwrap() {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            by.entry(s("task_id")).or_default().push((
                s("id"),
                s("split"),
                r["instruction_id"].as_i64().unwrap(),
                s("input"),
                s("source_locator"),
            ));
        }
    }
    for v in by.values_mut() {
        v.sort();
    }
    by
}

#[test]
fn tasks_sharing_a_file_build_as_they_do_alone() {
    let cat = catalogue();
    let tmp = tempfile::tempdir().unwrap();
    // 19 radiology tasks over one CSV (common steps, then their own); three EHR tasks over one
    // table with a whole-file pandas typing step; MedlinePlus groups records
    let corpora = ["mimic-iv-radiology", "mimic4ed", "medlineplus"];
    let out = tmp.path().join("out");
    let mut opts = BuildOptions::new(fixtures_root(), out.clone());
    opts.checksums = Checksums::Skip; // the fixtures are not the releases
    opts.selection.only = corpora.iter().map(|c| c.to_string()).collect();
    let report = build(&cat, &opts).expect("build");
    assert_eq!(report.exit_code(), 0, "{:?}", report.corpora);
    let built = rows_by_task(&out);
    let mut tasks = 0;
    for c in corpora {
        let lm = cat.get(c).unwrap();
        for tb in build_corpus(lm, &fixtures_root()).unwrap() {
            let mut alone: Vec<Row> = tb
                .samples
                .iter()
                .map(|s| {
                    (
                        s.id.to_string(),
                        s.split.map_or("", |x| x.as_str()).to_string(),
                        s.instruction_id as i64,
                        s.input.clone(),
                        s.source_locator.clone(),
                    )
                })
                .collect();
            alone.sort();
            let shared = built.get(&tb.meta.task_id).cloned().unwrap_or_default();
            assert_eq!(shared, alone, "{}", tb.meta.task_id);
            tasks += 1;
        }
    }
    assert!(tasks >= 25, "{tasks}");
    assert_eq!(
        built.len(),
        tasks,
        "every task of the three corpora has rows"
    );
}

#[test]
fn spill_files_are_gone_and_timings_only_come_when_asked() {
    let cat = catalogue();
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, timings: bool| {
        let out = tmp.path().join(name);
        let mut opts = BuildOptions::new(fixtures_root(), out.clone());
        opts.checksums = Checksums::Skip; // the fixtures are not the releases
        opts.selection.only = vec!["pubmedqa".into(), "mednli".into()];
        opts.timings = timings;
        build(&cat, &opts).expect("build");
        let stats: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap())
                .unwrap();
        (out, stats)
    };
    let (out, plain) = run("plain", false);
    assert!(plain.get("timings").is_none());
    let (_, timed) = run("timed", true);
    let stages = timed["timings"]["stages"]
        .as_object()
        .expect("timings.stages");
    for s in [
        "read",
        "steps",
        "render",
        "exact_dedup",
        "split",
        "near_dedup",
        "write",
    ] {
        assert!(
            stages[s].as_f64().is_some_and(|x| x >= 0.0),
            "{s}: {stages:?}"
        );
    }
    // nothing but the output itself remains: no spill folder inside, no partial beside
    let inside: Vec<String> = medsins_output::list_files(&out).unwrap();
    assert!(
        inside
            .iter()
            .all(|f| !f.contains("spill") && !f.ends_with(".partial")),
        "{inside:?}"
    );
    let beside: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        {
            let mut b = beside.clone();
            b.sort();
            b
        },
        ["plain", "timed"],
        "{beside:?}"
    );
    assert!(!std::fs::read_dir(&out).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".spill")
    }));
}

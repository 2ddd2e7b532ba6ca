//! `stats` and `export` on the demo build: the exported task JSON reads back with the task-JSON
//! reader and holds exactly the built rows.

use std::process::Command;

fn medsins(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_medsins"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

#[test]
fn export_task_json_round_trips_and_stats_summarises() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let out_s = out.to_str().unwrap();
    let (code, log) = medsins(&["build", "--only", "meqsum", "--out", out_s]);
    assert_eq!(code, 0, "{log}");
    let (code, s) = medsins(&["stats", out_s]);
    assert_eq!(code, 0, "{s}");
    assert!(s.starts_with("3 samples, 1 tasks, 1 corpora"), "{s}");
    assert!(s.contains("CC-BY-4.0"), "{s}");
    let to = t.path().join("exported");
    let (code, log) = medsins(&["export", out_s, "--to", to.to_str().unwrap()]);
    assert_eq!(code, 0, "{log}");
    let file = to.join("task114_medqsum_text_summurization.json");
    let recs = medsins_readers::read_all(
        &file,
        "sni-task",
        &Default::default(),
        &to,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(recs.len(), 3);
    let first = recs[0].as_ref().unwrap();
    assert_eq!(first.fields["output"], "Who manufactures loratadine?");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        doc["Definition"][0],
        "You will be given a long medical question. Your task is to summarize the consumer health question."
    );
    assert_eq!(doc["Input_language"], serde_json::json!(["English"]));
    assert_eq!(doc["Split Type"], "Train");
    let (code, e) = medsins(&["stats", t.path().join("nothing").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(e.contains("not a medsins output (no stats.json)"), "{e}");
}

//! The contributor's path, driven through the real binary: docs/contributing.md's walk-through,
//! upstream task JSON and workbook contributions, and the messages for likely mistakes.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: i32,
    out: String,
}

fn medsins(dir: &Path, args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_medsins"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run medsins");
    Run {
        code: o.status.code().unwrap_or(-1),
        out: format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const CSV: &str = ",label,text\n0,Psoriasis,\"I have been experiencing a skin rash on my arms, legs, and torso for the past few weeks. It is red, itchy, and covered in dry, scaly patches.\"\n1,Psoriasis,\"My skin has been peeling, especially on my knees, elbows, and scalp. This peeling is often accompanied by a burning or stinging sensation.\"\n2,Varicose Veins,\"I have noticed bulging, twisted veins on the back of my legs. They ache after I stand for a long time.\"\n3,Typhoid,\"I have had a high fever for a week, with stomach pain and constipation, and I feel very weak.\"\n";

/// A contributor's working folder: downloads, a raw root, and a manifests/fixtures tree.
fn workspace() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for d in [
        "downloads",
        "corpora-manifests",
        "fixtures/raw",
        "fixtures/expected",
    ] {
        std::fs::create_dir_all(t.path().join(d)).unwrap();
    }
    std::fs::write(t.path().join("downloads/Symptom2Disease.csv"), CSV).unwrap();
    t
}

const NEW: &[&str] = &[
    "--raw-root",
    "raw",
    "--manifests",
    "corpora-manifests",
    "--fixtures",
    "fixtures/raw",
];

fn final_manifest_from_doc() -> String {
    let doc = std::fs::read_to_string(repo().join("docs/contributing.md")).unwrap();
    let after = doc
        .split("<!-- final-manifest -->")
        .nth(1)
        .expect("marker in docs/contributing.md");
    after
        .split("```toml\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn the_documented_walk_through_works() {
    let w = workspace();
    let d = w.path();
    let mut args = vec![
        "new-corpus",
        "symptom2disease",
        "--from",
        "downloads/Symptom2Disease.csv",
        "-n",
        "3",
    ];
    args.extend_from_slice(NEW);
    let r = medsins(d, &args);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(
        r.out.contains("format `csv`, 4 records (0 unreadable)"),
        "{}",
        r.out
    );
    assert!(r.out.contains("left to do (15)"), "{}", r.out);
    assert!(
        r.out
            .contains("corpora-manifests/symptom2disease.toml:10:9: TODO: the corpus's name"),
        "{}",
        r.out
    );
    // the raw file now lives in the corpus folder; the fixture is the first 3 records, same layout
    assert_eq!(
        std::fs::read_to_string(d.join("raw/symptom2disease/Symptom2Disease.csv")).unwrap(),
        CSV
    );
    let fixture =
        std::fs::read_to_string(d.join("fixtures/raw/symptom2disease/Symptom2Disease.csv"))
            .unwrap();
    assert_eq!(
        fixture,
        CSV.lines()
            .take(4)
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );

    let v = medsins(
        d,
        &[
            "validate",
            "corpora-manifests/symptom2disease.toml",
            "--manifests",
            "corpora-manifests",
        ],
    );
    assert_eq!(v.code, 1);
    assert_eq!(
        v.out.lines().filter(|l| l.contains(": TODO")).count(),
        15,
        "{}",
        v.out
    );

    std::fs::write(
        d.join("corpora-manifests/symptom2disease.toml"),
        final_manifest_from_doc(),
    )
    .unwrap();
    let v = medsins(
        d,
        &[
            "validate",
            "corpora-manifests/symptom2disease.toml",
            "--manifests",
            "corpora-manifests",
            "--raw-root",
            "fixtures/raw",
        ],
    );
    assert_eq!(v.code, 0, "{}", v.out);
    assert!(v.out.contains("ok: 1 manifest(s), 1 task(s) valid"));
    let p = medsins(
        d,
        &[
            "preview",
            "symptom2disease",
            "-n",
            "2",
            "--manifests",
            "corpora-manifests",
            "--raw-root",
            "raw",
        ],
    );
    assert_eq!(p.code, 0, "{}", p.out);
    assert!(p.out.contains("── d6a53b80cbfa1e8bc4d07dcd9fd3bc2f [train] symptom2disease/Symptom2Disease.csv @ row 1 (line 2)"), "{}", p.out);
    let b = medsins(
        d,
        &[
            "build",
            "--raw-root",
            "raw",
            "--only",
            "symptom2disease",
            "--manifests",
            "corpora-manifests",
            "--out",
            "out",
        ],
    );
    assert_eq!(b.code, 0, "{}", b.out);
    assert!(
        b.out.contains("4 samples in 1 tasks written to out"),
        "{}",
        b.out
    );
    let e = medsins(
        d,
        &[
            "preview",
            "symptom2disease",
            "--expected",
            "--manifests",
            "corpora-manifests",
            "--raw-root",
            "fixtures/raw",
        ],
    );
    assert_eq!(e.out.lines().count(), 3, "{}", e.out);

    // the hashed report reproduces on the same files
    let rep = medsins(
        d,
        &[
            "validate",
            "corpora-manifests/symptom2disease.toml",
            "--manifests",
            "corpora-manifests",
            "--raw-root",
            "raw",
            "--report",
        ],
    );
    assert_eq!(rep.code, 0, "{}", rep.out);
    std::fs::write(d.join("report.json"), &rep.out).unwrap();
    let cmp = medsins(
        d,
        &[
            "validate",
            "corpora-manifests/symptom2disease.toml",
            "--manifests",
            "corpora-manifests",
            "--raw-root",
            "raw",
            "--compare",
            "report.json",
        ],
    );
    assert_eq!(cmp.code, 0, "{}", cmp.out);
    assert!(
        cmp.out
            .contains("MATCH     task137_symptom2disease_diagnosis")
    );
    // a changed raw file no longer matches
    std::fs::write(
        d.join("raw/symptom2disease/Symptom2Disease.csv"),
        CSV.replace("Typhoid", "Malaria"),
    )
    .unwrap();
    let cmp = medsins(
        d,
        &[
            "validate",
            "corpora-manifests/symptom2disease.toml",
            "--manifests",
            "corpora-manifests",
            "--raw-root",
            "raw",
            "--compare",
            "report.json",
        ],
    );
    assert_eq!(cmp.code, 1, "{}", cmp.out);
    assert!(
        cmp.out
            .contains("DIFFERENT task137_symptom2disease_diagnosis"),
        "{}",
        cmp.out
    );
}

#[test]
fn an_upstream_task_json_becomes_a_manifest_with_one_command() {
    let w = workspace();
    let d = w.path();
    let task = serde_json::json!({
        "Contributors": "Jane Doe", "Source": ["medterms"], "URL": ["https://example.org/medterms"],
        "Categories": ["Explanation"], "Reasoning": [], "Definition": ["Explain the medical term."],
        "Input_language": ["English"], "Output_language": ["Chinese"], "Instruction_language": ["English"],
        "Domains": ["Medicine"], "Positive Examples": [], "Negative Examples": [],
        "Instances": [{"id": "t-1", "input": "tachycardia", "output": ["心动过速"]}, {"input": "bradycardia", "output": "心动过缓"}],
        "Split Type": "Train"
    });
    std::fs::write(
        d.join("downloads/task140_medterms_explanation.json"),
        serde_json::to_string_pretty(&task).unwrap(),
    )
    .unwrap();
    let mut args = vec![
        "new-corpus",
        "medterms",
        "--from",
        "downloads/task140_medterms_explanation.json",
    ];
    args.extend_from_slice(NEW);
    let r = medsins(d, &args);
    assert_eq!(r.code, 0, "{}", r.out);
    let m = std::fs::read_to_string(d.join("corpora-manifests/medterms.toml")).unwrap();
    assert!(
        m.contains("id = \"task140_medterms_explanation\"\nnumber = 140\n"),
        "{m}"
    );
    assert!(m.contains("category = \"Explanation\""), "{m}");
    assert!(
        m.contains("input_languages = [\"en\"]\noutput_languages = [\"zh\"]"),
        "{m}"
    );
    assert!(
        m.contains("definition = \"Explain the medical term.\""),
        "{m}"
    );
    let v = medsins(
        d,
        &[
            "validate",
            "corpora-manifests/medterms.toml",
            "--manifests",
            "corpora-manifests",
        ],
    );
    let todos: Vec<&str> = v.out.lines().filter(|l| l.contains("TODO")).collect();
    assert_eq!(todos.len(), 1, "only the licence is left: {}", v.out);
    assert!(todos[0].contains("TODO: licence of the contributed data"));
}

#[test]
fn a_filled_contribution_workbook_becomes_a_manifest() {
    let w = workspace();
    let d = w.path();
    let s = |x: &str| Some(x.to_string());
    let info = vec![
        vec![s("Task Card"), None],
        vec![s("Contributors"), s("Jane Doe")],
        vec![s("URL"), s("https://example.org/triage")],
        vec![s("Source"), s("triage-notes")],
        vec![s("Text Domains"), s("Emergency Department")],
        vec![s("Categories"), s("Text Classification")],
        vec![s("Input_language"), s("English")],
        vec![s("Output_language"), s("English")],
        vec![s("Instruction_language"), s("English")],
        vec![
            s("Definition"),
            s("Classify the triage note as urgent or not urgent."),
        ],
        vec![s("Split Type"), s("Train")],
    ];
    let instances = vec![
        vec![s("Input"), s("Output")],
        vec![s("Chest pain radiating to the left arm."), s("urgent")],
        vec![s("Mild seasonal allergies."), s("not urgent")],
    ];
    medsins_scaffold_write(&d.join("downloads/Task_Contributor.xlsx"), info, instances);
    let mut args = vec![
        "new-corpus",
        "triage-notes",
        "--from",
        "downloads/Task_Contributor.xlsx",
    ];
    args.extend_from_slice(NEW);
    let r = medsins(d, &args);
    assert_eq!(r.code, 0, "{}", r.out);
    assert!(r.out.contains("format `workbook`, 2 records"), "{}", r.out);
    let m = std::fs::read_to_string(d.join("corpora-manifests/triage-notes.toml")).unwrap();
    assert!(m.contains("category = \"Text Classification\""), "{m}");
    assert!(m.contains("domains = [\"Emergency Department\"]"), "{m}");
    std::fs::write(
        d.join("corpora-manifests/triage-notes.toml"),
        m.replace("TODO: licence of the contributed data", "CC-BY-4.0")
            .replace(
                "number = 999  # TODO: the task number this contribution gets",
                "number = 141",
            )
            .replace("task999_", "task141_"),
    )
    .unwrap();
    let v = medsins(
        d,
        &[
            "validate",
            "corpora-manifests/triage-notes.toml",
            "--manifests",
            "corpora-manifests",
        ],
    );
    assert_eq!(v.code, 0, "{}", v.out);
    let b = medsins(
        d,
        &[
            "build",
            "--raw-root",
            "raw",
            "--only",
            "triage-notes",
            "--manifests",
            "corpora-manifests",
            "--out",
            "out",
        ],
    );
    assert_eq!(b.code, 0, "{}", b.out);
    assert!(b.out.contains("2 samples in 1 tasks"), "{}", b.out);
}

/// Writes a two-sheet contribution workbook the way Excel lays it out.
fn medsins_scaffold_write(
    path: &Path,
    info: Vec<Vec<Option<String>>>,
    instances: Vec<Vec<Option<String>>>,
) {
    medsins_scaffold::xlsx::write_xlsx(
        path,
        &[
            ("Basic Information".into(), info),
            ("Instances".into(), instances),
        ],
    )
    .unwrap();
}

/// A catalogue with the finished Symptom2Disease manifest plus one edited copy, for the
/// mistake tests; returns the working folder.
fn with_manifest(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let w = workspace();
    let d = w.path();
    std::fs::create_dir_all(d.join("raw/symptom2disease")).unwrap();
    std::fs::write(d.join("raw/symptom2disease/Symptom2Disease.csv"), CSV).unwrap();
    std::fs::write(
        d.join("corpora-manifests/symptom2disease.toml"),
        edit(final_manifest_from_doc()),
    )
    .unwrap();
    w
}

fn validate(d: &Path) -> Run {
    medsins(
        d,
        &[
            "validate",
            "corpora-manifests/symptom2disease.toml",
            "--manifests",
            "corpora-manifests",
            "--raw-root",
            "raw",
        ],
    )
}

#[test]
fn mistake_unknown_field_in_a_template_names_the_fields_that_exist() {
    let w = with_manifest(|m| m.replace("output = \"{{ label }}\"", "output = \"{{ disease }}\""));
    let v = validate(w.path());
    assert_eq!(v.code, 1);
    assert!(v.out.contains("corpora-manifests/symptom2disease.toml:33:10: task `task137_symptom2disease_diagnosis`: 4 of the first 4 records fail"), "{}", v.out);
    assert!(
        v.out.contains(
            "`disease` is undefined (template line 1); the record has the fields: \"\", label, text"
        ),
        "{}",
        v.out
    );
}

#[test]
fn mistake_wrong_category_suggests_the_closest() {
    let w = with_manifest(|m| m.replace("category = \"Diagnosis\"", "category = \"Diagnosys\""));
    let v = validate(w.path());
    assert_eq!(v.code, 1);
    assert!(v.out.contains("corpora-manifests/symptom2disease.toml:25:12: unknown category `Diagnosys` (did you mean `Diagnosis`?)"), "{}", v.out);
}

#[test]
fn mistake_misspelt_manifest_key_is_located() {
    let w = with_manifest(|m| m.replace("text_source = ", "textsource = "));
    let v = validate(w.path());
    assert_eq!(v.code, 1);
    assert!(
        v.out
            .contains("corpora-manifests/symptom2disease.toml:26:1: unknown field `textsource`"),
        "{}",
        v.out
    );
}

#[test]
fn mistake_task_number_already_taken_names_the_other_task() {
    let w = with_manifest(|m| m);
    let d = w.path();
    let other = final_manifest_from_doc()
        .replace("symptom2disease", "symptomcheck")
        .replace(
            "task137_symptomcheck_diagnosis",
            "task137_symptomcheck_triage",
        );
    std::fs::write(d.join("corpora-manifests/symptomcheck.toml"), other).unwrap();
    let v = medsins(d, &["validate", "--manifests", "corpora-manifests"]);
    assert_eq!(v.code, 1);
    assert!(
        v.out.contains("symptomcheck.toml:23:10: task number 137 is already taken by `task137_symptom2disease_diagnosis` in corpora-manifests/symptom2disease.toml; pick the upstream number of this task"),
        "{}",
        v.out
    );
}

#[test]
fn mistake_path_outside_the_corpus_folder_is_refused() {
    let w = with_manifest(|m| {
        m.replace(
            "path = \"Symptom2Disease.csv\"",
            "path = \"../other/Symptom2Disease.csv\"",
        )
    });
    let v = validate(w.path());
    assert_eq!(v.code, 1);
    assert!(v.out.contains("corpora-manifests/symptom2disease.toml:18:8: path `../other/Symptom2Disease.csv` leaves the corpus folder; write it relative to `<raw-root>/symptom2disease/`"), "{}", v.out);
}

#[test]
fn mistake_split_key_empty_for_some_records_is_reported() {
    let w = with_manifest(|m| {
        m.replace(
            "group_key = \"{{ text }}\"",
            "group_key = \"{% if label == 'Psoriasis' %}{{ text }}{% endif %}\"",
        )
    });
    let v = validate(w.path());
    assert_eq!(v.code, 1);
    assert!(v.out.contains("corpora-manifests/symptom2disease.toml:35:13: task `task137_symptom2disease_diagnosis`: 2 of the first 4 records fail"), "{}", v.out);
    assert!(
        v.out
            .contains("group_key renders empty for this record; choose a field every record has"),
        "{}",
        v.out
    );
}

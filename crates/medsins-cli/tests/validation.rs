//! Manifest validation through the real binary: a build reads only the manifests it selects,
//! and `validate` reports every problem of a catalogue at once.

use std::path::Path;
use std::process::Command;

fn medsins(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_medsins"))
        .args(args)
        .output()
        .expect("run medsins");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A finished one-task manifest for corpus `id` with task number `number`.
fn manifest(id: &str, number: u32) -> String {
    format!(
        r#"[corpus]
id = "{id}"
name = "{id}"
homepage = "https://example.invalid"
version = "1"
license = "CC0-1.0"
access = "public"
citation = "none"
obtain = "test"

[[files]]
id = "q"
path = "q.jsonl"
format = "jsonl"

[[tasks]]
id = "task{number}_{id}"
number = {number}
name = "{id}"
category = "Question Answering"
text_source = "Exam"
input_languages = ["en"]
output_languages = ["en"]
definition = "Answer."
input = "{{{{ q }}}}"
output = "{{{{ a }}}}"
split = {{ policy = "fixed", split = "train" }}
"#
    )
}

/// `good` is finished and has raw data; `draft` is a contributor's half-written manifest.
fn catalogue(dir: &Path) {
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::create_dir_all(dir.join("raw/good")).unwrap();
    std::fs::write(dir.join("manifests/good.toml"), manifest("good", 950)).unwrap();
    std::fs::write(
        dir.join("raw/good/q.jsonl"),
        "{\"q\": \"Fine?\", \"a\": \"yes\"}\n",
    )
    .unwrap();
    let draft = manifest("draft", 951).replace("license = \"CC0-1.0\"\n", "");
    std::fs::write(dir.join("manifests/draft.toml"), draft).unwrap();
}

#[test]
fn an_unfinished_manifest_of_another_corpus_does_not_block_a_selected_build() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    catalogue(d);
    let (m, raw) = (d.join("manifests"), d.join("raw"));
    let build = |only: &str, out: &str| {
        medsins(&[
            "build",
            "--manifests",
            s(&m),
            "--raw-root",
            s(&raw),
            "--out",
            s(&d.join(out)),
            "--skip-checksums",
            "--only",
            only,
        ])
    };
    let (code, stdout, stderr) = build("good", "out-good");
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(d.join("out-good/SHA256SUMS").is_file(), "{stdout}{stderr}");
    assert!(
        stderr.contains("problem(s) in manifests of other corpora"),
        "{stderr}"
    );
    // the task id selects its corpus's manifest just as the corpus id does
    let (code, stdout, stderr) = build("task950_good", "out-task");
    assert_eq!(code, 0, "{stdout}{stderr}");

    // the unfinished manifest itself, and a whole-catalogue build, are refused naming it
    let (code, _, stderr) = build("draft", "out-draft");
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("draft.toml"), "{stderr}");
    assert!(stderr.contains("license"), "{stderr}");
    assert!(!d.join("out-draft").exists());
    let (code, _, stderr) = medsins(&[
        "build",
        "--manifests",
        s(&m),
        "--raw-root",
        s(&raw),
        "--out",
        s(&d.join("out-all")),
        "--skip-checksums",
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("draft.toml"), "{stderr}");
    assert!(!d.join("out-all").exists());
}

/// Three mistakes serde would report one at a time (it stops at the first): `validate` names all
/// three, each at its line and column, in one run.
#[test]
fn validate_reports_every_type_mistake_of_a_manifest_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let text = manifest("planted", 990)
        .replace("version = \"1\"", "version = 1")
        .replace(
            "format = \"jsonl\"",
            "format = \"jsonl\"\nsha256 = [\"abc\"]",
        )
        .replace("number = 990", "number = \"990\"");
    let path = dir.path().join("planted.toml");
    std::fs::write(&path, text).unwrap();
    let (code, out, err) = medsins(&["validate", "--manifests", s(&path)]);
    assert_eq!(code, 1, "{out}{err}");
    let p = s(&path);
    let expected = [
        format!("{p}:5:11: `corpus.version`: expected a string, found an integer"),
        format!("{p}:15:10: `files[0].sha256`: expected a string, found an array"),
        format!("{p}:19:10: `tasks[0].number`: expected an integer, found a string"),
    ];
    let got: Vec<&str> = out.lines().filter(|l| l.starts_with(p)).collect();
    assert_eq!(got, expected, "{out}{err}");
}

/// A corpus without a fixture cannot have its templates rendered; where its files' format fixes
/// the record fields (here IOB: `tokens`, `tags`, `sentence_index`) a misspelt field is still an
/// error, and `ok` on a corpus whose fields only its data decides says what was not rendered.
#[test]
fn validate_checks_template_fields_of_a_corpus_without_a_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    let iob = manifest("ner", 991)
        .replace(
            "path = \"q.jsonl\"\nformat = \"jsonl\"",
            "path = \"train.tsv\"\nformat = \"iob\"",
        )
        .replace(
            "input = \"{{ q }}\"",
            "input = \"{{ tokens | join(' ') }} {{ sentense }}\"",
        )
        .replace(
            "output = \"{{ a }}\"",
            "output = \"{{ tags | join(' ') }}\"",
        );
    let path = manifests.join("ner.toml");
    std::fs::write(&path, iob).unwrap();
    let (code, out, err) = medsins(&["validate", "--manifests", s(&manifests)]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [format!(
            "{}:25:9: template `input` reads `sentense`, which no record of this task has (its \
             records have: tokens, tags, sentence_index); fix the name, or add a step that writes it",
            s(&path)
        )],
        "{err}"
    );

    std::fs::remove_file(&path).unwrap();
    std::fs::write(manifests.join("qa.toml"), manifest("qa", 992)).unwrap();
    let (code, out, err) = medsins(&["validate", "--manifests", s(&manifests)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("ok: 1 manifest(s), 1 task(s) valid"),
        "{out}"
    );
    assert!(
        err.contains("note: not rendered on records (no raw files under the raw root): qa;"),
        "{err}"
    );
}

//! Nothing a manifest, a raw root or a command line holds makes a build lose or leak a user's
//! file (issue #12, docs/safety.md): ids cannot name paths, a failed build leaves the previous
//! output byte for byte, a rebuild never deletes files medsins did not write, and what killed
//! builds leave is cleaned up.

use medsins_manifest::Catalogue;
use medsins_pipeline::{BuildError, BuildOptions, build};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const RECORDS: &str = "{\"q\": \"What is aspirin?\", \"a\": \"An analgesic.\"}\n\
{\"q\": \"What is insulin?\", \"a\": \"A hormone.\"}\n";

/// A one-corpus catalogue (`qa`, one JSON Lines file, one task) and its raw root.
struct Tiny {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    manifests: PathBuf,
    raw: PathBuf,
}

fn manifest(task_id: &str, input: &str, sha256: Option<&str>) -> String {
    let sha = sha256
        .map(|s| format!("sha256 = \"{s}\"\n"))
        .unwrap_or_default();
    format!(
        r#"[corpus]
id = "qa"
name = "QA"
homepage = "https://example.invalid"
version = "1"
license = "CC-BY-4.0"
access = "public"
citation = "@misc{{qa}}"
obtain = "written by the test"

[[files]]
id = "qa"
path = "qa.jsonl"
format = "jsonl"
{sha}
[[tasks]]
id = "{task_id}"
number = 137
name = "Answer"
category = "Question Answering"
text_source = "Medical Knowledge"
input_languages = ["en"]
output_languages = ["en"]
definition = "Answer the question."
input = "{input}"
output = "{{{{ a }}}}"
split = {{ policy = "fixed", split = "train" }}
"#
    )
}

fn tiny() -> Tiny {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("work");
    let manifests = root.join("manifests");
    let raw = root.join("raw");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::create_dir_all(raw.join("qa")).unwrap();
    std::fs::write(raw.join("qa/qa.jsonl"), RECORDS).unwrap();
    let t = Tiny {
        _tmp: tmp,
        root,
        manifests,
        raw,
    };
    write_manifest(&t, &manifest("task137_qa", "{{ q }}", None));
    t
}

fn write_manifest(t: &Tiny, text: &str) {
    std::fs::write(t.manifests.join("qa.toml"), text).unwrap();
}

fn catalogue(t: &Tiny) -> Catalogue {
    let (cat, diags) = Catalogue::load(std::slice::from_ref(&t.manifests));
    assert!(diags.is_empty(), "{diags}");
    cat
}

fn opts(raw: &Path, out: &Path) -> BuildOptions {
    BuildOptions::new(raw.to_path_buf(), out.to_path_buf())
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

#[test]
fn a_task_id_with_path_parts_is_refused_before_anything_is_written() {
    let t = tiny();
    let evil = "task137_../../../../x";
    write_manifest(&t, &manifest(evil, "{{ q }}", None));
    // validation names the field
    let (cat, diags) = Catalogue::load(std::slice::from_ref(&t.manifests));
    let all = medsins_manifest::check_catalogue(&cat.manifests);
    let text = format!("{diags}{all}");
    assert!(
        text.contains(&format!(
            "task id `{evil}` must be `task137_` followed by letters, digits and `_`"
        )),
        "{text}"
    );
    // and a library caller that skips validation is stopped before anything is written
    let out = t.root.join("out");
    let e = build(&cat, &opts(&t.raw, &out)).unwrap_err();
    assert!(matches!(e, BuildError::UnsafeName(_)), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("`{evil}` is not a valid id")),
        "{e}"
    );
    assert!(!out.exists());
    let before = snapshot(t._tmp.path());
    assert!(
        before.keys().all(|f| !f.ends_with(".parquet")),
        "{before:?}"
    );
}

#[test]
fn a_failed_build_leaves_the_previous_output_byte_for_byte() {
    let t = tiny();
    let out = t.root.join("out");
    let first = build(&catalogue(&t), &opts(&t.raw, &out)).unwrap();
    assert_eq!((first.exit_code(), first.written), (0, true));
    let good = snapshot(&out);
    assert!(good.contains_key("SHA256SUMS"));

    // a template error fails the corpus: nothing is written
    write_manifest(&t, &manifest("task137_qa", "{{ q | nosuchfilter }}", None));
    let r = build(&catalogue(&t), &opts(&t.raw, &out)).unwrap();
    assert_eq!((r.exit_code(), r.written), (1, false));
    assert_eq!(
        r.not_written.as_deref(),
        Some("1 corpus(es) failed (qa); nothing was written")
    );
    assert_eq!(snapshot(&out), good);

    // a checksum mismatch fails the corpus: nothing is written
    write_manifest(
        &t,
        &manifest("task137_qa", "{{ q }}", Some(&"0".repeat(64))),
    );
    let r = build(&catalogue(&t), &opts(&t.raw, &out)).unwrap();
    assert_eq!((r.exit_code(), r.written), (1, false));
    assert_eq!(snapshot(&out), good);

    // a mistyped raw root: nothing of what was asked for is there
    write_manifest(&t, &manifest("task137_qa", "{{ q }}", None));
    let r = build(&catalogue(&t), &opts(&t.root.join("rwa"), &out)).unwrap();
    assert_eq!((r.exit_code(), r.written), (1, false));
    assert!(
        r.not_written
            .as_deref()
            .unwrap()
            .starts_with("none of the requested corpora is present under the raw root"),
        "{:?}",
        r.not_written
    );
    assert_eq!(snapshot(&out), good);
    // and nothing is left beside it
    let beside: Vec<String> = std::fs::read_dir(&t.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(beside.len(), 3, "{beside:?}");
}

#[test]
fn a_rebuild_never_deletes_files_medsins_did_not_write() {
    let t = tiny();
    let out = t.root.join("out");
    build(&catalogue(&t), &opts(&t.raw, &out)).unwrap();

    // the raw root inside the output folder
    let inner_raw = out.join("raw");
    std::fs::create_dir_all(inner_raw.join("qa")).unwrap();
    std::fs::write(inner_raw.join("qa/qa.jsonl"), RECORDS).unwrap();
    let e = build(&catalogue(&t), &opts(&inner_raw, &out)).unwrap_err();
    assert!(matches!(e, BuildError::Overlap(_)), "{e}");
    assert!(e.to_string().contains("is inside the output folder"), "{e}");
    assert_eq!(
        std::fs::read_to_string(inner_raw.join("qa/qa.jsonl")).unwrap(),
        RECORDS
    );
    std::fs::remove_dir_all(&inner_raw).unwrap();

    // a Hub clone's .git folder and a note
    std::fs::create_dir_all(out.join(".git")).unwrap();
    std::fs::write(out.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(out.join("NOTES.md"), "mine").unwrap();
    let before = snapshot(&out);
    let e = build(&catalogue(&t), &opts(&t.raw, &out))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("holds files that medsins did not write")
            && e.contains("\n  .git/HEAD\n  NOTES.md\n"),
        "{e}"
    );
    assert_eq!(snapshot(&out), before);
}

#[test]
fn what_a_killed_build_left_is_removed_by_the_next_build() {
    let t = tiny();
    let out = t.root.join("out");
    // a killed build's partial folder: marked as medsins's own, its lock long released
    let stale = t.root.join(".out.partial-4000000-0");
    std::fs::create_dir_all(stale.join("data/task137_qa")).unwrap();
    std::fs::write(stale.join(".medsins-partial"), "").unwrap();
    std::fs::write(
        stale.join("data/task137_qa/train-00000.parquet.partial"),
        vec![0u8; 4096],
    )
    .unwrap();
    let r = build(&catalogue(&t), &opts(&t.raw, &out)).unwrap();
    assert!(r.written);
    assert!(!stale.exists());
}

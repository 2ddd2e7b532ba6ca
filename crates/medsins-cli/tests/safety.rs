//! Issue #12 through the real binary: raw files that used to abort the build (a deeply nested
//! XML file or Python literal cell), expand without bound (a gzip bomb) or build "successfully"
//! with nothing in them (an empty or header-only file). Each now ends with a clear message, the
//! exit code of a failed corpus, and the flag that raises the limit.

use std::path::Path;
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// A corpus `safety` of one raw file `name` read as `format` with `options` (a TOML inline
/// table), one task rendering `input`; `steps` and `corpus_extra` are added verbatim.
struct Corpus<'a> {
    name: &'a str,
    format: &'a str,
    options: &'a str,
    steps: &'a str,
    input: &'a str,
    corpus_extra: &'a str,
}

impl Corpus<'_> {
    fn manifest(&self) -> String {
        format!(
            r#"[corpus]
id = "safety"
name = "Safety"
homepage = "https://example.invalid/safety"
version = "1"
license = "CC-BY-4.0"
access = "public"
citation = "none"
obtain = "Write the files."
{extra}

[[files]]
id = "f"
path = "{name}"
format = "{format}"
options = {options}

[[tasks]]
id = "task114_medqsum_text_summurization"
number = 114
name = "Safety"
category = "Text Summarization"
text_source = "Medical Knowledge"
input_languages = ["en"]
output_languages = ["en"]
definition = "d"
steps = [{steps}]
input = "{input}"
output = "o"
split = {{ policy = "fixed", split = "train" }}
"#,
            extra = self.corpus_extra,
            name = self.name,
            format = self.format,
            options = self.options,
            steps = self.steps,
            input = self.input,
        )
    }
}

/// Writes the corpus and its raw file under `tmp`, builds it with `flags`.
fn build(tmp: &Path, c: &Corpus, raw: &[u8], flags: &[&str]) -> Run {
    let manifests = tmp.join("manifests");
    let root = tmp.join("raw");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::create_dir_all(root.join("safety")).unwrap();
    std::fs::write(manifests.join("safety.toml"), c.manifest()).unwrap();
    std::fs::write(root.join("safety").join(c.name), raw).unwrap();
    let out = tmp.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_medsins"))
        .args(["build", "--manifests"])
        .arg(&manifests)
        .arg("--raw-root")
        .arg(&root)
        .arg("--out")
        .arg(&out)
        .args(flags)
        .output()
        .expect("run medsins");
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace(&root.display().to_string(), "<raw>");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: clean(&o.stdout),
        stderr: clean(&o.stderr),
    }
}

fn xml_corpus() -> Corpus<'static> {
    Corpus {
        name: "deep.xml",
        format: "xml",
        options: r#"{ records = "r/a" }"#,
        steps: "",
        input: "{{ a }} {{ a | pyjson }}",
        corpus_extra: "",
    }
}

fn nested_xml(depth: usize) -> Vec<u8> {
    format!(
        "<r>{}x{}</r>",
        "<a>".repeat(depth - 1),
        "</a>".repeat(depth - 1)
    )
    .into_bytes()
}

fn lock_options(tmp: &Path) -> serde_json::Value {
    let lock: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.join("out/medsins.lock.json")).unwrap()).unwrap();
    lock["options"].clone()
}

#[test]
fn xml_nested_5000_deep_fails_its_corpus_instead_of_aborting() {
    let tmp = tempfile::tempdir().unwrap();
    let r = build(tmp.path(), &xml_corpus(), &nested_xml(5000), &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "FAILED    safety: <raw>/safety/deep.xml: element nesting deeper than 256 at line 1, column 769 (limit --max-depth 256); raise it with --max-depth N if the file is genuine\n"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn raised_depth_builds_a_genuine_deep_file_and_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    // the whole build (read, render through minijinja and pyjson, write) at the ceiling, on
    // the worker threads' 2 MiB stacks
    let r = build(
        tmp.path(),
        &xml_corpus(),
        &nested_xml(medsins_readers::MAX_DEPTH_CEILING),
        &["--max-depth", "1024"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 task(s), 1 samples"), "{}", r.stdout);
    let options = lock_options(tmp.path());
    assert_eq!(options["max_depth"], 1024);
    assert!(options.get("max_record_bytes").is_none(), "{options}");
}

#[test]
fn depth_beyond_the_ceiling_is_refused_up_front() {
    let tmp = tempfile::tempdir().unwrap();
    let r = build(
        tmp.path(),
        &xml_corpus(),
        &nested_xml(3),
        &["--max-depth", "5000"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.stderr.trim_end(),
        "error: --max-depth must be between 1 and 1024 (default 256): deeper values would exhaust a worker thread's stack"
    );
}

#[test]
fn deeply_nested_py_literal_cell_is_quarantined_instead_of_aborting() {
    let tmp = tempfile::tempdir().unwrap();
    let c = Corpus {
        name: "patients.csv",
        format: "csv",
        options: "{}",
        steps: r#"{ op = "py_literal", field = "EVIDENCES", into = "codes" }"#,
        input: "{{ codes | join(' ') }}",
        corpus_extra: "error_budget = 0.5",
    };
    let deep = format!("{}'E_1'{}", "[".repeat(100_000), "]".repeat(100_000));
    let csv = format!("AGE,EVIDENCES\n42,\"['E_91', 'E_53']\"\n8,\"{deep}\"\n");
    let r = build(tmp.path(), &c, csv.as_bytes(), &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("1 task(s), 1 samples, 1 records quarantined"),
        "{}",
        r.stdout
    );
    let ledger = medsins_output::read_ledger(&tmp.path().join("out/ledger.parquet")).unwrap();
    let q: Vec<_> = ledger
        .iter()
        .filter(|e| e.reason.as_str() == "quarantined")
        .collect();
    assert_eq!(q.len(), 1, "{ledger:?}");
    assert_eq!(q[0].source_locator, "row 2 (line 3)");
    assert!(
        q[0].detail.ends_with(
            "`EVIDENCES`: the Python literal nests deeper than 256 at character 256 (limit --max-depth 256); raise it with --max-depth N if the file is genuine"
        ),
        "{}",
        q[0].detail
    );
}

#[test]
fn gzip_bomb_fails_quickly_without_expanding() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    // 2 GiB of one repeated CSV row in about 2 MB
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(b"text\n").unwrap();
    let rows = b"aaaaaaa\n".repeat(1 << 17);
    for _ in 0..2048 {
        e.write_all(&rows).unwrap();
    }
    let bomb = e.finish().unwrap();
    let c = Corpus {
        name: "notes.csv.gz",
        format: "csv",
        options: "{}",
        steps: "",
        input: "{{ text }}",
        corpus_extra: "",
    };
    let start = std::time::Instant::now();
    let r = build(tmp.path(), &c, &bomb, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "FAILED    safety: <raw>/safety/notes.csv.gz: it expands more than 100 times its compressed size (limit --max-decompression-ratio 100); raise it with --max-decompression-ratio N if the file is genuine\n"
        ),
        "{}",
        r.stderr
    );
    assert!(start.elapsed().as_secs() < 60, "{:?}", start.elapsed());
}

fn csv_corpus(options: &'static str) -> Corpus<'static> {
    Corpus {
        name: "notes.csv",
        format: "csv",
        options,
        steps: "",
        input: "{{ text }}",
        corpus_extra: "",
    }
}

#[test]
fn empty_and_header_only_files_fail_their_corpus() {
    for (raw, what) in [
        (&b""[..], "the file is empty (0 bytes)"),
        (b"id,text\n", "it has a header row but no data rows"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let r = build(tmp.path(), &csv_corpus("{}"), raw, &[]);
        assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "FAILED    safety: <raw>/safety/notes.csv: {what}; check that it is the file the manifest describes (not truncated, not a placeholder), or declare `may_be_empty = true` in its options if it may legitimately hold no records\n"
            )),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_file_declared_may_be_empty_builds_with_no_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let r = build(
        tmp.path(),
        &csv_corpus("{ may_be_empty = true }"),
        b"id,text\n",
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("1 task(s), 0 samples"), "{}", r.stdout);
}

#[test]
fn a_raised_record_limit_reads_a_long_record_and_is_locked() {
    let long = "w".repeat(3 << 10);
    let csv = format!("id,text\n1,{long}\n");
    let tmp = tempfile::tempdir().unwrap();
    let r = build(
        tmp.path(),
        &csv_corpus("{}"),
        csv.as_bytes(),
        &["--max-record-bytes", "1KiB"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("<raw>/safety/notes.csv: the record at row 1 (line 2) is larger than 1KiB (limit --max-record-bytes 1KiB); raise it with --max-record-bytes N if the file is genuine\n"),
        "{}",
        r.stderr
    );
    let tmp = tempfile::tempdir().unwrap();
    let r = build(
        tmp.path(),
        &csv_corpus("{}"),
        csv.as_bytes(),
        &["--max-record-bytes", "4KiB"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(lock_options(tmp.path())["max_record_bytes"], 4096);
}

fn py_literal_corpus() -> Corpus<'static> {
    Corpus {
        name: "patients.csv",
        format: "csv",
        options: "{}",
        steps: r#"{ op = "py_literal", field = "EVIDENCES", into = "codes" }"#,
        input: "{{ codes | join(' ') }}",
        corpus_extra: "",
    }
}

/// A corpus over its error budget is not written, so the message itself names the cause: each
/// kind of problem with its count and first record, not a ledger that has no rows.
#[test]
fn a_failed_error_budget_names_the_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("AGE,EVIDENCES\n");
    for i in 0..10 {
        let cell = if i % 3 == 1 { "['E_91'" } else { "['E_91']" };
        csv.push_str(&format!("{i},\"{cell}\"\n"));
    }
    let r = build(tmp.path(), &py_literal_corpus(), csv.as_bytes(), &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "FAILED    safety: 3 of 10 records were quarantined, above the error budget of 1.0%: 3 × \
             `EVIDENCES`: expected `,` or `]` at character 7 (first: safety/patients.csv row 2 (line 3)). \
             Nothing of `safety` is written; `medsins preview safety` shows records with their errors"
        ),
        "{}",
        r.stderr
    );
}

/// When most records fail (a broken template, a wrong reader option) the task stops at the
/// first batch past 1,000 quarantined records instead of rendering the whole corpus.
#[test]
fn a_task_where_most_records_fail_stops_early_with_the_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("AGE,EVIDENCES\n");
    for i in 0..5000 {
        csv.push_str(&format!("{i},\"['E_91'\"\n"));
    }
    let r = build(tmp.path(), &py_literal_corpus(), csv.as_bytes(), &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(
            "stopped after 1024 of the first 1024 records were quarantined, far above any error \
             budget: 1024 × `EVIDENCES`: expected `,` or `]` at character 7 (first: safety/patients.csv row 1 (line 2))"
        ),
        "{}",
        r.stderr
    );
}

//! `medsins check` and the quality flags of `medsins build` through the real binary.

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

/// Writes a one-task catalogue into `dir`: `manifests/<corpus>.toml` with the task `task_id`
/// (number `number`, input `q`, output `a`, every sample train, then the lines `task_extra`),
/// and its raw file `raw/<corpus>/q.jsonl` holding `records`.
fn write_catalogue(
    dir: &Path,
    corpus: &str,
    (task_id, number): (&str, u32),
    task_extra: &str,
    records: &str,
) {
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::create_dir_all(dir.join("raw").join(corpus)).unwrap();
    std::fs::write(
        dir.join(format!("manifests/{corpus}.toml")),
        format!(
            r#"[corpus]
id = "{corpus}"
name = "{corpus}"
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
id = "{task_id}"
number = {number}
name = "{corpus}"
category = "Question Answering"
text_source = "Exam"
input_languages = ["en"]
output_languages = ["en"]
definition = "Answer."
input = "{{{{ q }}}}"
output = "{{{{ a }}}}"
split = {{ policy = "fixed", split = "train" }}
{task_extra}
"#
        ),
    )
    .unwrap();
    std::fs::write(dir.join(format!("raw/{corpus}/q.jsonl")), records).unwrap();
}

/// `medsins build` of the catalogue in `dir` into `dir/out`, with the arguments `extra`.
fn build(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let (m, raw, out) = (dir.join("manifests"), dir.join("raw"), dir.join("out"));
    let args = [
        "build",
        "--manifests",
        s(&m),
        "--raw-root",
        s(&raw),
        "--out",
        s(&out),
    ];
    medsins(&[&args[..], extra].concat())
}

/// A one-task catalogue whose only sample answers `C` to an A/B question.
fn catalogue(dir: &Path, expected: bool) {
    let exp = if expected {
        "expected_checks = [{ check = \"mc_answer_not_in_options\", reason = \"planted\" }]"
    } else {
        ""
    };
    write_catalogue(
        dir,
        "mc",
        ("task950_mc", 950),
        exp,
        "{\"q\": \"Which?\\nA. one\\nB. two\", \"a\": \"C\"}\n{\"q\": \"Fine?\", \"a\": \"yes\"}\n",
    );
}

#[test]
fn strict_fails_on_unexpected_checks_only() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    catalogue(d, false);
    let out = d.join("out");
    let (code, stdout, _) = build(d, &[]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("FAILED   mc_answer_not_in_options task950_mc 1 sample(s)"),
        "{stdout}"
    );
    let (code, _, stderr) = build(d, &["--strict"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("1 unexpected failing check(s) (--strict"),
        "{stderr}"
    );
    let (code, stdout, _) = medsins(&["check", s(&out)]);
    assert_eq!(code, 0);
    assert!(stdout.contains("1 unexpected"), "{stdout}");
    let (code, stdout, _) = medsins(&["check", s(&out), "--strict", "--format", "json"]);
    assert_eq!(code, 1);
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["results"][0]["check"], "mc_answer_not_in_options");

    // declared as expected: reported, not failing
    catalogue(d, true);
    let (code, stdout, stderr) = build(d, &["--strict"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("expected mc_answer_not_in_options"),
        "{stdout}"
    );
    let (code, _, _) = medsins(&["check", s(&out), "--strict"]);
    assert_eq!(code, 0);
}

#[test]
fn bad_inputs_name_the_file_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    catalogue(d, false);
    let missing = d.join("nope.json");
    let (code, _, stderr) = build(d, &["--decontaminate", s(&missing)]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--decontaminate") && stderr.contains("nope.json"),
        "{stderr}"
    );
    let (code, _, stderr) = medsins(&["check", s(&d.join("nothing"))]);
    assert_eq!(code, 1);
    assert!(stderr.contains("has no data/ folder"), "{stderr}");
}

/// A one-task catalogue whose filter keeps 1 of 4 records, with or without a declared reason.
fn low_yield_catalogue(dir: &Path, declared: &str) {
    write_catalogue(
        dir,
        "ly",
        ("task951_ly", 951),
        &format!("filter = \"a == 'yes'\"\n{declared}"),
        "{\"q\": \"One?\", \"a\": \"yes\"}\n{\"q\": \"Two?\", \"a\": \"no\"}\n{\"q\": \"Three?\", \"a\": \"no\"}\n{\"q\": \"Four?\", \"a\": \"no\"}\n",
    );
}

#[test]
fn a_low_yield_is_a_build_warning_and_a_failing_check_unless_declared() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    low_yield_catalogue(d, "");
    let out = d.join("out");
    let (code, stdout, stderr) = build(d, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("records: 4 read = 1 kept + 3 removed + 0 quarantined"),
        "{stdout}"
    );
    let detail = "ly/q.jsonl: 1 of 4 records became samples (25.0 %, under 50 %; removed: filtered 3); declare why with the task's `expected_yield`, or fix the manifest";
    assert!(
        stderr.contains(&format!("warning: low yield in task951_ly: {detail}")),
        "{stderr}"
    );
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    let f = &stats["per_task"]["task951_ly"]["files"][0];
    assert_eq!(
        (
            &f["file"],
            &f["records_read"],
            &f["kept"],
            &f["removed"]["filtered"],
            &f["quarantined"]
        ),
        (
            &"ly/q.jsonl".into(),
            &4.into(),
            &1.into(),
            &3.into(),
            &0.into()
        )
    );
    let (code, stdout, _) = medsins(&["check", s(&out), "--strict", "--format", "json"]);
    assert_eq!(code, 1, "{stdout}");
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let low = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "low_yield")
        .unwrap();
    assert_eq!(
        (&low["expected"], &low["detail"]),
        (&false.into(), &detail.into())
    );

    // declared: no warning, the check passes as expected; a declared minimum above the yield
    // fails again
    low_yield_catalogue(
        d,
        "expected_yield = [{ reason = \"only questions answered yes\" }]",
    );
    let (code, _, stderr) = build(d, &[]);
    assert_eq!(code, 0);
    assert!(!stderr.contains("low yield"), "{stderr}");
    let (code, stdout, _) = medsins(&["check", s(&out), "--strict"]);
    assert_eq!(code, 0, "{stdout}");
    low_yield_catalogue(
        d,
        "expected_yield = [{ reason = \"only questions answered yes\", min = 0.3 }]",
    );
    let (_, _, stderr) = build(d, &[]);
    assert!(
        stderr.contains("; below the declared minimum of 30.0 %"),
        "{stderr}"
    );
    let (code, _, _) = medsins(&["check", s(&out), "--strict"]);
    assert_eq!(code, 1);
}

#[test]
fn profile_and_leakage_flags_are_reported_and_bad_values_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    low_yield_catalogue(d, "");
    let (code, stdout, _) = build(d, &[]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("profile: clean (leakage: remove)"),
        "{stdout}"
    );
    let (code, stdout, _) = build(d, &["--profile", "upstream"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("profile: upstream (leakage: off)"),
        "{stdout}"
    );
    let (code, stdout, _) = build(d, &["--profile", "upstream", "--leakage", "flag"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("profile: upstream (leakage: flag)"),
        "{stdout}"
    );
    let (code, _, stderr) = build(d, &["--leakage", "drop"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("invalid value 'drop' for '--leakage <LEAKAGE>'")
            && stderr.contains("[possible values: remove, flag, off]"),
        "{stderr}"
    );
}

/// The library entry the Python API calls (`medsins.build(profile=...)`): a refused value of a
/// build option is a usage error naming the option and the values allowed, as on the command
/// line but without its `error: ` and `--help` tip.
#[test]
fn the_library_report_names_a_refused_option_value_and_the_values_allowed() {
    for (option, metavar, allowed) in [
        ("--profile", "PROFILE", "clean, upstream"),
        ("--leakage", "LEAKAGE", "remove, flag, off"),
        ("--near-dedup", "POLICY", "off, flag, remove"),
    ] {
        let args: Vec<String> = ["build", "--out", "unused", option, "drop"]
            .map(String::from)
            .into();
        match medsins_cli::report(&args) {
            Err(medsins_cli::ReportError::Usage(m)) => assert_eq!(
                m,
                format!(
                    "invalid value 'drop' for '{option} <{metavar}>'\n  [possible values: {allowed}]"
                )
            ),
            other => panic!("{option} drop: {other:?}"),
        }
    }
}

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

/// A one-task catalogue whose only sample answers `C` to an A/B question.
fn catalogue(dir: &Path, expected: bool) {
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    std::fs::create_dir_all(dir.join("raw/mc")).unwrap();
    let exp = if expected {
        "expected_checks = [{ check = \"mc_answer_not_in_options\", reason = \"planted\" }]"
    } else {
        ""
    };
    std::fs::write(
        dir.join("manifests/mc.toml"),
        format!(
            r#"[corpus]
id = "mc"
name = "MC"
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
id = "task950_mc"
number = 950
name = "mc"
category = "Question Answering"
text_source = "Exam"
input_languages = ["en"]
output_languages = ["en"]
definition = "Answer."
input = "{{{{ q }}}}"
output = "{{{{ a }}}}"
split = {{ policy = "fixed", split = "train" }}
{exp}
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("raw/mc/q.jsonl"),
        "{\"q\": \"Which?\\nA. one\\nB. two\", \"a\": \"C\"}\n{\"q\": \"Fine?\", \"a\": \"yes\"}\n",
    )
    .unwrap();
}

#[test]
fn strict_fails_on_unexpected_checks_only() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    catalogue(d, false);
    let out = d.join("out");
    let (m, raw) = (d.join("manifests"), d.join("raw"));
    let build = [
        "build",
        "--manifests",
        s(&m),
        "--raw-root",
        s(&raw),
        "--out",
        s(&out),
    ];
    let (code, stdout, _) = medsins(&build);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("FAILED   mc_answer_not_in_options task950_mc 1 sample(s)"),
        "{stdout}"
    );
    let (code, _, stderr) = medsins(&[&build[..], &["--strict"]].concat());
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
    let (code, stdout, stderr) = medsins(&[&build[..], &["--strict"]].concat());
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
    let (code, _, stderr) = medsins(&[
        "build",
        "--manifests",
        s(&d.join("manifests")),
        "--raw-root",
        s(&d.join("raw")),
        "--out",
        s(&d.join("out")),
        "--decontaminate",
        s(&missing),
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("--decontaminate") && stderr.contains("nope.json"),
        "{stderr}"
    );
    let (code, _, stderr) = medsins(&["check", s(&d.join("nothing"))]);
    assert_eq!(code, 1);
    assert!(stderr.contains("has no data/ folder"), "{stderr}");
}

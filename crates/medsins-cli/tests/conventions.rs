//! The binary outside its checkout and as a Unix tool: the bundled catalogue from any folder,
//! a working-directory catalogue taking precedence, closed pipes, completions, -q/-v,
//! `--format json` everywhere a script reads, one `--out`, and checksums that nothing in a
//! raw root can switch off.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn medsins_in(dir: &Path, args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_medsins"))
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .expect("run medsins");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn read_json(p: &Path) -> serde_json::Value {
    json(&std::fs::read_to_string(p).unwrap())
}

const MEQSUM_XLSX: &str = "meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx";

#[test]
fn from_an_empty_folder_the_bundled_catalogue_builds_every_task() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let l = medsins_in(d, &["list", "--format", "json"]);
    assert_eq!(l.code, 0, "{}", l.stderr);
    let l = json(&l.stdout);
    assert_eq!(l["corpora"].as_array().unwrap().len(), 58);
    assert_eq!(l["tasks"].as_array().unwrap().len(), 122);
    assert!(
        l["catalogue"]
            .as_str()
            .unwrap()
            .starts_with("the catalogue bundled with medsins"),
        "{}",
        l["catalogue"]
    );

    let r = medsins_in(d, &["build", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = json(&r.stdout);
    assert_eq!(report["tasks"], 122);
    assert_eq!(report["out"], "out");
    assert_eq!(report["catalogue"], l["catalogue"]);
    let tasks = std::fs::read_dir(d.join("out/data")).unwrap().count();
    assert_eq!(tasks, 122, "every task has shards");
    let lock = read_json(&d.join("out/medsins.lock.json"));
    assert_eq!(lock["catalogue"], "bundled");
    let skipped: Vec<&str> = lock["checksums_skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(skipped.contains(&MEQSUM_XLSX), "{skipped:?}");
    let card = std::fs::read_to_string(d.join("out/README.md")).unwrap();
    assert!(
        card.contains(&format!(
            "**Not the releases.** {} raw file(s) differ from the checksums",
            skipped.len()
        )),
        "{card}"
    );
    // nothing but the output is left in the folder (the fixtures went to a temporary folder)
    let left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["out".to_string()]);
}

#[test]
fn a_catalogue_in_the_working_directory_or_named_by_manifests_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::create_dir_all(d.join("corpora-manifests")).unwrap();
    std::fs::copy(
        repo().join("corpora-manifests/meqsum.toml"),
        d.join("corpora-manifests/meqsum.toml"),
    )
    .unwrap();
    let l = json(&medsins_in(d, &["list", "--format", "json"]).stdout);
    assert_eq!(l["catalogue"], "corpora-manifests");
    assert_eq!(l["tasks"].as_array().unwrap().len(), 1);
    let other = repo().join("corpora-manifests");
    let l = json(&medsins_in(d, &["list", "--format", "json", "--manifests", s(&other)]).stdout);
    assert_eq!(l["tasks"].as_array().unwrap().len(), 122);
    // no fixtures beside this folder: the bundled ones are the default raw root
    let r = medsins_in(d, &["build", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = json(&r.stdout);
    assert_eq!(report["catalogue"], "corpora-manifests");
    assert_eq!(report["samples"], 3);
    assert_eq!(
        read_json(&d.join("out/medsins.lock.json"))["catalogue"],
        "directory"
    );
}

#[test]
fn a_fixtures_marker_in_a_raw_root_does_not_switch_checksums_off() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let raw = d.join("raw");
    std::fs::create_dir_all(raw.join("meqsum")).unwrap();
    std::fs::copy(
        repo().join("fixtures/raw").join(MEQSUM_XLSX),
        raw.join(MEQSUM_XLSX),
    )
    .unwrap();
    std::fs::write(raw.join("FIXTURES.md"), "# Fixtures\n").unwrap();
    let build = ["build", "--only", "meqsum", "--raw-root", s(&raw)];
    let r = medsins_in(d, &build);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "FAILED    meqsum: {}: checksum mismatch",
            s(&raw.join(MEQSUM_XLSX))
        )),
        "{}",
        r.stderr
    );
    // the user may say so explicitly, and it is recorded
    let r = medsins_in(d, &[&build[..], &["--skip-checksums"]].concat());
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let lock = read_json(&d.join("out/medsins.lock.json"));
    assert_eq!(lock["checksums_skipped"], serde_json::json!([MEQSUM_XLSX]));
    let card = std::fs::read_to_string(d.join("out/README.md")).unwrap();
    assert!(
        card.contains("**Not the releases.** 1 raw file(s)"),
        "{card}"
    );
}

#[test]
fn a_closed_pipe_ends_every_printing_command_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert_eq!(medsins_in(d, &["build", "--only", "meqsum", "-q"]).code, 0);
    let commands: &[&[&str]] = &[
        &["list"],
        &["list", "--format", "json"],
        &["completions", "bash"],
        &["catalogue", "schema"],
        &["catalogue", "doc"],
        &["validate", "--format", "json"],
        &["preview", "meqsum"],
        &["stats"],
        &["check"],
        &["verify"],
        &["--help"],
    ];
    for args in commands {
        let mut child = Command::new(env!("CARGO_BIN_EXE_medsins"))
            .current_dir(d)
            .args(*args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // the reader goes away before anything is written, as `| head -0` would
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn completions_print_for_each_shell() {
    let d = tempfile::tempdir().unwrap();
    for (shell, mark) in [
        ("bash", "complete -F _medsins"),
        ("zsh", "#compdef medsins"),
        ("fish", "complete -c medsins"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let r = medsins_in(d.path(), &["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains(mark), "{shell}: {}", r.stdout);
        assert!(r.stdout.contains("new-corpus"), "{shell}");
    }
    let r = medsins_in(d.path(), &["completions", "tcsh"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("invalid value 'tcsh'"), "{}", r.stderr);
}

#[test]
fn quiet_and_verbose_set_the_log_level_and_progress_is_logged_without_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let only = ["build", "--only", "meqsum,pubmedqa"];
    let r = medsins_in(d, &only);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("building the catalogue bundled with medsins"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("tasks built 0/"), "{}", r.stderr);
    assert!(
        r.stderr.contains("writing shards and ledger"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("stage time"), "{}", r.stderr);

    let r = medsins_in(d, &[&only[..], &["-q"]].concat());
    assert_eq!(r.code, 0);
    assert_eq!(r.stderr, "", "quiet means no progress and no warnings");

    let r = medsins_in(d, &[&only[..], &["-v"]].concat());
    assert!(
        r.stderr.contains("stage time (summed over tasks)"),
        "{}",
        r.stderr
    );
    let r = medsins_in(d, &["-q", "-v", "list"]);
    assert_eq!(r.code, 2, "-q and -v contradict each other");
}

#[test]
fn validate_and_new_corpus_print_json() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let r = medsins_in(d, &["validate", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        json(&r.stdout),
        serde_json::json!({"ok": true, "manifests": 58, "tasks": 122, "problems": [], "not_rendered": []})
    );

    // a working copy with one manifest whose language is no ISO 639 code
    std::fs::create_dir_all(d.join("corpora-manifests")).unwrap();
    let text = std::fs::read_to_string(repo().join("corpora-manifests/meqsum.toml"))
        .unwrap()
        .replacen(
            "input_languages = [\"en\"]",
            "input_languages = [\"zz\"]",
            1,
        );
    std::fs::write(d.join("corpora-manifests/meqsum.toml"), text).unwrap();
    let r = medsins_in(d, &["validate", "--format", "json"]);
    assert_eq!(r.code, 1);
    let v = json(&r.stdout);
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["problems"][0]["file"], "corpora-manifests/meqsum.toml");
    assert!(
        v["problems"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("language `zz` is not an ISO 639-1 code"),
        "{v}"
    );

    std::fs::write(d.join("notes.csv"), "question,answer\nWhy?,Because.\n").unwrap();
    let r = medsins_in(
        d,
        &[
            "new-corpus",
            "my-notes",
            "--from",
            "notes.csv",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let n = json(&r.stdout);
    assert_eq!(n["manifest"], "corpora-manifests/my-notes.toml");
    assert_eq!(n["format"], "csv");
    assert_eq!(n["records"], 1);
    assert_eq!(n["fixture"], "fixtures/raw/my-notes/notes.csv");
    assert!(
        !n["problems"].as_array().unwrap().is_empty(),
        "TODOs are left"
    );
    assert!(d.join("raw/my-notes/notes.csv").is_file());

    // outside a catalogue folder there is nowhere to write
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("notes.csv"), "q,a\n1,2\n").unwrap();
    let r = medsins_in(empty.path(), &["new-corpus", "x", "--from", "notes.csv"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "no manifest folder to write into: run `medsins new-corpus` in a checkout of medsins (the folder holding corpora-manifests/) or pass --manifests DIR"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 1);
}

#[test]
fn every_command_names_the_output_folder_with_out() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = d.join("built");
    assert_eq!(
        medsins_in(d, &["build", "--only", "meqsum", "-q", "--out", s(&out)]).code,
        0
    );
    for cmd in ["verify", "check", "stats"] {
        let r = medsins_in(d, &[cmd, "--out", s(&out)]);
        assert_eq!(r.code, 0, "{cmd} --out: {}", r.stderr);
        let r = medsins_in(d, &[cmd, s(&out)]);
        assert_eq!(r.code, 0, "{cmd} positional: {}", r.stderr);
        let r = medsins_in(d, &[cmd, s(&out), "--out", s(&out)]);
        assert_eq!(r.code, 2, "{cmd}: both forms at once");
    }
    let missing = d.join("missing");
    let r = medsins_in(d, &["verify", "--out", s(&missing)]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("pass --out DIR of one"), "{}", r.stderr);
    let r = medsins_in(d, &["check", "--out", s(&missing)]);
    assert!(
        r.stderr
            .contains("pass --out DIR of a `medsins build` output"),
        "{}",
        r.stderr
    );
    let r = medsins_in(d, &["stats", "--out", s(&missing)]);
    assert!(
        r.stderr.contains("pass --out DIR of a build"),
        "{}",
        r.stderr
    );
}

//! `pip install medsins` works anywhere: the wheel is built with maturin (pyproject.toml),
//! installed into a fresh virtual environment, and used from an empty folder outside the
//! repository — the `medsins` command builds all 122 tasks from the bundled catalogue,
//! `import medsins; medsins.build(out=...)` returns the report, `medsins list | head -1`
//! ends cleanly, completions print and `validate --format json` prints JSON. The build
//! options `profile`, `leakage` and `near_dedup` change what a build from Python does, are
//! recorded in its lock and card, and a refused value is a `ValueError` naming the allowed ones.
//!
//! Needs Python 3 with pip and venv (skipped, saying so, without them); maturin is taken from
//! that Python when installed (`.ci/run` installs it) or installed into `target/wheel/tools`.
//! The wheel is a release build in its own target folder, `target/wheel`.

use medsins_core::LedgerReason;
use medsins_e2e::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn python() -> String {
    std::env::var("MEDSINS_PYTHON")
        .unwrap_or_else(|_| if cfg!(windows) { "python" } else { "python3" }.to_string())
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A program of a virtual environment (`bin/` on Unix, `Scripts\` on Windows).
fn venv_bin(venv: &Path, name: &str) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join(format!("{name}.exe"))
    } else {
        venv.join("bin").join(name)
    }
}

/// The command that runs maturin: the given Python's, else one installed for this test.
fn maturin(py: &str) -> Vec<String> {
    if works(py, &["-m", "maturin", "--version"]) {
        return vec![py.to_string(), "-m".into(), "maturin".into()];
    }
    let tools = repo().join("target/wheel/tools");
    let tools_py = venv_bin(&tools, "python");
    if !works(tools_py.to_str().unwrap(), &["-m", "maturin", "--version"]) {
        run(Command::new(py).args(["-m", "venv"]).arg(&tools));
        run(Command::new(&tools_py).args(["-m", "pip", "install", "--quiet", "maturin>=1.9,<2"]));
    }
    vec![
        tools_py.to_string_lossy().into_owned(),
        "-m".into(),
        "maturin".into(),
    ]
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const API_CHECK: &str = r#"
import json, sys, medsins
report = medsins.build(out="api-out", jobs=2)
assert report["tasks"] == 122, report["tasks"]
assert report["out"] == "api-out"
assert report["catalogue"].startswith("the catalogue bundled with medsins"), report["catalogue"]
assert all(c["status"] == "built" for c in report["corpora"]), report["corpora"]
assert medsins.validate() == {"ok": True, "manifests": 58, "tasks": 122, "problems": [], "not_rendered": []}
assert len(medsins.list_catalogue()["tasks"]) == 122
v = medsins.verify("api-out", rebuild=True)
assert v["ok"], v["problems"]
try:
    medsins.build(out="x", only=["no-such-corpus"])
    raise SystemExit("an unknown --only was accepted")
except medsins.MedsinsError as e:
    assert str(e) == "--only `no-such-corpus` is neither a corpus id nor a task id of the catalogue; `medsins list` shows them", str(e)
try:
    medsins.build(out="x", colour="blue")
    raise SystemExit("an unknown option was accepted")
except TypeError as e:
    assert "--colour" in str(e), str(e)

# profile: the upstream view of Species-800 reads test.tsv only, every sentence train, text as
# the script joined it (the rows are read back by the Rust side of the test)
clean = medsins.build(out="api-clean", only=["species800"])
upstream = medsins.build(out="api-upstream", only=["species800"], profile="upstream")
assert (clean["profile"], clean["leakage"], clean["samples"]) == ("clean", "remove", 8), clean
assert (upstream["profile"], upstream["leakage"], upstream["samples"]) == ("upstream", "off", 2), upstream

def policies(out):
    """What the lock's options and the card's metadata (`medsins_build`) say built `out`."""
    with open(out + "/medsins.lock.json") as f:
        options = json.load(f)["options"]
    with open(out + "/README.md") as f:
        metadata = f.read().split("---\n")[1].splitlines()
    at = metadata.index("medsins_build:")
    card = dict(line.strip().split(": ") for line in metadata[at + 1:at + 4])
    return (options["profile"], options["leakage"], options.get("near_dedup")), card

assert policies("api-clean") == (("clean", "remove", None), {"profile": "clean", "leakage": "remove", "near_dedup": "manifest"})
assert policies("api-upstream") == (("upstream", "off", None), {"profile": "upstream", "leakage": "off", "near_dedup": "manifest"})

# leakage and near_dedup on a catalogue with one leak (beta's training question is alpha's
# test question) and one near-duplicate pair (in alpha's training file)
quality = sys.argv[1]
for name, options, removed, flagged in [
    ("default", {}, {"leak": 1}, {"near_duplicate_flag": 1}),
    ("leak-flag", {"leakage": "flag"}, {}, {"leak_flag": 1, "near_duplicate_flag": 1}),
    ("leak-off", {"leakage": "off"}, {}, {"near_duplicate_flag": 1}),
    ("nd-off", {"near_dedup": "off"}, {"leak": 1}, {}),
    ("nd-remove", {"near_dedup": "remove"}, {"leak": 1, "near_duplicate": 1}, {}),
]:
    out = "api-" + name
    r = medsins.build(out=out, manifests=quality + "/manifests", raw_root=quality + "/raw", **options)
    assert (r["removed_by_reason"], r["flagged_by_reason"]) == (removed, flagged), (name, r["removed_by_reason"], r["flagged_by_reason"])
    leakage, near_dedup = options.get("leakage", "remove"), options.get("near_dedup")
    card = {"profile": "clean", "leakage": leakage, "near_dedup": near_dedup or "manifest"}
    assert policies(out) == (("clean", leakage, near_dedup), card), (name, policies(out))

# a refused value: ValueError naming the option and the values allowed, as the command says it
for option, metavar, allowed in [("profile", "PROFILE", "clean, upstream"), ("leakage", "LEAKAGE", "remove, flag, off"), ("near_dedup", "POLICY", "off, flag, remove")]:
    try:
        medsins.build(out="x", **{option: "drop"})
        raise SystemExit("%s='drop' was accepted" % option)
    except ValueError as e:
        flag = "--" + option.replace("_", "-")
        assert str(e) == "invalid value 'drop' for '%s <%s>'\n  [possible values: %s]" % (flag, metavar, allowed), str(e)
print(json.dumps({"version": medsins.__version__, "samples": report["samples"]}))
"#;

/// A catalogue for the quality options, in `dir` (`manifests/`, `raw/`): alpha's training file
/// holds two questions that differ in their last word only (near-duplicates), and beta's
/// training question is alpha's test question (a leak).
fn quality_catalogue(dir: &Path) {
    let manifest = |id: &str, number: u32, files: &str, split: &str| {
        format!(
            "[corpus]\nid = \"{id}\"\nname = \"{id}\"\nhomepage = \"https://example.invalid\"\nversion = \"1\"\n\
             license = \"CC0-1.0\"\naccess = \"public\"\ncitation = \"none\"\nobtain = \"written by the test\"\n\
             {files}\n[[tasks]]\nid = \"task{number}_{id}_qa\"\nnumber = {number}\nname = \"{id}\"\n\
             category = \"Question Answering\"\ntext_source = \"Exam\"\ninput_languages = [\"en\"]\n\
             output_languages = [\"en\"]\ndefinition = \"Answer the question.\"\ninput = \"{{{{ q }}}}\"\n\
             output = \"{{{{ a }}}}\"\nsplit = {split}\n"
        )
    };
    let file = |id: &str, split: &str| {
        format!("\n[[files]]\nid = \"{id}\"\npath = \"{id}.jsonl\"\nformat = \"jsonl\"\n{split}")
    };
    let write = |rel: &str, text: String| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    let jsonl = |rows: &[(&str, &str)]| -> String {
        rows.iter()
            .map(|(q, a)| serde_json::json!({"q": q, "a": a}).to_string() + "\n")
            .collect()
    };
    write(
        "manifests/alpha.toml",
        manifest(
            "alpha",
            901,
            &(file("train", "split = \"train\"\n") + &file("test", "split = \"test\"\n")),
            "{ policy = \"official\" }",
        ),
    );
    write(
        "manifests/beta.toml",
        manifest(
            "beta",
            902,
            &file("train", ""),
            "{ policy = \"fixed\", split = \"train\" }",
        ),
    );
    let case = "a patient of sixty two years presents with chest pain radiating to the left arm, \
                sweating and nausea for two hours; the electrocardiogram shows elevation of the ST \
                segment in the anterior leads; what is the first step";
    let pci = "Primary percutaneous coronary intervention.";
    let (treatment, management) = (
        format!("{case} of treatment?"),
        format!("{case} of management?"),
    );
    write(
        "raw/alpha/train.jsonl",
        jsonl(&[
            (&treatment, pci),
            (&management, pci),
            ("What vitamin deficiency causes scurvy?", "Vitamin C."),
        ]),
    );
    let held_out = (
        "Which drug lowers blood pressure fastest in a hypertensive emergency?",
        "Intravenous labetalol or nicardipine.",
    );
    write("raw/alpha/test.jsonl", jsonl(&[held_out]));
    write(
        "raw/beta/train.jsonl",
        jsonl(&[
            held_out,
            ("Which nerve is damaged in wrist drop?", "The radial nerve."),
        ]),
    );
}

/// The rows of a task of the output `out`, every shard, as (input, split, source file).
fn task_rows(out: &Path, task: &str) -> Vec<(String, String, String)> {
    let mut shards: Vec<PathBuf> = std::fs::read_dir(out.join("data").join(task))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    shards.sort();
    shards
        .iter()
        .flat_map(|s| medsins_output::read_samples(s).unwrap())
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap().to_string();
            (text("input"), text("split"), text("source_file"))
        })
        .collect()
}

/// The ledger reasons of the output `out`, with the id of the sample each is about.
fn ledger(out: &Path) -> Vec<(LedgerReason, Option<String>)> {
    medsins_output::read_ledger(&out.join("ledger.parquet"))
        .unwrap()
        .into_iter()
        .map(|e| (e.reason, e.id.map(|id| id.to_string())))
        .collect()
}

/// What the API script's builds with `profile`, `leakage` and `near_dedup` wrote into `work`.
fn check_policy_builds(work: &Path) {
    const SPECIES800: &str = "task128_species800_named_enetity_recognition";
    let test_tsv = "species800/test.tsv";
    let rows = |v: &[(&str, &str)]| -> Vec<(String, String, String)> {
        v.iter()
            .map(|(input, split)| (input.to_string(), split.to_string(), test_tsv.to_string()))
            .collect()
    };
    let cells = "Saccharomyces cerevisiae cells were grown at 30 degrees.";
    // upstream: test.tsv only, every sentence train, tokens joined as the script joined them
    assert_eq!(
        task_rows(&work.join("api-upstream"), SPECIES800),
        rows(&[
            (cells, "train"),
            ("Samples were stored at - 80 degrees ( n = 12 ).", "train")
        ])
    );
    let clean: Vec<_> = task_rows(&work.join("api-clean"), SPECIES800)
        .into_iter()
        .filter(|r| r.2 == test_tsv)
        .collect();
    assert_eq!(
        clean,
        rows(&[
            (cells, "test"),
            ("Samples were stored at -80 degrees (n = 12).", "test")
        ])
    );

    // leakage: removed by default, kept and flagged with `flag`
    let leaked = |out: &str| -> Vec<(LedgerReason, bool)> {
        let kept: Vec<String> = medsins_output::read_samples(
            &work
                .join(out)
                .join("data/task902_beta_qa/train-00000-of-00001.parquet"),
        )
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
        ledger(&work.join(out))
            .into_iter()
            .filter(|(r, _)| matches!(r, LedgerReason::Leak | LedgerReason::LeakFlag))
            .map(|(r, id)| (r, id.is_some_and(|id| kept.contains(&id))))
            .collect()
    };
    assert_eq!(leaked("api-default"), [(LedgerReason::Leak, false)]);
    assert_eq!(leaked("api-leak-flag"), [(LedgerReason::LeakFlag, true)]);
    assert_eq!(leaked("api-leak-off"), []);

    // near_dedup: each manifest's policy (flag) unless replaced
    let near = |out: &str| -> Vec<LedgerReason> {
        ledger(&work.join(out))
            .into_iter()
            .map(|(r, _)| r)
            .filter(|r| {
                matches!(
                    r,
                    LedgerReason::NearDuplicate | LedgerReason::NearDuplicateFlag
                )
            })
            .collect()
    };
    assert_eq!(near("api-default"), [LedgerReason::NearDuplicateFlag]);
    assert_eq!(near("api-nd-off"), []);
    assert_eq!(near("api-nd-remove"), [LedgerReason::NearDuplicate]);
}

#[test]
fn the_wheel_installs_and_works_outside_the_repository() {
    let py = python();
    if !works(&py, &["-m", "pip", "--version"]) || !works(&py, &["-m", "venv", "--help"]) {
        return skip(&format!(
            "`{py}` with pip and venv is not available: the wheel test needs them (set MEDSINS_PYTHON to use another Python)"
        ));
    }
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    let maturin = maturin(&py);
    let started = std::time::Instant::now();
    run(Command::new(&maturin[0])
        .args(&maturin[1..])
        .args([
            "build",
            "--release",
            "--locked",
            "--interpreter",
            &py,
            "--out",
        ])
        .arg(&wheels)
        .current_dir(repo())
        .env("CARGO_TARGET_DIR", repo().join("target/wheel")));
    println!("wheel built in {:.0} s", started.elapsed().as_secs_f64());
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("maturin wrote a wheel");

    let venv = tmp.path().join("venv");
    run(Command::new(&py).args(["-m", "venv"]).arg(&venv));
    let venv_py = venv_bin(&venv, "python");
    run(Command::new(&venv_py)
        .args(["-m", "pip", "install", "--quiet", "--no-index"])
        .arg(&wheel));
    let medsins = venv_bin(&venv, "medsins");
    assert!(
        medsins.is_file(),
        "the wheel installs the `medsins` command"
    );

    // an empty folder outside the repository
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let cmd = |args: &[&str]| {
        let mut c = Command::new(&medsins);
        c.args(args).current_dir(&work).env_remove("RUST_LOG");
        c
    };

    let v = stdout(&run(&mut cmd(&["--version"])));
    assert_eq!(v.trim(), format!("medsins {}", env!("CARGO_PKG_VERSION")));

    let b = run(&mut cmd(&["build", "--format", "json"]));
    let report: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_eq!(report["tasks"], 122);
    assert_eq!(
        std::fs::read_dir(work.join("out/data")).unwrap().count(),
        122,
        "a shard folder for every task"
    );
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("out/medsins.lock.json")).unwrap())
            .unwrap();
    assert_eq!(lock["catalogue"], "bundled");

    let quality = tmp.path().join("quality");
    quality_catalogue(&quality);
    let api = run(Command::new(&venv_py)
        .args(["-c", API_CHECK])
        .arg(&quality)
        .current_dir(&work)
        .env_remove("RUST_LOG"));
    let api: serde_json::Value = serde_json::from_slice(&api.stdout).unwrap();
    assert_eq!(api["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(api["samples"], report["samples"]);
    check_policy_builds(&work);

    let c = stdout(&run(&mut cmd(&["completions", "bash"])));
    assert!(c.contains("complete -F _medsins"), "{c}");

    let v = run(&mut cmd(&["validate", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"ok": true, "manifests": 58, "tasks": 122, "problems": [], "not_rendered": []})
    );

    #[cfg(unix)]
    {
        // `set -o pipefail`: the pipeline's status is medsins's when it fails
        let o = run(Command::new("bash")
            .args([
                "-c",
                "set -o pipefail; \"$0\" list | head -1",
                medsins.to_str().unwrap(),
            ])
            .current_dir(&work));
        let first = stdout(&o);
        assert!(first.starts_with("no.   task"), "{first}");
        assert_eq!(first.lines().count(), 1);
        assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
    }
    let left: Vec<String> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        left.iter().all(|f| f == "out" || f.starts_with("api-")),
        "nothing but the outputs is written: {left:?}"
    );
}

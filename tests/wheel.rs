//! `pip install medsins` works anywhere: the wheel is built with maturin (pyproject.toml),
//! installed into a fresh virtual environment, and used from an empty folder outside the
//! repository — the `medsins` command builds all 122 tasks from the bundled catalogue,
//! `import medsins; medsins.build(out=...)` returns the report, `medsins list | head -1`
//! ends cleanly, completions print and `validate --format json` prints JSON.
//!
//! Needs Python 3 with pip and venv (skipped, saying so, without them); maturin is taken from
//! that Python when installed (`.ci/run` installs it) or installed into `target/wheel/tools`.
//! The wheel is a release build in its own target folder, `target/wheel`.

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
import json, medsins
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
print(json.dumps({"version": medsins.__version__, "samples": report["samples"]}))
"#;

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

    let api = run(Command::new(&venv_py)
        .args(["-c", API_CHECK])
        .current_dir(&work)
        .env_remove("RUST_LOG"));
    let api: serde_json::Value = serde_json::from_slice(&api.stdout).unwrap();
    assert_eq!(api["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(api["samples"], report["samples"]);

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
        left.iter().all(|f| f == "out" || f == "api-out"),
        "nothing but the outputs is written: {left:?}"
    );
}

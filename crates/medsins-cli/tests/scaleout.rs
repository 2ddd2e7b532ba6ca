//! A build split over processes (issue #16, docs/scale-out.md) through the real binary:
//! `plan` lists the units, `build-unit` computes them into a cache — two processes computing
//! the same unit at once leave one whole copy — and `build --cached-only` assembles the same
//! bytes as `build`; `cache stats|prune`; and `scripts/ray_build.py` on a local Ray cluster
//! (skipped, saying why, without python3 and ray; `.ci/run` installs ray).

use medsins_e2e::{assert_same_tree, repo};
use std::path::Path;
use std::process::{Command, Output};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn medsins() -> Command {
    Command::new(env!("CARGO_BIN_EXE_medsins"))
}

/// Runs `cmd`, which must succeed; its stdout.
fn ok(cmd: &mut Command) -> String {
    let o = cmd.output().expect("run");
    assert!(
        o.status.success(),
        "{cmd:?}: {}\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The build options every command of a test takes: the repository's manifests and a raw
/// root (fixtures and synthetic roots are not the releases).
fn build_args(raw: &Path) -> Vec<String> {
    [
        "--manifests",
        s(&repo().join("corpora-manifests")),
        "--raw-root",
        s(raw),
        "--skip-checksums",
    ]
    .map(String::from)
    .to_vec()
}

fn plan(args: &[String], cache: Option<&Path>) -> serde_json::Value {
    let mut cmd = medsins();
    cmd.arg("plan").args(args).args(["--format", "json"]);
    if let Some(c) = cache {
        cmd.args(["--cache", s(c)]);
    }
    serde_json::from_str(&ok(&mut cmd)).unwrap()
}

#[test]
fn plan_lists_the_units_largest_first_with_their_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let args = build_args(&repo().join("fixtures/raw"));
    let p = plan(&args, Some(&tmp.path().join("cache")));
    let units = p["units"].as_array().unwrap();
    assert_eq!(units.len(), 87);
    let first = &units[0];
    assert_eq!(
        first["id"],
        "mimic-iv-radiology/task78_mimic_ultrasound_summarization"
    );
    assert_eq!(
        (first["tasks"].as_array().unwrap().len(), &first["cpus"]),
        (19, &serde_json::json!(2))
    );
    let costs: Vec<u64> = units.iter().map(|u| u["cost"].as_u64().unwrap()).collect();
    assert!(costs.windows(2).all(|w| w[0] >= w[1]), "{costs:?}");
    for u in units {
        let key = u["key"].as_str().unwrap();
        assert!(key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(u["cached"], false);
        let tasks = u["tasks"].as_array().unwrap().len() as u64;
        assert_eq!(
            u["cost"].as_u64().unwrap(),
            u["raw_bytes"].as_u64().unwrap() * (1 + tasks)
        );
    }
    // a different seed: other keys
    let mut reseeded = args.clone();
    reseeded.extend(["--seed".to_string(), "9".to_string()]);
    assert_ne!(plan(&reseeded, None)["units"][0]["key"], first["key"]);
}

#[test]
fn units_built_by_racing_processes_assemble_the_bytes_of_a_build() {
    let tmp = tempfile::tempdir().unwrap();
    let args = build_args(&repo().join("fixtures/raw"));
    let cache = tmp.path().join("cache");
    let units: Vec<String> = plan(&args, None)["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_string())
        .collect();

    // before any unit: --cached-only fails, listing them all
    let o = medsins()
        .arg("build")
        .args(&args)
        .args([
            "--out",
            s(&tmp.path().join("early")),
            "--cache",
            s(&cache),
            "--cached-only",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("lacks 87 unit(s) of this build: "),
        "{stderr}"
    );
    assert!(
        stderr.contains(&units[0]) && stderr.contains(&units[86]),
        "{stderr}"
    );

    // every unit by two processes at once
    for u in &units {
        let racers: Vec<_> = (0..2)
            .map(|_| {
                medsins()
                    .args(["build-unit", u])
                    .args(&args)
                    .args(["--cache", s(&cache), "--format", "json"])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for r in racers {
            let o: Output = r.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "{u}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let built: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(built["unit"], u.as_str());
        }
    }
    let stats: serde_json::Value = serde_json::from_str(&ok(medsins().args([
        "cache",
        "stats",
        "--cache",
        s(&cache),
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(stats["units"].as_array().unwrap().len(), 87);
    assert_eq!(stats["written"].as_array().unwrap().len(), 0);
    assert_eq!(stats["in_progress"], 0, "no copy is left behind");
    assert!(
        plan(&args, Some(&cache))["units"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["cached"] == true)
    );

    let assembled = tmp.path().join("assembled");
    let printed = ok(medsins().arg("build").args(&args).args([
        "--out",
        s(&assembled),
        "--cache",
        s(&cache),
        "--cached-only",
    ]));
    assert!(
        printed.contains("87 unit(s) reused, 0 computed; shards of 0 task(s) reused, 122 written"),
        "{printed}"
    );
    let plain = tmp.path().join("plain");
    ok(medsins()
        .arg("build")
        .args(&args)
        .args(["--out", s(&plain)]));
    assert_same_tree(&plain, &assembled);

    // two builds at once, racing to store the same written shards: both whole, one copy kept
    let (a, b) = (tmp.path().join("race-a"), tmp.path().join("race-b"));
    let racers: Vec<_> = [&a, &b]
        .map(|out| {
            medsins()
                .arg("build")
                .args(&args)
                .args(["--out", s(out), "--cache", s(&cache), "--cached-only"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .into_iter()
        .collect();
    for r in racers {
        let o: Output = r.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_same_tree(&plain, &a);
    assert_same_tree(&plain, &b);
    let reused = ok(medsins().arg("build").args(&args).args([
        "--out",
        s(&tmp.path().join("reused")),
        "--cache",
        s(&cache),
    ]));
    assert!(
        reused.contains("87 unit(s) reused, 0 computed; shards of 122 task(s) reused, 0 written"),
        "{reused}"
    );
    assert_same_tree(&plain, &tmp.path().join("reused"));

    // a unit computed again is found in the cache
    let again = ok(medsins()
        .args(["build-unit", &units[3]])
        .args(&args)
        .args(["--cache", s(&cache)]));
    assert_eq!(
        again.trim(),
        format!("{} is in {} already", units[3], cache.display())
    );

    let stats: serde_json::Value = serde_json::from_str(&ok(medsins().args([
        "cache",
        "stats",
        "--cache",
        s(&cache),
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(stats["written"].as_array().unwrap().len(), 122);
    assert_eq!(
        stats["in_progress"], 0,
        "the racers' second copies are removed"
    );

    let pruned = ok(medsins().args(["cache", "prune", "--cache", s(&cache), "--older-than", "1"]));
    assert!(
        pruned.starts_with(
            "removed 0 unit(s), the written shards of 0 task(s) and 0 abandoned folder(s)"
        ),
        "{pruned}"
    );
    let pruned = ok(medsins().args(["cache", "prune", "--cache", s(&cache), "--all"]));
    assert!(
        pruned.starts_with(
            "removed 87 unit(s), the written shards of 122 task(s) and 0 abandoned folder(s)"
        ),
        "{pruned}"
    );
}

#[test]
fn build_unit_names_an_unknown_unit_and_needs_a_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let args = build_args(&repo().join("fixtures/raw"));
    let cache = tmp.path().join("cache");
    let run = |unit: &str, with_cache: bool| {
        let mut cmd = medsins();
        cmd.args(["build-unit", unit]).args(&args);
        if with_cache {
            cmd.args(["--cache", s(&cache)]);
        }
        let o = cmd.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run("wikidoc/task99_nothing", true);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no unit `wikidoc/task99_nothing` in this build's plan (corpus `wikidoc` has wikidoc/task69_wikidoc_patient_information_question_answering, wikidoc/task70_wikidoc_question_answering); `medsins plan` lists the units"),
        "{err}"
    );
    let (code, err) = run("nosuch/task1_x", true);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("(the catalogue has no corpus `nosuch`)"),
        "{err}"
    );
    let (code, err) = run("wikidoc/task70_wikidoc_question_answering", false);
    assert_eq!(code, Some(1));
    assert!(err.contains("build-unit needs --cache DIR"), "{err}");
}

/// Why `scripts/ray_build.py` cannot run here, if it cannot.
fn ray_missing() -> Option<String> {
    match Command::new("python3").args(["-c", "import ray"]).output() {
        Err(e) => Some(format!("python3 cannot be run: {e}")),
        Ok(o) if !o.status.success() => Some(format!(
            "python3 has no ray module (`pip install ray`; .ci/run installs it): {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        )),
        Ok(_) => None,
    }
}

/// `scripts/ray_build.py` on a local Ray cluster of 2 CPUs, for `raw`: the bytes of
/// `medsins build`; a second run finds every unit in its cache.
fn ray_build_matches(tmp: &Path, raw: &Path) {
    let args = build_args(raw);
    let (out, cache) = (tmp.join("ray-out"), tmp.join("ray-cache"));
    let script = repo().join("scripts/ray_build.py");
    let ray = |out: &Path| {
        ok(Command::new("python3")
            .arg(&script)
            .args([&args[0], &args[1], &args[2], &args[3]])
            .args(["--out", s(out), "--cache", s(&cache), "--num-cpus", "2"])
            .args([
                "--medsins",
                env!("CARGO_BIN_EXE_medsins"),
                "--",
                "--skip-checksums",
            ])
            .env("RAY_DISABLE_USAGE_STATS", "1"))
    };
    let printed = ray(&out);
    let units = plan(&args, None)["units"].as_array().unwrap().len();
    assert!(
        printed.contains(&format!("plan: {units} unit(s), {units} to compute")),
        "{printed}"
    );
    let plain = tmp.join("plain");
    ok(medsins()
        .arg("build")
        .args(&args)
        .args(["--out", s(&plain)]));
    assert_same_tree(&plain, &out);
    let again = ray(&tmp.join("ray-again"));
    assert!(
        again.contains(&format!("plan: {units} unit(s), 0 to compute")),
        "{again}"
    );
    assert_same_tree(&plain, &tmp.join("ray-again"));
}

#[test]
fn ray_build_on_a_local_cluster_is_the_bytes_of_medsins_build() {
    if let Some(why) = ray_missing() {
        println!("SKIPPED: {why}");
        eprintln!("SKIPPED: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    ray_build_matches(&tmp.path().join("demo"), &repo().join("fixtures/raw"));
    let raw = tmp.path().join("synth");
    ok(medsins()
        .args(["synth", "--scale", "0.001", "--out", s(&raw)])
        .args([
            "--manifests",
            s(&repo().join("corpora-manifests")),
            "--fixtures",
            s(&repo().join("fixtures/raw")),
        ]));
    ray_build_matches(&tmp.path().join("synth-build"), &raw);
}

//! `medsins audit` and `medsins verify` through the real binary: exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn medsins_in(dir: &Path, args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_medsins"))
        .current_dir(dir)
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

const MEQSUM_XLSX: &str = "meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx";

/// A working copy holding the MeQSum manifest and its fixture (`corpora-manifests/` and
/// `fixtures/raw/` side by side, as in a checkout), and a build of it made there.
fn meqsum_build(tmp: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(tmp.join("corpora-manifests")).unwrap();
    std::fs::copy(
        repo().join("corpora-manifests/meqsum.toml"),
        tmp.join("corpora-manifests/meqsum.toml"),
    )
    .unwrap();
    let raw = tmp.join("fixtures/raw");
    std::fs::create_dir_all(raw.join("meqsum")).unwrap();
    std::fs::copy(
        repo().join("fixtures/raw").join(MEQSUM_XLSX),
        raw.join(MEQSUM_XLSX),
    )
    .unwrap();
    let out = tmp.join("out");
    let r = medsins_in(tmp, &["build", "--shard-rows", "2", "--out", s(&out)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    (raw, out)
}

fn first_id(out: &Path) -> String {
    let shard = out.join("data/task114_medqsum_text_summurization/train-00000-of-00002.parquet");
    medsins_output::read_samples(&shard).unwrap()[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn audit_prints_provenance_and_rederives_with_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    let (raw, out) = meqsum_build(tmp.path());
    let id = first_id(&out);
    let r = medsins_in(
        tmp.path(),
        &["audit", &id, "--out", s(&out), "--raw-root", s(&raw)],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for want in [
        "corpus      meqsum",
        "licence     CC-BY-4.0   access: public",
        "locator     QS!row 2",
        "raw record  QS!row 2",
        "rederive    MATCH",
    ] {
        assert!(r.stdout.contains(want), "`{want}` not in:\n{}", r.stdout);
    }
    let r = medsins_in(
        tmp.path(),
        &[
            "audit",
            &id,
            "--out",
            s(&out),
            "--raw-root",
            s(&raw),
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["id"], id.as_str());
    assert_eq!(j["status"], "kept");
    assert_eq!(j["rederive"]["status"], "MATCH");
    assert_eq!(j["corpus"]["access"], "public");
    assert_eq!(j["source"]["locator"], "QS!row 2");
    assert_eq!(j["manifest"]["changed"], false);
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("medsins.lock.json")).unwrap())
            .unwrap();
    assert_eq!(j["raw_sha256"], lock["raw_files"][0]["sha256"]);
}

#[test]
fn audit_of_an_unknown_id_exits_1_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, out) = meqsum_build(tmp.path());
    let r = medsins_in(
        tmp.path(),
        &[
            "audit",
            "ffffffffffffffffffffffffffffffff",
            "--out",
            s(&out),
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("unknown id `ffffffffffffffffffffffffffffffff`"),
        "{}",
        r.stderr
    );
    let r = medsins_in(tmp.path(), &["audit", "nope", "--out", s(&out)]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("32 hexadecimal characters"),
        "{}",
        r.stderr
    );
    let r = medsins_in(
        tmp.path(),
        &[
            "audit",
            "ffffffffffffffffffffffffffffffff",
            "--out",
            s(&tmp.path().join("absent")),
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("medsins.lock.json") && r.stderr.contains("--out"),
        "{}",
        r.stderr
    );
}

#[test]
fn verify_passes_untouched_and_names_a_tampered_shard_or_raw_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (raw, out) = meqsum_build(tmp.path());
    // the output folder is named by --out, as for every command (the positional form remains)
    let r = medsins_in(
        tmp.path(),
        &[
            "verify",
            "--out",
            s(&out),
            "--raw-root",
            s(&raw),
            "--rebuild",
        ],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("OK:") && r.stdout.contains("byte for byte"),
        "{}",
        r.stdout
    );

    let shard = "data/task114_medqsum_text_summurization/train-00001-of-00002.parquet";
    let mut bytes = std::fs::read(out.join(shard)).unwrap();
    bytes[50] ^= 0x20;
    std::fs::write(out.join(shard), &bytes).unwrap();
    let r = medsins_in(tmp.path(), &["verify", s(&out)]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(shard) && r.stderr.contains("output_changed"),
        "{}",
        r.stderr
    );
    bytes[50] ^= 0x20;
    std::fs::write(out.join(shard), &bytes).unwrap();
    assert_eq!(medsins_in(tmp.path(), &["verify", s(&out)]).code, 0);

    let xlsx = "meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx";
    let mut bytes = std::fs::read(raw.join(xlsx)).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    std::fs::write(raw.join(xlsx), &bytes).unwrap();
    let r = medsins_in(tmp.path(), &["verify", s(&out), "--raw-root", s(&raw)]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(xlsx) && r.stderr.contains("raw_changed"),
        "{}",
        r.stderr
    );
    let r = medsins_in(
        tmp.path(),
        &["verify", s(&out), "--raw-root", s(&raw), "--format", "json"],
    );
    assert_eq!(r.code, 1);
    let j: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(j["problems"][0]["file"], xlsx);
}

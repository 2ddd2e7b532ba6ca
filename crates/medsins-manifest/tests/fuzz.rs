//! Fuzzing manifest loading: the catalogue's manifests mutated (bytes flipped, inserted,
//! deleted and copied, brackets and quotes repeated thousands of times), each parsed and, when
//! it parses, checked, on a 2 MiB stack. Every outcome must be a manifest or located
//! diagnostics naming the file; never a panic or an abort.
//!
//! `cargo test` runs [`CI_CASES`] cases; `scripts/fuzz.sh` runs the ignored `fuzz_long` with
//! `MEDSINS_FUZZ_CASES` (100,000 by default).

use medsins_fuzz::{Input, cases, mutated, run};
use medsins_manifest::{LoadedManifest, check_catalogue};
use std::path::Path;

const CI_CASES: u32 = 2_000;

fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpora-manifests");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 58, "the catalogue's manifests");
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Loads one mutated manifest as `medsins validate` does: parse, then check. Every diagnostic
/// must name the file.
fn load(input: &Input) -> Result<(), String> {
    let path = Path::new("corpora-manifests/fuzzed.toml");
    let text = String::from_utf8_lossy(&input.bytes).into_owned();
    let diagnostics = match LoadedManifest::parse(path, text) {
        Ok(lm) => check_catalogue(&[lm]).0,
        Err(d) => d.0,
    };
    match diagnostics.iter().find(|d| d.file != path || d.line == 0) {
        Some(d) => Err(format!("a diagnostic not located in the file: {d}")),
        None => Ok(()),
    }
}

#[test]
fn fuzz_manifest_loading() {
    run("manifest", CI_CASES, mutated(seeds()), load);
}

/// The long run (`scripts/fuzz.sh`).
#[test]
#[ignore = "long: run by scripts/fuzz.sh"]
fn fuzz_long() {
    run("manifest", cases(100_000), mutated(seeds()), load);
}

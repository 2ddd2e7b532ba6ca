//! Fingerprints the code that computes a build's units and writes their shards — the sources
//! of the crates a unit runs through, the output crate, and `Cargo.lock` (their dependencies'
//! versions) — into `MEDSINS_CODE_FINGERPRINT`.
//! It is part of every unit's cache key (`build/units.rs`), so a builder whose code changed
//! never reuses units another one computed, even at the same version number. Cargo reruns this
//! script when anything under those folders changes.

use std::path::{Path, PathBuf};

/// The crates whose code decides a unit's result or a task's written shards.
const CRATES: &[&str] = &[
    "medsins-core",
    "medsins-output",
    "medsins-manifest",
    "medsins-readers",
    "medsins-render",
    "medsins-quality",
    "medsins-pipeline",
];

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    // an entry that cannot be read would leave code out of the fingerprint: stop the build
    for p in entries.map(|e| e.expect("readable directory entry").path()) {
        if p.is_dir() {
            files_under(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let crates = here.parent().unwrap_or(&here).to_path_buf();
    let root = crates.parent().unwrap_or(&crates).to_path_buf();
    println!("cargo:rerun-if-changed=build.rs");
    let mut files = Vec::new();
    for c in CRATES {
        let src = crates.join(c).join("src");
        println!("cargo:rerun-if-changed={}", src.display());
        files_under(&src, &mut files);
    }
    let lock = root.join("Cargo.lock");
    if lock.is_file() {
        println!("cargo:rerun-if-changed={}", lock.display());
        files.push(lock);
    }
    let rel = |p: &Path| -> String {
        p.strip_prefix(&root)
            .unwrap_or(p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut named: Vec<(String, PathBuf)> = files.into_iter().map(|p| (rel(&p), p)).collect();
    named.sort();
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for (name, path) in named {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        h.update(name.as_bytes());
        h.update(&[0]);
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    println!(
        "cargo:rustc-env=MEDSINS_CODE_FINGERPRINT={:032x}",
        h.digest128()
    );
}

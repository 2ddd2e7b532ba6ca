//! Embeds the catalogue of this checkout (every `corpora-manifests/*.toml` and every file under
//! `fixtures/raw/`) into the crate, so that an installed `medsins` works from any folder.
//! Cargo reruns this script when anything under those folders changes, so the embedded copy
//! is never older than the files beside it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .expect("under its root")
        .components()
        .map(|c| c.as_os_str().to_str().expect("UTF-8 file name"))
        .collect::<Vec<_>>()
        .join("/")
}

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = crate_dir.join("../..");
    let manifests = repo.join("corpora-manifests");
    let fixtures = repo.join("fixtures/raw");
    for d in [&manifests, &fixtures] {
        assert!(
            d.is_dir(),
            "{} not found: medsins-manifest embeds the catalogue of the repository it is built in",
            d.display()
        );
        println!("cargo:rerun-if-changed={}", d.display());
    }
    let mut code = String::new();
    let mut toml = Vec::new();
    files_under(&manifests, &mut toml);
    toml.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    code.push_str("/// `(file name, text)` of every manifest, sorted by file name.\n");
    code.push_str("pub static MANIFESTS: &[(&str, &str)] = &[\n");
    for p in &toml {
        let _ = writeln!(
            code,
            "    ({:?}, include_str!({:?})),",
            rel(&manifests, p),
            p.display().to_string()
        );
    }
    code.push_str("];\n");
    let mut raw = Vec::new();
    files_under(&fixtures, &mut raw);
    code.push_str(
        "/// `(path relative to the fixture root, bytes)` of every fixture file, sorted by path.\n",
    );
    code.push_str("pub static FIXTURES: &[(&str, &[u8])] = &[\n");
    for p in &raw {
        let _ = writeln!(
            code,
            "    ({:?}, include_bytes!({:?})),",
            rel(&fixtures, p),
            p.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("bundled.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}

//! Default locations: the catalogue and the bundled fixtures, found from the working directory
//! (a checkout) or, failing that, from where the binary was built.

use medsins_manifest::{Catalogue, Diagnostics};
use std::path::PathBuf;

fn repo_default(rel: &str) -> PathBuf {
    let here = PathBuf::from(rel);
    if here.exists() {
        return here;
    }
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    if built.exists() { built } else { here }
}

pub fn manifests_dir(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| repo_default("corpora-manifests"))
}

pub fn raw_root(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| repo_default("fixtures/raw"))
}

/// Loads and checks the catalogue; parse and meaning errors are returned together.
pub fn load_catalogue(dir: &std::path::Path) -> (Catalogue, Diagnostics) {
    let (cat, mut diags) = Catalogue::load(&[dir.to_path_buf()]);
    diags
        .0
        .extend(medsins_manifest::check_catalogue(&cat.manifests).0);
    diags.sort();
    (cat, diags)
}

/// The catalogue, or an error after printing every manifest problem (commands other than
/// `validate` refuse to work on an invalid catalogue).
pub fn valid_catalogue(dir: &std::path::Path) -> anyhow::Result<Catalogue> {
    let (cat, diags) = load_catalogue(dir);
    if !diags.is_empty() {
        eprintln!("{diags}");
        anyhow::bail!(
            "{} manifest problem(s) in {}; fix them (see `medsins validate`)",
            diags.0.len(),
            dir.display()
        );
    }
    Ok(cat)
}

/// Output format of commands a script may read.
#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq, Default, Debug)]
pub enum Format {
    #[default]
    Table,
    Json,
}

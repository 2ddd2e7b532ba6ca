//! Which catalogue and which raw root a command works on. Nothing here depends on where the
//! binary was built: the catalogue is `--manifests`, else `corpora-manifests` in the working
//! directory, else the one bundled into medsins; the default raw root is that catalogue's
//! fixtures (beside the folder, or the bundled ones written to a temporary folder).

use medsins_manifest::{Catalogue, CatalogueSource, Diagnostics, FixtureRoot};
use medsins_pipeline::Checksums;
use std::path::{Path, PathBuf};

/// The catalogue named by `--manifests`, else the working directory's, else the bundled one.
pub fn manifests_dir(given: Option<PathBuf>) -> CatalogueSource {
    CatalogueSource::choose(given)
}

/// Loads and checks the catalogue; parse and meaning errors are returned together.
pub fn load_catalogue(source: &CatalogueSource) -> (Catalogue, Diagnostics) {
    source.load_checked()
}

/// The catalogue, or an error after printing every manifest problem (commands other than
/// `validate` refuse to work on an invalid catalogue).
pub fn valid_catalogue(source: &CatalogueSource) -> anyhow::Result<Catalogue> {
    let (cat, diags) = load_catalogue(source);
    if !diags.is_empty() {
        errln!("{diags}");
        anyhow::bail!(
            "{} manifest problem(s) in {source}; fix them (see `medsins validate`)",
            diags.0.len()
        );
    }
    Ok(cat)
}

/// The catalogue for a build of `only` (everything when empty): refused, after printing them,
/// when the manifests of those corpora and tasks have problems, or ids clash across the
/// catalogue; another corpus's unfinished manifest does not block it.
pub fn valid_catalogue_for(source: &CatalogueSource, only: &[String]) -> anyhow::Result<Catalogue> {
    let (cat, parse_problems) = source.load();
    let diags = medsins_manifest::check_selection(&cat.manifests, &parse_problems, only);
    if !diags.is_empty() {
        errln!("{diags}");
        anyhow::bail!(
            "{} manifest problem(s) in {source}; fix them (see `medsins validate`)",
            diags.0.len()
        );
    }
    let skipped = parse_problems.0.len();
    if skipped > 0 {
        log::warn!(
            "{skipped} problem(s) in manifests of other corpora, which this build does not read (see `medsins validate`)"
        );
    }
    Ok(cat)
}

/// A raw root to read, and whether its files must match the manifests' checksums.
pub struct RawRoot {
    pub path: PathBuf,
    pub checksums: Checksums,
    /// The catalogue's fixtures, when they are the root (a temporary copy of the bundled
    /// ones lives as long as this value).
    fixtures: Option<FixtureRoot>,
}

/// Whether the raw files of `root` must match their manifests: not for the catalogue's own
/// fixtures (they are not the releases) nor with `--skip-checksums`; yes for any other root,
/// whatever files it holds.
pub fn checksums_for(root: &Path, skip_checksums: bool, source: &CatalogueSource) -> Checksums {
    let is_fixtures = source
        .fixture_dir()
        .is_some_and(|f| medsins_manifest::same_folder(&f, root));
    if is_fixtures || skip_checksums {
        Checksums::Skip
    } else {
        Checksums::Verify
    }
}

impl RawRoot {
    /// The root given, or the catalogue's fixtures (see [`checksums_for`]).
    pub fn choose(
        given: Option<PathBuf>,
        skip_checksums: bool,
        source: &CatalogueSource,
    ) -> anyhow::Result<RawRoot> {
        match given {
            Some(path) => Ok(RawRoot {
                checksums: checksums_for(&path, skip_checksums, source),
                path,
                fixtures: None,
            }),
            None => {
                let f = source.fixture_root().map_err(|e| {
                    anyhow::anyhow!("writing the bundled fixtures to a temporary folder: {e}")
                })?;
                Ok(RawRoot {
                    path: f.path().to_path_buf(),
                    checksums: Checksums::Skip,
                    fixtures: Some(f),
                })
            }
        }
    }

    /// How to name the root to a user: the folder, or "the bundled fixtures".
    pub fn describe(&self) -> String {
        match &self.fixtures {
            Some(f) if f.is_bundled() => "the bundled fixtures".to_string(),
            _ => self.path.display().to_string(),
        }
    }
}

/// Where a build's output goes, and where the other commands look for it, by default.
pub const DEFAULT_OUT: &str = "out";

/// A build's output directory: `--out DIR` (default `out`), or the older positional form.
#[derive(clap::Args, Debug)]
pub struct OutDir {
    /// The build's output directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_OUT)]
    out: PathBuf,
    /// Same as --out (the older positional form, still accepted).
    #[arg(value_name = "OUT", hide = true, conflicts_with = "out")]
    out_positional: Option<PathBuf>,
}

impl OutDir {
    pub fn path(&self) -> &Path {
        self.out_positional.as_deref().unwrap_or(&self.out)
    }
}

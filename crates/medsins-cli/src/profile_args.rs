//! `--profile` and `--leakage` of `medsins build`: how samples are rendered and cleaned
//! (docs/data-quality.md, "Profiles"). Kept apart from the other build flags so that other
//! quality overrides can sit beside them without touching the build command.

use anyhow::Context;
use medsins_core::{LeakagePolicy, Profile};
use medsins_pipeline::BuildOptions;

#[derive(clap::Args)]
pub struct ProfileArgs {
    /// `clean`: normalised text, duplicates, near-duplicates and leaks removed. `upstream`:
    /// the authors' preparation scripts reproduced byte for byte where the manifests say how
    /// (text verbatim, duplicates kept, nothing held out; leakage off unless --leakage).
    #[arg(long, value_parser = ["clean", "upstream"], default_value = "clean")]
    profile: String,
    /// Training samples whose input equals or near-duplicates a held-out input of any task:
    /// `remove` (ledger `leak`), `flag` (kept, ledger `leak_flag`) or `off` (not looked for).
    /// Default: remove with --profile clean, off with --profile upstream.
    #[arg(long, value_parser = ["remove", "flag", "off"])]
    leakage: Option<String>,
}

impl ProfileArgs {
    /// Sets the build's profile and leakage policy (the profile's default policy unless
    /// `--leakage` is given).
    pub fn apply(&self, opts: &mut BuildOptions) -> anyhow::Result<()> {
        opts.profile = Profile::parse(&self.profile).context("--profile")?;
        opts.leakage = match self.leakage.as_deref() {
            None => LeakagePolicy::default_for(opts.profile),
            Some(l) => LeakagePolicy::parse(l).context("--leakage")?,
        };
        Ok(())
    }
}

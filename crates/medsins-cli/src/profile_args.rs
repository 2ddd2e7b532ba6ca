//! `--profile` and `--leakage` of `medsins build`: how samples are rendered and cleaned
//! (docs/data-quality.md, "Profiles"). Kept apart from the other build flags so that other
//! quality overrides can sit beside them without touching the build command.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use medsins_core::{LeakagePolicy, Profile};
use medsins_pipeline::BuildOptions;

/// A parser of one of `values`, typed by `parse` (which accepts each of them).
fn one_of<T: Clone + Send + Sync + 'static>(
    values: &'static [T],
    name: fn(&T) -> &'static str,
    parse: fn(&str) -> Option<T>,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(values.iter().map(name))
        .try_map(move |s: String| parse(&s).ok_or(format!("unknown value `{s}`")))
}

#[derive(clap::Args)]
pub struct ProfileArgs {
    /// `clean`: normalised text, duplicates, near-duplicates and leaks removed. `upstream`:
    /// the authors' preparation scripts reproduced byte for byte where the manifests say how
    /// (text verbatim, duplicates kept, nothing held out; leakage off unless --leakage).
    #[arg(long, default_value = "clean",
          value_parser = one_of(Profile::ALL, |p| p.as_str(), Profile::parse))]
    profile: Profile,
    /// Training samples whose input equals or near-duplicates a held-out input of any task:
    /// `remove` (ledger `leak`), `flag` (kept, ledger `leak_flag`) or `off` (not looked for).
    /// Default: remove with --profile clean, off with --profile upstream.
    #[arg(long, value_parser = one_of(LeakagePolicy::ALL, |l| l.as_str(), LeakagePolicy::parse))]
    leakage: Option<LeakagePolicy>,
}

impl ProfileArgs {
    /// Sets the build's profile and leakage policy (the profile's default policy unless
    /// `--leakage` is given).
    pub fn apply(&self, opts: &mut BuildOptions) {
        opts.profile = self.profile;
        opts.leakage = self
            .leakage
            .unwrap_or(LeakagePolicy::default_for(self.profile));
    }
}

//! The corpus manifest: one TOML file per corpus in `corpora-manifests/`.
//!
//! A manifest declares a corpus (who made it, its licence and access class, the raw files it is
//! distributed as) and the MedS-Ins tasks it feeds (how records become input and output, how they
//! are split). It is data, never code: templates are sandboxed and named operators do what
//! templates cannot. This crate parses manifests with `file:line:col` errors, checks their
//! meaning (every problem at once), loads a whole catalogue, and generates the JSON Schema that
//! editors use (`schemas/manifest.schema.json`).

mod bundled;
mod catalogue;
mod check;
mod error;
mod model;
mod pattern;
mod schema_check;
mod source;

pub use bundled::{
    FixtureRoot, LoadManifestError, bundled_fixtures, extract_fixtures, same_folder,
};
pub use catalogue::{Catalogue, LoadedManifest};
pub use check::{check_catalogue, check_selection, is_contained_path};
pub use error::{Diagnostic, Diagnostics};
pub use model::*;
pub use pattern::{
    ListingError, PathPattern, PatternError, Segment, is_pattern, listing, natural_cmp,
    release_cmp, release_key,
};
pub use source::{CatalogueSource, WORKING_CATALOGUE};
/// A value with its byte span in the manifest text (the type diagnostics point with).
pub use toml::Spanned;

/// The JSON Schema of a manifest, as checked into `schemas/manifest.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Manifest);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serialises");
    s.push('\n');
    s
}

//! Looking at what medsins made and what it will make, without building: the tools an auditor
//! and a contributor use.
//!
//! - [`audit`]: where a row came from — corpus, licence, raw file and record, manifest — and a
//!   re-derivation of the row from its raw record (docs/provenance.md).
//! - [`verify`]: proves an output directory matches its checksums, its raw files and its lock,
//!   optionally by rebuilding it.
//! - [`preview`]: rendered samples of a task on a few raw records, for review.
//! - [`catalogue_doc`]: `docs/catalogue.md`, every corpus's expected files and where to get them.
//! - [`validate`]: every problem of some manifests at once, templates rendered on raw files;
//!   the hashed build summary of a credentialed contribution, and its comparison.
//! - [`check`]: the semantic data checks over a build's shards.
//! - [`listing`]: the catalogue's corpora and tasks.
//! - [`new_corpus`]: a contributor's starting manifest, fixture and expected rows.

pub mod audit;
pub mod catalogue_doc;
pub mod check;
pub mod listing;
pub mod new_corpus;
pub mod preview;
pub mod validate;
pub mod verify;

pub use catalogue_doc::catalogue_doc;
pub use preview::preview;

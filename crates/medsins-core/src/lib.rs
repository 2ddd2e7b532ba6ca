//! The shared vocabulary of medsins.
//!
//! Everything more than one crate must agree on lives here and nowhere else: the closed
//! vocabularies of MedS-Ins (19 task categories, 5 text sources), access classes and splits,
//! how a sample id is derived from content, the seeded hash that drives splits and instruction
//! choice, and the meaning-preserving text normalisation every sample goes through.

pub mod hash;
pub mod id;
pub mod names;
pub mod normalize;
pub mod sample;
pub mod vocab;

pub use hash::{Sha256Writer, hex, seeded_unit, sha256, sha256_hex};
pub use id::{BadSampleId, SampleId};
pub use names::{is_corpus_id, task_id_number};
pub use normalize::normalize_text;
pub use sample::{LedgerEntry, Sample, TaskMeta};
pub use vocab::{Access, Category, LeakagePolicy, LedgerReason, Profile, Split, TextSource};

/// Version of the builder, recorded in every row, the lock file and the dataset card.
pub const BUILDER_VERSION: &str = concat!("medsins ", env!("CARGO_PKG_VERSION"));

//! The ledger entries of the quality passes: what the build records when a quality algorithm
//! (medsins-quality) removes or flags a sample.

use crate::stages::TaskContext;
use medsins_core::{LedgerEntry, LedgerReason, Sample, SampleId};
use medsins_manifest::{NearDedup, NearDedupPolicy};
use medsins_quality::leakage::{HeldSample, Leak};
use medsins_quality::minhash::NearDuplicate;
use medsins_quality::{Contamination, LeakConfig};

/// The ledger entry of a contaminated sample.
pub fn decontamination_entry(
    cx: &TaskContext,
    s: &Sample,
    c: &Contamination,
    n: usize,
) -> LedgerEntry {
    let detail = format!(
        "{} {n}-gram \"{}\" occurs in benchmark {}",
        c.field, c.ngram, c.benchmark
    );
    LedgerEntry {
        similarity: Some(c.share),
        ..cx.removal(s, "decontaminate", LedgerReason::Contaminated, None, detail)
    }
}

/// The ledger entry of a training sample that leaks held-out sample `held` of task `other`:
/// `leak` when it is removed, `leak_flag` when `--leakage flag` keeps it.
pub fn leak_entry(
    cx: &TaskContext,
    s: &Sample,
    l: &Leak,
    held: &HeldSample,
    other: &str,
    cfg: &LeakConfig,
    remove: bool,
) -> LedgerEntry {
    let reason = if remove {
        LedgerReason::Leak
    } else {
        LedgerReason::LeakFlag
    };
    let detail = if l.exact {
        format!(
            "input equals (lower-cased words) the input of {} sample {} of {other}",
            held.split, held.id
        )
    } else {
        format!(
            "input near-duplicates (Jaccard {:.4} over word {}-shingles) the input of {} sample {} of {other}",
            l.similarity, cfg.shingle, held.split, held.id
        )
    };
    LedgerEntry {
        similarity: Some(l.similarity),
        ..cx.removal(s, "leakage", reason, Some(held.id), detail)
    }
}

/// The ledger entry of a near-duplicate (`near_duplicate` when the policy removes it,
/// `near_duplicate_flag` when it only flags it).
pub fn near_entry(
    cx: &TaskContext,
    cfg: &NearDedup,
    s: &Sample,
    kept: SampleId,
    d: &NearDuplicate,
) -> LedgerEntry {
    let reason = if cfg.policy == NearDedupPolicy::Remove {
        LedgerReason::NearDuplicate
    } else {
        LedgerReason::NearDuplicateFlag
    };
    let detail = format!(
        "Jaccard {:.4} with {kept} over input+output word {}-shingles (cluster of {}, threshold {})",
        d.similarity, cfg.shingle, d.cluster_size, cfg.threshold
    );
    let mut e = cx.removal(s, "near_dedup", reason, Some(kept), detail);
    e.similarity = Some(d.similarity);
    e
}

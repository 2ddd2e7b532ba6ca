//! The real corpora in `../shared/corpora` (their own releases, not the SNI task files): every
//! listed corpus builds all its tasks and every raw record is accounted for. Skipped, with the
//! reason printed, when `../shared` is absent.

use medsins_e2e::*;

#[test]
fn meqsum_real_release() {
    let Some(shared) = shared() else { return skip("../shared is absent: real-corpus tests need it beside the repository") };
    let f = check_real_corpus(&shared, "meqsum", &[("task114_medqsum_text_summurization", 1000)]);
    assert!(f.is_empty(), "{}", f.join("\n"));
}

//! The real Super-NaturalInstructions task files in `../shared/corpora/natural-instructions`:
//! the corpora whose MedS-Ins tasks were imported from them build from the real files.
//! Skipped, with the reason printed, when `../shared` is absent.
//!
//! Expected counts were computed independently (python3 over the same files: NFC, Python
//! `strip()`, empty outputs dropped, exact (input, output) duplicates removed). The 11 files hold
//! no empty output and no duplicate, so every count equals the file's number of instances.

use medsins_e2e::*;

const SKIP: &str = "../shared is absent: real-corpus tests need it beside the repository";

fn check(corpus: &str, expected: &[(&str, usize)]) {
    let Some(shared) = shared() else {
        return skip(SKIP);
    };
    let f = check_real_corpus(&shared, corpus, expected);
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn shared_dir_is_found_or_skipped() {
    match shared() {
        Some(s) => assert!(s.join("corpora/natural-instructions/tasks").is_dir()),
        None => skip("../shared is absent"),
    }
}

#[test]
fn pico_ebmnlp_sni_179_180_181() {
    check(
        "pico-ebmnlp",
        &[
            ("task1_participant_extraction", 423),
            ("task2_intervention_extraction", 423),
            ("task3_outcome_extraction", 423),
        ],
    );
}

#[test]
fn ncbi_disease_sni_1448() {
    check(
        "ncbi-disease",
        &[("task27_disease_entity_extraction_ncbi_dataset", 151)],
    );
}

#[test]
fn bc5cdr_disease_sni_1449() {
    check(
        "bc5cdr-disease",
        &[("task28_disease_entity_extraction_bc5cdr_dataset", 77)],
    );
}

#[test]
fn bc2gm_sni_1481() {
    check("bc2gm", &[("task31_gene_extraction_bc2gm_dataset", 1062)]);
}

#[test]
fn linnaeus_sni_1484() {
    check(
        "linnaeus",
        &[("task33_gene_extraction_linnaeus_dataset", 141)],
    );
}

#[test]
fn anem_sni_1486_1487() {
    check(
        "anem",
        &[
            ("task35_cell_extraction_anem_dataset", 123),
            ("task36_organism_substance_extraction_anem_dataset", 105),
        ],
    );
}

/// ADE corpus: ../shared holds task1451 (task 29) and task1495 (task 37) but not task1447 (task 26),
/// so the corpus cannot resolve as a whole there: the SNI distribution is built without task 26
/// and its file.
#[test]
fn ade_corpus_sni_1451_1495() {
    let Some(shared) = shared() else {
        return skip(SKIP);
    };
    let expected = [
        ("task29_drug_dose_extraction", 222usize),
        ("task37_adverse_drug_event_classification", 1998),
    ];
    let cat = catalogue();
    let mut lm = cat.get("ade-corpus").expect("ade-corpus manifest").clone();
    lm.manifest = lm
        .manifest
        .for_variant("sni")
        .expect("ade-corpus has an `sni` variant");
    lm.manifest
        .tasks
        .retain(|t| t.id.get_ref() != "task26_drug_extraction_ade");
    lm.manifest.files.retain(|f| f.id.get_ref() != "task1447");
    let builds = build_corpus(&lm, &shared.join("corpora"))
        .expect("ade-corpus (tasks 29, 37) builds from the real files");
    assert_eq!(builds.len(), expected.len());
    for tb in &builds {
        let want = expected
            .iter()
            .find(|(t, _)| *t == tb.meta.task_id)
            .map(|(_, n)| *n)
            .expect("expected task");
        assert_eq!(tb.samples.len(), want, "{}", tb.meta.task_id);
        // flags (reasons ending in `_flag`, e.g. near_duplicate_flag) mark kept samples, they remove nothing
        let removed = tb.ledger.iter().filter(|e| !e.reason.is_flag()).count() as u64;
        assert_eq!(
            tb.samples.len() as u64 + removed,
            tb.records_read,
            "{}: records not accounted for",
            tb.meta.task_id
        );
    }
}

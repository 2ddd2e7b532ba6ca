//! The real corpora in `../shared/corpora` (their own releases, not the SNI task files): every
//! listed corpus builds all its tasks and every raw record is accounted for. Skipped, with the
//! reason printed, when `../shared` is absent.
//!
//! Counts were checked independently with short Python scripts over the real files applying
//! the same rendering, normalisation (NFC, trim), empty-removal and exact-dedup rules.

use medsins_e2e::*;
use std::path::Path;

#[test]
fn meqsum_real_release() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: real-corpus tests need it beside the repository");
    };
    let f = check_real_corpus(
        &shared,
        "meqsum",
        &[("task114_medqsum_text_summurization", 1000)],
    );
    assert!(f.is_empty(), "{}", f.join("\n"));
}

/// Like `check_real_corpus`, for corpora of which `../shared/corpora` holds only some files
/// (e.g. MedQA's US test split): the manifest is reduced to the first distribution with files
/// present and to those files, tasks left without a file are not built, and every task of
/// `expected` must be built with that count.
fn check_partial_corpus(shared: &Path, corpus: &str, expected: &[(&str, usize)]) -> Vec<String> {
    let cat = catalogue();
    let mut lm = cat
        .get(corpus)
        .unwrap_or_else(|| panic!("no manifest for {corpus}"))
        .clone();
    let root = shared.join("corpora");
    let id = lm.manifest.id().to_string();
    let present = |f: &medsins_manifest::RawFile| {
        let folder = f
            .root
            .as_ref()
            .map(|r| r.get_ref().clone())
            .unwrap_or_else(|| id.clone());
        root.join(folder).join(f.path.get_ref()).is_file()
    };
    let Some(view) = lm
        .manifest
        .variant_ids()
        .into_iter()
        .filter_map(|v| lm.manifest.for_variant(v))
        .find(|m| m.files.iter().any(present))
    else {
        return vec![format!(
            "{corpus}: no distribution has a file in {}",
            root.display()
        )];
    };
    lm.manifest = view;
    let m = &mut lm.manifest;
    m.files.retain(present);
    let present: Vec<String> = m.files.iter().map(|f| f.id.get_ref().clone()).collect();
    for t in &mut m.tasks {
        if let Some(files) = &mut t.files {
            files.retain(|f| present.contains(f.get_ref()));
        }
    }
    m.tasks
        .retain(|t| t.files.as_ref().is_none_or(|f| !f.is_empty()));
    let mut failures = Vec::new();
    let builds = match build_corpus(&lm, &root) {
        Ok(b) => b,
        Err(e) => return vec![format!("{corpus}: {e}")],
    };
    for (task, n) in expected {
        match builds.iter().find(|tb| tb.meta.task_id == *task) {
            None => failures.push(format!("{corpus}/{task}: not built from the files present")),
            Some(tb) => {
                // flags (e.g. `near_duplicate_flag`) keep their sample: not removals
                let removed = tb.ledger.iter().filter(|e| !e.reason.is_flag()).count() as u64;
                if tb.samples.len() as u64 + removed != tb.records_read {
                    failures.push(format!(
                        "{corpus}/{task}: {} kept + {removed} removed != {} read",
                        tb.samples.len(),
                        tb.records_read
                    ));
                }
                if tb.samples.len() != *n {
                    failures.push(format!(
                        "{corpus}/{task}: {} samples, expected {n}",
                        tb.samples.len()
                    ));
                }
            }
        }
    }
    for tb in &builds {
        if !expected.iter().any(|(t, _)| *t == tb.meta.task_id) {
            failures.push(format!(
                "{corpus}/{}: no expected sample count given",
                tb.meta.task_id
            ));
        }
    }
    failures
}

#[test]
fn pubmedqa_real_release() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: real-corpus tests need it beside the repository");
    };
    // A clone holds PQA-L only (variant `github`): 1,000 records, 500 MedS-Bench test PMIDs held
    // out; task 12 (SNI task846's layout) keeps the 445 of the other 500 labelled yes or no (276
    // yes, 169 no; the 55 maybe are filtered)
    let f = check_real_corpus(
        &shared,
        "pubmedqa",
        &[
            ("task11_pubmedqa_question_generation", 500),
            ("task12_pubmedqa_classification", 445),
            ("task13_pubmedqa_question_generation", 500),
            ("task14_pubmedqa_classification", 500),
            ("task15_pubmedqa_answer_generation", 500),
            ("task124_pubmedqa_train_set", 500),
        ],
    );
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn species800_real_release() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: real-corpus tests need it beside the repository");
    };
    // 5,733 + 830 + 1,630 sentences; after exact dedup 5,371 + 767 + 1,531
    let f = check_real_corpus(
        &shared,
        "species800",
        &[("task128_species800_named_enetity_recognition", 7669)],
    );
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn bc5cdr_chem_real_release() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: real-corpus tests need it beside the repository");
    };
    // 4,560 + 4,581 + 4,797 sentences; after exact dedup 4,553 + 4,562 + 4,777
    let f = check_real_corpus(
        &shared,
        "bc5cdr",
        &[("task126_bc5chem_named_enetity_recognition", 13892)],
    );
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn icd10cm_real_release() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: real-corpus tests need it beside the repository");
    };
    // 46,881 <diag> elements + 297 <section> ranges, no duplicates
    let f = check_real_corpus(
        &shared,
        "icd10cm",
        &[("task115_icd10_code_explanation", 47139)],
    );
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn chatdoctor_genmedgpt_real_release() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: real-corpus tests need it beside the repository");
    };
    // only chatdoctor5k.json (GenMedGPT-5k, 5,452 conversations, no duplicates) is shared
    let f = check_partial_corpus(
        &shared,
        "chatdoctor",
        &[("task68_chatdoctor_genmedgpt_dialogue", 5452)],
    );
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn medqa_us_test_real_release() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: real-corpus tests need it beside the repository");
    };
    // only the US 4-option test split (1,273 questions) is shared; all stay in split `test`
    let f = check_partial_corpus(
        &shared,
        "medqa",
        &[("task57_medqa_question_answering_en", 1273)],
    );
    assert!(f.is_empty(), "{}", f.join("\n"));
}

#[test]
fn medmcqa_dev_real_release() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: real-corpus tests need it beside the repository");
    };
    // only dev.json (4,183 questions, 2,206 with a non-empty explanation) is shared
    let f = check_partial_corpus(
        &shared,
        "medmcqa",
        &[
            ("task63_medmcqa_chain_of_thought", 2206),
            ("task64_medmcqa_question_answering", 4183),
        ],
    );
    assert!(f.is_empty(), "{}", f.join("\n"));
}

//! `--profile upstream`: the authors' preparation scripts reproduced byte for byte
//! (../shared/spec/upstream-renderings.md), with nothing removed as a duplicate, near-duplicate
//! or leak; `--profile clean` (the default) unchanged. The real-data tests skip, with the reason
//! printed, when `../shared` is absent.
//!
//! The expected renderings are computed here independently of medsins' readers and operators:
//! MeQSum's cells through calamine, Species-800 by the script's own parsing and joining rules,
//! the SNI instances from their JSON task files.

use medsins_core::{LedgerReason, Profile};
use medsins_e2e::*;
use medsins_pipeline::corpus::{Checksums, Resolution, resolve_corpus};
use medsins_pipeline::{BuildOptions, TaskBuild, build};
use std::path::Path;

const SKIP: &str = "../shared is absent: real-corpus tests need it beside the repository";

/// Every task of `corpus` built from `raw` in `profile` (raw files written by a test are not
/// the releases: their checksums are not verified).
fn build_in(corpus: &str, raw: &Path, profile: Profile) -> Vec<TaskBuild> {
    let cat = catalogue();
    let lm = cat.get(corpus).unwrap().for_profile(profile);
    let checksums = if raw.starts_with(std::env::temp_dir()) {
        Checksums::Skip
    } else {
        checksums_for(raw)
    };
    let Resolution::Ready(rc) = resolve_corpus(&lm, raw, None, checksums) else {
        panic!("{corpus}: not ready in {}", raw.display());
    };
    let tasks = &rc.manifest.manifest.tasks;
    tasks
        .iter()
        .map(|t| {
            rc.render_task(t.id.get_ref(), 0, std::slice::from_ref(&t.definition), None)
                .unwrap()
        })
        .collect()
}

fn pairs(tb: &TaskBuild) -> Vec<(String, String)> {
    tb.samples
        .iter()
        .map(|s| (s.input.clone(), s.output.clone()))
        .collect()
}

/// How many of `want` appear, in order, position for position, in `got`; and the first
/// mismatches, to show.
fn matching(got: &[(String, String)], want: &[(String, String)]) -> (usize, Vec<String>) {
    let mut same = 0;
    let mut shown = Vec::new();
    for (i, w) in want.iter().enumerate() {
        match got.get(i) {
            Some(g) if g == w => same += 1,
            g if shown.len() < 3 => shown.push(format!("#{i}: got {g:?}\n   want {w:?}")),
            _ => {}
        }
    }
    (same, shown)
}

fn assert_at_least_99_percent(what: &str, got: &[(String, String)], want: &[(String, String)]) {
    let (same, shown) = matching(got, want);
    println!(
        "{what}: {same} of {} instances byte for byte ({} rows built)",
        want.len(),
        got.len()
    );
    assert!(
        same * 100 >= want.len() * 99 && got.len() == want.len(),
        "{what}: {same} of {} match, {} rows\n{}",
        want.len(),
        got.len(),
        shown.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Species-800 (§18)

/// The script's parsing and rendering (§18), written from the spec: `(input, output)` per
/// sentence of an IOB text.
fn species800_script(tsv: &str) -> Vec<(String, String)> {
    fn emit(
        tokens: &mut Vec<String>,
        ents: &mut Vec<Vec<String>>,
        out: &mut Vec<(String, String)>,
    ) {
        if !tokens.is_empty() {
            let mut input = tokens[0].clone();
            for t in &tokens[1..] {
                if !matches!(t.as_str(), "." | "," | ";" | ":" | "?" | "!") {
                    input.push(' ');
                }
                input.push_str(t);
            }
            let output = if ents.is_empty() {
                "There is no related entity.".to_string()
            } else {
                let texts: Vec<String> = ents.iter().map(|e| e.join(" ")).collect();
                format!("{}.", texts.join(", "))
            };
            out.push((input, output));
        }
        tokens.clear();
        ents.clear();
    }
    let mut out = Vec::new();
    let (mut tokens, mut ents): (Vec<String>, Vec<Vec<String>>) = (Vec::new(), Vec::new());
    let mut open = false;
    for line in tsv.lines() {
        let line = line.trim();
        if line.is_empty() {
            emit(&mut tokens, &mut ents, &mut out);
            open = false;
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 2, "{line:?}");
        tokens.push(f[0].to_string());
        match f[1].chars().next() {
            Some('B') => {
                ents.push(vec![f[0].to_string()]);
                open = true;
            }
            Some('I') if open => ents.last_mut().unwrap().push(f[0].to_string()),
            Some('O') => open = false,
            _ => {}
        }
    }
    emit(&mut tokens, &mut ents, &mut out);
    out
}

#[test]
fn upstream_species800_renders_the_spec_example_and_clean_detokenises() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("species800");
    std::fs::create_dir_all(&dir).unwrap();
    // §18's example sentence, then the same sentence again (the script keeps both copies),
    // then a sentence without entities
    let example = "Streptococcus\tB\nursoris\tI\nsp\tI\n.\tI\nnov\tI\n.\tI\n,\tO\nisolated\tO\nfrom\tO\nthe\tO\noral\tO\ncavities\tO\nof\tO\nbears\tO\n.\tO\n";
    let none = "Gram\tO\n-\tO\npositive\tO\ncocci\tO\n(\tO\nGPC\tO\n)\tO\n.\tO\n";
    let tsv = format!("{example}\n{example}\n{none}");
    std::fs::write(dir.join("test.tsv"), &tsv).unwrap();
    for f in ["train.tsv", "devel.tsv"] {
        std::fs::write(dir.join(f), "Mice\tB\n.\tO\n").unwrap();
    }
    let up = build_in("species800", tmp.path(), Profile::Upstream);
    let spec_input = "Streptococcus ursoris sp. nov., isolated from the oral cavities of bears.";
    let spec_output = "Streptococcus ursoris sp . nov ..";
    let want = vec![
        (spec_input.to_string(), spec_output.to_string()),
        (spec_input.to_string(), spec_output.to_string()),
        (
            "Gram - positive cocci ( GPC ).".to_string(),
            "There is no related entity.".to_string(),
        ),
    ];
    assert_eq!(pairs(&up[0]), want);
    assert_eq!(species800_script(&tsv), want);
    // test.tsv only, every instance train, the repeat kept with an id of its own and flagged
    let s = &up[0].samples;
    assert!(s.iter().all(|s| s.source_file.ends_with("/test.tsv")));
    assert!(
        s.iter()
            .all(|s| s.split == Some(medsins_core::Split::Train))
    );
    assert_ne!(s[0].id, s[1].id);
    let flags: Vec<_> = up[0].ledger.iter().map(|e| (e.reason, e.kept_id)).collect();
    // (a later copy is also the near-duplicate of the first that near-dedup flags)
    assert_eq!(
        flags,
        [
            (LedgerReason::ExactDuplicateFlag, Some(s[0].id)),
            (LedgerReason::NearDuplicateFlag, Some(s[0].id))
        ]
    );
    // clean: detokenised, the repeat removed, test.tsv held out as test
    let clean = build_in("species800", tmp.path(), Profile::Clean);
    let test_rows: Vec<_> = clean[0]
        .samples
        .iter()
        .filter(|s| s.source_file.ends_with("/test.tsv"))
        .map(|s| (s.input.as_str(), s.output.as_str()))
        .collect();
    assert_eq!(
        test_rows,
        [
            (spec_input, "Streptococcus ursoris sp. nov.."),
            ("Gram-positive cocci (GPC).", "There is no related entity.")
        ]
    );
}

#[test]
fn upstream_species800_real_test_tsv_is_the_scripts_output() {
    let Some(shared) = shared() else {
        return skip(SKIP);
    };
    let tsv = std::fs::read_to_string(shared.join("corpora/species800/test.tsv")).unwrap();
    let want = species800_script(&tsv);
    // the spec's counts for the script run on this file
    let with = want
        .iter()
        .filter(|w| w.1 != "There is no related entity.")
        .count();
    assert_eq!((want.len(), with), (1630, 486));
    let up = build_in("species800", &shared.join("corpora"), Profile::Upstream);
    assert_at_least_99_percent("species800 task128", &pairs(&up[0]), &want);
    assert_eq!(up[0].records_read, 1630);
}

// ---------------------------------------------------------------------------------------------
// MeQSum (§14)

/// `(CHQ, Summary)` of every row of the real workbook's first sheet, verbatim.
fn meqsum_cells(xlsx: &Path) -> Vec<(String, String)> {
    use calamine::{Reader, open_workbook_auto};
    let mut wb = open_workbook_auto(xlsx).unwrap();
    let sheet = wb.sheet_names()[0].clone();
    let range = wb.worksheet_range(&sheet).unwrap();
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (q, s) = (col("CHQ"), col("Summary"));
    rows.map(|r| (r[q].to_string(), r[s].to_string())).collect()
}

#[test]
fn upstream_meqsum_real_release_is_the_scripts_output() {
    let Some(shared) = shared() else {
        return skip(SKIP);
    };
    let xlsx = shared.join("corpora/meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx");
    let want = meqsum_cells(&xlsx);
    let up = build_in("meqsum", &shared.join("corpora"), Profile::Upstream);
    let got = pairs(&up[0]);
    assert_at_least_99_percent("meqsum task114", &got, &want);
    // what the clean profile trims, the upstream one keeps (spec §14: 2 inputs ending in
    // U+00A0, 24 outputs with a leading or trailing space)
    let nbsp = got.iter().filter(|g| g.0.ends_with('\u{a0}')).count();
    let spaced = got
        .iter()
        .filter(|g| g.1.starts_with(' ') || g.1.ends_with(' '))
        .count();
    assert_eq!((got.len(), nbsp, spaced), (1000, 2, 24));
}

// ---------------------------------------------------------------------------------------------
// The Super-NaturalInstructions tasks (imported, no script: the SNI instances are the
// authors' renderings)

/// `(input, first output)` of every instance of an SNI task file.
fn sni_instances(path: &Path) -> Vec<(String, String)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["Instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let out = &i["output"];
            let first = out.as_array().map_or(out, |a| &a[0]);
            (
                i["input"].as_str().unwrap().to_string(),
                first.as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every SNI-derived task of the corpora in ../shared, built in one upstream build with the
/// corpora whose held-out sentences they repeat (BC5CDR's test split holds task 28's inputs:
/// the clean build removes them as leaks, the upstream one keeps them).
#[test]
fn upstream_sni_tasks_are_the_sni_instances_byte_for_byte() {
    let Some(shared) = shared() else {
        return skip(SKIP);
    };
    let sni = shared.join("corpora/natural-instructions/tasks");
    let tasks = [
        (
            "task1_participant_extraction",
            "task179_participant_extraction.json",
        ),
        (
            "task2_intervention_extraction",
            "task180_intervention_extraction.json",
        ),
        (
            "task3_outcome_extraction",
            "task181_outcome_extraction.json",
        ),
        (
            "task27_disease_entity_extraction_ncbi_dataset",
            "task1448_disease_entity_extraction_ncbi_dataset.json",
        ),
        (
            "task28_disease_entity_extraction_bc5cdr_dataset",
            "task1449_disease_entity_extraction_bc5cdr_dataset.json",
        ),
        (
            "task29_drug_dose_extraction",
            "task1451_drug_dose_extraction.json",
        ),
        (
            "task31_gene_extraction_bc2gm_dataset",
            "task1481_gene_extraction_bc2gm_dataset.json",
        ),
        (
            "task33_gene_extraction_linnaeus_dataset",
            "task1484_gene_extraction_linnaeus_dataset.json",
        ),
        (
            "task35_cell_extraction_anem_dataset",
            "task1486_cell_extraction_anem_dataset.json",
        ),
        (
            "task36_organism_substance_extraction_anem_dataset",
            "task1487_organism_substance_extraction_anem_dataset.json",
        ),
        (
            "task37_adverse_drug_event_classification",
            "task1495_adverse_drug_event_classification.json",
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let cat = catalogue();
    let mut opts = BuildOptions::new(shared.join("corpora"), tmp.path().join("out"));
    opts.profile = Profile::Upstream;
    opts.leakage = medsins_core::LeakagePolicy::default_for(Profile::Upstream);
    opts.selection.only = [
        "pico-ebmnlp",
        "ncbi-disease",
        "bc5cdr-disease",
        "bc5cdr",
        "bc2gm",
        "linnaeus",
        "anem",
        "ade-corpus",
    ]
    .map(String::from)
    .to_vec();
    let report = build(&cat, &opts).unwrap();
    assert_eq!(
        (report.profile.as_str(), report.leakage.as_str()),
        ("upstream", "off")
    );
    let lock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("out").join(medsins_output::LOCK_FILE)).unwrap(),
    )
    .unwrap();
    assert_eq!(lock["options"]["profile"], "upstream");
    assert_eq!(lock["options"]["leakage"], "off");
    let rows = output_rows(&tmp.path().join("out"));
    let mut missing = Vec::new();
    for (task, file) in tasks {
        let want = sni_instances(&sni.join(file));
        let Some(got) = rows.get(task) else {
            missing.push(task);
            continue;
        };
        assert_at_least_99_percent(task, got, &want);
    }
    // tasks whose corpus is not in ../shared (e.g. ANEM's own release) are not built; each of
    // them must still have its SNI file built
    assert!(missing.is_empty(), "not built: {missing:?}");
}

/// `(input, output)` of the rows of an output folder, per task, in shard order.
fn output_rows(out: &Path) -> std::collections::BTreeMap<String, Vec<(String, String)>> {
    let mut rows: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for shard in medsins_output::shard_files(out).unwrap() {
        for r in medsins_output::read_samples(&out.join(&shard)).unwrap() {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            rows.entry(s("task_id"))
                .or_default()
                .push((s("input"), s("output")));
        }
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// The scripted tasks on their fixtures, through a whole upstream build and its verify --rebuild

fn rows_of<'a>(
    rows: &'a std::collections::BTreeMap<String, Vec<(String, String)>>,
    task: &str,
) -> Vec<(&'a str, &'a str)> {
    rows[task]
        .iter()
        .map(|(i, o)| (i.as_str(), o.as_str()))
        .collect()
}

#[test]
fn upstream_demo_build_renders_the_scripts_strings_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut opts = BuildOptions::new(fixtures_root(), out.clone());
    opts.checksums = Checksums::Skip;
    opts.profile = Profile::Upstream;
    opts.leakage = medsins_core::LeakagePolicy::default_for(Profile::Upstream);
    opts.selection.only = ["mednli", "seer", "mimic-iv-discharge"]
        .map(String::from)
        .to_vec();
    build(&catalogue(), &opts).unwrap();
    let rows = output_rows(&out);

    // §1 MedNLI, the train file only. Task 41: both sentences verbatim (sentence1's trailing
    // space, sentence2's leading one)
    let t41 = rows_of(&rows, "task41_mednli_textual_entailment_discriminative");
    assert_eq!(t41.len(), 7);
    assert_eq!(
        t41[1],
        (
            "Sentence1: Pt with CHF and EF of 25% on Lasix 40mg PO daily. \n\nSentence2:  the patient has a NORMAL ejection fraction",
            "Contradiction"
        )
    );
    // task 42: stripped, capitalized (every other character lower-cased), `.` appended always
    let t42 = rows_of(&rows, "task42_mednli_textual_entailment_generative");
    assert_eq!(
        t42[0],
        (
            "Pt with chf and ef of 25% on lasix 40mg po daily.",
            "The patient has heart failure.."
        )
    );
    assert_eq!(t42.len(), 3);
    // task 44: groups of three (the seventh record alone is dropped), the output's final line
    // feed kept; the hypotheses in file order (the script's unseeded shuffle is not reproducible)
    let t44 = rows_of(&rows, "task44_mednli_textual_entailment_classification");
    assert_eq!(t44.len(), 2);
    assert_eq!(
        t44[0],
        (
            "Statement: Pt with chf and ef of 25% on lasix 40mg po daily.\nSentence1: The patient has heart failure.\nSentence2: The patient has a normal ejection fraction\nSentence3: Patient is noncompliant with diuretics",
            "Sentence1 is entailment.\nSentence2 is contradiction.\nSentence3 is neutral.\n"
        )
    );

    // §19 SEER: the first ⌊0.9 × 8⌋ = 7 rows, the eighth dropped as the script dropped it
    let seer = "task131_SEER_text_classification_train";
    assert_eq!(rows[seer].len(), 7);
    let ledger = medsins_output::read_ledger(&out.join("ledger.parquet")).unwrap();
    let cut: Vec<_> = ledger
        .iter()
        .filter(|e| e.task_id == seer)
        .map(|e| (e.stage.as_str(), e.reason))
        .collect();
    assert_eq!(cut, [("split", LedgerReason::Filtered)]);

    // §6 discharge: the line-break clean-up (a line feed before a lower-case letter deleted,
    // `\n` + spaces + a lower-case letter one space, `\n,` joined), split at the first
    // `Discharge Instructions:\n`, neither part stripped
    let t76 = rows_of(
        &rows,
        "task76_mimic_iv_note_discharge_instruction_completion",
    );
    let (input, output) = t76[0];
    assert!(
        input.ends_with("Discharge Disposition:\nHome\n \n"),
        "{input:?}"
    );
    assert_eq!(
        output,
        "Discharge Instructions:\nDear Mr. ___,\n\nYou were admitted for a heart failure exacerbation. We gave youmedicine to remove extra fluid. please weigh yourself every morning, and call your doctor if your weight goes up by more than 3 lbs.\n \nFollowup Instructions:\n___\n"
    );

    // the lock says how, and a rebuild from it gives the same bytes
    let manifests = repo().join("corpora-manifests");
    let v = medsins_inspect::verify::verify(
        &out,
        &medsins_inspect::verify::VerifyOptions {
            catalogue: medsins_manifest::CatalogueSource::Directory { path: manifests },
            raw_root: Some(fixtures_root()),
            checksums: Checksums::Skip,
            rebuild: true,
            instructions: None,
            decontaminate: vec![],
        },
    )
    .unwrap();
    assert!(v.ok, "{:?}", v.problems);
}

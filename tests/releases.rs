//! Corpora built from their files as the authors publish them and users place them: a clone
//! directly in the corpus folder or one folder deeper, names that change between releases,
//! several releases at once, and every raw record accounted for (a row or a ledger entry).

use medsins_core::LedgerReason;
use medsins_e2e::*;
use medsins_pipeline::TaskBuild;
use medsins_pipeline::corpus::{Checksums, Resolution, resolve_corpus};
use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn one_task(corpus: &str, raw: &Path) -> TaskBuild {
    let cat = catalogue();
    let mut builds = build_corpus(cat.get(corpus).unwrap(), raw).unwrap();
    assert_eq!(builds.len(), 1);
    builds.remove(0)
}

/// (locator, input, output) of every sample.
fn rows(tb: &TaskBuild) -> Vec<(String, String, String)> {
    tb.samples
        .iter()
        .map(|s| (s.source_locator.clone(), s.input.clone(), s.output.clone()))
        .collect()
}

#[test]
fn medquad_cloned_directly_or_one_folder_deeper_gives_the_same_rows() {
    // the demo holds the clone one folder deeper: medquad/MedQuAD/<source folders>
    let nested = one_task("medquad", &fixtures_root());
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &fixtures_root().join("medquad/MedQuAD"),
        &tmp.path().join("medquad"),
    );
    let flat = one_task("medquad", tmp.path());
    assert_eq!(rows(&flat), rows(&nested));
    assert!(nested.samples.len() >= 6);
    assert!(
        nested
            .samples
            .iter()
            .all(|s| s.source_file == "medquad/MedQuAD")
    );
    assert!(flat.samples.iter().all(|s| s.source_file == "medquad"));
    // natural order of the source folders: 1, 3, 8, 11 (not 1, 11, 3, 8)
    let folders: Vec<&str> = nested
        .samples
        .iter()
        .map(|s| s.source_locator.split('/').next().unwrap())
        .collect();
    let mut sorted = folders.clone();
    sorted.dedup();
    assert_eq!(sorted, ["1_CancerGov_QA", "3_GHR_QA", "8_NHLBI_QA_XML"]);
}

/// Shapes of a QA pair that an exact element path or a template reading `Question['#text']` and
/// `Answer` would lose: each pair ends up a row or a ledger entry with a reason.
#[test]
fn medquad_every_qa_pair_is_a_row_or_a_ledger_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let doc = |pairs: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document id=\"0000009\" source=\"GARD\" url=\"https://example.org\">\n<Focus>Tesla syndrome</Focus>\n{pairs}"
        )
    };
    let ok = "<QAPairs>\n\t<QAPair pid=\"1\">\n\t\t<Question qid=\"0000009-1\" qtype=\"information\">What is (are) Tesla syndrome ?</Question>\n\t\t<Answer>A rare condition.</Answer>\n\t</QAPair>\n";
    let plain_question = "\t<QAPair pid=\"2\">\n\t\t<Question>How many people are affected by Tesla syndrome ?</Question>\n\t\t<Answer>About 1 in 50,000 people.</Answer>\n\t</QAPair>\n";
    let no_answer = "\t<QAPair pid=\"3\">\n\t\t<Question qid=\"0000009-3\" qtype=\"causes\">What causes Tesla syndrome ?</Question>\n\t</QAPair>\n";
    let cdata = "\t<QAPair pid=\"4\">\n\t\t<Question qid=\"0000009-4\" qtype=\"treatment\">What are the treatments for Tesla syndrome ?</Question>\n\t\t<Answer><![CDATA[Treatment <b>depends</b> on the symptoms & their severity.]]></Answer>\n\t</QAPair>\n</QAPairs>\n";
    let outside = "<QAPair pid=\"5\">\n\t<Question qid=\"0000009-5\" qtype=\"inheritance\">Is Tesla syndrome inherited ?</Question>\n\t<Answer>It is not inherited.</Answer>\n</QAPair>\n";
    let unclosed = "<QAPairs>\n\t<QAPair pid=\"6\">\n\t\t<Question qid=\"0000009-6\" qtype=\"symptoms\">What are the symptoms of Tesla syndrome ?</Question>\n\t\t<Answer>Tremor.</Answer>\n\t</QAPair>\n\t<QAPair pid=\"7\">\n\t\t<Question qid=\"0000009-7\" qtype=\"exams\">How to diagnose Tesla syndrome ?</Question>\n";
    let dir = tmp.path().join("medquad/2_GARD_QA");
    std::fs::create_dir_all(&dir).unwrap();
    let text = doc(&format!(
        "{ok}{plain_question}{no_answer}{cdata}{outside}{unclosed}"
    ));
    std::fs::write(dir.join("0000009.xml"), text).unwrap();
    let tb = one_task("medquad", tmp.path());
    let got: Vec<(&str, &str)> = tb
        .samples
        .iter()
        .map(|s| (s.input.as_str(), s.output.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("What is (are) Tesla syndrome ?", "A rare condition."),
            (
                "How many people are affected by Tesla syndrome ?",
                "About 1 in 50,000 people."
            ),
            (
                "What are the treatments for Tesla syndrome ?",
                "Treatment <b>depends</b> on the symptoms & their severity."
            ),
            ("Is Tesla syndrome inherited ?", "It is not inherited."),
            ("What are the symptoms of Tesla syndrome ?", "Tremor."),
        ]
    );
    let ledger: Vec<(String, LedgerReason)> = tb
        .ledger
        .iter()
        .map(|e| (e.source_locator.clone(), e.reason))
        .collect();
    assert_eq!(
        ledger,
        [
            // read errors are ledgered as the file is read, before the batch is rendered
            (
                "2_GARD_QA/0000009.xml /Document[1]/QAPairs[2]/QAPair[2]".to_string(),
                LedgerReason::Quarantined
            ),
            (
                "2_GARD_QA/0000009.xml /Document[1]/QAPairs[1]/QAPair[3]".to_string(),
                LedgerReason::EmptyOutput
            ),
        ]
    );
    assert_eq!(tb.ledger[0].detail, "element not closed before end of file");
    assert_eq!(tb.records_read, 7, "every QAPair element is a record");
}

#[test]
fn hoc_finds_every_hallmark_whatever_the_spacing() {
    let tb = one_task("hoc", &fixtures_root());
    let out = |pmid: &str| {
        tb.samples
            .iter()
            .find(|s| s.source_locator == format!("{pmid}.txt"))
            .map(|s| s.output.as_str())
    };
    // `<  Resisting …`, `AND  Sustaining …` and a tab after `<`
    assert_eq!(
        out("10066294"),
        Some(
            "Sustaining proliferative signaling, Resisting cell death, Avoiding immune destruction"
        )
    );
    // every abstract whose labels name a hallmark has a row; the one without has a ledger entry
    let labels = fixtures_root().join("hoc/labels");
    for e in std::fs::read_dir(&labels).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let pmid = p.file_stem().unwrap().to_string_lossy().into_owned();
        let has_label = text.contains("--");
        assert_eq!(out(&pmid).is_some(), has_label, "{pmid}: {text:?}");
    }
    assert_eq!(
        tb.ledger
            .iter()
            .map(|e| (e.source_locator.as_str(), e.reason, e.detail.as_str()))
            .collect::<Vec<_>>(),
        [(
            "10047219.txt",
            LedgerReason::Filtered,
            "no keyword rule matched `label_text`"
        )]
    );
}

#[test]
fn medicationqa_row_without_answer_is_ledgered_with_its_reason() {
    let tb = one_task("medicationqa", &fixtures_root());
    assert_eq!(tb.records_read, 5);
    assert_eq!(tb.samples.len(), 4);
    let e = &tb.ledger[0];
    assert_eq!(tb.ledger.len(), 1);
    assert_eq!(
        (e.source_locator.as_str(), e.reason, e.detail.as_str()),
        (
            "Sheet1!row 4",
            LedgerReason::EmptyOutput,
            "the output is empty once normalised (an empty, missing or whitespace-only field in the raw record)"
        )
    );
}

/// Several BioASQ releases at once: a question is built from the latest release that has it
/// (training NN < batches NN-k < training NN+1), the earlier versions are ledgered.
#[test]
fn bioasq_builds_each_question_from_the_latest_release() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("bioasq");
    let q = |answer: &str| {
        format!(
            "{{\n  \"questions\": [\n    {{\n      \"body\": \"What does the PAH gene encode?\",\n      \"documents\": [],\n      \"ideal_answer\": [\n        \"{answer}\"\n      ],\n      \"exact_answer\": [\n        [\n          \"phenylalanine hydroxylase\"\n        ]\n      ],\n      \"type\": \"factoid\",\n      \"id\": \"5e2b5d70fbd6abf43b000011\",\n      \"snippets\": []\n    }}\n  ]\n}}\n"
        )
    };
    for (path, answer) in [
        ("BioASQ-training11b/training11b.json", "v11"),
        ("Task11BGoldenEnriched/11B2_golden.json", "v11b2"),
        ("training12b.json", "v12"),
        ("trainining7b.json", "v7"),
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, q(answer)).unwrap();
    }
    let tb = one_task("bioasq", tmp.path());
    let got: Vec<(&str, &str)> = tb
        .samples
        .iter()
        .map(|s| (s.source_locator.as_str(), s.output.as_str()))
        .collect();
    assert_eq!(got, [("training12b.json $.questions[0]", "v12")]);
    let replaced: Vec<&str> = tb
        .ledger
        .iter()
        .map(|e| e.source_locator.as_str())
        .collect();
    assert_eq!(
        replaced,
        [
            "trainining7b.json $.questions[0]",
            "BioASQ-training11b/training11b.json $.questions[0]",
            "Task11BGoldenEnriched/11B2_golden.json $.questions[0]"
        ]
    );
    assert!(tb.ledger.iter().all(|e| e.reason == LedgerReason::Filtered
        && e.detail.ends_with("at `training12b.json $.questions[0]`")));
}

#[test]
fn two_candidates_for_one_file_fail_the_corpus_naming_both() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx";
    let src = fixtures_root().join("meqsum").join(name);
    for dir in ["meqsum", "meqsum/MeQSum-master"] {
        std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        std::fs::copy(&src, tmp.path().join(dir).join(name)).unwrap();
    }
    let cat = catalogue();
    let Resolution::Failed(m) = resolve_corpus(
        cat.get("meqsum").unwrap(),
        tmp.path(),
        None,
        Checksums::Verify,
    ) else {
        panic!("two candidates accepted")
    };
    let at = |rel: &str| tmp.path().join(rel).display().to_string();
    assert_eq!(
        m.to_string(),
        format!(
            "meqsum: file `questions` ({}) has 2 candidates: {} and {}; keep only the one to build from",
            at(&format!("meqsum/{name}")),
            at(&format!("meqsum/{name}")),
            at(&format!("meqsum/MeQSum-master/{name}"))
        )
    );
}

/// COVID-QA's release file changed name (`200423_covidQA.json` before `COVID-QA.json`): either
/// is read and gives the same rows; a checkout holding two releases is refused, naming both.
#[test]
fn covid_qa_reads_the_release_file_under_any_of_its_names() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("covid-qa/data/question-answering");
    copy_dir(
        &fixtures_root().join("covid-qa/data/question-answering"),
        &folder,
    );
    std::fs::rename(
        folder.join("COVID-QA.json"),
        folder.join("200423_covidQA.json"),
    )
    .unwrap();
    let dated = one_task("covid-qa", tmp.path());
    let final_release = one_task("covid-qa", &fixtures_root());
    let texts = |tb: &TaskBuild| -> Vec<(String, String)> {
        rows(tb).into_iter().map(|(_, i, o)| (i, o)).collect()
    };
    assert_eq!(texts(&dated), texts(&final_release));
    assert!(!dated.samples.is_empty());
    assert!(
        dated
            .samples
            .iter()
            .all(|s| s.source_file == "covid-qa/data/question-answering/200423_covidQA.json")
    );
    std::fs::copy(
        folder.join("200423_covidQA.json"),
        folder.join("COVID-QA.json"),
    )
    .unwrap();
    let cat = catalogue();
    let Resolution::Failed(m) = resolve_corpus(
        cat.get("covid-qa").unwrap(),
        tmp.path(),
        None,
        Checksums::Skip,
    ) else {
        panic!("two releases accepted")
    };
    let at = |name: &str| folder.join(name).display().to_string();
    assert_eq!(
        m.to_string(),
        format!(
            "covid-qa: file `covid-qa` ({}) has 2 candidates: {} and {}; keep only the one to build from",
            tmp.path()
                .join("covid-qa/data/question-answering/{COVID-QA,*_covidQA}.json")
                .display(),
            at("200423_covidQA.json"),
            at("COVID-QA.json")
        )
    );
}

/// Every sample of every task of `corpus` built from `raw`, as (task, input, output), with the
/// variant read.
fn corpus_rows(corpus: &str, raw: &Path) -> (String, Vec<(String, String, String)>) {
    let cat = catalogue();
    let lm = cat.get(corpus).unwrap();
    let Resolution::Ready(rc) = resolve_corpus(lm, raw, None, Checksums::Skip) else {
        panic!("{corpus} does not resolve from {}", raw.display())
    };
    let builds = build_corpus(lm, raw).unwrap();
    let rows = builds
        .iter()
        .flat_map(|tb| {
            tb.samples
                .iter()
                .map(|s| (tb.meta.task_id.clone(), s.input.clone(), s.output.clone()))
        })
        .collect();
    (rc.variant().to_string(), rows)
}

/// The Hugging Face copy of HEAD-QA serves both languages in one archive,
/// data/head-qa-es-en-pdfs.zip, holding HEAD/ and HEAD_EN/ side by side: the member patterns read
/// it like the authors' two archives, with the same rows.
#[test]
fn headqa_combined_hub_archive_gives_the_rows_of_the_two_archives() {
    let unpacked = repo().join("fixtures/variants/headqa/authors/headqa");
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("headqa/data");
    std::fs::create_dir_all(&data).unwrap();
    let zip_file = std::fs::File::create(data.join("head-qa-es-en-pdfs.zip")).unwrap();
    let mut z = zip::ZipWriter::new(zip_file);
    for folder in ["HEAD", "HEAD_EN"] {
        let mut names: Vec<_> = std::fs::read_dir(unpacked.join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            z.start_file(
                format!("{folder}/{name}"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            let bytes = std::fs::read(unpacked.join(folder).join(&name)).unwrap();
            std::io::Write::write_all(&mut z, &bytes).unwrap();
        }
    }
    z.finish().unwrap();
    let (variant, combined) = corpus_rows("headqa", tmp.path());
    assert_eq!(variant, "authors-zip");
    let (variant, two) = corpus_rows(
        "headqa",
        &repo().join("fixtures/variants/headqa/authors-zip"),
    );
    assert_eq!(variant, "authors-zip");
    assert_eq!(combined, two);
    let (variant, unzipped) =
        corpus_rows("headqa", &repo().join("fixtures/variants/headqa/authors"));
    assert_eq!(variant, "authors");
    assert_eq!(unzipped, two);
}

/// A clone of pubmedqa/pubmedqa holds PQA-L only; with PQA-A downloaded beside it, task 12
/// (SNI task846's layout) reads PQA-A, the other tasks are unchanged.
#[test]
fn pubmedqa_pqa_a_feeds_task_12_when_present() {
    let (variant, clone) = corpus_rows(
        "pubmedqa",
        &repo().join("fixtures/variants/pubmedqa/github"),
    );
    assert_eq!(variant, "github");
    let (variant, with_pqaa) = corpus_rows(
        "pubmedqa",
        &repo().join("fixtures/variants/pubmedqa/authors"),
    );
    assert_eq!(variant, "authors");
    let task = |rows: &[(String, String, String)], id: &str| -> Vec<(String, String)> {
        rows.iter()
            .filter(|r| r.0 == id)
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect()
    };
    let t12 = "task12_pubmedqa_classification";
    assert_ne!(task(&clone, t12), task(&with_pqaa, t12));
    assert!(
        task(&with_pqaa, t12)
            .iter()
            .all(|(i, o)| i.starts_with("Question: ")
                && i.contains("\nAnswer: ")
                && (o == "yes" || o == "no"))
    );
    let others = |rows: &[(String, String, String)]| -> Vec<(String, String, String)> {
        rows.iter().filter(|r| r.0 != t12).cloned().collect()
    };
    assert_eq!(others(&clone), others(&with_pqaa));
}

/// The hallmarks of every HoC labels file under `labels`, found without medsins' operators:
/// each `<` entry split at `AND`, the part before the first `--` with its whitespace runs made
/// one space; the ten names in the definition's order. Abstracts without one are left out.
fn hoc_hallmarks(labels: &Path) -> std::collections::BTreeMap<String, String> {
    const HALLMARKS: [&str; 10] = [
        "Sustaining proliferative signaling",
        "Evading growth suppressors",
        "Resisting cell death",
        "Enabling replicative immortality",
        "Inducing angiogenesis",
        "Activating invasion and metastasis",
        "Genomic instability and mutation",
        "Tumor promoting inflammation",
        "Cellular energetics",
        "Avoiding immune destruction",
    ];
    let mut found = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(labels).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let named: std::collections::BTreeSet<String> = text
            .split('<')
            .flat_map(|entry| entry.split("AND"))
            .map(|label| {
                let top = label.split("--").next().unwrap_or("");
                top.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        let hallmarks: Vec<&str> = HALLMARKS
            .into_iter()
            .filter(|h| named.contains(*h))
            .collect();
        if !hallmarks.is_empty() {
            let pmid = p.file_stem().unwrap().to_string_lossy().into_owned();
            found.insert(pmid, hallmarks.join(", "));
        }
    }
    found
}

fn hoc_rows(tb: &TaskBuild) -> std::collections::BTreeMap<String, String> {
    tb.samples
        .iter()
        .map(|s| {
            let pmid = s.source_locator.trim_end_matches(".txt").to_string();
            (pmid, s.output.clone())
        })
        .collect()
}

#[test]
fn hoc_every_hallmark_of_every_labelled_abstract_fixture_and_real_release() {
    let fixture = one_task("hoc", &fixtures_root());
    let want = hoc_hallmarks(&fixtures_root().join("hoc/labels"));
    assert_eq!(want.len(), 4);
    assert_eq!(hoc_rows(&fixture), want);
    let Some(shared) = shared() else {
        return skip("../shared is absent: the real HoC check needs it beside the repository");
    };
    let root = shared.join("corpora");
    let labels = [
        "hoc/labels",
        "hoc/Hallmarks-of-Cancer-master/labels",
        "hoc/Hallmarks-of-Cancer/labels",
    ]
    .map(|l| root.join(l))
    .into_iter()
    .find(|l| l.is_dir());
    let Some(labels) = labels else {
        return skip("../shared/corpora has no HoC release (hoc/labels): real HoC not checked");
    };
    let real = one_task("hoc", &root);
    let want = hoc_hallmarks(&labels);
    let got = hoc_rows(&real);
    let wrong: Vec<_> = want
        .iter()
        .filter(|(pmid, h)| got.get(*pmid) != Some(*h))
        .take(5)
        .collect();
    println!("HoC: {} labelled abstracts, {} rows", want.len(), got.len());
    assert!(
        wrong.is_empty(),
        "{} abstracts differ, e.g. {wrong:?}",
        wrong.len()
    );
    assert_eq!(got.len(), want.len());
}

/// The eleven corpora of issue #13, each placed in `../shared/corpora/<id>` as its authors ship
/// it: when present, the build reads a distribution of the authors (not a redistribution),
/// and turns at least 99 % of every file's records into rows, apart from the records its
/// manifest declares it removes (`expected_yield`), with every record accounted for. Absent
/// ones are named and skipped.
#[test]
fn the_eleven_author_releases_build_99_percent_of_their_records_when_present() {
    let Some(shared) = shared() else {
        return skip("../shared is absent: the author releases need it beside the repository");
    };
    let root = shared.join("corpora");
    let cat = catalogue();
    let mut absent = Vec::new();
    for corpus in [
        "medicationqa",
        "hoc",
        "medquad",
        "liveqa",
        "igakuqa",
        "bioasq",
        "frenchmedmcqa",
        "rumedbench",
        "ade-corpus",
        "headqa",
        "covid-qa",
    ] {
        if !root.join(corpus).is_dir() {
            absent.push(corpus);
            continue;
        }
        let lm = cat.get(corpus).unwrap();
        let Resolution::Ready(rc) = resolve_corpus(lm, &root, None, Checksums::Skip) else {
            panic!("{corpus}: present in ../shared/corpora but not buildable");
        };
        let variant = rc.variant().to_string();
        assert!(
            !["hub", "mmedbench", "sni"].contains(&variant.as_str()),
            "{corpus}: read the redistribution `{variant}`"
        );
        for t in &rc.manifest.manifest.tasks {
            let tb = rc
                .render_task(t.id.get_ref(), 0, std::slice::from_ref(&t.definition), None)
                .unwrap();
            for f in &tb.files {
                assert!(f.balanced(), "{corpus}: {f:?}");
                let share = f.kept as f64 / f.units().max(1) as f64;
                println!(
                    "{corpus} {} {}: {:.2} % of {} records",
                    tb.meta.task_id,
                    f.file,
                    share * 100.0,
                    f.units()
                );
                assert!(
                    share >= 0.99 || f.expected_yield.is_some(),
                    "{corpus} {}: {f:?}",
                    tb.meta.task_id
                );
            }
        }
    }
    if !absent.is_empty() {
        skip(&format!(
            "not in ../shared/corpora, not checked on real files: {}",
            absent.join(", ")
        ));
    }
}

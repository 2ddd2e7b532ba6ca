//! `medsins synth`: synthetic raw corpora at MedS-Ins scale, for benchmarks and scale tests.
//!
//! # What the synthetic root is
//!
//! A raw root (one folder per corpus, as `medsins build --raw-root` expects) in which every
//! file the catalogue declares is written in its real raw layout — same file names, columns,
//! JSON members, XML elements and attributes, OBO tags, IOB columns, zip members, folders of
//! text files behind an index — by replicating the corpus's fixture (`fixtures/raw/...`), so
//! that `medsins build` of the root yields about `scale ×` MedS-Ins's per-corpus instance
//! counts ([`TARGETS`], ≈ 5.13M at `scale = 1.0`). Same options → same bytes. The root gets a
//! [`SYNTH_MARKER`] file of its own: `synth` refuses any other non-empty folder (it never
//! overwrites real releases), and its files are not the releases, so it is built with
//! `--skip-checksums` (`Checksums::Skip`), a choice the lock and the card record.
//!
//! - **Records.** Fixture record `k` in replica round `r` (round 0 = the fixture itself,
//!   unchanged) is varied by a seeded variant ([`formats`]): prose gets same-length word
//!   substitutions and filler sentences in its own style ([`text`]); table cells not under a
//!   rule are redrawn from their column (numbers within the column's range, categories among
//!   its values); ids are re-keyed per round (`Key`/`Refs`/`Code` rules), and lookup tables
//!   joined on them are written with the same rounds ([`rules::LINKS`]), so joins, groups by
//!   key and self-joins keep resolving. Layouts beyond one stream ([`special`]): DDXPlus
//!   patients are drawn from evidence and condition tables extended to the release's size
//!   (223 evidences, 49 conditions, every drawn code present in the written JSON); MIMIC-CXR
//!   reports are one file per index row; HoC, brat and MedQuAD folders get re-keyed files;
//!   Disease Ontology terms and LiveQA's Parquet rows are replicated like any record.
//! - **Lengths.** Main text fields grow to the real corpus's mean length (each record draws
//!   0.5–1.5 × it): the table in [`rules::FIELDS`] gives each figure and its source
//!   (measured on `../shared/corpora`, or an estimate). Section headers (`FINDINGS:`,
//!   `IMPRESSION:`, `EXAMINATION:` lines, `Discharge Instructions:`), options an answer points
//!   to, entity token indices, answer offsets and annotation offsets stay valid.
//! - **Counts.** Each corpus's target is divided over the files its tasks read in proportion
//!   to their fixture record counts, through a per-task yield — built samples per emitted
//!   record, [`YIELDS`], measured once on a `--dup-rate 0` build of this root at scale 0.1 —
//!   and the label caps of capped tasks ([`CAPS`], modelled per label set); the exact duplicates
//!   `--dup-rate` asks for are added on top, so the count *after* exact dedup hits the target.
//!   Files several corpora read (MMedBench's languages: IgakuQA, RuMedBench, FrenchMedMCQA,
//!   HeadQA) are sized by the smallest corpus reading them first, the larger one filling the
//!   rest from its other files.
//! - **Duplicates.** `--dup-rate` is the fraction of emitted records (in record files) that
//!   are exact copies of earlier ones. Lookup tables written with their record file's rounds,
//!   and folders whose file names other files join on (HoC, brat), hold none.
//!
//! # What it is not
//!
//! - Not real data, and not realistic content: filler is drawn from small vocabularies
//!   (English, Chinese, Russian medical words), so token statistics, near-duplicate structure
//!   and label distributions are synthetic (labels are the fixture's, or drawn from its
//!   columns); DDXPlus's generated evidences and conditions are word salad with valid codes.
//! - Not exact, and not below fixture size. Measured (seed 0, default `--dup-rate 0.02`,
//!   `stats.json` `per_corpus`): at scale 0.1, 511,653 samples for a target of 512,796
//!   (0.998), every corpus within ±3 % of its target except the four smallest; at 0.01,
//!   51,157 for 51,280 (0.998), every corpus within ±12 % except seven. The exceptions are
//!   corpora whose `scale × target` is below what their fixture alone yields: they are written
//!   at fixture size (every fixture record once) and overshoot — at 0.1 LIMA (4 built for
//!   3); at 0.01 also PICO, AnEM, MEDIQA-AnS, NCBI-disease, Linnaeus and BC5CDR-disease
//!   (targets of 0.3 to 11 samples).
//! - Not checked above scale 0.1 by a build: yields are properties of the fixtures and
//!   manifests, so they hold at any scale, and the radiology label caps, which bind only
//!   above ≈ 0.25, are modelled exactly for the fixture's label sets ([`CAPS`]).
//! - Not small: realistic lengths make the root ≈ 1.13 GB at 0.1 and ≈ 11.4 GB at 1.0
//!   (MIMIC-IV discharge notes alone 4.2 GB, PubMed articles 2.3 GB); `synth` streams every
//!   file (records rendered in parallel chunks, written in order; peak RSS ≈ 200 MB) and is
//!   bound by the disk at that size.

mod error;
pub mod formats;
pub mod rules;
pub mod special;
pub mod text;

pub use error::SynthError;
use formats::{BlockKind, Blocks, Ctx, Family, JsonDoc, JsonLines, Table, Workbook, XmlDoc};
use medsins_manifest::{Catalogue, RawFile};
use rayon::prelude::*;
use rules::rules_for;
use special::{
    DdxPatients, DdxPools, DdxTables, Obo, ParquetTable, TextFiles, TextFolder, Tree, XmlFolder,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// MedS-Ins instances per corpus (corpora.md, "≈ instances", read off the paper's figure).
/// Corpora not listed get [`DEFAULT_INSTANCES`].
pub const TARGETS: &[(&str, u64)] = &[
    ("mimic4ed", 1_150_000),
    ("ddxplus", 1_020_000),
    ("pmc-patients", 451_000),
    ("mimic-iv-radiology", 376_000),
    ("medmcqa", 343_000),
    ("mimic-iv-discharge", 296_000),
    ("pubmedqa", 240_000),
    ("cmedqa2", 203_000),
    ("chatdoctor", 112_000),
    ("mimic-cxr", 109_000),
    ("pubmed-summarization", 108_000),
    ("mimic-iv-icd10", 99_000),
    ("icd10cm", 98_000),
    ("pubmed-mesh", 45_000),
    ("mmedbench", 45_000),
    ("medqa", 37_600),
    ("seer", 32_000),
    ("medalpaca", 31_000),
    ("disease-ontology", 29_000),
    ("mashqa", 28_000),
    ("bc4chemd", 28_000),
    ("radiopaedia-ner", 27_000),
    ("biolord", 27_000),
    ("readability-plos", 23_000),
    ("mednli", 20_000),
    ("medlineplus", 20_000),
    ("medquad", 15_000),
    ("litcovid", 14_500),
    ("wikidoc", 14_000),
    ("ms2", 13_000),
    ("headqa", 12_000),
    ("bioasq", 8_200),
    ("ecdc-tm", 6_600),
    ("healthfact", 6_200),
    ("species800", 5_200),
    ("catalonia-independence", 4_400),
    ("ade-corpus", 4_400),
    ("bc5cdr", 4_100),
    ("rct-summarization", 3_400),
    ("ebms", 3_100),
    ("medical-question-pairs", 2_700),
    ("frenchmedmcqa", 2_200),
    ("covid-qa", 1_800),
    ("igakuqa", 1_600),
    ("hoc", 1_400),
    ("pico-ebmnlp", 1_100),
    ("rumedbench", 1_000),
    ("bc2gm", 1_000),
    ("meqsum", 900),
    ("clinical-trials-gov", 900),
    ("medicationqa", 500),
    ("liveqa", 460),
    ("anem", 200),
    ("mediqa-ans", 140),
    ("linnaeus", 130),
    ("ncbi-disease", 130),
    ("bc5cdr-disease", 70),
    ("lima", 30),
];
pub const DEFAULT_INSTANCES: u64 = 1_000;

pub fn instances(corpus_id: &str) -> u64 {
    TARGETS
        .iter()
        .find(|(c, _)| *c == corpus_id)
        .map(|(_, n)| *n)
        .unwrap_or(DEFAULT_INSTANCES)
}

/// Built samples per emitted record of the task's record files (after filters, section
/// extraction, grouping, explode, joins), measured on a `--dup-rate 0` build of the synthetic
/// root at scale 0.1 (`samples` of the task in `stats.json` ÷ records this crate wrote to
/// the task's files; `records` of `synth --format json`). Tasks not listed yield 1.0 (within
/// 3 %). They are properties of the fixtures and manifests (which fixture records a filter,
/// a missing section or a held-out join drops, how many records a group or an explode
/// makes), so they hold at any scale; re-measure when a fixture or a manifest changes.
/// MASH-QA's was measured before its questions were varied (duplicate questions removed as
/// exact duplicates are counted back in).
pub const YIELDS: &[(&str, f64)] = &[
    // (task, yield), // samples / records at scale 0.1, --dup-rate 0, seed 0
    ("task48_biolord_definition_concept_matching", 0.3333), // 300 / 900
    (
        "task77_clinical_trials_gov_data_named_entity_recognition",
        0.2556,
    ), // 23 / 90
    ("task120_cmedqa2_question_answering", 0.8000),         // 16240 / 20300
    ("task105_covidqa_question_answering", 2.0000),         // 360 / 180
    ("task45_do_synonym_generation", 0.4995),               // 483 / 967
    ("task46_do_entity_explanation", 0.6670),               // 645 / 967
    ("task47_do_relation_classification", 0.5832),          // 564 / 967
    ("task100_ebms_answer_vertification", 1.3355),          // 207 / 155
    ("task18_healthfact_sentence_generation", 0.6667),      // 124 / 186
    ("task106_hoc_text_classification", 0.7500),            // 105 / 140
    ("task115_icd10_code_explanation", 3.5000),             // 34300 / 9800
    ("task40_lima_medical_question_answering", 0.5000),     // 2 / 4
    ("task108_litcovid_text_classification", 0.8572),       // 1243 / 1450
    ("task101_mashqa_question_answering", 2.3332),          // 6533 / 2800
    ("task65_medicationqa_question_answering", 0.8000),     // 40 / 50
    ("task102_mediqa_ans_question_answering", 0.9286),      // 13 / 14
    ("task97_medlineplus_drug_question_answering", 1.9900), // 199 / 100
    ("task98_medlineplus_encyclopedia_title_generation", 0.6667), // 100 / 150
    ("task132_fact_verication_short_medical_test_train", 0.4257), // 149 / 350
    ("task133_fact_verication_medical_paragraph", 0.4257),  // 149 / 350
    ("task134_fact_verication_medical_paragraph", 0.4257),  // 149 / 350
    ("task135_fact_verication_medical_paragraph", 0.4257),  // 149 / 350
    ("task136_fact_verication_medical_paragraph", 0.4257),  // 149 / 350
    ("task63_medmcqa_chain_of_thought", 0.6000),            // 10290 / 17150
    ("task42_mednli_textual_entailment_generative", 0.3865), // 194 / 502
    ("task43_mednli_wrong_textual_entailment_generative", 0.3088), // 155 / 502
    ("task44_mednli_textual_entailment_classification", 0.3307), // 166 / 502
    ("task103_medquad_question_answering", 1.3333),         // 2000 / 1500
    ("task112_mimic_cxr_text_summurization", 0.6000),       // 6540 / 10900
    (
        "task76_mimic_iv_note_discharge_instruction_completion",
        0.7500,
    ), // 22200 / 29600
    ("task116_mimic4_icd10_text_clissification", 0.7500),   // 7425 / 9900
    ("task78_mimic_ultrasound_summarization", 0.0876),      // 175 / 1998
    ("task79_mimic_angiography_summarization", 0.0591),     // 118 / 1998
    ("task80_mimic_mammogram_summarization", 0.0581),       // 116 / 1998
    ("task81_mimic_pathology_summarization", 0.0586),       // 117 / 1998
    ("task82_mimic_fluoroscopy_summarization", 0.0586),     // 117 / 1998
    ("task83_mimic_ct_chest_summarization", 0.0591),        // 118 / 1998
    ("task84_mimic_ct_head_and_neck_summarization", 0.0591), // 118 / 1998
    ("task85_mimic_ct_brain_summarization", 0.0591),        // 118 / 1998
    ("task86_mimic_ct_abdomen_summarization", 0.0591),      // 118 / 1998
    ("task87_mimic_ct_pelvis_summarization", 0.0591),       // 118 / 1998
    ("task88_mimic_ct_spine_summarization", 0.0591),        // 118 / 1998
    ("task89_mimic_mri_chest_summarization", 0.0591),       // 118 / 1998
    ("task90_mimic_mri_head_and_neck_summarization", 0.0591), // 118 / 1998
    ("task91_mimic_mri_brain_summarization", 0.0591),       // 118 / 1998
    ("task92_mimic_mri_abdomen_summarization", 0.0591),     // 118 / 1998
    ("task93_mimic_mri_pelvis_summarization", 0.0591),      // 118 / 1998
    ("task94_mimic_mri_spine_summarization", 0.0591),       // 118 / 1998
    ("task95_mimic_modality_classification", 0.9119),       // 1822 / 1998
    ("task96_mimic_anatomy_classification", 0.8258),        // 1650 / 1998
    ("task109_ms2_text_summurization", 0.6257),             // 814 / 1301
    ("task75_pmc_patient_similar_case_retrieval", 0.6000),  // 9021 / 15034
    ("task11_pubmedqa_question_generation", 0.6667),        // 2667 / 4000
    ("task12_pubmedqa_classification", 1.3330),             // 5332 / 4000
    ("task13_pubmedqa_question_generation", 0.6667),        // 2667 / 4000
    ("task14_pubmedqa_classification", 0.6667),             // 2667 / 4000
    ("task15_pubmedqa_answer_generation", 0.6667),          // 2667 / 4000
    ("task124_pubmedqa_train_set", 0.6667),                 // 2667 / 4000
    ("task110_rct_text_summurization", 0.5559),             // 189 / 340
    ("task113_readibility_text_summurization", 0.7500),     // 1725 / 2300
    ("task131_SEER_text_classification_train", 0.9700),     // 3104 / 3200
];

/// `(task, records per label at most, [(label, share)])`.
pub type LabelCaps = (&'static str, u64, &'static [(&'static str, f64)]);

/// Tasks with a per-label cap (`keyword_label … cap`): (task, cap, label sets with their
/// samples per emitted record). A record is dropped once any of its labels has reached the
/// cap (the operator counts in file order), so label `l` is full after `cap / Σ share of the
/// sets holding l` records, and a set yields `share × min(records, the first of its labels'
/// full points)`. Shares are the fixture's label frequencies
/// (`fixtures/expected/mimic-iv-radiology.jsonl`, 34 reports), which the synthetic radiology
/// file keeps: it cycles through the fixture's reports and never varies their upper-case
/// `EXAMINATION:` lines, the only text the labels are read from.
pub const CAPS: &[LabelCaps] = &[
    (
        "task95_mimic_modality_classification",
        10_000,
        &[
            ("MRI", 10.0 / 34.0),
            ("CT", 8.0 / 34.0),
            ("Ultrasound", 3.0 / 34.0),
            ("CT+Angiography", 2.0 / 34.0),
            ("Pathology", 2.0 / 34.0),
            ("Fluoroscopy", 2.0 / 34.0),
            ("Mammogram", 2.0 / 34.0),
            ("X-ray", 1.0 / 34.0),
            ("CT+MRI", 1.0 / 34.0),
        ],
    ),
    (
        "task96_mimic_anatomy_classification",
        10_000,
        &[
            ("Chest", 6.0 / 34.0),
            ("Head_and_neck", 5.0 / 34.0),
            ("Pelvis", 5.0 / 34.0),
            ("Brain", 4.0 / 34.0),
            ("Abdomen", 4.0 / 34.0),
            ("Spine", 4.0 / 34.0),
        ],
    ),
];

/// Samples of a capped task for `records` emitted records (see [`CAPS`]).
fn capped(cap: u64, sets: &[(&str, f64)], records: f64) -> f64 {
    let full = |label: &str| -> f64 {
        let share: f64 = sets
            .iter()
            .filter(|(s, _)| s.split('+').any(|l| l == label))
            .map(|(_, x)| x)
            .sum();
        cap as f64 / share
    };
    sets.iter()
        .map(|(set, share)| {
            let until = set.split('+').map(full).fold(f64::INFINITY, f64::min);
            share * records.min(until)
        })
        .sum()
}

fn yield_of(task: &str) -> f64 {
    YIELDS
        .iter()
        .find(|(t, _)| *t == task)
        .map(|(_, y)| *y)
        .unwrap_or(1.0)
}

/// The file `synth` writes at the top of every root it makes; its first line is
/// [`SYNTH_SIGNATURE`]. `synth` writes only into an empty folder or one holding it, so it can
/// never overwrite a raw root of real releases.
pub const SYNTH_MARKER: &str = "SYNTHETIC.md";
pub const SYNTH_SIGNATURE: &str =
    "<!-- medsins-synth raw root: written by `medsins synth`, never real data -->";

/// Makes sure `out` may be written: it is new, empty, or an earlier synth output; the marker
/// is written first, so that an interrupted run can be redone.
fn claim_root(out: &Path) -> Result<(), SynthError> {
    let marker = out.join(SYNTH_MARKER);
    let ours =
        std::fs::read_to_string(&marker).is_ok_and(|t| t.lines().next() == Some(SYNTH_SIGNATURE));
    let empty = match std::fs::read_dir(out) {
        Ok(mut rd) => rd.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(SynthError::io(out)(e)),
    };
    if !ours && !empty {
        return Err(SynthError::NotOurs {
            path: out.to_path_buf(),
            marker: SYNTH_MARKER,
        });
    }
    std::fs::create_dir_all(out).map_err(SynthError::io(out))?;
    if !ours {
        std::fs::write(&marker, format!("{SYNTH_SIGNATURE}\n\n(being written)\n"))
            .map_err(SynthError::io(&marker))?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub scale: f64,
    pub seed: u64,
    /// Fraction of emitted records that are exact duplicates of earlier ones.
    pub dup_rate: f64,
}

/// What was written for one raw path (or zip member).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SynthFile {
    pub path: String,
    /// `replicated`, `generated` (DDXPlus tables), `copied` or `absent`
    pub how: String,
    pub records: usize,
    pub note: String,
}

/// The plan for one corpus: its target and the samples the plan expects a build to yield.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SynthCorpus {
    pub corpus_id: String,
    pub target: f64,
    pub expected: f64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SynthReport {
    pub files: Vec<SynthFile>,
    pub corpora: Vec<SynthCorpus>,
    /// Records written (record files and linked lookups).
    pub records: u64,
    pub bytes: u64,
}

/// The manifest as the fixture root holds it: the first distribution (variant) whose files are
/// all there, each path pattern or file set replaced by the fixture files it matches (one file
/// entry each, ids `<id>`, `<id>~2`, …, tasks reading all of them), so that every entry names
/// one fixture file or folder.
fn fixture_view(
    m: &medsins_manifest::Manifest,
    fixtures: &Path,
) -> Result<medsins_manifest::Manifest, SynthError> {
    let expand =
        |v: &medsins_manifest::Manifest| -> Result<Option<medsins_manifest::Manifest>, SynthError> {
            let mut out = v.clone();
            out.files.clear();
            let mut renamed: HashMap<String, Vec<String>> = HashMap::new();
            for f in &v.files {
                let folder = rel_path(m.id(), f);
                let folder = &folder[..folder.len() - f.path.get_ref().len()];
                let matches: Vec<String> =
                    if f.many || medsins_manifest::is_pattern(f.path.get_ref()) {
                        let pattern = medsins_manifest::PathPattern::parse(f.path.get_ref())
                            .map_err(|source| SynthError::Pattern {
                                path: f.path.get_ref().clone(),
                                source,
                            })?;
                        let mut found: Vec<String> = pattern
                            .find(&fixtures.join(folder))?
                            .into_iter()
                            .map(|(rel, _)| rel)
                            .collect();
                        found.sort_by(|a, b| medsins_manifest::natural_cmp(a, b));
                        found
                    } else {
                        vec![f.path.get_ref().clone()]
                    };
                if matches.is_empty() || !fixtures.join(folder).join(&matches[0]).exists() {
                    return Ok(None);
                }
                for (k, path) in matches.into_iter().enumerate() {
                    let mut one = f.clone();
                    if k > 0 {
                        one.id = medsins_manifest::Spanned::new(
                            0..0,
                            format!("{}~{}", f.id.get_ref(), k + 1),
                        );
                    }
                    one.path = medsins_manifest::Spanned::new(0..0, path);
                    one.many = false;
                    renamed
                        .entry(f.id.get_ref().clone())
                        .or_default()
                        .push(one.id.get_ref().clone());
                    out.files.push(one);
                }
            }
            for t in &mut out.tasks {
                if let Some(ids) = &mut t.files {
                    *ids = ids
                        .iter()
                        .flat_map(|id| renamed.get(id.get_ref()).cloned().unwrap_or_default())
                        .map(|id| medsins_manifest::Spanned::new(0..0, id))
                        .collect();
                }
            }
            Ok(Some(out))
        };
    for v in m
        .variant_ids()
        .into_iter()
        .filter_map(|id| m.for_variant(id))
    {
        if let Some(view) = expand(&v)? {
            return Ok(view);
        }
    }
    Ok(m.clone())
}

fn rel_path(corpus: &str, f: &RawFile) -> String {
    let folder = f
        .root
        .as_ref()
        .map(|r| r.get_ref().as_str())
        .unwrap_or(corpus);
    format!("{folder}/{}", f.path.get_ref())
}

type Key = (String, Option<String>);

fn key_str(k: &Key) -> String {
    match &k.1 {
        Some(m) => format!("{}!{m}", k.0),
        None => k.0.clone(),
    }
}

fn parse_family(
    format: &str,
    bytes: &[u8],
    f: &RawFile,
    rel: &str,
) -> std::io::Result<Box<dyn Family>> {
    let o = &f.options;
    let rules = rules_for(rel);
    let delim = |d: u8| {
        o.delimiter
            .as_ref()
            .and_then(|s| s.bytes().next())
            .unwrap_or(d)
    };
    Ok(match format {
        "jsonl" => Box::new(JsonLines::parse(bytes, rules)?),
        "json" => Box::new(JsonDoc::parse(
            bytes,
            o.records.as_deref().unwrap_or(""),
            None,
            rules,
        )?),
        "sni-task" => Box::new(JsonDoc::parse(bytes, "/Instances", Some("id"), rules)?),
        "csv" => Box::new(Table::parse(
            bytes,
            delim(b','),
            o.header.unwrap_or(true),
            &rules,
        )?),
        "tsv" => Box::new(Table::parse(
            bytes,
            delim(b'\t'),
            o.header.unwrap_or(true),
            &rules,
        )?),
        "iob" => Box::new(Blocks::parse(bytes, BlockKind::Iob, &rules)?),
        "pubtator" => Box::new(Blocks::parse(bytes, BlockKind::PubTator, &rules)?),
        "xml" => Box::new(XmlDoc::parse(
            bytes,
            o.records.as_deref().unwrap_or(""),
            rules,
        )?),
        "obo" => Box::new(Obo::parse(bytes, rules)?),
        other => return Err(std::io::Error::other(format!("format `{other}` is copied"))),
    })
}

enum Source {
    Stream(Box<dyn Family>),
    Xlsx(Workbook),
    Tree(Box<dyn Tree>),
}

impl Source {
    fn templates(&self) -> usize {
        match self {
            Source::Stream(f) => f.templates(),
            Source::Xlsx(w) => w.templates(),
            Source::Tree(t) => t.templates(),
        }
    }
    fn dups(&self) -> bool {
        match self {
            Source::Tree(t) => t.dups(),
            _ => true,
        }
    }
}

/// One replicated raw file, zip member or folder.
/// The planned files written into one output file: `(zip member, plan)`.
type Members<'a> = Vec<(Option<String>, &'a Planned)>;

struct Planned {
    source: Source,
    count: usize,
    /// the record file whose rounds this lookup follows
    link: Option<Key>,
    how: &'static str,
}

fn zip_member(path: &Path, member: &str) -> std::io::Result<Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path)?).map_err(std::io::Error::other)?;
    let mut m = z.by_name(member).map_err(std::io::Error::other)?;
    let mut v = Vec::new();
    m.read_to_end(&mut v)?;
    Ok(v)
}

/// DDXPlus-style patient tables (`EVIDENCES`, `PATHOLOGY`, `INITIAL_EVIDENCE` columns beside
/// `release_evidences.json` and `release_conditions.json`).
fn ddx_pools(
    fixtures: &Path,
    rel: &str,
    table: &Table,
    seed: u64,
    cache: &mut HashMap<String, Arc<DdxPools>>,
) -> Option<Arc<DdxPools>> {
    let h = table.header()?;
    let has = |c: &str| h.iter().any(|x| x == c);
    if !(has("EVIDENCES") && has("PATHOLOGY") && has("INITIAL_EVIDENCE")) {
        return None;
    }
    let dir = rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    if let Some(p) = cache.get(dir) {
        return Some(p.clone());
    }
    let base = fixtures.join(dir);
    let pools = DdxPools::build(
        &base.join("release_evidences.json"),
        &base.join("release_conditions.json"),
        seed,
    )
    .ok()?;
    let p = Arc::new(pools);
    cache.insert(dir.to_string(), p.clone());
    Some(p)
}

fn load(
    fixtures: &Path,
    rel: &str,
    f: &RawFile,
    seed: u64,
    ddx: &mut HashMap<String, Arc<DdxPools>>,
) -> std::io::Result<Source> {
    let path = fixtures.join(rel);
    let format = f.format.get_ref().as_str();
    let rules = rules_for(rel);
    let o = &f.options;
    match format {
        "xlsx" => {
            return Ok(Source::Xlsx(Workbook::parse(
                &path,
                o.sheet.as_deref(),
                &rules,
            )?));
        }
        "text-folder" => {
            return Ok(Source::Tree(Box::new(TextFolder::parse(
                fixtures,
                rel,
                o.path_column.as_deref().unwrap_or("path"),
                o.text_field.as_deref().unwrap_or("text"),
                &rules,
            )?)));
        }
        "text-files" => {
            return Ok(Source::Tree(Box::new(TextFiles::parse(
                fixtures,
                rel,
                o.extension.as_deref().unwrap_or(".txt"),
                &rules,
            )?)));
        }
        "parquet" => {
            return Ok(Source::Tree(Box::new(ParquetTable::parse(
                &path, rel, rules,
            )?)));
        }
        _ => {}
    }
    if path.is_dir() {
        if format == "xml" {
            return Ok(Source::Tree(Box::new(XmlFolder::parse(
                fixtures,
                rel,
                o.extension.as_deref().unwrap_or(""),
                rules,
            )?)));
        }
        return Err(std::io::Error::other("folders of this format are copied"));
    }
    if rel.ends_with(".gz") || o.compression.as_deref() == Some("gzip") {
        return Err(std::io::Error::other("gzip files are copied"));
    }
    let bytes = match (o.compression.as_deref(), &o.member) {
        (Some("zip"), Some(m)) => zip_member(&path, m)?,
        _ => std::fs::read(&path)?,
    };
    if format == "csv" {
        let t = Table::parse(&bytes, b',', o.header.unwrap_or(true), &rules)?;
        if let Some(pools) = ddx_pools(fixtures, rel, &t, seed, ddx) {
            return Ok(Source::Stream(Box::new(DdxPatients { table: t, pools })));
        }
    }
    Ok(Source::Stream(parse_family(format, &bytes, f, rel)?))
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<u64> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        let mut n = 0;
        let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            n += copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        Ok(n)
    } else {
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::copy(from, to)
    }
}

/// Copies files of a fixture folder that nothing else writes (undeclared files such as
/// MS^2's test split).
fn copy_missing(
    from: &Path,
    to: &Path,
    owned: &BTreeSet<String>,
    rel: &str,
) -> std::io::Result<u64> {
    if !from.is_dir() || owned.contains(rel) {
        return Ok(0);
    }
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = format!("{rel}/{name}");
        let dest = to.join(&name);
        if owned.contains(&r) {
            continue;
        }
        if e.path().is_dir() {
            n += copy_missing(&e.path(), &dest, owned, &r)?;
        } else if !dest.exists() {
            std::fs::create_dir_all(to)?;
            n += std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(n)
}

/// One task as the planner sees it.
struct TaskPlan {
    id: String,
    keys: Vec<Key>,
}

/// Expected built samples of a corpus's tasks for the given file counts.
fn expected(tasks: &[TaskPlan], count: &dyn Fn(&Key) -> f64) -> f64 {
    tasks
        .iter()
        .map(|t| {
            let units: f64 = t.keys.iter().map(count).sum();
            match CAPS.iter().find(|(id, _, _)| *id == t.id) {
                Some((_, cap, sets)) => capped(*cap, sets, units),
                None => yield_of(&t.id) * units,
            }
        })
        .sum()
}

/// What the catalogue asks synth to write: the replicated files, the ones copied as they are,
/// the DDXPlus pools, and each corpus's target and tasks.
struct SynthPlan {
    plan: BTreeMap<Key, Planned>,
    /// relative path → why it is copied, not replicated
    copies: BTreeMap<String, String>,
    ddx: HashMap<String, Arc<DdxPools>>,
    /// (corpus, target, tasks)
    corpora: Vec<(String, f64, Vec<TaskPlan>)>,
}

/// Writes the synthetic raw root. `fixtures` is the fixture raw root (`fixtures/raw`).
pub fn synth(
    cat: &Catalogue,
    fixtures: &Path,
    out: &Path,
    o: &SynthOptions,
) -> Result<SynthReport, SynthError> {
    claim_root(out)?;
    let mut sp = plan_files(cat, fixtures, o)?;
    add_ddx_tables(&mut sp);
    let mut report = SynthReport {
        corpora: size_plan(&mut sp, o),
        ..SynthReport::default()
    };
    copy_fixtures(&mut sp, fixtures, out, &mut report)?;
    write_planned(&sp.plan, fixtures, out, o, &mut report)?;
    report.records = report.files.iter().map(|f| f.records as u64).sum();
    std::fs::write(
        out.join(SYNTH_MARKER),
        format!(
            "{SYNTH_SIGNATURE}\n\nSynthetic raw root written by `medsins synth --scale {} --seed {} --dup-rate {}`: fixture\n\
             records replicated and varied, never real data. Its files are not the releases, so build it with\n\
             `medsins build --raw-root <this folder> --skip-checksums`. `medsins synth` writes into this folder\n\
             again only because of this file.\n",
            o.scale, o.seed, o.dup_rate
        ),
    )
    .map_err(SynthError::io(out.join(SYNTH_MARKER)))?;
    report.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

/// Which fixture files are replicated (record files and their linked lookups) and which are
/// copied, per corpus of the catalogue.
fn plan_files(cat: &Catalogue, fixtures: &Path, o: &SynthOptions) -> Result<SynthPlan, SynthError> {
    let links: HashMap<&str, &str> = rules::LINKS.iter().copied().collect();
    let mut plan: BTreeMap<Key, Planned> = BTreeMap::new();
    let mut copies: BTreeMap<String, String> = BTreeMap::new();
    let mut ddx: HashMap<String, Arc<DdxPools>> = HashMap::new();
    let mut corpora: Vec<(String, f64, Vec<TaskPlan>)> = Vec::new();
    for lm in &cat.manifests {
        let m = &fixture_view(&lm.manifest, fixtures)?;
        let record_files: BTreeSet<&str> = m
            .tasks
            .iter()
            .flat_map(|t| m.task_files(t).into_iter().map(|f| f.id.get_ref().as_str()))
            .collect();
        for f in &m.files {
            let rel = rel_path(m.id(), f);
            let member = (f.options.compression.as_deref() == Some("zip"))
                .then(|| f.options.member.clone())
                .flatten();
            let key = (rel.clone(), member);
            let link = links.get(key_str(&key).as_str()).map(|main| {
                let (p, m) = main
                    .split_once('!')
                    .map(|(p, m)| (p, Some(m.to_string())))
                    .unwrap_or((main, None));
                (p.to_string(), m)
            });
            if !record_files.contains(f.id.get_ref().as_str()) && link.is_none() {
                copies
                    .entry(rel)
                    .or_insert_with(|| "lookup or unused file".into());
                continue;
            }
            if plan.contains_key(&key) {
                continue;
            }
            match load(fixtures, &rel, f, o.seed, &mut ddx) {
                Ok(source) => {
                    let count = source.templates();
                    plan.insert(
                        key,
                        Planned {
                            source,
                            count,
                            link,
                            how: "replicated",
                        },
                    );
                }
                Err(e) => {
                    copies.entry(rel).or_insert_with(|| e.to_string());
                }
            }
        }
        let tasks = m
            .tasks
            .iter()
            .map(|t| {
                let mut keys: Vec<Key> = Vec::new();
                for f in m.task_files(t) {
                    let rel = rel_path(m.id(), f);
                    let member = (f.options.compression.as_deref() == Some("zip"))
                        .then(|| f.options.member.clone())
                        .flatten();
                    let k = (rel, member);
                    if plan.contains_key(&k) && !keys.contains(&k) {
                        keys.push(k);
                    }
                }
                TaskPlan {
                    id: t.id.get_ref().clone(),
                    keys,
                }
            })
            .collect();
        corpora.push((
            m.id().to_string(),
            o.scale * instances(m.id()) as f64,
            tasks,
        ));
    }
    Ok(SynthPlan {
        plan,
        copies,
        ddx,
        corpora,
    })
}

/// DDXPlus evidence and condition tables, generated with the patients' codes.
fn add_ddx_tables(sp: &mut SynthPlan) {
    let (plan, copies, ddx) = (&mut sp.plan, &mut sp.copies, &sp.ddx);
    for (dir, pools) in ddx.iter() {
        let t = DdxTables {
            pools: pools.clone(),
            evidences: format!("{dir}/release_evidences.json"),
            conditions: format!("{dir}/release_conditions.json"),
        };
        for p in t.owns() {
            copies.remove(&p);
        }
        plan.insert(
            (t.evidences.clone(), None),
            Planned {
                source: Source::Tree(Box::new(t)),
                count: 1,
                link: None,
                how: "generated",
            },
        );
    }
}

/// Record counts per planned file, so that each corpus reaches its target.
fn size_plan(sp: &mut SynthPlan, o: &SynthOptions) -> Vec<SynthCorpus> {
    let (plan, corpora) = (&mut sp.plan, &mut sp.corpora);
    // sizes: corpora with the smallest targets first, so that a file several corpora read is
    // sized by the one for which it is the only file
    let dup_factor = 1.0 - o.dup_rate;
    let templates: HashMap<Key, usize> = plan
        .iter()
        .map(|(k, p)| (k.clone(), p.source.templates()))
        .collect();
    let dups: HashMap<Key, bool> = plan
        .iter()
        .map(|(k, p)| (k.clone(), p.source.dups()))
        .collect();
    let linked: BTreeSet<Key> = plan
        .iter()
        .filter(|(_, p)| p.link.is_some())
        .map(|(k, _)| k.clone())
        .collect();
    let mut pinned: HashMap<Key, usize> = HashMap::new();
    corpora.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut sized = Vec::new();
    for (id, target, tasks) in corpora.iter() {
        let free: Vec<Key> = tasks
            .iter()
            .flat_map(|t| t.keys.iter().cloned())
            .filter(|k| !pinned.contains_key(k) && !linked.contains(k))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let count_at = |pinned: &HashMap<Key, usize>, lambda: f64, k: &Key| -> usize {
            let n = templates[k];
            pinned
                .get(k)
                .copied()
                .unwrap_or_else(|| ((lambda * n as f64).round() as usize).max(n))
        };
        let at = |pinned: &HashMap<Key, usize>, lambda: f64| {
            expected(tasks, &|k: &Key| {
                let c = count_at(pinned, lambda, k) as f64;
                if dups[k] { c * dup_factor } else { c }
            })
        };
        let mut lambda = 0.0;
        if !free.is_empty() && at(&pinned, 0.0) < *target {
            let mut hi = 1.0;
            while at(&pinned, hi) < *target && hi < 1e9 {
                hi *= 2.0;
            }
            let mut lo = 0.0;
            for _ in 0..60 {
                let mid = (lo + hi) / 2.0;
                if at(&pinned, mid) < *target {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            lambda = hi;
        }
        for k in &free {
            let c = count_at(&pinned, lambda, k);
            pinned.insert(k.clone(), c);
        }
        let exp = at(&pinned, lambda);
        sized.push(SynthCorpus {
            corpus_id: id.clone(),
            target: *target,
            expected: exp,
        });
    }
    sized.sort_by(|a: &SynthCorpus, b| a.corpus_id.cmp(&b.corpus_id));
    for (k, p) in plan.iter_mut() {
        if let Some(c) = pinned.get(k) {
            p.count = *c;
        }
    }
    // lookups follow their record file's rounds
    let rounds: HashMap<Key, usize> = plan
        .iter()
        .map(|(k, p)| (k.clone(), p.count.div_ceil(p.source.templates().max(1))))
        .collect();
    for p in plan.values_mut() {
        if let Some(main) = &p.link
            && let Some(r) = rounds.get(main)
        {
            p.count = r * p.source.templates();
        }
    }

    sized
}

/// Copies the fixture files that are not replicated, and whatever else the fixture folders
/// hold.
fn copy_fixtures(
    sp: &mut SynthPlan,
    fixtures: &Path,
    out: &Path,
    report: &mut SynthReport,
) -> Result<(), SynthError> {
    let (plan, copies) = (&sp.plan, &mut sp.copies);
    // a path replicated for one corpus is not also copied for another
    copies.retain(|rel, _| !plan.keys().any(|(r, _)| r == rel));
    for (rel, why) in copies.iter() {
        let from = fixtures.join(rel);
        if !from.exists() {
            report.files.push(SynthFile {
                path: rel.clone(),
                how: "absent".into(),
                records: 0,
                note: "no fixture".into(),
            });
            continue;
        }
        report.bytes += copy_tree(&from, &out.join(rel)).map_err(SynthError::io(&from))?;
        report.files.push(SynthFile {
            path: rel.clone(),
            how: "copied".into(),
            records: 0,
            note: why.clone(),
        });
    }
    // whatever else the fixture folders hold
    let mut owned: BTreeSet<String> = copies.keys().cloned().collect();
    for ((rel, _), p) in plan.iter() {
        owned.insert(rel.clone());
        if let Source::Tree(t) = &p.source {
            owned.extend(t.owns());
        }
    }
    let folders: BTreeSet<String> = owned
        .iter()
        .filter_map(|r| r.split('/').next().map(str::to_string))
        .collect();
    for folder in &folders {
        report.bytes += copy_missing(&fixtures.join(folder), &out.join(folder), &owned, folder)
            .map_err(SynthError::io(fixtures.join(folder)))?;
    }
    Ok(())
}

/// Writes every planned file (zip members grouped by archive), largest first, in parallel.
fn write_planned(
    plan: &BTreeMap<Key, Planned>,
    fixtures: &Path,
    out: &Path,
    o: &SynthOptions,
    report: &mut SynthReport,
) -> Result<(), SynthError> {
    // group zip members by archive; every other planned path is one output
    let mut outputs: BTreeMap<String, Members> = BTreeMap::new();
    for ((rel, member), p) in plan.iter() {
        outputs
            .entry(rel.clone())
            .or_default()
            .push((member.clone(), p));
    }
    let mut jobs: Vec<(&String, &Members)> = outputs.iter().collect();
    // largest first (records × the lengths their rules grow to), so that long files do not
    // start last
    let size = |rel: &str, p: &Planned| -> usize {
        let grown: usize = rules_for(rel)
            .0
            .iter()
            .map(|(_, r)| match r {
                rules::Rule::Grow(n, _) | rules::Rule::Extend(n) | rules::Rule::Embeds(n, _) => *n,
                _ => 0,
            })
            .sum();
        p.count * (200 + grown)
    };
    jobs.sort_by_key(|(rel, parts)| {
        std::cmp::Reverse(parts.iter().map(|(_, p)| size(rel, p)).sum::<usize>())
    });
    let written: Vec<Result<(u64, Vec<SynthFile>), SynthError>> = jobs
        .par_iter()
        .map(|(rel, parts)| write_output(fixtures, out, rel, parts, o))
        .collect();
    for w in written {
        let (bytes, files) = w?;
        report.bytes += bytes;
        report.files.extend(files);
    }
    Ok(())
}

fn write_output(
    fixtures: &Path,
    out: &Path,
    rel: &str,
    parts: &[(Option<String>, &Planned)],
    o: &SynthOptions,
) -> Result<(u64, Vec<SynthFile>), SynthError> {
    let dest: PathBuf = out.join(rel);
    let io = |e: std::io::Error| SynthError::io(&dest)(e);
    let zip_err = |e: zip::result::ZipError| SynthError::zip(&dest)(e);
    if let Some(p) = dest.parent() {
        std::fs::create_dir_all(p).map_err(io)?;
    }
    let cx = |key: String, p: &Planned| {
        Ctx::new(
            o.seed,
            if p.link.is_some() || !p.source.dups() {
                0.0
            } else {
                o.dup_rate
            },
            key,
        )
    };
    let mut files = Vec::new();
    let entry = |path: String, p: &Planned| SynthFile {
        path,
        how: p.how.into(),
        records: p.count,
        note: String::new(),
    };
    if parts.iter().any(|(m, _)| m.is_some()) {
        // a zip archive: replicated members (stored, not deflated: the readers do not care
        // and it keeps synth fast), the others copied
        let src = fixtures.join(rel);
        let mut z = zip::ZipArchive::new(std::fs::File::open(&src).map_err(io)?)
            .map_err(SynthError::zip(&src))?;
        let mut w = zip::ZipWriter::new(BufWriter::new(std::fs::File::create(&dest).map_err(io)?));
        let base = zip::write::SimpleFileOptions::default()
            .last_modified_time(zip::DateTime::default())
            .large_file(true);
        for i in 0..z.len() {
            let mut m = z.by_index(i).map_err(SynthError::zip(&src))?;
            let name = m.name().to_string();
            if m.is_dir() {
                w.add_directory(name, base).map_err(zip_err)?;
                continue;
            }
            match parts
                .iter()
                .find(|(mm, _)| mm.as_deref() == Some(name.as_str()))
            {
                Some((_, p)) => {
                    let Source::Stream(f) = &p.source else {
                        return Err(SynthError::NotStream {
                            member: format!("{rel}!{name}"),
                        });
                    };
                    w.start_file(
                        name.clone(),
                        base.compression_method(zip::CompressionMethod::Stored),
                    )
                    .map_err(zip_err)?;
                    f.emit(p.count, &cx(format!("{rel}!{name}"), p), &mut w)
                        .map_err(io)?;
                    files.push(entry(format!("{rel}!{name}"), p));
                }
                None => {
                    w.start_file(
                        name.clone(),
                        base.compression_method(zip::CompressionMethod::Deflated),
                    )
                    .map_err(zip_err)?;
                    std::io::copy(&mut m, &mut w).map_err(io)?;
                }
            }
        }
        w.finish().map_err(zip_err)?.flush().map_err(io)?;
        let bytes = std::fs::metadata(&dest).map_err(io)?.len();
        return Ok((bytes, files));
    }
    let p = parts[0].1;
    let bytes = match &p.source {
        Source::Stream(f) => {
            let mut w =
                BufWriter::with_capacity(1 << 20, std::fs::File::create(&dest).map_err(io)?);
            f.emit(p.count, &cx(rel.to_string(), p), &mut w)
                .map_err(io)?;
            w.flush().map_err(io)?;
            std::fs::metadata(&dest).map_err(io)?.len()
        }
        Source::Xlsx(wb) => {
            wb.write(p.count, &cx(rel.to_string(), p), &dest)
                .map_err(io)?;
            std::fs::metadata(&dest).map_err(io)?.len()
        }
        Source::Tree(t) => t.write(p.count, &cx(rel.to_string(), p), out).map_err(io)?,
    };
    files.push(entry(rel.to_string(), p));
    Ok((bytes, files))
}

#[cfg(test)]
mod tests {
    use super::*;
    use medsins_manifest::CatalogueSource;

    fn tiny() -> SynthOptions {
        SynthOptions {
            scale: 0.0001,
            seed: 0,
            dup_rate: 0.0,
        }
    }

    #[test]
    fn synth_refuses_a_folder_it_did_not_write_and_leaves_it_untouched() {
        let (cat, _) = CatalogueSource::Bundled.load();
        let fixtures = tempfile::tempdir().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("raw");
        let release = real.join("meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx");
        std::fs::create_dir_all(release.parent().unwrap()).unwrap();
        std::fs::write(&release, b"the real release").unwrap();
        // a marker someone else wrote (or an older FIXTURES.md) is no synth output either
        std::fs::write(real.join(SYNTH_MARKER), "# my notes\n").unwrap();
        std::fs::write(real.join("FIXTURES.md"), "# fixtures\n").unwrap();
        let e = synth(&cat, fixtures.path(), &real, &tiny()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: refusing to write a synthetic raw root into a folder that is not empty and was not written by `medsins synth` (no {SYNTH_MARKER} of its own): it may hold real releases. Give a new or empty folder to --out",
                real.display()
            )
        );
        assert_eq!(std::fs::read(&release).unwrap(), b"the real release");
        assert_eq!(
            std::fs::read_to_string(real.join(SYNTH_MARKER)).unwrap(),
            "# my notes\n"
        );
    }

    #[test]
    fn synth_writes_into_a_new_empty_or_earlier_synth_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let fresh = tmp.path().join("new");
        claim_root(&fresh).unwrap();
        let marker = std::fs::read_to_string(fresh.join(SYNTH_MARKER)).unwrap();
        assert_eq!(marker.lines().next(), Some(SYNTH_SIGNATURE));
        // an earlier (here: interrupted) synth output is ours to replace
        std::fs::write(fresh.join("partial.csv"), "a,b\n").unwrap();
        claim_root(&fresh).unwrap();
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        claim_root(&empty).unwrap();
        assert!(empty.join(SYNTH_MARKER).is_file());
    }
}

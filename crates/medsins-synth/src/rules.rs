//! Field rules: how each corpus's fields are varied, grown and re-keyed, with the target text
//! lengths and where each figure comes from.
//!
//! A rule names a raw path prefix under the raw root (a file, a zip archive, or a folder, e.g.
//! `mmedbench/Train/` for every file there, whichever corpus reads it) and a field: a column
//! of a table or workbook, a member name of a JSON record at any depth (a rule on a member
//! applies to its whole value), an element name (`Answer`) or attribute (`@id`) of an XML
//! record, a tag of an OBO stanza, `text` for the content of a text file, `tokens` for the
//! sentence of an IOB block. Fields without a rule get the default variation
//! ([`crate::text::vary`] for prose; for table cells, a value redrawn from the column, see
//! [`crate::formats::Table`]).
//!
//! Lengths are mean characters of one record's field (each record draws 0.5–1.5 × the mean;
//! fields already longer get one short sentence). "measured" figures are the mean length of
//! the field over the real file named, in `../shared/corpora` (as of this writing: BC2GM,
//! BC5CDR, ChatDoctor's GenMedGPT-5k, ICD-10-CM, Linnaeus, MedMCQA dev, MedQA US test,
//! MeQSum, eleven Super-NaturalInstructions task files, NCBI-disease, PubMedQA PQA-L,
//! Species-800); "proxy" figures are measured on a real corpus of the same kind (PubMed
//! abstracts for abstracts); "estimate" figures come from the corpus's paper or its known
//! shape, and say so. Fields without a figure keep the fixture's length (labels, names,
//! codes, short questions; ICD-10-CM descriptions, whose measured mean of 51 characters the
//! fixture already has).

use crate::text::Grow;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// Grow to about this many characters (mean), where [`Grow`] says. On a list of strings,
    /// the mean is for the whole list, shared by its elements.
    Grow(usize, Grow),
    /// A list of strings (sentences) gets new elements until it has about this many
    /// characters.
    Extend(usize),
    /// Same-length word substitution only: text other fields point into (answer spans,
    /// tokens with entity indices).
    Span,
    /// Never changed (labels, options an answer refers to, codes looked up elsewhere).
    Keep,
    /// An id: its first digit run is prefixed with the replica round (see [`crate::text::rekey`]).
    Key,
    /// An id shared by `k` consecutive rounds (a patient with several studies): first digit
    /// run prefixed with `round / k`.
    KeyEvery(u64),
    /// Text holding ids of the same corpus (every digit run of 5+ digits re-keyed the same way).
    Refs,
    /// ICD-10 codes re-coded per round ([`crate::text::recode`]).
    Code,
    /// A name shown as an input: substituted and numbered per round (`lorvane disease type 4`).
    Name,
    /// A token list sentence (list of token lists) grown to about this many characters by
    /// words inserted before its final token, with the same words inserted into the named
    /// text field before its final punctuation (entity token indices stay valid).
    Tokens(usize, &'static str),
    /// Grow at the end to about this many characters; where the text contains the named
    /// field's text (a summary quoted in its article), that copy follows the field's variation.
    Embeds(usize, &'static str),
}

pub struct FieldRule {
    pub path: &'static str,
    pub field: &'static str,
    pub rule: Rule,
    pub source: &'static str,
}

const fn r(path: &'static str, field: &'static str, rule: Rule, source: &'static str) -> FieldRule {
    FieldRule {
        path,
        field,
        rule,
        source,
    }
}

use Grow::{Before, End, Spread};
use Rule::*;

const PUBMED_ABSTRACT: &str = "proxy, measured: PubMed abstracts of ../shared/corpora/bc5cdr/CDR_Data/CDR.Corpus.v010516/CDR_TrainingSet.PubTator.txt, mean 1,203 chars (n=1,000)";

/// Every field rule. Target lengths first, then keys and kept fields.
pub const FIELDS: &[FieldRule] = &[
    // ---- clinical notes (credentialed corpora: no real files here, estimates)
    r(
        "mimic-iv-discharge/note/discharge.csv",
        "text",
        Grow(10_000, Before("Discharge Instructions:")),
        "estimate: MIMIC-IV-Note discharge summaries average ~10K characters (331K notes, ~3.3 GB of text); growth goes mostly into new sections before the first `Discharge Instructions:`",
    ),
    r(
        "mimic-iv-radiology/note/radiology.csv",
        "text",
        Grow(1_500, Spread),
        "estimate: MIMIC-IV-Note radiology reports are ~1-2K characters; filler goes to sentence ends (FINDINGS / IMPRESSION, never the EXAMINATION line)",
    ),
    r(
        "mimic-iv-radiology/note/radiology.csv",
        "note_id",
        Key,
        "id",
    ),
    r(
        "mimic-cxr/",
        "report",
        Grow(1_200, Spread),
        "estimate: MIMIC-CXR free-text reports are ~1-1.5K characters",
    ),
    r(
        "mimic-cxr/",
        "subject_id",
        KeyEvery(3),
        "a patient has studies in 3 rounds (~3.5 studies per patient in MIMIC-CXR)",
    ),
    r("mimic-cxr/", "study_id", Key, "id"),
    r(
        "mimic-cxr/",
        "path",
        Keep,
        "rebuilt from the ids: files/p<first 2 digits>/p<subject>/s<study>.txt",
    ),
    r(
        "mimic-iv-icd10/",
        "text",
        Grow(9_000, Spread),
        "estimate: MIMIC-IV discharge summaries preprocessed for ICD coding (lower-cased, no punctuation), ~1,500 words",
    ),
    r(
        "mimic-iv-icd10/",
        "labels",
        Keep,
        "codes looked up in the ICD-10-CM XML",
    ),
    r(
        "pmc-patients/PMC-Patients.csv",
        "patient",
        Grow(2_500, Spread),
        "estimate: PMC-Patients summaries average ~410 words (Zhao et al. 2023), ~2.5K characters",
    ),
    r(
        "pmc-patients/PMC-Patients.csv",
        "patient_id",
        Key,
        "consecutive per replica (`patient_id + 1` joins)",
    ),
    r("pmc-patients/PMC-Patients.csv", "patient_uid", Key, "id"),
    r("pmc-patients/PMC-Patients.csv", "PMID", Key, "id"),
    r(
        "pmc-patients/PMC-Patients.csv",
        "similar_patients",
        Refs,
        "patient_uids of the same replica",
    ),
    r(
        "pmc-patients/PMC-Patients.csv",
        "relevant_articles",
        Refs,
        "PMIDs",
    ),
    // ---- articles and abstracts
    r(
        "pubmed-summarization/",
        "article_text",
        Extend(19_000),
        "estimate: Cohan et al. 2018 report 3,016 words per PubMed article (~19K characters), as tokenised sentences",
    ),
    r(
        "pubmed-summarization/",
        "abstract_text",
        Grow(1_300, End),
        "estimate: Cohan et al. 2018 report 203 words per abstract",
    ),
    r("pubmed-summarization/", "article_id", Key, "id"),
    r(
        "pubmed-mesh/",
        "abstractText",
        Grow(1_203, Spread),
        PUBMED_ABSTRACT,
    ),
    r("pubmed-mesh/", "pmid", Key, "id"),
    r("pubmed-mesh/", "meshMajor", Keep, "labels"),
    r(
        "litcovid/",
        "abstract",
        Grow(1_203, Spread),
        PUBMED_ABSTRACT,
    ),
    r("litcovid/", "pmid", Key, "id"),
    r(
        "pubmedqa/",
        "CONTEXTS",
        Grow(1_341, Spread),
        "measured: ../shared/corpora/pubmedqa/data/ori_pqal.json, CONTEXTS joined, mean 1,341 (n=1,000)",
    ),
    r(
        "pubmedqa/",
        "QUESTION",
        Grow(94, Spread),
        "measured: ori_pqal.json QUESTION mean 94",
    ),
    r(
        "pubmedqa/",
        "LONG_ANSWER",
        Grow(268, Spread),
        "measured: ori_pqal.json LONG_ANSWER mean 268",
    ),
    r("pubmedqa/", "LABELS", Keep, "section labels"),
    r("pubmedqa/", "MESHES", Keep, "terms"),
    r("ms2/", "Abstract", Grow(1_203, Spread), PUBMED_ABSTRACT),
    r(
        "ms2/",
        "Target",
        Grow(500, Spread),
        "estimate: MS^2 review conclusions, a few sentences",
    ),
    r("ms2/", "Background", Grow(400, Spread), "estimate"),
    r(
        "ms2/",
        "ReviewID",
        Key,
        "joins inputs, targets and reviews-info",
    ),
    r("ms2/", "PMID", Key, "id"),
    r(
        "rct-summarization/",
        "Abstract",
        Grow(1_203, Spread),
        PUBMED_ABSTRACT,
    ),
    r(
        "rct-summarization/",
        "Target",
        Grow(600, Spread),
        "estimate: Cochrane authors' conclusions",
    ),
    r(
        "rct-summarization/",
        "ReviewID",
        Key,
        "joins inputs and targets",
    ),
    r("rct-summarization/", "PMID", Key, "id"),
    r(
        "readability-plos/",
        "article",
        Embeds(33_000, "plain language summary"),
        "estimate: PLOS articles in the readability corpus (Goldsack et al. 2022) average ~5K words",
    ),
    r(
        "readability-plos/",
        "plain language summary",
        Grow(1_100, Spread),
        "estimate: ~175-word author summaries",
    ),
    r("hoc/text", "text", Grow(1_203, Spread), PUBMED_ABSTRACT),
    r(
        "hoc/labels",
        "text",
        Keep,
        "labels of the text file of the same PMID",
    ),
    r(
        "covid-qa/",
        "context",
        Grow(25_000, End),
        "estimate: COVID-QA contexts are whole articles (147 papers); grown at the end so answer offsets stay valid",
    ),
    r("covid-qa/", "text", Span, "answer spans of the context"),
    r(
        "covid-qa/",
        "question",
        Grow(60, End),
        "estimate: one-sentence questions",
    ),
    r(
        "mashqa/",
        "context",
        Grow(1_500, End),
        "estimate: WebMD passages of several sentences; grown at the end so answer and sentence offsets stay valid",
    ),
    r("mashqa/", "text", Span, "answer spans of the context"),
    r(
        "mashqa/",
        "question",
        Grow(60, End),
        "estimate: one-sentence questions",
    ),
    r(
        "bioasq/",
        "body",
        Grow(80, Spread),
        "estimate: BioASQ questions are one sentence",
    ),
    r(
        "bioasq/",
        "ideal_answer",
        Grow(300, Spread),
        "estimate: a few sentences",
    ),
    r("bioasq/", "id", Key, "group key"),
    r(
        "ebms/",
        "sniptext",
        Grow(150, Spread),
        "estimate: one-sentence evidence snippets",
    ),
    r(
        "ebms/",
        "longtext",
        Grow(350, Spread),
        "estimate: a few sentences of evidence",
    ),
    r("ebms/", "@id", Key, "ids"),
    r(
        "medlineplus/mplus_topics",
        "full-summary",
        Grow(1_500, Spread),
        "estimate: MedlinePlus health-topic summaries are several paragraphs",
    ),
    r("medlineplus/mplus_topics", "@id", Key, "topic ids"),
    r(
        "medlineplus/crawl/druginfo.jsonl",
        "text",
        Grow(400, Spread),
        "estimate: one drug-information section",
    ),
    r(
        "medlineplus/crawl/ency.jsonl",
        "text",
        Grow(500, Spread),
        "estimate: one encyclopedia section",
    ),
    r(
        "medquad/",
        "Answer",
        Grow(1_000, Spread),
        "estimate: MedQuAD answers are one or more paragraphs",
    ),
    r(
        "medquad/",
        "@id",
        Key,
        "document ids (also in the file name)",
    ),
    r("medquad/", "@qid", Key, "question ids"),
    r(
        "clinical-trials-gov/data/docs/brat",
        "text",
        Grow(1_500, End),
        "estimate: eligibility criteria sections; grown at the end so the .ann offsets stay valid",
    ),
    r(
        "clinical-trials-gov/data/ner/spert",
        "orig_id",
        Refs,
        "`<line>_<NCT id>`: the NCT id follows the brat file",
    ),
    r(
        "clinical-trials-gov/data/ner/spert",
        "tokens",
        Span,
        "entities index the tokens",
    ),
    // ---- QA and dialogue
    r(
        "medmcqa/",
        "question",
        Grow(86, Spread),
        "measured: ../shared/corpora/medmcqa/dev.json question mean 86 (n=4,183)",
    ),
    r(
        "medmcqa/",
        "exp",
        Grow(494, Spread),
        "measured: dev.json exp mean 494 (n=2,206 non-empty)",
    ),
    r("medmcqa/", "opa", Keep, "options (mean 20 measured)"),
    r("medmcqa/", "opb", Keep, "options"),
    r("medmcqa/", "opc", Keep, "options"),
    r("medmcqa/", "opd", Keep, "options"),
    r("medmcqa/", "id", Key, "id"),
    r(
        "medqa/data_clean/questions/US/",
        "question",
        Grow(746, Spread),
        "measured: ../shared/corpora/medqa/.../US/4_options/phrases_no_exclude_test.jsonl question mean 746 (n=1,273)",
    ),
    r(
        "medqa/data_clean/questions/Mainland/",
        "question",
        Grow(110, Spread),
        "estimate: MedQA Mainland questions are short paragraphs of Chinese text",
    ),
    r("medqa/", "options", Keep, "the answer refers to them"),
    r("medqa/", "answer", Keep, "= options[answer_idx]"),
    r("medqa/", "metamap_phrases", Keep, "phrases"),
    r(
        "mmedbench/Train/English.jsonl",
        "question",
        Grow(746, Spread),
        "measured: MedQA US questions (MMedBench English is MedQA), mean 746",
    ),
    r(
        "mmedbench/Train/English.jsonl",
        "rationale",
        Grow(700, Spread),
        "estimate: GPT-written rationales",
    ),
    r(
        "mmedbench/Train/Chinese.jsonl",
        "question",
        Grow(110, Spread),
        "estimate: MedQA Mainland",
    ),
    r(
        "mmedbench/Train/Chinese.jsonl",
        "rationale",
        Grow(300, Spread),
        "estimate",
    ),
    r(
        "mmedbench/Train/Japanese.jsonl",
        "question",
        Grow(200, Spread),
        "estimate: IgakuQA questions",
    ),
    r(
        "mmedbench/Train/Japanese.jsonl",
        "rationale",
        Grow(400, Spread),
        "estimate",
    ),
    r(
        "mmedbench/Train/French.jsonl",
        "question",
        Grow(150, Spread),
        "estimate: FrenchMedMCQA questions",
    ),
    r(
        "mmedbench/Train/French.jsonl",
        "rationale",
        Grow(500, Spread),
        "estimate",
    ),
    r(
        "mmedbench/Train/Russian.jsonl",
        "question",
        Grow(150, Spread),
        "estimate: RuMedDaNet/RuMedTest questions",
    ),
    r(
        "mmedbench/Train/Russian.jsonl",
        "rationale",
        Grow(400, Spread),
        "estimate",
    ),
    r(
        "mmedbench/Train/Spanish.jsonl",
        "question",
        Grow(120, Spread),
        "estimate: HEAD-QA questions",
    ),
    r(
        "mmedbench/Train/Spanish.jsonl",
        "rationale",
        Grow(500, Spread),
        "estimate",
    ),
    r("mmedbench/", "options", Keep, "the answer refers to them"),
    r("mmedbench/", "answer", Keep, "= options[answer_idx]"),
    r(
        "cmedqa2/question.zip",
        "content",
        Grow(49, Spread),
        "estimate: cMedQA2 questions average ~49 characters",
    ),
    r(
        "cmedqa2/answer.zip",
        "content",
        Grow(101, Spread),
        "estimate: cMedQA2 answers average ~101 characters",
    ),
    r(
        "cmedqa2/",
        "question_id",
        Key,
        "joins answers, questions and candidates",
    ),
    r("cmedqa2/", "ans_id", Key, "id"),
    r("cmedqa2/", "pos_ans_id", Key, "answer id"),
    r("cmedqa2/", "neg_ans_id", Key, "answer id"),
    r(
        "chatdoctor/chatdoctor5k.json",
        "input",
        Grow(132, Spread),
        "measured: ../shared/corpora/chatdoctor/chatdoctor5k.json input mean 132 (n=5,452)",
    ),
    r(
        "chatdoctor/chatdoctor5k.json",
        "output",
        Grow(237, Spread),
        "measured: chatdoctor5k.json output mean 237",
    ),
    r(
        "chatdoctor/HealthCareMagic-100k.json",
        "input",
        Grow(500, Spread),
        "estimate: patient messages of a few sentences",
    ),
    r(
        "chatdoctor/HealthCareMagic-100k.json",
        "output",
        Grow(600, Spread),
        "estimate",
    ),
    r(
        "chatdoctor/iCliniq.json",
        "input",
        Grow(600, Spread),
        "estimate",
    ),
    r(
        "chatdoctor/iCliniq.json",
        "answer_icliniq",
        Grow(900, Spread),
        "estimate",
    ),
    r(
        "meqsum/",
        "CHQ",
        Grow(343, Spread),
        "measured: ../shared/corpora/meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx CHQ mean 343 (n=1,000)",
    ),
    r(
        "meqsum/",
        "Summary",
        Grow(63, Spread),
        "measured: same file, Summary mean 63",
    ),
    r(
        "medicationqa/",
        "Answer",
        Grow(800, Spread),
        "estimate: answers quote drug labels, a paragraph",
    ),
    r(
        "liveqa/",
        "message",
        Grow(600, Spread),
        "estimate: consumer questions of a few sentences",
    ),
    r("liveqa/", "answer", Grow(900, Spread), "estimate"),
    r("liveqa/", "questionid", Key, "id"),
    r("liveqa/", "answerid", Key, "id"),
    r(
        "medalpaca/",
        "output",
        Grow(300, Spread),
        "estimate: flashcard answers, one to three sentences",
    ),
    r(
        "wikidoc/",
        "output",
        Grow(600, Spread),
        "estimate: WikiDoc paragraphs",
    ),
    r(
        "mediqa-ans/",
        "multi_abs_summ",
        Grow(700, Spread),
        "estimate: multi-document summaries",
    ),
    r(
        "mednli/",
        "sentence1",
        Grow(100, Spread),
        "estimate: MedNLI premises average ~17 words",
    ),
    r(
        "biolord/",
        "definition",
        Grow(220, Spread),
        "estimate: BioLORD definitions are one or two sentences",
    ),
    r(
        "lima/",
        "conversations",
        Grow(2_400, Spread),
        "estimate: LIMA prompt + ~2K-character response",
    ),
    r(
        "radiopaedia-ner/",
        "sentences",
        Tokens(110, "subtext"),
        "estimate: one caption sentence",
    ),
    // ---- Super-NaturalInstructions task files: inputs with a measured length grow to it
    // (task files in ../shared/corpora/natural-instructions/tasks, mean input length); the
    // others (no real file here; fixture inputs have the right shape) only get a short
    // sentence, so that every replica differs even when the input is a two-word segment
    r(
        "natural-instructions/tasks/task1447_",
        "input",
        Grow(128, End),
        "proxy, measured: task1495 (ADE corpus) inputs, mean 128",
    ),
    r(
        "natural-instructions/tasks/task1448_",
        "input",
        Grow(150, End),
        "measured: task1448 inputs, mean 150 (n=151)",
    ),
    r(
        "natural-instructions/tasks/task1449_",
        "input",
        Grow(151, End),
        "measured: task1449 inputs, mean 151 (n=77)",
    ),
    r(
        "natural-instructions/tasks/task1451_",
        "input",
        Grow(167, End),
        "measured: task1451 inputs, mean 167 (n=222)",
    ),
    r(
        "natural-instructions/tasks/task1481_",
        "input",
        Grow(172, End),
        "measured: task1481 inputs, mean 172 (n=1,062)",
    ),
    r(
        "natural-instructions/tasks/task1484_",
        "input",
        Grow(170, End),
        "measured: task1484 inputs, mean 170 (n=141)",
    ),
    r(
        "natural-instructions/tasks/task1486_",
        "input",
        Grow(166, End),
        "measured: task1486 inputs, mean 166 (n=123)",
    ),
    r(
        "natural-instructions/tasks/task1487_",
        "input",
        Grow(192, End),
        "measured: task1487 inputs, mean 192 (n=105)",
    ),
    r(
        "natural-instructions/tasks/task1495_",
        "input",
        Grow(128, End),
        "measured: task1495 inputs, mean 128 (n=1,998)",
    ),
    r(
        "natural-instructions/tasks/task179_",
        "input",
        Grow(143, End),
        "measured: task179 inputs, mean 143 (n=423)",
    ),
    r(
        "natural-instructions/tasks/task180_",
        "input",
        Grow(143, End),
        "measured: task180 inputs, mean 143 (n=423)",
    ),
    r(
        "natural-instructions/tasks/task181_",
        "input",
        Grow(143, End),
        "measured: task181 inputs, mean 143 (n=423)",
    ),
    r(
        "natural-instructions/tasks/",
        "input",
        Grow(0, End),
        "fixture length, plus one short sentence",
    ),
    // ---- token-per-line NER (sentence length in characters, tokens joined by spaces)
    r(
        "bc4chemd/",
        "tokens",
        Grow(148, Spread),
        "proxy, measured: ../shared/corpora/bc5cdr/BC5CDR-chem-IOB/train.tsv sentences, mean 148",
    ),
    r(
        "bc5cdr/",
        "tokens",
        Grow(148, Spread),
        "measured: ../shared/corpora/bc5cdr/BC5CDR-chem-IOB/train.tsv, mean 148 (n=4,560)",
    ),
    r(
        "species800/",
        "tokens",
        Grow(150, Spread),
        "measured: ../shared/corpora/species800/train.tsv, mean 150 (n=5,733)",
    ),
    // ---- codes and ontologies
    r(
        "icd10cm/",
        "name",
        Code,
        "ICD-10-CM codes (descriptions: measured mean 51 in ../shared/corpora/icd10cm, as the fixture's)",
    ),
    r("icd10cm/", "@id", Code, "section ids"),
    r("icd10cm/", "@first", Code, "section ranges"),
    r("icd10cm/", "@last", Code, "section ranges"),
    r(
        "disease-ontology/",
        "def",
        Grow(220, End),
        "estimate: Disease Ontology definitions are one sentence",
    ),
    r("disease-ontology/", "name", Name, "term names"),
    r("disease-ontology/", "synonym", Name, "synonyms"),
    r("disease-ontology/", "id", Key, "DOID ids"),
    r("disease-ontology/", "is_a", Key, "parent ids"),
    r("disease-ontology/", "replaced_by", Key, "ids"),
    r("disease-ontology/", "alt_id", Key, "ids"),
];

/// The rules that apply to one raw path (`rel`, or `rel!member` for a zip member).
pub fn rules_for(rel: &str) -> Rules {
    Rules(
        FIELDS
            .iter()
            .filter(|f| rel.starts_with(f.path))
            .map(|f| (f.field, f.rule))
            .collect(),
    )
}

#[derive(Clone, Default, Debug)]
pub struct Rules(pub Vec<(&'static str, Rule)>);

impl Rules {
    pub fn get(&self, field: &str) -> Option<Rule> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, r)| *r)
    }
}

/// Lookup files written with the same replica rounds as the record file they belong to (keys
/// re-keyed the same way, no duplicates), so joins keep resolving: (lookup, record file),
/// `path!member` for zip members.
pub const LINKS: &[(&str, &str)] = &[
    (
        "ms2/mslr_data/ms2/train-targets.csv",
        "ms2/mslr_data/ms2/train-inputs.csv",
    ),
    (
        "ms2/mslr_data/ms2/train-reviews-info.csv",
        "ms2/mslr_data/ms2/train-inputs.csv",
    ),
    (
        "ms2/mslr_data/ms2/dev-targets.csv",
        "ms2/mslr_data/ms2/dev-inputs.csv",
    ),
    (
        "ms2/mslr_data/ms2/dev-reviews-info.csv",
        "ms2/mslr_data/ms2/dev-inputs.csv",
    ),
    (
        "rct-summarization/mslr_data/cochrane/train-targets.csv",
        "rct-summarization/mslr_data/cochrane/train-inputs.csv",
    ),
    (
        "rct-summarization/mslr_data/cochrane/dev-targets.csv",
        "rct-summarization/mslr_data/cochrane/dev-inputs.csv",
    ),
    (
        "cmedqa2/question.zip!question.csv",
        "cmedqa2/answer.zip!answer.csv",
    ),
    (
        "cmedqa2/train_candidates.zip!train_candidates.txt",
        "cmedqa2/answer.zip!answer.csv",
    ),
    (
        "pubmedqa/data/test_ground_truth.json",
        "pubmedqa/data/ori_pqal.json",
    ),
    ("hoc/labels", "hoc/text"),
    (
        "clinical-trials-gov/data/docs/brat",
        "clinical-trials-gov/data/ner/spert/train.json",
    ),
];

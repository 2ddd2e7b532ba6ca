//! The manifest's types. Field docs become the JSON Schema's descriptions, so they are written
//! for contributors, not for Rust readers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// One corpus and the MedS-Ins tasks it feeds.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Who made the corpus, where to get it, under which terms.
    pub corpus: Corpus,
    /// The raw files, as the corpus's authors distribute them, when the corpus is read from one
    /// distribution. A corpus distributed in several ways declares `[[variants]]` instead.
    #[serde(default)]
    pub files: Vec<RawFile>,
    /// The ways the corpus is distributed (the authors' release, and redistributions such as
    /// MMedBench, Hugging Face copies, BigBIO-style files), in order of preference: the build
    /// reads the first whose files are present. Each brings its records to the shape the
    /// tasks' templates expect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// The tasks this corpus feeds.
    #[serde(default)]
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Corpus {
    /// Lower-case id, `[a-z0-9-]+`, equal to the manifest's file stem and to the corpus folder
    /// under the raw root.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Human-readable name.
    pub name: String,
    /// Where the corpus is published.
    pub homepage: String,
    /// Release or version the manifest was written against (e.g. a date, tag or commit).
    pub version: String,
    /// Licence as its distributor states it (SPDX id where one exists).
    pub license: String,
    /// `public`, `registration` (free sign-up or agreement) or `credentialed` (e.g. PhysioNet DUA).
    #[schemars(with = "String")]
    pub access: Spanned<String>,
    /// How to cite the corpus (BibTeX or a plain reference).
    pub citation: String,
    /// How a user obtains the raw files and where to put them (shown when they are missing).
    pub obtain: String,
    /// Free-text notes for reviewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Fraction of raw records that may be quarantined before the corpus fails (default 0.01).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_budget: Option<f64>,
}

/// One way the corpus is distributed, with its own files and the steps that bring its records
/// to the shape the tasks expect.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Lower-case id, `[a-z0-9-]+`, unique in the manifest; recorded in every row's
    /// `source_variant`, the lock, `stats.json` and the dataset card.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Human-readable name (e.g. `the authors' release (GitHub jungokasai/IgakuQA)`).
    pub name: String,
    /// How a user obtains this distribution and where to put it (shown when nothing is found).
    pub obtain: String,
    /// Free-text notes for reviewers (evidence for the layout, differences from the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Named operators run on every record of this distribution before each task's own steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<Spanned<Step>>,
    /// The raw files of this distribution. Every file id a task reads must be declared here.
    #[serde(default)]
    pub files: Vec<RawFile>,
    /// Per-task changes for this distribution, only where its steps cannot reach the shape the
    /// task expects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskOverride>,
}

/// What one task does differently when built from one variant. Every field given replaces the
/// task's own; the variant's `steps` still run first.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskOverride {
    /// The task's id.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Ids of the raw files the task reads from this variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub files: Option<Vec<Spanned<String>>>,
    /// The task's own steps for this variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<Step>>")]
    pub steps: Option<Vec<Spanned<Step>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub filter: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub input: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub output: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub group_key: Option<Spanned<String>>,
}

/// The id of the one distribution of a manifest that declares top-level `[[files]]`.
pub const DEFAULT_VARIANT: &str = "default";

/// A raw file of the corpus. Paths are relative to the corpus folder `<raw-root>/<corpus-id>/`
/// (or to `<raw-root>/<root>/` when `root` names a shared source such as `natural-instructions`)
/// and may not leave it. A path is found directly under that folder or one folder deeper (the
/// top folder of a clone or an archive, e.g. `MedQuAD/1_CancerGov_QA`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// Short name that tasks use to refer to this file.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Path relative to the corpus folder, `/`-separated, as the authors distribute it. A
    /// segment may be a pattern for a name that changes between releases: `*`, `?`, `[a-z]`,
    /// `{a,b}`; a segment `**` stands for any number of folders.
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// The path (a pattern) names a set of files read one after the other as one input: in
    /// natural order of their paths (`2018/…` before `2019/…`, `9B1` before `10B1`), or by
    /// `order_by`. Without it, a pattern must match exactly one file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub many: bool,
    /// With `many`: a regular expression over each file's name whose capture groups, compared
    /// in natural order, give the release order (e.g. `(\d+)[bB](\d*)` orders BioASQ's
    /// `training11b.json` < `11B1_golden.json` < `training12b.json`); files it does not match
    /// come first, ties fall back to the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// json | jsonl | csv | tsv | xlsx | iob | pubtator | xml | sni-task | workbook | text-folder | brat | parquet | obo | text-files (a folder)
    #[schemars(with = "String")]
    pub format: Spanned<String>,
    /// Expected SHA-256 of the file (lower-case hex). A mismatch stops the corpus's build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The official split this file holds: `train`, `validation` or `test`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub split: Option<Spanned<String>>,
    /// Another folder under the raw root that holds this file (for sources shared by several
    /// corpora, e.g. `natural-instructions` for Super-NaturalInstructions task files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub root: Option<Spanned<String>>,
    /// Reader options for the format.
    #[serde(default)]
    pub options: FileOptions,
}

/// Reader options. Each format reads only the options that concern it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileOptions {
    /// json: JSON pointer to the array or object holding the records (default: the root).
    /// xml: `/`-separated element path of the record elements (e.g. `ClinicalInquiries/record`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records: Option<String>,
    /// json: when the records are an object keyed by id, the field that receives the key
    /// (default `_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_field: Option<String>,
    /// xlsx: sheet name (default: the first sheet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheet: Option<String>,
    /// csv/tsv: field delimiter (default `,` for csv, tab for tsv).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// csv/tsv: whether `"` quotes cells (default true). `false` reads each line as plain text
    /// split at every delimiter, as Python's `line.split(delimiter)` does: quotes are ordinary
    /// characters (ADE-Corpus-V2's `|`-separated `.rel` files, whose sentences hold quotes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoting: Option<bool>,
    /// csv/tsv with `quoting = false`: at most this many fields a row; the last takes the rest of
    /// the line, delimiters included, as Python's `line.split(delimiter, max_fields - 1)` does
    /// (ADE-Corpus-V2's `ADE-NEG.txt`, `PMID NEG sentence` split at the first two spaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fields: Option<usize>,
    /// csv/tsv/xlsx: whether the first row names the columns (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<bool>,
    /// csv/tsv/xlsx without header, iob: names given to the columns in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// text-folder: column of the index holding each record's file path, relative to the
    /// corpus folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_column: Option<String>,
    /// text-folder: field that receives the text of the record's file (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_field: Option<String>,
    /// Container: `gzip` or `zip` (default: none; `.gz` paths are gunzipped automatically).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// zip: the member to read inside the archive, its path inside the archive. It may be a
    /// pattern (as in `path`) for a member whose folder or name differs between copies of the
    /// archive (`*/HEAD_EN.json`, `**/train.jsonl`); it must then match exactly one member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// text-files, or any per-file format whose `path` names a folder: file name ending of the
    /// files to read under the folder (default `.txt` for text-files, every file otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// Any format: the file (or folder) may legitimately hold no records. Without it, a file
    /// that yields none (0 bytes, a header only, `[]`, blank lines) fails its corpus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub may_be_empty: Option<bool>,
}

/// One MedS-Ins task.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// The upstream released file stem, e.g. `task114_medqsum_text_summurization` (spelling as
    /// released); `task<number>_...`.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// Upstream task number (the key `task<number>` of `RewriteDefinitions.json`).
    #[schemars(with = "u32")]
    pub number: Spanned<u32>,
    /// Short human-readable description.
    pub name: String,
    /// One of the 19 MedS-Ins task categories.
    #[schemars(with = "String")]
    pub category: Spanned<String>,
    /// One of the 5 MedS-Ins text sources.
    #[schemars(with = "String")]
    pub text_source: Spanned<String>,
    /// Medical sub-domains or content types (free text, as in the task JSON `Domains`).
    #[serde(default)]
    pub domains: Vec<String>,
    /// ISO 639-1 codes of the input language(s).
    #[schemars(with = "Vec<String>")]
    pub input_languages: Vec<Spanned<String>>,
    /// ISO 639-1 codes of the output language(s).
    #[schemars(with = "Vec<String>")]
    pub output_languages: Vec<Spanned<String>>,
    /// False when the task's source or rendering is inferred rather than confirmed upstream.
    #[serde(default = "yes")]
    pub confirmed: bool,
    /// Evidence for the reading chosen (required when `confirmed = false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// The original definition (instruction) written for this task.
    pub definition: String,
    /// How the rendering relates to the authors' own preparation: reproduced, reconstructed,
    /// and every deliberate difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<String>,
    /// Ids of the raw files this task reads (default: every file of the corpus that no other
    /// step uses as a lookup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub files: Option<Vec<Spanned<String>>>,
    /// Named operators applied to each record, in order, before the templates.
    #[serde(default)]
    #[schemars(with = "Vec<Step>")]
    pub steps: Vec<Spanned<Step>>,
    /// Template expression; records for which it is false are skipped (counted as filtered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub filter: Option<Spanned<String>>,
    /// Template of the sample input (minijinja syntax; record fields are variables).
    #[schemars(with = "String")]
    pub input: Spanned<String>,
    /// Template of the sample output.
    #[schemars(with = "String")]
    pub output: Spanned<String>,
    /// Template of the group key: samples with the same key always land in the same split and
    /// are compared for leakage (e.g. a PMID, a note id, a premise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub group_key: Option<Spanned<String>>,
    /// How samples are assigned to splits.
    #[schemars(with = "SplitPolicy")]
    pub split: Spanned<SplitPolicy>,
    /// Near-duplicate detection (MinHash LSH over input + output word shingles) within the
    /// task; default: flag near-duplicates in the ledger, keep them (docs/data-quality.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near_dedup: Option<NearDedup>,
    /// Semantic checks known to fail on this task, with why; they are reported but do not
    /// fail `--strict` (e.g. `[{ check = "ner_not_substring", reason = "…" }]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_checks: Vec<ExpectedCheck>,
    /// Files of this task that yield fewer samples than records by design (a filter, a
    /// held-out part, one label of several), with why: a file under 50 % without one is a
    /// warning of the build and a failing `low_yield` check (docs/data-quality.md). E.g.
    /// `[{ reason = "only records labelled entailment", min = 0.2 }]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_yield: Vec<ExpectedYield>,
    /// What `--profile upstream` builds instead, where the authors' preparation script
    /// renders or selects differently from this task's clean rendering: every field given
    /// replaces the task's own in that profile (docs/manifests.md, "Profiles").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamTask>,
}

/// `[tasks.upstream]`: the task as the authors' script built it, for `--profile upstream`.
/// Every field given replaces the task's own; the others stay.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTask {
    /// Ids of the raw files the script read (e.g. only `test.tsv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub files: Option<Vec<Spanned<String>>>,
    /// The task's steps as the script rendered them (e.g. `entity_spacing = "upstream"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<Step>>")]
    pub steps: Option<Vec<Spanned<Step>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub filter: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub input: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub output: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub group_key: Option<Spanned<String>>,
    /// The script's split (e.g. everything `train`, or `head` with `rest = "drop"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<SplitPolicy>")]
    pub split: Option<Spanned<SplitPolicy>>,
}

/// A task's file that is expected to yield few samples, and why.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedYield {
    /// The file id (default: every file the task reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Why the file yields few samples (shown in reports).
    pub reason: String,
    /// The smallest share of the file's records (after `explode` / `group`) that must still
    /// become samples (default 0): below it the check fails even with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
}

impl ExpectedYield {
    /// Whether this declaration covers the file `file_id`.
    pub fn covers(&self, file_id: &str) -> bool {
        self.file.as_deref().is_none_or(|f| f == file_id)
    }
}

fn yes() -> bool {
    true
}

/// How samples are assigned to train / validation / test.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "policy", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SplitPolicy {
    /// Each sample keeps the official split of the raw file it came from.
    Official,
    /// Every sample goes to one split (MedS-Ins trains on whole corpora: `split = "train"`).
    Fixed { split: String },
    /// A seeded hash of the group key decides; the three fractions sum to 1.
    Hash {
        train: f64,
        validation: f64,
        test: f64,
    },
    /// The first ⌊train × N⌋ records of each file go to `train` and the others to `rest`
    /// (default `test`; `drop` removes them, ledgered as filtered, as a script that kept only
    /// the head did); N counts the file's records after the steps, in file order (the product
    /// in double precision, truncated, as Python's `int(0.9 * len(rows))`). For corpora whose
    /// authors kept a head fraction of the file as training data.
    Head {
        train: f64,
        #[serde(default = "test_word")]
        rest: String,
    },
}

fn test_word() -> String {
    "test".into()
}

/// A named built-in operator. Each adds fields to the record (or turns one record into
/// several, or several into one) for the templates to use.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// IOB/CoNLL tags to entities. Reads the token and tag lists of an `iob` record; writes
    /// `into` (entity texts, properly detokenised, in order) and `text_into` (the sentence,
    /// detokenised). `types` keeps only entities of those types (`B-Chemical` has type
    /// `Chemical`; bare `B`/`I` tags have none and are always kept).
    IobEntities {
        #[serde(default = "tokens_field")]
        tokens: String,
        #[serde(default = "tags_field")]
        tags: String,
        into: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text_into: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        types: Option<Vec<String>>,
        /// `proper` (default: `sp. nov.`) or `upstream` (tokens joined by spaces, as the
        /// authors' Species-800 script did: `sp . nov .`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entity_spacing: Option<String>,
    },
    /// PubTator annotations to the entity texts of one type (e.g. `Chemical`), in order of
    /// appearance, written to `into`; `unique` drops repeats.
    PubtatorEntities {
        entity_type: String,
        into: String,
        #[serde(default)]
        unique: bool,
    },
    /// Options to lettered choices. `options` names a field holding an object (letter ->
    /// text), a list of texts, or is a list of field names (e.g. `["opa","opb","opc","opd"]`).
    /// `answer` names the field holding the answer as `answer_is` = `letter`, `index0`,
    /// `index1` or `text`. Writes `<into>_list` (list of `{letter, text}`), `<into>_letter`
    /// and `<into>_text`.
    LetteredOptions {
        options: OptionsSource,
        answer: String,
        #[serde(default = "letter")]
        answer_is: String,
        #[serde(default = "choice")]
        into: String,
    },
    /// Join with another file of the same corpus: the first record of `file` whose `key`
    /// template renders equal to this record's `on` template is stored under `into`.
    /// With `required = true` a record without a match is quarantined. `fields` attaches only
    /// those fields of the match (the rest is never copied; a build is faster for it).
    Join {
        file: String,
        key: String,
        on: String,
        into: String,
        #[serde(default)]
        required: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Vec<String>>,
    },
    /// Look a code up in a table file: for each code in the field `codes` (a list, or a string
    /// split on `separator`), find the record of `file` whose `key` field equals it; writes
    /// `into` as a list of `{code, value}` where `value` is the `value` field of the match.
    /// Codes without a match are kept in `<into>_missing`.
    Lookup {
        file: String,
        codes: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        separator: Option<String>,
        key: String,
        value: String,
        into: String,
        /// Remove every occurrence of this text from the table's keys before matching (e.g.
        /// `.` to match dotless ICD-10 codes such as `J189` against `J18.9`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key_remove: Option<String>,
    },
    /// Extract a section of a text field between markers (first occurrences): from after
    /// `start` (plus `skip` characters) up to `end` (or the end of the text). `missing` =
    /// `skip` drops records without the start marker, `empty` writes an empty string.
    Section {
        field: String,
        start: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end: Option<String>,
        #[serde(default)]
        skip: usize,
        into: String,
        #[serde(default = "skip_word")]
        missing: String,
        /// Strip the section (default true).
        #[serde(default = "yes")]
        strip: bool,
        /// Replace every line feed in the section by this string (MIMIC-CXR: one space).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replace_newlines: Option<String>,
    },
    /// Label a record by keyword rules on a field: the first (or every, with `all = true`)
    /// rule whose keyword occurs decides; `cap` limits each label to that many records, taken
    /// in file order. Records with no label are dropped.
    KeywordLabel {
        field: String,
        rules: Vec<KeywordRule>,
        into: String,
        #[serde(default)]
        all: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cap: Option<usize>,
        /// Lower-case the field's text before matching (keywords written in lower case).
        #[serde(default)]
        lowercase: bool,
        /// Compare text and keywords after normalising them: `whitespace` (every run of
        /// whitespace is one space, so `<  Resisting` matches `< Resisting`) and/or `case`
        /// (both lower-cased).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        normalize: Vec<MatchNormalize>,
    },
    /// Serialise fields as `name: value` lines (`columns`, or every field except `exclude`).
    KeyValue {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        columns: Option<Vec<String>>,
        #[serde(default)]
        exclude: Vec<String>,
        #[serde(default = "newline")]
        separator: String,
        /// Text written for a missing (null or empty) value (default: empty).
        #[serde(default)]
        missing: String,
        into: String,
    },
    /// Turn consecutive records into groups of `size` (a short final group is dropped), or
    /// records sharing `by` (a template) into one; writes `into` as the list of member records.
    Group {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        into: String,
    },
    /// One record fans out into one per element of the list field `field`; the element is
    /// stored under `into` (and its position under `<into>_index`).
    Explode { field: String, into: String },
    /// Keep only the records for which the expression `when` (minijinja syntax over the
    /// record's fields, like `filter`) is true; the others are dropped (ledgered as filtered).
    /// Unlike the task's `filter`, it runs in step order, so it can act before `group`,
    /// `explode` or `keyword_label` caps (e.g. hold test records out before pairing).
    Keep { when: String },
    /// Parse a field holding a Python literal (`str()` of a list, tuple, dict, string, number,
    /// `True`/`False`/`None`; e.g. `"['E_91', 'E_53_@_V_44']"`) into a JSON value under `into`.
    /// Text that is not a Python literal quarantines the record.
    PyLiteral { field: String, into: String },
    /// Copy a nested value to a top-level field: `path` is `/`-separated member names or list
    /// positions (`answer/snip`); a segment `*` stands for every element of a list (a single
    /// value counts as a list of one). `path` may be a list of paths. Without `list`, the first
    /// value found is copied (null when none). With `list = true` the result is always a list of
    /// every value found, lists spliced (missing or null → `[]`, a single value → `[value]`), as
    /// xmltodict-style records need for repeatable children.
    Select {
        #[schemars(with = "OneOrMany")]
        path: OneOrMany,
        into: String,
        #[serde(default)]
        list: bool,
    },
    /// Store the value of a minijinja expression over the record's fields under `into`: a
    /// string, number, list or object (`problem_text`, `choices|lettered`,
    /// `answer|map('upper')|list`). An expression that fails quarantines the record.
    Set { into: String, value: String },
    /// Of the records whose `by` template renders the same, keep only the one read last; the
    /// earlier ones are dropped (ledgered, naming the record kept). Records are held until the
    /// input ends (for a `many` file set: its last file), then emitted in read order. For a
    /// corpus whose later files revise earlier ones (BioASQ's yearly training sets).
    KeepLast { by: String },
    /// Decode each code of the list field `codes` (or a single code) through the records of a
    /// table `file` keyed by their field `key` (e.g. `_key` of a JSON object keyed by code),
    /// attaching the whole record. With `value_separator` (e.g. `_@_`) a code `E_53_@_V_44` is
    /// looked up as `E_53` with value `V_44`. Writes `into` = list of `{code, value, record}`
    /// (value null without separator) and `<into>_missing` = the codes without a match.
    /// `fields` attaches only those fields of each matched record.
    LookupRecords {
        file: String,
        codes: String,
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value_separator: Option<String>,
        into: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fields: Option<Vec<String>>,
    },
    /// Decode a list of answered question codes (the list field `codes`, or a single code) into
    /// a dialogue text, through the records of a table `file` keyed by their field `key`. With
    /// `value_separator` (e.g. `_@_`) a code `E_55_@_V_89` is question `E_55` answered `V_89`.
    /// Each question opens a turn `\n<asker>: <question>\n<answerer>: <answer>` (`speakers =
    /// [asker, answerer]`; `<question>` is the matched record's field `question`); consecutive
    /// codes of the same question add `, <answer>` to its turn. The answer is `bare_answer` for
    /// a code without a value; else the value's member `meaning` in the record's object field
    /// `meanings` when the value is one of its keys; else the value as is. Writes `into` = the
    /// text and `<into>_missing` = the codes without a match. A matched record without
    /// `question`, `meanings` or the value's `meaning` quarantines the record.
    CodeDialogue {
        file: String,
        codes: String,
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value_separator: Option<String>,
        question: String,
        meanings: String,
        meaning: String,
        bare_answer: String,
        speakers: [String; 2],
        into: String,
    },
    /// Regular-expression substitutions on the text field `field`, applied in order, each a
    /// left-to-right pass over the whole text with non-overlapping matches (Python `re.sub`).
    /// `rules` is a list of `[pattern, replacement]` in Rust `regex` syntax: `\s` does not match
    /// U+001C–U+001F (write `[\s\x1c-\x1f]` for Python's `\s`); in the replacement `$1` or
    /// `${1}` inserts a group (Python's `\1`) and `$$` is a dollar sign. Writes `into`
    /// (default: `field` itself).
    RegexReplace {
        field: String,
        rules: Vec<[String; 2]>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        into: Option<String>,
    },
    /// Rewrites cell texts as Python `str()` of the values pandas `read_csv` (default options)
    /// gives them. Each column's type is inferred over every record of the file: integer if
    /// every cell is an integer and none is missing (`007` -> `7`); float if numeric with a
    /// missing cell or a decimal (`36` -> `36.0`, `1e-5` -> `1e-05`, missing -> `nan`); boolean
    /// if every cell is `True`/`TRUE`/`true` or `False`/`FALSE`/`false` (-> `True`/`False`);
    /// otherwise text, verbatim, with pandas' missing markers (empty, `NA`, `NULL`, `nan`, …) ->
    /// `nan`. Applies to `columns`, or to every field but `exclude`.
    PandasValues {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        columns: Option<Vec<String>>,
        #[serde(default)]
        exclude: Vec<String>,
    },
}

/// How `keyword_label` compares text and keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchNormalize {
    /// Every run of whitespace counts as one space.
    Whitespace,
    /// Upper and lower case count as the same.
    Case,
}

/// One string or a list of strings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> &[String] {
        match self {
            OneOrMany::One(s) => std::slice::from_ref(s),
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OptionsSource {
    Field(String),
    Fields(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeywordRule {
    /// Any of these keywords (substrings, or whole whitespace-separated tokens with `token`).
    pub any: Vec<String>,
    pub label: String,
    #[serde(default)]
    pub token: bool,
}

fn tokens_field() -> String {
    "tokens".into()
}
fn tags_field() -> String {
    "tags".into()
}
fn letter() -> String {
    "letter".into()
}
fn choice() -> String {
    "choice".into()
}
fn skip_word() -> String {
    "skip".into()
}
fn newline() -> String {
    "\n".into()
}

/// The fields a variant's task override or a task's upstream override may replace.
struct TaskFields<'a> {
    files: &'a Option<Vec<Spanned<String>>>,
    steps: &'a Option<Vec<Spanned<Step>>>,
    filter: &'a Option<Spanned<String>>,
    input: &'a Option<Spanned<String>>,
    output: &'a Option<Spanned<String>>,
    group_key: &'a Option<Spanned<String>>,
}

impl Task {
    /// Replaces the fields given.
    fn replace(&mut self, f: TaskFields) {
        if f.files.is_some() {
            self.files = f.files.clone();
        }
        if let Some(steps) = f.steps {
            self.steps = steps.clone();
        }
        if f.filter.is_some() {
            self.filter = f.filter.clone();
        }
        if let Some(x) = f.input {
            self.input = x.clone();
        }
        if let Some(x) = f.output {
            self.output = x.clone();
        }
        if f.group_key.is_some() {
            self.group_key = f.group_key.clone();
        }
    }

    /// The task as `profile` builds it: with `upstream`, its `[tasks.upstream]` fields
    /// replace its own.
    pub fn for_profile(&self, profile: medsins_core::Profile) -> Task {
        let mut t = self.clone();
        if let (medsins_core::Profile::Upstream, Some(u)) = (profile, &self.upstream) {
            t.replace(TaskFields {
                files: &u.files,
                steps: &u.steps,
                filter: &u.filter,
                input: &u.input,
                output: &u.output,
                group_key: &u.group_key,
            });
            if let Some(split) = &u.split {
                t.split = split.clone();
            }
        }
        t
    }

    pub fn category(&self) -> Option<medsins_core::Category> {
        medsins_core::Category::parse(self.category.get_ref())
    }
    pub fn text_source(&self) -> Option<medsins_core::TextSource> {
        medsins_core::TextSource::parse(self.text_source.get_ref())
    }
    pub fn languages(&self) -> Vec<String> {
        let mut l: Vec<String> = Vec::new();
        for x in self.input_languages.iter().chain(&self.output_languages) {
            if !l.contains(x.get_ref()) {
                l.push(x.get_ref().clone());
            }
        }
        l
    }
}

impl Manifest {
    pub fn id(&self) -> &str {
        self.corpus.id.get_ref()
    }
    pub fn access(&self) -> Option<medsins_core::Access> {
        medsins_core::Access::parse(self.corpus.access.get_ref())
    }
    pub fn file(&self, id: &str) -> Option<&RawFile> {
        self.files.iter().find(|f| f.id.get_ref() == id)
    }
    /// The raw files a task reads, in manifest order.
    pub fn task_files<'a>(&'a self, task: &Task) -> Vec<&'a RawFile> {
        match &task.files {
            Some(ids) => ids
                .iter()
                .filter_map(|id| self.file(id.get_ref()))
                .collect(),
            None => {
                let lookups = self.lookup_file_ids(task);
                self.files
                    .iter()
                    .filter(|f| !lookups.contains(&f.id.get_ref().as_str()))
                    .collect()
            }
        }
    }
    /// Every file id a task needs: the files it reads, then its lookup tables.
    pub fn needed_file_ids(&self, task: &Task) -> Vec<String> {
        let mut ids: Vec<String> = self
            .task_files(task)
            .iter()
            .map(|f| f.id.get_ref().clone())
            .collect();
        ids.extend(self.lookup_file_ids(task).into_iter().map(str::to_string));
        ids
    }
    /// The ids of the corpus's distributions, in order of preference (`default` for a manifest
    /// with top-level `[[files]]`).
    pub fn variant_ids(&self) -> Vec<&str> {
        if self.variants.is_empty() {
            vec![DEFAULT_VARIANT]
        } else {
            self.variants
                .iter()
                .map(|v| v.id.get_ref().as_str())
                .collect()
        }
    }
    pub fn variant(&self, id: &str) -> Option<&Variant> {
        self.variants.iter().find(|v| v.id.get_ref() == id)
    }
    /// The manifest as one distribution sees it: that variant's files as `files`, its steps
    /// before each task's own, its task overrides applied, no `variants`. `None` for an id the
    /// manifest does not declare. A manifest without variants is its own `default` variant.
    pub fn for_variant(&self, id: &str) -> Option<Manifest> {
        if self.variants.is_empty() {
            return (id == DEFAULT_VARIANT).then(|| self.clone());
        }
        let v = self.variant(id)?;
        let tasks = self
            .tasks
            .iter()
            .map(|t| {
                let mut t = t.clone();
                let o = v.tasks.iter().find(|o| o.id.get_ref() == t.id.get_ref());
                if let Some(o) = o {
                    t.replace(TaskFields {
                        files: &o.files,
                        steps: &o.steps,
                        filter: &o.filter,
                        input: &o.input,
                        output: &o.output,
                        group_key: &o.group_key,
                    });
                }
                t.steps = v.steps.iter().cloned().chain(t.steps).collect();
                t
            })
            .collect();
        Some(Manifest {
            corpus: self.corpus.clone(),
            files: v.files.clone(),
            variants: Vec::new(),
            tasks,
        })
    }
    /// The manifest as `profile` builds it: every task's upstream overrides applied for
    /// `upstream` (before any variant's: a variant's task overrides adapt its records' shape
    /// and still apply on top), unchanged for `clean`.
    pub fn for_profile(&self, profile: medsins_core::Profile) -> Manifest {
        let mut m = self.clone();
        for t in &mut m.tasks {
            *t = t.for_profile(profile);
        }
        m
    }
    /// Files a task uses as joined or looked-up tables rather than as records.
    pub fn lookup_file_ids<'a>(&self, task: &'a Task) -> Vec<&'a str> {
        task.steps
            .iter()
            .filter_map(|s| match s.get_ref() {
                Step::Join { file, .. }
                | Step::Lookup { file, .. }
                | Step::LookupRecords { file, .. }
                | Step::CodeDialogue { file, .. } => Some(file.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Known raw formats.
pub const FORMATS: &[&str] = &[
    "json",
    "jsonl",
    "csv",
    "tsv",
    "xlsx",
    "iob",
    "pubtator",
    "xml",
    "sni-task",
    "workbook",
    "text-folder",
    "brat",
    "parquet",
    "obo",
    "text-files",
];

/// `[tasks.near_dedup]`: MinHash LSH near-duplicate detection within a task. Candidates share
/// a band of `rows` signature values; they are confirmed by the actual Jaccard similarity of
/// their word-shingle sets (input and output, never the instruction).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NearDedup {
    /// `flag` (default: ledger entry `near_duplicate_flag`, sample kept), `remove` (ledger
    /// entry `near_duplicate`, sample removed) or `off`.
    #[serde(default = "flag_policy")]
    pub policy: NearDedupPolicy,
    /// Words per shingle (default 5).
    #[serde(default = "nd_shingle")]
    pub shingle: usize,
    /// MinHash permutations (default 128); must be at least `bands` × `rows`.
    #[serde(default = "nd_permutations")]
    pub permutations: usize,
    /// LSH bands (default 16).
    #[serde(default = "nd_bands")]
    pub bands: usize,
    /// Signature rows per band (default 8).
    #[serde(default = "nd_rows")]
    pub rows: usize,
    /// Jaccard similarity at or above which a candidate pair is a near-duplicate (default 0.8).
    #[serde(default = "nd_threshold")]
    pub threshold: f64,
}

impl Default for NearDedup {
    fn default() -> Self {
        NearDedup {
            policy: flag_policy(),
            shingle: nd_shingle(),
            permutations: nd_permutations(),
            bands: nd_bands(),
            rows: nd_rows(),
            threshold: nd_threshold(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NearDedupPolicy {
    Remove,
    Flag,
    Off,
}

fn flag_policy() -> NearDedupPolicy {
    NearDedupPolicy::Flag
}
fn nd_shingle() -> usize {
    5
}
fn nd_permutations() -> usize {
    128
}
fn nd_bands() -> usize {
    16
}
fn nd_rows() -> usize {
    8
}
fn nd_threshold() -> f64 {
    0.8
}

/// A semantic check expected to fail on a task, and why.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectedCheck {
    /// One of QUALITY_CHECKS: empty_input, empty_output, conflicting_outputs, label_skew,
    /// mc_answer_not_in_options, ner_not_substring, output_copies_input, suspicious_length.
    pub check: String,
    /// Why the failure is expected (shown in reports).
    pub reason: String,
}

/// The semantic checks run after a build and by `medsins check` (docs/data-quality.md).
pub const QUALITY_CHECKS: &[&str] = &[
    "empty_input",
    "empty_output",
    "conflicting_outputs",
    "label_skew",
    "mc_answer_not_in_options",
    "ner_not_substring",
    "output_copies_input",
    "suspicious_length",
    LOW_YIELD_CHECK,
];

/// The check that a task's files turn enough of their records into samples (declared with
/// `expected_yield`, not `expected_checks`).
pub const LOW_YIELD_CHECK: &str = "low_yield";

/// `rest` of a `head` split that removes the records after the cut.
pub const HEAD_REST_DROP: &str = "drop";

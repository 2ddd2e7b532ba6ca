//! The dataset card (`README.md` of the output) and `LICENSE.md`: the Hugging Face Hub's
//! dataset-card metadata (every field that applies: languages, licence with its name and
//! link, size and task categories, configs per task, `dataset_info` with features and split
//! sizes read from the written shards, gating terms when restricted rows are present, the
//! profile and quality policies that built it), then how the rows were prepared, the data
//! fields, how to load, limitations, counts, licences and citations.

use medsins_core::{Category, LeakagePolicy, Profile, TaskMeta};
use medsins_manifest::{LoadedManifest, NearDedupPolicy};
use medsins_output::{Lock, OutputError, Stats};
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

/// A YAML scalar that stays a string whatever it holds (`no`, `1e3`, `null`, `: `): a JSON
/// string is a YAML double-quoted string.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The licence file the card's `license_link` names.
pub const LICENSE_FILE: &str = "LICENSE.md";

/// The Hub's task categories for a MedS-Ins category (every task is also `text-generation`).
fn hub_task_category(c: Category) -> Option<&'static str> {
    use Category::*;
    Some(match c {
        QuestionAnswering => "question-answering",
        TextSummarization => "summarization",
        Translation => "translation",
        NamedEntityRecognition => "token-classification",
        TextRetrieval => "text-retrieval",
        TextClassification
        | IntentIdentification
        | NaturalLanguageInference
        | FactVerification
        | WordRelationClassification => "text-classification",
        _ => return None,
    })
}

/// The Hub's task ids for a MedS-Ins category.
fn hub_task_id(c: Category) -> Option<&'static str> {
    use Category::*;
    Some(match c {
        NamedEntityRecognition => "named-entity-recognition",
        NaturalLanguageInference => "natural-language-inference",
        FactVerification => "fact-checking",
        IntentIdentification => "intent-classification",
        TextClassification => "multi-class-classification",
        Dialogue => "dialogue-modeling",
        _ => return None,
    })
}

fn size_category(n: u64) -> &'static str {
    match n {
        0..1_000 => "n<1K",
        1_000..10_000 => "1K<n<10K",
        10_000..100_000 => "10K<n<100K",
        100_000..1_000_000 => "100K<n<1M",
        1_000_000..10_000_000 => "1M<n<10M",
        _ => "10M<n<100M",
    }
}

/// What the shards of one config hold, read from their Parquet footers.
#[derive(Default)]
struct Sizes {
    /// split → (rows, uncompressed bytes)
    splits: BTreeMap<String, (u64, u64)>,
    /// bytes of the files
    download: u64,
}

/// The features of a config: (column name, `datasets` type).
type Features = Vec<(String, String)>;

/// The shards' sizes per task, and the features of the first.
fn shard_sizes(dir: &Path) -> Result<(BTreeMap<String, Sizes>, Features), OutputError> {
    let mut per_task: BTreeMap<String, Sizes> = BTreeMap::new();
    let mut features = Vec::new();
    for rel in medsins_output::shard_files(dir)? {
        let path = dir.join(&rel);
        let pe = |e: String| OutputError::Parquet {
            path: path.clone(),
            message: e,
        };
        let mut parts = rel.split('/').skip(1);
        let (Some(task), Some(file)) = (parts.next(), parts.next()) else {
            continue;
        };
        let split = file.split('-').next().unwrap_or_default().to_string();
        let io = |source| OutputError::Io {
            path: path.clone(),
            source,
        };
        let f = std::fs::File::open(&path).map_err(io)?;
        let size = f.metadata().map_err(io)?.len();
        let r = SerializedFileReader::new(f).map_err(|e| pe(e.to_string()))?;
        let meta = r.metadata();
        if features.is_empty() {
            let schema = parquet::arrow::parquet_to_arrow_schema(
                meta.file_metadata().schema_descr(),
                meta.file_metadata().key_value_metadata(),
            )
            .map_err(|e| pe(e.to_string()))?;
            features = schema
                .fields()
                .iter()
                .map(|f| {
                    let t = match f.data_type() {
                        arrow_schema::DataType::Int32 => "int32",
                        arrow_schema::DataType::List(_) => "list",
                        _ => "string",
                    };
                    (f.name().clone(), t.to_string())
                })
                .collect();
        }
        let s = per_task.entry(task.to_string()).or_default();
        let e = s.splits.entry(split).or_default();
        e.0 += meta.file_metadata().num_rows() as u64;
        e.1 += meta
            .row_groups()
            .iter()
            .map(|g| g.total_byte_size() as u64)
            .sum::<u64>();
        s.download += size;
    }
    Ok((per_task, features))
}

/// One `dataset_info` entry.
fn dataset_info(y: &mut String, config: &str, features: &[(String, String)], sizes: &Sizes) {
    let _ = writeln!(y, "- config_name: {}\n  features:", yaml_str(config));
    for (name, t) in features {
        if t == "list" {
            let _ = writeln!(y, "  - name: {name}\n    list: string");
        } else {
            let _ = writeln!(y, "  - name: {name}\n    dtype: {t}");
        }
    }
    let _ = writeln!(y, "  splits:");
    for split in ["train", "validation", "test"] {
        if let Some((rows, bytes)) = sizes.splits.get(split) {
            let _ = writeln!(
                y,
                "  - name: {split}\n    num_bytes: {bytes}\n    num_examples: {rows}"
            );
        }
    }
    let total: u64 = sizes.splits.values().map(|s| s.1).sum();
    let _ = writeln!(
        y,
        "  download_size: {}\n  dataset_size: {total}",
        sizes.download
    );
}

/// What each column holds, for the card's data-fields table.
const FIELDS: &[(&str, &str, &str)] = &[
    (
        "id",
        "string",
        "stable content-derived id (32 hex digits of SHA-256 of task, input, output); `medsins audit <id>` traces it",
    ),
    ("task_id", "string", "MedS-Ins task (also the config name)"),
    ("task_no", "int32", "MedS-Ins task number"),
    ("corpus_id", "string", "source corpus (see Sources)"),
    (
        "category",
        "string",
        "one of the 19 MedS-Ins task categories",
    ),
    (
        "text_source",
        "string",
        "one of the 5 MedS-Ins text sources",
    ),
    ("domains", "list of string", "medical domains of the task"),
    (
        "instruction",
        "string",
        "the task's instruction (its definition, or a paraphrase from the instruction bank)",
    ),
    (
        "instruction_id",
        "int32",
        "0 = the original definition, n = the n-th paraphrase",
    ),
    ("input", "string", "the model's input"),
    ("output", "string", "the expected answer"),
    ("split", "string", "train, validation or test"),
    (
        "languages",
        "list of string",
        "ISO 639-1 codes of input and output",
    ),
    ("license", "string", "licence of the source corpus"),
    ("access", "string", "public, registration or credentialed"),
    (
        "source_file",
        "string",
        "raw file the row came from, relative to the corpus folder",
    ),
    (
        "source_locator",
        "string",
        "where in that file (line, record, sheet/row, XML path)",
    ),
    (
        "source_variant",
        "string",
        "the distribution of the corpus the row was read from (its variant id; `default` for a corpus with one)",
    ),
    ("raw_sha256", "string", "SHA-256 of the raw record's bytes"),
    (
        "manifest_sha256",
        "string",
        "SHA-256 of the corpus manifest that rendered the row",
    ),
    (
        "builder_version",
        "string",
        "medsins version that built the row",
    ),
    (
        "input_tokens",
        "int32",
        "tokens of the input (builds with `--tokenizer` only)",
    ),
    (
        "output_tokens",
        "int32",
        "tokens of the output (builds with `--tokenizer` only)",
    ),
];

/// What a card is written from.
pub struct CardInputs<'a> {
    /// The manifests of the corpora built.
    pub manifests: &'a [&'a LoadedManifest],
    /// Corpus id → (variant id, its name): the distribution each corpus was read from.
    pub sources: &'a BTreeMap<String, (String, String)>,
    pub built: &'a [&'a TaskMeta],
    pub stats: &'a Stats,
    pub lock: &'a Lock,
}

/// Writes `README.md` (the card) and [`LICENSE_FILE`] into the output directory `dir`, after
/// its shards.
pub fn write_card(dir: &Path, c: &CardInputs) -> Result<(), OutputError> {
    let (sizes, features) = shard_sizes(dir)?;
    let card = dataset_card(c, &sizes, &features);
    for (name, text) in [
        ("README.md", card),
        (LICENSE_FILE, licence_file(c.manifests, c.stats)),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|source| OutputError::Io { path: p, source })?;
    }
    Ok(())
}

fn restricted<'a>(manifests: &[&'a LoadedManifest]) -> Vec<&'a str> {
    manifests
        .iter()
        .filter(|m| m.manifest.corpus.access.get_ref() != "public")
        .map(|m| m.manifest.id())
        .collect()
}

fn licence_file(manifests: &[&LoadedManifest], stats: &Stats) -> String {
    let mut b = String::from(
        "# Licences\n\nThis dataset is a compilation: each row keeps the licence and access class of the corpus it \
         was built from (columns `license` and `access`). There is no licence for the whole; use of a row is \
         governed by its corpus's terms, listed below with where to read them.\n\n\
         | corpus | licence | access | rows | terms |\n|---|---|---|---|---|\n",
    );
    for m in manifests {
        let c = &m.manifest.corpus;
        let _ = writeln!(
            b,
            "| {} | {} | {} | {} | {} |",
            c.name,
            c.license,
            c.access.get_ref(),
            stats.per_corpus.get(m.manifest.id()).copied().unwrap_or(0),
            c.homepage
        );
    }
    let r = restricted(manifests);
    if !r.is_empty() {
        let _ = writeln!(
            b,
            "\nRows of {} come from registration-only or credentialed corpora (e.g. PhysioNet's Credentialed \
             Health Data Use Agreement): they may not be redistributed. Share such a build only in a private, \
             gated repository with the same terms, or rebuild with `--access public`.",
            r.join(", ")
        );
    }
    b
}

/// The profile and quality policies that shaped the rows, as the lock's `options` record them
/// (so the card says what `medsins verify --rebuild` rebuilds with).
struct Policies {
    profile: Profile,
    leakage: LeakagePolicy,
    /// `--near-dedup`, replacing every manifest's policy; `None`: each manifest's own.
    near_dedup: Option<NearDedupPolicy>,
}

impl Policies {
    /// Read as `BuildOptions::from_locked` reads them: a lock without a profile is `clean`,
    /// one without a leakage policy has its profile's default.
    fn of(lock: &Lock) -> Policies {
        let named = |k: &str| lock.options.get(k).and_then(|v| v.as_str());
        let profile = named("profile")
            .and_then(Profile::parse)
            .unwrap_or(Profile::Clean);
        Policies {
            profile,
            leakage: named("leakage")
                .and_then(LeakagePolicy::parse)
                .unwrap_or(LeakagePolicy::default_for(profile)),
            near_dedup: lock
                .options
                .get("near_dedup")
                .and_then(|p| serde_json::from_value(p.clone()).ok()),
        }
    }

    /// The `near_dedup` value of the card's metadata: the override, else `manifest`.
    fn near_dedup_name(&self) -> &'static str {
        match self.near_dedup {
            None => "manifest",
            Some(NearDedupPolicy::Off) => "off",
            Some(NearDedupPolicy::Flag) => "flag",
            Some(NearDedupPolicy::Remove) => "remove",
        }
    }
}

/// What the card's sections share, computed once.
struct Facts<'a> {
    c: &'a CardInputs<'a>,
    sizes: &'a BTreeMap<String, Sizes>,
    features: &'a [(String, String)],
    languages: BTreeSet<&'a str>,
    /// MedS-Ins category names present, and the ones parsed into the closed vocabulary.
    categories: BTreeSet<&'a str>,
    parsed: Vec<Category>,
    /// Tasks with at least one row.
    with_rows: Vec<&'a TaskMeta>,
    restricted: Vec<&'a str>,
    policies: Policies,
}

impl<'a> Facts<'a> {
    fn new(
        c: &'a CardInputs<'a>,
        sizes: &'a BTreeMap<String, Sizes>,
        features: &'a [(String, String)],
    ) -> Facts<'a> {
        let categories: BTreeSet<&str> = c.built.iter().map(|t| t.category.as_str()).collect();
        Facts {
            c,
            sizes,
            features,
            languages: c
                .built
                .iter()
                .flat_map(|t| t.languages.iter().map(|s| s.as_str()))
                .collect(),
            parsed: categories
                .iter()
                .filter_map(|c| Category::parse(c))
                .collect(),
            categories,
            with_rows: c
                .built
                .iter()
                .copied()
                .filter(|t| {
                    c.stats
                        .per_task
                        .get(&t.task_id)
                        .is_some_and(|s| s.samples > 0)
                })
                .collect(),
            restricted: restricted(c.manifests),
            policies: Policies::of(c.lock),
        }
    }

    /// Rows of a task in a split.
    fn count(&self, t: &TaskMeta, split: &str) -> u64 {
        self.c
            .stats
            .per_task
            .get(&t.task_id)
            .and_then(|s| s.per_split.get(split))
            .copied()
            .unwrap_or(0)
    }

    /// The splits with rows among the tasks `pred` selects.
    fn splits_present(&self, pred: &dyn Fn(&TaskMeta) -> bool) -> Vec<&'static str> {
        ["train", "validation", "test"]
            .into_iter()
            .filter(|s| self.c.built.iter().any(|t| pred(t) && self.count(t, s) > 0))
            .collect()
    }
}

fn dataset_card(
    c: &CardInputs,
    sizes: &BTreeMap<String, Sizes>,
    features: &[(String, String)],
) -> String {
    let f = Facts::new(c, sizes, features);
    let mut b = String::from("---\n");
    hub_metadata(&mut b, &f);
    gating(&mut b, &f);
    configs(&mut b, &f);
    dataset_infos(&mut b, &f);
    b.push_str("---\n\n");
    overview(&mut b, &f);
    preparation(&mut b, &f.policies);
    loading(&mut b, &f);
    fields_and_tasks(&mut b, &f);
    limitations(&mut b);
    sources(&mut b, &f);
    b
}

/// The Hub's dataset-card metadata: name, languages, licence, creators, size, sources,
/// categories, tags.
fn hub_metadata(y: &mut String, f: &Facts) {
    let _ = writeln!(
        y,
        "pretty_name: {}",
        yaml_str("MedS-Ins (rebuilt with medsins)")
    );
    let _ = writeln!(y, "language:");
    for l in &f.languages {
        let _ = writeln!(y, "- {}", yaml_str(l));
    }
    let _ = writeln!(
        y,
        "multilinguality:\n- {}",
        if f.languages.len() > 1 {
            "multilingual"
        } else {
            "monolingual"
        }
    );
    let _ = writeln!(y, "license: other");
    let _ = writeln!(y, "license_name: medsins-per-corpus-licences");
    let _ = writeln!(y, "license_link: {LICENSE_FILE}");
    let _ = writeln!(y, "annotations_creators:\n- expert-generated\n- found");
    let _ = writeln!(y, "language_creators:\n- expert-generated\n- found");
    let _ = writeln!(
        y,
        "size_categories:\n- {}",
        yaml_str(size_category(f.c.stats.samples))
    );
    let _ = writeln!(y, "source_datasets:");
    for m in f.c.manifests {
        let _ = writeln!(
            y,
            "- {}",
            yaml_str(&format!("extended|{}", m.manifest.id()))
        );
    }
    let hub_categories: BTreeSet<&str> = std::iter::once("text-generation")
        .chain(f.parsed.iter().filter_map(|c| hub_task_category(*c)))
        .collect();
    let _ = writeln!(y, "task_categories:");
    for c in &hub_categories {
        let _ = writeln!(y, "- {c}");
    }
    let task_ids: BTreeSet<&str> = f.parsed.iter().filter_map(|c| hub_task_id(*c)).collect();
    if !task_ids.is_empty() {
        let _ = writeln!(y, "task_ids:");
        for t in &task_ids {
            let _ = writeln!(y, "- {t}");
        }
    }
    let _ = writeln!(
        y,
        "tags:\n- medical\n- biomedical\n- clinical\n- instruction-tuning\n- meds-ins"
    );
    let _ = writeln!(y, "meds_ins_categories:");
    for c in &f.categories {
        let _ = writeln!(y, "- {}", yaml_str(c));
    }
    let p = &f.policies;
    let _ = writeln!(
        y,
        "medsins_build:\n  profile: {}\n  leakage: {}\n  near_dedup: {}",
        p.profile.as_str(),
        p.leakage.as_str(),
        p.near_dedup_name()
    );
}

/// The Hub's access gate, when rows of restricted corpora are present.
fn gating(y: &mut String, f: &Facts) {
    if f.restricted.is_empty() {
        return;
    }
    let _ = writeln!(
        y,
        "extra_gated_prompt: {}",
        yaml_str(&format!(
            "This dataset holds rows of registration-only or credentialed corpora ({}). You may access it only if you hold the same access to those corpora (e.g. a PhysioNet credentialed account and signed Data Use Agreement) and agree not to redistribute their rows.",
            f.restricted.join(", ")
        ))
    );
    let _ = writeln!(
        y,
        "extra_gated_fields:\n  Name: text\n  Affiliation: text\n  Credentialed access (e.g. PhysioNet user name): text\n  I agree not to redistribute rows of restricted corpora: checkbox"
    );
}

/// One `datasets` config per task, and `default` for every task.
fn configs(y: &mut String, f: &Facts) {
    let _ = writeln!(y, "configs:");
    if !f.with_rows.is_empty() {
        let _ = writeln!(y, "- config_name: default\n  data_files:");
        for s in f.splits_present(&|_| true) {
            let _ = writeln!(y, "  - split: {s}\n    path: \"data/*/{s}-*.parquet\"");
        }
    }
    for t in &f.with_rows {
        let _ = writeln!(y, "- config_name: {}\n  data_files:", yaml_str(&t.task_id));
        for s in f.splits_present(&|x| x.task_id == t.task_id) {
            let _ = writeln!(
                y,
                "  - split: {s}\n    path: {}",
                yaml_str(&format!("data/{}/{s}-*.parquet", t.task_id))
            );
        }
    }
}

/// `dataset_info` of `default` and of every task, from the shards' footers.
fn dataset_infos(y: &mut String, f: &Facts) {
    if f.features.is_empty() {
        return;
    }
    let _ = writeln!(y, "dataset_info:");
    let mut all = Sizes::default();
    for s in f.sizes.values() {
        for (split, (rows, bytes)) in &s.splits {
            let e = all.splits.entry(split.clone()).or_default();
            e.0 += rows;
            e.1 += bytes;
        }
        all.download += s.download;
    }
    dataset_info(y, "default", f.features, &all);
    for t in &f.with_rows {
        if let Some(s) = f.sizes.get(&t.task_id) {
            dataset_info(y, &t.task_id, f.features, s);
        }
    }
}

/// The title, what the build is, and the warnings (partial, not the releases, restricted,
/// non-commercial).
fn overview(b: &mut String, f: &Facts) {
    let (stats, lock) = (f.c.stats, f.c.lock);
    let _ = writeln!(b, "# MedS-Ins, rebuilt from raw corpora\n");
    let _ = writeln!(
        b,
        "Built by `{}` from {} corpora into {} samples over {} tasks. Every row carries its provenance \
         (`source_variant`, `source_file`, `source_locator`, `raw_sha256`, `manifest_sha256`); `medsins audit <id>` traces \
         any row to its raw record. Removed samples are listed in `ledger.parquet`, with stage and reason.\n",
        lock.builder_version, stats.corpora, stats.samples, stats.tasks
    );
    if !lock.complete {
        let _ = writeln!(
            b,
            "**Partial build.** Missing corpora: {:?}; failed: {:?}.\n",
            lock.missing, lock.failed
        );
    }
    if !lock.checksums_skipped.is_empty() {
        let _ = writeln!(
            b,
            "> **Not the releases.** {} raw file(s) differ from the checksums their manifests declare, and the \
             build was told not to verify them (the bundled fixtures, or a synthetic raw root): see \
             `checksums_skipped` in `medsins.lock.json`. Do not publish this directory as MedS-Ins.\n",
            lock.checksums_skipped.len()
        );
    }
    if !f.restricted.is_empty() {
        let _ = writeln!(
            b,
            "> **Warning: restricted data.** Rows from registration-only or credentialed corpora are present \
             ({}). Their terms (e.g. the PhysioNet Credentialed Health Data Use Agreement) forbid redistribution: \
             share this directory only in a private, gated repository (`medsins push --private --gated manual`). \
             Rebuild with `--access public` for a shareable subset.\n",
            f.restricted.join(", ")
        );
    }
    let nc: Vec<&str> =
        f.c.manifests
            .iter()
            .filter(|m| {
                // CC licences mark it `-NC` / `BY-NC`; others spell it out
                let l = m.manifest.corpus.license.to_lowercase();
                ["-nc", " nc", "non-commercial", "noncommercial"]
                    .iter()
                    .any(|k| l.contains(k))
            })
            .map(|m| m.manifest.id())
            .collect();
    if !nc.is_empty() {
        let _ = writeln!(
            b,
            "> **Warning: non-commercial licences** apply to rows of: {}.\n",
            nc.join(", ")
        );
    }
}

/// How the rows were prepared: the profile, the leakage policy and the near-duplicate policy
/// (the card's `medsins_build` metadata, in words).
fn preparation(b: &mut String, p: &Policies) {
    let profile = match p.profile {
        Profile::Clean => {
            "text normalised (Unicode NFC, line ends, surrounding space trimmed), empty inputs and \
             outputs removed, exact duplicates removed within each task (not across tasks)"
        }
        Profile::Upstream => {
            "the authors' preparation scripts reproduced where the manifests declare how (each \
             manifest's `fidelity` says what still differs): text as rendered, exact duplicates \
             kept (flagged `exact_duplicate_flag` in the ledger)"
        }
    };
    let leakage = match p.leakage {
        LeakagePolicy::Remove => {
            "training rows whose input equals or near-duplicates a test or validation input of \
             any task are removed (`leak` in the ledger)"
        }
        LeakagePolicy::Flag => {
            "training rows whose input equals or near-duplicates a test or validation input of \
             any task are kept and flagged (`leak_flag` in the ledger): leave them out before \
             evaluating on those splits"
        }
        LeakagePolicy::Off => {
            "training rows were not compared with test and validation inputs: a training row may \
             repeat a held-out input"
        }
    };
    let near_dedup = match p.near_dedup {
        None if p.profile == Profile::Upstream => {
            "as each task's manifest declares (`near_dedup`), at most flagged in this profile \
             (`near_duplicate_flag` in the ledger; a policy `remove` becomes `flag`)"
        }
        None => {
            "as each task's manifest declares (`near_dedup`; flagged as `near_duplicate_flag` and \
             kept unless it says `remove` or `off`)"
        }
        Some(NearDedupPolicy::Flag) => {
            "flagged (`near_duplicate_flag` in the ledger) and kept, in every task (`--near-dedup \
             flag` replaced the manifests' policies)"
        }
        Some(NearDedupPolicy::Remove) => {
            "removed within each task (`near_duplicate` in the ledger), in every task \
             (`--near-dedup remove` replaced the manifests' policies)"
        }
        Some(NearDedupPolicy::Off) => {
            "not looked for, in any task (`--near-dedup off` replaced the manifests' policies)"
        }
    };
    let _ = writeln!(
        b,
        "## How the rows were prepared\n\n\
         - Profile `{}`: {profile}.\n\
         - Leakage `{}`: {leakage}.\n\
         - Near-duplicates: {near_dedup}.\n\n\
         `medsins.lock.json` records these options; `medsins verify --rebuild` rebuilds with them.\n",
        p.profile.as_str(),
        p.leakage.as_str()
    );
}

/// How to load the dataset with `datasets`, polars and DuckDB.
fn loading(b: &mut String, f: &Facts) {
    let example = f
        .with_rows
        .first()
        .map(|t| t.task_id.as_str())
        .unwrap_or("TASK_ID");
    let _ = writeln!(
        b,
        "## How to load\n\nEach task is a config; `default` is every task. Splits are `train`, `validation` and `test`.\n\n\
         ```python\nfrom datasets import load_dataset\n\nds = load_dataset(\"ORG/NAME\")                      # every task\n\
         task = load_dataset(\"ORG/NAME\", \"{example}\")  # one task\n```\n\n\
         ```python\nimport polars as pl\n\ndf = pl.read_parquet(\"hf://datasets/ORG/NAME/data/*/*.parquet\")\n\
         one = pl.read_parquet(\"hf://datasets/ORG/NAME/data/{example}/*.parquet\")\n```\n\n\
         ```sql\n-- DuckDB\nSELECT task_id, count(*) FROM 'hf://datasets/ORG/NAME/data/*/*.parquet' GROUP BY task_id;\n```\n\n\
         Replace `ORG/NAME` with this repository, or use the local directory (`load_dataset(\"out\")`, \
         `'out/data/*/*.parquet'`). `medsins export` writes chat, ShareGPT, Alpaca or MedS-Ins task JSON files \
         for training.\n"
    );
}

/// The data-fields table and the tasks table.
fn fields_and_tasks(b: &mut String, f: &Facts) {
    let _ = writeln!(
        b,
        "## Data fields\n\n| field | type | meaning |\n|---|---|---|"
    );
    let present: BTreeSet<&str> = f.features.iter().map(|x| x.0.as_str()).collect();
    for (name, t, what) in FIELDS {
        if present.is_empty() || present.contains(name) {
            let _ = writeln!(b, "| `{name}` | {t} | {what} |");
        }
    }
    let _ = writeln!(
        b,
        "\n## Tasks\n\n| task | no. | corpus | category | train | validation | test |\n|---|---|---|---|---|---|---|"
    );
    for t in f.c.built {
        let _ = writeln!(
            b,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            t.task_id,
            t.task_no,
            t.corpus_id,
            t.category,
            f.count(t, "train"),
            f.count(t, "validation"),
            f.count(t, "test")
        );
    }
}

fn limitations(b: &mut String) {
    let _ = writeln!(
        b,
        "\n## Limitations\n\n\
         - Rows inherit the errors, biases and coverage of their source corpora (mostly English; clinical notes \
         from a few US hospitals); nothing here is medical advice.\n\
         - Leakage is looked for (see How the rows were prepared) between the tasks of this dataset only, \
         never against other datasets: decontaminate against your benchmarks (`medsins build --decontaminate`).\n\
         - Where the authors' own preparation of a task is unknown, its rendering follows the published task \
         definition; such tasks can differ from the MedS-Ins release.\n\
         - Licences differ per corpus (see below and `{LICENSE_FILE}`): check each row's `license` and `access` \
         before use, in particular for commercial use.\n"
    );
}

/// Every corpus: the distribution it was read from, licence, access, rows; then citations.
fn sources(b: &mut String, f: &Facts) {
    let _ = writeln!(
        b,
        "## Sources, licences and citations\n\n| corpus | built from | licence | access | samples |\n|---|---|---|---|---|"
    );
    for m in f.c.manifests {
        let id = m.manifest.id();
        let from = match f.c.sources.get(id) {
            Some((v, name)) => format!("{name} (`{v}`)"),
            None => String::new(),
        };
        let _ = writeln!(
            b,
            "| [{}]({}) | {from} | {} | {} | {} |",
            m.manifest.corpus.name,
            m.manifest.corpus.homepage,
            m.manifest.corpus.license,
            m.manifest.corpus.access.get_ref(),
            f.c.stats.per_corpus.get(id).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(b, "\n### Citations\n");
    for m in f.c.manifests {
        let _ = writeln!(
            b,
            "**{}**\n\n```\n{}\n```\n",
            m.manifest.corpus.name,
            m.manifest.corpus.citation.trim()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BuildOptions;

    /// The card of an empty build whose lock records the options `set` gives.
    fn card_with(set: impl FnOnce(&mut BuildOptions)) -> String {
        let mut opts = BuildOptions::new("raw".into(), "out".into());
        set(&mut opts);
        let lock = Lock {
            builder_version: medsins_core::BUILDER_VERSION.to_string(),
            complete: true,
            options: opts.locked(),
            instruction_bank: None,
            manifests: Vec::new(),
            raw_files: Vec::new(),
            missing: Vec::new(),
            failed: Vec::new(),
            catalogue: "directory".into(),
            checksums_skipped: Vec::new(),
        };
        let inputs = CardInputs {
            manifests: &[],
            sources: &BTreeMap::new(),
            built: &[],
            stats: &Stats::default(),
            lock: &lock,
        };
        dataset_card(&inputs, &BTreeMap::new(), &[])
    }

    /// The lines of the card's `medsins_build` metadata, and its "How the rows were prepared"
    /// section.
    fn policies_of(card: &str) -> (Vec<&str>, &str) {
        let meta = card
            .lines()
            .skip_while(|l| *l != "medsins_build:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .collect();
        let section = card
            .split_once("## How the rows were prepared\n\n")
            .and_then(|(_, rest)| rest.split_once("\n## "))
            .map(|(section, _)| section)
            .expect("a How the rows were prepared section");
        (meta, section)
    }

    #[test]
    fn the_card_says_which_profile_and_policies_built_the_rows() {
        let clean = card_with(|_| {});
        assert_eq!(
            policies_of(&clean),
            (
                vec![
                    "  profile: clean",
                    "  leakage: remove",
                    "  near_dedup: manifest"
                ],
                "- Profile `clean`: text normalised (Unicode NFC, line ends, surrounding space trimmed), empty \
                 inputs and outputs removed, exact duplicates removed within each task (not across tasks).\n\
                 - Leakage `remove`: training rows whose input equals or near-duplicates a test or validation \
                 input of any task are removed (`leak` in the ledger).\n\
                 - Near-duplicates: as each task's manifest declares (`near_dedup`; flagged as \
                 `near_duplicate_flag` and kept unless it says `remove` or `off`).\n\n\
                 `medsins.lock.json` records these options; `medsins verify --rebuild` rebuilds with them.\n"
            )
        );
        let upstream = card_with(|o| {
            o.profile = Profile::Upstream;
            o.leakage = LeakagePolicy::Flag;
            o.near_dedup = Some(NearDedupPolicy::Off);
        });
        assert_eq!(
            policies_of(&upstream),
            (
                vec![
                    "  profile: upstream",
                    "  leakage: flag",
                    "  near_dedup: off"
                ],
                "- Profile `upstream`: the authors' preparation scripts reproduced where the manifests \
                 declare how (each manifest's `fidelity` says what still differs): text as rendered, exact \
                 duplicates kept (flagged `exact_duplicate_flag` in the ledger).\n\
                 - Leakage `flag`: training rows whose input equals or near-duplicates a test or validation \
                 input of any task are kept and flagged (`leak_flag` in the ledger): leave them out before \
                 evaluating on those splits.\n\
                 - Near-duplicates: not looked for, in any task (`--near-dedup off` replaced the manifests' \
                 policies).\n\n\
                 `medsins.lock.json` records these options; `medsins verify --rebuild` rebuilds with them.\n"
            )
        );
        let upstream_manifests = card_with(|o| {
            o.profile = Profile::Upstream;
            o.leakage = LeakagePolicy::default_for(Profile::Upstream);
        });
        let (meta, section) = policies_of(&upstream_manifests);
        assert_eq!(
            meta,
            [
                "  profile: upstream",
                "  leakage: off",
                "  near_dedup: manifest"
            ]
        );
        assert!(
            section.contains(
                "- Near-duplicates: as each task's manifest declares (`near_dedup`), at most flagged \
                 in this profile (`near_duplicate_flag` in the ledger; a policy `remove` becomes `flag`).\n"
            ),
            "{section}"
        );
        let off = card_with(|o| {
            o.leakage = LeakagePolicy::Off;
            o.near_dedup = Some(NearDedupPolicy::Remove);
        });
        let (meta, section) = policies_of(&off);
        assert_eq!(
            meta,
            ["  profile: clean", "  leakage: off", "  near_dedup: remove"]
        );
        assert!(
            section.contains(
                "- Leakage `off`: training rows were not compared with test and validation inputs: a \
                 training row may repeat a held-out input.\n\
                 - Near-duplicates: removed within each task (`near_duplicate` in the ledger), in every \
                 task (`--near-dedup remove` replaced the manifests' policies).\n"
            ),
            "{section}"
        );
    }
}

//! `medsins audit <id>`: where a sample came from, and proof by re-derivation.
//!
//! The id is looked up in the output's index (`index/ids.parquet`), so only one row group of
//! the index and one row of one shard are read. The report names the corpus (version, licence,
//! access), the task and instruction, the raw file (its SHA-256 from the lock) and the record's
//! locator, the manifest (its hash then and now) with the operator chain and templates, and any
//! ledger entries under the id. Given the raw root, the raw record is re-read with the
//! manifest's reader and the task is re-run over its files (steps, templates, normalisation,
//! id, split, instruction) to re-derive the sample: `MATCH`, or the fields that differ.

use medsins_core::{BadSampleId, LedgerEntry, Profile, SampleId};
use medsins_manifest::{CatalogueSource, LoadedManifest, Task};
use medsins_output::{self as output, Lock};
use medsins_pipeline::corpus::{Checksums, Found as FoundFile, Resolution, ResolvedCorpus, Survey};
use medsins_pipeline::instruction_set;
use medsins_readers::InstructionBank;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Where to find what the output does not contain.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// The catalogue holding the build's manifests.
    pub catalogue: CatalogueSource,
    /// The raw root: when given, the raw record is re-read and the sample re-derived.
    pub raw_root: Option<PathBuf>,
    /// Whether the raw files must match their manifests' checksums to be re-read.
    pub checksums: Checksums,
    /// The instruction bank, when the build used one (needed to re-derive the instruction).
    pub instructions: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub id: String,
    /// `kept` (a row of the output) or `removed` (only in the ledger).
    pub status: String,
    /// The shard and 0-based row holding the sample.
    pub shard: Option<ShardRef>,
    /// The row as written (every column).
    pub sample: Option<Map<String, Value>>,
    pub corpus: CorpusInfo,
    pub task: TaskInfo,
    pub instruction: Option<InstructionInfo>,
    pub source: SourceInfo,
    /// SHA-256 of the raw file, as recorded in the lock (same as `source.raw_sha256`).
    pub raw_sha256: Option<String>,
    pub manifest: ManifestInfo,
    /// The raw record(s), re-read from the raw file (with `--raw-root`).
    pub raw_records: Option<Vec<RawRecordInfo>>,
    pub rederive: Rederive,
    /// Ledger entries under this id (removed copies, or why it was removed).
    pub ledger: Vec<LedgerEntry>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShardRef {
    pub file: String,
    pub row: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct CorpusInfo {
    pub id: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub license: Option<String>,
    pub access: Option<String>,
    pub homepage: Option<String>,
    pub citation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct TaskInfo {
    pub id: String,
    pub number: Option<u32>,
    pub name: Option<String>,
    pub category: Option<String>,
    pub text_source: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstructionInfo {
    /// 0 = the task's original definition, then paraphrases of the instruction bank.
    pub id: u32,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SourceInfo {
    /// Relative to the raw root.
    pub file: String,
    /// SHA-256 of the raw file (from the lock).
    pub raw_sha256: Option<String>,
    pub size: Option<u64>,
    pub locator: String,
    /// SHA-256 of the record's raw bytes (the row's `raw_sha256` column).
    pub record_sha256: Option<String>,
    /// SHA-256 of the raw file now (with `--raw-root`); differs from `raw_sha256` when it changed.
    pub current_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ManifestInfo {
    pub path: String,
    /// The manifest's hash when the sample was built (the row's `manifest_sha256`).
    pub sha256: String,
    /// The hash of the manifest now in the manifest folder (None when it is not there).
    pub current_sha256: Option<String>,
    /// True when the manifest changed since the build (the chain below is today's).
    pub changed: bool,
    /// The distribution the build read (the row's `source_variant`, or the lock's); the
    /// chain below is the task as built from it, its variant's steps first.
    pub source_variant: String,
    /// The operator chain, in order.
    pub steps: Vec<Value>,
    pub filter: Option<String>,
    pub input_template: Option<String>,
    pub output_template: Option<String>,
    pub group_key_template: Option<String>,
    pub split: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RawRecordInfo {
    pub locator: String,
    pub raw_sha256: String,
    pub fields: Map<String, Value>,
}

/// The result of re-deriving the sample from its raw record.
#[derive(Debug, Clone, Serialize)]
pub struct Rederive {
    /// `MATCH`, `DIFF` or `SKIPPED`.
    pub status: String,
    pub reason: Option<String>,
    pub differences: Vec<Difference>,
    /// What the record re-derives to (the compared fields).
    pub rederived: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub field: String,
    pub built: Value,
    pub rederived: Value,
}

impl Rederive {
    fn skipped(reason: impl Into<String>) -> Self {
        Rederive {
            status: "SKIPPED".into(),
            reason: Some(reason.into()),
            differences: vec![],
            rederived: None,
        }
    }
    fn diff(reason: impl Into<String>) -> Self {
        Rederive {
            status: "DIFF".into(),
            reason: Some(reason.into()),
            differences: vec![],
            rederived: None,
        }
    }
    pub fn is_match(&self) -> bool {
        self.status == "MATCH"
    }
}

/// Why a sample could not be re-derived from the raw files (the audit reports it as a
/// difference and goes on).
#[derive(Debug, thiserror::Error)]
pub enum RederiveError {
    #[error(transparent)]
    Unusable(std::sync::Arc<medsins_pipeline::FileProblem>),
    #[error(
        "task `{task_id}` of {} no longer reads {source_file}: the manifest or the raw files changed since the build",
        .manifest.display()
    )]
    NoLongerRead {
        task_id: String,
        manifest: PathBuf,
        source_file: String,
    },
    /// `obtain` is the manifest's instructions for getting the files.
    #[error("raw files not found: {}; {obtain}", .paths.join(", "))]
    Missing { paths: Vec<String>, obtain: String },
    #[error(transparent)]
    Corpus(#[from] medsins_pipeline::CorpusError),
    #[error("{0}: not resolved")]
    NotResolved(String),
    #[error(transparent)]
    Read(#[from] medsins_readers::ReadError),
    #[error(transparent)]
    Task(#[from] medsins_pipeline::TaskError),
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    NotAnOutput(String),
    #[error("{0}")]
    UnknownId(String),
    /// The index points at a row that holds another id: the output was changed after the
    /// build.
    #[error(
        "{file} row {row} holds id `{found}`, not `{id}` as the index says: the output was modified after the build; run `medsins verify` on it and rebuild"
    )]
    IndexMismatch {
        id: SampleId,
        file: String,
        row: u64,
        found: String,
    },
    #[error(transparent)]
    Output(#[from] medsins_output::OutputError),
}

/// Reads a build's lock, with a message naming the file and the fix.
pub fn read_lock(out: &Path) -> Result<Lock, AuditError> {
    let p = out.join(output::LOCK_FILE);
    let text = std::fs::read_to_string(&p).map_err(|e| {
        AuditError::NotAnOutput(format!(
            "{}: cannot read ({e}); is {} a medsins build? pass --out DIR of one",
            p.display(),
            out.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| {
        AuditError::NotAnOutput(format!(
            "{}: not a medsins lock ({e}); rebuild the output or restore the file",
            p.display()
        ))
    })
}

fn str_of(row: &Map<String, Value>, k: &str) -> String {
    row.get(k)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Where an id is in an output: its row (when kept) and its ledger entries.
struct Located {
    shard: Option<output::IndexHit>,
    sample: Option<Map<String, Value>>,
    ledger: Vec<LedgerEntry>,
}

/// Finds `id` through the output's index (or, without one, by scanning), and checks that the
/// row found really holds it: an output edited after the build must not show another sample
/// under the asked id.
fn locate(out: &Path, id: SampleId, notes: &mut Vec<String>) -> Result<Located, AuditError> {
    let text = id.to_string();
    let hits = match output::lookup_id(out, &text)? {
        Some(h) => h,
        None => {
            notes.push(format!(
                "{} is absent (built by an older medsins): scanned every shard",
                output::INDEX_FILE
            ));
            output::scan_for_id(out, &text)?
        }
    };
    if hits.is_empty() {
        return Err(AuditError::UnknownId(format!(
            "unknown id `{id}`: no sample and no removed record of {} has it; check the id and --out",
            out.display()
        )));
    }
    let shard = hits.iter().find(|h| h.file != output::LEDGER_FILE).cloned();
    let ledger_rows: Vec<u64> = hits
        .iter()
        .filter(|h| h.file == output::LEDGER_FILE)
        .map(|h| h.row)
        .collect();
    let ledger = if ledger_rows.is_empty() {
        vec![]
    } else {
        output::read_ledger_rows(&out.join(output::LEDGER_FILE), &ledger_rows)?
    };
    let sample = match &shard {
        Some(h) => Some(output::read_sample_row(&out.join(&h.file), h.row)?),
        None => None,
    };
    let mismatch = |file: &str, row: u64, found: String| AuditError::IndexMismatch {
        id,
        file: file.to_string(),
        row,
        found,
    };
    if let (Some(h), Some(r)) = (&shard, &sample)
        && str_of(r, "id") != text
    {
        return Err(mismatch(&h.file, h.row, str_of(r, "id")));
    }
    if let Some(e) = ledger.iter().find(|e| e.id != Some(id)) {
        let found = e.id.map(|x| x.to_string()).unwrap_or_default();
        return Err(mismatch(output::LEDGER_FILE, ledger_rows[0], found));
    }
    Ok(Located {
        shard,
        sample,
        ledger,
    })
}

/// Audits `id` in the output `out`.
pub fn audit(out: &Path, id: &str, opts: &AuditOptions) -> Result<AuditReport, AuditError> {
    let lock = read_lock(out)?;
    let id: SampleId = id.trim().to_lowercase().parse().map_err(|e: BadSampleId| {
        AuditError::UnknownId(format!("{e}: copy it from the `id` column of a shard"))
    })?;
    let mut notes = Vec::new();
    let found = locate(out, id, &mut notes)?;
    let mut d = describe(&found, &lock, &mut notes);
    // the manifest as the recorded distribution sees it in the build's profile: the build's
    // files and steps
    let variant = d.manifest.source_variant.clone();
    let profile = lock
        .options
        .get("profile")
        .and_then(|p| p.as_str())
        .and_then(Profile::parse)
        .unwrap_or(Profile::Clean);
    let lm = match opts.catalogue.load_manifest(&d.corpus.id) {
        Ok(lm) => match lm.for_profile(profile).for_variant(&variant) {
            Some(view) => Some(view),
            None => {
                notes.push(format!(
                    "{}: declares no variant `{variant}` any more (it has: {}); the build read that distribution",
                    lm.path.display(),
                    lm.manifest.variant_ids().join(", ")
                ));
                None
            }
        },
        Err(e) => {
            notes.push(e.to_string());
            None
        }
    };
    let task = lm
        .as_ref()
        .and_then(|lm| describe_manifest(lm, &mut d, &mut notes));
    let mut raw_records = None;
    let rederive = match (&opts.raw_root, &lm, task) {
        (None, _, _) => Rederive::skipped(
            "pass --raw-root DIR to re-read the raw record and re-derive the sample",
        ),
        (Some(_), None, _) | (Some(_), Some(_), None) => {
            Rederive::skipped("the manifest or task is not available (see notes)")
        }
        (Some(raw_root), Some(lm), Some(task)) => {
            let bank = instruction_bank(&lock, opts, &mut notes);
            let check_instruction = lock.instruction_bank.is_none() || bank.is_some();
            let seed = lock
                .options
                .get("seed")
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            // the raw files are read within the limits the build used
            let limits = medsins_readers::Limits::from_locked(&lock.options).unwrap_or_else(|e| {
                notes.push(format!(
                    "{e}; the raw files are read within the default limits"
                ));
                medsins_readers::Limits::default()
            });
            let target = Target {
                id,
                source_file: &d.source.file,
                locator: &d.source.locator,
                record_sha256: d.source.record_sha256.as_deref(),
            };
            let read = Reading {
                limits,
                checksums: opts.checksums,
            };
            match rederive_one(lm, task, raw_root, &target, seed, bank.as_ref(), read) {
                Err(reason) => Rederive::diff(reason.to_string()),
                Ok(re) => {
                    d.source.current_sha256 = re.file_sha256.clone();
                    if let (Some(now), Some(then)) = (&re.file_sha256, &d.source.raw_sha256)
                        && now != then
                    {
                        notes.push(format!("the raw file changed since the build: {} now has sha256 {now}, the lock says {then}", d.source.file));
                    }
                    raw_records = Some(re.raw_records);
                    let sample = found.sample.as_ref();
                    compare(id, sample, &found.ledger, re.found, check_instruction)
                }
            }
        }
    };
    Ok(AuditReport {
        status: if found.sample.is_some() {
            "kept"
        } else {
            "removed"
        }
        .into(),
        id: id.to_string(),
        shard: found.shard.map(|h| ShardRef {
            file: h.file,
            row: h.row,
        }),
        raw_sha256: d.source.raw_sha256.clone(),
        sample: found.sample,
        corpus: d.corpus,
        task: d.task,
        instruction: d.instruction,
        source: d.source,
        manifest: d.manifest,
        raw_records,
        rederive,
        ledger: found.ledger,
        notes,
    })
}

/// What the output (row, ledger, lock) says about a located id.
struct Described {
    corpus: CorpusInfo,
    task: TaskInfo,
    instruction: Option<InstructionInfo>,
    source: SourceInfo,
    manifest: ManifestInfo,
}

fn describe(found: &Located, lock: &Lock, notes: &mut Vec<String>) -> Described {
    let (corpus_id, task_id, source_file, locator) = match (&found.sample, found.ledger.first()) {
        (Some(r), _) => (
            str_of(r, "corpus_id"),
            str_of(r, "task_id"),
            str_of(r, "source_file"),
            str_of(r, "source_locator"),
        ),
        (None, Some(e)) => (
            e.corpus_id.clone(),
            e.task_id.clone(),
            e.source_file.clone(),
            e.source_locator.clone(),
        ),
        // `locate` returns at least one of them
        (None, None) => Default::default(),
    };
    let sample = found.sample.as_ref();
    let built_manifest_sha = sample
        .map(|r| str_of(r, "manifest_sha256"))
        .or_else(|| {
            lock.manifests
                .iter()
                .find(|m| m.corpus_id == corpus_id)
                .map(|m| m.sha256.clone())
        })
        .unwrap_or_default();
    let locked_file = lock.raw_files.iter().find(|f| f.path == source_file);
    if locked_file.is_none() {
        notes.push(format!("{source_file} is not among the lock's raw files"));
    }
    Described {
        corpus: CorpusInfo {
            id: corpus_id.clone(),
            license: sample.map(|r| str_of(r, "license")),
            access: sample.map(|r| str_of(r, "access")),
            ..Default::default()
        },
        task: TaskInfo {
            id: task_id,
            number: sample
                .and_then(|r| r.get("task_no").and_then(|v| v.as_u64()))
                .map(|n| n as u32),
            category: sample.map(|r| str_of(r, "category")),
            text_source: sample.map(|r| str_of(r, "text_source")),
            ..Default::default()
        },
        instruction: sample.map(|r| InstructionInfo {
            id: r
                .get("instruction_id")
                .and_then(|v| v.as_u64())
                .unwrap_or(0) as u32,
            text: str_of(r, "instruction"),
        }),
        source: SourceInfo {
            file: source_file,
            raw_sha256: locked_file.map(|f| f.sha256.clone()),
            size: locked_file.map(|f| f.size),
            locator,
            record_sha256: sample.map(|r| str_of(r, "raw_sha256")),
            current_sha256: None,
        },
        manifest: ManifestInfo {
            path: format!("corpora-manifests/{corpus_id}.toml"),
            sha256: built_manifest_sha,
            source_variant: sample
                .map(|r| str_of(r, "source_variant"))
                .filter(|v| !v.is_empty())
                .or_else(|| {
                    lock.manifests
                        .iter()
                        .find(|m| m.corpus_id == corpus_id)
                        .map(|m| m.source_variant.clone())
                })
                .unwrap_or_else(|| medsins_manifest::DEFAULT_VARIANT.to_string()),
            ..Default::default()
        },
    }
}

/// Fills in what today's manifest says (corpus, task, operator chain); returns the task.
fn describe_manifest<'a>(
    lm: &'a LoadedManifest,
    d: &mut Described,
    notes: &mut Vec<String>,
) -> Option<&'a Task> {
    let c = &lm.manifest.corpus;
    d.corpus.name = Some(c.name.clone());
    d.corpus.version = Some(c.version.clone());
    d.corpus.homepage = Some(c.homepage.clone());
    d.corpus.citation = Some(c.citation.trim().to_string());
    d.corpus.license.get_or_insert_with(|| c.license.clone());
    d.corpus
        .access
        .get_or_insert_with(|| c.access.get_ref().clone());
    let m = &mut d.manifest;
    m.current_sha256 = Some(lm.sha256.clone());
    m.changed = lm.sha256 != m.sha256;
    if m.changed {
        notes.push(format!(
            "the manifest changed since the build: {} has sha256 {}, the build used {}; the chain shown is today's",
            lm.path.display(),
            lm.sha256,
            m.sha256
        ));
    }
    let task_id = &d.task.id;
    let Some(t) = lm.manifest.tasks.iter().find(|t| t.id.get_ref() == task_id) else {
        notes.push(format!(
            "{}: has no task `{task_id}` any more",
            lm.path.display()
        ));
        return None;
    };
    d.task.number.get_or_insert(*t.number.get_ref());
    d.task.name = Some(t.name.clone());
    d.task
        .category
        .get_or_insert_with(|| t.category.get_ref().clone());
    d.task
        .text_source
        .get_or_insert_with(|| t.text_source.get_ref().clone());
    m.steps = t
        .steps
        .iter()
        .filter_map(|s| serde_json::to_value(s.get_ref()).ok())
        .collect();
    m.filter = t.filter.as_ref().map(|f| f.get_ref().clone());
    m.input_template = Some(t.input.get_ref().clone());
    m.output_template = Some(t.output.get_ref().clone());
    m.group_key_template = t.group_key.as_ref().map(|g| g.get_ref().clone());
    m.split = serde_json::to_value(t.split.get_ref()).ok();
    Some(t)
}

/// The instruction bank the build used, when given and the same file (`--instructions`).
fn instruction_bank(
    lock: &Lock,
    opts: &AuditOptions,
    notes: &mut Vec<String>,
) -> Option<InstructionBank> {
    match (&lock.instruction_bank, &opts.instructions) {
        (Some(_), None) => {
            notes.push("the build used an instruction bank: pass --instructions FILE to re-derive the instruction too".into());
            None
        }
        (Some(locked), Some(p)) => match InstructionBank::load(p) {
            Ok(b) if b.sha256 == locked.sha256 => Some(b),
            Ok(b) => {
                notes.push(format!(
                    "{}: sha256 {} is not the bank the build used ({}); instruction not re-derived",
                    p.display(),
                    b.sha256,
                    locked.sha256
                ));
                None
            }
            Err(e) => {
                notes.push(format!("{e}; instruction not re-derived"));
                None
            }
        },
        (None, _) => None,
    }
}

/// What the task, re-run, made of the record at the locator.
enum Found {
    Sample(Map<String, Value>),
    Removed(Vec<LedgerEntry>),
    Nothing,
}

struct Rederived {
    found: Found,
    raw_records: Vec<RawRecordInfo>,
    file_sha256: Option<String>,
}

/// How the raw files are read again: within the build's limits, checksums as the caller says.
struct Reading {
    limits: medsins_readers::Limits,
    checksums: Checksums,
}

/// What the output says about the record to re-derive.
struct Target<'a> {
    id: SampleId,
    source_file: &'a str,
    locator: &'a str,
    /// The row's `raw_sha256` (None for ledger-only ids).
    record_sha256: Option<&'a str>,
}

/// Re-reads the raw record and re-runs the task over its files.
fn rederive_one(
    lm: &LoadedManifest,
    task: &Task,
    raw_root: &Path,
    target: &Target,
    seed: u64,
    bank: Option<&InstructionBank>,
    read: Reading,
) -> Result<Rederived, RederiveError> {
    let Target {
        source_file,
        locator,
        record_sha256,
        ..
    } = *target;
    let m = &lm.manifest;
    // find the task's files as the build did, and keep the entries that resolved to the row's
    // source file (several entries may share one path: zip members, XML record paths)
    let survey = Survey::of(lm.clone(), raw_root, Some(&m.needed_file_ids(task)));
    if let Some(problem) = survey.problem() {
        return Err(RederiveError::Unusable(problem));
    }
    let specs: Vec<_> = m
        .task_files(task)
        .into_iter()
        .filter(|f| {
            survey.files.iter().any(|(id, found)| {
                id == f.id.get_ref()
                    && matches!(found, FoundFile::Here(l) if l.rel_under(raw_root) == source_file)
            })
        })
        .collect();
    if specs.is_empty() {
        let missing = survey.missing();
        return Err(if missing.is_empty() {
            RederiveError::NoLongerRead {
                task_id: task.id.get_ref().clone(),
                manifest: lm.path.clone(),
                source_file: source_file.to_string(),
            }
        } else {
            RederiveError::Missing {
                paths: missing,
                obtain: m.corpus.obtain.trim().to_string(),
            }
        });
    }
    // only the file the sample came from (and the task's lookups) is needed to re-derive it
    let mut ids: Vec<String> = specs.iter().map(|f| f.id.get_ref().clone()).collect();
    ids.extend(m.lookup_file_ids(task).into_iter().map(str::to_string));
    let rc = match survey.resolve(raw_root, Some(&ids), read.checksums) {
        Resolution::Ready(rc) => ResolvedCorpus {
            limits: read.limits,
            ..*rc
        },
        Resolution::Missing(paths) => {
            return Err(RederiveError::Missing {
                paths,
                obtain: m.corpus.obtain.trim().to_string(),
            });
        }
        Resolution::Failed(e) => return Err(e.into()),
    };
    // the raw record itself, as the manifest's reader sees it
    let mut raw_records = Vec::new();
    let mut file_sha256 = None;
    for spec in &specs {
        let file = rc
            .file(spec.id.get_ref())
            .ok_or_else(|| RederiveError::NotResolved(source_file.to_string()))?;
        file_sha256 = Some(file.sha256.clone());
        let records = file.read_all(spec, &rc.limits)?;
        raw_records.extend(raw_records_at(&records, locator));
    }
    // the same locator in several members: keep the record whose hash the row recorded
    if raw_records.len() > 1
        && let Some(h) = record_sha256
        && raw_records.iter().any(|r| r.raw_sha256 == h)
    {
        raw_records.retain(|r| r.raw_sha256 == h);
    }

    let instructions = instruction_set(task, bank);
    let tb = rc.render_task(task.id.get_ref(), seed, &instructions, None)?;
    let found = found_at(tb, target);
    Ok(Rederived {
        found,
        raw_records,
        file_sha256,
    })
}

/// What the re-run task made of the record at the target's locator: a sample (the one with
/// the row's record hash, or the asked id, when several come from one record), or its
/// ledger entries.
fn found_at(tb: medsins_pipeline::TaskBuild, target: &Target) -> Found {
    let Target {
        id,
        source_file,
        locator,
        record_sha256,
    } = *target;
    let candidates: Vec<&medsins_core::Sample> = tb
        .samples
        .iter()
        .filter(|s| s.source_file == source_file && s.source_locator == locator)
        .collect();
    let chosen = match candidates.len() {
        0 | 1 => candidates.first().copied(),
        _ => candidates
            .iter()
            .find(|s| Some(s.raw_sha256.as_str()) == record_sha256)
            .or_else(|| candidates.iter().find(|s| s.id == id))
            .or(candidates.first())
            .copied(),
    };
    if let Some(s) = chosen {
        let mut o = Map::new();
        o.insert("id".into(), s.id.to_string().into());
        o.insert("input".into(), s.input.clone().into());
        o.insert("output".into(), s.output.clone().into());
        o.insert("split".into(), s.split.map_or("", |x| x.as_str()).into());
        o.insert("instruction_id".into(), s.instruction_id.into());
        o.insert("instruction".into(), s.instruction.clone().into());
        o.insert("source_file".into(), s.source_file.clone().into());
        o.insert("source_locator".into(), s.source_locator.clone().into());
        o.insert("raw_sha256".into(), s.raw_sha256.clone().into());
        return Found::Sample(o);
    }
    let mut removed: Vec<LedgerEntry> = tb
        .ledger
        .into_iter()
        .filter(|e| e.source_file == source_file && e.source_locator == locator)
        .collect();
    let asked = |e: &LedgerEntry| e.id == Some(id);
    if removed.iter().any(asked) {
        removed.retain(asked);
    }
    if removed.is_empty() {
        Found::Nothing
    } else {
        Found::Removed(removed)
    }
}

/// The raw records behind a (possibly reshaped) locator: `row 3` itself; `row 3 #2` (explode)
/// → `row 3`; `row 1 .. row 4` (group) → the records from `row 1` to `row 4`.
fn raw_records_at(
    records: &[Result<medsins_readers::Record, medsins_readers::RecordError>],
    locator: &str,
) -> Vec<RawRecordInfo> {
    fn base(l: &str) -> &str {
        let mut l = l;
        while let Some((b, n)) = l.rsplit_once(" #") {
            if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() {
                l = b;
            } else {
                break;
            }
        }
        l
    }
    let ok: Vec<&medsins_readers::Record> =
        records.iter().filter_map(|r| r.as_ref().ok()).collect();
    let info = |r: &medsins_readers::Record| RawRecordInfo {
        locator: r.locator.clone(),
        raw_sha256: r.raw_sha256.clone(),
        fields: r.fields.clone(),
    };
    if let Some(r) = ok.iter().find(|r| r.locator == locator) {
        return vec![info(r)];
    }
    let (first, last) = match locator.split_once(" .. ") {
        Some((a, b)) => (base(a), base(b)),
        None => (base(locator), base(locator)),
    };
    let Some(i) = ok.iter().position(|r| r.locator == first) else {
        return vec![];
    };
    let j = ok
        .iter()
        .skip(i)
        .position(|r| r.locator == last)
        .map(|j| i + j)
        .unwrap_or(i);
    ok[i..=j].iter().map(|r| info(r)).collect()
}

fn compare(
    id: SampleId,
    sample: Option<&Map<String, Value>>,
    ledger: &[LedgerEntry],
    found: Found,
    check_instruction: bool,
) -> Rederive {
    match (sample, found) {
        (Some(row), Found::Sample(re)) => compare_fields(row, re, check_instruction),
        (Some(_), Found::Removed(entries)) => {
            let e = &entries[0];
            Rederive::diff(format!(
                "the record is now removed ({} / {}: {})",
                e.stage, e.reason, e.detail
            ))
        }
        (_, Found::Nothing) => {
            Rederive::diff("the re-run task has no sample and no ledger entry at this locator")
        }
        (None, Found::Sample(re)) => {
            // removed by a cross-task stage (leakage, decontamination), which re-running one
            // task does not repeat: the record still re-derives to this id
            let stages: Vec<String> = ledger
                .iter()
                .map(|e| format!("{} / {}", e.stage, e.reason))
                .collect();
            let (status, reason) = if re.get("id").and_then(|v| v.as_str()) == Some(&id.to_string())
            {
                let reason = format!(
                    "the record re-derives to this id; its removal ({}) is decided across tasks and not re-run here",
                    stages.join(", ")
                );
                ("MATCH", reason)
            } else {
                (
                    "DIFF",
                    "the record re-derives to a different id".to_string(),
                )
            };
            Rederive {
                status: status.into(),
                reason: Some(reason),
                differences: vec![],
                rederived: Some(re),
            }
        }
        (None, Found::Removed(entries)) => compare_removals(id, ledger, &entries),
    }
}

/// A kept row against what its record re-derives to, field by field.
fn compare_fields(
    row: &Map<String, Value>,
    re: Map<String, Value>,
    check_instruction: bool,
) -> Rederive {
    let mut differences = Vec::new();
    for (k, v) in &re {
        if !check_instruction && (k == "instruction" || k == "instruction_id") {
            continue;
        }
        let built = row.get(k).cloned().unwrap_or(Value::Null);
        if built != *v {
            differences.push(Difference {
                field: k.clone(),
                built,
                rederived: v.clone(),
            });
        }
    }
    let status = if differences.is_empty() {
        "MATCH"
    } else {
        "DIFF"
    };
    Rederive {
        status: status.into(),
        reason: None,
        differences,
        rederived: Some(re),
    }
}

/// A removed id's ledger entries against the removals the re-run task makes.
fn compare_removals(id: SampleId, ledger: &[LedgerEntry], entries: &[LedgerEntry]) -> Rederive {
    let built: Vec<&LedgerEntry> = ledger.iter().filter(|e| e.id == Some(id)).collect();
    let same = entries.iter().any(|e| {
        built.iter().any(|b| {
            b.id == e.id && b.stage == e.stage && b.reason == e.reason && b.kept_id == e.kept_id
        })
    });
    let mut re = Map::new();
    if let Some(e) = entries.first() {
        let id_value = |id: Option<SampleId>| id.map_or(Value::Null, |x| x.to_string().into());
        re.insert("id".into(), id_value(e.id));
        re.insert("stage".into(), e.stage.clone().into());
        re.insert("reason".into(), e.reason.as_str().into());
        re.insert("kept_id".into(), id_value(e.kept_id));
    }
    let (status, reason) = if same {
        ("MATCH", None)
    } else {
        (
            "DIFF",
            Some("the re-run task removes the record differently".to_string()),
        )
    };
    Rederive {
        status: status.into(),
        reason,
        differences: vec![],
        rederived: Some(re),
    }
}

/// The report in words, for the terminal.
pub fn render_text(r: &AuditReport) -> String {
    let mut s = String::new();
    write_origin(&mut s, r);
    write_manifest(&mut s, r);
    write_contents(&mut s, r);
    write_outcome(&mut s, r);
    s
}

fn opt(o: &Option<String>) -> String {
    o.clone().unwrap_or_else(|| "?".into())
}

fn opt_number<T: ToString>(o: Option<T>) -> String {
    o.map(|n| n.to_string()).unwrap_or_else(|| "?".into())
}

/// Id, shard, corpus, licence, task, instruction, raw file and locator.
fn write_origin(s: &mut String, r: &AuditReport) {
    use std::fmt::Write;
    let _ = writeln!(s, "id          {} ({})", r.id, r.status);
    if let Some(sh) = &r.shard {
        let _ = writeln!(s, "shard       {} row {}", sh.file, sh.row);
    }
    let c = &r.corpus;
    let _ = writeln!(
        s,
        "corpus      {} — {} (version: {})",
        c.id,
        opt(&c.name),
        opt(&c.version)
    );
    let _ = writeln!(
        s,
        "licence     {}   access: {}",
        opt(&c.license),
        opt(&c.access)
    );
    let t = &r.task;
    let _ = writeln!(
        s,
        "task        {} (no. {}) {} / {}",
        t.id,
        opt_number(t.number),
        opt(&t.category),
        opt(&t.text_source)
    );
    if let Some(i) = &r.instruction {
        let _ = writeln!(s, "instruction #{}: {}", i.id, i.text.trim());
    }
    let _ = writeln!(
        s,
        "raw file    {} (sha256 {}, {} bytes)",
        r.source.file,
        opt(&r.source.raw_sha256),
        opt_number(r.source.size)
    );
    let _ = writeln!(
        s,
        "locator     {}   record sha256 {}",
        r.source.locator,
        opt(&r.source.record_sha256)
    );
}

/// The manifest (changed or not) and its operator chain and templates.
fn write_manifest(s: &mut String, r: &AuditReport) {
    use std::fmt::Write;
    let m = &r.manifest;
    let changed = if m.changed {
        format!("; CHANGED since: now {}", opt(&m.current_sha256))
    } else {
        String::new()
    };
    let _ = writeln!(
        s,
        "manifest    {} (sha256 at build {}{changed}), variant `{}`",
        m.path, m.sha256, m.source_variant
    );
    for (i, st) in m.steps.iter().enumerate() {
        let _ = writeln!(s, "  step {}    {}", i + 1, st);
    }
    if let Some(f) = &m.filter {
        let _ = writeln!(s, "  filter    {f}");
    }
    for (label, t) in [
        ("input    ", &m.input_template),
        ("output   ", &m.output_template),
        ("group key", &m.group_key_template),
    ] {
        if let Some(t) = t {
            let _ = writeln!(s, "  {label} {}", t.replace('\n', "\\n"));
        }
    }
}

/// The row's split, input and output, and the raw records re-read.
fn write_contents(s: &mut String, r: &AuditReport) {
    use std::fmt::Write;
    if let Some(row) = &r.sample {
        let _ = writeln!(s, "split       {}", str_of(row, "split"));
        let _ = writeln!(s, "input:\n{}", indent(&str_of(row, "input")));
        let _ = writeln!(s, "output:\n{}", indent(&str_of(row, "output")));
    }
    if let Some(recs) = &r.raw_records {
        if recs.is_empty() {
            let _ = writeln!(s, "raw record: none found at this locator");
        }
        for rec in recs {
            let _ = writeln!(s, "raw record  {} (sha256 {})", rec.locator, rec.raw_sha256);
            let text = serde_json::to_string_pretty(&rec.fields).unwrap_or_default();
            let _ = writeln!(s, "{}", indent(&text));
        }
    }
}

/// Ledger entries, notes and the re-derivation.
fn write_outcome(s: &mut String, r: &AuditReport) {
    use std::fmt::Write;
    for e in &r.ledger {
        let kept = e.kept_id.map(|k| format!(", kept {k}")).unwrap_or_default();
        let detail = if e.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", e.detail)
        };
        let _ = writeln!(
            s,
            "ledger      {} / {} at {} {}{kept}{detail}",
            e.stage, e.reason, e.source_file, e.source_locator
        );
    }
    for n in &r.notes {
        let _ = writeln!(s, "note        {n}");
    }
    let _ = write!(s, "rederive    {}", r.rederive.status);
    if let Some(reason) = &r.rederive.reason {
        let _ = write!(s, ": {reason}");
    }
    let _ = writeln!(s);
    for d in &r.rederive.differences {
        let _ = writeln!(
            s,
            "  {}: built {} / re-derived {}",
            d.field, d.built, d.rederived
        );
    }
}

fn indent(t: &str) -> String {
    t.lines()
        .map(|l| format!("  │ {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

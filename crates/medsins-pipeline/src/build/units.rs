//! Units: what the build schedules, caches and hands to other processes (docs/scale-out.md).
//! A unit is a group of tasks of one corpus that read the same files (`task::share_groups`):
//! its result — samples, ledger rows, near-dedup and leakage state, counts — depends only on
//! what its [`UnitKey`] hashes, never on the other units.

use super::Inputs;
use super::plan::{Job, Plan};
use crate::corpus::ResolvedCorpus;
use crate::{BuildOptions, instruction_set};
use medsins_core::{BUILDER_VERSION, sha256_hex};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Version of the cache's layout (units: `task::saved`; written shards: `build::write`); part
/// of every key. 3: samples compressed, tasks' written shards cached.
pub const CACHE_FORMAT: u32 = 3;

/// Fingerprint of the source code that computes units (build.rs): a development build that
/// changes how units are computed never reuses units of another build.
const CODE_FINGERPRINT: &str = env!("MEDSINS_CODE_FINGERPRINT");

/// Build options that cannot change a unit: where the raw files are (their contents are
/// keyed) and where the output goes, which units exist (the selection; a unit's tasks are in
/// its key), and what only the write phase uses. Every other field of [`BuildOptions`] —
/// including any added later — is serialized into every unit's key.
const NOT_IN_UNITS: &[&str] = &[
    "raw_root",
    "out",
    "selection",
    "shard_rows",
    "row_group_bytes",
    "timings",
];

/// Build options naming files: keyed by the files' contents, not their paths (which differ
/// between machines).
const FILE_OPTIONS: &[&str] = &[
    "instructions",
    "decontaminate",
    "tokenizer",
    "chat_template",
];

/// One unit of the build.
#[derive(Debug, Clone)]
pub struct Unit {
    /// `<corpus-id>/<first task id>`: names the same unit whatever else the build selects.
    pub id: String,
    /// Position of its corpus in [`Plan::corpora`].
    pub corpus: usize,
    /// Its tasks' job numbers (positions in [`Plan::jobs`]), in task order.
    pub jobs: Vec<usize>,
    /// Bytes of the raw files its tasks read.
    pub raw_bytes: u64,
}

impl Unit {
    /// Scheduling estimate: every task of the unit goes over every raw byte once, and the
    /// shared read once more.
    pub fn cost(&self) -> u64 {
        self.raw_bytes * (1 + self.jobs.len() as u64)
    }

    /// CPUs the unit keeps busy: a unit of several tasks runs them in parallel over each batch.
    pub fn cpus(&self) -> usize {
        if self.jobs.len() >= 4 { 2 } else { 1 }
    }
}

impl Plan {
    /// The units of the build, in catalogue order.
    pub fn units(&self) -> Vec<Unit> {
        let jobs = self.jobs();
        let mut units = Vec::new();
        let mut at = 0usize;
        for (corpus, pc) in self.corpora.iter().enumerate() {
            let tasks = pc.tasks();
            for g in crate::task::share_groups(pc.manifest(), &tasks) {
                let unit_jobs: Vec<usize> = g.into_iter().map(|i| at + i).collect();
                let first = &jobs[unit_jobs[0]];
                units.push(Unit {
                    id: format!(
                        "{}/{}",
                        pc.manifest().manifest.id(),
                        first.task.id.get_ref()
                    ),
                    corpus,
                    raw_bytes: raw_bytes(first),
                    jobs: unit_jobs,
                });
            }
            at += tasks.len();
        }
        units
    }
}

/// Bytes of the raw files a job reads.
fn raw_bytes(j: &Job) -> u64 {
    j.manifest
        .manifest
        .task_files(j.task)
        .iter()
        .filter_map(|f| j.files.file(f.id.get_ref()))
        .map(|f| f.size)
        .sum()
}

/// A unit's cache key, and what it hashes (kept with the unit, to tell why a unit was
/// recomputed).
pub struct UnitKey {
    pub key: String,
    pub material: Value,
}

#[derive(Serialize)]
struct KeyMaterial<'a> {
    cache_format: u32,
    builder_version: &'a str,
    code: &'a str,
    options: &'a BTreeMap<String, Value>,
    corpus: &'a str,
    variant: &'a str,
    manifest_sha256: &'a str,
    tasks: Vec<KeyTask>,
    files: Vec<KeyFile>,
}

#[derive(Serialize)]
struct KeyTask {
    id: String,
    /// SHA-256 of the task's instruction set (the bank's, or its definition).
    instructions: String,
}

#[derive(Serialize)]
struct KeyFile {
    id: String,
    /// `None`: absent (a partial build).
    path: Option<String>,
    size: u64,
    sha256: String,
    /// For a format that opens further files: a listing of the corpus folder with sizes and
    /// modification times (their contents are not in `sha256`).
    further: Option<String>,
}

/// The keys of `units`, in their order: everything each unit's result depends on (see the
/// module docs).
pub fn unit_keys(
    plan: &Plan,
    units: &[Unit],
    inputs: &Inputs,
    opts: &BuildOptions,
) -> Vec<UnitKey> {
    let jobs = plan.jobs();
    let options = unit_options(opts);
    units
        .iter()
        .map(|u| unit_key(plan, &jobs, u, inputs, &options))
        .collect()
}

fn unit_key(
    plan: &Plan,
    jobs: &[Job],
    unit: &Unit,
    inputs: &Inputs,
    options: &BTreeMap<String, Value>,
) -> UnitKey {
    let pc = &plan.corpora[unit.corpus];
    let lm = pc.manifest();
    let tasks = unit
        .jobs
        .iter()
        .map(|j| {
            let set = instruction_set(jobs[*j].task, inputs.bank.as_ref());
            KeyTask {
                id: jobs[*j].task.id.get_ref().clone(),
                instructions: sha256_hex(&serde_json::to_vec(&set).unwrap_or_default()),
            }
        })
        .collect();
    let mut file_ids: Vec<&str> = Vec::new();
    for j in &unit.jobs {
        let task = jobs[*j].task;
        let read = lm.manifest.task_files(task);
        let ids = read.iter().map(|f| f.id.get_ref().as_str());
        for id in ids.chain(lm.manifest.lookup_file_ids(task)) {
            if !file_ids.contains(&id) {
                file_ids.push(id);
            }
        }
    }
    let material = KeyMaterial {
        cache_format: CACHE_FORMAT,
        builder_version: BUILDER_VERSION,
        code: CODE_FINGERPRINT,
        options,
        corpus: lm.manifest.id(),
        variant: lm.variant_id(),
        manifest_sha256: &lm.sha256,
        tasks,
        files: file_ids
            .into_iter()
            .map(|id| key_file(&pc.files, id))
            .collect(),
    };
    let material = serde_json::to_value(&material).unwrap_or_default();
    let key = sha256_hex(material.to_string().as_bytes())[..32].to_string();
    UnitKey { key, material }
}

/// The build options a unit depends on (see [`NOT_IN_UNITS`], [`FILE_OPTIONS`]).
fn unit_options(opts: &BuildOptions) -> BTreeMap<String, Value> {
    let mut options: BTreeMap<String, Value> = match serde_json::to_value(opts) {
        Ok(Value::Object(m)) => m.into_iter().collect(),
        other => BTreeMap::from([("options".to_string(), other.unwrap_or_default())]),
    };
    options.retain(|k, _| !NOT_IN_UNITS.contains(&k.as_str()));
    for name in FILE_OPTIONS {
        if let Some(v) = options.get_mut(*name) {
            *v = file_contents(v);
        }
    }
    options
}

/// A file option's value with every path replaced by the SHA-256 of the file's bytes (an
/// unreadable file by its error: the build fails on it before any unit runs).
fn file_contents(v: &Value) -> Value {
    match v {
        Value::String(path) => Value::String(match std::fs::read(path) {
            Ok(bytes) => sha256_hex(&bytes),
            Err(e) => format!("unreadable: {e}"),
        }),
        Value::Array(paths) => Value::Array(paths.iter().map(file_contents).collect()),
        other => other.clone(),
    }
}

fn key_file(rc: &ResolvedCorpus, id: &str) -> KeyFile {
    let Some(f) = rc.file(id) else {
        return KeyFile {
            id: id.to_string(),
            path: None,
            size: 0,
            sha256: String::new(),
            further: None,
        };
    };
    let reads_others = rc
        .manifest
        .manifest
        .file(id)
        .is_some_and(|spec| medsins_readers::reads_other_files(spec.format.get_ref()));
    KeyFile {
        id: id.to_string(),
        path: Some(f.rel.clone()),
        size: f.size,
        sha256: f.sha256.clone(),
        further: reads_others.then(|| folder_listing(&f.base)),
    }
}

/// SHA-256 of every file under `dir` (path, size, modification time), in path order; symbolic
/// links to folders are not followed. An unreadable entry is listed with its error, so the
/// key changes with it.
fn folder_listing(dir: &Path) -> String {
    let mut lines = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) => {
                lines.push(format!("{}\0{e}", d.display()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    lines.push(format!("{}\0{e}", d.display()));
                    continue;
                }
            };
            let path = entry.path();
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            match (entry.file_type(), std::fs::metadata(&path)) {
                (Ok(t), _) if t.is_dir() => todo.push(path),
                (_, Ok(m)) if m.is_file() => {
                    let modified = m
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_nanos());
                    lines.push(format!("{rel}\0{}\0{modified}", m.len()));
                }
                (_, Ok(_)) => {}
                (_, Err(e)) => lines.push(format!("{rel}\0{e}")),
            }
        }
    }
    lines.sort();
    sha256_hex(lines.join("\n").as_bytes())
}

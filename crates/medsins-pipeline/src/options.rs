//! Build options. Everything here that shapes the output is recorded in the lock file.

use crate::corpus::Checksums;
use medsins_core::{Access, LeakagePolicy, Profile};
use medsins_manifest::NearDedupPolicy;
use serde::Serialize;
use std::path::PathBuf;

/// Rows per Parquet shard unless told otherwise.
pub const DEFAULT_SHARD_ROWS: usize = 100_000;
/// Seed of hash splits and instruction choice unless told otherwise.
pub const DEFAULT_SEED: u64 = 0;

/// Serialized whole into every cache key (`build/units.rs`): a field added here changes the
/// keys unless it is listed there as one that cannot change a unit.
#[derive(Debug, Clone, Serialize)]
pub struct BuildOptions {
    pub raw_root: PathBuf,
    pub out: PathBuf,
    pub selection: BuildSelection,
    /// The instruction bank (`RewriteDefinitions.json`), when given.
    pub instructions: Option<PathBuf>,
    pub seed: u64,
    /// `clean` (default) or `upstream`: the authors' scripts reproduced byte for byte where
    /// the manifests declare how; text verbatim, duplicates kept (docs/data-quality.md).
    pub profile: Profile,
    /// What the cross-task leakage pass does (`--leakage`; by default `remove` in the clean
    /// profile and `off` in the upstream one).
    pub leakage: LeakagePolicy,
    pub shard_rows: usize,
    /// Bound of a Parquet row group's uncompressed bytes (rows are also capped at 16,384).
    pub row_group_bytes: usize,
    /// Benchmark test sets to decontaminate against (`--decontaminate`); their names and
    /// SHA-256 are recorded in the lock's options.
    pub decontaminate: Vec<PathBuf>,
    /// Word n-gram length of the decontamination (default 13).
    pub decontaminate_ngram: usize,
    /// A Hugging Face `tokenizer.json` (`--tokenizer`): adds `input_tokens`/`output_tokens`
    /// columns and token histograms; its name and SHA-256 are recorded in the lock's options.
    pub tokenizer: Option<PathBuf>,
    /// With a tokenizer: samples over this many instruction + input + output tokens (or, with
    /// a chat template, tokens of the rendered conversation) are removed (`too_long`).
    pub max_tokens: Option<usize>,
    /// A `tokenizer_config.json` (or `chat_template.jinja`) whose chat template renders the
    /// conversation `max_tokens` counts; its name and SHA-256 are recorded in the lock.
    pub chat_template: Option<PathBuf>,
    /// Where the conversation puts the instruction (system message or user message).
    pub instruction_in: crate::tokens::InstructionIn,
    /// Record per-stage seconds in `stats.json` (`--timings`, for benchmarks). Off by default:
    /// timings differ from run to run, and the output would no longer be byte-identical.
    pub timings: bool,
    /// Bounds on what a raw file may make the readers do (nesting depth, record size,
    /// decompression); values other than the defaults are recorded in the lock's options.
    pub limits: medsins_readers::Limits,
    /// Told how far the build is (a progress bar); never changes the output.
    #[serde(skip)]
    pub progress: Option<Progress>,
    /// Whether raw files must match their manifests' checksums (skipped ones are listed in the
    /// lock and the card). Set by the caller only, never by anything in the raw root.
    pub checksums: Checksums,
    /// The near-duplicate policy of every task (`--near-dedup`), instead of each manifest's
    /// (for fast iteration on a manifest); recorded in the lock when given.
    pub near_dedup: Option<NearDedupPolicy>,
}

/// Where the build reports its progress: `(phase, done, total)`, e.g. `("tasks", 12, 122)`.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<ProgressFn>);

/// `(phase, done, total)`.
pub type ProgressFn = dyn Fn(&str, u64, u64) + Send + Sync;

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl BuildOptions {
    pub(crate) fn report(&self, phase: &str, done: u64, total: u64) {
        if let Some(p) = &self.progress {
            (p.0)(phase, done, total);
        }
    }
}

/// Which corpora and tasks to build.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildSelection {
    /// Corpus ids or task ids; empty = everything.
    pub only: Vec<String>,
    /// The most restricted access class allowed (None = all).
    pub access: Option<Access>,
    /// Corpora whose licence contains any of these (case-insensitive) are left out.
    pub exclude_licence: Vec<String>,
}

impl BuildSelection {
    /// An `only` entry that is neither a corpus id nor a task id of the catalogue, as an error
    /// message naming it.
    pub fn check(&self, catalogue: &medsins_manifest::Catalogue) -> Result<(), crate::BuildError> {
        for o in &self.only {
            let known = catalogue.manifests.iter().any(|m| {
                m.manifest.id() == o || m.manifest.tasks.iter().any(|t| t.id.get_ref() == o)
            });
            if !known {
                return Err(crate::BuildError::UnknownOnly(o.clone()));
            }
        }
        Ok(())
    }
}

impl BuildOptions {
    pub fn new(raw_root: PathBuf, out: PathBuf) -> Self {
        BuildOptions {
            raw_root,
            out,
            selection: BuildSelection::default(),
            instructions: None,
            seed: DEFAULT_SEED,
            profile: Profile::Clean,
            leakage: LeakagePolicy::default_for(Profile::Clean),
            shard_rows: DEFAULT_SHARD_ROWS,
            row_group_bytes: medsins_output::DEFAULT_ROW_GROUP_BYTES,
            decontaminate: Vec::new(),
            decontaminate_ngram: medsins_quality::DEFAULT_NGRAM,
            tokenizer: None,
            max_tokens: None,
            chat_template: None,
            instruction_in: crate::tokens::InstructionIn::System,
            timings: false,
            limits: medsins_readers::Limits::default(),
            progress: None,
            checksums: Checksums::Verify,
            near_dedup: None,
        }
    }

    /// The options recorded in the lock (no paths that differ between machines, no thread count).
    pub fn locked(&self) -> serde_json::Value {
        let mut locked = serde_json::json!({
            "seed": self.seed,
            "profile": self.profile.as_str(),
            "leakage": self.leakage.as_str(),
            "shard_rows": self.shard_rows,
            "row_group_bytes": self.row_group_bytes,
            "only": self.selection.only,
            "access": self.selection.access.map(|a| a.as_str()),
            "exclude_licence": self.selection.exclude_licence,
            "instructions": self.instructions.as_ref().map(|_| "instruction bank (see instruction_bank)"),
        });
        // raised (or lowered) read limits decide which files build: recorded when not default
        if let Some(m) = locked.as_object_mut() {
            m.extend(self.limits.locked());
            if let Some(p) = self.near_dedup {
                m.insert("near_dedup".into(), serde_json::json!(p));
            }
        }
        locked
    }

    /// The build options a lock's `options` record, for a rebuild (`medsins verify --rebuild`):
    /// the raw root, output and instruction bank are given, since the lock records no
    /// machine-specific paths. Fails when the lock records an option this builder cannot set
    /// (a rebuild could then not be byte-identical).
    pub fn from_locked(
        locked: &serde_json::Value,
        raw_root: PathBuf,
        out: PathBuf,
        instructions: Option<PathBuf>,
    ) -> Result<Self, crate::BuildError> {
        let unreproducible = |m: String| crate::BuildError::Unreproducible(m);
        let strings = |k: &str| -> Vec<String> {
            locked
                .get(k)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut o = BuildOptions::new(raw_root, out);
        o.seed = locked
            .get("seed")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| unreproducible("the lock's options have no `seed`".into()))?;
        o.shard_rows = locked
            .get("shard_rows")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| unreproducible("the lock's options have no `shard_rows`".into()))?
            as usize;
        // a lock written before profiles existed is a clean build with leaks removed
        let named = |k: &str| locked.get(k).and_then(|v| v.as_str());
        if let Some(p) = named("profile") {
            o.profile = Profile::parse(p).ok_or_else(|| {
                unreproducible(format!("the lock's options have an unknown profile `{p}`"))
            })?;
        }
        o.leakage = match named("leakage") {
            None => LeakagePolicy::default_for(o.profile),
            Some(l) => LeakagePolicy::parse(l).ok_or_else(|| {
                unreproducible(format!(
                    "the lock's options have an unknown leakage policy `{l}`"
                ))
            })?,
        };
        if let Some(b) = locked.get("row_group_bytes").and_then(|v| v.as_u64()) {
            o.row_group_bytes = b as usize;
        }
        o.selection.only = strings("only");
        o.selection.exclude_licence = strings("exclude_licence");
        o.selection.access = match locked.get("access").and_then(|v| v.as_str()) {
            None => None,
            Some(a) => Some(Access::parse(a).ok_or_else(|| {
                unreproducible(format!(
                    "the lock's options have an unknown access class `{a}`"
                ))
            })?),
        };
        o.instructions = instructions;
        o.limits = medsins_readers::Limits::from_locked(locked)?;
        if let Some(p) = locked.get("near_dedup") {
            o.near_dedup = Some(serde_json::from_value(p.clone()).map_err(|_| {
                unreproducible(format!(
                    "the lock's option `near_dedup` = {p} is not a policy"
                ))
            })?);
        }
        if let Some(n) = locked.get("decontaminate_ngram").and_then(|v| v.as_u64()) {
            o.decontaminate_ngram = n as usize;
        }
        // `decontaminate` names benchmark files (name + sha256): the caller supplies their paths,
        // and the rebuilt lock is compared with this one byte for byte.
        let known = o.locked();
        for (k, v) in locked.as_object().into_iter().flatten() {
            if k != "decontaminate" && k != "decontaminate_ngram" && known.get(k) != Some(v) {
                return Err(unreproducible(format!(
                    "the lock's option `{k}` = {v} cannot be reproduced by {}; rebuild with the medsins version the lock names",
                    medsins_core::BUILDER_VERSION
                )));
            }
        }
        Ok(o)
    }
}

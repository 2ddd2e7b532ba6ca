//! Build options. Everything here that shapes the output is recorded in the lock file.

use crate::corpus::Checksums;
use medsins_core::Access;
use serde::Serialize;
use std::path::PathBuf;

/// Rows per Parquet shard unless told otherwise.
pub const DEFAULT_SHARD_ROWS: usize = 100_000;
/// Seed of hash splits and instruction choice unless told otherwise.
pub const DEFAULT_SEED: u64 = 0;

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub raw_root: PathBuf,
    pub out: PathBuf,
    pub selection: BuildSelection,
    /// The instruction bank (`RewriteDefinitions.json`), when given.
    pub instructions: Option<PathBuf>,
    pub seed: u64,
    pub shard_rows: usize,
    /// Benchmark test sets to decontaminate against (`--decontaminate`); their names and
    /// SHA-256 are recorded in the lock's options.
    pub decontaminate: Vec<PathBuf>,
    /// Word n-gram length of the decontamination (default 13).
    pub decontaminate_ngram: usize,
    /// A Hugging Face `tokenizer.json` (`--tokenizer`): adds `input_tokens`/`output_tokens`
    /// columns and token histograms; its name and SHA-256 are recorded in the lock's options.
    pub tokenizer: Option<PathBuf>,
    /// With a tokenizer: samples over this many input + output tokens are removed (`too_long`).
    pub max_tokens: Option<usize>,
    /// Record per-stage seconds in `stats.json` (`--timings`, for benchmarks). Off by default:
    /// timings differ from run to run, and the output would no longer be byte-identical.
    pub timings: bool,
    /// Told how far the build is (a progress bar); never changes the output.
    pub progress: Option<Progress>,
    /// Whether raw files must match their manifests' checksums (skipped ones are listed in the
    /// lock and the card). Set by the caller only, never by anything in the raw root.
    pub checksums: Checksums,
}

/// Where the build reports its progress: `(phase, done, total)`, e.g. `("tasks", 12, 122)`.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<dyn Fn(&str, u64, u64) + Send + Sync>);

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
    pub fn check(&self, catalogue: &medsins_manifest::Catalogue) -> Result<(), String> {
        for o in &self.only {
            let known = catalogue.manifests.iter().any(|m| {
                m.manifest.id() == o || m.manifest.tasks.iter().any(|t| t.id.get_ref() == o)
            });
            if !known {
                return Err(format!(
                    "--only `{o}` is neither a corpus id nor a task id of the catalogue; `medsins list` shows them"
                ));
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
            shard_rows: DEFAULT_SHARD_ROWS,
            decontaminate: Vec::new(),
            decontaminate_ngram: medsins_quality::DEFAULT_NGRAM,
            tokenizer: None,
            max_tokens: None,
            timings: false,
            progress: None,
            checksums: Checksums::Verify,
        }
    }

    /// The options recorded in the lock (no paths that differ between machines, no thread count).
    pub fn locked(&self) -> serde_json::Value {
        serde_json::json!({
            "seed": self.seed,
            "shard_rows": self.shard_rows,
            "only": self.selection.only,
            "access": self.selection.access.map(|a| a.as_str()),
            "exclude_licence": self.selection.exclude_licence,
            "instructions": self.instructions.as_ref().map(|_| "instruction bank (see instruction_bank)"),
        })
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
    ) -> Result<Self, String> {
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
            .ok_or("the lock's options have no `seed`")?;
        o.shard_rows = locked
            .get("shard_rows")
            .and_then(|v| v.as_u64())
            .ok_or("the lock's options have no `shard_rows`")? as usize;
        o.selection.only = strings("only");
        o.selection.exclude_licence = strings("exclude_licence");
        o.selection.access =
            match locked.get("access").and_then(|v| v.as_str()) {
                None => None,
                Some(a) => Some(Access::parse(a).ok_or_else(|| {
                    format!("the lock's options have an unknown access class `{a}`")
                })?),
            };
        o.instructions = instructions;
        if let Some(n) = locked.get("decontaminate_ngram").and_then(|v| v.as_u64()) {
            o.decontaminate_ngram = n as usize;
        }
        // `decontaminate` names benchmark files (name + sha256): the caller supplies their paths,
        // and the rebuilt lock is compared with this one byte for byte.
        let known = o.locked();
        for (k, v) in locked.as_object().into_iter().flatten() {
            if k != "decontaminate" && k != "decontaminate_ngram" && known.get(k) != Some(v) {
                return Err(format!(
                    "the lock's option `{k}` = {v} cannot be reproduced by {}; rebuild with the medsins version the lock names",
                    medsins_core::BUILDER_VERSION
                ));
            }
        }
        Ok(o)
    }
}

//! What a build did, for the command line to print and for exit codes.

use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CorpusStatus {
    /// Built; with `missing` files, only from the files present (`tasks_skipped` had none).
    Built {
        /// The distribution read (`default` for a corpus with one), and its name.
        source_variant: String,
        variant_name: String,
        tasks: usize,
        samples: u64,
        quarantined: u64,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        missing: Vec<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tasks_skipped: Vec<String>,
    },
    Missing {
        paths: Vec<String>,
        homepage: String,
        access: String,
        obtain: String,
        /// For a corpus distributed in several ways: each accepted distribution (any one is
        /// enough), with the paths it needs and how to obtain it.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        alternatives: Vec<MissingVariant>,
        tasks: Vec<String>,
    },
    Failed {
        message: String,
        tasks: Vec<String>,
    },
    Excluded {
        reason: String,
    },
}

/// One distribution of a missing corpus.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MissingVariant {
    pub variant: String,
    pub name: String,
    pub paths: Vec<String>,
    pub obtain: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorpusReport {
    pub corpus_id: String,
    #[serde(flatten)]
    pub status: CorpusStatus,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct BuildReport {
    pub out: String,
    /// The catalogue built: its folder, or the one bundled with medsins.
    pub catalogue: String,
    /// The build's profile (`clean` or `upstream`) and leakage policy, as the lock records them.
    pub profile: String,
    pub leakage: String,
    pub corpora: Vec<CorpusReport>,
    pub samples: u64,
    pub tasks: usize,
    /// Seconds per stage summed over tasks (not written to the output: timings vary).
    pub stage_seconds: Vec<(String, f64)>,
    /// Removed samples and records by ledger reason (as in `stats.json`).
    pub removed_by_reason: std::collections::BTreeMap<String, u64>,
    /// Flagged (kept) samples by ledger reason.
    pub flagged_by_reason: std::collections::BTreeMap<String, u64>,
    /// Every raw record accounted for, summed over tasks (`stats.json` has the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounting: Option<medsins_output::Accounting>,
    /// Per task, where the records of each of its files went.
    pub files: std::collections::BTreeMap<String, Vec<medsins_output::FileAccount>>,
    /// What the build warns about: files yielding under half their records without a
    /// declared reason, records not accounted for.
    pub warnings: Vec<String>,
    /// The semantic checks (as in `checks.json`).
    pub checks: medsins_quality::ChecksReport,
    /// Whether the output folder was replaced by this build. A build that fails (a corpus
    /// failed, or nothing of what was asked for is present) writes nothing: the previous
    /// output stays as it was.
    pub written: bool,
    /// Why nothing was written, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_written: Option<String>,
    /// With `--cache`: which units came from the cache and which were computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheReport>,
}

/// Where a build's units came from (docs/scale-out.md).
#[derive(Debug, Clone, Serialize, Default)]
pub struct CacheReport {
    pub dir: String,
    /// Ids of the units loaded from the cache.
    pub reused: Vec<String>,
    /// Ids of the units computed (and stored in the cache unless a task failed).
    pub computed: Vec<String>,
    /// Ids of the tasks whose shards were copied from the cache, in task-number order.
    pub shards_reused: Vec<String>,
    /// Ids of the tasks whose shards were written (and stored in the cache).
    pub shards_written: Vec<String>,
}

impl BuildReport {
    /// Why this build must not replace the output, if it must not: a corpus failed, or none
    /// of the requested corpora could be built (e.g. a mistyped `--raw-root`).
    pub fn refusal(&self) -> Option<String> {
        let failed: Vec<&str> = self.failed().map(|c| c.corpus_id.as_str()).collect();
        if !failed.is_empty() {
            return Some(format!(
                "{} corpus(es) failed ({}); nothing was written",
                failed.len(),
                failed.join(", ")
            ));
        }
        let built = self
            .corpora
            .iter()
            .any(|c| matches!(c.status, CorpusStatus::Built { .. }));
        (!built).then(|| {
            "none of the requested corpora is present under the raw root (check --raw-root and --only); nothing was written".to_string()
        })
    }

    pub fn missing(&self) -> impl Iterator<Item = &CorpusReport> {
        self.corpora.iter().filter(|c| match &c.status {
            CorpusStatus::Missing { .. } => true,
            CorpusStatus::Built { missing, .. } => !missing.is_empty(),
            _ => false,
        })
    }
    pub fn failed(&self) -> impl Iterator<Item = &CorpusReport> {
        self.corpora
            .iter()
            .filter(|c| matches!(c.status, CorpusStatus::Failed { .. }))
    }
    /// 0: everything requested was built; 3: some corpora or files were missing; 1: some
    /// failed, or nothing was written.
    pub fn exit_code(&self) -> i32 {
        if self.failed().next().is_some() || !self.written {
            1
        } else if self.missing().next().is_some() {
            3
        } else {
            0
        }
    }
}

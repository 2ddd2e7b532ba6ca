//! A build split over processes (docs/scale-out.md): [`plan_units`] lists the units with their
//! cost and key (`medsins plan`), [`build_unit`] computes one into the cache (`medsins
//! build-unit`), and `build_with_cache` with `cached_only` assembles the output from the cache.
//! A scheduler — Ray, Slurm, a shell loop — runs the three with the same build options.

use super::cache::{Cache, Kind, UnitRecord};
use super::run::{self, UnitContext};
use super::units::unit_keys;
use super::{Inputs, plan};
use crate::report::{CorpusReport, CorpusStatus};
use crate::{BuildError, BuildOptions};
use medsins_manifest::Catalogue;
use medsins_quality::{HeldOut, LeakConfig};
use serde::Serialize;
use std::path::Path;

/// `medsins plan`: the units of a build, largest first.
#[derive(Debug, Clone, Serialize)]
pub struct UnitPlan {
    /// The catalogue planned: its folder, or the one bundled with medsins.
    pub catalogue: String,
    pub units: Vec<PlannedUnit>,
    /// Corpora without units: missing, excluded, or failed (a file present but wrong).
    pub not_built: Vec<CorpusReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedUnit {
    /// What `medsins build-unit` takes: `<corpus>/<first task>`.
    pub id: String,
    pub corpus: String,
    pub tasks: Vec<String>,
    /// Bytes of the raw files it reads.
    pub raw_bytes: u64,
    /// Relative cost (raw bytes × (1 + tasks)): schedule the largest first.
    pub cost: u64,
    /// CPUs it keeps busy.
    pub cpus: usize,
    /// Its cache key.
    pub key: String,
    /// Whether the cache (when given) already holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached: Option<bool>,
}

/// Plans the build `opts` describes and lists its units, largest first (see the module docs);
/// with `cache`, says which ones it holds.
pub fn plan_units(
    catalogue: &Catalogue,
    opts: &BuildOptions,
    cache: Option<&Path>,
) -> Result<UnitPlan, BuildError> {
    plan::check_names(catalogue, &opts.selection.only)?;
    let cache = cache.map(Cache::open).transpose()?;
    let inputs = Inputs::load(opts)?;
    let plan = plan::plan(catalogue, opts);
    let jobs = plan.jobs();
    let units = plan.units();
    let keys = unit_keys(&plan, &units, &inputs, opts);
    let mut units: Vec<PlannedUnit> = units
        .iter()
        .zip(keys)
        .map(|(u, key)| {
            let key = key.key;
            PlannedUnit {
                id: u.id.clone(),
                corpus: plan.corpora[u.corpus].manifest().manifest.id().to_string(),
                tasks: u
                    .jobs
                    .iter()
                    .map(|j| jobs[*j].task.id.get_ref().clone())
                    .collect(),
                raw_bytes: u.raw_bytes,
                cost: u.cost(),
                cpus: u.cpus(),
                cached: cache.as_ref().map(|c| c.contains(&key)),
                key,
            }
        })
        .collect();
    units.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.id.cmp(&b.id)));
    Ok(UnitPlan {
        catalogue: plan.catalogue.to_string(),
        units,
        not_built: plan.unbuilt,
    })
}

/// What `medsins build-unit` did.
#[derive(Debug, Clone, Serialize)]
pub struct UnitBuilt {
    pub unit: String,
    pub key: String,
    pub tasks: Vec<String>,
    /// The cache held it already: nothing was computed.
    pub already_cached: bool,
    pub seconds: f64,
}

/// Computes the unit `unit_id` of the build `opts` describes into the cache at `cache_dir`
/// (nothing when it is there already). Only the unit's corpus is planned. A task that fails
/// fails the command: a corpus with a failed task fails the whole build anyway.
pub fn build_unit(
    catalogue: &Catalogue,
    opts: &BuildOptions,
    cache_dir: &Path,
    unit_id: &str,
) -> Result<UnitBuilt, BuildError> {
    let start = std::time::Instant::now();
    plan::check_names(catalogue, &opts.selection.only)?;
    let cache = Cache::open(cache_dir)?;
    let corpus = unit_id.split('/').next().unwrap_or_default();
    let of_corpus = Catalogue {
        manifests: catalogue
            .manifests
            .iter()
            .filter(|m| m.manifest.id() == corpus)
            .cloned()
            .collect(),
        source: catalogue.source.clone(),
    };
    let inputs = Inputs::load(opts)?;
    let plan = plan::plan(&of_corpus, opts);
    let units = plan.units();
    let unknown = |why: String| BuildError::UnknownUnit {
        unit: unit_id.to_string(),
        why,
    };
    let Some(unit) = units.iter().find(|u| u.id == unit_id) else {
        return Err(unknown(match plan.unbuilt.first() {
            Some(c) => format!(" (corpus `{corpus}` is not built: {})", not_built(c)),
            None if of_corpus.manifests.is_empty() => {
                format!(" (the catalogue has no corpus `{corpus}`)")
            }
            None => format!(
                " (corpus `{corpus}` has {})",
                units
                    .iter()
                    .map(|u| u.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }));
    };
    let key = unit_keys(&plan, std::slice::from_ref(unit), &inputs, opts)
        .pop()
        .expect("one key for one unit");
    let jobs = plan.jobs();
    let tasks = unit
        .jobs
        .iter()
        .map(|j| jobs[*j].task.id.get_ref().clone())
        .collect();
    let mut built = UnitBuilt {
        unit: unit.id.clone(),
        key: key.key.clone(),
        tasks,
        already_cached: cache.find::<UnitRecord>(&key.key, &unit.id)?.is_some(),
        seconds: 0.0,
    };
    if !built.already_cached {
        let held_keys = HeldOut::new(LeakConfig::default(), opts.seed);
        let tmp = cache.begin(Kind::Unit)?;
        let cx = UnitContext {
            jobs,
            inputs: &inputs,
            held_keys: &held_keys,
            opts,
            // nothing is loaded, so nothing is added to a loaded ledger
            scratch: cache.dir(),
        };
        let results = run::compute(&cx, unit, tmp.path());
        run::save(&cx, unit, &key, &cache, tmp, results)?;
    }
    built.seconds = start.elapsed().as_secs_f64();
    Ok(built)
}

/// Why a corpus has no units, in a few words.
fn not_built(c: &CorpusReport) -> String {
    match &c.status {
        CorpusStatus::Missing { paths, .. } => format!("missing {}", paths.join(", ")),
        CorpusStatus::Failed { message, .. } => message.clone(),
        CorpusStatus::Excluded { reason } => reason.clone(),
        CorpusStatus::Built { .. } => "built".into(),
    }
}

//! Phase 5, assemble: the rest of the output directory from what the earlier phases left —
//! the build report's corpus lines, `stats.json` (with `--timings`, the seconds), `checks.json`,
//! the lock, the dataset card, the id index and `SHA256SUMS`.

use super::Inputs;
use super::leakage::CrossTask;
use super::plan::Plan;
use super::write::Written;
use crate::report::{BuildReport, CorpusReport, CorpusStatus};
use crate::task::TaskRun;
use crate::{BuildError, BuildOptions};
use medsins_core::{BUILDER_VERSION, TaskMeta};
use medsins_manifest::{ExpectedCheck, LoadedManifest};
use medsins_output::{self as output, Lock, LockedFile, LockedManifest, Stats, TaskStats};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Everything the earlier phases produced that the rest of the directory is made of.
pub struct Built<'a> {
    pub plan: &'a Plan,
    /// The built tasks by job number, in task-number order, and what writing each gave.
    pub runs: &'a [(usize, TaskRun)],
    pub written: &'a [Written],
    pub failed: &'a BTreeMap<usize, String>,
    pub cross: CrossTask,
    pub expected: &'a BTreeMap<String, Vec<ExpectedCheck>>,
    /// Wall-clock seconds of the run phase.
    pub run_seconds: f64,
    pub write_seconds: f64,
}

pub fn assemble(
    dir: &Path,
    b: Built,
    inputs: &Inputs,
    opts: &BuildOptions,
) -> Result<BuildReport, BuildError> {
    let mut report = BuildReport {
        out: opts.out.display().to_string(),
        ..Default::default()
    };
    report.catalogue = b.plan.catalogue.to_string();
    report.profile = opts.profile.as_str().to_string();
    report.leakage = opts.leakage.as_str().to_string();
    let locked = corpus_reports(&b, &mut report);
    let jobs = b.plan.jobs();
    let mut stats = stats(b.runs, b.written, &jobs);
    stats.decontamination = b.cross.decontamination.clone();
    stats.leakage = Some(b.cross.leakage.clone());
    let stage_seconds = stage_seconds(&b);
    if opts.timings {
        stats.timings = Some(timings(&b, &stage_seconds));
    }
    write(&dir.join("stats.json"), &stats.to_json())?;
    let yields = crate::accounting::yield_checks(
        stats
            .per_task
            .iter()
            .map(|(t, ts)| (t.as_str(), &ts.files[..])),
    );
    report.warnings = warnings(&stats, &yields);
    report.checks = medsins_quality::checks::report(
        b.written
            .iter()
            .zip(b.runs)
            .map(|(w, (_, r))| {
                let mut checks = w.checks.clone();
                let of_task = yields.iter().filter(|y| y.task_id == r.meta.task_id);
                checks.extend(of_task.cloned());
                (checks, w.samples)
            })
            .collect(),
        b.runs
            .iter()
            .map(|(_, r)| {
                let e = b.expected.get(&r.meta.task_id).cloned().unwrap_or_default();
                (r.meta.task_id.clone(), e)
            })
            .collect(),
    );
    write(&dir.join("checks.json"), &report.checks.to_json())?;
    let lock = lock(&report, locked, &b.plan.catalogue, inputs, opts);
    write(&dir.join(output::LOCK_FILE), &lock.to_json())?;
    let built: Vec<&crate::build::PlannedCorpus> = b
        .plan
        .corpora
        .iter()
        .enumerate()
        .filter(|(ci, _)| !b.failed.contains_key(ci))
        .map(|(_, pc)| pc)
        .collect();
    let built_manifests: Vec<&LoadedManifest> = built.iter().map(|pc| pc.manifest()).collect();
    let sources: BTreeMap<String, (String, String)> = built
        .iter()
        .map(|pc| {
            let from = (
                pc.files.variant().to_string(),
                pc.files.variant_name.clone(),
            );
            (pc.manifest().manifest.id().to_string(), from)
        })
        .collect();
    let metas: Vec<&TaskMeta> = b.runs.iter().map(|(_, r)| &r.meta).collect();
    let card = crate::card::CardInputs {
        manifests: &built_manifests,
        sources: &sources,
        built: &metas,
        stats: &stats,
        lock: &lock,
    };
    crate::card::write_card(dir, &card)?;
    output::write_id_index(dir)?;
    output::write_checksums(dir)?;
    report.samples = stats.samples;
    report.accounting = stats.accounting.clone();
    report.files = stats
        .per_task
        .iter()
        .map(|(t, ts)| (t.clone(), ts.files.clone()))
        .collect();
    report.removed_by_reason = stats.removed_by_reason.clone();
    report.flagged_by_reason = stats.flagged_by_reason.clone();
    report.tasks = b.runs.len();
    report.stage_seconds = stage_seconds;
    Ok(report)
}

/// What the lock records of the built corpora.
struct LockedInputs {
    raw_files: Vec<LockedFile>,
    manifests: Vec<LockedManifest>,
    /// Raw files whose checksum the build was told not to verify.
    checksums_skipped: Vec<String>,
}

/// One report line per corpus (built, failed, and the ones the plan left out), sorted by id;
/// returns what the lock records of the built corpora.
fn corpus_reports(b: &Built, report: &mut BuildReport) -> LockedInputs {
    let jobs = b.plan.jobs();
    let mut locked = LockedInputs {
        raw_files: Vec::new(),
        manifests: Vec::new(),
        checksums_skipped: Vec::new(),
    };
    report.corpora = b.plan.unbuilt.clone();
    for (ci, pc) in b.plan.corpora.iter().enumerate() {
        let id = pc.manifest().manifest.id().to_string();
        let task_ids: Vec<String> = pc.tasks().iter().map(|t| t.id.get_ref().clone()).collect();
        if let Some(message) = b.failed.get(&ci) {
            report.corpora.push(CorpusReport {
                corpus_id: id,
                status: CorpusStatus::Failed {
                    message: message.clone(),
                    tasks: task_ids,
                },
            });
            continue;
        }
        let of_corpus: Vec<(&TaskRun, &Written)> = b
            .runs
            .iter()
            .zip(b.written)
            .filter(|((j, _), _)| jobs[*j].corpus == ci)
            .map(|((_, r), w)| (r, w))
            .collect();
        let (missing, tasks_skipped) = pc.partial.clone().unwrap_or_default();
        report.corpora.push(CorpusReport {
            corpus_id: id.clone(),
            status: CorpusStatus::Built {
                source_variant: pc.files.variant().to_string(),
                variant_name: pc.files.variant_name.clone(),
                tasks: of_corpus.len(),
                samples: of_corpus.iter().map(|(_, w)| w.samples).sum(),
                quarantined: of_corpus.iter().map(|(r, _)| r.quarantined()).sum(),
                missing,
                tasks_skipped,
            },
        });
        locked.raw_files.extend(pc.files.locked(&id));
        locked
            .checksums_skipped
            .extend(pc.files.checksums_skipped().map(str::to_string));
        locked.manifests.push(LockedManifest {
            path: format!("corpora-manifests/{id}.toml"),
            corpus_id: id,
            sha256: pc.manifest().sha256.clone(),
            source_variant: pc.files.variant().to_string(),
        });
    }
    report.corpora.sort_by(|a, b| a.corpus_id.cmp(&b.corpus_id));
    locked
}

/// Seconds per stage, summed over tasks, then the wall-clock seconds of the build's phases.
fn stage_seconds(b: &Built) -> Vec<(String, f64)> {
    let mut secs: BTreeMap<String, f64> = BTreeMap::new();
    let per_task = b.runs.iter().flat_map(|(_, t)| &t.seconds);
    for (s, x) in per_task.chain(b.written.iter().flat_map(|w| &w.seconds)) {
        *secs.entry(s.clone()).or_default() += x;
    }
    let mut all: Vec<(String, f64)> = secs.into_iter().collect();
    all.push(("all tasks read..decontaminate (wall)".into(), b.run_seconds));
    all.push(("cross-task leakage (wall)".into(), b.cross.seconds));
    all.push(("write shards + ledger (wall)".into(), b.write_seconds));
    all
}

/// The `timings` object of `stats.json` (`--timings`).
fn timings(b: &Built, stage_seconds: &[(String, f64)]) -> serde_json::Value {
    let ms = |v: f64| serde_json::json!((v * 1000.0).round() / 1000.0);
    let per_task: serde_json::Map<String, serde_json::Value> = b
        .runs
        .iter()
        .zip(b.written)
        .map(|((_, r), w)| {
            let secs: serde_json::Map<String, serde_json::Value> = r
                .seconds
                .iter()
                .chain(&w.seconds)
                .map(|(k, v)| (k.clone(), ms(*v)))
                .collect();
            (r.meta.task_id.clone(), serde_json::Value::Object(secs))
        })
        .collect();
    serde_json::json!({
        "note": "seconds; per-task stages are summed over tasks (CPU-like), `(wall)` entries are elapsed time; present only with --timings, so this file then differs from run to run",
        "stages": stage_seconds.iter().map(|(k, v)| (k.clone(), ms(*v))).collect::<serde_json::Map<_, _>>(),
        "per_task": per_task,
    })
}

fn lock(
    report: &BuildReport,
    locked: LockedInputs,
    catalogue: &medsins_manifest::CatalogueSource,
    inputs: &Inputs,
    opts: &BuildOptions,
) -> Lock {
    let mut options = opts.locked();
    if !inputs.benchmarks.is_empty() {
        options["decontaminate"] = serde_json::json!(
            inputs
                .benchmarks
                .iter()
                .map(|b| serde_json::json!({"name": b.name, "sha256": b.sha256}))
                .collect::<Vec<_>>()
        );
        options["decontaminate_ngram"] = serde_json::json!(opts.decontaminate_ngram);
    }
    if let Some(c) = &inputs.counter {
        options["tokenizer"] = serde_json::json!({"name": c.name, "sha256": c.sha256});
        options["max_tokens"] = serde_json::json!(opts.max_tokens);
        if let Some(t) = c.template() {
            options["chat_template"] = serde_json::json!({"name": t.name, "sha256": t.sha256, "instruction_in": t.place.as_str()});
        }
    }
    Lock {
        builder_version: BUILDER_VERSION.to_string(),
        complete: report.missing().next().is_none() && report.failed().next().is_none(),
        options,
        instruction_bank: inputs.bank_file.clone(),
        manifests: locked.manifests,
        raw_files: locked.raw_files,
        missing: report.missing().map(|c| c.corpus_id.clone()).collect(),
        failed: report.failed().map(|c| c.corpus_id.clone()).collect(),
        catalogue: catalogue.kind().to_string(),
        checksums_skipped: locked.checksums_skipped,
    }
}

/// What the build report warns about: files that yield few samples without a declared
/// reason (or below the declared minimum), and records not accounted for.
fn warnings(stats: &Stats, yields: &[medsins_quality::CheckResult]) -> Vec<String> {
    let mut w: Vec<String> = yields
        .iter()
        .filter(|y| !y.expected)
        .map(|y| format!("low yield in {}: {}", y.task_id, y.detail))
        .collect();
    if let Some(a) = &stats.accounting {
        w.extend(a.unbalanced.iter().map(|f| {
            format!("records of {f} do not add up (stats.json has its counts); this is a defect of medsins, please report it")
        }));
    }
    w
}

/// `stats.json`: counts per corpus, licence, access class, category, split and task, and
/// every task's record accounting per file.
fn stats(runs: &[(usize, TaskRun)], written: &[Written], jobs: &[super::Job]) -> Stats {
    let mut s = Stats::default();
    let mut corpora = BTreeSet::new();
    for ((j, t), w) in runs.iter().zip(written) {
        let n = w.samples;
        corpora.insert(t.meta.corpus_id.clone());
        s.source_variants
            .insert(t.meta.corpus_id.clone(), t.meta.source_variant.clone());
        s.samples += n;
        s.tasks += 1;
        *s.per_corpus.entry(t.meta.corpus_id.clone()).or_default() += n;
        *s.per_license.entry(t.meta.license.clone()).or_default() += n;
        *s.per_access.entry(t.meta.access.clone()).or_default() += n;
        *s.per_category.entry(t.meta.category.clone()).or_default() += n;
        let lengths = |f: fn(&(u32, u32)) -> u32| {
            w.tokens
                .as_ref()
                .map(|v| output::LengthStats::of(v.iter().map(|x| f(x) as u64).collect()))
        };
        let mut ts = TaskStats {
            task_no: t.meta.task_no,
            corpus_id: t.meta.corpus_id.clone(),
            records_read: t.records_read,
            samples: n,
            stages: t.stages.clone(),
            input_chars: output::LengthStats::of(w.input_chars.clone()),
            output_chars: output::LengthStats::of(w.output_chars.clone()),
            input_tokens: lengths(|x| x.0),
            output_tokens: lengths(|x| x.1),
            files: t.accounting(&jobs[*j].task.expected_yield),
            ..Default::default()
        };
        for (split, k) in &w.per_split {
            *ts.per_split.entry(split.clone()).or_default() += k;
            *s.per_split.entry(split.clone()).or_default() += k;
        }
        for (reason, k) in &t.ledger.by_reason {
            let (task_map, all) = if reason.is_flag() {
                (&mut ts.flagged_by_reason, &mut s.flagged_by_reason)
            } else {
                (&mut ts.removed_by_reason, &mut s.removed_by_reason)
            };
            *task_map.entry(reason.as_str().to_string()).or_default() += k;
            *all.entry(reason.as_str().to_string()).or_default() += k;
        }
        s.per_task.insert(t.meta.task_id.clone(), ts);
    }
    s.corpora = corpora.len() as u64;
    s.accounting = Some(output::Accounting::of(
        s.per_task.iter().map(|(t, ts)| (t.as_str(), &ts.files[..])),
    ));
    s
}

fn write(path: &Path, text: &str) -> Result<(), BuildError> {
    std::fs::write(path, text).map_err(|source| {
        output::OutputError::Io {
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}

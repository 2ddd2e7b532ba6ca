//! The whole build: select, resolve, render in parallel, check budgets, write atomically.

use crate::card::dataset_card;
use crate::corpus::{Resolution, ResolvedCorpus, resolve_corpus};
use crate::report::{BuildReport, CorpusReport, CorpusStatus};
use crate::task::{TaskBuild, render_task};
use crate::{BuildError, BuildOptions};
use medsins_core::{BUILDER_VERSION, LedgerEntry};
use medsins_manifest::{Catalogue, LoadedManifest, Task};
use medsins_output::{self as output, Lock, LockedFile, LockedManifest, Stats, TaskStats};
use medsins_readers::InstructionBank;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Why a corpus is left out by the selection, if it is.
fn excluded(lm: &LoadedManifest, opts: &BuildOptions) -> Option<String> {
    let m = &lm.manifest;
    if let (Some(max), Some(a)) = (opts.selection.access, m.access())
        && a > max
    {
        return Some(format!("access class `{a}` is above --access {max}"));
    }
    let lic = m.corpus.license.to_lowercase();
    opts.selection
        .exclude_licence
        .iter()
        .find(|p| lic.contains(&p.to_lowercase()))
        .map(|p| {
            format!(
                "licence `{}` matches --exclude-licence {p}",
                m.corpus.license
            )
        })
}

fn selected_tasks<'a>(lm: &'a LoadedManifest, only: &[String]) -> Vec<&'a Task> {
    let m = &lm.manifest;
    if only.is_empty() || only.iter().any(|o| o == m.id()) {
        return m.tasks.iter().collect();
    }
    m.tasks
        .iter()
        .filter(|t| only.iter().any(|o| o == t.id.get_ref()))
        .collect()
}

/// The instruction set of a task: the bank's original and paraphrases when the bank is given
/// and has the task, else the manifest's definition alone.
pub fn instruction_set(task: &Task, bank: Option<&InstructionBank>) -> Vec<String> {
    match bank.and_then(|b| b.tasks.get(task.number.get_ref())) {
        Some(t) => std::iter::once(t.original.clone())
            .chain(t.paraphrases.iter().cloned())
            .collect(),
        None => vec![task.definition.clone()],
    }
}

pub fn build(catalogue: &Catalogue, opts: &BuildOptions) -> Result<BuildReport, BuildError> {
    let bank = match &opts.instructions {
        Some(p) => Some(InstructionBank::load(p)?),
        None => None,
    };
    let benchmarks =
        crate::quality::load_benchmarks(&opts.decontaminate).map_err(BuildError::Invalid)?;
    let counter = opts
        .tokenizer
        .as_deref()
        .map(crate::tokens::Counter::load)
        .transpose()
        .map_err(BuildError::Invalid)?;
    let mut report = BuildReport {
        out: opts.out.display().to_string(),
        ..Default::default()
    };
    let mut ready: Vec<(&LoadedManifest, Vec<&Task>, ResolvedCorpus)> = Vec::new();
    // corpus id -> (missing paths, tasks skipped) for corpora built from some of their files
    let mut partial: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for lm in &catalogue.manifests {
        let tasks = selected_tasks(lm, &opts.selection.only);
        if tasks.is_empty() {
            continue;
        }
        let id = lm.manifest.id().to_string();
        let task_ids: Vec<String> = tasks.iter().map(|t| t.id.get_ref().clone()).collect();
        if let Some(reason) = excluded(lm, opts) {
            report.corpora.push(CorpusReport {
                corpus_id: id,
                status: CorpusStatus::Excluded { reason },
            });
            continue;
        }
        let file_ids: Vec<String> = tasks
            .iter()
            .flat_map(|t| lm.manifest.needed_file_ids(t))
            .collect();
        let mut resolution = resolve_corpus(lm, &opts.raw_root, Some(&file_ids));
        let mut tasks = tasks;
        // Some files present, some missing (e.g. only a corpus's test split at hand): build the
        // tasks whose files are there, report the rest (a partial build, exit 3).
        if let Resolution::Missing(paths) = &resolution {
            let present: Vec<String> = file_ids
                .iter()
                .filter(|id| {
                    lm.manifest.file(id).is_some_and(|f| {
                        opts.raw_root
                            .join(crate::corpus::raw_rel_path(lm.manifest.id(), f))
                            .exists()
                    })
                })
                .cloned()
                .collect();
            let buildable: Vec<&Task> = tasks
                .iter()
                .copied()
                .filter(|t| {
                    lm.manifest
                        .task_files(t)
                        .iter()
                        .any(|f| present.contains(f.id.get_ref()))
                        && lm
                            .manifest
                            .lookup_file_ids(t)
                            .iter()
                            .all(|l| present.iter().any(|p| p == l))
                })
                .collect();
            if !buildable.is_empty() {
                let skipped: Vec<String> = tasks
                    .iter()
                    .filter(|t| !buildable.iter().any(|b| b.id == t.id))
                    .map(|t| t.id.get_ref().clone())
                    .collect();
                partial.insert(id.clone(), (paths.clone(), skipped));
                tasks = buildable;
                resolution = resolve_corpus(lm, &opts.raw_root, Some(&present));
            }
        }
        match resolution {
            Resolution::Ready(rc) => ready.push((lm, tasks, rc)),
            Resolution::Missing(paths) => report.corpora.push(CorpusReport {
                corpus_id: id,
                status: CorpusStatus::Missing {
                    paths,
                    homepage: lm.manifest.corpus.homepage.clone(),
                    access: lm.manifest.corpus.access.get_ref().clone(),
                    obtain: lm.manifest.corpus.obtain.clone(),
                    tasks: task_ids,
                },
            }),
            Resolution::Failed(message) => report.corpora.push(CorpusReport {
                corpus_id: id,
                status: CorpusStatus::Failed {
                    message,
                    tasks: task_ids,
                },
            }),
        }
    }

    // Render every task of every ready corpus in parallel; results keep catalogue order.
    let jobs: Vec<(usize, &LoadedManifest, &Task, &ResolvedCorpus)> = ready
        .iter()
        .enumerate()
        .flat_map(|(ci, (lm, tasks, rc))| tasks.iter().map(move |t| (ci, *lm, *t, rc)))
        .collect();
    let t_tasks = std::time::Instant::now();
    let results: Vec<(usize, Result<TaskBuild, String>)> = jobs
        .par_iter()
        .map(|(ci, lm, t, rc)| {
            let instr = instruction_set(t, bank.as_ref());
            (*ci, render_task(lm, t, rc, opts.seed, &instr, None))
        })
        .collect();

    let t_tasks = t_tasks.elapsed().as_secs_f64();
    let mut per_corpus: BTreeMap<usize, Vec<TaskBuild>> = BTreeMap::new();
    let mut failed: BTreeMap<usize, String> = BTreeMap::new();
    for (ci, r) in results {
        match r {
            Ok(tb) => per_corpus.entry(ci).or_default().push(tb),
            Err(e) => {
                failed
                    .entry(ci)
                    .and_modify(|m| m.push_str(&format!("\n{e}")))
                    .or_insert(e);
            }
        }
    }
    // Error budget per corpus: quarantined records over records read.
    for (ci, tbs) in &per_corpus {
        let (lm, _, _) = &ready[*ci];
        let read: u64 = tbs.iter().map(|t| t.records_read).sum();
        let bad: u64 = tbs.iter().map(|t| t.quarantined).sum();
        let budget = lm.manifest.corpus.error_budget.unwrap_or(0.01);
        if read > 0 && bad as f64 > budget * read as f64 && !failed.contains_key(ci) {
            failed.insert(
                *ci,
                format!(
                    "{bad} of {read} records were quarantined, above the error budget of {:.1}%; see the ledger of a build with --only {} or run `medsins preview {}`",
                    budget * 100.0,
                    lm.manifest.id(),
                    lm.manifest.id()
                ),
            );
        }
    }

    // Cross-task quality passes (docs/data-quality.md): decontamination, then leakage.
    let t_cross = std::time::Instant::now();
    let (decontamination, leakage) =
        crate::quality::cross_task(&mut per_corpus, &failed, &benchmarks, opts);
    let t_cross = t_cross.elapsed().as_secs_f64();
    // Token counts (and --max-tokens) on the samples that remain.
    let mut tokens: BTreeMap<String, Vec<(i32, i32)>> = BTreeMap::new();
    let t_tokens = std::time::Instant::now();
    if let Some(c) = &counter {
        for tb in per_corpus.values_mut().flat_map(|v| v.iter_mut()) {
            let t = c.apply(tb, opts.max_tokens);
            tokens.insert(tb.meta.task_id.clone(), t);
        }
    }

    let t_tokens = t_tokens.elapsed().as_secs_f64();
    let out_dir = output::OutputDir::create(&opts.out)?;
    let dir = out_dir.path().to_path_buf();
    let mut built: Vec<&TaskBuild> = Vec::new();
    let mut raw_files: Vec<LockedFile> = Vec::new();
    let mut manifests: Vec<LockedManifest> = Vec::new();
    for (ci, (lm, tasks, rc)) in ready.iter().enumerate() {
        let id = lm.manifest.id().to_string();
        let task_ids: Vec<String> = tasks.iter().map(|t| t.id.get_ref().clone()).collect();
        if let Some(message) = failed.get(&ci) {
            report.corpora.push(CorpusReport {
                corpus_id: id,
                status: CorpusStatus::Failed {
                    message: message.clone(),
                    tasks: task_ids,
                },
            });
            continue;
        }
        let tbs = per_corpus.get(&ci).map(|v| v.as_slice()).unwrap_or(&[]);
        report.corpora.push(CorpusReport {
            corpus_id: id.clone(),
            status: CorpusStatus::Built {
                tasks: tbs.len(),
                samples: tbs.iter().map(|t| t.samples.len() as u64).sum(),
                quarantined: tbs.iter().map(|t| t.quarantined).sum(),
                missing: partial.get(&id).map(|p| p.0.clone()).unwrap_or_default(),
                tasks_skipped: partial.get(&id).map(|p| p.1.clone()).unwrap_or_default(),
            },
        });
        raw_files.extend(rc.locked(&id));
        manifests.push(LockedManifest {
            corpus_id: id,
            path: format!("corpora-manifests/{}.toml", lm.manifest.id()),
            sha256: lm.sha256.clone(),
        });
        built.extend(tbs.iter());
    }
    report.corpora.sort_by(|a, b| a.corpus_id.cmp(&b.corpus_id));
    built.sort_by_key(|t| t.meta.task_no);

    let t_write = std::time::Instant::now();
    built
        .par_iter()
        .map(|tb| {
            let t = tokens.get(&tb.meta.task_id).map(|v| v.as_slice());
            output::write_task_shards_with_tokens(&dir, &tb.meta, &tb.samples, t, opts.shard_rows)
                .map(|_| ())
        })
        .collect::<Result<Vec<()>, _>>()?;
    let ledger: Vec<LedgerEntry> = built
        .iter()
        .flat_map(|t| t.ledger.iter().cloned())
        .collect();
    output::write_ledger(&dir, &ledger)?;
    let t_write = t_write.elapsed().as_secs_f64();

    let mut stats = stats(&built);
    for (task, t) in &tokens {
        if let Some(ts) = stats.per_task.get_mut(task) {
            ts.input_tokens = Some(output::LengthStats::of(
                t.iter().map(|x| x.0 as u64).collect(),
            ));
            ts.output_tokens = Some(output::LengthStats::of(
                t.iter().map(|x| x.1 as u64).collect(),
            ));
        }
    }
    (stats.decontamination, stats.leakage) = (decontamination, Some(leakage));
    write(&dir.join("stats.json"), &stats.to_json())?;
    let expected = ready
        .iter()
        .flat_map(|(_, ts, _)| {
            ts.iter()
                .filter(|t| !t.expected_checks.is_empty())
                .map(|t| (t.id.get_ref().clone(), t.expected_checks.clone()))
        })
        .collect();
    report.checks = crate::quality::check_builds(&built, &expected);
    write(&dir.join("checks.json"), &report.checks.to_json())?;
    let mut options = opts.locked();
    if !benchmarks.is_empty() {
        options["decontaminate"] = serde_json::json!(
            benchmarks
                .iter()
                .map(|b| serde_json::json!({"name": b.name, "sha256": b.sha256}))
                .collect::<Vec<_>>()
        );
        options["decontaminate_ngram"] = serde_json::json!(opts.decontaminate_ngram);
    }
    if let Some(c) = &counter {
        options["tokenizer"] = serde_json::json!({"name": c.name, "sha256": c.sha256});
        options["max_tokens"] = serde_json::json!(opts.max_tokens);
    }
    let lock = Lock {
        builder_version: BUILDER_VERSION.to_string(),
        complete: report.missing().next().is_none() && report.failed().next().is_none(),
        options,
        instruction_bank: bank
            .as_ref()
            .zip(opts.instructions.as_ref())
            .map(|(b, p)| LockedFile {
                corpus_id: String::new(),
                file_id: "instruction-bank".into(),
                path: p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                size: std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                sha256: b.sha256.clone(),
            }),
        manifests,
        raw_files,
        missing: report.missing().map(|c| c.corpus_id.clone()).collect(),
        failed: report.failed().map(|c| c.corpus_id.clone()).collect(),
    };
    write(&dir.join(output::LOCK_FILE), &lock.to_json())?;
    let built_manifests: Vec<&LoadedManifest> = ready
        .iter()
        .enumerate()
        .filter(|(ci, _)| !failed.contains_key(ci))
        .map(|(_, (lm, _, _))| *lm)
        .collect();
    write(
        &dir.join("README.md"),
        &dataset_card(&built_manifests, &built, &stats, &lock),
    )?;
    output::write_id_index(&dir)?;
    output::write_checksums(&dir)?;
    out_dir.commit()?;

    report.samples = stats.samples;
    report.removed_by_reason = stats.removed_by_reason.clone();
    report.flagged_by_reason = stats.flagged_by_reason.clone();
    report.tasks = built.len();
    let mut secs: BTreeMap<String, f64> = BTreeMap::new();
    for t in &built {
        for (s, x) in &t.seconds {
            *secs.entry(s.clone()).or_default() += x;
        }
    }
    report.stage_seconds = secs.into_iter().collect();
    // wall-clock seconds of the whole-build steps (the task stages above are summed over tasks)
    report
        .stage_seconds
        .push(("all tasks read..instruction (wall)".into(), t_tasks));
    report
        .stage_seconds
        .push(("cross-task leakage/decontamination (wall)".into(), t_cross));
    if counter.is_some() {
        report
            .stage_seconds
            .push(("tokens (wall)".into(), t_tokens));
    }
    report
        .stage_seconds
        .push(("write shards + ledger (wall)".into(), t_write));
    Ok(report)
}

fn write(path: &std::path::Path, text: &str) -> Result<(), BuildError> {
    std::fs::write(path, text).map_err(|source| {
        output::OutputError::Io {
            path: path.to_path_buf(),
            source,
        }
        .into()
    })
}

fn stats(built: &[&TaskBuild]) -> Stats {
    let mut s = Stats::default();
    let mut corpora = std::collections::BTreeSet::new();
    for t in built {
        let n = t.samples.len() as u64;
        corpora.insert(t.meta.corpus_id.clone());
        s.samples += n;
        s.tasks += 1;
        *s.per_corpus.entry(t.meta.corpus_id.clone()).or_default() += n;
        *s.per_license.entry(t.meta.license.clone()).or_default() += n;
        *s.per_access.entry(t.meta.access.clone()).or_default() += n;
        *s.per_category.entry(t.meta.category.clone()).or_default() += n;
        let mut ts = TaskStats {
            task_no: t.meta.task_no,
            corpus_id: t.meta.corpus_id.clone(),
            records_read: t.records_read,
            samples: n,
            stages: t.stages.clone(),
            input_chars: output::LengthStats::of(
                t.samples
                    .iter()
                    .map(|x| x.input.chars().count() as u64)
                    .collect(),
            ),
            output_chars: output::LengthStats::of(
                t.samples
                    .iter()
                    .map(|x| x.output.chars().count() as u64)
                    .collect(),
            ),
            ..Default::default()
        };
        for x in &t.samples {
            *ts.per_split.entry(x.split.clone()).or_default() += 1;
            *s.per_split.entry(x.split.clone()).or_default() += 1;
        }
        for e in &t.ledger {
            let flag = crate::quality::is_flag(&e.reason);
            let (task_map, all) = if flag {
                (&mut ts.flagged_by_reason, &mut s.flagged_by_reason)
            } else {
                (&mut ts.removed_by_reason, &mut s.removed_by_reason)
            };
            *task_map.entry(e.reason.clone()).or_default() += 1;
            *all.entry(e.reason.clone()).or_default() += 1;
        }
        s.per_task.insert(t.meta.task_id.clone(), ts);
    }
    s.corpora = corpora.len() as u64;
    s
}

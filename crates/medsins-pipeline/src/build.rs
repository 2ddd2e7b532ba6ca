//! The whole build: select, resolve, run every task's per-task stages in parallel (samples
//! spill to disk), check budgets, the cross-task leakage pass, then stream every task into
//! its shards, and write the rest of the directory atomically.

use crate::card::dataset_card;
use crate::corpus::{Resolution, ResolvedCorpus, resolve_corpus};
use crate::removals::leak_entry;
use crate::report::{BuildReport, CorpusReport, CorpusStatus};
use crate::spill::{Ledger, SpillFile, Store};
use crate::stages::TaskContext;
use crate::task::{GroupTask, RunOptions, TaskRun, run_group};
use crate::{BuildError, BuildOptions};
use medsins_core::{BUILDER_VERSION, LedgerEntry, Split, TaskMeta};
use medsins_manifest::{Catalogue, LoadedManifest, Task};
use medsins_output::{self as output, Lock, LockedFile, LockedManifest, Stats, TaskStats};
use medsins_quality::{HeldOut, LeakConfig};
use medsins_readers::InstructionBank;
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
        medsins_quality::load_benchmarks(&opts.decontaminate).map_err(BuildError::Invalid)?;
    let bench_index = (!benchmarks.is_empty()).then(|| {
        medsins_quality::BenchIndex::new(&benchmarks, opts.decontaminate_ngram, opts.seed)
    });
    let counter = opts
        .tokenizer
        .as_deref()
        .map(crate::tokens::Counter::load)
        .transpose()
        .map_err(BuildError::Invalid)?;
    let mut report = BuildReport {
        out: opts.out.display().to_string(),
        catalogue: catalogue.source.to_string(),
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
        let mut resolution = resolve_corpus(lm, &opts.raw_root, Some(&file_ids), opts.checksums);
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
                resolution = resolve_corpus(lm, &opts.raw_root, Some(&present), opts.checksums);
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

    // Every task's per-task stages, largest first on the worker pool; each task's samples
    // spill to a file in the output's partial directory, so memory holds per-sample state only.
    let out_dir = output::OutputDir::create(&opts.out)?;
    let dir = out_dir.path().to_path_buf();
    let spill = tempfile::Builder::new()
        .prefix(".spill-")
        .tempdir_in(&dir)
        .map_err(|e| BuildError::Invalid(format!("{}: {e}", dir.display())))?;
    let leak_cfg = LeakConfig::default();
    let held_keys = HeldOut::new(leak_cfg.clone(), opts.seed);
    let jobs: Vec<(usize, &LoadedManifest, &Task, &ResolvedCorpus)> = ready
        .iter()
        .enumerate()
        .flat_map(|(ci, (lm, tasks, rc))| tasks.iter().map(move |t| (ci, *lm, *t, rc)))
        .collect();
    // tasks of a corpus that read the same files run as one group: each file is read once
    let groups: Vec<Vec<usize>> = {
        let mut groups = Vec::new();
        let mut at = 0usize;
        for (lm, tasks, _) in &ready {
            for g in crate::task::share_groups(lm, tasks) {
                groups.push(g.into_iter().map(|i| at + i).collect::<Vec<usize>>());
            }
            at += tasks.len();
        }
        groups
    };
    let t_tasks = std::time::Instant::now();
    let group_size = |g: &Vec<usize>| {
        let (_, lm, t, rc) = jobs[g[0]];
        let bytes: u64 = lm
            .manifest
            .task_files(t)
            .iter()
            .filter_map(|f| rc.file(f.id.get_ref()))
            .map(|f| f.size)
            .sum();
        bytes * (1 + g.len() as u64)
    };
    let total = jobs.len() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    opts.report("tasks", 0, total);
    let grouped: Vec<Vec<(usize, Result<TaskRun, String>)>> =
        largest_first(groups, group_size, |g| {
            let (_, lm, _, rc) = jobs[g[0]];
            let mut members = Vec::new();
            let mut early: Vec<(usize, Result<TaskRun, String>)> = Vec::new();
            let instrs: Vec<Vec<String>> = g
                .iter()
                .map(|j| instruction_set(jobs[*j].2, bank.as_ref()))
                .collect();
            for (j, instr) in g.iter().zip(&instrs) {
                let t = jobs[*j].2;
                let opts = RunOptions {
                    seed: opts.seed,
                    instructions: instr,
                    limit: None,
                    benchmarks: bench_index.as_ref(),
                    held_out: Some((*j, &held_keys)),
                    scratch: Some(spill.path().join(format!("{j}"))),
                };
                let files =
                    SpillFile::create(spill.path().join(format!("{j}.samples"))).and_then(|f| {
                        Ok((f, Ledger::spill(spill.path().join(format!("{j}.ledger")))?))
                    });
                match files {
                    Ok((f, ledger)) => {
                        members.push((*j, GroupTask::new(t, opts, Store::Spill(f), ledger)))
                    }
                    Err(e) => early.push((*j, Err(e))),
                }
            }
            let (ids, tasks): (Vec<usize>, Vec<GroupTask>) = members.into_iter().unzip();
            let mut out: Vec<(usize, Result<TaskRun, String>)> =
                ids.into_iter().zip(run_group(lm, rc, tasks)).collect();
            out.extend(early);
            let n = done.fetch_add(out.len() as u64, std::sync::atomic::Ordering::Relaxed);
            opts.report("tasks", n + out.len() as u64, total);
            out
        });
    let mut runs: Vec<Option<Result<TaskRun, String>>> = (0..jobs.len()).map(|_| None).collect();
    for (j, r) in grouped.into_iter().flatten() {
        runs[j] = Some(r);
    }
    let runs: Vec<Result<TaskRun, String>> = runs
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("the task was not run".into())))
        .collect();
    let t_tasks = t_tasks.elapsed().as_secs_f64();

    // job number -> run, for the tasks of corpora that did not fail
    let mut built_runs: BTreeMap<usize, TaskRun> = BTreeMap::new();
    let mut failed: BTreeMap<usize, String> = BTreeMap::new();
    for (j, r) in runs.into_iter().enumerate() {
        let ci = jobs[j].0;
        match r {
            Ok(run) => {
                built_runs.insert(j, run);
            }
            Err(e) => {
                failed
                    .entry(ci)
                    .and_modify(|m| m.push_str(&format!("\n{e}")))
                    .or_insert(e);
            }
        }
    }
    // Error budget per corpus: quarantined records over records read.
    for (ci, (lm, _, _)) in ready.iter().enumerate() {
        let of_corpus = || {
            built_runs
                .iter()
                .filter(|(j, _)| jobs[**j].0 == ci)
                .map(|x| x.1)
        };
        let read: u64 = of_corpus().map(|t| t.records_read).sum();
        let bad: u64 = of_corpus().map(|t| t.quarantined()).sum();
        let budget = lm.manifest.corpus.error_budget.unwrap_or(0.01);
        if read > 0 && bad as f64 > budget * read as f64 && !failed.contains_key(&ci) {
            failed.insert(
                ci,
                format!(
                    "{bad} of {read} records were quarantined, above the error budget of {:.1}%; see the ledger of a build with --only {} or run `medsins preview {}`",
                    budget * 100.0,
                    lm.manifest.id(),
                    lm.manifest.id()
                ),
            );
        }
    }
    built_runs.retain(|j, _| !failed.contains_key(&jobs[*j].0));

    // Cross-task leakage (docs/data-quality.md): every held-out input of every task, then
    // every task's training samples against them.
    opts.report("leakage", 0, 1);
    let t_cross = std::time::Instant::now();
    let mut held = HeldOut::new(leak_cfg.clone(), opts.seed);
    for run in built_runs.values_mut() {
        held.add(std::mem::take(&mut run.held));
    }
    held.seal();
    type Found = Vec<(usize, bool, LedgerEntry)>;
    let leaks: Vec<Result<(usize, Found, u64), String>> = {
        let runs = &built_runs;
        let ids: BTreeMap<usize, &str> = runs
            .iter()
            .map(|(j, r)| (*j, r.meta.task_id.as_str()))
            .collect();
        let load = |h: &medsins_quality::leakage::HeldSample| -> Result<Vec<u64>, String> {
            let run = runs
                .get(&h.task)
                .ok_or("held-out sample of a failed task")?;
            run.held_sets.get(h.set)
        };
        let keys: Vec<usize> = runs.keys().copied().collect();
        largest_first(
            keys,
            |j| runs[j].kept.len() as u64,
            |j| {
                let run = &runs[&j];
                let t = jobs[j].2;
                let cx = TaskContext {
                    meta: &run.meta,
                    split: t.split.get_ref(),
                    seed: opts.seed,
                    instructions: &[],
                };
                let train: Vec<usize> = (0..run.kept.len())
                    .filter(|i| run.kept[*i].split == Split::Train)
                    .collect();
                let mut found = Vec::new();
                let mut at = 0usize;
                if let (false, Some(probes)) = (held.is_empty(), run.probes.as_ref()) {
                    // the probes of the training samples stream from the task's probe file; a
                    // training sample's text is read only for candidates the screening leaves
                    let ordinals: Vec<u64> =
                        train.iter().map(|i| run.kept[*i].ordinal as u64).collect();
                    let shingle = held.cfg.shingle;
                    probes.for_each(&ordinals, &mut |batch| {
                        let decoded: Vec<medsins_quality::leakage::InputProbe> = batch
                            .iter()
                            .map(|b| held.decode(b).ok_or("a corrupt leakage probe"))
                            .collect::<Result<_, _>>()?;
                        let base = at;
                        let sample = |j: usize| run.store.get(run.kept[train[base + j]].handle);
                        let train_set = |j: usize| {
                            sample(j).map(|s| {
                                medsins_quality::minhash::text_shingles(
                                    &s.input, shingle, opts.seed,
                                )
                            })
                        };
                        for l in held.check(&decoded, &load, &train_set)? {
                            let h = held.get(l.held);
                            let other = ids.get(&h.task).copied().unwrap_or_default();
                            let mut s = sample(l.index)?;
                            s.split = "train".into();
                            let e = leak_entry(&cx, &s, &l, h, other, &held.cfg);
                            found.push((train[base + l.index], l.exact, e));
                        }
                        at += decoded.len();
                        Ok(())
                    })?;
                }
                Ok((j, found, train.len() as u64))
            },
        )
    };
    let mut leak_counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut train_checked = 0u64;
    for r in leaks {
        let (j, found, train) = r.map_err(BuildError::Invalid)?;
        train_checked += train;
        let run = built_runs
            .get_mut(&j)
            .expect("a leakage result is for a built task");
        let before = run.kept.len() as u64;
        let mut drop = vec![false; run.kept.len()];
        let c = leak_counts.entry(run.meta.task_id.clone()).or_default();
        for (pos, exact, e) in found {
            if exact {
                c.0 += 1;
            } else {
                c.1 += 1;
            }
            run.ledger.push(e).map_err(BuildError::Invalid)?;
            drop[pos] = true;
        }
        let mut i = 0;
        run.kept.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
        let after = run.kept.len() as u64;
        run.stage("leakage", before, after, 0.0);
    }
    let leakage =
        medsins_quality::leakage_summary(held.len() as u64, train_checked, &leak_counts, &leak_cfg);
    let decontamination = bench_index.as_ref().map(|index| {
        let tasks: Vec<(&str, &medsins_quality::ContaminationCounts)> = built_runs
            .values()
            .map(|r| (r.meta.task_id.as_str(), &r.contamination))
            .collect();
        medsins_quality::decontamination_summary(index, &benchmarks, &tasks)
    });
    let t_cross = t_cross.elapsed().as_secs_f64();

    // Write every task's shards (tokens, instructions and checks on the way), then the ledger.
    opts.report("writing", 0, 1);
    let t_write = std::time::Instant::now();
    let expected: BTreeMap<String, Vec<medsins_manifest::ExpectedCheck>> = ready
        .iter()
        .flat_map(|(_, ts, _)| {
            ts.iter()
                .map(|t| (t.id.get_ref().clone(), t.expected_checks.clone()))
        })
        .collect();
    let mut runs: Vec<(usize, TaskRun)> = built_runs.into_iter().collect();
    runs.sort_by_key(|(_, r)| r.meta.task_no);
    let written: Vec<Result<Written, BuildError>> = {
        let items: Vec<&mut (usize, TaskRun)> = runs.iter_mut().collect();
        largest_first(
            items,
            |x| x.1.kept.len() as u64,
            |item| {
                let (j, run) = item;
                let t = jobs[*j].2;
                let instr = instruction_set(t, bank.as_ref());
                let no_checks = Vec::new();
                let exp = expected.get(&run.meta.task_id).unwrap_or(&no_checks);
                write_task(&dir, run, t, &instr, exp, counter.as_ref(), opts)
            },
        )
    };
    let written: Vec<Written> = written.into_iter().collect::<Result<_, _>>()?;
    let mut ledger_out = output::LedgerWriter::create(&dir)?;
    for (_, run) in runs.iter_mut() {
        let mut res: Result<(), output::OutputError> = Ok(());
        run.ledger
            .for_each(&mut |b| {
                if res.is_ok() {
                    res = ledger_out.push(b);
                }
                Ok(())
            })
            .map_err(BuildError::Invalid)?;
        res?;
    }
    ledger_out.finish()?;
    drop(spill);
    let t_write = t_write.elapsed().as_secs_f64();

    let mut raw_files: Vec<LockedFile> = Vec::new();
    let mut manifests: Vec<LockedManifest> = Vec::new();
    let mut checksums_skipped: Vec<String> = Vec::new();
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
        let of_corpus: Vec<(&TaskRun, &Written)> = runs
            .iter()
            .zip(&written)
            .filter(|((j, _), _)| jobs[*j].0 == ci)
            .map(|((_, r), w)| (r, w))
            .collect();
        report.corpora.push(CorpusReport {
            corpus_id: id.clone(),
            status: CorpusStatus::Built {
                tasks: of_corpus.len(),
                samples: of_corpus.iter().map(|(_, w)| w.samples).sum(),
                quarantined: of_corpus.iter().map(|(r, _)| r.quarantined()).sum(),
                missing: partial.get(&id).map(|p| p.0.clone()).unwrap_or_default(),
                tasks_skipped: partial.get(&id).map(|p| p.1.clone()).unwrap_or_default(),
            },
        });
        raw_files.extend(rc.locked(&id));
        checksums_skipped.extend(rc.checksums_skipped().map(str::to_string));
        manifests.push(LockedManifest {
            corpus_id: id,
            path: format!("corpora-manifests/{}.toml", lm.manifest.id()),
            sha256: lm.sha256.clone(),
        });
    }
    report.corpora.sort_by(|a, b| a.corpus_id.cmp(&b.corpus_id));

    let mut stats = stats(&runs, &written);
    (stats.decontamination, stats.leakage) = (decontamination, Some(leakage));
    let mut secs: BTreeMap<String, f64> = BTreeMap::new();
    for (_, t) in &runs {
        for (s, x) in &t.seconds {
            *secs.entry(s.clone()).or_default() += x;
        }
    }
    for w in &written {
        for (s, x) in &w.seconds {
            *secs.entry(s.clone()).or_default() += x;
        }
    }
    let mut stage_seconds: Vec<(String, f64)> = secs.into_iter().collect();
    // wall-clock seconds of the whole-build steps (the task stages above are summed over tasks)
    stage_seconds.push(("all tasks read..decontaminate (wall)".into(), t_tasks));
    stage_seconds.push(("cross-task leakage (wall)".into(), t_cross));
    stage_seconds.push(("write shards + ledger (wall)".into(), t_write));
    if opts.timings {
        let ms = |v: f64| serde_json::json!((v * 1000.0).round() / 1000.0);
        let per_task: serde_json::Map<String, serde_json::Value> = runs
            .iter()
            .zip(&written)
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
        stats.timings = Some(serde_json::json!({
            "note": "seconds; per-task stages are summed over tasks (CPU-like), `(wall)` entries are elapsed time; present only with --timings, so this file then differs from run to run",
            "stages": stage_seconds.iter().map(|(k, v)| (k.clone(), ms(*v))).collect::<serde_json::Map<_, _>>(),
            "per_task": per_task,
        }));
    }
    write(&dir.join("stats.json"), &stats.to_json())?;
    report.checks = medsins_quality::checks::report(
        written
            .iter()
            .map(|w| (w.checks.clone(), w.samples))
            .collect(),
        runs.iter()
            .map(|(_, r)| {
                let e = expected.get(&r.meta.task_id).cloned().unwrap_or_default();
                (r.meta.task_id.clone(), e)
            })
            .collect(),
    );
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
        catalogue: catalogue.source.kind().to_string(),
        checksums_skipped,
    };
    write(&dir.join(output::LOCK_FILE), &lock.to_json())?;
    let built_manifests: Vec<&LoadedManifest> = ready
        .iter()
        .enumerate()
        .filter(|(ci, _)| !failed.contains_key(ci))
        .map(|(_, (lm, _, _))| *lm)
        .collect();
    let metas: Vec<&TaskMeta> = runs.iter().map(|(_, r)| &r.meta).collect();
    write(
        &dir.join("README.md"),
        &dataset_card(&built_manifests, &metas, &stats, &lock),
    )?;
    output::write_id_index(&dir)?;
    output::write_checksums(&dir)?;
    out_dir.commit()?;

    report.samples = stats.samples;
    report.removed_by_reason = stats.removed_by_reason.clone();
    report.flagged_by_reason = stats.flagged_by_reason.clone();
    report.tasks = runs.len();
    report.stage_seconds = stage_seconds;
    Ok(report)
}

/// What writing one task's shards gave.
struct Written {
    samples: u64,
    per_split: BTreeMap<String, u64>,
    input_chars: Vec<u64>,
    output_chars: Vec<u64>,
    tokens: Option<Vec<(u32, u32)>>,
    checks: Vec<medsins_quality::CheckResult>,
    seconds: Vec<(String, f64)>,
}

/// Streams a task's kept samples from its store into its shards: token counts (and
/// `--max-tokens`), instructions, the semantic checks and the length statistics on the way.
fn write_task(
    dir: &std::path::Path,
    run: &mut TaskRun,
    task: &Task,
    instructions: &[String],
    expected: &[medsins_manifest::ExpectedCheck],
    counter: Option<&crate::tokens::Counter>,
    opts: &BuildOptions,
) -> Result<Written, BuildError> {
    let start = std::time::Instant::now();
    let cx = TaskContext {
        meta: &run.meta,
        split: task.split.get_ref(),
        seed: opts.seed,
        instructions,
    };
    let mut shards =
        output::TaskShardWriter::create(dir, &run.meta, counter.is_some(), opts.shard_rows)?;
    let mut checker =
        medsins_quality::TaskChecker::new(&run.meta.task_id, &run.meta.category, expected);
    let mut w = Written {
        samples: 0,
        per_split: BTreeMap::new(),
        input_chars: Vec::with_capacity(run.kept.len()),
        output_chars: Vec::with_capacity(run.kept.len()),
        tokens: counter.map(|_| Vec::with_capacity(run.kept.len())),
        checks: Vec::new(),
        seconds: Vec::new(),
    };
    let handles: Vec<u64> = run.kept.iter().map(|k| k.handle).collect();
    let mut at = 0usize;
    let mut t_tokens = 0.0;
    let before = run.kept.len() as u64;
    let (kept, ledger) = (&run.kept, &mut run.ledger);
    let mut failure: Option<BuildError> = None;
    run.store
        .for_each(&handles, &mut |mut batch| {
            for (j, s) in batch.iter_mut().enumerate() {
                s.split = kept[at + j].split.as_str().to_string();
                let (i, text) = cx.instruction(&s.id);
                s.instruction_id = i;
                s.instruction = text.to_string();
            }
            at += batch.len();
            let counts: Vec<Option<(u32, u32)>> = match counter {
                Some(c) => {
                    let t0 = std::time::Instant::now();
                    let v = c.count_batch(&batch);
                    t_tokens += t0.elapsed().as_secs_f64();
                    v.into_iter().map(Some).collect()
                }
                None => vec![None; batch.len()],
            };
            for (s, t) in batch.into_iter().zip(counts) {
                if let (Some((i, o)), Some(max)) = (t, opts.max_tokens)
                    && (i + o) as usize > max
                {
                    ledger.push(LedgerEntry {
                        detail: format!("{i} input + {o} output tokens > --max-tokens {max}"),
                        ..LedgerEntry::for_sample(cx.meta, &s, "tokens", "too_long")
                    })?;
                    continue;
                }
                checker.push(&s.id, &s.input, &s.output);
                w.samples += 1;
                *w.per_split.entry(s.split.clone()).or_default() += 1;
                w.input_chars.push(s.input.chars().count() as u64);
                w.output_chars.push(s.output.chars().count() as u64);
                if let (Some(v), Some(t)) = (w.tokens.as_mut(), t) {
                    v.push(t);
                }
                if let Err(e) = shards.push(s, t.map(|(i, o)| (i as i32, o as i32))) {
                    failure.get_or_insert(e.into());
                }
            }
            Ok(())
        })
        .map_err(BuildError::Invalid)?;
    if let Some(e) = failure {
        return Err(e);
    }
    shards.finish()?;
    if counter.is_some() {
        run.stage("tokens", before, w.samples, t_tokens);
    }
    w.checks = checker.finish();
    w.seconds = vec![
        ("tokens".into(), t_tokens),
        ("write".into(), start.elapsed().as_secs_f64() - t_tokens),
    ];
    Ok(w)
}

/// Runs `f` on every item, largest first (longest-processing-time scheduling over the
/// worker pool), and returns the results in the items' order. Each worker takes the next
/// largest item when it is free, so one huge task starts first instead of last.
fn largest_first<T: Send, R: Send>(
    items: Vec<T>,
    size: impl Fn(&T) -> u64 + Sync,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(size(&items[*i])));
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|x| Mutex::new(Some(x))).collect();
    let results: Vec<Mutex<Option<R>>> = slots.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().min(order.len()).max(1);
    rayon::scope(|s| {
        for _ in 0..workers {
            s.spawn(|_| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    let item = slots[i].lock().ok().and_then(|mut x| x.take());
                    if let Some(item) = item {
                        let r = f(item);
                        if let Ok(mut slot) = results[i].lock() {
                            *slot = Some(r);
                        }
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .filter_map(|m| m.into_inner().ok().flatten())
        .collect()
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

fn stats(runs: &[(usize, TaskRun)], written: &[Written]) -> Stats {
    let mut s = Stats::default();
    let mut corpora = std::collections::BTreeSet::new();
    for ((_, t), w) in runs.iter().zip(written) {
        let n = w.samples;
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
            input_chars: output::LengthStats::of(w.input_chars.clone()),
            output_chars: output::LengthStats::of(w.output_chars.clone()),
            input_tokens: w
                .tokens
                .as_ref()
                .map(|v| output::LengthStats::of(v.iter().map(|x| x.0 as u64).collect())),
            output_tokens: w
                .tokens
                .as_ref()
                .map(|v| output::LengthStats::of(v.iter().map(|x| x.1 as u64).collect())),
            ..Default::default()
        };
        for (split, k) in &w.per_split {
            *ts.per_split.entry(split.clone()).or_default() += k;
            *s.per_split.entry(split.clone()).or_default() += k;
        }
        for (reason, k) in &t.ledger.by_reason {
            let flag = medsins_quality::is_flag(reason);
            let (task_map, all) = if flag {
                (&mut ts.flagged_by_reason, &mut s.flagged_by_reason)
            } else {
                (&mut ts.removed_by_reason, &mut s.removed_by_reason)
            };
            *task_map.entry(reason.clone()).or_default() += k;
            *all.entry(reason.clone()).or_default() += k;
        }
        s.per_task.insert(t.meta.task_id.clone(), ts);
    }
    s.corpora = corpora.len() as u64;
    s
}

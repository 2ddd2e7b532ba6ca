//! Reading and rendering one task, then running its stages.

use crate::corpus::ResolvedCorpus;
use crate::stages::{TaskContext, standard_stages};
use medsins_core::{LedgerEntry, Sample, TaskMeta};
use medsins_manifest::{LoadedManifest, SplitPolicy, Task};
use medsins_readers::{Record, read_file};
use medsins_render::{LookupFiles, Rendered, TaskRenderer};
use rayon::prelude::*;
use std::time::Instant;

/// Everything one task produced.
#[derive(Debug, Clone)]
pub struct TaskBuild {
    pub meta: TaskMeta,
    pub samples: Vec<Sample>,
    pub ledger: Vec<LedgerEntry>,
    pub records_read: u64,
    /// Records that could not be read or rendered.
    pub quarantined: u64,
    /// `[stage, in, out]` for read, render and every later stage.
    pub stages: Vec<(String, u64, u64)>,
    /// Seconds per stage (reported, never written to the output).
    pub seconds: Vec<(String, f64)>,
}

pub fn task_meta(lm: &LoadedManifest, task: &Task) -> TaskMeta {
    let m = &lm.manifest;
    TaskMeta {
        task_id: task.id.get_ref().clone(),
        task_no: *task.number.get_ref(),
        corpus_id: m.id().to_string(),
        category: task.category.get_ref().clone(),
        text_source: task.text_source.get_ref().clone(),
        domains: task.domains.clone(),
        languages: task.languages(),
        license: m.corpus.license.clone(),
        access: m.corpus.access.get_ref().clone(),
        manifest_sha256: lm.sha256.clone(),
    }
}

/// Loads the files the task's join and lookup steps refer to.
pub fn load_lookups(
    lm: &LoadedManifest,
    task: &Task,
    rc: &ResolvedCorpus,
) -> Result<LookupFiles, String> {
    let mut lookups = LookupFiles::default();
    for id in lm.manifest.lookup_file_ids(task) {
        let (Some(spec), Some(file)) = (lm.manifest.file(id), rc.file(id)) else {
            return Err(format!("lookup file `{id}` is not available"));
        };
        let mut recs = Vec::new();
        read_file(
            &file.abs,
            spec.format.get_ref(),
            &spec.options,
            &rc.dir,
            &mut |r| {
                if let Ok(r) = r {
                    recs.push(r)
                }
            },
        )
        .map_err(|e| e.to_string())?;
        lookups.files.insert(id.to_string(), recs);
    }
    Ok(lookups)
}

/// Reads, renders and runs every stage of one task. `limit` caps the records read per file
/// (previews). An `Err` is a problem with the task as a whole (an unreadable file, a template
/// that does not compile), not with a record.
pub fn render_task(
    lm: &LoadedManifest,
    task: &Task,
    rc: &ResolvedCorpus,
    seed: u64,
    instructions: &[String],
    limit: Option<usize>,
) -> Result<TaskBuild, String> {
    let meta = task_meta(lm, task);
    let lookups = load_lookups(lm, task, rc)?;
    let renderer = TaskRenderer::compile(task, lookups).map_err(|errs| {
        errs.iter()
            .map(|e| lm.diag(e.offset, e.message.clone()).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let mut ledger = Vec::new();
    let mut samples = Vec::new();
    let mut records_read = 0u64;
    let mut t_read = 0.0;
    let mut t_render = 0.0;
    let removal = |ledger: &mut Vec<LedgerEntry>,
                   stage: &str,
                   reason: &str,
                   file: &str,
                   locator: String,
                   message: String| {
        ledger.push(LedgerEntry {
            detail: message,
            ..LedgerEntry::new(&meta, stage, reason, file, &locator)
        });
    };
    for (file_no, spec) in lm.manifest.task_files(task).into_iter().enumerate() {
        // a file absent from a partial build (reported at corpus level) contributes nothing
        let Some(file) = rc.file(spec.id.get_ref()) else {
            continue;
        };
        let start = Instant::now();
        let mut records: Vec<Record> = Vec::new();
        let mut n = 0usize;
        read_file(
            &file.abs,
            spec.format.get_ref(),
            &spec.options,
            &rc.dir,
            &mut |r| {
                if limit.is_some_and(|l| n >= l) {
                    return;
                }
                n += 1;
                records_read += 1;
                match r {
                    Ok(rec) => records.push(rec),
                    Err(e) => {
                        removal(
                            &mut ledger,
                            "read",
                            "quarantined",
                            &file.rel,
                            e.locator,
                            e.message,
                        );
                    }
                }
            },
        )
        .map_err(|e| e.to_string())?;
        t_read += start.elapsed().as_secs_f64();

        let start = Instant::now();
        let (records, dropped) = renderer.run_steps(records);
        for d in dropped {
            removal(
                &mut ledger,
                "steps",
                "filtered",
                &file.rel,
                d.locator,
                d.message,
            );
        }
        let official = match task.split.get_ref() {
            SplitPolicy::Official => spec
                .split
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        // `head`: the first ⌊train × N⌋ records of the file (after the steps) are train
        let head = match task.split.get_ref() {
            SplitPolicy::Head { train, rest } => Some((
                (train * records.iter().filter(|r| r.is_ok()).count() as f64) as usize,
                rest.clone(),
            )),
            _ => None,
        };
        let rendered: Vec<_> = records
            .into_par_iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(rec) => {
                    let out = renderer.render(&rec);
                    (i, Ok(rec), out)
                }
                Err(e) => (i, Err(e), Err(String::new())),
            })
            .collect();
        for (i, rec, out) in rendered {
            match (rec, out) {
                (Err(e), _) => {
                    removal(
                        &mut ledger,
                        "steps",
                        "quarantined",
                        &file.rel,
                        e.locator,
                        e.message,
                    );
                }
                (Ok(rec), Err(message)) => {
                    removal(
                        &mut ledger,
                        "render",
                        "quarantined",
                        &file.rel,
                        rec.locator,
                        message,
                    );
                }
                (Ok(rec), Ok(Rendered::Filtered)) => removal(
                    &mut ledger,
                    "render",
                    "filtered",
                    &file.rel,
                    rec.locator,
                    "the task's filter is false".into(),
                ),
                (
                    Ok(rec),
                    Ok(Rendered::Sample {
                        group_key: Some(g), ..
                    }),
                ) if g.trim().is_empty() => removal(
                    &mut ledger,
                    "render",
                    "quarantined",
                    &file.rel,
                    rec.locator,
                    "group_key renders empty for this record; choose a field every record has"
                        .into(),
                ),
                (
                    Ok(rec),
                    Ok(Rendered::Sample {
                        input,
                        output,
                        group_key,
                    }),
                ) => samples.push(Sample {
                    id: String::new(),
                    instruction: String::new(),
                    instruction_id: 0,
                    input,
                    output,
                    split: match &head {
                        Some((k, rest)) => {
                            if i < *k {
                                "train".to_string()
                            } else {
                                rest.clone()
                            }
                        }
                        None => official.clone(),
                    },
                    source_file: file.rel.clone(),
                    source_locator: rec.locator,
                    raw_sha256: rec.raw_sha256,
                    group_key: group_key.unwrap_or_default(),
                    order: (file_no as u32, i as u64),
                }),
            }
        }
        t_render += start.elapsed().as_secs_f64();
    }
    let after_read = records_read - removed_in(&ledger, "read");
    let mut stages = vec![
        ("read".to_string(), records_read, after_read),
        ("render".to_string(), after_read, samples.len() as u64),
    ];
    let mut seconds = vec![
        ("read".to_string(), t_read),
        ("render".to_string(), t_render),
    ];
    let cx = TaskContext {
        meta: &meta,
        split: task.split.get_ref(),
        seed,
        instructions,
    };
    for stage in standard_stages(task) {
        let start = Instant::now();
        let before = samples.len() as u64;
        samples = stage.run(&cx, samples, &mut ledger);
        stages.push((stage.name().to_string(), before, samples.len() as u64));
        seconds.push((stage.name().to_string(), start.elapsed().as_secs_f64()));
    }
    // every record that could not be read, stepped or rendered has its ledger entry
    let quarantined = ledger.iter().filter(|e| e.reason == "quarantined").count() as u64;
    Ok(TaskBuild {
        meta,
        samples,
        ledger,
        records_read,
        quarantined,
        stages,
        seconds,
    })
}

fn removed_in(ledger: &[LedgerEntry], stage: &str) -> u64 {
    ledger.iter().filter(|e| e.stage == stage).count() as u64
}

//! Phase 4, write: every task's kept samples stream from its store into its Parquet shards —
//! instructions, token counts (and `--max-tokens`), the semantic checks and the length
//! statistics on the way — then every task's ledger into `ledger.parquet`.

use super::Inputs;
use super::schedule::largest_first;
use crate::stages::TaskContext;
use crate::task::TaskRun;
use crate::{BuildError, BuildOptions, TaskError, instruction_set};
use medsins_core::{LedgerEntry, LedgerReason};
use medsins_manifest::{ExpectedCheck, Task};
use medsins_output as output;
use std::collections::BTreeMap;
use std::path::Path;

/// What writing one task's shards gave.
pub struct Written {
    pub samples: u64,
    pub per_split: BTreeMap<String, u64>,
    pub input_chars: Vec<u64>,
    pub output_chars: Vec<u64>,
    pub tokens: Option<Vec<(u32, u32)>>,
    pub checks: Vec<medsins_quality::CheckResult>,
    pub seconds: Vec<(String, f64)>,
}

/// A task to write: its run, its manifest entry and the checks it expects to fail.
pub struct ToWrite<'a> {
    pub run: &'a mut TaskRun,
    pub task: &'a Task,
    pub expected: &'a [ExpectedCheck],
}

/// Writes every task's shards (largest first); results in the given order.
pub fn write_tasks(
    dir: &Path,
    tasks: Vec<ToWrite>,
    inputs: &Inputs,
    opts: &BuildOptions,
) -> Result<Vec<Written>, BuildError> {
    opts.report("writing", 0, 1);
    let written = largest_first(
        tasks,
        |t| t.run.kept.len() as u64,
        |t| {
            let instructions = instruction_set(t.task, inputs.bank.as_ref());
            write_task(dir, t, &instructions, inputs.counter.as_ref(), opts)
        },
    );
    written
        .into_iter()
        .map(|w| {
            w.unwrap_or(Err(BuildError::Task {
                task_id: String::new(),
                source: TaskError::NotRun,
            }))
        })
        .collect()
}

/// Streams a task's kept samples from its store into its shards (see the module docs).
fn write_task(
    dir: &Path,
    t: ToWrite,
    instructions: &[String],
    counter: Option<&crate::tokens::Counter>,
    opts: &BuildOptions,
) -> Result<Written, BuildError> {
    let start = std::time::Instant::now();
    let run = t.run;
    let cx = TaskContext {
        meta: &run.meta,
        split: t.task.split.get_ref(),
        seed: opts.seed,
        instructions,
    };
    let mut shards =
        output::TaskShardWriter::create(dir, &run.meta, counter.is_some(), opts.shard_rows)?;
    let mut checker =
        medsins_quality::TaskChecker::new(&run.meta.task_id, &run.meta.category, t.expected);
    let mut w = Written {
        samples: 0,
        per_split: BTreeMap::new(),
        input_chars: Vec::with_capacity(run.kept.len()),
        output_chars: Vec::with_capacity(run.kept.len()),
        tokens: counter.map(|_| Vec::with_capacity(run.kept.len())),
        checks: Vec::new(),
        seconds: Vec::new(),
    };
    let mut t_tokens = 0.0;
    let before = run.kept.len() as u64;
    let mut too_long: Vec<LedgerEntry> = Vec::new();
    run.for_each_kept(&mut |mut batch| {
        for s in batch.iter_mut() {
            let (i, text) = cx.instruction(s.id);
            s.instruction_id = i;
            s.instruction = text.to_string();
        }
        let counts: Vec<Option<crate::tokens::SampleTokens>> = match counter {
            Some(c) => {
                let t0 = std::time::Instant::now();
                let v = c
                    .count_batch(&batch)
                    .map_err(|error| BuildError::TaskTokens {
                        task_id: cx.meta.task_id.to_string(),
                        error,
                    })?;
                t_tokens += t0.elapsed().as_secs_f64();
                v.into_iter().map(Some).collect()
            }
            None => vec![None; batch.len()],
        };
        for (s, t) in batch.into_iter().zip(counts) {
            if let (Some(t), Some(max), Some(c)) = (t, opts.max_tokens, counter)
                && t.total as usize > max
            {
                too_long.push(LedgerEntry {
                    detail: format!("{} {} > --max-tokens {max}", t.total, c.total_is()),
                    ..LedgerEntry::for_sample(cx.meta, &s, "tokens", LedgerReason::TooLong)
                });
                continue;
            }
            let t = t.map(|t| (t.input, t.output));
            checker.push(&s.id.to_string(), &s.input, &s.output);
            w.samples += 1;
            if let Some(split) = s.split {
                *w.per_split.entry(split.as_str().to_string()).or_default() += 1;
            }
            w.input_chars.push(s.input.chars().count() as u64);
            w.output_chars.push(s.output.chars().count() as u64);
            if let (Some(v), Some(t)) = (w.tokens.as_mut(), t) {
                v.push(t);
            }
            shards.push(s, t.map(|(i, o)| (i as i32, o as i32)))?;
        }
        Ok::<(), BuildError>(())
    })?;
    shards.finish()?;
    for e in too_long {
        run.ledger.push(e)?;
    }
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

/// Every task's ledger, in the given order, into `ledger.parquet`.
pub fn write_ledger(dir: &Path, runs: &mut [(usize, TaskRun)]) -> Result<(), BuildError> {
    let mut ledger = output::LedgerWriter::create(dir)?;
    for (_, run) in runs.iter_mut() {
        run.ledger
            .for_each(&mut |b| ledger.push(b).map_err(BuildError::from))?;
    }
    ledger.finish()?;
    Ok(())
}

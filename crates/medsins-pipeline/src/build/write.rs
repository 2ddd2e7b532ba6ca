//! Phase 4, write: every task's kept samples stream from its store into its Parquet shards —
//! instructions, token counts (and `--max-tokens`), the semantic checks and the length
//! statistics on the way — and, at the same time, every task's ledger into `ledger.parquet`
//! (on a thread of its own beside the worker pool, in task order; with one worker, after the
//! shards).
//!
//! With a cache (docs/scale-out.md), a task's written output — its shards, what writing them
//! gave, the `--max-tokens` removals — is kept under a [`write_key`] and copied into the
//! output instead of written again when a later build has the same key. The copy is a new
//! file (never a hard link or a shared extent): editing the output cannot change the cache,
//! and the SHA-256 of every shard is checked while it is copied, so a damaged entry is found
//! and the task written anew.

use super::Inputs;
use super::cache::{Cache, CacheError, Kind, Record};
use super::schedule::largest_first;
use super::units::CACHE_FORMAT;
use crate::stages::TaskContext;
use crate::store::Ledger;
use crate::task::{KeptSamples, TaskRun};
use crate::{BuildError, BuildOptions, TaskError, instruction_set};
use medsins_core::{LedgerEntry, LedgerReason, Sha256Writer, Split, sha256_hex};
use medsins_manifest::{ExpectedCheck, Task};
use medsins_output as output;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};

/// What writing one task's shards gave.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Written {
    pub samples: u64,
    pub per_split: BTreeMap<String, u64>,
    pub input_chars: Vec<u64>,
    pub output_chars: Vec<u64>,
    pub tokens: Option<Vec<(u32, u32)>>,
    pub checks: Vec<medsins_quality::CheckResult>,
    #[serde(skip)]
    pub seconds: Vec<(String, f64)>,
    /// Whether the shards were copied from the cache rather than written.
    #[serde(skip)]
    pub from_cache: bool,
}

/// A task to write: its kept samples, its manifest entry, the checks it expects to fail and,
/// with a cache, where its written output is kept.
pub struct ToWrite<'a> {
    pub run: KeptSamples<'a>,
    pub task: &'a Task,
    pub expected: &'a [ExpectedCheck],
    pub cached: Option<CachedWrite<'a>>,
}

/// The cache entry of a task's written output.
pub struct CachedWrite<'a> {
    pub cache: &'a Cache,
    /// [`write_key`].
    pub key: String,
}

/// The key of a task's written output: its unit's key (builder version and code, manifest,
/// raw files, instruction set, every option a unit depends on: seed, tokenizer,
/// `--max-tokens` …), its position in the unit, the samples it keeps after the cross-task
/// passes (what leakage removed), and the write options.
pub fn write_key(
    unit_key: &str,
    position: usize,
    run: &KeptSamples,
    opts: &BuildOptions,
) -> String {
    let mut kept = Vec::with_capacity(run.kept.len() * 9);
    for k in run.kept {
        kept.extend_from_slice(&k.handle.to_le_bytes());
        kept.push(Split::ALL.iter().position(|s| *s == k.split).unwrap_or(0) as u8);
    }
    let material = serde_json::json!({
        "cache_format": CACHE_FORMAT,
        "unit": unit_key,
        "task": position,
        "kept": sha256_hex(&kept),
        "shard_rows": opts.shard_rows,
        "row_group_bytes": opts.row_group_bytes,
    });
    sha256_hex(material.to_string().as_bytes())[..32].to_string()
}

/// `written.json`: a task's written output in the cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WrittenRecord {
    pub format: u32,
    pub key: String,
    pub task_id: String,
    /// Its shards, in the order written: file name (in `data/<task_id>/`) and SHA-256.
    pub shards: Vec<(String, String)>,
    pub written: Written,
    /// The `--max-tokens` removals, for the task's ledger.
    pub too_long: Vec<LedgerEntry>,
    /// Every file of the entry's folder and its size.
    pub files: BTreeMap<String, u64>,
}

impl Record for WrittenRecord {
    const KIND: Kind = Kind::Written;
    fn key(&self) -> &str {
        &self.key
    }
    fn format(&self) -> u32 {
        self.format
    }
    fn files(&self) -> &BTreeMap<String, u64> {
        &self.files
    }
    fn files_mut(&mut self) -> &mut BTreeMap<String, u64> {
        &mut self.files
    }
    fn name(&self) -> &str {
        &self.task_id
    }
}

/// Writes every task's shards (largest first, in parallel on the worker pool) and, at the
/// same time, `ledger.parquet` from `ledgers` (one a task, in the tasks' order); results in
/// the given order. A task's `--max-tokens` removals go to its ledger before it is written.
pub fn write_tasks(
    dir: &Path,
    tasks: Vec<ToWrite>,
    ledgers: Vec<&mut Ledger>,
    inputs: &Inputs,
    opts: &BuildOptions,
) -> Result<Vec<Written>, BuildError> {
    opts.report("writing", 0, 1);
    // each task hands its `--max-tokens` removals to the ledger writer when its shards are done
    let (senders, receivers): (Vec<_>, Vec<_>) =
        tasks.iter().map(|_| mpsc::sync_channel(1)).unzip();
    let tokens = inputs.counter.is_some();
    let write_shards = || {
        largest_first(
            tasks.into_iter().zip(senders).collect(),
            |(t, _)| t.run.kept.len() as u64,
            |(t, done): (ToWrite, SyncSender<Vec<LedgerEntry>>)| {
                let instructions = instruction_set(t.task, inputs.bank.as_ref());
                let (w, too_long) =
                    write_or_reuse(dir, t, &instructions, inputs.counter.as_ref(), opts)?;
                // the ledger writer has dropped its end when it awaits no removals (no
                // tokenizer) or when it failed (its error is the build's): nothing to hand over
                let _ = done.send(too_long);
                Ok(w)
            },
        )
    };
    let write_ledger = || write_ledger(dir, ledgers, tokens.then_some(receivers));
    let (written, ledger) = if rayon::current_num_threads() > 1 {
        std::thread::scope(|s| {
            let ledger = s.spawn(write_ledger);
            let written = write_shards();
            let ledger = ledger
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (written, ledger)
        })
    } else {
        let written = write_shards();
        (written, write_ledger())
    };
    let written: Vec<Written> = written
        .into_iter()
        .map(|w| {
            w.unwrap_or(Err(BuildError::Task {
                task_id: String::new(),
                source: TaskError::NotRun,
            }))
        })
        .collect::<Result<_, _>>()?;
    ledger?;
    Ok(written)
}

/// A task's shards copied from the cache when it holds them (a damaged entry is removed),
/// else written and stored in the cache; with its `--max-tokens` removals.
fn write_or_reuse(
    dir: &Path,
    t: ToWrite,
    instructions: &[String],
    counter: Option<&crate::tokens::Counter>,
    opts: &BuildOptions,
) -> Result<(Written, Vec<LedgerEntry>), BuildError> {
    let Some(cached) = t.cached else {
        return write_task(dir, &t.run, t.task, t.expected, instructions, counter, opts);
    };
    let task_id = t.run.meta.task_id.clone();
    let task_dir = dir.join("data").join(&task_id);
    if let Some((entry, record)) = cached.cache.find::<WrittenRecord>(&cached.key, &task_id)? {
        match copy_shards(&entry, &record, &task_dir) {
            Ok(()) => {
                let mut w = record.written;
                w.from_cache = true;
                return Ok((w, record.too_long));
            }
            Err(e) => {
                std::fs::remove_dir_all(&task_dir).map_err(|source| CacheError::Io {
                    path: task_dir.clone(),
                    source,
                })?;
                cached
                    .cache
                    .evict_damaged(Kind::Written, &cached.key, &task_id, &e.to_string())?;
            }
        }
    }
    let (w, too_long) = write_task(dir, &t.run, t.task, t.expected, instructions, counter, opts)?;
    store(
        cached.cache,
        &cached.key,
        &task_id,
        &task_dir,
        &w,
        too_long.clone(),
    )?;
    Ok((w, too_long))
}

/// Records the `tokens` stage of a written task (builds with a tokenizer): its kept samples
/// before `--max-tokens`, the samples written, the seconds counting took (none when the
/// shards came from the cache).
pub fn record_tokens_stage(run: &mut TaskRun, w: &Written) {
    let secs = match w.from_cache {
        true => 0.0,
        false => w
            .seconds
            .iter()
            .find(|(k, _)| k == "tokens")
            .map_or(0.0, |x| x.1),
    };
    let before = run.kept.len() as u64;
    run.stage("tokens", before, w.samples, secs);
}

/// Copies a cached entry's shards into `task_dir` (new files), checking each one's SHA-256.
fn copy_shards(entry: &Path, record: &WrittenRecord, task_dir: &Path) -> Result<(), CacheError> {
    std::fs::create_dir_all(task_dir).map_err(|source| CacheError::Io {
        path: task_dir.to_path_buf(),
        source,
    })?;
    for (name, sha256) in &record.shards {
        let found = copy_hashed(&entry.join(name), &task_dir.join(name))?;
        if found != *sha256 {
            return Err(CacheError::Corrupt {
                path: entry.join(name),
                what: format!("SHA-256 {found}, {sha256} was written"),
            });
        }
    }
    Ok(())
}

/// Stores a task's freshly written shards (in `task_dir`) and what writing them gave in the
/// cache under `key`.
fn store(
    cache: &Cache,
    key: &str,
    task_id: &str,
    task_dir: &Path,
    w: &Written,
    too_long: Vec<LedgerEntry>,
) -> Result<(), BuildError> {
    let tmp = cache.begin(Kind::Written)?;
    let mut names: Vec<String> = match std::fs::read_dir(task_dir) {
        Ok(d) => d
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(CacheError::Io {
                path: task_dir.to_path_buf(),
                source,
            }
            .into());
        }
    };
    names.sort();
    let mut shards = Vec::with_capacity(names.len());
    for name in names {
        let sha256 = copy_hashed(&task_dir.join(&name), &tmp.path().join(&name))?;
        shards.push((name, sha256));
    }
    let record = WrittenRecord {
        format: CACHE_FORMAT,
        key: key.to_string(),
        task_id: task_id.to_string(),
        shards,
        written: w.clone(),
        too_long,
        files: BTreeMap::new(),
    };
    cache.commit(tmp, record)?;
    Ok(())
}

/// Copies `from` to a new file `to`; returns the SHA-256 of the bytes copied.
fn copy_hashed(from: &Path, to: &Path) -> Result<String, CacheError> {
    let err = |path: &Path| {
        let path: PathBuf = path.to_path_buf();
        move |source| CacheError::Io { path, source }
    };
    let mut src = std::fs::File::open(from).map_err(err(from))?;
    let mut dst = std::fs::File::create(to).map_err(err(to))?;
    let mut hash = Sha256Writer::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf).map_err(err(from))?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n]).map_err(err(to))?;
        hash.write_all(&buf[..n]).map_err(err(to))?;
    }
    Ok(hash.finish_hex())
}

/// Streams a task's kept samples from its store into its shards (see the module docs);
/// returns what it gave and the `--max-tokens` removals (for its ledger).
fn write_task(
    dir: &Path,
    run: &KeptSamples,
    task: &Task,
    expected: &[ExpectedCheck],
    instructions: &[String],
    counter: Option<&crate::tokens::Counter>,
    opts: &BuildOptions,
) -> Result<(Written, Vec<LedgerEntry>), BuildError> {
    let start = std::time::Instant::now();
    let cx = TaskContext {
        meta: run.meta,
        split: task.split.get_ref(),
        seed: opts.seed,
        instructions,
    };
    let mut shards =
        output::TaskShardWriter::create(dir, run.meta, counter.is_some(), opts.shard_rows)?
            .with_row_group_bytes(opts.row_group_bytes);
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
        from_cache: false,
    };
    let mut t_tokens = 0.0;
    let mut too_long: Vec<LedgerEntry> = Vec::new();
    run.for_each(&mut |mut batch| {
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
    w.checks = checker.finish();
    w.seconds = vec![
        ("tokens".into(), t_tokens),
        ("write".into(), start.elapsed().as_secs_f64() - t_tokens),
    ];
    Ok((w, too_long))
}

/// Every task's ledger, in the given order, into `ledger.parquet`. With `too_long` (builds
/// with a tokenizer), each task's `--max-tokens` removals are awaited and added to its ledger
/// first; a task whose shards failed ends the ledger (its error is the build's).
pub fn write_ledger(
    dir: &Path,
    ledgers: Vec<&mut Ledger>,
    too_long: Option<Vec<Receiver<Vec<LedgerEntry>>>>,
) -> Result<(), BuildError> {
    let mut out = output::LedgerWriter::create(dir)?;
    let mut too_long = too_long.map(Vec::into_iter);
    for ledger in ledgers {
        if let Some(rx) = too_long.as_mut().and_then(Iterator::next) {
            let Ok(entries) = rx.recv() else {
                return Ok(());
            };
            for e in entries {
                ledger.push(e)?;
            }
        }
        ledger.for_each(&mut |b| out.push(b).map_err(BuildError::from))?;
    }
    out.finish()?;
    Ok(())
}

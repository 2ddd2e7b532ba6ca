//! Parquet shards of samples, and the removal ledger.

use crate::{OutputError, io_err};
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use medsins_core::{LedgerEntry, LedgerReason, Sample, SampleId, Split, TaskMeta};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const LEDGER_FILE: &str = "ledger.parquet";
const ROW_GROUP_ROWS: usize = 16_384;
/// Default bound of a sample row group's uncompressed bytes (the row group's
/// `total_byte_size`): the Hugging Face dataset viewer reads whole row groups, and at full
/// scale 16,384 rows of full-text articles reach 500 MiB.
pub const DEFAULT_ROW_GROUP_BYTES: usize = 128 << 20;

fn list_field(name: &str) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        false,
    )
}

/// The columns of every sample shard (product.md §3).
pub fn sample_schema() -> Arc<Schema> {
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        s("id"),
        s("task_id"),
        Field::new("task_no", DataType::Int32, false),
        s("corpus_id"),
        s("category"),
        s("text_source"),
        list_field("domains"),
        s("instruction"),
        Field::new("instruction_id", DataType::Int32, false),
        s("input"),
        s("output"),
        s("split"),
        list_field("languages"),
        s("license"),
        s("access"),
        s("source_variant"),
        s("source_file"),
        s("source_locator"),
        s("raw_sha256"),
        s("manifest_sha256"),
        s("builder_version"),
    ]))
}

/// The sample columns plus `input_tokens` and `output_tokens` (builds with a tokenizer).
pub fn sample_schema_with_tokens() -> Arc<Schema> {
    let mut fields: Vec<Field> = sample_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("input_tokens", DataType::Int32, false));
    fields.push(Field::new("output_tokens", DataType::Int32, false));
    Arc::new(Schema::new(fields))
}

pub fn ledger_schema() -> Arc<Schema> {
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    Arc::new(Schema::new(vec![
        s("id", true),
        s("task_id", false),
        s("corpus_id", false),
        s("stage", false),
        s("reason", false),
        s("kept_id", true),
        Field::new("similarity", DataType::Float64, true),
        s("source_file", false),
        s("source_locator", false),
        s("detail", false),
    ]))
}

/// Columns whose values are (nearly) all distinct: a dictionary would only be built to be
/// thrown away.
const UNIQUE_COLUMNS: &[&str] = &["id", "input", "output", "source_locator", "raw_sha256"];
/// Long texts: min/max statistics of a page of clinical notes help no reader.
const NO_STATISTICS: &[&str] = &["input", "output", "instruction", "source_locator", "detail"];

/// Writer properties; `max_rows` bounds a row group's rows (`None`: the caller closes row
/// groups itself, as [`TaskShardWriter`] does to bound their bytes too).
fn props(max_rows: Option<usize>) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(max_rows)
        .set_created_by(medsins_core::BUILDER_VERSION.to_string());
    for c in UNIQUE_COLUMNS {
        b = b.set_column_dictionary_enabled(ColumnPath::from(*c), false);
    }
    for c in NO_STATISTICS {
        b = b.set_column_statistics_enabled(ColumnPath::from(*c), EnabledStatistics::None);
    }
    b.build()
}

fn repeated(v: &str, n: usize) -> ArrayRef {
    string_column(n, std::iter::repeat_n(v, n))
}

/// A string column of `n` values, its buffers sized once: growing them by doubling would
/// copy every long text again (inputs of full-text articles reach megabytes a batch).
fn string_column<'a>(n: usize, values: impl Iterator<Item = &'a str> + Clone) -> ArrayRef {
    let bytes = values.clone().map(str::len).sum();
    let mut b = StringBuilder::with_capacity(n, bytes);
    for v in values {
        b.append_value(v);
    }
    Arc::new(b.finish())
}

/// A column of sample ids (32 hex digits each), formatted straight into the array's buffer.
fn id_strings(
    n: usize,
    ids: impl Iterator<Item = SampleId>,
) -> Result<ArrayRef, arrow_schema::ArrowError> {
    use std::fmt::Write;
    let mut b = StringBuilder::with_capacity(n, n * 32);
    for id in ids {
        write!(b, "{id}").map_err(|e| arrow_schema::ArrowError::ComputeError(e.to_string()))?;
        // ends the value the digits were written into
        b.append_value("");
    }
    Ok(Arc::new(b.finish()))
}

fn repeated_list(items: &[String], n: usize) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new());
    for _ in 0..n {
        for i in items {
            b.values().append_value(i);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

fn sample_batch(
    meta: &TaskMeta,
    rows: &[(&Sample, Option<(i32, i32)>)],
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let n = rows.len();
    let col =
        |f: fn(&Sample) -> &str| -> ArrayRef { string_column(n, rows.iter().map(|(s, _)| f(s))) };
    let tokens = rows.first().is_some_and(|r| r.1.is_some());
    let mut columns: Vec<ArrayRef> = vec![
        id_strings(n, rows.iter().map(|(s, _)| s.id))?,
        repeated(&meta.task_id, n),
        Arc::new(Int32Array::from(vec![meta.task_no as i32; n])),
        repeated(&meta.corpus_id, n),
        repeated(&meta.category, n),
        repeated(&meta.text_source, n),
        repeated_list(&meta.domains, n),
        col(|s| &s.instruction),
        Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|(s, _)| s.instruction_id as i32),
        )),
        col(|s| &s.input),
        col(|s| &s.output),
        col(|s| s.split.map_or("", |x| x.as_str())),
        repeated_list(&meta.languages, n),
        repeated(&meta.license, n),
        repeated(&meta.access, n),
        repeated(&meta.source_variant, n),
        col(|s| &s.source_file),
        col(|s| &s.source_locator),
        col(|s| &s.raw_sha256),
        repeated(&meta.manifest_sha256, n),
        repeated(medsins_core::BUILDER_VERSION, n),
    ];
    if tokens {
        columns.push(Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|(_, t)| t.map_or(0, |t| t.0)),
        )));
        columns.push(Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|(_, t)| t.map_or(0, |t| t.1)),
        )));
    }
    RecordBatch::try_new(
        if tokens {
            sample_schema_with_tokens()
        } else {
            sample_schema()
        },
        columns,
    )
}

/// One written shard.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardInfo {
    /// Relative to the output directory.
    pub path: String,
    pub split: String,
    pub rows: usize,
}

pub(crate) fn parquet_err(path: &Path) -> impl Fn(String) -> OutputError + '_ {
    move |message| OutputError::Parquet {
        path: path.to_path_buf(),
        message,
    }
}

/// Rows handed to the Parquet writer at a time (row groups stay within [`ROW_GROUP_ROWS`]
/// rows and the writer's row-group byte bound).
const WRITE_BATCH_ROWS: usize = 1024;

/// An upper bound of the uncompressed bytes a sample adds to its row group: every string
/// value as if plain-encoded (4-byte length + bytes; a dictionary-encoded column is never
/// larger), 4 bytes a number, and slack for levels and dictionary indices. `task_bytes` is
/// the same bound for the columns every row of the task repeats.
fn row_bytes(s: &Sample, task_bytes: usize, tokens: bool) -> usize {
    // the id (32 hex digits) and the split name are short and fixed: counted as 32 + 10
    let texts = [
        &s.instruction,
        &s.input,
        &s.output,
        &s.source_file,
        &s.source_locator,
        &s.raw_sha256,
    ];
    texts.iter().map(|t| 4 + t.len()).sum::<usize>()
        + (4 + 32)
        + (4 + 10)
        + task_bytes
        + if tokens { 8 } else { 0 }
        + 4
        + 64
}

/// [`row_bytes`]'s share of the columns that repeat the task's metadata.
fn task_row_bytes(meta: &TaskMeta) -> usize {
    let list = |v: &[String]| v.iter().map(|x| 6 + x.len()).sum::<usize>() + 4;
    [
        &meta.task_id,
        &meta.corpus_id,
        &meta.category,
        &meta.text_source,
        &meta.license,
        &meta.access,
        &meta.manifest_sha256,
    ]
    .iter()
    .map(|t| 4 + t.len())
    .sum::<usize>()
        + 4
        + medsins_core::BUILDER_VERSION.len()
        + 4
        + list(&meta.domains)
        + list(&meta.languages)
}

/// The shards of one split being written: `<split>-NNNNN.parquet.partial` files, renamed
/// to `<split>-NNNNN-of-MMMMM.parquet` when the split's row count is known.
struct SplitShards {
    split: Split,
    writer: Option<ArrowWriter<BufWriter<File>>>,
    rows_in_shard: usize,
    /// rows and bound of bytes ([`row_bytes`]) of the open row group
    group_rows: usize,
    group_bytes: usize,
    /// (partial path, rows) of every shard so far
    shards: Vec<(PathBuf, usize)>,
    pending: Vec<(Sample, Option<(i32, i32)>)>,
}

/// Writes a task's samples as `data/<task_id>/<split>-NNNNN-of-MMMMM.parquet` as they stream
/// in: splits train, validation, test, samples in the order pushed, at most `shard_rows` per
/// shard, row groups of at most [`ROW_GROUP_ROWS`] rows and `row_group_bytes` uncompressed
/// bytes (a single larger row is a row group of its own). Only the rows of the current write
/// batch and the Parquet writers' open row groups are in memory.
pub struct TaskShardWriter {
    dir: PathBuf,
    meta: TaskMeta,
    tokens: bool,
    shard_rows: usize,
    row_group_bytes: usize,
    task_bytes: usize,
    splits: Vec<SplitShards>,
}

impl TaskShardWriter {
    pub fn create(
        out: &Path,
        meta: &TaskMeta,
        tokens: bool,
        shard_rows: usize,
    ) -> Result<TaskShardWriter, OutputError> {
        // the task id names a folder: it must be one plain name, so nothing lands outside `out`
        if medsins_core::task_id_number(&meta.task_id).is_none() {
            return Err(OutputError::Refused(format!(
                "task id `{}` is not `task<N>_` followed by letters, digits and `_`; nothing was written for it",
                meta.task_id
            )));
        }
        let dir = out.join("data").join(&meta.task_id);
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(TaskShardWriter {
            dir,
            meta: meta.clone(),
            tokens,
            shard_rows: shard_rows.max(1),
            row_group_bytes: DEFAULT_ROW_GROUP_BYTES,
            task_bytes: task_row_bytes(meta),
            splits: Split::ALL
                .iter()
                .copied()
                .map(|split| SplitShards {
                    split,
                    writer: None,
                    rows_in_shard: 0,
                    group_rows: 0,
                    group_bytes: 0,
                    shards: Vec::new(),
                    pending: Vec::new(),
                })
                .collect(),
        })
    }

    /// Bounds every row group's uncompressed bytes (default [`DEFAULT_ROW_GROUP_BYTES`]).
    pub fn with_row_group_bytes(mut self, bytes: usize) -> Self {
        self.row_group_bytes = bytes.max(1);
        self
    }

    /// Adds one sample (its `split` picks the shards; `tokens` when the writer has token columns).
    pub fn push(&mut self, s: Sample, tokens: Option<(i32, i32)>) -> Result<(), OutputError> {
        let Some(k) = self.splits.iter().position(|x| Some(x.split) == s.split) else {
            return Err(OutputError::Refused(format!(
                "sample {} of {} has no split",
                s.id, self.meta.task_id
            )));
        };
        self.splits[k].pending.push((s, tokens));
        let room = self.shard_rows - self.splits[k].rows_in_shard;
        if self.splits[k].pending.len() >= WRITE_BATCH_ROWS.min(room) {
            self.flush(k)?;
        }
        Ok(())
    }

    fn schema(&self) -> Arc<Schema> {
        if self.tokens {
            sample_schema_with_tokens()
        } else {
            sample_schema()
        }
    }

    /// Writes the split's pending rows, closing row groups at their row and byte bounds and
    /// shards at `shard_rows`.
    fn flush(&mut self, k: usize) -> Result<(), OutputError> {
        let schema = self.schema();
        let pending = std::mem::take(&mut self.splits[k].pending);
        let mut at = 0usize;
        while at < pending.len() {
            let sp = &mut self.splits[k];
            if sp.writer.is_none() {
                let path = self.dir.join(format!(
                    "{}-{:05}.parquet.partial",
                    sp.split,
                    sp.shards.len()
                ));
                let file = File::create(&path).map_err(io_err(&path))?;
                let w =
                    ArrowWriter::try_new(BufWriter::new(file), schema.clone(), Some(props(None)))
                        .map_err(|e| parquet_err(&path)(e.to_string()))?;
                sp.writer = Some(w);
                sp.shards.push((path, 0));
                sp.rows_in_shard = 0;
                (sp.group_rows, sp.group_bytes) = (0, 0);
            }
            // the rows that fit in the open shard and row group
            let room = self.shard_rows - sp.rows_in_shard;
            let (mut n, mut close_group) = (0usize, false);
            while n < room && at + n < pending.len() {
                let b = row_bytes(&pending[at + n].0, self.task_bytes, self.tokens);
                if sp.group_rows > 0
                    && (sp.group_rows >= ROW_GROUP_ROWS
                        || sp.group_bytes + b > self.row_group_bytes)
                {
                    close_group = true;
                    break;
                }
                sp.group_rows += 1;
                sp.group_bytes += b;
                n += 1;
            }
            let path = sp.shards.last().map(|x| x.0.clone()).unwrap_or_default();
            let pe = parquet_err(&path);
            if n > 0 {
                let rows: Vec<(&Sample, Option<(i32, i32)>)> =
                    pending[at..at + n].iter().map(|(s, t)| (s, *t)).collect();
                let batch = sample_batch(&self.meta, &rows).map_err(|e| pe(e.to_string()))?;
                if let Some(w) = sp.writer.as_mut() {
                    w.write(&batch).map_err(|e| pe(e.to_string()))?;
                }
                sp.rows_in_shard += n;
                if let Some(last) = sp.shards.last_mut() {
                    last.1 += n;
                }
            }
            if close_group && let Some(w) = sp.writer.as_mut() {
                w.flush().map_err(|e| pe(e.to_string()))?;
                (sp.group_rows, sp.group_bytes) = (0, 0);
            }
            if sp.rows_in_shard == self.shard_rows
                && let Some(w) = sp.writer.take()
            {
                w.close().map_err(|e| pe(e.to_string()))?;
            }
            at += n;
        }
        Ok(())
    }

    /// Closes every shard and gives them their final names.
    pub fn finish(mut self) -> Result<Vec<ShardInfo>, OutputError> {
        let mut written = Vec::new();
        for k in 0..self.splits.len() {
            self.flush(k)?;
            let sp = &mut self.splits[k];
            if let Some(w) = sp.writer.take() {
                let path = sp.shards.last().map(|x| x.0.clone()).unwrap_or_default();
                w.close().map_err(|e| parquet_err(&path)(e.to_string()))?;
            }
            let m = sp.shards.len();
            for (i, (partial, rows)) in sp.shards.iter().enumerate() {
                let name = format!("{}-{i:05}-of-{m:05}.parquet", sp.split);
                let path = self.dir.join(&name);
                std::fs::rename(partial, &path).map_err(io_err(partial))?;
                written.push(ShardInfo {
                    path: format!("data/{}/{name}", self.meta.task_id),
                    split: sp.split.as_str().into(),
                    rows: *rows,
                });
            }
        }
        Ok(written)
    }
}

/// Writes a task's samples (in memory) as [`TaskShardWriter`] does.
pub fn write_task_shards(
    out: &Path,
    meta: &TaskMeta,
    samples: &[Sample],
    shard_rows: usize,
) -> Result<Vec<ShardInfo>, OutputError> {
    let mut w = TaskShardWriter::create(out, meta, false, shard_rows)?;
    for s in samples {
        w.push(s.clone(), None)?;
    }
    w.finish()
}

/// The removal ledger, written as entries stream in (row groups of [`ROW_GROUP_ROWS`]).
pub struct LedgerWriter {
    path: PathBuf,
    writer: ArrowWriter<BufWriter<File>>,
    pending: Vec<LedgerEntry>,
    rows: usize,
}

impl LedgerWriter {
    pub fn create(out: &Path) -> Result<LedgerWriter, OutputError> {
        let path = out.join(LEDGER_FILE);
        let file = File::create(&path).map_err(io_err(&path))?;
        let writer = ArrowWriter::try_new(
            BufWriter::new(file),
            ledger_schema(),
            Some(props(Some(ROW_GROUP_ROWS))),
        )
        .map_err(|e| parquet_err(&path)(e.to_string()))?;
        Ok(LedgerWriter {
            path,
            writer,
            pending: Vec::new(),
            rows: 0,
        })
    }

    pub fn push(&mut self, entries: Vec<LedgerEntry>) -> Result<(), OutputError> {
        self.pending.extend(entries);
        while self.pending.len() >= ROW_GROUP_ROWS {
            let rest = self.pending.split_off(ROW_GROUP_ROWS);
            let full = std::mem::replace(&mut self.pending, rest);
            self.write(&full)?;
        }
        Ok(())
    }

    fn write(&mut self, rows: &[LedgerEntry]) -> Result<(), OutputError> {
        let pe = parquet_err(&self.path);
        let b = ledger_batch(rows).map_err(|e| pe(e.to_string()))?;
        self.writer.write(&b).map_err(|e| pe(e.to_string()))?;
        self.rows += rows.len();
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), OutputError> {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() || self.rows == 0 {
            self.write(&rest)?;
        }
        self.writer
            .close()
            .map_err(|e| parquet_err(&self.path)(e.to_string()))?;
        Ok(())
    }
}

fn ledger_batch(rows: &[LedgerEntry]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let s =
        |f: fn(&LedgerEntry) -> &str| -> ArrayRef { string_column(rows.len(), rows.iter().map(f)) };
    let id = |f: fn(&LedgerEntry) -> Option<SampleId>| -> ArrayRef {
        Arc::new(StringArray::from(
            rows.iter()
                .map(|e| f(e).map(|id| id.to_string()))
                .collect::<Vec<_>>(),
        ))
    };
    RecordBatch::try_new(
        ledger_schema(),
        vec![
            id(|e| e.id),
            s(|e| &e.task_id),
            s(|e| &e.corpus_id),
            s(|e| &e.stage),
            s(|e| e.reason.as_str()),
            id(|e| e.kept_id),
            Arc::new(Float64Array::from(
                rows.iter().map(|e| e.similarity).collect::<Vec<_>>(),
            )),
            s(|e| &e.source_file),
            s(|e| &e.source_locator),
            s(|e| &e.detail),
        ],
    )
}

/// Writes a ledger held in memory.
pub fn write_ledger(out: &Path, entries: &[LedgerEntry]) -> Result<(), OutputError> {
    let mut w = LedgerWriter::create(out)?;
    w.push(entries.to_vec())?;
    w.finish()
}

fn read_batches(path: &Path) -> Result<Vec<RecordBatch>, OutputError> {
    let pe = parquet_err(path);
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| pe(e.to_string()))?
        .build()
        .map_err(|e| pe(e.to_string()))?;
    reader.map(|b| b.map_err(|e| pe(e.to_string()))).collect()
}

fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let Some(c) = b.column_by_name(name) else {
        return vec![None; b.num_rows()];
    };
    let Some(a) = c.as_any().downcast_ref::<StringArray>() else {
        return vec![None; b.num_rows()];
    };
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
        .collect()
}

/// Reads the given columns of a Parquet file batch by batch (rows as JSON objects), so a
/// shard of any size is read in bounded memory.
pub fn for_each_row_batch(
    path: &Path,
    columns: &[&str],
    f: &mut dyn FnMut(Vec<serde_json::Map<String, serde_json::Value>>),
) -> Result<(), OutputError> {
    let pe = parquet_err(path);
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| pe(e.to_string()))?;
    let roots: Vec<usize> = b
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, fl)| columns.contains(&fl.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = parquet::arrow::ProjectionMask::roots(b.parquet_schema(), roots);
    let reader = b
        .with_projection(mask)
        .build()
        .map_err(|e| pe(e.to_string()))?;
    for batch in reader {
        f(batch_rows(&batch.map_err(|e| pe(e.to_string()))?));
    }
    Ok(())
}

/// Reads a shard back as JSON objects (column name -> value), for audit, check and tests.
pub fn read_samples(
    path: &Path,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, OutputError> {
    Ok(read_batches(path)?.iter().flat_map(batch_rows).collect())
}

/// The rows of a sample batch as JSON objects (column name -> value).
pub(crate) fn batch_rows(b: &RecordBatch) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let schema = b.schema();
    let mut rows = vec![serde_json::Map::new(); b.num_rows()];
    for (f, c) in schema.fields().iter().zip(b.columns()) {
        for (i, row) in rows.iter_mut().enumerate() {
            let v = if let Some(a) = c.as_any().downcast_ref::<StringArray>() {
                serde_json::Value::String(a.value(i).to_string())
            } else if let Some(a) = c.as_any().downcast_ref::<Int32Array>() {
                serde_json::Value::from(a.value(i))
            } else if let Some(a) = c.as_any().downcast_ref::<arrow_array::ListArray>() {
                let l = a.value(i);
                let s = l
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .map(|s| {
                        (0..s.len())
                            .map(|j| s.value(j).to_string())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                serde_json::json!(s)
            } else {
                serde_json::Value::Null
            };
            row.insert(f.name().clone(), v);
        }
    }
    rows
}

pub fn read_ledger(path: &Path) -> Result<Vec<LedgerEntry>, OutputError> {
    let mut all = Vec::new();
    for b in read_batches(path)? {
        all.extend(batch_ledger(&b).map_err(ledger_row_err(path))?);
    }
    Ok(all)
}

/// Why a row of a ledger file cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum LedgerRowError {
    #[error(transparent)]
    SampleId(#[from] medsins_core::BadSampleId),
    #[error("ledger reason `{0}` is not one this builder writes")]
    UnknownReason(String),
}

pub(crate) fn ledger_row_err(path: &Path) -> impl FnOnce(LedgerRowError) -> OutputError + '_ {
    move |source| OutputError::LedgerRow {
        path: path.to_path_buf(),
        source,
    }
}

/// The rows of a ledger batch; an id or reason this builder does not know is an error.
pub(crate) fn batch_ledger(b: &RecordBatch) -> Result<Vec<LedgerEntry>, LedgerRowError> {
    let mut out = Vec::new();
    let g = |n| strings(b, n);
    let (id, task, corpus, stage, reason, kept, file, loc, detail) = (
        g("id"),
        g("task_id"),
        g("corpus_id"),
        g("stage"),
        g("reason"),
        g("kept_id"),
        g("source_file"),
        g("source_locator"),
        g("detail"),
    );
    let sim = b
        .column_by_name("similarity")
        .and_then(|c| c.as_any().downcast_ref::<Float64Array>().cloned());
    let sample_id = |v: &Option<String>| -> Result<Option<SampleId>, LedgerRowError> {
        Ok(v.as_deref().map(str::parse).transpose()?)
    };
    for i in 0..b.num_rows() {
        let reason = reason[i].as_deref().unwrap_or_default();
        out.push(LedgerEntry {
            id: sample_id(&id[i])?,
            task_id: task[i].clone().unwrap_or_default(),
            corpus_id: corpus[i].clone().unwrap_or_default(),
            stage: stage[i].clone().unwrap_or_default(),
            reason: LedgerReason::parse(reason)
                .ok_or_else(|| LedgerRowError::UnknownReason(reason.to_string()))?,
            kept_id: sample_id(&kept[i])?,
            similarity: sim
                .as_ref()
                .and_then(|s| (!s.is_null(i)).then(|| s.value(i))),
            source_file: file[i].clone().unwrap_or_default(),
            source_locator: loc[i].clone().unwrap_or_default(),
            detail: detail[i].clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> TaskMeta {
        TaskMeta {
            task_id: "task113_plos_text_summarization".into(),
            task_no: 113,
            corpus_id: "plos".into(),
            category: "Text Summarization".into(),
            text_source: "Academical Papers".into(),
            domains: vec!["Biomedicine".into()],
            languages: vec!["en".into()],
            license: "CC-BY-4.0".into(),
            access: "public".into(),
            manifest_sha256: "0".repeat(64),
            source_variant: "default".into(),
        }
    }

    /// `n` train samples whose inputs are `len` bytes of article-like text (distinct rows).
    fn large_samples(n: usize, len: usize) -> Vec<Sample> {
        let para = "The randomised trial enrolled patients with chronic kidney disease; \
                    outcomes were measured at twelve and twenty-four weeks. ";
        (0..n)
            .map(|i| {
                let mut input = format!("Article {i}. ");
                while input.len() < len {
                    input.push_str(para);
                }
                input.truncate(len);
                Sample {
                    id: SampleId::from_u128(i as u128),
                    instruction: "Summarise the article.".into(),
                    input,
                    output: format!("Summary {i}."),
                    split: Some(Split::Train),
                    source_file: "plos/train.jsonl".into(),
                    source_locator: format!("line {}", i + 1),
                    raw_sha256: "1".repeat(64),
                    ..Default::default()
                }
            })
            .collect()
    }

    /// (rows, uncompressed bytes) of every row group of a Parquet file, from its footer.
    fn row_groups(path: &Path) -> Vec<(i64, i64)> {
        let file = File::open(path).unwrap();
        let b =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        b.metadata()
            .row_groups()
            .iter()
            .map(|g| (g.num_rows(), g.total_byte_size()))
            .collect()
    }

    #[test]
    fn row_groups_are_bounded_by_bytes_as_well_as_rows() {
        let tmp = tempfile::tempdir().unwrap();
        let samples = large_samples(60, 700_000);
        let limit = 4 << 20;
        let mut w = TaskShardWriter::create(tmp.path(), &meta(), false, 100_000)
            .unwrap()
            .with_row_group_bytes(limit);
        for s in &samples {
            w.push(s.clone(), None).unwrap();
        }
        let shards = w.finish().unwrap();
        assert_eq!(shards.len(), 1);
        let groups = row_groups(&tmp.path().join(&shards[0].path));
        // 700 kB rows: 5 fit in 4 MiB (5 × ~0.7 MB = 3.5 MB), the 6th would not
        assert_eq!(groups.iter().map(|g| g.0).collect::<Vec<_>>(), vec![5; 12]);
        for (rows, bytes) in &groups {
            assert!(*bytes as usize <= limit, "{rows} rows, {bytes} bytes");
            assert!(
                *bytes as usize > limit * 3 / 4,
                "{rows} rows, {bytes} bytes"
            );
        }
        // rows come back whole and in order
        let back = read_samples(&tmp.path().join(&shards[0].path)).unwrap();
        assert_eq!(back.len(), 60);
        assert_eq!(back[59]["input"], samples[59].input.as_str());
    }

    #[test]
    fn default_row_groups_stay_under_128_mib_with_full_text_rows() {
        // 16,384 rows of 20 kB (a full-text article) would be a 330 MB row group
        let tmp = tempfile::tempdir().unwrap();
        let samples = large_samples(9_000, 20_000);
        let mut w = TaskShardWriter::create(tmp.path(), &meta(), true, 100_000).unwrap();
        for s in samples {
            w.push(s, Some((5_000, 200))).unwrap();
        }
        let shards = w.finish().unwrap();
        let groups = row_groups(&tmp.path().join(&shards[0].path));
        assert!(groups.len() >= 2, "{groups:?}");
        assert_eq!(groups.iter().map(|g| g.0).sum::<i64>(), 9_000);
        for (rows, bytes) in &groups {
            assert!(
                *bytes as usize <= DEFAULT_ROW_GROUP_BYTES,
                "{rows} rows, {bytes} bytes"
            );
        }
    }

    #[test]
    fn small_rows_keep_row_groups_of_16384_rows() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = TaskShardWriter::create(tmp.path(), &meta(), false, 100_000).unwrap();
        for s in large_samples(40_000, 100) {
            w.push(s, None).unwrap();
        }
        let shards = w.finish().unwrap();
        let groups = row_groups(&tmp.path().join(&shards[0].path));
        assert_eq!(
            groups.iter().map(|g| g.0).collect::<Vec<_>>(),
            [16_384, 16_384, 7_232]
        );
    }
}

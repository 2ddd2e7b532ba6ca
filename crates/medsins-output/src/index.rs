//! `index/ids.parquet`: where every id of a build is, so `medsins audit <id>` reads one small
//! row group of the index and one row of one shard instead of scanning the whole output.
//!
//! Columns `id` (32 hex chars), `file` (relative path: a shard under `data/` or `ledger.parquet`)
//! and `row` (0-based row number in that file). Rows are sorted by (`id`, `file`, `row`) and
//! written in row groups of [`INDEX_ROW_GROUP_ROWS`] with min/max statistics, so a lookup reads
//! the footer, picks the row groups whose id range holds the id, and decodes only those. An id
//! can have several rows: a kept sample and the exact duplicates removed in its favour (ledger)
//! share it. Deterministic: same output files, same index bytes.

use crate::shards::{batch_ledger, batch_rows, ledger_row_err, parquet_err};
use crate::{LEDGER_FILE, OutputError, io_err};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use medsins_core::LedgerEntry;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rayon::prelude::*;
use std::path::Path;
use std::sync::Arc;

pub const INDEX_FILE: &str = "index/ids.parquet";
pub const INDEX_ROW_GROUP_ROWS: usize = 8_192;

/// One place an id occurs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexHit {
    /// Relative to the output directory (`data/<task>/<split>-….parquet` or `ledger.parquet`).
    pub file: String,
    /// 0-based row number in `file`.
    pub row: u64,
}

fn index_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("row", DataType::Int64, false),
    ]))
}

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<std::fs::File>, OutputError> {
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| parquet_err(path)(e.to_string()))
}

/// The `id` column of a Parquet file (null ids are None), reading only that column.
fn read_id_column(path: &Path) -> Result<Vec<Option<String>>, OutputError> {
    let pe = parquet_err(path);
    let b = open(path)?;
    let Some(ci) = b.schema().fields().iter().position(|f| f.name() == "id") else {
        return Err(pe("no `id` column".into()));
    };
    let mask = ProjectionMask::roots(b.parquet_schema(), [ci]);
    let reader = b
        .with_projection(mask)
        .build()
        .map_err(|e| pe(e.to_string()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| pe(e.to_string()))?;
        let a = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| pe("`id` is not a string column".into()))?;
        out.extend((0..a.len()).map(|i| (!a.is_null(i)).then(|| a.value(i).to_string())));
    }
    Ok(out)
}

/// Every sample shard of an output directory (`data/**/*.parquet`), relative and sorted.
pub fn shard_files(dir: &Path) -> Result<Vec<String>, OutputError> {
    Ok(crate::checksums::list_files(dir)?
        .into_iter()
        .filter(|f| f.starts_with("data/") && f.ends_with(".parquet"))
        .collect())
}

/// Writes `index/ids.parquet` from the shards and the ledger already in `dir`.
pub fn write_id_index(dir: &Path) -> Result<(), OutputError> {
    let mut files = shard_files(dir)?;
    if dir.join(LEDGER_FILE).is_file() {
        files.push(LEDGER_FILE.to_string());
    }
    // each file's ids are read (and parsed into compact entries) in parallel on the worker
    // pool, then taken in file order
    type FileIds = (Vec<(u128, u32, u64)>, Vec<(String, u32, u64)>);
    let per_file: Vec<FileIds> = files
        .par_iter()
        .enumerate()
        .map(|(fi, f)| -> Result<FileIds, OutputError> {
            let (mut ids, mut odd) = (Vec::new(), Vec::new());
            for (row, id) in read_id_column(&dir.join(f))?.into_iter().enumerate() {
                let Some(id) = id else { continue };
                match id.parse::<medsins_core::SampleId>() {
                    Ok(x) => ids.push((x.as_u128(), fi as u32, row as u64)),
                    Err(_) => odd.push((id, fi as u32, row as u64)),
                }
            }
            Ok((ids, odd))
        })
        .collect::<Result<_, _>>()?;
    // compact entries: (id as 128 bits, file number, row); hex order = numeric order
    let mut entries: Vec<(u128, u32, u64)> =
        Vec::with_capacity(per_file.iter().map(|f| f.0.len()).sum());
    let mut odd: Vec<(String, u32, u64)> = Vec::new();
    for (ids, o) in per_file {
        entries.extend(ids);
        odd.extend(o);
    }
    // `files` is sorted, so (id, file number, row) orders as (id, file path, row)
    entries.par_sort_unstable();
    odd.sort_unstable();
    let total = entries.len() + odd.len();
    // merge the two sorted runs lazily, so only the compact entries are held in memory
    let (mut ei, mut oi) = (0usize, 0usize);
    let mut next = move || -> Option<(String, u32, u64)> {
        let e = entries
            .get(ei)
            .map(|(n, f, r)| (format!("{n:032x}"), *f, *r));
        let o = odd.get(oi).cloned();
        match (e, o) {
            (Some(e), Some(o)) if o < e => {
                oi += 1;
                Some(o)
            }
            (Some(e), _) => {
                ei += 1;
                Some(e)
            }
            (None, o) => {
                oi += 1;
                o
            }
        }
    };
    let path = dir.join(INDEX_FILE);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(io_err(p))?;
    }
    let pe = parquet_err(&path);
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(INDEX_ROW_GROUP_ROWS))
        .set_created_by(medsins_core::BUILDER_VERSION.to_string())
        .build();
    let file = std::fs::File::create(&path).map_err(io_err(&path))?;
    let mut w = ArrowWriter::try_new(std::io::BufWriter::new(file), index_schema(), Some(props))
        .map_err(|e| pe(e.to_string()))?;
    let mut written = 0usize;
    while written < total {
        let chunk: Vec<(String, u32, u64)> = std::iter::from_fn(&mut next)
            .take(INDEX_ROW_GROUP_ROWS)
            .collect();
        if chunk.is_empty() {
            break;
        }
        written += chunk.len();
        let ids: ArrayRef = Arc::new(StringArray::from_iter_values(
            chunk.iter().map(|e| e.0.as_str()),
        ));
        let fs: ArrayRef = Arc::new(StringArray::from_iter_values(
            chunk.iter().map(|e| files[e.1 as usize].as_str()),
        ));
        let rows: ArrayRef = Arc::new(Int64Array::from_iter_values(
            chunk.iter().map(|e| e.2 as i64),
        ));
        let batch = RecordBatch::try_new(index_schema(), vec![ids, fs, rows])
            .map_err(|e| pe(e.to_string()))?;
        w.write(&batch).map_err(|e| pe(e.to_string()))?;
    }
    if total == 0 {
        w.write(&RecordBatch::new_empty(index_schema()))
            .map_err(|e| pe(e.to_string()))?;
    }
    w.close().map_err(|e| pe(e.to_string()))?;
    Ok(())
}

/// Where `id` occurs, from the index. `Ok(None)` when the output has no index (built by an
/// older medsins): the caller may fall back to [`scan_for_id`].
pub fn lookup_id(dir: &Path, id: &str) -> Result<Option<Vec<IndexHit>>, OutputError> {
    let path = dir.join(INDEX_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let pe = parquet_err(&path);
    let b = open(&path)?;
    let key = id.as_bytes();
    // row groups whose [min, max] id range may hold the id (all of them when statistics are absent)
    let groups: Vec<usize> = b
        .metadata()
        .row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| match rg.column(0).statistics() {
            Some(s) => match (s.min_bytes_opt(), s.max_bytes_opt()) {
                (Some(lo), Some(hi)) => lo <= key && key <= hi,
                _ => true,
            },
            None => true,
        })
        .map(|(i, _)| i)
        .collect();
    let mut hits = Vec::new();
    if groups.is_empty() {
        return Ok(Some(hits));
    }
    let reader = b
        .with_row_groups(groups)
        .build()
        .map_err(|e| pe(e.to_string()))?;
    for batch in reader {
        let batch = batch.map_err(|e| pe(e.to_string()))?;
        let bad =
            || pe("not an id index (expected columns id, file, row); rebuild the output".into());
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(bad)?;
        let files = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(bad)?;
        let rows = batch
            .column(2)
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(bad)?;
        for i in 0..batch.num_rows() {
            if ids.value(i) == id {
                hits.push(IndexHit {
                    file: files.value(i).to_string(),
                    row: rows.value(i) as u64,
                });
            }
        }
    }
    Ok(Some(hits))
}

/// Finds `id` by reading the `id` column of every shard and the ledger (outputs without an index).
pub fn scan_for_id(dir: &Path, id: &str) -> Result<Vec<IndexHit>, OutputError> {
    let mut files = shard_files(dir)?;
    if dir.join(LEDGER_FILE).is_file() {
        files.push(LEDGER_FILE.to_string());
    }
    let mut hits = Vec::new();
    for f in files {
        for (row, x) in read_id_column(&dir.join(&f))?.into_iter().enumerate() {
            if x.as_deref() == Some(id) {
                hits.push(IndexHit {
                    file: f.clone(),
                    row: row as u64,
                });
            }
        }
    }
    Ok(hits)
}

/// Reads only the given rows (0-based, any order) of a Parquet file, in row order.
fn read_rows(path: &Path, rows: &[u64]) -> Result<Vec<RecordBatch>, OutputError> {
    let pe = parquet_err(path);
    let b = open(path)?;
    let total = b.metadata().file_metadata().num_rows().max(0) as u64;
    let mut want: Vec<u64> = rows.iter().copied().filter(|r| *r < total).collect();
    want.sort_unstable();
    want.dedup();
    if want.len() != rows.iter().collect::<std::collections::BTreeSet<_>>().len() {
        return Err(pe(format!(
            "row(s) past the end of the file ({total} rows): the index does not match this file; run `medsins verify`"
        )));
    }
    let mut sel = Vec::new();
    let mut at = 0u64;
    for r in &want {
        if *r > at {
            sel.push(RowSelector::skip((*r - at) as usize));
        }
        sel.push(RowSelector::select(1));
        at = r + 1;
    }
    if at < total {
        sel.push(RowSelector::skip((total - at) as usize));
    }
    let reader = b
        .with_row_selection(RowSelection::from(sel))
        .build()
        .map_err(|e| pe(e.to_string()))?;
    reader.map(|b| b.map_err(|e| pe(e.to_string()))).collect()
}

/// One row of a sample shard, as a JSON object (column name -> value).
pub fn read_sample_row(
    path: &Path,
    row: u64,
) -> Result<serde_json::Map<String, serde_json::Value>, OutputError> {
    let rows: Vec<_> = read_rows(path, &[row])?
        .iter()
        .flat_map(batch_rows)
        .collect();
    rows.into_iter()
        .next()
        .ok_or_else(|| parquet_err(path)(format!("no row {row}")))
}

/// The given rows of the ledger, in row order.
pub fn read_ledger_rows(path: &Path, rows: &[u64]) -> Result<Vec<LedgerEntry>, OutputError> {
    let mut all = Vec::new();
    for b in read_rows(path, rows)? {
        all.extend(batch_ledger(&b).map_err(ledger_row_err(path))?);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use medsins_core::{Sample, TaskMeta};

    fn sample(id: &str) -> Sample {
        Sample {
            id: id.parse().unwrap(),
            instruction: "i".into(),
            instruction_id: 0,
            input: format!("in {id}"),
            output: "o".into(),
            split: Some(medsins_core::Split::Train),
            source_file: "c/f.jsonl".into(),
            source_locator: format!("line {id}"),
            raw_sha256: String::new(),
            group_key: id.into(),
            order: (0, 0),
        }
    }

    #[test]
    fn index_finds_every_id_in_shards_and_ledger() {
        let tmp = tempfile::tempdir().unwrap();
        let meta = TaskMeta {
            task_id: "task1_x".into(),
            task_no: 1,
            corpus_id: "c".into(),
            category: "Dialogue".into(),
            text_source: "Exam".into(),
            domains: vec![],
            languages: vec!["en".into()],
            license: "MIT".into(),
            access: "public".into(),
            source_variant: "default".into(),
            manifest_sha256: "m".into(),
        };
        // more ids than one index row group holds, so lookups go through the statistics
        let ids: Vec<String> = (0..20_000u32)
            .map(|i| medsins_core::SampleId::derive("task1_x", &i.to_string(), "o").to_string())
            .collect();
        let samples: Vec<Sample> = ids.iter().map(|i| sample(i)).collect();
        crate::write_task_shards(tmp.path(), &meta, &samples, 7_000).unwrap();
        let dup = LedgerEntry {
            id: Some(ids[20].parse().unwrap()),
            task_id: "task1_x".into(),
            corpus_id: "c".into(),
            stage: "exact_dedup".into(),
            reason: medsins_core::LedgerReason::ExactDuplicate,
            kept_id: Some(ids[20].parse().unwrap()),
            similarity: None,
            source_file: "c/f.jsonl".into(),
            source_locator: "line 99".into(),
            detail: String::new(),
        };
        crate::write_ledger(tmp.path(), std::slice::from_ref(&dup)).unwrap();
        write_id_index(tmp.path()).unwrap();
        for (i, id) in ids
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 397 == 0 || *i == 20)
        {
            let hits = lookup_id(tmp.path(), id).unwrap().unwrap();
            let shard = hits.iter().find(|h| h.file.starts_with("data/")).unwrap();
            let row = read_sample_row(&tmp.path().join(&shard.file), shard.row).unwrap();
            assert_eq!(row["id"], id.as_str());
            assert_eq!(row["source_locator"], format!("line {id}"));
            assert_eq!(hits.len(), if i == 20 { 2 } else { 1 });
        }
        let hits = lookup_id(tmp.path(), &ids[20]).unwrap().unwrap();
        let l = hits.iter().find(|h| h.file == LEDGER_FILE).unwrap();
        assert_eq!(
            read_ledger_rows(&tmp.path().join(LEDGER_FILE), &[l.row]).unwrap(),
            vec![dup]
        );
        assert_eq!(lookup_id(tmp.path(), "0123").unwrap().unwrap(), vec![]);
        assert_eq!(
            scan_for_id(tmp.path(), &ids[3]).unwrap(),
            lookup_id(tmp.path(), &ids[3]).unwrap().unwrap()
        );
    }
}

//! Parquet, as the Hugging Face hub serves datasets: each row a record, each column a field
//! (strings, numbers, booleans, lists and structs become JSON values).

use crate::limits::{Limit, Limits, show_bytes};
use crate::{ReadError, Sink, format_err, guarded, limit_err, record, record_too_large, too_large};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value};
use std::path::Path;

/// Refuses a file whose column data, as its metadata declares it, would decompress past the
/// limits (the reader inflates a row group's pages in memory).
fn check_declared_size(
    path: &Path,
    compressed: usize,
    metadata: &parquet::file::metadata::ParquetMetaData,
    limits: &Limits,
) -> Result<(), ReadError> {
    let declared: u64 = metadata
        .row_groups()
        .iter()
        .map(|rg| u64::try_from(rg.total_byte_size()).unwrap_or(u64::MAX))
        .fold(0u64, u64::saturating_add);
    if declared > limits.max_decompressed_bytes {
        return Err(limit_err(
            path,
            Limit::DecompressedBytes,
            limits,
            format!(
                "its row groups declare {declared} bytes of column data, more than {}",
                show_bytes(limits.max_decompressed_bytes)
            ),
        ));
    }
    let packed = (compressed as u64).max(1);
    if declared > crate::RATIO_FREE_BYTES
        && declared > packed.saturating_mul(limits.max_decompression_ratio)
    {
        return Err(limit_err(
            path,
            Limit::DecompressionRatio,
            limits,
            format!(
                "its row groups declare {declared} bytes of column data, more than {} times its {packed} bytes",
                limits.max_decompression_ratio
            ),
        ));
    }
    Ok(())
}

pub fn read_parquet(
    path: &Path,
    data: &[u8],
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let bytes = parquet::data_type::AsBytes::as_bytes(data).to_vec();
    let builder = guarded(path, "Parquet", || {
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
    })?
    .map_err(|e| format_err(path, format!("not a Parquet file: {e}")))?;
    check_declared_size(path, data.len(), builder.metadata(), limits)?;
    let mut reader = guarded(path, "Parquet", || builder.with_batch_size(4096).build())?
        .map_err(|e| format_err(path, e.to_string()))?;
    let mut row = 0usize;
    // the decoder panics on some malformed pages (a zero value count it divides by): only the
    // decoding is guarded, never the sink
    while let Some(batch) = guarded(path, "Parquet", || reader.next())? {
        let batch = batch.map_err(|e| format_err(path, e.to_string()))?;
        for i in 0..batch.num_rows() {
            row += 1;
            let fields = row_fields(&batch, i);
            let raw = serde_json::to_vec(&fields).unwrap_or_default();
            let locator = format!("row {row}");
            if too_large(raw.len(), limits) {
                return Err(record_too_large(path, limits, &locator));
            }
            sink(Ok(record(fields, locator, &raw)));
        }
    }
    Ok(())
}

fn row_fields(batch: &RecordBatch, i: usize) -> Map<String, Value> {
    let mut m = Map::new();
    for (f, col) in batch.schema().fields().iter().zip(batch.columns()) {
        m.insert(f.name().clone(), cell(col.as_ref(), i));
    }
    m
}

fn cell(col: &dyn Array, i: usize) -> Value {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    if col.is_null(i) {
        return Value::Null;
    }
    match col.data_type() {
        DataType::Utf8 => Value::String(col.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Value::String(col.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Value::String(col.as_string_view().value(i).to_string()),
        DataType::Boolean => Value::Bool(col.as_boolean().value(i)),
        DataType::Int8 => Value::from(col.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => Value::from(col.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => Value::from(col.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => Value::from(col.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => Value::from(col.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => Value::from(col.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => Value::from(col.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => Value::from(col.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => Value::from(col.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => Value::from(col.as_primitive::<Float64Type>().value(i)),
        DataType::List(_) => {
            let l = col.as_list::<i32>().value(i);
            Value::Array((0..l.len()).map(|j| cell(l.as_ref(), j)).collect())
        }
        DataType::LargeList(_) => {
            let l = col.as_list::<i64>().value(i);
            Value::Array((0..l.len()).map(|j| cell(l.as_ref(), j)).collect())
        }
        DataType::Struct(fields) => {
            let s = col.as_struct();
            let mut m = Map::new();
            for (f, c) in fields.iter().zip(s.columns()) {
                m.insert(f.name().clone(), cell(c.as_ref(), i));
            }
            Value::Object(m)
        }
        other => Value::String(format!("<unsupported {other}>")),
    }
}

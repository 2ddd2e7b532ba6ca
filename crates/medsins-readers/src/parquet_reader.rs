//! Parquet, as the Hugging Face hub serves datasets: each row a record, each column a field
//! (strings, numbers, booleans, lists and structs become JSON values).

use crate::{ReadError, Sink, format_err, record};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value};
use std::path::Path;

pub fn read_parquet(path: &Path, data: &[u8], sink: &mut Sink) -> Result<(), ReadError> {
    let bytes = parquet::data_type::AsBytes::as_bytes(data).to_vec();
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .map_err(|e| format_err(path, format!("not a Parquet file: {e}")))?;
    let reader = builder
        .with_batch_size(4096)
        .build()
        .map_err(|e| format_err(path, e.to_string()))?;
    let mut row = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| format_err(path, e.to_string()))?;
        for i in 0..batch.num_rows() {
            row += 1;
            let fields = row_fields(&batch, i);
            let raw = serde_json::to_vec(&fields).unwrap_or_default();
            sink(Ok(record(fields, format!("row {row}"), &raw)));
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

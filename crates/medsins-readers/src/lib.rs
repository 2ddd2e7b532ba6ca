//! Streaming readers for the raw formats of the catalogue.
//!
//! Every reader turns one raw file into records: a map of fields (JSON values, in the order
//! the file has them), a locator a person can follow back into the file (`line 12`,
//! `Sheet1!row 5`, `sentence 40 (lines 812-838)`, `/ClinicalInquiries/record[3]`), and the
//! SHA-256 of the record's raw bytes. Records are pushed to a sink one at a time; a record that
//! cannot be read is pushed as a [`RecordError`] (the pipeline quarantines it) and reading goes
//! on. Only a file that cannot be opened or parsed at all is a [`ReadError`].

mod bank;
mod bytes;
mod folder;
mod json;
mod lines;
mod obo;
mod parquet_reader;
mod table;
mod text_files;
mod xml;

pub use bank::{InstructionBank, TaskInstructions};
pub use bytes::RawBytes;
pub use lines::detokenize;
pub use table::read_workbook_info;
pub use text_files::folder_sha256;

use medsins_manifest::FileOptions;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One raw record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub fields: Map<String, Value>,
    /// Where the record is in its file, in words a person can follow.
    pub locator: String,
    /// SHA-256 (hex) of the record's raw bytes (for XLSX rows, of the row's cells as a JSON array).
    pub raw_sha256: String,
}

/// A record that could not be read; the build quarantines it and goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    pub locator: String,
    pub message: String,
}

/// A file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: file not found")]
    Missing { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

pub type Sink<'a> = dyn FnMut(Result<Record, RecordError>) + 'a;

/// How often (in records) a reader's mapped pages are released (see [`RawBytes::release`]).
const RELEASE_EVERY_RECORDS: usize = 4096;

pub(crate) fn format_err(path: &Path, message: impl Into<String>) -> ReadError {
    ReadError::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

pub(crate) fn record(fields: Map<String, Value>, locator: String, raw: &[u8]) -> Record {
    Record {
        fields,
        locator,
        raw_sha256: medsins_core::sha256_hex(raw),
    }
}

/// Reads `path` in `format`, pushing every record to `sink`.
///
/// `corpus_dir` is the corpus folder: formats that open further files (a text folder's reports)
/// resolve them inside it and never outside.
pub fn read_file(
    path: &Path,
    format: &str,
    options: &FileOptions,
    corpus_dir: &Path,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    if format == "text-files" {
        return text_files::read_text_files(path, options, sink);
    }
    if path.is_dir() {
        return folder::read_folder(path, format, options, corpus_dir, sink);
    }
    let bytes = RawBytes::open(path, options)?;
    let data = bytes.as_slice();
    // Every few thousand records the pages read so far go back to the page cache, so a reader
    // streaming through a multi-gigabyte file holds only the part it is working on.
    let mut pushed = 0usize;
    let sink: &mut Sink = &mut |r| {
        pushed += 1;
        if pushed.is_multiple_of(RELEASE_EVERY_RECORDS) {
            bytes.release();
        }
        sink(r)
    };
    match format {
        "json" => json::read_json(path, data, options, sink),
        "jsonl" => json::read_jsonl(path, data, sink),
        "sni-task" => json::read_sni_task(path, data, sink),
        "csv" => table::read_csv(path, data, options, b',', sink),
        "tsv" => table::read_csv(path, data, options, b'\t', sink),
        "xlsx" => table::read_xlsx(path, data, options, sink),
        "workbook" => table::read_workbook_instances(path, data, sink),
        "text-folder" => table::read_text_folder(path, data, options, corpus_dir, sink),
        "iob" => lines::read_iob(path, data, options, sink),
        "pubtator" => lines::read_pubtator(path, data, sink),
        "xml" => xml::read_xml(path, data, options, sink),
        "parquet" => parquet_reader::read_parquet(path, data, sink),
        "brat" => lines::read_brat(path, data, corpus_dir, sink),
        "obo" => obo::read_obo(path, data, sink),
        other => Err(format_err(path, format!("unknown format `{other}`"))),
    }
}

/// Reads a whole file into a vector (tests, previews, lookups).
pub fn read_all(
    path: &Path,
    format: &str,
    options: &FileOptions,
    corpus_dir: &Path,
) -> Result<Vec<Result<Record, RecordError>>, ReadError> {
    let mut out = Vec::new();
    read_file(path, format, options, corpus_dir, &mut |r| out.push(r))?;
    Ok(out)
}

/// Text of a JSON value as a template would want it: strings verbatim, null empty, others as JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

//! Streaming readers for the raw formats of the catalogue.
//!
//! Every reader turns one raw file into records: a map of fields (JSON values, in the order
//! the file has them), a locator a person can follow back into the file (`line 12`,
//! `Sheet1!row 5`, `sentence 40 (lines 812-838)`, `/ClinicalInquiries/record[3]`), and the
//! SHA-256 of the record's raw bytes. Records are pushed to a sink one at a time; a record that
//! cannot be read is pushed as a [`RecordError`] (the pipeline quarantines it) and reading goes
//! on. Only a file that cannot be opened or parsed at all is a [`ReadError`].
//!
//! Every reader keeps to [`Limits`] (nesting depth, record size, decompressed size and
//! ratio): a file past one is refused with [`ReadError::Limit`], never read into exhausted
//! memory, disk or stack. A file that yields no records at all is [`ReadError::Empty`] unless
//! its manifest entry declares `may_be_empty`.

mod bank;
mod bytes;
mod fields;
mod folder;
mod json;
mod limits;
mod lines;
mod obo;
mod parquet_reader;
mod table;
mod text_files;
mod xml;

pub use bank::{InstructionBank, TaskInstructions};
pub use bytes::{RawBytes, prefetch, sha256_file};
pub use fields::fixed_fields;
pub use limits::{
    Limit, Limits, LimitsError, MAX_DEPTH_CEILING, RATIO_FREE_BYTES, parse_bytes, show_bytes,
};
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
    /// The file is past one of the [`Limits`]; `what` says where and how far.
    #[error("{path}: {what} {}", .limit.advice(.limits))]
    Limit {
        path: PathBuf,
        limit: Limit,
        limits: Limits,
        what: String,
    },
    /// The file yields no records; `what` says what was found instead.
    #[error(
        "{path}: {what}; check that it is the file the manifest describes (not truncated, not a placeholder), or declare `may_be_empty = true` in its options if it may legitimately hold no records"
    )]
    Empty { path: PathBuf, what: String },
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

pub(crate) fn limit_err(path: &Path, limit: Limit, limits: &Limits, what: String) -> ReadError {
    ReadError::Limit {
        path: path.to_path_buf(),
        limit,
        limits: *limits,
        what,
    }
}

/// Runs a third-party parser on a raw file's bytes. Some panic on malformed input (calamine's
/// cell-reference arithmetic, parquet's byte-array decoder dividing by a zero value count): a
/// panic there is this file's error (`the <kind> reader failed on it`), not the end of the build.
/// Only parsing goes inside: a panic of medsins's own code is never caught here.
pub(crate) fn guarded<T>(
    path: &Path,
    kind: &str,
    parse: impl FnOnce() -> T,
) -> Result<T, ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).map_err(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format_err(
            path,
            format!("the {kind} reader failed on it ({why}); the file is damaged or not {kind}"),
        )
    })
}

/// The record-size error, for a record at `locator` found larger than the limit.
pub(crate) fn record_too_large(path: &Path, limits: &Limits, locator: &str) -> ReadError {
    limit_err(
        path,
        Limit::RecordBytes,
        limits,
        format!(
            "the record at {locator} is larger than {}",
            show_bytes(limits.max_record_bytes)
        ),
    )
}

/// Whether `len` bytes are past the record-size limit.
pub(crate) fn too_large(len: usize, limits: &Limits) -> bool {
    len as u64 > limits.max_record_bytes
}

pub(crate) fn record(fields: Map<String, Value>, locator: String, raw: &[u8]) -> Record {
    Record {
        fields,
        locator,
        raw_sha256: medsins_core::sha256_hex(raw),
    }
}

/// Whether `format` opens files besides the one it is given (a text folder's index names its
/// reports, read from the corpus folder): what such a file's checksum does not cover.
pub fn reads_other_files(format: &str) -> bool {
    format == "text-folder"
}

/// Reads `path` in `format`, pushing every record to `sink`.
///
/// `corpus_dir` is the corpus folder: formats that open further files (a text folder's reports)
/// resolve them inside it and never outside. A file (or folder) that yields no records, or
/// only records that cannot be read, is [`ReadError::Empty`] unless `options.may_be_empty`.
pub fn read_file(
    path: &Path,
    format: &str,
    options: &FileOptions,
    corpus_dir: &Path,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    read_counted(path, format, options, sink, &mut |sink| {
        read_source(path, format, options, corpus_dir, limits, sink)
    })
}

/// Reads a file set (a `many` raw file): its parts, `(path relative to the set's folder,
/// where)`, one after the other as one input, each record's locator prefixed with its part's
/// path (see `folder::read_parts`). Like [`read_file`], a set that yields no records is
/// [`ReadError::Empty`] unless `options.may_be_empty`.
pub fn read_file_set(
    folder: &Path,
    parts: &[(String, PathBuf)],
    format: &str,
    options: &FileOptions,
    corpus_dir: &Path,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    read_counted(folder, format, options, sink, &mut |sink| {
        folder::read_parts(parts, format, options, corpus_dir, limits, sink)?;
        Ok(Found::Folder { files: parts.len() })
    })
}

/// Runs a read, counting what it yields: nothing readable is [`ReadError::Empty`] unless
/// `options.may_be_empty`.
fn read_counted(
    path: &Path,
    format: &str,
    options: &FileOptions,
    sink: &mut Sink,
    read: &mut dyn FnMut(&mut Sink) -> Result<Found, ReadError>,
) -> Result<(), ReadError> {
    let (mut good, mut bad) = (0usize, 0usize);
    let mut first_bad: Option<RecordError> = None;
    let found = read(&mut |r| {
        match &r {
            Ok(_) => good += 1,
            Err(e) => {
                bad += 1;
                first_bad.get_or_insert_with(|| e.clone());
            }
        }
        sink(r)
    })?;
    if good > 0 || options.may_be_empty == Some(true) {
        return Ok(());
    }
    let what = match first_bad {
        None => found.nothing_read(format, options),
        Some(e) => format!(
            "none of its {bad} records could be read (the first, at {}: {})",
            e.locator, e.message
        ),
    };
    Err(ReadError::Empty {
        path: path.to_path_buf(),
        what,
    })
}

/// What a read found, to say why it yielded nothing.
enum Found {
    /// A file, with its (decompressed) size.
    File { bytes: usize, compressed: bool },
    /// A folder, with the number of its files the format reads.
    Folder { files: usize },
}

impl Found {
    fn nothing_read(&self, format: &str, o: &FileOptions) -> String {
        match self {
            Found::File {
                bytes: 0,
                compressed: true,
            } => "it decompresses to 0 bytes".into(),
            Found::File { bytes: 0, .. } => "the file is empty (0 bytes)".into(),
            Found::File { .. } => file_nothing_read(format, o),
            Found::Folder { files: 0 } => {
                let ext = o.extension.as_deref().unwrap_or(if format == "text-files" {
                    ".txt"
                } else {
                    ""
                });
                format!("the folder holds no file ending with `{ext}`")
            }
            Found::Folder { .. } => "its files hold no records".into(),
        }
    }
}

/// Why a non-empty file of `format` yielded no records.
fn file_nothing_read(format: &str, o: &FileOptions) -> String {
    let header = o.header.unwrap_or(true) && o.columns.is_none();
    match format {
        "csv" | "tsv" | "text-folder" if header => "it has a header row but no data rows".into(),
        "csv" | "tsv" | "text-folder" => "it has no rows".into(),
        "xlsx" => format!(
            "sheet `{}` has no data rows",
            o.sheet.as_deref().unwrap_or("(the first)")
        ),
        "workbook" => "its `Instances` sheet has no instance rows".into(),
        "json" => match o.records.as_deref() {
            Some(p) if !p.is_empty() => format!("the records at `{p}` are an empty list or object"),
            _ => "it is an empty JSON list or object".into(),
        },
        "jsonl" => "it holds only blank lines".into(),
        "sni-task" => "its `Instances` list is empty".into(),
        "iob" => "it holds no sentences (only blank and -DOCSTART- lines)".into(),
        "pubtator" => "it holds no documents (only blank lines)".into(),
        "xml" => format!(
            "it has no `{}` element",
            o.records.as_deref().unwrap_or_default()
        ),
        "parquet" => "it has no rows".into(),
        "obo" => "it has no [Term] stanza".into(),
        _ => "it holds no records".into(),
    }
}

/// Reads a file or folder, reporting what it found; no check that it yielded records.
fn read_source(
    path: &Path,
    format: &str,
    options: &FileOptions,
    corpus_dir: &Path,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<Found, ReadError> {
    if format == "text-files" {
        let files = text_files::read_text_files(path, options, limits, sink)?;
        return Ok(Found::Folder { files });
    }
    if path.is_dir() {
        let files = folder::read_folder(path, format, options, corpus_dir, limits, sink)?;
        return Ok(Found::Folder { files });
    }
    let bytes = read_one(path, format, options, corpus_dir, limits, sink)?;
    Ok(Found::File {
        bytes,
        compressed: bytes::is_compressed(path, options),
    })
}

/// Reads one file (not a folder) in `format`; returns its size, decompressed.
pub(crate) fn read_one(
    path: &Path,
    format: &str,
    options: &FileOptions,
    corpus_dir: &Path,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<usize, ReadError> {
    let bytes = RawBytes::open(path, options, limits)?;
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
        "json" => json::read_json(path, data, options, limits, sink),
        "jsonl" => json::read_jsonl(path, data, limits, sink),
        "sni-task" => json::read_sni_task(path, data, limits, sink),
        "csv" => table::read_csv(path, data, options, b',', limits, sink),
        "tsv" => table::read_csv(path, data, options, b'\t', limits, sink),
        "xlsx" => table::read_xlsx(path, data, options, limits, sink),
        "workbook" => table::read_workbook_instances(path, data, limits, sink),
        "text-folder" => table::read_text_folder(path, data, options, corpus_dir, limits, sink),
        "iob" => lines::read_iob(path, data, limits, sink),
        "pubtator" => lines::read_pubtator(path, data, limits, sink),
        "xml" => xml::read_xml(path, data, options, limits, sink),
        "parquet" => parquet_reader::read_parquet(path, data, limits, sink),
        "brat" => lines::read_brat(path, data, limits, sink),
        "obo" => obo::read_obo(path, data, limits, sink),
        other => Err(format_err(path, format!("unknown format `{other}`"))),
    }?;
    Ok(data.len())
}
/// Reads a whole file into a vector (tests, previews, lookups).
pub fn read_all(
    path: &Path,
    format: &str,
    options: &FileOptions,
    corpus_dir: &Path,
    limits: &Limits,
) -> Result<Vec<Result<Record, RecordError>>, ReadError> {
    let mut out = Vec::new();
    read_file(path, format, options, corpus_dir, limits, &mut |r| {
        out.push(r)
    })?;
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

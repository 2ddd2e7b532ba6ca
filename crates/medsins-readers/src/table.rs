//! Tables: CSV/TSV, XLSX sheets, the MedS-Ins contribution workbook, and a CSV index of
//! one-text-file-per-record folders.

use crate::bytes::strip_bom;
use crate::limits::Limits;
use crate::{
    ReadError, Record, RecordError, Sink, format_err, guarded, record, record_too_large, too_large,
};
use calamine::{Data, Reader};
use medsins_manifest::FileOptions;
use serde_json::{Map, Value};
use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;

/// Bytes handed to the CSV parser past the record-size limit before it is refused: more than
/// the parser's read-ahead buffer (8 KiB), so a record within the limit is never cut.
const CSV_READ_AHEAD: usize = 64 << 10;

/// Where the record being parsed starts, and whether the parser asked for bytes beyond the
/// record-size limit.
#[derive(Default)]
struct RecordBound {
    start: Cell<usize>,
    tripped: Cell<bool>,
}

/// The file's bytes, handed to the CSV parser no further than the record-size limit (plus the
/// read-ahead) past the start of the record being parsed: a runaway record (an unclosed quote
/// swallowing the rest of the file) stops at the limit instead of being gathered whole.
struct BoundedRecords<'a> {
    data: &'a [u8],
    pos: usize,
    max: usize,
    bound: Rc<RecordBound>,
}

impl std::io::Read for BoundedRecords<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let end = self
            .bound
            .start
            .get()
            .saturating_add(self.max)
            .saturating_add(CSV_READ_AHEAD)
            .min(self.data.len());
        if self.pos >= end && self.pos < self.data.len() {
            self.bound.tripped.set(true);
            return Err(std::io::Error::other("record larger than the limit"));
        }
        let n = buf.len().min(end - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The field delimiter: the file's option (one character, `\t` for a tab) or the format's.
fn csv_delimiter(path: &Path, opts: &FileOptions, default_delim: u8) -> Result<u8, ReadError> {
    match opts.delimiter.as_deref() {
        None => Ok(default_delim),
        Some("\\t") | Some("\t") => Ok(b'\t'),
        Some(d) if d.len() == 1 => Ok(d.as_bytes()[0]),
        Some(d) => Err(format_err(
            path,
            format!("delimiter `{d}` must be one character"),
        )),
    }
}

/// `max_fields`: the last field takes the rest of the line, which is only meaningful when
/// fields are plain text.
fn csv_max_fields(
    path: &Path,
    opts: &FileOptions,
    quoting: bool,
) -> Result<Option<usize>, ReadError> {
    match opts.max_fields {
        Some(n) if quoting || n == 0 => Err(format_err(
            path,
            "`max_fields` needs `quoting = false` and at least 1 field",
        )),
        m => Ok(m),
    }
}

/// Line numbers of records, counted from the bytes: the csv crate's own count lags behind on
/// CR LF files whose cells span lines.
#[derive(Default)]
struct LineCounter {
    counted_to: usize,
    newlines: u64,
}

impl LineCounter {
    /// The first byte of the record the parser reads next (a CR LF terminator leaves its LF at
    /// the start of the next record) and its line number.
    fn record_start(&mut self, data: &[u8], position: usize) -> (usize, u64) {
        let mut start = position;
        while start < data.len() && (data[start] == b'\n' || data[start] == b'\r') {
            start += 1;
        }
        let to = start.min(data.len());
        self.newlines += data[self.counted_to..to]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.counted_to = to;
        (start, self.newlines + 1)
    }
}

/// Why a row is not a record (it is quarantined).
#[derive(Debug, thiserror::Error)]
enum RowError {
    #[error("has {fields} fields where the header has {columns}")]
    FieldCount { fields: usize, columns: usize },
    #[error("column `{0}` is not UTF-8 text")]
    NotUtf8(String),
}

/// One row as a record's fields, named by `cols`; the error gives the field counts when they
/// differ, else the last column that is not UTF-8.
fn row_fields(row: &csv::ByteRecord, cols: &[String]) -> Result<Map<String, Value>, RowError> {
    if row.len() != cols.len() {
        return Err(RowError::FieldCount {
            fields: row.len(),
            columns: cols.len(),
        });
    }
    let mut f = Map::new();
    let mut bad = None;
    for (name, cell) in cols.iter().zip(row.iter()) {
        match std::str::from_utf8(cell) {
            Ok(s) => {
                f.insert(name.clone(), Value::String(s.to_string()));
            }
            Err(_) => bad = Some(name.clone()),
        }
    }
    match bad {
        Some(col) => Err(RowError::NotUtf8(col)),
        None => Ok(f),
    }
}

pub fn read_csv(
    path: &Path,
    data: &[u8],
    opts: &FileOptions,
    default_delim: u8,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let data = strip_bom(data);
    let delim = csv_delimiter(path, opts, default_delim)?;
    let header = opts.header.unwrap_or(true);
    let quoting = opts.quoting.unwrap_or(true);
    let max_fields = csv_max_fields(path, opts, quoting)?;
    let bound = Rc::new(RecordBound::default());
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .quoting(quoting)
        .has_headers(false)
        .flexible(true)
        .from_reader(BoundedRecords {
            data,
            pos: 0,
            max: usize::try_from(limits.max_record_bytes).unwrap_or(usize::MAX),
            bound: bound.clone(),
        });
    let mut names: Option<Vec<String>> = opts.columns.clone();
    // With both a header and given column names, the header row is read and ignored.
    let mut skip_header = header && names.is_some();
    let mut row = csv::ByteRecord::new();
    let mut n = 0usize;
    let mut lines = LineCounter::default();
    loop {
        let (start, line) = lines.record_start(data, rdr.position().byte() as usize);
        bound.start.set(start);
        let locator = || format!("row {} (line {line})", n + 1);
        match rdr.read_byte_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(_) if bound.tripped.get() => {
                return Err(record_too_large(path, limits, &locator()));
            }
            Err(e) => return Err(format_err(path, format!("line {line}: {e}"))),
        }
        let end = rdr.position().byte() as usize;
        if too_large(end.saturating_sub(start), limits) {
            return Err(record_too_large(path, limits, &locator()));
        }
        if skip_header {
            skip_header = false;
            continue;
        }
        if header && names.is_none() {
            let cols: Result<Vec<String>, _> =
                row.iter().map(|c| String::from_utf8(c.to_vec())).collect();
            names = Some(cols.map_err(|_| format_err(path, "header row is not UTF-8"))?);
            continue;
        }
        if let Some(max) = max_fields
            && row.len() > max
        {
            row = rejoin_rest(&row, max, delim);
        }
        n += 1;
        let locator = format!("row {n} (line {line})");
        let cols =
            names.get_or_insert_with(|| (1..=row.len()).map(|i| format!("column{i}")).collect());
        match row_fields(&row, cols) {
            Ok(f) => sink(Ok(record(f, locator, &data[start..end.min(data.len())]))),
            Err(e) => sink(Err(RecordError {
                locator,
                message: e.to_string(),
            })),
        }
    }
    Ok(())
}

/// `row` with its fields from the `max`-th on joined back with the delimiter they were split
/// at (fields read without quoting are the line's bytes between delimiters, so this restores
/// the rest of the line exactly).
fn rejoin_rest(row: &csv::ByteRecord, max: usize, delim: u8) -> csv::ByteRecord {
    let mut out = csv::ByteRecord::new();
    for f in row.iter().take(max - 1) {
        out.push_field(f);
    }
    let rest: Vec<&[u8]> = row.iter().skip(max - 1).collect();
    out.push_field(&rest.join(&delim));
    out
}

/// A cell as a JSON value: text as is, integral numbers as integers, empty as null.
fn cell_value(c: &Data) -> Value {
    match c {
        Data::Empty => Value::Null,
        Data::String(s) => Value::String(s.clone()),
        Data::Int(i) => Value::from(*i),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Value::from(*f as i64),
        Data::Float(f) => Value::from(*f),
        Data::Bool(b) => Value::Bool(*b),
        Data::DateTime(d) => Value::from(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Value::String(s.clone()),
        Data::Error(e) => Value::String(format!("#{e:?}")),
    }
}

/// A worksheet: its non-empty cells in (row, column) order, and the columns they span. Rows
/// are made dense one at a time, as wide as the used columns (calamine's `Range` would
/// allocate every cell of the used rectangle at once: a two-cell sheet naming `A1` and
/// `XFD1048576` would ask for 17 billion cells).
struct Sheet {
    name: String,
    cells: Vec<PlacedCell>,
    col_start: u32,
    width: usize,
}

impl Sheet {
    /// Each row holding a cell, in order: its row index (from 0) and its cells from the first
    /// used column, empty cells as [`Data::Empty`]; a cell given twice keeps its last value.
    fn rows(&self) -> impl Iterator<Item = (u32, Vec<Data>)> + '_ {
        self.cells
            .chunk_by(|a, b| a.0.0 == b.0.0)
            .map(move |row_cells| {
                let mut row = vec![Data::Empty; self.width];
                for ((_, col), v) in row_cells {
                    row[(col - self.col_start) as usize] = v.clone();
                }
                (row_cells[0].0.0, row)
            })
    }
}

fn open_sheet(
    path: &Path,
    data: &[u8],
    sheet: Option<&str>,
    limits: &Limits,
) -> Result<Sheet, ReadError> {
    crate::bytes::check_zip_members(path, data, limits)?;
    let (name, mut cells) = guarded(path, "XLSX", || sheet_cells(path, data, sheet))??;
    cells.sort_by_key(|(pos, _)| *pos);
    let col_start = cells.iter().map(|((_, c), _)| *c).min().unwrap_or(0);
    let col_end = cells.iter().map(|((_, c), _)| *c).max().unwrap_or(0);
    let width = if cells.is_empty() {
        0
    } else {
        (col_end - col_start) as usize + 1
    };
    if width > XLSX_MAX_COLUMNS {
        return Err(format_err(
            path,
            format!(
                "sheet `{name}` spans {width} columns, more than the {XLSX_MAX_COLUMNS} (A to XFD) an XLSX sheet has"
            ),
        ));
    }
    Ok(Sheet {
        name,
        cells,
        col_start,
        width,
    })
}

/// A cell's (row, column), from 0, and its value.
type PlacedCell = ((u32, u32), Data);

/// The sheet's name and its non-empty cells, as calamine reads them.
fn sheet_cells(
    path: &Path,
    data: &[u8],
    sheet: Option<&str>,
) -> Result<(String, Vec<PlacedCell>), ReadError> {
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(data))
        .map_err(|e| format_err(path, format!("not an XLSX workbook: {e}")))?;
    let names = wb.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .ok_or_else(|| {
                format_err(
                    path,
                    format!("no sheet `{s}`; the workbook has: {}", names.join(", ")),
                )
            })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| format_err(path, "workbook has no sheet"))?,
    };
    let sheet_err = |e: calamine::XlsxError| format_err(path, format!("sheet `{name}`: {e}"));
    let mut cells = Vec::new();
    match wb.worksheet_cells_reader(&name) {
        // a chart sheet holds no cells
        Err(calamine::XlsxError::NotAWorksheet(_)) => {}
        Err(e) => return Err(sheet_err(e)),
        Ok(mut reader) => {
            while let Some(cell) = reader.next_cell().map_err(sheet_err)? {
                let value = Data::from(cell.get_value().clone());
                if value != Data::Empty {
                    cells.push((cell.get_position(), value));
                }
            }
        }
    }
    Ok((name, cells))
}

/// Columns of an XLSX sheet (A to XFD).
const XLSX_MAX_COLUMNS: usize = 16_384;

fn sheet_records(
    path: &Path,
    sheet: &Sheet,
    header: bool,
    columns: Option<&[String]>,
    limits: &Limits,
    mut f: impl FnMut(Result<Record, RecordError>),
) -> Result<(), ReadError> {
    let mut rows = sheet.rows().peekable();
    let names: Vec<String> = match (columns, header) {
        (Some(c), true) => {
            rows.next();
            c.to_vec()
        }
        (Some(c), false) => c.to_vec(),
        (None, true) => match rows.next() {
            Some((_, r)) => r
                .iter()
                .map(|c| crate::value_text(&cell_value(c)))
                .collect(),
            None => return Ok(()),
        },
        (None, false) => (1..=sheet.width).map(|i| format!("column{i}")).collect(),
    };
    for (row_index, row) in rows {
        let values: Vec<Value> = row.iter().map(cell_value).collect();
        let locator = format!("{}!row {}", sheet.name, u64::from(row_index) + 1);
        let raw = serde_json::to_vec(&values).unwrap_or_default();
        if too_large(raw.len(), limits) {
            return Err(record_too_large(path, limits, &locator));
        }
        let mut fields = Map::new();
        for (name, v) in names.iter().zip(values) {
            if !name.is_empty() {
                fields.insert(name.clone(), v);
            }
        }
        f(Ok(record(fields, locator, &raw)));
    }
    Ok(())
}

pub fn read_xlsx(
    path: &Path,
    data: &[u8],
    opts: &FileOptions,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let sheet = open_sheet(path, data, opts.sheet.as_deref(), limits)?;
    sheet_records(
        path,
        &sheet,
        opts.header.unwrap_or(true),
        opts.columns.as_deref(),
        limits,
        sink,
    )
}

/// The MedS-Ins contribution workbook (`Task_Contributor.xlsx`): its "Instances" sheet, one
/// instance a row under the header `Input`, `Output`; records get fields `input` and `output`,
/// like task JSON records, so one template serves both.
pub fn read_workbook_instances(
    path: &Path,
    data: &[u8],
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let sheet = open_sheet(path, data, Some("Instances"), limits)?;
    sheet_records(path, &sheet, true, None, limits, |r| {
        sink(r.map(|mut rec| {
            let lower: Map<String, Value> = std::mem::take(&mut rec.fields)
                .into_iter()
                .map(|(k, v)| (k.trim().to_lowercase(), v))
                .collect();
            rec.fields = lower;
            rec
        }))
    })
}

/// The "Basic Information" sheet of a contribution workbook as key -> value.
pub fn read_workbook_info(path: &Path) -> Result<Vec<(String, String)>, ReadError> {
    let limits = Limits::default();
    let bytes = crate::RawBytes::open(path, &FileOptions::default(), &limits)?;
    let sheet = open_sheet(path, bytes.as_slice(), Some("Basic Information"), &limits)?;
    Ok(sheet
        .rows()
        .filter_map(|(_, r)| {
            let k = crate::value_text(&cell_value(r.first()?));
            let v = r
                .get(1)
                .map(|c| crate::value_text(&cell_value(c)))
                .unwrap_or_default();
            (!k.trim().is_empty()).then(|| (k.trim().to_string(), v))
        })
        .collect())
}

/// A CSV index whose `path_column` names one text file per record (e.g. MIMIC-CXR's study list
/// and report files). The file's text goes into `text_field`; a missing or unreadable file makes
/// that record a record error. Paths may not leave the corpus folder.
pub fn read_text_folder(
    path: &Path,
    data: &[u8],
    opts: &FileOptions,
    corpus_dir: &Path,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let col = opts
        .path_column
        .clone()
        .ok_or_else(|| format_err(path, "text-folder needs the option `path_column`"))?;
    let text_field = opts.text_field.clone().unwrap_or_else(|| "text".into());
    let mut first_err = None;
    // a report file past the record-size limit refuses the index file; the rest is not read
    let mut too_big: Option<ReadError> = None;
    read_csv(path, data, opts, b',', limits, &mut |r| {
        if too_big.is_some() {
            return;
        }
        let r = r.and_then(|mut rec| {
            let Some(rel) = rec
                .fields
                .get(&col)
                .and_then(|v| v.as_str())
                .map(str::to_string)
            else {
                if first_err.is_none() {
                    first_err = Some(format!("index has no column `{col}`"));
                }
                return Err(RecordError {
                    locator: rec.locator,
                    message: format!("no column `{col}`"),
                });
            };
            if !medsins_manifest::is_contained_path(&rel) {
                return Err(RecordError {
                    locator: rec.locator,
                    message: format!("path `{rel}` leaves the corpus folder"),
                });
            }
            let file = corpus_dir.join(&rel);
            if let Ok(m) = std::fs::metadata(&file)
                && m.len() > limits.max_record_bytes
            {
                too_big = Some(record_too_large(
                    path,
                    limits,
                    &format!("{} -> {rel}", rec.locator),
                ));
                return Err(RecordError {
                    locator: rec.locator,
                    message: "too large".into(),
                });
            }
            match std::fs::read(&file) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    rec.raw_sha256 = medsins_core::sha256_hex(&bytes);
                    rec.locator = format!("{} -> {rel}", rec.locator);
                    rec.fields.insert(text_field.clone(), Value::String(text));
                    Ok(rec)
                }
                Err(e) => Err(RecordError {
                    locator: rec.locator,
                    message: format!("cannot read `{rel}`: {e}"),
                }),
            }
        });
        if too_big.is_none() {
            sink(r)
        }
    })?;
    too_big.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_keeps_quoted_multiline_cells_and_flags_short_rows() {
        let data = b"\xEF\xBB\xBFid,text\n1,\"a\nb\"\n2\n3,c\n";
        let mut v = Vec::new();
        read_csv(
            Path::new("x.csv"),
            data,
            &FileOptions::default(),
            b',',
            &Limits::default(),
            &mut |r| v.push(r),
        )
        .unwrap();
        let r0 = v[0].as_ref().unwrap();
        assert_eq!(r0.fields["id"], "1");
        assert_eq!(r0.fields["text"], "a\nb");
        assert_eq!(r0.locator, "row 1 (line 2)");
        assert_eq!(r0.raw_sha256, medsins_core::sha256_hex(b"1,\"a\nb\"\n"));
        let e = v[1].as_ref().unwrap_err();
        assert_eq!(e.locator, "row 2 (line 4)");
        assert_eq!(e.message, "has 1 fields where the header has 2");
        assert_eq!(v[2].as_ref().unwrap().fields["text"], "c");
    }

    #[test]
    fn crlf_line_numbers_follow_the_file() {
        let data = b"id,text\r\n1,\"a\r\nb\"\r\n2,c\r\n3,d\r\n";
        let mut v = Vec::new();
        read_csv(
            Path::new("x.csv"),
            data,
            &FileOptions::default(),
            b',',
            &Limits::default(),
            &mut |r| v.push(r.unwrap()),
        )
        .unwrap();
        let locs: Vec<&str> = v.iter().map(|r| r.locator.as_str()).collect();
        assert_eq!(locs, ["row 1 (line 2)", "row 2 (line 4)", "row 3 (line 5)"]);
    }
}

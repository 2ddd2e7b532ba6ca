//! Tables: CSV/TSV, XLSX sheets, the MedS-Ins contribution workbook, and a CSV index of
//! one-text-file-per-record folders.

use crate::bytes::strip_bom;
use crate::{ReadError, Record, RecordError, Sink, format_err, record};
use calamine::{Data, Reader};
use medsins_manifest::FileOptions;
use serde_json::{Map, Value};
use std::path::Path;

pub fn read_csv(
    path: &Path,
    data: &[u8],
    opts: &FileOptions,
    default_delim: u8,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let data = strip_bom(data);
    let delim = match opts.delimiter.as_deref() {
        None => default_delim,
        Some("\\t") | Some("\t") => b'\t',
        Some(d) if d.len() == 1 => d.as_bytes()[0],
        Some(d) => {
            return Err(format_err(
                path,
                format!("delimiter `{d}` must be one character"),
            ));
        }
    };
    let header = opts.header.unwrap_or(true);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(data);
    let mut names: Option<Vec<String>> = opts.columns.clone();
    // With both a header and given column names, the header row is read and ignored.
    let mut skip_header = header && names.is_some();
    let mut row = csv::ByteRecord::new();
    let mut n = 0usize;
    // Line numbers are counted from the bytes: the csv crate's own count lags behind on CR LF
    // files whose cells span lines.
    let (mut counted_to, mut newlines) = (0usize, 0u64);
    loop {
        let mut start = rdr.position().byte() as usize;
        // a CR LF terminator leaves its LF at the start of the next record
        while start < data.len() && (data[start] == b'\n' || data[start] == b'\r') {
            start += 1;
        }
        newlines += data[counted_to..start.min(data.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        counted_to = start.min(data.len());
        let line = newlines + 1;
        match rdr.read_byte_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(format_err(path, format!("line {line}: {e}"))),
        }
        let end = rdr.position().byte() as usize;
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
        n += 1;
        let locator = format!("row {n} (line {line})");
        let cols =
            names.get_or_insert_with(|| (1..=row.len()).map(|i| format!("column{i}")).collect());
        if row.len() != cols.len() {
            sink(Err(RecordError {
                locator,
                message: format!(
                    "has {} fields where the header has {}",
                    row.len(),
                    cols.len()
                ),
            }));
            continue;
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
        if let Some(col) = bad {
            sink(Err(RecordError {
                locator,
                message: format!("column `{col}` is not UTF-8 text"),
            }));
            continue;
        }
        sink(Ok(record(f, locator, &data[start..end.min(data.len())])));
    }
    Ok(())
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

fn open_sheet(
    path: &Path,
    data: &[u8],
    sheet: Option<&str>,
) -> Result<(String, calamine::Range<Data>), ReadError> {
    let mut wb = calamine::Xlsx::new(std::io::Cursor::new(data.to_vec()))
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
    let range = wb
        .worksheet_range(&name)
        .map_err(|e| format_err(path, format!("sheet `{name}`: {e}")))?;
    Ok((name, range))
}

fn sheet_records(
    sheet: &str,
    range: &calamine::Range<Data>,
    header: bool,
    columns: Option<&[String]>,
    mut f: impl FnMut(Result<Record, RecordError>),
) {
    let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
    let mut rows = range.rows().enumerate();
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
            None => return,
        },
        (None, false) => (1..=range.width()).map(|i| format!("column{i}")).collect(),
    };
    for (i, row) in rows {
        if row.iter().all(|c| matches!(c, Data::Empty)) {
            continue;
        }
        let values: Vec<Value> = row.iter().map(cell_value).collect();
        let mut fields = Map::new();
        for (name, v) in names.iter().zip(&values) {
            if !name.is_empty() {
                fields.insert(name.clone(), v.clone());
            }
        }
        let raw = serde_json::to_vec(&values).unwrap_or_default();
        f(Ok(record(
            fields,
            format!("{sheet}!row {}", first_row + i + 1),
            &raw,
        )));
    }
}

pub fn read_xlsx(
    path: &Path,
    data: &[u8],
    opts: &FileOptions,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let (name, range) = open_sheet(path, data, opts.sheet.as_deref())?;
    sheet_records(
        &name,
        &range,
        opts.header.unwrap_or(true),
        opts.columns.as_deref(),
        sink,
    );
    Ok(())
}

/// The MedS-Ins contribution workbook (`Task_Contributor.xlsx`): its "Instances" sheet, one
/// instance a row under the header `Input`, `Output`; records get fields `input` and `output`,
/// like task JSON records, so one template serves both.
pub fn read_workbook_instances(path: &Path, data: &[u8], sink: &mut Sink) -> Result<(), ReadError> {
    let (name, range) = open_sheet(path, data, Some("Instances"))?;
    sheet_records(&name, &range, true, None, |r| {
        sink(r.map(|mut rec| {
            let lower: Map<String, Value> = std::mem::take(&mut rec.fields)
                .into_iter()
                .map(|(k, v)| (k.trim().to_lowercase(), v))
                .collect();
            rec.fields = lower;
            rec
        }))
    });
    Ok(())
}

/// The "Basic Information" sheet of a contribution workbook as key -> value.
pub fn read_workbook_info(path: &Path) -> Result<Vec<(String, String)>, ReadError> {
    let bytes = crate::RawBytes::open(path, &FileOptions::default())?;
    let (_, range) = open_sheet(path, bytes.as_slice(), Some("Basic Information"))?;
    Ok(range
        .rows()
        .filter_map(|r| {
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
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let col = opts
        .path_column
        .clone()
        .ok_or_else(|| format_err(path, "text-folder needs the option `path_column`"))?;
    let text_field = opts.text_field.clone().unwrap_or_else(|| "text".into());
    let mut first_err = None;
    read_csv(path, data, opts, b',', &mut |r| {
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
        sink(r)
    })?;
    Ok(())
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
            &mut |r| v.push(r.unwrap()),
        )
        .unwrap();
        let locs: Vec<&str> = v.iter().map(|r| r.locator.as_str()).collect();
        assert_eq!(locs, ["row 1 (line 2)", "row 2 (line 4)", "row 3 (line 5)"]);
    }
}

//! Cutting a fixture: the first records of a raw file, in the same layout.

use crate::{Inspection, ScaffoldError};
use std::path::Path;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError + '_ {
    move |source| ScaffoldError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the first `n` records of `src` to `dest` in the same layout (same format, header,
/// line endings). Returns how many records the fixture holds.
pub fn cut_fixture(
    src: &Path,
    ins: &Inspection,
    n: usize,
    dest: &Path,
) -> Result<usize, ScaffoldError> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let bytes = std::fs::read(src).map_err(io(src))?;
    let text = String::from_utf8_lossy(&bytes);
    let out: String = match ins.format.as_str() {
        "jsonl" => text
            .split_inclusive('\n')
            .filter(|l| !l.trim().is_empty())
            .take(n)
            .collect(),
        "csv" | "tsv" | "text-folder" => {
            // header + n records, cut at record boundaries (quoted multi-line cells stay whole)
            let delim = if ins.format == "tsv" { b'\t' } else { b',' };
            let mut rdr = csv::ReaderBuilder::new()
                .delimiter(delim)
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes.as_slice());
            let mut rec = csv::ByteRecord::new();
            let mut end = 0;
            for _ in 0..=n {
                match rdr.read_byte_record(&mut rec) {
                    Ok(true) => end = rdr.position().byte() as usize,
                    _ => break,
                }
            }
            String::from_utf8_lossy(&bytes[..end]).into_owned()
        }
        "iob" | "pubtator" => {
            let blocks: Vec<&str> = text
                .split("\n\n")
                .filter(|b| !b.trim().is_empty())
                .take(n)
                .collect();
            format!("{}\n\n", blocks.join("\n\n").trim_end())
        }
        "json" | "sni-task" => cut_json(&text, ins, n)?,
        "xlsx" | "workbook" => return cut_xlsx(src, ins, n, dest),
        other => {
            return Err(ScaffoldError::Unsupported(format!(
                "cutting a fixture from `{other}` files is not automatic; copy a few records into {} by hand",
                dest.display()
            )));
        }
    };
    std::fs::write(dest, out).map_err(io(dest))?;
    Ok(n.min(ins.records))
}

fn cut_json(text: &str, ins: &Inspection, n: usize) -> Result<String, ScaffoldError> {
    let mut v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ScaffoldError::Unsupported(format!("invalid JSON: {e}")))?;
    let ptr = if ins.format == "sni-task" {
        "/Instances".to_string()
    } else {
        ins.options.records.clone().unwrap_or_default()
    };
    let target = if ptr.is_empty() {
        Some(&mut v)
    } else {
        v.pointer_mut(&ptr)
    };
    match target {
        Some(serde_json::Value::Array(a)) => a.truncate(n),
        Some(serde_json::Value::Object(m)) => {
            let keys: Vec<String> = m.keys().skip(n).cloned().collect();
            for k in keys {
                m.shift_remove(&k);
            }
        }
        _ => {}
    }
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    Ok(s)
}

fn cut_xlsx(src: &Path, ins: &Inspection, n: usize, dest: &Path) -> Result<usize, ScaffoldError> {
    let cell = |v: &serde_json::Value| (!v.is_null()).then(|| medsins_readers::value_text(v));
    let mut sheets = Vec::new();
    if ins.format == "workbook" {
        let info = medsins_readers::read_workbook_info(src)?;
        sheets.push((
            "Basic Information".to_string(),
            info.into_iter()
                .map(|(k, v)| vec![Some(k), Some(v)])
                .collect(),
        ));
    }
    let recs = medsins_readers::read_all(
        src,
        &ins.format,
        &ins.options,
        src.parent().unwrap_or(Path::new(".")),
        &medsins_readers::Limits::default(),
    )?;
    let names: Vec<String> = ins.fields.iter().map(|(f, _)| f.clone()).collect();
    let mut rows: Vec<Vec<Option<String>>> = vec![
        names
            .iter()
            .map(|f| {
                Some(if ins.format == "workbook" {
                    capitalise(f)
                } else {
                    f.clone()
                })
            })
            .collect(),
    ];
    // the workbook's example instances are the first n records that read; a record the
    // reader quarantines is no example of the corpus's instances (the build counts it)
    for r in recs.into_iter().flatten().take(n) {
        rows.push(
            names
                .iter()
                .map(|f| r.fields.get(f).and_then(cell))
                .collect(),
        );
    }
    let sheet = if ins.format == "workbook" {
        "Instances".to_string()
    } else {
        ins.options.sheet.clone().unwrap_or_else(|| "Sheet1".into())
    };
    sheets.push((sheet, rows));
    crate::xlsx::write_xlsx(dest, &sheets).map_err(io(dest))?;
    Ok(n.min(ins.records))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

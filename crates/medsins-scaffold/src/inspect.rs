//! Guessing a raw file's format and listing its fields.

use crate::ScaffoldError;
use medsins_manifest::FileOptions;
use serde_json::Value;
use std::path::Path;

/// What a raw file looks like.
#[derive(Debug, Clone)]
pub struct Inspection {
    pub format: String,
    pub options: FileOptions,
    pub records: usize,
    pub bad_records: usize,
    /// Field names in order of first appearance, each with a short example value.
    pub fields: Vec<(String, String)>,
}

fn ext(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name).to_string();
    name.rsplit('.').next().unwrap_or("").to_string()
}

fn head(path: &Path, n: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    let got = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buf))
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..got]).into_owned()
}

/// The format and reader options a file most likely needs.
pub fn guess_format(path: &Path) -> Result<(String, FileOptions), ScaffoldError> {
    let mut o = FileOptions::default();
    let h = head(path, 64 * 1024);
    let first_lines: Vec<&str> = h.lines().take(20).collect();
    let f = match ext(path).as_str() {
        "jsonl" | "ndjson" => "jsonl",
        "json" => {
            let t = h.trim_start();
            if h.contains("\"Instances\"") && t.starts_with('{') {
                "sni-task"
            } else if t.starts_with('{')
                && first_lines.len() > 1
                && first_lines[1].trim_start().starts_with('{')
                && first_lines[0].trim_end().ends_with('}')
            {
                "jsonl" // JSON Lines named .json (MedMCQA's dev.json)
            } else {
                "json"
            }
        }
        "csv" => "csv",
        "tsv" | "txt" | "conll" | "iob" | "bio" => {
            if first_lines.iter().any(|l| l.contains("|t|")) {
                "pubtator"
            } else if first_lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .all(|l| l.split_whitespace().count() >= 2 && l.split_whitespace().count() <= 4)
                && h.contains("\n\n")
            {
                "iob"
            } else {
                "tsv"
            }
        }
        "xlsx" | "xlsm" => {
            let names = xlsx_sheets(path)?;
            if names.iter().any(|n| n == "Instances")
                && names.iter().any(|n| n == "Basic Information")
            {
                "workbook"
            } else {
                o.sheet = names.first().cloned();
                "xlsx"
            }
        }
        "xml" => {
            o.records = Some(repeated_element(&h).ok_or_else(|| {
                ScaffoldError::Unsupported(format!(
                    "{}: no repeated element found to use as records",
                    path.display()
                ))
            })?);
            "xml"
        }
        "parquet" => "parquet",
        other => {
            return Err(ScaffoldError::Unsupported(format!(
                "{}: cannot tell the format from the extension `.{other}`; write the manifest's `format` by hand (see docs/manifests.md)",
                path.display()
            )));
        }
    };
    Ok((f.to_string(), o))
}

/// Sheet names from `xl/workbook.xml`, without a spreadsheet dependency here. A file that is
/// not a readable workbook is an error naming it, not a workbook without sheets.
fn xlsx_sheets(path: &Path) -> Result<Vec<String>, ScaffoldError> {
    let io = |source| ScaffoldError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_a_workbook = |e: zip::result::ZipError| {
        ScaffoldError::Unsupported(format!(
            "{}: not an XLSX workbook ({e}); check that it is the file the corpus distributes",
            path.display()
        ))
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut z = zip::ZipArchive::new(f).map_err(not_a_workbook)?;
    let mut wb = z.by_name("xl/workbook.xml").map_err(not_a_workbook)?;
    let mut s = String::new();
    std::io::Read::read_to_string(&mut wb, &mut s).map_err(io)?;
    Ok(s.split("<sheet ")
        .skip(1)
        .filter_map(|p| {
            p.split("name=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_string)
        })
        .collect())
}

/// The path (from the root) of the element that repeats most among the root's children or
/// grandchildren, e.g. `ClinicalInquiries/record`.
fn repeated_element(head: &str) -> Option<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for part in head.split('<').skip(1) {
        if part.starts_with('?') || part.starts_with('!') {
            continue;
        }
        let closing = part.starts_with('/');
        let name: String = part
            .trim_start_matches('/')
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        let self_closing = part.split('>').next().is_some_and(|t| t.ends_with('/'));
        if closing {
            stack.pop();
            continue;
        }
        stack.push(name);
        if (2..=3).contains(&stack.len()) {
            let p = stack.join("/");
            match counts.iter_mut().find(|(k, _)| *k == p) {
                Some((_, n)) => *n += 1,
                None => counts.push((p, 1)),
            }
        }
        if self_closing {
            stack.pop();
        }
    }
    counts
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .max_by_key(|(_, n)| *n)
        .map(|(p, _)| p)
}

fn example(v: &Value) -> String {
    let t = medsins_readers::value_text(v).replace('\n', "\\n");
    if t.chars().count() > 60 {
        format!("{}…", t.chars().take(60).collect::<String>())
    } else {
        t
    }
}

/// Reads the whole file with the guessed reader and summarises it.
pub fn inspect(path: &Path, corpus_dir: &Path) -> Result<Inspection, ScaffoldError> {
    let (format, options) = guess_format(path)?;
    let mut records = 0;
    let mut bad = 0;
    let mut fields: Vec<(String, String)> = Vec::new();
    let limits = medsins_readers::Limits::default();
    medsins_readers::read_file(
        path,
        &format,
        &options,
        corpus_dir,
        &limits,
        &mut |r| match r {
            Ok(rec) => {
                records += 1;
                for (k, v) in &rec.fields {
                    match fields.iter_mut().find(|(n, _)| n == k) {
                        Some((_, ex)) if ex.is_empty() => *ex = example(v),
                        Some(_) => {}
                        None => fields.push((k.clone(), example(v))),
                    }
                }
            }
            Err(_) => bad += 1,
        },
    )?;
    Ok(Inspection {
        format,
        options,
        records,
        bad_records: bad,
        fields,
    })
}

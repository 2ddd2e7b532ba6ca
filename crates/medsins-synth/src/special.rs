//! Replicators for layouts that are more than one stream of records: DDXPlus (patients drawn
//! from generated evidence and condition tables), folders of text files (MIMIC-CXR reports
//! behind an index, HoC and brat folders), folders of XML files (MedQuAD), OBO ontologies and
//! Parquet files.

use crate::formats::{Ctx, Family, Table, bad, vary_str, vary_value, vary_xml};
use crate::rules::{Rule, Rules};
use crate::text::{Rng, content_words, rekey};
use serde_json::{Map, Value, json};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A layout written as files under the raw root rather than as one stream.
pub trait Tree: Send + Sync {
    fn templates(&self) -> usize;
    /// Writes `count` records under the raw root `out`; returns the bytes written.
    fn write(&self, count: usize, cx: &Ctx, out: &Path) -> io::Result<u64>;
    /// Paths (relative to the raw root) it writes, so that fixture copies leave them alone.
    fn owns(&self) -> Vec<String>;
    /// Whether it emits exact duplicates (`--dup-rate`); folders of files whose names other
    /// files join on do not.
    fn dups(&self) -> bool {
        true
    }
}

/// Writes one small file (its folder created as needed).
fn put(path: &Path, data: &[u8]) -> io::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(path, data)
}

fn create(path: &Path) -> io::Result<BufWriter<std::fs::File>> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    Ok(BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path)?,
    ))
}

/// Files under `dir` (recursively, sorted), relative to it with `/`.
fn files_under(dir: &Path) -> io::Result<Vec<String>> {
    fn go(base: &Path, d: &Path, out: &mut Vec<String>) -> io::Result<()> {
        let mut es: Vec<_> = std::fs::read_dir(d)?.collect::<Result<_, _>>()?;
        es.sort_by_key(|e| e.file_name());
        for e in es {
            let p = e.path();
            if p.is_dir() {
                go(base, &p, out)?;
            } else if let Ok(r) = p.strip_prefix(base) {
                out.push(r.to_string_lossy().replace('\\', "/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out)?;
    Ok(out)
}

// ---------------------------------------------------------------- DDXPlus

/// DDXPlus's evidence and condition tables, the fixture's entries extended with generated
/// ones to the release's size (223 evidences, 49 conditions), and patients drawn from them:
/// every code a patient row names exists in the tables, so the pipeline's lookups and joins
/// resolve, and rendered inputs (age, sex, initial evidence, the evidences' questions and
/// answers in the row's order) differ between rows.
pub struct DdxPools {
    evidences: Vec<Evidence>,
    conditions: Vec<(String, Vec<usize>)>,
    evidences_json: String,
    conditions_json: String,
}

struct Evidence {
    code: String,
    kind: u8,
    values: Vec<String>,
}

pub const DDX_EVIDENCES: usize = 223;
pub const DDX_CONDITIONS: usize = 49;

const QUESTION_STARTS: &[&str] = &[
    "Do you have",
    "Have you recently had",
    "Have you ever been diagnosed with",
    "Do you regularly take medication for",
    "Are you experiencing",
    "Have you noticed",
    "Is there a family history of",
    "Do you suffer from",
];

impl DdxPools {
    pub fn build(evidences: &Path, conditions: &Path, seed: u64) -> io::Result<Self> {
        let ev: Map<String, Value> =
            serde_json::from_slice(&std::fs::read(evidences)?).map_err(|e| bad(e.to_string()))?;
        let co: Map<String, Value> =
            serde_json::from_slice(&std::fs::read(conditions)?).map_err(|e| bad(e.to_string()))?;
        let mut rng = Rng::new(seed ^ 0xddc5);
        let ev_doc = grow_evidences(ev, &mut rng);
        let evidences = evidence_list(&ev_doc);
        let co_doc = grow_conditions(co, &evidences, &mut rng);
        let index = |code: &str| evidences.iter().position(|e| e.code == code);
        let conditions = co_doc
            .iter()
            .map(|(name, o)| {
                let mut evs: Vec<usize> = ["symptoms", "antecedents"]
                    .iter()
                    .filter_map(|f| o.get(*f).and_then(Value::as_object))
                    .flat_map(|m| m.keys().filter_map(|c| index(c)))
                    .collect();
                evs.sort_unstable();
                evs.dedup();
                (name.clone(), evs)
            })
            .collect();
        Ok(DdxPools {
            evidences,
            conditions,
            evidences_json: serde_json::to_string_pretty(&ev_doc)
                .map_err(|e| bad(e.to_string()))?,
            conditions_json: serde_json::to_string_pretty(&co_doc)
                .map_err(|e| bad(e.to_string()))?,
        })
    }

    /// (AGE, DIFFERENTIAL_DIAGNOSIS, SEX, PATHOLOGY, EVIDENCES, INITIAL_EVIDENCE) of a patient.
    fn patient(&self, v: u64) -> [(&'static str, String); 6] {
        let mut rng = Rng::new(v);
        let (cond, own) = &self.conditions[rng.below(self.conditions.len())];
        let mut chosen: Vec<usize> = own.iter().copied().filter(|_| rng.below(10) < 7).collect();
        for _ in 0..rng.below(7) {
            let e = rng.below(self.evidences.len());
            if !chosen.contains(&e) {
                chosen.push(e);
            }
        }
        if chosen.is_empty() {
            chosen.push(rng.below(self.evidences.len()));
        }
        for i in (1..chosen.len()).rev() {
            chosen.swap(i, rng.below(i + 1));
        }
        let mut toks: Vec<String> = Vec::new();
        for &e in &chosen {
            let ev = &self.evidences[e];
            match (ev.kind, ev.values.len()) {
                (_, 0) | (b'B', _) => toks.push(ev.code.clone()),
                (b'C', n) => toks.push(format!("{}_@_{}", ev.code, ev.values[rng.below(n)])),
                (_, n) => {
                    let m = 1 + rng.below(n.min(3));
                    let start = rng.below(n);
                    for j in 0..m {
                        toks.push(format!("{}_@_{}", ev.code, ev.values[(start + j) % n]));
                    }
                }
            }
        }
        let initial = chosen
            .iter()
            .find(|&&e| self.evidences[e].kind == b'B')
            .map(|&e| self.evidences[e].code.clone())
            .unwrap_or_else(|| self.evidences[chosen[0]].code.clone());
        let mut ddx = vec![cond.clone()];
        for _ in 0..rng.below(5) {
            let (c, _) = &self.conditions[rng.below(self.conditions.len())];
            if !ddx.contains(c) {
                ddx.push(c.clone());
            }
        }
        let mut p = 0.2 + 0.6 * rng.unit();
        let ddx: Vec<String> = ddx
            .iter()
            .map(|c| {
                let s = format!("[{}, {}]", pystr(c), p);
                p *= 0.3 + 0.6 * rng.unit();
                s
            })
            .collect();
        let evid: Vec<String> = toks.iter().map(|t| pystr(t)).collect();
        [
            ("AGE", rng.below(101).to_string()),
            ("DIFFERENTIAL_DIAGNOSIS", format!("[{}]", ddx.join(", "))),
            ("SEX", if rng.below(2) == 0 { "M" } else { "F" }.to_string()),
            ("PATHOLOGY", cond.clone()),
            ("EVIDENCES", format!("[{}]", evid.join(", "))),
            ("INITIAL_EVIDENCE", initial),
        ]
    }
}

fn pystr(s: &str) -> String {
    if s.contains('\'') && !s.contains('"') {
        format!("\"{s}\"")
    } else {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// A DDXPlus patients file: the fixture rows, then generated patients.
pub struct DdxPatients {
    pub table: Table,
    pub pools: Arc<DdxPools>,
}

impl Family for DdxPatients {
    fn templates(&self) -> usize {
        self.table.rows().len()
    }
    fn head(&self, w: &mut dyn Write) -> io::Result<()> {
        self.table.writer(w)?.flush()
    }
    fn chunk(&self, range: std::ops::Range<usize>, cx: &Ctx, w: &mut Vec<u8>) -> io::Result<()> {
        let n = self.table.rows().len();
        let header: Vec<String> = self
            .table
            .header()
            .map(|h| h.iter().map(str::to_string).collect())
            .unwrap_or_default();
        let mut cw = self.table.rows_writer(w);
        for i in range {
            let (t, v, _) = cx.of(cx.content(i), n);
            if v == 0 {
                cw.write_record(&self.table.rows()[t])?;
                continue;
            }
            let p = self.pools.patient(v);
            let row: Vec<String> = header
                .iter()
                .enumerate()
                .map(|(j, h)| {
                    p.iter()
                        .find(|(k, _)| k == h)
                        .map(|(_, x)| x.clone())
                        .unwrap_or_else(|| self.table.rows()[t].get(j).cloned().unwrap_or_default())
                })
                .collect();
            cw.write_record(&row)?;
        }
        cw.flush()
    }
}

/// The generated `release_evidences.json` and `release_conditions.json`.
pub struct DdxTables {
    pub pools: Arc<DdxPools>,
    /// (raw-root relative path, which table)
    pub evidences: String,
    pub conditions: String,
}

impl Tree for DdxTables {
    fn templates(&self) -> usize {
        1
    }
    fn write(&self, _count: usize, _cx: &Ctx, out: &Path) -> io::Result<u64> {
        let mut n = 0;
        for (rel, text) in [
            (&self.evidences, &self.pools.evidences_json),
            (&self.conditions, &self.pools.conditions_json),
        ] {
            let mut w = create(&out.join(rel))?;
            w.write_all(text.as_bytes())?;
            w.flush()?;
            n += text.len() as u64;
        }
        Ok(n)
    }
    fn owns(&self) -> Vec<String> {
        vec![self.evidences.clone(), self.conditions.clone()]
    }
}

// ---------------------------------------------------------------- text-folder (MIMIC-CXR)

/// An index table whose `path_column` names one text file per row (relative to the corpus
/// folder): rows replicated with re-keyed ids and paths, one report file written per row.
pub struct TextFolder {
    rel: String,
    folder: String,
    index: Table,
    path_col: usize,
    texts: Vec<String>,
    text_rule: Option<Rule>,
    text_field: String,
}

impl TextFolder {
    pub fn parse(
        fixtures: &Path,
        rel: &str,
        path_column: &str,
        text_field: &str,
        rules: &Rules,
    ) -> io::Result<Self> {
        let folder = rel.split('/').next().unwrap_or("").to_string();
        let index = Table::parse(&std::fs::read(fixtures.join(rel))?, b',', true, rules)?;
        let path_col = index
            .column(path_column)
            .ok_or_else(|| bad(format!("no column `{path_column}`")))?;
        let texts = index
            .rows()
            .iter()
            .map(|r| {
                let p = r.get(path_col).cloned().unwrap_or_default();
                std::fs::read_to_string(fixtures.join(&folder).join(p))
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(TextFolder {
            rel: rel.to_string(),
            folder,
            index,
            path_col,
            texts,
            text_rule: rules.get(text_field),
            text_field: text_field.to_string(),
        })
    }
}

impl TextFolder {
    /// The row's file path with the ids it contains replaced by the row's new ids, and a
    /// `pXX` folder before a `p<id>` folder following the new id's first two digits.
    fn path_of(&self, orig: &[String], row: &[String]) -> String {
        let mut p = orig[self.path_col].clone();
        for (j, (o, n)) in orig.iter().zip(row).enumerate() {
            if j != self.path_col && o.len() >= 5 && o != n && o.bytes().all(|c| c.is_ascii_digit())
            {
                p = p.replace(o.as_str(), n);
            }
        }
        let segs: Vec<&str> = p.split('/').collect();
        let mut out: Vec<String> = segs.iter().map(|s| s.to_string()).collect();
        for k in 0..segs.len().saturating_sub(1) {
            let (a, b) = (segs[k], segs[k + 1]);
            if a.len() == 3
                && a.starts_with('p')
                && a[1..].bytes().all(|c| c.is_ascii_digit())
                && b.len() > 3
                && b.starts_with('p')
                && b[1..].bytes().all(|c| c.is_ascii_digit())
            {
                out[k] = format!("p{}", &b[1..3]);
            }
        }
        out.join("/")
    }
}

impl Tree for TextFolder {
    fn templates(&self) -> usize {
        self.texts.len()
    }
    fn write(&self, count: usize, cx: &Ctx, out: &Path) -> io::Result<u64> {
        use rayon::prelude::*;
        let mut w = create(&out.join(&self.rel))?;
        self.index.writer(&mut w)?.flush()?;
        let n = self.texts.len();
        let base = out.join(&self.folder);
        // index rows in order; the report files of each chunk written in parallel
        let parts: Vec<io::Result<(Vec<u8>, u64)>> = (0..count.div_ceil(1024))
            .into_par_iter()
            .map(|k| {
                let mut buf = Vec::new();
                let mut bytes = 0u64;
                let mut cw = self.index.rows_writer(&mut buf);
                for i in k * 1024..((k + 1) * 1024).min(count) {
                    let c = cx.content(i);
                    let (t, v, r) = cx.of(c, n);
                    let mut row = self.index.row(t, v, r);
                    row[self.path_col] = self.path_of(&self.index.rows()[t], &row);
                    cw.write_record(&row)?;
                    if c == i {
                        let text = vary_str(&self.texts[t], self.text_rule, v, r, &self.text_field);
                        put(&base.join(&row[self.path_col]), text.as_bytes())?;
                        bytes += text.len() as u64;
                    }
                }
                cw.flush()?;
                drop(cw);
                Ok((buf, bytes))
            })
            .collect();
        let mut bytes = 0u64;
        for p in parts {
            let (buf, b) = p?;
            w.write_all(&buf)?;
            bytes += b;
        }
        w.flush()?;
        Ok(bytes + std::fs::metadata(out.join(&self.rel))?.len())
    }
    fn owns(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .index
            .rows()
            .iter()
            .filter_map(|r| r.get(self.path_col))
            .filter_map(|p| p.split('/').next())
            .map(|d| format!("{}/{d}", self.folder))
            .collect();
        v.sort();
        v.dedup();
        v.push(self.rel.clone());
        v
    }
}

// ---------------------------------------------------------------- text-files folders

/// A folder of text files (HoC `text/` and `labels/`, brat `.txt` + `.ann`): one record per
/// stem; replicas get re-keyed file names (every 5+-digit run of the path, as `Refs`), the
/// text files (`extension`) vary under the `text` rule and other files are copied.
pub struct TextFiles {
    rel: String,
    /// stems → (relative path, contents)
    units: Vec<Vec<(String, Vec<u8>)>>,
    extension: String,
    rule: Option<Rule>,
}

/// A record of a text-file folder: its stem and its files (name, bytes).
type TextUnit = (String, Vec<(String, Vec<u8>)>);

impl TextFiles {
    pub fn parse(fixtures: &Path, rel: &str, extension: &str, rules: &Rules) -> io::Result<Self> {
        let dir = fixtures.join(rel);
        let mut units: Vec<TextUnit> = Vec::new();
        for f in files_under(&dir)? {
            let stem = f
                .rsplit_once('.')
                .map(|(s, _)| s.to_string())
                .unwrap_or(f.clone());
            let body = std::fs::read(dir.join(&f))?;
            match units.iter_mut().find(|(s, _)| *s == stem) {
                Some((_, u)) => u.push((f, body)),
                None => units.push((stem, vec![(f, body)])),
            }
        }
        if units.is_empty() {
            return Err(bad("empty folder"));
        }
        Ok(TextFiles {
            rel: rel.to_string(),
            units: units.into_iter().map(|(_, u)| u).collect(),
            extension: extension.to_string(),
            rule: rules.get("text"),
        })
    }
}

impl Tree for TextFiles {
    fn templates(&self) -> usize {
        self.units.len()
    }
    fn dups(&self) -> bool {
        false
    }
    fn write(&self, count: usize, cx: &Ctx, out: &Path) -> io::Result<u64> {
        use rayon::prelude::*;
        let base = out.join(&self.rel);
        let n = self.units.len();
        (0..count)
            .into_par_iter()
            .map(|c| {
                let (t, v, r) = cx.of(c, n);
                let mut bytes = 0u64;
                for (path, body) in &self.units[t] {
                    let dest = base.join(rekey(path, r, 5, false));
                    let text = std::str::from_utf8(body).ok();
                    let data: Vec<u8> = match text {
                        Some(s) if path.ends_with(&self.extension) => {
                            vary_str(s, self.rule, v, r, "text").into_bytes()
                        }
                        _ => body.clone(),
                    };
                    put(&dest, &data)?;
                    bytes += data.len() as u64;
                }
                Ok(bytes)
            })
            .sum::<io::Result<u64>>()
    }
    fn owns(&self) -> Vec<String> {
        vec![self.rel.clone()]
    }
}

// ---------------------------------------------------------------- XML folders (MedQuAD)

/// A folder of XML documents read with one record path (MedQuAD): one record per file,
/// replicas written beside the originals with re-keyed names, varied like XML records.
pub struct XmlFolder {
    rel: String,
    docs: Vec<(String, String)>,
    others: Vec<(String, Vec<u8>)>,
    rules: Rules,
}

impl XmlFolder {
    pub fn parse(fixtures: &Path, rel: &str, extension: &str, rules: Rules) -> io::Result<Self> {
        let dir = fixtures.join(rel);
        let mut docs = Vec::new();
        let mut others = Vec::new();
        for f in files_under(&dir)? {
            let body = std::fs::read(dir.join(&f))?;
            if f.ends_with(extension) {
                docs.push((f, String::from_utf8(body).map_err(|e| bad(e.to_string()))?));
            } else {
                others.push((f, body));
            }
        }
        if docs.is_empty() {
            return Err(bad("no documents"));
        }
        Ok(XmlFolder {
            rel: rel.to_string(),
            docs,
            others,
            rules,
        })
    }
}

impl Tree for XmlFolder {
    fn templates(&self) -> usize {
        self.docs.len()
    }
    fn write(&self, count: usize, cx: &Ctx, out: &Path) -> io::Result<u64> {
        let base = out.join(&self.rel);
        let n = self.docs.len();
        let mut bytes = 0u64;
        for (p, b) in &self.others {
            let mut f = create(&base.join(p))?;
            f.write_all(b)?;
            f.flush()?;
            bytes += b.len() as u64;
        }
        use rayon::prelude::*;
        let docs: io::Result<u64> = (0..count)
            .into_par_iter()
            .map(|i| {
                let (t, v, r) = cx.of(cx.content(i), n);
                // named after the record's position (unique even for duplicates)
                let name = rekey(&self.docs[i % n].0, (i / n) as u64, 5, false);
                let text = vary_xml(&self.docs[t].1, &self.rules, v, r);
                put(&base.join(name), text.as_bytes())?;
                Ok(text.len() as u64)
            })
            .sum();
        Ok(bytes + docs?)
    }
    fn owns(&self) -> Vec<String> {
        vec![self.rel.clone()]
    }
}

// ---------------------------------------------------------------- OBO

/// An OBO ontology: the header once, `[Term]` stanzas replicated (tags under their rules,
/// quoted values such as `def` and `synonym` varied inside the quotes), other stanzas
/// (`[Typedef]`) once at the end.
pub struct Obo {
    header: String,
    terms: Vec<Vec<String>>,
    tail: Vec<String>,
    rules: Rules,
}

impl Obo {
    pub fn parse(bytes: &[u8], rules: Rules) -> io::Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|e| bad(e.to_string()))?;
        let mut header = String::new();
        let mut stanzas: Vec<Vec<String>> = Vec::new();
        for l in text.lines() {
            let l = l.trim_end_matches('\r');
            if l.starts_with('[') && l.ends_with(']') {
                stanzas.push(vec![l.to_string()]);
            } else if let Some(s) = stanzas.last_mut() {
                if !l.trim().is_empty() {
                    s.push(l.to_string());
                }
            } else {
                header.push_str(l);
                header.push('\n');
            }
        }
        let (terms, other): (Vec<_>, Vec<_>) = stanzas.into_iter().partition(|s| s[0] == "[Term]");
        if terms.is_empty() {
            return Err(bad("no [Term] stanzas"));
        }
        Ok(Obo {
            header,
            terms,
            tail: other.into_iter().map(|s| s.join("\n")).collect(),
            rules,
        })
    }

    fn line(&self, l: &str, v: u64, r: u64) -> String {
        let Some((tag, value)) = l.split_once(": ") else {
            return l.to_string();
        };
        let rule = self.rules.get(tag);
        if rule.is_none() {
            return l.to_string();
        }
        if let Some(rest) = value.strip_prefix('"') {
            // the quoted part (with \" escapes), then the rest (`EXACT []`, `[refs]`)
            let b = rest.as_bytes();
            let mut end = None;
            let mut k = 0;
            while k < b.len() {
                match b[k] {
                    b'\\' => k += 2,
                    b'"' => {
                        end = Some(k);
                        break;
                    }
                    _ => k += 1,
                }
            }
            if let Some(e) = end {
                let inner = vary_str(&rest[..e], rule, v, r, tag);
                return format!("{tag}: \"{inner}\"{}", &rest[e + 1..]);
            }
        }
        format!("{tag}: {}", vary_str(value, rule, v, r, tag))
    }
}

impl Family for Obo {
    fn templates(&self) -> usize {
        self.terms.len()
    }
    fn head(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(self.header.as_bytes())
    }
    fn chunk(&self, range: std::ops::Range<usize>, cx: &Ctx, w: &mut Vec<u8>) -> io::Result<()> {
        let n = self.terms.len();
        for i in range {
            let (t, v, r) = cx.of(cx.content(i), n);
            for l in &self.terms[t] {
                let l = if v == 0 {
                    l.clone()
                } else {
                    self.line(l, v, r)
                };
                w.write_all(l.as_bytes())?;
                w.write_all(b"\n")?;
            }
            w.write_all(b"\n")?;
        }
        Ok(())
    }
    fn tail(&self, _count: usize, w: &mut dyn Write) -> io::Result<()> {
        for s in &self.tail {
            w.write_all(s.as_bytes())?;
            w.write_all(b"\n\n")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- Parquet

/// A Parquet file (Hugging Face hub layout: string, int64, float64 and bool columns): rows
/// replicated as JSON records under the rules, written with the fixture's schema,
/// uncompressed, in row groups of 4,096 rows.
pub struct ParquetTable {
    rel: String,
    schema: arrow_schema::SchemaRef,
    rows: Vec<Value>,
    rules: Rules,
}

impl ParquetTable {
    pub fn parse(path: &Path, rel: &str, rules: Rules) -> io::Result<Self> {
        use arrow_array::Array;
        use arrow_array::cast::AsArray;
        use arrow_array::types::{Float64Type, Int64Type};
        use arrow_schema::DataType;
        use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        let file = std::fs::File::open(path)?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(e.to_string()))?;
        let schema = builder.schema().clone();
        for f in schema.fields() {
            if !matches!(
                f.data_type(),
                DataType::Utf8 | DataType::Int64 | DataType::Float64 | DataType::Boolean
            ) {
                return Err(bad(format!("column type {} is copied", f.data_type())));
            }
        }
        let mut rows = Vec::new();
        for batch in builder.build().map_err(|e| bad(e.to_string()))? {
            let batch = batch.map_err(|e| bad(e.to_string()))?;
            for i in 0..batch.num_rows() {
                let mut m = Map::new();
                for (f, col) in schema.fields().iter().zip(batch.columns()) {
                    let x = if col.is_null(i) {
                        Value::Null
                    } else {
                        match f.data_type() {
                            DataType::Utf8 => json!(col.as_string::<i32>().value(i)),
                            DataType::Int64 => json!(col.as_primitive::<Int64Type>().value(i)),
                            DataType::Float64 => json!(col.as_primitive::<Float64Type>().value(i)),
                            _ => json!(col.as_boolean().value(i)),
                        }
                    };
                    m.insert(f.name().clone(), x);
                }
                rows.push(Value::Object(m));
            }
        }
        if rows.is_empty() {
            return Err(bad("no rows"));
        }
        Ok(ParquetTable {
            rel: rel.to_string(),
            schema,
            rows,
            rules,
        })
    }

    fn batch(&self, rows: &[Value]) -> io::Result<arrow_array::RecordBatch> {
        use arrow_array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
        use arrow_schema::DataType;
        let cols: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .map(|f| {
                let get = |r: &Value| r.get(f.name()).cloned().unwrap_or(Value::Null);
                let a: ArrayRef = match f.data_type() {
                    DataType::Utf8 => Arc::new(
                        rows.iter()
                            .map(|r| get(r).as_str().map(str::to_string))
                            .collect::<StringArray>(),
                    ),
                    DataType::Int64 => {
                        Arc::new(rows.iter().map(|r| get(r).as_i64()).collect::<Int64Array>())
                    }
                    DataType::Float64 => Arc::new(
                        rows.iter()
                            .map(|r| get(r).as_f64())
                            .collect::<Float64Array>(),
                    ),
                    _ => Arc::new(
                        rows.iter()
                            .map(|r| get(r).as_bool())
                            .collect::<BooleanArray>(),
                    ),
                };
                a
            })
            .collect();
        arrow_array::RecordBatch::try_new(self.schema.clone(), cols).map_err(|e| bad(e.to_string()))
    }
}

impl Tree for ParquetTable {
    fn templates(&self) -> usize {
        self.rows.len()
    }
    fn write(&self, count: usize, cx: &Ctx, out: &Path) -> io::Result<u64> {
        use parquet::arrow::ArrowWriter;
        use parquet::file::properties::WriterProperties;
        let dest: PathBuf = out.join(&self.rel);
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p)?;
        }
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(4096))
            .build();
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(&dest)?,
            self.schema.clone(),
            Some(props),
        )
        .map_err(|e| bad(e.to_string()))?;
        let n = self.rows.len();
        let mut buf = Vec::with_capacity(4096);
        for i in 0..count {
            let (t, v, r) = cx.of(cx.content(i), n);
            buf.push(vary_value(&self.rows[t], &self.rules, v, r));
            if buf.len() == 4096 || i + 1 == count {
                w.write(&self.batch(&buf)?)
                    .map_err(|e| bad(e.to_string()))?;
                buf.clear();
            }
        }
        w.close().map_err(|e| bad(e.to_string()))?;
        Ok(std::fs::metadata(&dest)?.len())
    }
    fn owns(&self) -> Vec<String> {
        vec![self.rel.clone()]
    }
}

/// The fixture's evidences, grown with generated ones to [`DDX_EVIDENCES`].
fn grow_evidences(ev: Map<String, Value>, rng: &mut Rng) -> Map<String, Value> {
    let mut ev_doc = ev;
    let mut k = 0usize;
    while ev_doc.len() < DDX_EVIDENCES {
        let code = format!("E_{k}");
        k += 1;
        if ev_doc.contains_key(&code) {
            continue;
        }
        let kind = match rng.below(100) {
            0..=74 => "B",
            75..=86 => "C",
            _ => "M",
        };
        let start = rng.pick(QUESTION_STARTS);
        let q = format!("{start} {}?", content_words(2 + rng.below(3), rng));
        let (values, meaning, default): (Vec<Value>, Map<String, Value>, Value) = match kind {
            "B" => (vec![], Map::new(), json!(0)),
            "C" => ((0..=10).map(|x| json!(x)).collect(), Map::new(), json!(0)),
            _ => {
                let n = 3 + rng.below(6);
                let mut m = Map::new();
                let mut vs = Vec::new();
                for j in 0..n {
                    let vcode = format!("V_{}", 1000 + k * 10 + j);
                    let w = content_words(1 + rng.below(2), rng);
                    m.insert(vcode.clone(), json!({"fr": w, "en": w}));
                    vs.push(json!(vcode));
                }
                let d = vs[0].clone();
                (vs, m, d)
            }
        };
        ev_doc.insert(
            code.clone(),
            json!({
                "name": code, "code_question": code, "question_fr": q, "question_en": q,
                "is_antecedent": rng.below(4) == 0, "default_value": default,
                "value_meaning": meaning, "possible-values": values, "data_type": kind,
            }),
        );
    }
    ev_doc
}

/// Every evidence's code, kind and values, in the document's order.
fn evidence_list(ev_doc: &Map<String, Value>) -> Vec<Evidence> {
    ev_doc
        .iter()
        .map(|(code, o)| Evidence {
            code: code.clone(),
            kind: o["data_type"]
                .as_str()
                .unwrap_or("B")
                .bytes()
                .next()
                .unwrap_or(b'B'),
            values: o["possible-values"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| match x {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// The fixture's conditions, grown with generated ones to [`DDX_CONDITIONS`].
fn grow_conditions(
    co: Map<String, Value>,
    evidences: &[Evidence],
    rng: &mut Rng,
) -> Map<String, Value> {
    let mut co_doc = co;
    while co_doc.len() < DDX_CONDITIONS {
        let w = content_words(2, rng);
        let kind = rng.pick(&["syndrome", "disease", "infection", "disorder", "deficiency"]);
        let mut name = format!("{w} {kind}");
        name[..1].make_ascii_uppercase();
        if co_doc.contains_key(&name) {
            continue;
        }
        let n = 8 + rng.below(14);
        let mut symptoms = Map::new();
        let mut antecedents = Map::new();
        for _ in 0..n {
            let e = &evidences[rng.below(evidences.len())];
            if rng.below(4) == 0 {
                antecedents.insert(e.code.clone(), json!({}));
            } else {
                symptoms.insert(e.code.clone(), json!({}));
            }
        }
        let icd = format!(
            "{}{:02}.{}",
            (b'A' + rng.below(26) as u8) as char,
            rng.below(100),
            rng.below(10)
        );
        co_doc.insert(
            name.clone(),
            json!({
                "condition_name": name, "cond-name-fr": name, "cond-name-eng": name,
                "icd10-id": icd, "symptoms": symptoms, "antecedents": antecedents,
                "severity": 1 + rng.below(5),
            }),
        );
    }
    co_doc
}

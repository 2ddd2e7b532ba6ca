//! One replicator per raw format family. Each parses a fixture file into template records and
//! re-emits `count` records in the same layout: record `i` is template `c % n` at variant `c`
//! (variant 0 = the fixture record unchanged), where `c = i` unless record `i` is chosen to be
//! an exact duplicate of an earlier record `c < i`. Ids and keys the format needs unique are
//! re-keyed with the emitted record's index.

use crate::text::{is_prose, perturb_numbers, substitute, vary, word_of_len};
use serde_json::Value;
use std::io::{self, Write};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Seeded choices for one output file.
pub struct Ctx {
    pub seed: u64,
    pub dup_rate: f64,
    /// Distinguishes files (their output path).
    pub key: String,
}

impl Ctx {
    fn hash(&self, what: &str, i: usize) -> u64 {
        xxh3_64_with_seed(format!("{}\0{what}\0{i}", self.key).as_bytes(), self.seed)
    }
    /// The content index of emitted record `i` (itself, or an earlier record it duplicates).
    pub fn content(&self, i: usize) -> usize {
        if i > 0 && self.dup_rate > 0.0 {
            let x = self.hash("dup", i);
            if ((x >> 11) as f64 / (1u64 << 53) as f64) < self.dup_rate {
                return (self.hash("of", i) % i as u64) as usize;
            }
        }
        i
    }
    /// (template index, variant) of content index `c` among `n` templates.
    pub fn of(&self, c: usize, n: usize) -> (usize, u64) {
        (
            c % n,
            if c < n {
                0
            } else {
                self.hash("variant", c) | 1
            },
        )
    }
}

/// A parsed fixture file that can be re-emitted at any size.
pub trait Family: Send + Sync {
    fn templates(&self) -> usize;
    fn emit(&self, count: usize, cx: &Ctx, w: &mut dyn Write) -> io::Result<()>;
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

pub fn vary_value(v: &Value, variant: u64) -> Value {
    if variant == 0 {
        return v.clone();
    }
    match v {
        Value::String(s) => Value::String(vary(s, variant)),
        Value::Array(a) => Value::Array(a.iter().map(|x| vary_value(x, variant)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), vary_value(x, variant)))
                .collect(),
        ),
        x => x.clone(),
    }
}

// ---------------------------------------------------------------- JSON Lines

pub struct JsonLines(Vec<Value>);

impl JsonLines {
    pub fn parse(bytes: &[u8]) -> io::Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|e| bad(e.to_string()))?;
        let recs = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| bad(e.to_string())))
            .collect::<io::Result<Vec<Value>>>()?;
        if recs.is_empty() {
            return Err(bad("no records"));
        }
        Ok(JsonLines(recs))
    }
}

impl Family for JsonLines {
    fn templates(&self) -> usize {
        self.0.len()
    }
    fn emit(&self, count: usize, cx: &Ctx, w: &mut dyn Write) -> io::Result<()> {
        for i in 0..count {
            let (t, v) = cx.of(cx.content(i), self.0.len());
            serde_json::to_writer(&mut *w, &vary_value(&self.0[t], v))?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- JSON documents

/// A JSON document whose records are the array or object at a JSON pointer (`sni-task`:
/// `/Instances`, whose `id`s are re-keyed).
pub struct JsonDoc {
    prefix: String,
    suffix: String,
    /// (key when the container is an object, record)
    items: Vec<(Option<String>, Value)>,
    keyed: bool,
    id_field: Option<&'static str>,
}

const MARK: &str = "\u{1}medsins-synth-records\u{1}";

impl JsonDoc {
    pub fn parse(bytes: &[u8], pointer: &str, id_field: Option<&'static str>) -> io::Result<Self> {
        let mut doc: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let slot = doc
            .pointer_mut(pointer)
            .ok_or_else(|| bad(format!("no container at `{pointer}`")))?;
        let container = std::mem::replace(slot, Value::String(MARK.into()));
        let (keyed, items): (bool, Vec<(Option<String>, Value)>) = match container {
            Value::Array(a) => (false, a.into_iter().map(|v| (None, v)).collect()),
            Value::Object(o) => (true, o.into_iter().map(|(k, v)| (Some(k), v)).collect()),
            _ => return Err(bad("records container is neither an array nor an object")),
        };
        if items.is_empty() {
            return Err(bad("no records"));
        }
        let pretty = bytes.windows(2).any(|w| w == b"\n ");
        let text = if pretty {
            serde_json::to_string_pretty(&doc)
        } else {
            serde_json::to_string(&doc)
        }
        .map_err(|e| bad(e.to_string()))?;
        let quoted = serde_json::to_string(MARK).map_err(|e| bad(e.to_string()))?;
        let at = text.find(&quoted).ok_or_else(|| bad("marker lost"))?;
        Ok(JsonDoc {
            prefix: text[..at].to_string(),
            suffix: text[at + quoted.len()..].to_string(),
            items,
            keyed,
            id_field,
        })
    }
}

impl Family for JsonDoc {
    fn templates(&self) -> usize {
        self.items.len()
    }
    fn emit(&self, count: usize, cx: &Ctx, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(self.prefix.as_bytes())?;
        w.write_all(if self.keyed { b"{\n" } else { b"[\n" })?;
        let n = self.items.len();
        for i in 0..count {
            let (t, v) = cx.of(cx.content(i), n);
            let (key, rec) = &self.items[t];
            let mut rec = vary_value(rec, v);
            let fresh = i >= n; // re-key every record past the fixture's own
            if fresh
                && let Some(f) = self.id_field
                && let Some(Value::String(id)) = rec.get(f).cloned()
            {
                rec[f] = Value::String(format!("{id}-s{i}"));
            }
            if i > 0 {
                w.write_all(b",\n")?;
            }
            if let Some(k) = key {
                let k = if fresh {
                    format!("{k}-s{i}")
                } else {
                    k.clone()
                };
                serde_json::to_writer(&mut *w, &k)?;
                w.write_all(b": ")?;
            }
            serde_json::to_writer(&mut *w, &rec)?;
        }
        w.write_all(if self.keyed { b"\n}" } else { b"\n]" })?;
        w.write_all(self.suffix.as_bytes())
    }
}

// ---------------------------------------------------------------- CSV / TSV

pub struct Table {
    bom: bool,
    delimiter: u8,
    header: Option<csv::StringRecord>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    pub fn parse(bytes: &[u8], delimiter: u8, header: bool) -> io::Result<Self> {
        let bom = bytes.starts_with(b"\xEF\xBB\xBF");
        let body = if bom { &bytes[3..] } else { bytes };
        let mut r = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        let mut rows: Vec<csv::StringRecord> = r
            .records()
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let header = if header && !rows.is_empty() {
            Some(rows.remove(0))
        } else {
            None
        };
        if rows.is_empty() {
            return Err(bad("no rows"));
        }
        Ok(Table {
            bom,
            delimiter,
            header,
            rows,
        })
    }
}

impl Family for Table {
    fn templates(&self) -> usize {
        self.rows.len()
    }
    fn emit(&self, count: usize, cx: &Ctx, w: &mut dyn Write) -> io::Result<()> {
        if self.bom {
            w.write_all(b"\xEF\xBB\xBF")?;
        }
        let mut cw = csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .flexible(true)
            .from_writer(w);
        if let Some(h) = &self.header {
            cw.write_record(h)?;
        }
        let n = self.rows.len();
        for i in 0..count {
            let (t, v) = cx.of(cx.content(i), n);
            cw.write_record(self.rows[t].iter().map(|f| {
                if is_prose(f) {
                    vary(f, v)
                } else {
                    perturb_numbers(f, v)
                }
            }))?;
        }
        cw.flush()?;
        Ok(())
    }
}

// ---------------------------------------------------------------- blank-line blocks

#[derive(Clone, Copy, PartialEq)]
pub enum BlockKind {
    /// Token-per-line sentences: tokens tagged `O` are varied (same length), and 1–3 `O`
    /// tokens are added before the final punctuation.
    Iob,
    /// PubTator documents: the PMID is re-keyed, a sentence appended to the abstract (offsets
    /// of the annotations stay valid).
    PubTator,
}

pub struct Blocks {
    kind: BlockKind,
    header: Option<String>,
    blocks: Vec<Vec<String>>,
}

impl Blocks {
    pub fn parse(bytes: &[u8], kind: BlockKind) -> io::Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|e| bad(e.to_string()))?;
        let mut blocks: Vec<Vec<String>> = Vec::new();
        let mut cur: Vec<String> = Vec::new();
        for l in text.lines() {
            if l.trim().is_empty() {
                if !cur.is_empty() {
                    blocks.push(std::mem::take(&mut cur));
                }
            } else {
                cur.push(l.trim_end_matches('\r').to_string());
            }
        }
        if !cur.is_empty() {
            blocks.push(cur);
        }
        let header = match blocks.first() {
            Some(b) if b[0].starts_with("-DOCSTART-") => Some(blocks.remove(0).join("\n")),
            _ => None,
        };
        if blocks.is_empty() {
            return Err(bad("no blocks"));
        }
        Ok(Blocks {
            kind,
            header,
            blocks,
        })
    }

    fn iob_block(block: &[String], v: u64) -> Vec<String> {
        let sep = if block[0].contains('\t') { '\t' } else { ' ' };
        let mut out: Vec<String> = block
            .iter()
            .map(|l| {
                let cols: Vec<&str> = l.split(sep).collect();
                if cols.len() >= 2 && cols[cols.len() - 1] == "O" {
                    let mut c: Vec<String> = cols.iter().map(|s| s.to_string()).collect();
                    c[0] = substitute(cols[0], v, 3);
                    c.join(&sep.to_string())
                } else {
                    l.clone()
                }
            })
            .collect();
        let last = block[block.len() - 1].split(sep).collect::<Vec<_>>();
        let extra = 1 + (v >> 3) % 3;
        let at = if last[0].chars().all(|c| c.is_ascii_punctuation()) {
            out.len() - 1
        } else {
            out.len()
        };
        for k in 0..extra {
            let len = 4 + ((v >> (8 + k * 4)) % 7) as usize;
            let word = word_of_len(len, v.rotate_left(k as u32 * 13 + 5)).unwrap_or("case");
            let mut c: Vec<&str> = last.clone();
            c[0] = word;
            let n = c.len();
            if n >= 2 {
                c[n - 1] = "O";
            }
            out.insert(at + k as usize, c.join(&sep.to_string()));
        }
        out
    }

    fn pubtator_block(block: &[String], v: u64, i: usize) -> Vec<String> {
        let pmid = block[0].split(['|', '\t']).next().unwrap_or("").to_string();
        let new = format!("{pmid}{i:07}");
        block
            .iter()
            .map(|l| {
                let rest = l.strip_prefix(pmid.as_str()).unwrap_or(l);
                if rest.starts_with("|a|") {
                    format!("{new}{rest} {}", crate::text::sentences(v))
                } else {
                    format!("{new}{rest}")
                }
            })
            .collect()
    }
}

impl Family for Blocks {
    fn templates(&self) -> usize {
        self.blocks.len()
    }
    fn emit(&self, count: usize, cx: &Ctx, w: &mut dyn Write) -> io::Result<()> {
        if let Some(h) = &self.header {
            write!(w, "{h}\n\n")?;
        }
        let n = self.blocks.len();
        for i in 0..count {
            let (t, v) = cx.of(cx.content(i), n);
            let b = &self.blocks[t];
            let lines = match (v, self.kind) {
                (0, _) => b.clone(),
                (_, BlockKind::Iob) => Self::iob_block(b, v),
                (_, BlockKind::PubTator) => Self::pubtator_block(b, v, i),
            };
            for l in lines {
                w.write_all(l.as_bytes())?;
                w.write_all(b"\n")?;
            }
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- XML

/// An XML document whose root's child elements are replicated (the record elements, or for
/// `//name` paths the root's children holding them), text between tags varied.
pub struct XmlDoc {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    sep: Vec<u8>,
    children: Vec<String>,
}

impl XmlDoc {
    pub fn parse(bytes: &[u8], records: &str) -> io::Result<Self> {
        use quick_xml::events::Event;
        let want: Option<String> = {
            let parts: Vec<&str> = records.trim_start_matches('/').split('/').collect();
            (!records.starts_with("//") && parts.len() == 2).then(|| parts[1].to_string())
        };
        let mut r = quick_xml::Reader::from_reader(bytes);
        let mut depth = 0usize;
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut open: Option<(usize, bool)> = None;
        loop {
            let before = r.buffer_position() as usize;
            let ev = r.read_event().map_err(|e| bad(e.to_string()))?;
            let after = r.buffer_position() as usize;
            match ev {
                Event::Start(e) => {
                    if depth == 1 {
                        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                        open = Some((before, want.as_ref().is_none_or(|w| *w == name)));
                    }
                    depth += 1;
                }
                Event::End(_) => {
                    depth -= 1;
                    if depth == 1
                        && let Some((s, keep)) = open.take()
                        && keep
                    {
                        spans.push((s, after));
                    }
                }
                Event::Empty(e) => {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    if depth == 1 && want.as_ref().is_none_or(|w| *w == name) {
                        spans.push((before, after));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if spans.is_empty() {
            return Err(bad("no record elements"));
        }
        // the reader reports positions after leading whitespace was consumed: move starts to '<'
        let spans: Vec<(usize, usize)> = spans
            .into_iter()
            .map(|(s, e)| {
                (
                    s + bytes[s..e].iter().position(|&c| c == b'<').unwrap_or(0),
                    e,
                )
            })
            .collect();
        let sep = if spans.len() > 1 {
            bytes[spans[0].1..spans[1].0].to_vec()
        } else {
            b"\n".to_vec()
        };
        let children = spans
            .iter()
            .map(|&(s, e)| String::from_utf8(bytes[s..e].to_vec()).map_err(|e| bad(e.to_string())))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(XmlDoc {
            prefix: bytes[..spans[0].0].to_vec(),
            suffix: bytes[spans[spans.len() - 1].1..].to_vec(),
            sep,
            children,
        })
    }

    fn vary_xml(s: &str, v: u64) -> String {
        let mut out = String::with_capacity(s.len() + 64);
        let mut rest = s;
        while let Some(lt) = rest.find('<') {
            out.push_str(&vary(&rest[..lt], v));
            let gt = rest[lt..]
                .find('>')
                .map(|g| lt + g + 1)
                .unwrap_or(rest.len());
            out.push_str(&rest[lt..gt]);
            rest = &rest[gt..];
        }
        out.push_str(&vary(rest, v));
        out
    }
}

impl Family for XmlDoc {
    fn templates(&self) -> usize {
        self.children.len()
    }
    fn emit(&self, count: usize, cx: &Ctx, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(&self.prefix)?;
        let n = self.children.len();
        for i in 0..count {
            let (t, v) = cx.of(cx.content(i), n);
            if i > 0 {
                w.write_all(&self.sep)?;
            }
            let c = &self.children[t];
            if v == 0 {
                w.write_all(c.as_bytes())?
            } else {
                w.write_all(Self::vary_xml(c, v).as_bytes())?
            }
        }
        w.write_all(&self.suffix)
    }
}

// ---------------------------------------------------------------- XLSX

/// Sheets of a workbook; the record sheet's data rows are replicated (header row once).
pub struct Workbook {
    sheets: Vec<(String, Vec<Vec<Option<String>>>)>,
    target: usize,
}

impl Workbook {
    pub fn parse(path: &std::path::Path, sheet: Option<&str>) -> io::Result<Self> {
        use calamine::{Data, Reader, Xlsx, open_workbook};
        let mut wb: Xlsx<_> =
            open_workbook(path).map_err(|e: calamine::XlsxError| bad(e.to_string()))?;
        let mut sheets = Vec::new();
        for name in wb.sheet_names() {
            let range = wb.worksheet_range(&name).map_err(|e| bad(e.to_string()))?;
            let rows: Vec<Vec<Option<String>>> = range
                .rows()
                .map(|r| {
                    r.iter()
                        .map(|c| {
                            if matches!(c, Data::Empty) {
                                None
                            } else {
                                Some(c.to_string())
                            }
                        })
                        .collect()
                })
                .filter(|r: &Vec<Option<String>>| r.iter().any(|c| c.is_some()))
                .collect();
            sheets.push((name, rows));
        }
        let target = match sheet {
            Some(s) => sheets
                .iter()
                .position(|(n, _)| n == s)
                .ok_or_else(|| bad(format!("no sheet `{s}`")))?,
            None => 0,
        };
        if sheets.get(target).is_none_or(|(_, r)| r.len() < 2) {
            return Err(bad("no data rows"));
        }
        Ok(Workbook { sheets, target })
    }
    pub fn templates(&self) -> usize {
        self.sheets[self.target].1.len() - 1
    }
    pub fn write(&self, count: usize, cx: &Ctx, path: &std::path::Path) -> io::Result<()> {
        let mut sheets = self.sheets.clone();
        let rows = &self.sheets[self.target].1;
        let n = rows.len() - 1;
        let mut out = vec![rows[0].clone()];
        for i in 0..count {
            let (t, v) = cx.of(cx.content(i), n);
            out.push(
                rows[t + 1]
                    .iter()
                    .map(|c| c.as_ref().map(|s| vary(s, v)))
                    .collect(),
            );
        }
        sheets[self.target].1 = out;
        medsins_scaffold::xlsx::write_xlsx(path, &sheets)
    }
}

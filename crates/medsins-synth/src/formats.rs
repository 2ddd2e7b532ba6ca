//! One replicator per raw format family. Each parses a fixture file into template records and
//! re-emits `count` records in the same layout.
//!
//! Emitted record `i` has a *content index* `c` (`c = i`, unless record `i` is drawn as an
//! exact duplicate of an earlier record `c < i`, see [`Ctx::content`]); content `c` is
//! template `c % n` in *replica round* `r = c / n` with variant `v` (round 0, `c < n`, is the
//! fixture record unchanged). The variant drives text variation and growth ([`crate::text`],
//! per the field [`Rules`]); the round re-keys ids (`Key`, `Refs`, `Code` rules), so that
//! round `r` of every file of a corpus uses the same new keys and joins between files resolve.
//! Keys an output format needs unique per emitted record (members of an id-keyed JSON object,
//! SNI instance ids) are re-keyed by the record's position instead.

use crate::rules::{Rule, Rules};
use crate::text::{
    Grow, Rng, grow, is_prose, perturb_numbers, recode, record_target, rekey, style_of, substitute,
    vary,
};
use serde_json::Value;
use std::borrow::Cow;
use std::io::{self, Write};
use std::ops::Range;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Seeded choices for one output file.
pub struct Ctx {
    pub seed: u64,
    pub dup_rate: f64,
    /// Distinguishes files (their output path).
    pub key: String,
    /// `seed` mixed with `key`, computed once
    mixed: u64,
}

impl Ctx {
    pub fn new(seed: u64, dup_rate: f64, key: String) -> Self {
        let mixed = xxh3_64_with_seed(key.as_bytes(), seed);
        Ctx {
            seed,
            dup_rate,
            key,
            mixed,
        }
    }
    pub fn hash(&self, what: &str, i: usize) -> u64 {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let w = what.as_bytes();
        let n = w.len().min(16);
        b[8..8 + n].copy_from_slice(&w[..n]);
        xxh3_64_with_seed(&b, self.mixed)
    }
    /// The earlier record that emitted record `i` copies, if it is drawn as a duplicate.
    fn dup_of(&self, i: usize) -> Option<usize> {
        if i > 0 && self.dup_rate > 0.0 {
            let x = self.hash("dup", i);
            if ((x >> 11) as f64 / (1u64 << 53) as f64) < self.dup_rate {
                return Some((self.hash("of", i) % i as u64) as usize);
            }
        }
        None
    }
    /// The content index of emitted record `i`: itself, or (for a duplicate) the content of
    /// the earlier record it copies, so that a duplicate equals a record actually emitted.
    pub fn content(&self, i: usize) -> usize {
        let mut c = i;
        while let Some(d) = self.dup_of(c) {
            c = d;
        }
        c
    }
    /// (template index, variant, round) of content index `c` among `n` templates.
    pub fn of(&self, c: usize, n: usize) -> (usize, u64, u64) {
        (
            c % n,
            if c < n {
                0
            } else {
                self.hash("variant", c) | 1
            },
            (c / n) as u64,
        )
    }
}

/// A parsed fixture file that can be re-emitted at any size: a head, the emitted records
/// (rendered in parallel chunks, written in order), a tail.
pub trait Family: Send + Sync {
    fn templates(&self) -> usize;
    /// Bytes before the first record.
    fn head(&self, _w: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    /// Emitted records `range`, with the separators that precede them, appended to `out`.
    fn chunk(&self, range: Range<usize>, cx: &Ctx, out: &mut Vec<u8>) -> io::Result<()>;
    /// Bytes after the last of `count` records.
    fn tail(&self, _count: usize, _w: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
    fn emit(&self, count: usize, cx: &Ctx, w: &mut (dyn Write + Send)) -> io::Result<()> {
        emit_chunked(self, count, cx, w)
    }
}

/// Records per parallel chunk, and chunks in flight per thread: memory stays at a few
/// windows of chunks whatever the file's size.
const CHUNK: usize = 256;
const IN_FLIGHT: usize = 4;

/// Head, then records in windows of chunks rendered in parallel — the next window while the
/// previous one is written — in order, then the tail.
pub fn emit_chunked<F: Family + ?Sized>(
    f: &F,
    count: usize,
    cx: &Ctx,
    w: &mut (dyn Write + Send),
) -> io::Result<()> {
    use rayon::prelude::*;
    f.head(w)?;
    let chunks = count.div_ceil(CHUNK);
    let window = (rayon::current_num_threads() * IN_FLIGHT).max(1);
    // written buffers are reused (no fresh pages for every chunk)
    let spare: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    let render = |from: usize, to: usize| -> Vec<io::Result<Vec<u8>>> {
        (from..to)
            .into_par_iter()
            .map(|c| {
                let mut b = spare
                    .lock()
                    .ok()
                    .and_then(|mut s| s.pop())
                    .unwrap_or_default();
                f.chunk(c * CHUNK..((c + 1) * CHUNK).min(count), cx, &mut b)?;
                Ok(b)
            })
            .collect()
    };
    let write = |w: &mut (dyn Write + Send), bufs: Vec<io::Result<Vec<u8>>>| -> io::Result<()> {
        for b in bufs {
            let mut b = b?;
            w.write_all(&b)?;
            b.clear();
            if let Ok(mut s) = spare.lock() {
                s.push(b);
            }
        }
        Ok(())
    };
    let mut pending: Option<Vec<io::Result<Vec<u8>>>> = None;
    let mut start = 0;
    while start < chunks {
        let end = (start + window).min(chunks);
        let bufs = match pending.take() {
            Some(prev) => {
                let (bufs, wrote) = rayon::join(|| render(start, end), || write(&mut *w, prev));
                wrote?;
                bufs
            }
            None => render(start, end),
        };
        pending = Some(bufs);
        start = end;
    }
    if let Some(prev) = pending {
        write(&mut *w, prev)?;
    }
    f.tail(count, w)
}

pub fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// One string field under a rule (`None`: the default variation).
pub fn vary_str(s: &str, rule: Option<Rule>, v: u64, r: u64, field: &str) -> String {
    if v == 0 && r == 0 {
        return s.to_string();
    }
    match rule {
        None => vary(s, v),
        Some(Rule::Grow(mean, how)) => grow(s, record_target(mean, v, field), how, v, field),
        Some(Rule::Embeds(mean, _)) => grow(s, record_target(mean, v, field), Grow::End, v, field),
        Some(Rule::Extend(mean)) => grow(s, record_target(mean, v, field), Grow::Spread, v, field),
        Some(Rule::Span) | Some(Rule::Tokens(..)) => substitute(s, v, 4),
        Some(Rule::Keep) => s.to_string(),
        Some(Rule::Key) => rekey(s, r, 1, true),
        Some(Rule::KeyEvery(k)) => rekey(s, r / k.max(1), 1, true),
        Some(Rule::Refs) => rekey(s, r, 5, false),
        Some(Rule::Code) => recode(s, r),
        Some(Rule::Name) => {
            if r == 0 {
                s.to_string()
            } else {
                format!("{} type {}", substitute(s, v, 2), r + 1)
            }
        }
    }
}

// ---------------------------------------------------------------- JSON values

/// Varies a JSON record: each member under the rule of its name (inherited by its children
/// when the member itself has one), strings otherwise by the default variation.
pub fn vary_value(x: &Value, rules: &Rules, v: u64, r: u64) -> Value {
    if v == 0 && r == 0 {
        return x.clone();
    }
    let mut out = walk(x, rules, None, "", v, r);
    if let Value::Object(o) = &mut out {
        post_record(o, x, rules, v);
    }
    out
}

fn walk(x: &Value, rules: &Rules, rule: Option<Rule>, field: &str, v: u64, r: u64) -> Value {
    match x {
        Value::String(s) => Value::String(vary_str(s, rule, v, r, field)),
        Value::Number(n) => match (rule, n.as_u64()) {
            (Some(Rule::Key), Some(u)) if r > 0 => format!("{r}{u}")
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| x.clone()),
            _ => x.clone(),
        },
        Value::Array(a) => match rule {
            Some(Rule::Extend(mean)) if a.iter().all(Value::is_string) => {
                Value::Array(extend_list(a, record_target(mean, v, field), v, field))
            }
            Some(Rule::Grow(mean, how)) if !a.is_empty() && a.iter().all(Value::is_string) => {
                let each = record_target(mean, v, field) / a.len();
                Value::Array(
                    a.iter()
                        .enumerate()
                        .map(|(k, e)| {
                            let s = e.as_str().unwrap_or("");
                            Value::String(grow(s, each, how, v ^ (k as u64 + 1) << 20, field))
                        })
                        .collect(),
                )
            }
            Some(Rule::Tokens(..)) => x.clone(),
            _ => Value::Array(
                a.iter()
                    .map(|e| walk(e, rules, rule, field, v, r))
                    .collect(),
            ),
        },
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, e)| {
                    let rule = rules.get(k).or(match rule {
                        Some(Rule::Keep | Rule::Span) => rule,
                        _ => None,
                    });
                    (k.clone(), walk(e, rules, rule, k, v, r))
                })
                .collect(),
        ),
        _ => x.clone(),
    }
}

/// Record-level rules that tie two fields together (`Tokens`, `Embeds`).
fn post_record(o: &mut serde_json::Map<String, Value>, orig: &Value, rules: &Rules, v: u64) {
    for (field, rule) in &rules.0 {
        match rule {
            Rule::Embeds(_, inner) => {
                let (Some(Value::String(orig_inner)), Some(Value::String(new_inner))) =
                    (orig.get(*inner), o.get(*inner).cloned())
                else {
                    continue;
                };
                let quoted = substitute(orig_inner.trim(), v, 4);
                if quoted.is_empty() {
                    continue;
                }
                if let Some(Value::String(outer)) = o.get_mut(*field)
                    && let Some(at) = outer.find(&quoted)
                {
                    outer.replace_range(at..at + quoted.len(), new_inner.trim());
                }
            }
            Rule::Tokens(mean, text_field) => {
                let Some(Value::Array(sents)) = o.get(*field).cloned() else {
                    continue;
                };
                let Some(Value::Array(toks)) = sents.first() else {
                    continue;
                };
                let toks: Vec<String> = toks
                    .iter()
                    .map(|t| substitute(t.as_str().unwrap_or(""), v, 4))
                    .collect();
                let have: usize = toks.iter().map(|t| t.len() + 1).sum();
                let target = record_target(*mean, v, field);
                let mut rng = Rng::new(v ^ 0x70c5);
                let mut words: Vec<String> = Vec::new();
                let mut n = have;
                while words.is_empty() || n < target {
                    let w = crate::text::filler(style_of("a b"), 4, &mut rng);
                    let w = w
                        .trim_end_matches('.')
                        .split(' ')
                        .next()
                        .unwrap_or("case")
                        .to_lowercase();
                    n += w.len() + 1;
                    words.push(w);
                }
                let at = if toks
                    .last()
                    .is_some_and(|t| t.chars().all(|c| c.is_ascii_punctuation()))
                {
                    toks.len() - 1
                } else {
                    toks.len()
                };
                let mut new_toks = toks.clone();
                for (k, w) in words.iter().enumerate() {
                    new_toks.insert(at + k, w.clone());
                }
                let mut new_sents = sents.clone();
                new_sents[0] = Value::Array(new_toks.into_iter().map(Value::String).collect());
                o.insert(field.to_string(), Value::Array(new_sents));
                if let Some(Value::String(t)) = orig.get(*text_field) {
                    let t = substitute(t, v, 4);
                    let body = t.trim_end();
                    let cut = if body.ends_with(['.', '!', '?']) {
                        body.len() - 1
                    } else {
                        body.len()
                    };
                    let s = format!("{} {}{}", &t[..cut], words.join(" "), &t[cut..]);
                    o.insert(text_field.to_string(), Value::String(s));
                }
            }
            _ => {}
        }
    }
}

/// A list of sentences with new sentences appended (styled, and wrapped like `<S> … </S>`,
/// as the list's first element) until it has about `target` characters.
fn extend_list(a: &[Value], target: usize, v: u64, field: &str) -> Vec<Value> {
    let mut out: Vec<Value> = a
        .iter()
        .map(|e| Value::String(vary(e.as_str().unwrap_or(""), v)))
        .collect();
    let first = a.first().and_then(Value::as_str).unwrap_or("");
    let (pre, post) = wrapper(first);
    let style = if first.is_empty() {
        style_of("a tokenized sentence .")
    } else {
        style_of(first)
    };
    let mut rng = Rng::new(xxh3_64_with_seed(field.as_bytes(), v));
    let mut have: usize = out.iter().map(|e| e.as_str().map_or(0, str::len)).sum();
    while have < target {
        let s = crate::text::filler(style, 60 + rng.below(120), &mut rng);
        have += s.len() + 1;
        out.push(Value::String(format!("{pre}{s}{post}")));
    }
    out
}

/// `<S> ` and ` </S>` of `<S> text . </S>`.
fn wrapper(s: &str) -> (&str, &str) {
    if s.starts_with('<')
        && s.ends_with('>')
        && let (Some(a), Some(b)) = (s.find("> "), s.rfind(" </"))
        && a < b
    {
        return (&s[..a + 2], &s[b..]);
    }
    ("", "")
}

// ---------------------------------------------------------------- JSON Lines

pub struct JsonLines {
    recs: Vec<Value>,
    rules: Rules,
}

impl JsonLines {
    pub fn parse(bytes: &[u8], rules: Rules) -> io::Result<Self> {
        let text = std::str::from_utf8(bytes).map_err(|e| bad(e.to_string()))?;
        let recs = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| bad(e.to_string())))
            .collect::<io::Result<Vec<Value>>>()?;
        if recs.is_empty() {
            return Err(bad("no records"));
        }
        Ok(JsonLines { recs, rules })
    }
}

impl Family for JsonLines {
    fn templates(&self) -> usize {
        self.recs.len()
    }
    fn chunk(&self, range: Range<usize>, cx: &Ctx, w: &mut Vec<u8>) -> io::Result<()> {
        for i in range {
            let (t, v, r) = cx.of(cx.content(i), self.recs.len());
            serde_json::to_writer(&mut *w, &vary_value(&self.recs[t], &self.rules, v, r))?;
            w.write_all(b"\n")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- JSON documents

/// A JSON document whose records are the array or object at a JSON pointer (`sni-task`:
/// `/Instances`, whose `id`s are re-keyed per record).
pub struct JsonDoc {
    prefix: String,
    suffix: String,
    /// (key when the container is an object, record)
    items: Vec<(Option<String>, Value)>,
    keyed: bool,
    id_field: Option<&'static str>,
    /// object keys get the round prefix (all their digit runs have one length), else `-s<i>`
    prefix_keys: bool,
    rules: Rules,
}

const MARK: &str = "\u{1}medsins-synth-records\u{1}";

fn first_digits(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let start = b.iter().position(u8::is_ascii_digit)?;
    Some(b[start..].iter().take_while(|c| c.is_ascii_digit()).count())
}

impl JsonDoc {
    pub fn parse(
        bytes: &[u8],
        pointer: &str,
        id_field: Option<&'static str>,
        rules: Rules,
    ) -> io::Result<Self> {
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
        let lens: std::collections::BTreeSet<Option<usize>> = items
            .iter()
            .filter_map(|(k, _)| k.as_deref().map(first_digits))
            .collect();
        let prefix_keys = lens.len() == 1 && lens.iter().all(Option::is_some);
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
            prefix_keys,
            rules,
        })
    }
}

impl Family for JsonDoc {
    fn templates(&self) -> usize {
        self.items.len()
    }
    fn head(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(self.prefix.as_bytes())?;
        w.write_all(if self.keyed { b"{\n" } else { b"[\n" })
    }
    fn tail(&self, _count: usize, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(if self.keyed { b"\n}" } else { b"\n]" })?;
        w.write_all(self.suffix.as_bytes())
    }
    fn chunk(&self, range: Range<usize>, cx: &Ctx, w: &mut Vec<u8>) -> io::Result<()> {
        let n = self.items.len();
        for i in range {
            let (t, v, r) = cx.of(cx.content(i), n);
            let rec = &self.items[t].1;
            let mut rec = vary_value(rec, &self.rules, v, r);
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
            // object keys follow the record's position (unique even for duplicates)
            if let Some(k) = &self.items[i % n].0 {
                let k = if !fresh {
                    k.clone()
                } else if self.prefix_keys {
                    rekey(k, (i / n) as u64, 1, true)
                } else {
                    format!("{k}-s{i}")
                };
                serde_json::to_writer(&mut *w, &k)?;
                w.write_all(b": ")?;
            }
            serde_json::to_writer(&mut *w, &rec)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- CSV / TSV

/// What a column's non-prose values look like in the fixture, for redrawing them.
#[derive(Clone, Debug)]
enum Column {
    /// Numbers with more than 3 distinct values: redrawn uniformly in [min, max] with the
    /// same decimals (zero-padded to the cell's width when the fixture pads).
    Numeric {
        min: f64,
        max: f64,
        decimals: usize,
        padded: bool,
    },
    /// Few distinct values, or values that repeat: half the time another of them.
    Categorical(Vec<String>),
    /// Distinct free values (dates, codes): numbers inside perturbed.
    Free,
}

fn numeric(s: &str) -> Option<(f64, usize)> {
    let t = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.is_empty()
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    Some((s.parse().ok()?, frac.len()))
}

fn columns_of(rows: &[Vec<String>]) -> Vec<Column> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    (0..width)
        .map(|j| {
            let vals: Vec<&str> = rows
                .iter()
                .filter_map(|r| r.get(j).map(String::as_str))
                .filter(|s| !s.is_empty() && !is_prose(s))
                .collect();
            let mut distinct: Vec<String> = vals.iter().map(|s| s.to_string()).collect();
            distinct.sort();
            distinct.dedup();
            if vals.is_empty() {
                return Column::Free;
            }
            let nums: Option<Vec<(f64, usize)>> = vals.iter().map(|s| numeric(s)).collect();
            match nums {
                Some(ns) if distinct.len() > 3 => Column::Numeric {
                    min: ns.iter().map(|x| x.0).fold(f64::INFINITY, f64::min),
                    max: ns.iter().map(|x| x.0).fold(f64::NEG_INFINITY, f64::max),
                    decimals: ns.iter().map(|x| x.1).max().unwrap_or(0),
                    padded: vals
                        .iter()
                        .any(|s| s.len() > 1 && s.starts_with('0') && !s.starts_with("0.")),
                },
                _ if distinct.len() <= 3 || distinct.len() < vals.len() => {
                    Column::Categorical(distinct)
                }
                _ => Column::Free,
            }
        })
        .collect()
}

/// A table cell under its column's rule, or redrawn from its column.
fn vary_cell<'a>(
    s: &'a str,
    rule: Option<Rule>,
    col: Option<&'a Column>,
    v: u64,
    r: u64,
    field: &str,
    j: usize,
) -> Cow<'a, str> {
    if rule.is_some() {
        return Cow::Owned(vary_str(s, rule, v, r, field));
    }
    if v == 0 || s.is_empty() {
        return Cow::Borrowed(s);
    }
    let x = xxh3_64_with_seed(&(j as u64).to_le_bytes(), v);
    // the column's own kind of value first (never prose), without the prose test
    match col {
        Some(Column::Numeric {
            min,
            max,
            decimals,
            padded,
        }) if numeric(s).is_some() => {
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            let val = min + (max - min) * u;
            let out = format!("{val:.decimals$}");
            return Cow::Owned(if *padded && out.len() < s.len() {
                format!("{out:0>w$}", w = s.len())
            } else {
                out
            });
        }
        Some(Column::Categorical(vals)) if vals.binary_search_by(|x| x.as_str().cmp(s)).is_ok() => {
            return if x & 1 == 1 {
                Cow::Borrowed(vals[((x >> 8) % vals.len() as u64) as usize].as_str())
            } else {
                Cow::Borrowed(s)
            };
        }
        _ => {}
    }
    if is_prose(s) {
        return Cow::Owned(vary(s, v));
    }
    match col {
        Some(Column::Categorical(_)) => Cow::Borrowed(s),
        _ => Cow::Owned(perturb_numbers(s, v)),
    }
}

pub struct Table {
    bom: bool,
    delimiter: u8,
    header: Option<csv::StringRecord>,
    rows: Vec<Vec<String>>,
    cols: Vec<Column>,
    /// rule of each column (by header name)
    col_rules: Vec<(String, Option<Rule>)>,
}

impl Table {
    pub fn parse(bytes: &[u8], delimiter: u8, header: bool, rules: &Rules) -> io::Result<Self> {
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
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r.iter().map(str::to_string).collect())
            .collect();
        let cols = columns_of(&rows);
        let width = rows.iter().map(Vec::len).max().unwrap_or(0);
        let col_rules = (0..width)
            .map(|j| {
                let name = header
                    .as_ref()
                    .and_then(|h| h.get(j))
                    .unwrap_or("")
                    .to_string();
                let rule = rules.get(&name);
                (name, rule)
            })
            .collect();
        Ok(Table {
            bom,
            delimiter,
            header,
            rows,
            cols,
            col_rules,
        })
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.as_ref()?.iter().position(|h| h == name)
    }

    /// Row `t` as emitted for variant `v`, round `r`.
    pub fn row(&self, t: usize, v: u64, r: u64) -> Vec<String> {
        self.row_cells(t, v, r)
            .into_iter()
            .map(Cow::into_owned)
            .collect()
    }

    /// [`Table::row`], borrowing the cells that do not change.
    pub fn row_cells(&self, t: usize, v: u64, r: u64) -> Vec<Cow<'_, str>> {
        self.rows[t]
            .iter()
            .enumerate()
            .map(|(j, f)| {
                let (name, rule) = self
                    .col_rules
                    .get(j)
                    .map(|(n, r)| (n.as_str(), *r))
                    .unwrap_or(("", None));
                if v == 0 && r == 0 {
                    Cow::Borrowed(f.as_str())
                } else {
                    vary_cell(f, rule, self.cols.get(j), v, r, name, j)
                }
            })
            .collect()
    }

    pub fn header(&self) -> Option<&csv::StringRecord> {
        self.header.as_ref()
    }
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// A CSV writer for data rows only (no BOM, no header).
    pub fn rows_writer<'a>(&self, w: &'a mut Vec<u8>) -> csv::Writer<&'a mut Vec<u8>> {
        csv::WriterBuilder::new()
            .delimiter(self.delimiter)
            .flexible(true)
            .from_writer(w)
    }

    /// A CSV writer that has written the BOM and the header.
    pub fn writer<'a>(&self, w: &'a mut dyn Write) -> io::Result<csv::Writer<&'a mut dyn Write>> {
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
        Ok(cw)
    }
}

impl Family for Table {
    fn templates(&self) -> usize {
        self.rows.len()
    }
    fn head(&self, w: &mut dyn Write) -> io::Result<()> {
        self.writer(w)?.flush()
    }
    fn chunk(&self, range: Range<usize>, cx: &Ctx, w: &mut Vec<u8>) -> io::Result<()> {
        let mut cw = self.rows_writer(w);
        let n = self.rows.len();
        for i in range {
            let (t, v, r) = cx.of(cx.content(i), n);
            cw.write_record(self.row_cells(t, v, r).iter().map(|c| c.as_bytes()))?;
        }
        cw.flush()
    }
}

// ---------------------------------------------------------------- blank-line blocks

#[derive(Clone, Copy, PartialEq)]
pub enum BlockKind {
    /// Token-per-line sentences: tokens tagged `O` are varied (same length), and `O` tokens
    /// are inserted (never before an `I-` token, so entities stay whole) until the sentence has
    /// its target length.
    Iob,
    /// PubTator documents: the PMID is re-keyed, sentences appended to the abstract (offsets
    /// of the annotations stay valid).
    PubTator,
}

pub struct Blocks {
    kind: BlockKind,
    header: Option<String>,
    blocks: Vec<Vec<String>>,
    /// mean sentence length (IOB: `tokens` rule) or abstract length (PubTator: `abstract`)
    target: Option<usize>,
}

impl Blocks {
    pub fn parse(bytes: &[u8], kind: BlockKind, rules: &Rules) -> io::Result<Self> {
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
        let target = match rules.get(if kind == BlockKind::Iob {
            "tokens"
        } else {
            "abstract"
        }) {
            Some(Rule::Grow(n, _)) => Some(n),
            _ => None,
        };
        Ok(Blocks {
            kind,
            header,
            blocks,
            target,
        })
    }

    fn iob_block(&self, block: &[String], v: u64) -> Vec<String> {
        let sep = if block[0].contains('\t') { '\t' } else { ' ' };
        let sep_s = sep.to_string();
        let tag = |l: &str| l.rsplit(sep).next().unwrap_or("").to_string();
        let mut out: Vec<String> = block
            .iter()
            .map(|l| {
                let cols: Vec<&str> = l.split(sep).collect();
                if cols.len() >= 2 && cols[cols.len() - 1] == "O" {
                    let mut c: Vec<String> = cols.iter().map(|s| s.to_string()).collect();
                    c[0] = substitute(cols[0], v, 3);
                    c.join(&sep_s)
                } else {
                    l.clone()
                }
            })
            .collect();
        let last: Vec<&str> = block[block.len() - 1].split(sep).collect();
        let have: usize = block
            .iter()
            .map(|l| l.split(sep).next().unwrap_or("").len() + 1)
            .sum();
        let target = self
            .target
            .map(|m| record_target(m, v, "tokens"))
            .unwrap_or(0);
        let mut rng = Rng::new(v ^ 0x10b);
        let mut n = have;
        let mut k = 0usize;
        while k == 0 || n < target {
            let words = crate::text::filler(style_of("a b"), 4, &mut rng).to_lowercase();
            let word = words
                .trim_end_matches('.')
                .split(' ')
                .next()
                .unwrap_or("case");
            let mut c: Vec<&str> = last.clone();
            c[0] = word;
            let len = c.len();
            if len >= 2 {
                c[len - 1] = "O";
            }
            // before the final punctuation, or at a random place; never before an `I` token
            // (inside an entity), then at the very end
            let p = if k == 0 || rng.below(2) == 0 {
                let p = out.len() - 1;
                if out[p]
                    .split(sep)
                    .next()
                    .unwrap_or("")
                    .chars()
                    .all(|c| c.is_ascii_punctuation())
                {
                    p
                } else {
                    out.len()
                }
            } else {
                rng.below(out.len() + 1)
            };
            let at = if p < out.len() && tag(&out[p]).starts_with('I') {
                out.len()
            } else {
                p
            };
            n += word.len() + 1;
            out.insert(at, c.join(&sep_s));
            k += 1;
        }
        out
    }

    fn pubtator_block(&self, block: &[String], v: u64, i: usize) -> Vec<String> {
        let pmid = block[0].split(['|', '\t']).next().unwrap_or("").to_string();
        let new = format!("{pmid}{i:07}");
        block
            .iter()
            .map(|l| {
                let rest = l.strip_prefix(pmid.as_str()).unwrap_or(l);
                if let Some(abs) = rest.strip_prefix("|a|") {
                    let t = self
                        .target
                        .map(|m| record_target(m, v, "abstract"))
                        .unwrap_or(0);
                    format!("{new}|a|{}", grow(abs, t, Grow::End, v, "abstract"))
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
    fn head(&self, w: &mut dyn Write) -> io::Result<()> {
        if let Some(h) = &self.header {
            write!(w, "{h}\n\n")?;
        }
        Ok(())
    }
    fn chunk(&self, range: Range<usize>, cx: &Ctx, w: &mut Vec<u8>) -> io::Result<()> {
        let n = self.blocks.len();
        for i in range {
            let (t, v, _) = cx.of(cx.content(i), n);
            let b = &self.blocks[t];
            let lines = match (v, self.kind) {
                (0, _) => b.clone(),
                (_, BlockKind::Iob) => self.iob_block(b, v),
                (_, BlockKind::PubTator) => self.pubtator_block(b, v, i),
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

/// Varies an XML fragment: text nodes under the rule of their element's name, attribute
/// values under `@name` rules; tags and markup otherwise untouched.
pub fn vary_xml(s: &str, rules: &Rules, v: u64, r: u64) -> String {
    if v == 0 && r == 0 {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() * 2 + 64);
    let mut stack: Vec<String> = Vec::new();
    let mut rest = s;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        if !text.trim().is_empty() {
            let name = stack.last().map(String::as_str).unwrap_or("");
            out.push_str(&vary_str(text, rules.get(name), v, r, name));
        } else {
            out.push_str(text);
        }
        let gt = rest[lt..]
            .find('>')
            .map(|g| lt + g + 1)
            .unwrap_or(rest.len());
        let tag = &rest[lt..gt];
        out.push_str(&vary_tag(tag, rules, v, r));
        if let Some(close) = tag.strip_prefix("</") {
            let name = close.trim_end_matches('>').trim();
            if let Some(p) = stack.iter().rposition(|n| n == name) {
                stack.truncate(p);
            }
        } else if !tag.starts_with("<?") && !tag.starts_with("<!") && !tag.ends_with("/>") {
            let name: String = tag[1..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                .collect();
            stack.push(name);
        }
        rest = &rest[gt..];
    }
    let name = stack.last().map(String::as_str).unwrap_or("");
    if rest.trim().is_empty() {
        out.push_str(rest);
    } else {
        out.push_str(&vary_str(rest, rules.get(name), v, r, name));
    }
    out
}

/// Attribute values of a start tag under their `@name` rules.
fn vary_tag(tag: &str, rules: &Rules, v: u64, r: u64) -> String {
    if tag.starts_with("</") || !tag.contains('=') {
        return tag.to_string();
    }
    let mut out = String::with_capacity(tag.len() + 16);
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name_start = rest[..eq]
            .rfind(|c: char| c.is_whitespace())
            .map(|p| p + 1)
            .unwrap_or(0);
        let name = &rest[name_start..eq];
        let vstart = eq + 2;
        let Some(vlen) = rest[vstart..].find('"') else {
            break;
        };
        let value = &rest[vstart..vstart + vlen];
        out.push_str(&rest[..vstart]);
        let key = format!("@{name}");
        match rules.get(&key) {
            Some(rule) => out.push_str(&vary_str(value, Some(rule), v, r, &key)),
            None => out.push_str(value),
        }
        rest = &rest[vstart + vlen..];
    }
    out.push_str(rest);
    out
}

/// An XML document whose root's child elements are replicated (the record elements; for
/// `//name` paths, the root's children that hold such elements).
pub struct XmlDoc {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    sep: Vec<u8>,
    children: Vec<String>,
    /// (position after which the child goes, child) for root children kept once in place
    fixed: Vec<(usize, String)>,
    rules: Rules,
}

impl XmlDoc {
    pub fn parse(bytes: &[u8], records: &str, rules: Rules) -> io::Result<Self> {
        use quick_xml::events::Event;
        let deep: Option<String> = records.strip_prefix("//").map(str::to_string);
        let want: Option<String> = {
            let parts: Vec<&str> = records.trim_start_matches('/').split('/').collect();
            (deep.is_none() && parts.len() == 2).then(|| parts[1].to_string())
        };
        let mut r = quick_xml::Reader::from_reader(bytes);
        let mut depth = 0usize;
        // (start, end, is a record holder)
        let mut spans: Vec<(usize, usize, bool)> = Vec::new();
        let mut open: Option<(usize, bool)> = None;
        loop {
            let before = r.buffer_position() as usize;
            let ev = r.read_event().map_err(|e| bad(e.to_string()))?;
            let after = r.buffer_position() as usize;
            match ev {
                Event::Start(e) => {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    if depth == 1 {
                        let keep = match (&want, &deep) {
                            (Some(w), _) => *w == name,
                            (None, Some(d)) => *d == name,
                            _ => true,
                        };
                        open = Some((before, keep));
                    } else if depth > 1
                        && let (Some(d), Some((_, keep))) = (&deep, open.as_mut())
                        && *d == name
                    {
                        *keep = true;
                    }
                    depth += 1;
                }
                Event::End(_) => {
                    depth -= 1;
                    if depth == 1
                        && let Some((s, keep)) = open.take()
                    {
                        spans.push((s, after, keep));
                    }
                }
                Event::Empty(e) => {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    if depth == 1 {
                        let keep = want.as_ref().or(deep.as_ref()).is_none_or(|w| *w == name);
                        spans.push((before, after, keep));
                    }
                }
                Event::Eof => break,
                _ => {}
            }
        }
        // the reader reports positions after leading whitespace was consumed: move starts to '<'
        let spans: Vec<(usize, usize, bool)> = spans
            .into_iter()
            .map(|(s, e, k)| {
                (
                    s + bytes[s..e].iter().position(|&c| c == b'<').unwrap_or(0),
                    e,
                    k,
                )
            })
            .collect();
        let first = spans
            .iter()
            .position(|s| s.2)
            .ok_or_else(|| bad("no record elements"))?;
        let last = spans.iter().rposition(|s| s.2).unwrap_or(first);
        let text = |a: usize, b: usize| {
            String::from_utf8(bytes[a..b].to_vec()).map_err(|e| bad(e.to_string()))
        };
        let recs: Vec<&(usize, usize, bool)> = spans.iter().filter(|s| s.2).collect();
        let sep = if recs.len() > 1 {
            bytes[recs[0].1..recs[1].0].to_vec()
        } else {
            b"\n".to_vec()
        };
        let mut children = Vec::new();
        let mut fixed = Vec::new();
        for (k, s) in spans[first..=last].iter().enumerate() {
            if s.2 {
                children.push(text(s.0, s.1)?);
            } else {
                fixed.push((k, text(s.0, s.1)?));
            }
        }
        Ok(XmlDoc {
            prefix: bytes[..spans[first].0].to_vec(),
            suffix: bytes[spans[last].1..].to_vec(),
            sep,
            children,
            fixed,
            rules,
        })
    }
}

impl Family for XmlDoc {
    fn templates(&self) -> usize {
        self.children.len()
    }
    fn head(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(&self.prefix)
    }
    fn chunk(&self, range: Range<usize>, cx: &Ctx, w: &mut Vec<u8>) -> io::Result<()> {
        let n = self.children.len();
        for i in range {
            let (t, v, r) = cx.of(cx.content(i), n);
            if i > 0 {
                w.write_all(&self.sep)?;
            }
            let c = &self.children[t];
            if v == 0 {
                w.write_all(c.as_bytes())?
            } else {
                w.write_all(vary_xml(c, &self.rules, v, r).as_bytes())?
            }
        }
        Ok(())
    }
    fn tail(&self, _count: usize, w: &mut dyn Write) -> io::Result<()> {
        // children that are not records (e.g. a chapter without `//name` elements), once
        for (_, c) in &self.fixed {
            w.write_all(&self.sep)?;
            w.write_all(c.as_bytes())?;
        }
        w.write_all(&self.suffix)
    }
}

// ---------------------------------------------------------------- XLSX

/// Sheets of a workbook; the record sheet's data rows are replicated (header row once).
pub struct Workbook {
    sheets: Vec<(String, Vec<Vec<Option<String>>>)>,
    target: usize,
    table: Table,
}

impl Workbook {
    pub fn parse(path: &std::path::Path, sheet: Option<&str>, rules: &Rules) -> io::Result<Self> {
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
        // the record sheet as a table, for the same cell variation as CSV files
        let mut csv_bytes = Vec::new();
        {
            let mut cw = csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(&mut csv_bytes);
            for row in &sheets[target].1 {
                cw.write_record(row.iter().map(|c| c.as_deref().unwrap_or("")))?;
            }
            cw.flush()?;
        }
        let table = Table::parse(&csv_bytes, b',', true, rules)?;
        Ok(Workbook {
            sheets,
            target,
            table,
        })
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
            let (t, v, r) = cx.of(cx.content(i), n);
            let cells = self.table.row(t, v, r);
            out.push(
                rows[t + 1]
                    .iter()
                    .enumerate()
                    .map(|(j, c)| {
                        c.as_ref()
                            .map(|_| cells.get(j).cloned().unwrap_or_default())
                    })
                    .collect(),
            );
        }
        sheets[self.target].1 = out;
        medsins_scaffold::xlsx::write_xlsx(path, &sheets)
    }
}

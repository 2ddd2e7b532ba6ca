//! `pandas_values`: cell texts rewritten as Python `str()` of the value pandas `read_csv`
//! (default options) would give them (upstream-renderings.md, Appendix A.4). Each column's type
//! is inferred over every record of the file, as one pass of pandas would (the per-block typing
//! of pandas' `low_memory` reader on very large files is not reproduced).

use crate::types::{Dtype, PandasPlan};
use medsins_readers::{Record, value_text};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Cell texts pandas reads as missing by default.
const NA: &[&str] = &[
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

fn is_na(s: &str) -> bool {
    NA.contains(&s)
}

fn as_bool(s: &str) -> Option<bool> {
    match s {
        "True" | "TRUE" | "true" => Some(true),
        "False" | "FALSE" | "false" => Some(false),
        _ => None,
    }
}

/// pandas' numeric parser skips surrounding spaces and tabs.
fn num_text(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// An integer in pandas' sense (`[+-]?digits`, spaces around allowed), as Python prints it:
/// sign kept for negatives, `+` and leading zeros dropped, any size.
fn int_str(s: &str) -> Option<String> {
    let t = num_text(s);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d = digits.trim_start_matches('0');
    Some(match (d.is_empty(), neg) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{d}"),
        (false, false) => d.to_string(),
    })
}

/// A float in pandas' sense: decimal or exponent notation, or `inf`/`infinity` in any case.
fn float_val(s: &str) -> Option<f64> {
    let t = num_text(s);
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    // digits with at most one point, at least one digit, then an optional exponent
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let ok_mant = mant.bytes().filter(|b| *b == b'.').count() <= 1
        && mant.bytes().any(|b| b.is_ascii_digit())
        && mant.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let ok_exp = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    if !(ok_mant && ok_exp) {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Python `repr()` (= `str()`) of a float: shortest round-trip digits, fixed notation for
/// decimal exponents -4 < e <= 16 (with `.0` when integral), else `1e-05` / `1.5e+16` form.
pub fn py_float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let sci = format!("{:e}", x.abs()); // shortest round-trip digits, e.g. `9.86e1`
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let decpt = exp + 1;
    let body = if -4 < decpt && decpt <= 16 {
        let n = digits.len() as i32;
        if decpt <= 0 {
            format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
        } else if decpt >= n {
            format!("{}{}.0", digits, "0".repeat((decpt - n) as usize))
        } else {
            format!(
                "{}.{}",
                &digits[..decpt as usize],
                &digits[decpt as usize..]
            )
        }
    } else {
        let rest = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        format!(
            "{}{}e{}{:02}",
            &digits[..1],
            rest,
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    };
    format!("{sign}{body}")
}

/// What a column holds so far: enough to type it as pandas would, in one streaming pass.
#[derive(Debug, Clone, Copy, Default)]
struct ColumnCounts {
    cells: u64,
    present: u64,
    bools: u64,
    ints: u64,
    numbers: u64,
}

impl ColumnCounts {
    fn add(&mut self, cell: Option<&str>) {
        self.cells += 1;
        let Some(c) = cell.filter(|c| !is_na(c)) else {
            return;
        };
        self.present += 1;
        self.bools += as_bool(c).is_some() as u64;
        let int = int_str(c).is_some();
        self.ints += int as u64;
        self.numbers += (int || float_val(c).is_some()) as u64;
    }

    fn dtype(&self) -> Dtype {
        let any_na = self.present < self.cells;
        if self.present > 0 && self.bools == self.present {
            return if any_na { Dtype::BoolOrNa } else { Dtype::Bool };
        }
        if !any_na && self.present > 0 && self.ints == self.present {
            return Dtype::Int;
        }
        if self.numbers == self.present {
            return Dtype::Float;
        }
        Dtype::Text
    }
}

/// The dtype pandas would give a column with these cells (`None` = no value at all).
#[cfg(test)]
fn infer(cells: &[Option<String>]) -> Dtype {
    let mut c = ColumnCounts::default();
    cells.iter().for_each(|x| c.add(x.as_deref()));
    c.dtype()
}

/// `str()` of one cell under the column's dtype.
pub fn render(cell: Option<&str>, dtype: Dtype) -> String {
    let c = match cell {
        Some(c) if !is_na(c) => c,
        _ => return "nan".into(),
    };
    match dtype {
        Dtype::Int => int_str(c).unwrap_or_else(|| c.to_string()),
        Dtype::Float => py_float_repr(float_val(c).unwrap_or(f64::NAN)),
        Dtype::Bool | Dtype::BoolOrNa => match as_bool(c) {
            Some(true) => "True".into(),
            Some(false) => "False".into(),
            None => c.to_string(),
        },
        Dtype::Text => c.to_string(),
    }
}

fn cell<'a>(fields: &'a Map<String, Value>, col: &str) -> Option<Cow<'a, str>> {
    match fields.get(col) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Cow::Borrowed(s)),
        Some(v) => Some(Cow::Owned(value_text(v))),
    }
}

/// Learns a [`PandasPlan`] from every record of a file, in order: the columns are `columns`,
/// or all fields of the first record but `exclude`.
#[derive(Debug, Clone)]
pub struct PandasInfer {
    columns: Option<Vec<String>>,
    exclude: Vec<String>,
    counts: Vec<ColumnCounts>,
}

impl PandasInfer {
    pub fn new(columns: Option<Vec<String>>, exclude: Vec<String>) -> PandasInfer {
        PandasInfer {
            columns,
            exclude,
            counts: Vec::new(),
        }
    }

    pub fn observe(&mut self, r: &Record) {
        let cols = self.columns.get_or_insert_with(|| {
            r.fields
                .keys()
                .filter(|k| !self.exclude.contains(k))
                .cloned()
                .collect()
        });
        self.counts.resize(cols.len(), ColumnCounts::default());
        for (col, c) in cols.iter().zip(self.counts.iter_mut()) {
            c.add(cell(&r.fields, col).as_deref());
        }
    }

    pub fn finish(self) -> PandasPlan {
        let cols = self.columns.unwrap_or_default();
        let mut counts = self.counts;
        counts.resize(cols.len(), ColumnCounts::default());
        PandasPlan {
            columns: cols
                .into_iter()
                .zip(counts.iter().map(|c| c.dtype()))
                .collect(),
        }
    }
}

/// The new text of a present cell, or `None` when `str()` prints it as it is.
fn rewrite(v: &Value, dtype: Dtype) -> Option<String> {
    match (v, dtype) {
        (Value::String(s), Dtype::Text) if !is_na(s) => None,
        (Value::Null, _) => Some("nan".into()),
        (Value::String(s), _) => {
            let r = render(Some(s), dtype);
            (r != *s).then_some(r)
        }
        (other, _) => Some(render(Some(&value_text(other)), dtype)),
    }
}

/// Calls `f` with each column of `columns` and its value in `fields` (`None` when absent).
/// A table's records hold the columns in the same order as the plan: the fields are walked in
/// order and compared by name; only columns found out of order are looked up.
fn for_each_column<'c, C>(
    columns: &'c [C],
    name: impl Fn(&C) -> &str,
    fields: &mut Map<String, Value>,
    mut f: impl FnMut(&'c C, Option<&mut Value>),
) {
    let mut next = 0usize;
    for (k, v) in fields.iter_mut() {
        match columns.get(next) {
            Some(c) if name(c) == k.as_str() => {
                f(c, Some(v));
                next += 1;
            }
            Some(_) => {}
            None => break,
        }
    }
    for c in &columns[next.min(columns.len())..] {
        f(c, fields.get_mut(name(c)));
    }
}

/// Rewrites the record's columns under the types the learning pass found.
pub(crate) fn apply(
    f: &mut Map<String, Value>,
    _: &medsins_manifest::Step,
    cx: &super::OpContext,
) -> super::OpResult {
    let plan = cx.prep.pandas.as_ref().ok_or(super::OpError::NotLearned)?;
    rewrite_record(plan, f);
    Ok(true)
}

/// Rewrites a record's columns as pandas would print them under the plan's types.
pub(crate) fn rewrite_record(plan: &PandasPlan, fields: &mut Map<String, Value>) {
    let mut missing: Vec<&String> = Vec::new();
    for_each_column(
        &plan.columns,
        |c| c.0.as_str(),
        fields,
        |(col, dtype), v| match v {
            Some(v) => {
                if let Some(text) = rewrite(v, *dtype) {
                    *v = Value::String(text);
                }
            }
            None => missing.push(col),
        },
    );
    for col in missing {
        fields.insert(col.clone(), Value::String("nan".into()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn float_repr_like_python() {
        for (x, s) in [
            (36.0, "36.0"),
            (98.6, "98.6"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (9999999999999998.0, "9999999999999998.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.5e300, "1.5e+300"),
            (-2.5e-7, "-2.5e-07"),
            (123.456, "123.456"),
            (f64::NAN, "nan"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(py_float_repr(x), s, "{x}");
        }
    }

    fn col(cells: &[&str]) -> Vec<Option<String>> {
        cells.iter().map(|c| Some(c.to_string())).collect()
    }

    #[test]
    fn dtypes_like_read_csv() {
        assert_eq!(infer(&col(&[" 5", "6 ", "+7"])), Dtype::Int);
        assert_eq!(infer(&col(&["1", ""])), Dtype::Float);
        assert_eq!(infer(&col(&["1", "2.5"])), Dtype::Float);
        assert_eq!(infer(&col(&["1", "inf"])), Dtype::Float);
        assert_eq!(infer(&col(&["", "NA"])), Dtype::Float);
        assert_eq!(infer(&col(&["True", "false", "TRUE"])), Dtype::Bool);
        assert_eq!(infer(&col(&["true", ""])), Dtype::BoolOrNa);
        assert_eq!(infer(&col(&["1", "True"])), Dtype::Text);
        assert_eq!(infer(&col(&["8", "8-9"])), Dtype::Text);
        assert_eq!(infer(&col(&["1.2.3"])), Dtype::Text);
        assert_eq!(infer(&col(&["e5"])), Dtype::Text);
    }

    #[test]
    fn values_like_str_of_pandas() {
        assert_eq!(render(Some("007"), Dtype::Int), "7");
        assert_eq!(render(Some("-0"), Dtype::Int), "0");
        assert_eq!(
            render(Some("99999999999999999999"), Dtype::Int),
            "99999999999999999999"
        );
        assert_eq!(render(Some("3"), Dtype::Float), "3.0");
        assert_eq!(render(Some(".5"), Dtype::Float), "0.5");
        assert_eq!(render(Some("1."), Dtype::Float), "1.0");
        assert_eq!(render(Some("-Infinity"), Dtype::Float), "-inf");
        assert_eq!(render(Some(""), Dtype::Float), "nan");
        assert_eq!(render(Some("true"), Dtype::BoolOrNa), "True");
        assert_eq!(render(Some("NULL"), Dtype::Text), "nan");
        assert_eq!(render(Some(" x "), Dtype::Text), " x ");
    }

    #[test]
    fn whole_file_inference() {
        let rec = |v: Value| Record {
            fields: v.as_object().unwrap().clone(),
            locator: "x".into(),
            raw_sha256: String::new(),
        };
        let recs = vec![
            rec(json!({"a": "1", "b": "2", "t": "x"})),
            rec(json!({"a": "", "b": "3", "t": "NA"})),
        ];
        let mut infer = PandasInfer::new(None, vec!["t".to_string()]);
        recs.iter().for_each(|r| infer.observe(r));
        let plan = infer.finish();
        let out: Vec<Map<String, Value>> = recs
            .into_iter()
            .map(|mut r| {
                rewrite_record(&plan, &mut r.fields);
                r.fields
            })
            .collect();
        assert_eq!(out[0]["a"], "1.0");
        assert_eq!(out[1]["a"], "nan");
        assert_eq!(out[1]["b"], "3");
        assert_eq!(out[1]["t"], "NA");
    }
}

//! `lookup_records`: decode each code of a list (or a single code) through a table file whose
//! records are keyed by the field `key` (e.g. a JSON object keyed by code, read with
//! `_key`), attaching the whole matching record. With `value_separator`, a code such as
//! `E_53_@_V_44` is split at the first separator into the looked-up code `E_53` and its value
//! `V_44`. Writes `into` = list of `{code, value, record}` (value null without a separator) and
//! `<into>_missing` = the codes without a match. With `fields`, only those fields of each
//! matched record are attached.

use super::{OpContext, OpError, OpResult, not_this_op};
use medsins_manifest::Step;
use medsins_readers::{Record, value_text};
use serde_json::{Map, Value};
use std::collections::HashMap;

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, cx: &OpContext) -> OpResult {
    let Step::LookupRecords {
        file,
        codes,
        value_separator,
        into,
        fields,
        ..
    } = step
    else {
        return Err(not_this_op(step));
    };
    let table = super::lookup_table(cx, file)?;
    lookup_records(
        f,
        codes,
        value_separator.as_deref(),
        into,
        (table, fields.as_deref()),
        cx.index,
    )?;
    Ok(true)
}

/// The codes of a record's field: a list, one value, or none for null.
pub(super) fn code_list(f: &Map<String, Value>, codes: &str) -> Result<Vec<String>, OpError> {
    match f.get(codes) {
        Some(Value::Array(a)) => Ok(a.iter().map(value_text).collect()),
        Some(Value::Null) => Ok(vec![]),
        Some(v) => Ok(vec![value_text(v)]),
        None => Err(OpError::NoField(codes.to_string())),
    }
}

/// A code and the value it carries after `value_separator` (`E_55_@_V_89`: `E_55`, `V_89`).
pub(super) fn split_code<'a>(full: &'a str, separator: Option<&str>) -> (&'a str, Option<&'a str>) {
    match separator.and_then(|sep| full.split_once(sep)) {
        Some((c, v)) => (c, Some(v)),
        None => (full, None),
    }
}

pub fn lookup_records(
    f: &mut Map<String, Value>,
    codes: &str,
    value_separator: Option<&str>,
    into: &str,
    (table, only): (&[Record], Option<&[String]>),
    index: &HashMap<String, usize>,
) -> Result<(), OpError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for full in code_list(f, codes)? {
        let (code, value) = split_code(&full, value_separator);
        match index.get(code).and_then(|i| table.get(*i)) {
            Some(r) => {
                // built by hand: `json!` would serialise the cloned record a second time
                let mut m = Map::new();
                m.insert("code".into(), Value::String(code.to_string()));
                m.insert(
                    "value".into(),
                    value.map_or(Value::Null, |v| Value::String(v.to_string())),
                );
                m.insert("record".into(), Value::Object(super::pick(&r.fields, only)));
                found.push(Value::Object(m));
            }
            None => missing.push(Value::String(full)),
        }
    }
    f.insert(into.to_string(), Value::Array(found));
    f.insert(format!("{into}_missing"), Value::Array(missing));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_with_values_and_missing() {
        let table = vec![Record {
            fields: json!({"_key": "E_53", "q": "Pain?"})
                .as_object()
                .unwrap()
                .clone(),
            locator: String::new(),
            raw_sha256: String::new(),
        }];
        let index: HashMap<String, usize> = [("E_53".to_string(), 0)].into();
        let mut f = json!({"ev": ["E_53_@_V_44", "E_53", "E_99"]})
            .as_object()
            .unwrap()
            .clone();
        lookup_records(&mut f, "ev", Some("_@_"), "d", (&table, None), &index).unwrap();
        assert_eq!(f["d"][0]["code"], "E_53");
        assert_eq!(f["d"][0]["value"], "V_44");
        assert_eq!(f["d"][0]["record"]["q"], "Pain?");
        assert_eq!(f["d"][1]["value"], Value::Null);
        assert_eq!(f["d_missing"], json!(["E_99"]));
        let mut g = json!({"ev": ["E_53"]}).as_object().unwrap().clone();
        let only = ["q".to_string()];
        lookup_records(&mut g, "ev", None, "d", (&table, Some(&only)), &index).unwrap();
        assert_eq!(g["d"][0]["record"], json!({"q": "Pain?"}));
    }
}

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
    let table = cx
        .lookups
        .files
        .get(file)
        .ok_or_else(|| OpError::LookupNotLoaded(file.clone()))?;
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

pub fn lookup_records(
    f: &mut Map<String, Value>,
    codes: &str,
    value_separator: Option<&str>,
    into: &str,
    (table, only): (&[Record], Option<&[String]>),
    index: &HashMap<String, usize>,
) -> Result<(), OpError> {
    let list: Vec<String> = match f.get(codes) {
        Some(Value::Array(a)) => a.iter().map(value_text).collect(),
        Some(Value::Null) => vec![],
        Some(v) => vec![value_text(v)],
        None => return Err(OpError::NoField(codes.to_string())),
    };
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for full in list {
        let (code, value) = match value_separator.and_then(|sep| full.split_once(sep)) {
            Some((c, v)) => (c.to_string(), Value::String(v.to_string())),
            None => (full.clone(), Value::Null),
        };
        match index.get(&code).and_then(|i| table.get(*i)) {
            Some(r) => {
                // built by hand: `json!` would serialise the cloned record a second time
                let mut m = Map::new();
                m.insert("code".into(), Value::String(code));
                m.insert("value".into(), value);
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

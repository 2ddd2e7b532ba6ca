//! `key_value`: fields serialised as `name: value` lines (`columns`, or every field except
//! `exclude`), joined by `separator`; a missing (empty) value is written as `missing`.

use medsins_readers::value_text;
use serde_json::{Map, Value};

pub(crate) fn apply(
    f: &mut Map<String, Value>,
    columns: Option<&[String]>,
    exclude: &[String],
    separator: &str,
    missing: &str,
    into: &str,
) -> Result<(), String> {
    let names: Vec<String> = match columns {
        Some(c) => c.to_vec(),
        None => f.keys().filter(|k| !exclude.contains(k)).cloned().collect(),
    };
    let mut parts = Vec::with_capacity(names.len());
    for n in &names {
        let v = match f.get(n) {
            Some(v) => value_text(v),
            None => return Err(format!("record has no column `{n}`")),
        };
        let v = if v.is_empty() { missing.to_string() } else { v };
        parts.push(format!("{n}: {v}"));
    }
    f.insert(into.to_string(), Value::String(parts.join(separator)));
    Ok(())
}

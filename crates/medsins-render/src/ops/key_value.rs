//! `key_value`: fields serialised as `name: value` lines (`columns`, or every field except
//! `exclude`), joined by `separator`; a missing (empty) value is written as `missing`.

use super::{OpContext, OpError, OpResult, not_this_op};
use medsins_manifest::Step;
use medsins_readers::value_text;
use serde_json::{Map, Value};

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, _: &OpContext) -> OpResult {
    let Step::KeyValue {
        columns,
        exclude,
        separator,
        missing,
        into,
    } = step
    else {
        return Err(not_this_op(step));
    };
    let names: Vec<String> = match columns {
        Some(c) => c.clone(),
        None => f.keys().filter(|k| !exclude.contains(k)).cloned().collect(),
    };
    let mut parts = Vec::with_capacity(names.len());
    for n in &names {
        let v = match f.get(n) {
            Some(v) => value_text(v),
            None => return Err(OpError::NoColumn(n.clone())),
        };
        let v = if v.is_empty() { missing.clone() } else { v };
        parts.push(format!("{n}: {v}"));
    }
    f.insert(into.clone(), Value::String(parts.join(separator)));
    Ok(true)
}

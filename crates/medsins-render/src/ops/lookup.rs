//! `lookup`: for each code of a field (a list, or a string split on `separator`), the record
//! of a table file whose `key` field equals it; writes `into` as a list of `{code, value}` and
//! the codes without a match as `<into>_missing`. Also the key index that `join`, `lookup`,
//! `lookup_records` and `code_dialogue` look records up in.

use super::{OpContext, OpError, OpResult, not_this_op, string_object};
use crate::context::with_context;
use crate::types::LookupFiles;
use medsins_manifest::Step;
use medsins_readers::{Record, value_text};
use minijinja::Environment;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// How a record's key is made.
type KeyOf<'a> = Box<dyn Fn(&Record) -> Option<String> + 'a>;

/// For join and lookup steps: the key of every record of the looked-up file -> its position
/// (first record wins), built once per task. A join key that does not render skips the record.
pub(crate) fn index(
    step: &Step,
    key_template: Option<&str>,
    lookups: &LookupFiles,
    env: &Environment,
) -> Option<HashMap<String, usize>> {
    let (file, key_of): (&str, KeyOf) = match step {
        Step::Join { file, .. } => {
            let t = env.get_template(key_template?).ok()?;
            (
                file,
                Box::new(move |r: &Record| {
                    let mut fields = r.fields.clone();
                    with_context(&mut fields, |ctx| t.render(ctx)).ok()
                }),
            )
        }
        Step::Lookup {
            file,
            key,
            key_remove: Some(rm),
            ..
        } if !rm.is_empty() => (
            file,
            Box::new(move |r: &Record| {
                r.fields
                    .get(key)
                    .map(|v| value_text(v).replace(rm.as_str(), ""))
            }),
        ),
        Step::Lookup { file, key, .. }
        | Step::LookupRecords { file, key, .. }
        | Step::CodeDialogue { file, key, .. } => (
            file,
            Box::new(move |r: &Record| r.fields.get(key).map(value_text)),
        ),
        _ => return None,
    };
    let mut m = HashMap::new();
    for (i, r) in lookups
        .files
        .get(file)
        .map(|v| v.as_slice())
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        if let Some(k) = key_of(r) {
            m.entry(k).or_insert(i);
        }
    }
    Some(m)
}

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, cx: &OpContext) -> OpResult {
    let Step::Lookup {
        file,
        codes,
        separator,
        value,
        into,
        ..
    } = step
    else {
        return Err(not_this_op(step));
    };
    let field = codes;
    let codes: Vec<String> = match (f.get(codes), separator) {
        (Some(Value::Array(a)), _) => a.iter().map(value_text).collect(),
        (Some(v), Some(sep)) => value_text(v)
            .split(sep.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        (Some(v), None) => vec![value_text(v)],
        (None, _) => return Err(OpError::NoField(field.clone())),
    };
    let table = super::lookup_table(cx, file)?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for c in codes {
        match cx.index.get(&c).and_then(|i| table.get(*i)) {
            Some(r) => {
                let v = r.fields.get(value).map(value_text).unwrap_or_default();
                found.push(string_object([("code", c), ("value", v)]));
            }
            None => missing.push(Value::String(c)),
        }
    }
    f.insert(into.clone(), Value::Array(found));
    f.insert(format!("{into}_missing"), Value::Array(missing));
    Ok(true)
}

//! `join`: the first record of another file of the corpus whose `key` template renders equal to
//! this record's `on` template is stored under `into` (only its `fields`, when given). With
//! `required = true` a record without a match is quarantined.

use super::pick;
use crate::types::{LookupFiles, Prepared};
use minijinja::Environment;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The step's fields, as the manifest names them.
pub(crate) struct Join<'a> {
    pub file: &'a str,
    pub into: &'a str,
    pub required: bool,
    pub fields: Option<&'a [String]>,
}

pub(crate) fn apply(
    f: &mut Map<String, Value>,
    s: Join,
    prep: &Prepared,
    env: &Environment,
    index: &HashMap<String, usize>,
    lookups: &LookupFiles,
) -> Result<(), String> {
    let want = prep.render(env, f).map_err(|e| format!("join `on`: {e}"))?;
    let found = index
        .get(&want)
        .and_then(|i| lookups.files.get(s.file)?.get(*i));
    match found {
        Some(o) => {
            f.insert(s.into.to_string(), Value::Object(pick(&o.fields, s.fields)));
        }
        None if s.required => return Err(format!("no record of `{}` has key `{want}`", s.file)),
        None => {
            f.insert(s.into.to_string(), Value::Null);
        }
    }
    Ok(())
}

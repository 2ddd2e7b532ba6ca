//! `set`: stores the value of a minijinja expression over the record's fields under `into` —
//! text, a number, a list or an object — so a distribution's records can take the field names
//! and shapes the tasks' templates expect (`choices|lettered`, `answer|map('upper')|list`).
//! The expression compiles to a template that prints it as JSON (`tojson`), read back here.

use super::{OpContext, OpError, OpResult, not_this_op};
use medsins_manifest::Step;
use serde_json::{Map, Value};

/// The template a `set` expression compiles to.
pub(crate) fn template_source(value: &str) -> String {
    format!("{{{{ ({value})|tojson }}}}")
}

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, cx: &OpContext) -> OpResult {
    let Step::Set { into, .. } = step else {
        return Err(not_this_op(step));
    };
    let json = cx
        .prep
        .render(cx.env, f)
        .map_err(|source| OpError::Template {
            what: format!("set `{into}`"),
            source,
        })?;
    let v: Value = serde_json::from_str(&json).map_err(|source| OpError::NotData {
        into: into.clone(),
        source,
    })?;
    f.insert(into.clone(), v);
    Ok(true)
}

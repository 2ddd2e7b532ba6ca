//! `join`: the first record of another file of the corpus whose `key` template renders equal to
//! this record's `on` template is stored under `into` (only its `fields`, when given). With
//! `required = true` a record without a match is quarantined.

use super::{OpContext, OpError, OpResult, not_this_op, pick};
use medsins_manifest::Step;
use serde_json::{Map, Value};

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, cx: &OpContext) -> OpResult {
    let Step::Join {
        file,
        into,
        required,
        fields,
        ..
    } = step
    else {
        return Err(not_this_op(step));
    };
    let want = cx
        .prep
        .render(cx.env, f)
        .map_err(|source| OpError::Template {
            what: "join `on`".into(),
            source,
        })?;
    let found = cx
        .index
        .get(&want)
        .and_then(|i| cx.lookups.files.get(file)?.get(*i));
    match found {
        Some(o) => {
            f.insert(
                into.clone(),
                Value::Object(pick(&o.fields, fields.as_deref())),
            );
        }
        None if *required => {
            return Err(OpError::NoJoinMatch {
                file: file.clone(),
                key: want,
            });
        }
        None => {
            f.insert(into.clone(), Value::Null);
        }
    }
    Ok(true)
}

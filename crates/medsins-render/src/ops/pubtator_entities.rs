//! `pubtator_entities`: PubTator annotations to the entity texts of one type (e.g.
//! `Chemical`), in order of appearance, written to `into`; `unique` drops repeats.

use super::{OpContext, OpError, OpResult, not_this_op};
use medsins_manifest::Step;
use medsins_readers::value_text;
use serde_json::{Map, Value, json};

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, _: &OpContext) -> OpResult {
    let Step::PubtatorEntities {
        entity_type,
        into,
        unique,
    } = step
    else {
        return Err(not_this_op(step));
    };
    let mut ents: Vec<(u64, String)> = match f.get("entities") {
        Some(Value::Array(a)) => a
            .iter()
            .filter(|e| e.get("type").and_then(|t| t.as_str()) == Some(entity_type.as_str()))
            .map(|e| {
                (
                    e.get("start").and_then(|s| s.as_u64()).unwrap_or(0),
                    e.get("text").map(value_text).unwrap_or_default(),
                )
            })
            .collect(),
        _ => return Err(OpError::NoPubtatorEntities),
    };
    ents.sort_by_key(|(s, _)| *s);
    let mut seen = Vec::new();
    for (_, t) in ents {
        if !*unique || !seen.contains(&t) {
            seen.push(t);
        }
    }
    f.insert(into.clone(), json!(seen));
    Ok(true)
}

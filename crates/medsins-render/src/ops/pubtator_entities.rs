//! `pubtator_entities`: PubTator annotations to the entity texts of one type (e.g.
//! `Chemical`), in order of appearance, written to `into`; `unique` drops repeats.

use medsins_readers::value_text;
use serde_json::{Map, Value, json};

pub(crate) fn apply(
    f: &mut Map<String, Value>,
    entity_type: &str,
    into: &str,
    unique: bool,
) -> Result<(), String> {
    let mut ents: Vec<(u64, String)> = match f.get("entities") {
        Some(Value::Array(a)) => a
            .iter()
            .filter(|e| e.get("type").and_then(|t| t.as_str()) == Some(entity_type))
            .map(|e| {
                (
                    e.get("start").and_then(|s| s.as_u64()).unwrap_or(0),
                    e.get("text").map(value_text).unwrap_or_default(),
                )
            })
            .collect(),
        _ => return Err("record has no PubTator `entities`".into()),
    };
    ents.sort_by_key(|(s, _)| *s);
    let mut seen = Vec::new();
    for (_, t) in ents {
        if !unique || !seen.contains(&t) {
            seen.push(t);
        }
    }
    f.insert(into.to_string(), json!(seen));
    Ok(())
}

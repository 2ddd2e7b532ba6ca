//! `select`: copy a nested value (a `/`-separated path of member names or list positions, e.g.
//! `answer/snip`) to a top-level field, so that later steps (`explode`) and templates can use it.
//! With `list = true` the value is always a list: missing or null → `[]`, a single value →
//! `[value]` (xmltodict-style records hold a lone child as a value and repeated ones as a list).

use super::{OpContext, OpResult, not_this_op};
use medsins_manifest::Step;
use serde_json::{Map, Value};

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, _: &OpContext) -> OpResult {
    let Step::Select { path, into, list } = step else {
        return Err(not_this_op(step));
    };
    let v = select(f, path, *list);
    f.insert(into.clone(), v);
    Ok(true)
}

pub fn select(fields: &Map<String, Value>, path: &str, list: bool) -> Value {
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let mut cur: Option<&Value> = parts.next().and_then(|p| fields.get(p));
    for p in parts {
        cur = match cur {
            Some(Value::Object(m)) => m.get(p),
            Some(Value::Array(a)) => p.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
    }
    match (cur, list) {
        (None | Some(Value::Null), true) => Value::Array(vec![]),
        (None, false) => Value::Null,
        (Some(Value::Array(a)), _) => Value::Array(a.clone()),
        (Some(v), true) => Value::Array(vec![v.clone()]),
        (Some(v), false) => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn select_paths_and_lists() {
        let f = json!({"answer": {"snip": {"sniptext": "s"}}, "xs": [{"a": 1}, {"a": 2}]});
        let f = f.as_object().unwrap();
        assert_eq!(select(f, "answer/snip", true), json!([{"sniptext": "s"}]));
        assert_eq!(select(f, "answer/snip/sniptext", false), json!("s"));
        assert_eq!(select(f, "xs/1/a", false), json!(2));
        assert_eq!(select(f, "answer/none", true), json!([]));
        assert_eq!(select(f, "answer/none", false), json!(null));
        assert_eq!(select(f, "xs", true), json!([{"a": 1}, {"a": 2}]));
    }
}

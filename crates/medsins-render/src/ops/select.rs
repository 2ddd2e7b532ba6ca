//! `select`: copy a nested value (a `/`-separated path of member names or list positions, e.g.
//! `answer/snip`) to a top-level field, so that later steps (`explode`) and templates can use it.
//! A segment `*` stands for every element of a list (a single value counts as a list of one),
//! so `SUB-QUESTIONS/SUB-QUESTION/*/ANSWERS/ANSWER` reaches the answers of every sub-question
//! whether the XML has one sub-question or several. Several paths may be given: without `list`
//! the first value found is copied; with `list = true` the value is always a list of everything
//! found, lists spliced: missing or null → `[]`, a single value → `[value]` (xmltodict-style
//! records hold a lone child as a value and repeated ones as a list).

use super::{OpContext, OpResult, not_this_op};
use medsins_manifest::Step;
use serde_json::{Map, Value};

/// Every value at `path` (several when it has `*` segments), in order.
fn values_at<'a>(fields: &'a Map<String, Value>, path: &str) -> Vec<&'a Value> {
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let mut cur: Vec<&Value> = parts
        .next()
        .and_then(|p| fields.get(p))
        .into_iter()
        .collect();
    for p in parts {
        cur = cur
            .into_iter()
            .flat_map(|v| -> Vec<&Value> {
                match (p, v) {
                    ("*", Value::Array(a)) => a.iter().collect(),
                    ("*", Value::Null) => Vec::new(),
                    ("*", v) => vec![v],
                    (p, Value::Object(m)) => m.get(p).into_iter().collect(),
                    (p, Value::Array(a)) => p
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| a.get(i))
                        .into_iter()
                        .collect(),
                    _ => Vec::new(),
                }
            })
            .collect();
    }
    cur
}

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, _: &OpContext) -> OpResult {
    let Step::Select { path, into, list } = step else {
        return Err(not_this_op(step));
    };
    let v = select(f, path.items(), *list);
    f.insert(into.clone(), v);
    Ok(true)
}

pub fn select(fields: &Map<String, Value>, paths: &[String], list: bool) -> Value {
    let found = paths.iter().flat_map(|p| values_at(fields, p));
    if !list {
        return found
            .into_iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null);
    }
    let mut out = Vec::new();
    for v in found {
        match v {
            Value::Array(a) => out.extend(a.iter().cloned()),
            Value::Null => {}
            v => out.push(v.clone()),
        }
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(f: &Value, paths: &[&str], list: bool) -> Value {
        let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
        select(f.as_object().unwrap(), &paths, list)
    }

    #[test]
    fn select_paths_and_lists() {
        let f = json!({"answer": {"snip": {"sniptext": "s"}}, "xs": [{"a": 1}, {"a": 2}]});
        assert_eq!(sel(&f, &["answer/snip"], true), json!([{"sniptext": "s"}]));
        assert_eq!(sel(&f, &["answer/snip/sniptext"], false), json!("s"));
        assert_eq!(sel(&f, &["xs/1/a"], false), json!(2));
        assert_eq!(sel(&f, &["answer/none"], true), json!([]));
        assert_eq!(sel(&f, &["answer/none"], false), json!(null));
        assert_eq!(sel(&f, &["xs"], true), json!([{"a": 1}, {"a": 2}]));
    }

    #[test]
    fn stars_reach_every_element_and_several_paths_are_alternatives_or_joined() {
        // TREC LiveQA: one sub-question with two answers, and one with a single answer
        let train = json!({"MESSAGE": "m", "SUB-QUESTIONS": {"SUB-QUESTION": [
            {"ANSWERS": {"ANSWER": [{"#text": "a1"}, {"#text": "a2"}]}},
            {"ANSWERS": {"ANSWER": {"#text": "b1"}}}
        ]}});
        let test = json!({"Original-Question": {"MESSAGE": "t"}, "ReferenceAnswers": {"RefAnswer": {"ANSWER": "r1"}}});
        let answers = [
            "SUB-QUESTIONS/SUB-QUESTION/*/ANSWERS/ANSWER",
            "ReferenceAnswers/ReferenceAnswer/*/ANSWER",
            "ReferenceAnswers/RefAnswer/*/ANSWER",
        ];
        assert_eq!(
            sel(&train, &answers, true),
            json!([{"#text": "a1"}, {"#text": "a2"}, {"#text": "b1"}])
        );
        assert_eq!(sel(&test, &answers, true), json!(["r1"]));
        let message = ["Original-Question/MESSAGE", "MESSAGE"];
        assert_eq!(sel(&train, &message, false), json!("m"));
        assert_eq!(sel(&test, &message, false), json!("t"));
        assert_eq!(sel(&json!({"x": null}), &["x", "y"], false), json!(null));
    }
}

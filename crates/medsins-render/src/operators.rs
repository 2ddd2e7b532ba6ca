//! The named built-in operators (manifest `steps`). Each is general: it names fields, never a
//! corpus. This module holds the one-record operators; the stateful ones (caps, groups,
//! fan-out) and the batching are in [`crate::runner`], which runs every step over a file's
//! records in file order, so results are deterministic.

use crate::runner::Prepared;
use medsins_manifest::{KeywordRule, OptionsSource, Step};
use medsins_readers::{Record, detokenize, value_text};
use minijinja::Environment;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Records of the files a task joins or looks up, by file id (loaded once per build).
#[derive(Debug, Default, Clone)]
pub struct LookupFiles {
    pub files: HashMap<String, Vec<Record>>,
}

pub(crate) fn keyword_labels(
    text: &str,
    rules: &[KeywordRule],
    all: bool,
    lowercase: bool,
) -> Vec<String> {
    let lowered = if lowercase {
        text.to_lowercase()
    } else {
        text.to_string()
    };
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut labels: Vec<String> = Vec::new();
    for rule in rules {
        let hit = rule.any.iter().any(|k| {
            if rule.token {
                tokens.contains(&k.as_str())
            } else {
                lowered.contains(k.as_str())
            }
        });
        if hit && !labels.contains(&rule.label) {
            labels.push(rule.label.clone());
            if !all {
                break;
            }
        }
    }
    labels
}

pub(crate) fn step_name(step: &Step) -> String {
    serde_json::to_value(step)
        .ok()
        .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string))
        .unwrap_or_default()
}

/// Entities of an IOB sentence: `(type, token range)` in order. A `B` opens an entity, an `I`
/// of the same type (or bare) extends the open one and is ignored when none is open, anything
/// else closes it.
pub fn entities_from_iob(tags: &[String]) -> Vec<(Option<String>, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut open: Option<(Option<String>, usize)> = None;
    for (i, tag) in tags.iter().enumerate() {
        let (kind, ty) = match tag.split_once('-') {
            Some((k, t)) => (k, Some(t.to_string())),
            None => (tag.as_str(), None),
        };
        match kind {
            "B" | "S" => {
                if let Some((t, s)) = open.take() {
                    out.push((t, s..i));
                }
                open = Some((ty, i));
            }
            "I" | "E" if open.as_ref().is_some_and(|(t, _)| ty.is_none() || *t == ty) => {}
            "I" | "E" => {}
            _ => {
                if let Some((t, s)) = open.take() {
                    out.push((t, s..i));
                }
            }
        }
    }
    if let Some((t, s)) = open {
        out.push((t, s..tags.len()));
    }
    out
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().map(value_text).collect(),
        _ => vec![],
    }
}

/// Joins tokens the way the authors' Species-800 script did: `. , ; : ? !` attach to the
/// previous token, everything else after one space.
fn upstream_join(tokens: &[String]) -> String {
    let mut s = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 && !matches!(t.as_str(), "." | "," | ";" | ":" | "?" | "!") {
            s.push(' ');
        }
        s.push_str(t);
    }
    s
}

/// For join and lookup steps: the key of every record of the looked-up file -> its position
/// (first record wins), built once per task. A join key that does not render skips the record.
pub(crate) fn lookup_index(
    step: &Step,
    key_template: Option<&str>,
    lookups: &LookupFiles,
    env: &Environment,
) -> Option<HashMap<String, usize>> {
    let (file, key_of): (&str, Box<dyn Fn(&Record) -> Option<String>>) = match step {
        Step::Join { file, .. } => {
            let t = env.get_template(key_template?).ok()?;
            (
                file,
                Box::new(move |r: &Record| {
                    let mut fields = r.fields.clone();
                    crate::context::with_context(&mut fields, |ctx| t.render(ctx)).ok()
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
        Step::Lookup { file, key, .. } | Step::LookupRecords { file, key, .. } => (
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

/// Applies a one-record operator. `Ok(false)` drops the record on purpose.
pub(crate) fn apply_record_step(
    step: &Step,
    prep: &Prepared,
    r: &mut Record,
    lookups: &LookupFiles,
    env: &Environment,
) -> Result<bool, String> {
    let empty = HashMap::new();
    let index = prep.index.as_deref().unwrap_or(&empty);
    let f = &mut r.fields;
    match step {
        Step::IobEntities {
            tokens,
            tags,
            into,
            text_into,
            types,
            entity_spacing,
        } => {
            let toks = strings(f.get(tokens));
            let tgs = strings(f.get(tags));
            if toks.len() != tgs.len() {
                return Err(format!(
                    "`{tokens}` has {} items but `{tags}` has {}",
                    toks.len(),
                    tgs.len()
                ));
            }
            let upstream = match entity_spacing.as_deref() {
                None | Some("proper") => false,
                Some("upstream") => true,
                Some(other) => {
                    return Err(format!(
                        "entity_spacing `{other}` must be `proper` or `upstream`"
                    ));
                }
            };
            let ents: Vec<Value> = entities_from_iob(&tgs)
                .into_iter()
                .filter(|(t, _)| match (types, t) {
                    (Some(ts), Some(t)) => ts.contains(t),
                    _ => true,
                })
                .map(|(_, range)| {
                    let span = &toks[range];
                    Value::String(if upstream {
                        span.join(" ")
                    } else {
                        detokenize(span)
                    })
                })
                .collect();
            f.insert(into.clone(), Value::Array(ents));
            if let Some(t) = text_into {
                let text = if upstream {
                    upstream_join(&toks)
                } else {
                    detokenize(&toks)
                };
                f.insert(t.clone(), Value::String(text));
            }
        }
        Step::PubtatorEntities {
            entity_type,
            into,
            unique,
        } => {
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
                if !*unique || !seen.contains(&t) {
                    seen.push(t);
                }
            }
            f.insert(into.clone(), json!(seen));
        }
        Step::LetteredOptions {
            options,
            answer,
            answer_is,
            into,
        } => {
            let texts: Vec<(String, String)> = match options {
                OptionsSource::Fields(names) => names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (letter(i), f.get(n).map(value_text).unwrap_or_default()))
                    .collect(),
                OptionsSource::Field(name) => match f.get(name) {
                    Some(Value::Object(m)) => {
                        m.iter().map(|(k, v)| (k.clone(), value_text(v))).collect()
                    }
                    Some(Value::Array(a)) => a
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (letter(i), value_text(v)))
                        .collect(),
                    _ => {
                        return Err(format!(
                            "options field `{name}` is neither an object nor a list"
                        ));
                    }
                },
            };
            let ans = f.get(answer).cloned().unwrap_or(Value::Null);
            let pos = match answer_is.as_str() {
                "letter" => texts
                    .iter()
                    .position(|(l, _)| *l == value_text(&ans).trim()),
                "index0" => value_text(&ans).trim().parse::<usize>().ok(),
                "index1" => value_text(&ans)
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| i.checked_sub(1)),
                "text" => texts
                    .iter()
                    .position(|(_, t)| t.trim() == value_text(&ans).trim()),
                other => {
                    return Err(format!(
                        "answer_is `{other}` must be letter, index0, index1 or text"
                    ));
                }
            };
            let Some(pos) = pos.filter(|p| *p < texts.len()) else {
                return Err(format!(
                    "answer {} is not among the {} options",
                    ans,
                    texts.len()
                ));
            };
            let list: Vec<Value> = texts
                .iter()
                .map(|(l, t)| string_object([("letter", l.clone()), ("text", t.clone())]))
                .collect();
            f.insert(
                format!("{into}_letter"),
                Value::String(texts[pos].0.clone()),
            );
            f.insert(format!("{into}_text"), Value::String(texts[pos].1.clone()));
            f.insert(format!("{into}_list"), Value::Array(list));
        }
        Step::Join {
            file,
            key,
            on,
            into,
            required,
            fields,
        } => {
            let _ = (key, on);
            let want = prep.render(env, f).map_err(|e| format!("join `on`: {e}"))?;
            let found = index
                .get(&want)
                .and_then(|i| lookups.files.get(file)?.get(*i));
            match found {
                Some(o) => {
                    f.insert(
                        into.clone(),
                        Value::Object(pick(&o.fields, fields.as_deref())),
                    );
                }
                None if *required => return Err(format!("no record of `{file}` has key `{want}`")),
                None => {
                    f.insert(into.clone(), Value::Null);
                }
            }
        }
        Step::Lookup {
            file,
            codes,
            separator,
            key,
            value,
            into,
            ..
        } => {
            let codes: Vec<String> = match (f.get(codes), separator) {
                (Some(Value::Array(a)), _) => a.iter().map(value_text).collect(),
                (Some(v), Some(sep)) => value_text(v)
                    .split(sep.as_str())
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
                (Some(v), None) => vec![value_text(v)],
                (None, _) => return Err(format!("record has no field `{codes}`")),
            };
            let table = lookups
                .files
                .get(file)
                .ok_or_else(|| format!("lookup file `{file}` is not loaded"))?;
            let mut found = Vec::new();
            let mut missing = Vec::new();
            for c in codes {
                let _ = key;
                match index.get(&c).and_then(|i| table.get(*i)) {
                    Some(r) => {
                        let v = r.fields.get(value).map(value_text).unwrap_or_default();
                        found.push(string_object([("code", c), ("value", v)]));
                    }
                    None => missing.push(Value::String(c)),
                }
            }
            f.insert(into.clone(), Value::Array(found));
            f.insert(format!("{into}_missing"), Value::Array(missing));
        }
        Step::Section {
            field,
            start,
            end,
            skip,
            into,
            missing,
            strip,
            replace_newlines,
        } => {
            let text = f.get(field).map(value_text).unwrap_or_default();
            let chars: Vec<char> = text.chars().collect();
            let find = |m: &str| text.find(m).map(|b| text[..b].chars().count());
            let section = match find(start) {
                None if missing == "skip" => return Ok(false),
                None => String::new(),
                Some(s) => {
                    let from = (s + start.chars().count() + skip).min(chars.len());
                    let to = match end {
                        Some(e) => find(e).unwrap_or(chars.len()),
                        None => chars.len(),
                    };
                    if to < from {
                        String::new()
                    } else {
                        chars[from..to].iter().collect()
                    }
                }
            };
            let section = match replace_newlines {
                Some(rep) => section.replace('\n', rep),
                None => section,
            };
            let section = if *strip {
                section
                    .trim_matches(medsins_core::normalize::is_py_space)
                    .to_string()
            } else {
                section
            };
            f.insert(into.clone(), Value::String(section));
        }
        Step::KeyValue {
            columns,
            exclude,
            separator,
            missing,
            into,
        } => {
            let names: Vec<String> = match columns {
                Some(c) => c.clone(),
                None => f.keys().filter(|k| !exclude.contains(k)).cloned().collect(),
            };
            let mut parts = Vec::with_capacity(names.len());
            for n in &names {
                let v = match f.get(n) {
                    Some(v) => value_text(v),
                    None => return Err(format!("record has no column `{n}`")),
                };
                let v = if v.is_empty() { missing.clone() } else { v };
                parts.push(format!("{n}: {v}"));
            }
            f.insert(into.clone(), Value::String(parts.join(separator)));
        }
        Step::Keep { .. } => {
            return prep
                .render(env, f)
                .map(|v| v == "1")
                .map_err(|e| format!("keep `when`: {e}"));
        }
        Step::PyLiteral { field, into } => {
            let text = f
                .get(field)
                .map(value_text)
                .ok_or_else(|| format!("record has no field `{field}`"))?;
            let v = crate::ops_py_literal::parse_py_literal(&text, &prep.limits)
                .map_err(|e| format!("`{field}`: {e}"))?;
            f.insert(into.clone(), v);
        }
        Step::Select { path, into, list } => {
            let v = crate::ops_select::select(f, path, *list);
            f.insert(into.clone(), v);
        }
        Step::LookupRecords {
            file,
            codes,
            value_separator,
            into,
            fields,
            ..
        } => {
            let table = lookups
                .files
                .get(file)
                .ok_or_else(|| format!("lookup file `{file}` is not loaded"))?;
            crate::ops_lookup_records::lookup_records(
                f,
                codes,
                value_separator.as_deref(),
                into,
                (table, fields.as_deref()),
                index,
            )?;
        }
        Step::RegexReplace { field, into, .. } => {
            let text = f
                .get(field)
                .map(value_text)
                .ok_or_else(|| format!("record has no field `{field}`"))?;
            let out = crate::ops_regex::apply(&text, &prep.regex);
            f.insert(
                into.as_deref().unwrap_or(field).to_string(),
                Value::String(out),
            );
        }
        Step::PandasValues { .. } => {
            let plan = prep
                .pandas
                .as_ref()
                .ok_or("pandas_values: the column types were not learned (no pre-pass)")?;
            crate::ops_pandas::apply(plan, f);
        }
        Step::Group { .. } | Step::Explode { .. } | Step::KeywordLabel { .. } => {
            return Err(format!(
                "`{}` runs over the whole stream, not one record",
                step_name(step)
            ));
        }
    }
    Ok(true)
}

/// A JSON object of string members, in the given order (built directly: `json!` would
/// serialise the strings again).
fn string_object<const N: usize>(members: [(&str, String); N]) -> Value {
    Value::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect(),
    )
}

/// A looked-up record's fields, or only the named ones (in the record's order).
pub(crate) fn pick(
    fields: &serde_json::Map<String, Value>,
    only: Option<&[String]>,
) -> serde_json::Map<String, Value> {
    match only {
        None => fields.clone(),
        Some(names) => fields
            .iter()
            .filter(|(k, _)| names.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn letter(i: usize) -> String {
    char::from(b'A' + (i % 26) as u8).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: Value) -> Record {
        Record {
            fields: v.as_object().unwrap().clone(),
            locator: "x".into(),
            raw_sha256: String::new(),
        }
    }

    #[test]
    fn iob_entities_types_and_orphan_i() {
        let tags: Vec<String> = ["I", "B-Chemical", "I-Chemical", "O", "B-Disease", "B", "I"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = entities_from_iob(&tags);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0], (Some("Chemical".into()), 1..3));
        assert_eq!(e[1], (Some("Disease".into()), 4..5));
        assert_eq!(e[2], (None, 5..7));
    }

    #[test]
    fn iob_step_detokenises_entities() {
        let env = Environment::new();
        let mut r = rec(
            json!({"tokens": ["Streptococcus", "ursoris", "sp", ".", "nov", ".", ",", "isolated"], "tags": ["B","I","I","I","I","I","O","O"]}),
        );
        let step = Step::IobEntities {
            tokens: "tokens".into(),
            tags: "tags".into(),
            into: "e".into(),
            text_into: Some("t".into()),
            types: None,
            entity_spacing: None,
        };
        assert!(
            apply_record_step(
                &step,
                &Prepared::default(),
                &mut r,
                &LookupFiles::default(),
                &env
            )
            .unwrap()
        );
        assert_eq!(r.fields["e"], json!(["Streptococcus ursoris sp. nov."]));
        assert_eq!(r.fields["t"], "Streptococcus ursoris sp. nov., isolated");
        let up = Step::IobEntities {
            tokens: "tokens".into(),
            tags: "tags".into(),
            into: "e".into(),
            text_into: Some("t".into()),
            types: None,
            entity_spacing: Some("upstream".into()),
        };
        apply_record_step(
            &up,
            &Prepared::default(),
            &mut r,
            &LookupFiles::default(),
            &env,
        )
        .unwrap();
        assert_eq!(r.fields["e"], json!(["Streptococcus ursoris sp . nov ."]));
    }

    #[test]
    fn lettered_options_from_fields_and_answer_not_among_options() {
        let env = Environment::new();
        let step = Step::LetteredOptions {
            options: OptionsSource::Fields(vec!["opa".into(), "opb".into()]),
            answer: "cop".into(),
            answer_is: "index1".into(),
            into: "c".into(),
        };
        let mut r = rec(json!({"opa": "x", "opb": "y", "cop": 2}));
        apply_record_step(
            &step,
            &Prepared::default(),
            &mut r,
            &LookupFiles::default(),
            &env,
        )
        .unwrap();
        assert_eq!(r.fields["c_letter"], "B");
        assert_eq!(r.fields["c_text"], "y");
        let mut bad = rec(json!({"opa": "x", "opb": "y", "cop": 5}));
        assert_eq!(
            apply_record_step(
                &step,
                &Prepared::default(),
                &mut bad,
                &LookupFiles::default(),
                &env
            )
            .unwrap_err(),
            "answer 5 is not among the 2 options"
        );
    }

    #[test]
    fn section_follows_python_slicing() {
        let env = Environment::new();
        let step = Step::Section {
            field: "t".into(),
            start: "FINDINGS:".into(),
            end: Some("IMPRESSION:".into()),
            skip: 1,
            into: "f".into(),
            missing: "skip".into(),
            strip: true,
            replace_newlines: Some(" ".into()),
        };
        let mut r = rec(json!({"t": "EXAM\nFINDINGS: a\n b\nIMPRESSION: c"}));
        apply_record_step(
            &step,
            &Prepared::default(),
            &mut r,
            &LookupFiles::default(),
            &env,
        )
        .unwrap();
        assert_eq!(r.fields["f"], "a  b");
        let mut early = rec(json!({"t": "IMPRESSION: c FINDINGS: late"}));
        apply_record_step(
            &step,
            &Prepared::default(),
            &mut early,
            &LookupFiles::default(),
            &env,
        )
        .unwrap();
        assert_eq!(early.fields["f"], "");
        let mut none = rec(json!({"t": "nothing"}));
        assert!(
            !apply_record_step(
                &step,
                &Prepared::default(),
                &mut none,
                &LookupFiles::default(),
                &env
            )
            .unwrap()
        );
    }
}

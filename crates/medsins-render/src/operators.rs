//! The named built-in operators (manifest `steps`). Each is general: it names fields, never a
//! corpus. They run over one file's records in order, so stateful ones (caps, groups) are
//! deterministic.

use medsins_manifest::{KeywordRule, OptionsSource, Step};
use medsins_readers::{Record, RecordError, detokenize, value_text};
use minijinja::Environment;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Records of the files a task joins or looks up, by file id (loaded once per build).
#[derive(Debug, Default, Clone)]
pub struct LookupFiles {
    pub files: HashMap<String, Vec<Record>>,
}

type Out = Vec<Result<Record, RecordError>>;

/// Runs the steps over one file's records. Returns the surviving records (and records a step
/// could not handle, as errors), plus the records a step dropped on purpose with the reason.
pub(crate) fn run_steps(
    steps: &[Step],
    records: Vec<Record>,
    lookups: &LookupFiles,
    env: &Environment,
) -> (Out, Vec<RecordError>) {
    let mut errors: Vec<RecordError> = Vec::new();
    let mut dropped: Vec<RecordError> = Vec::new();
    let mut recs = records;
    for step in steps {
        let index = lookup_index(step, lookups, env);
        let mut next = Vec::with_capacity(recs.len());
        match step {
            Step::Group { size, by, into } => {
                next = group(
                    recs,
                    *size,
                    by.as_deref(),
                    into,
                    env,
                    &mut errors,
                    &mut dropped,
                );
            }
            Step::RegexReplace { field, rules, into } => {
                next = crate::ops_regex::regex_replace(
                    recs,
                    field,
                    rules,
                    into.as_deref(),
                    &mut errors,
                );
            }
            Step::PandasValues { columns, exclude } => {
                next = crate::ops_pandas::pandas_values(recs, columns.as_deref(), exclude);
            }
            Step::Explode { field, into } => {
                for r in recs {
                    match r.fields.get(field) {
                        Some(Value::Array(items)) => {
                            for (i, item) in items.clone().into_iter().enumerate() {
                                let mut c = r.clone();
                                c.fields.insert(into.clone(), item);
                                c.fields.insert(format!("{into}_index"), Value::from(i));
                                c.locator = format!("{} #{}", r.locator, i + 1);
                                next.push(c);
                            }
                        }
                        Some(Value::Null) | None => dropped.push(RecordError {
                            locator: r.locator.clone(),
                            message: format!("`{field}` is empty"),
                        }),
                        Some(other) => {
                            let mut c = r.clone();
                            c.fields.insert(into.clone(), other.clone());
                            c.fields.insert(format!("{into}_index"), Value::from(0));
                            next.push(c);
                        }
                    }
                }
            }
            Step::KeywordLabel {
                field,
                rules,
                into,
                all,
                cap,
                lowercase,
            } => {
                let mut counts: HashMap<String, usize> = HashMap::new();
                for mut r in recs {
                    let text = r.fields.get(field).map(value_text).unwrap_or_default();
                    let labels = keyword_labels(&text, rules, *all, *lowercase);
                    if labels.is_empty() {
                        dropped.push(RecordError {
                            locator: r.locator.clone(),
                            message: format!("no keyword rule matched `{field}`"),
                        });
                        continue;
                    }
                    if let Some(cap) = cap
                        && labels
                            .iter()
                            .any(|l| counts.get(l).copied().unwrap_or(0) >= *cap)
                    {
                        dropped.push(RecordError {
                            locator: r.locator.clone(),
                            message: format!("label cap {cap} reached"),
                        });
                        continue;
                    }
                    for l in &labels {
                        *counts.entry(l.clone()).or_default() += 1;
                    }
                    let v = if *all {
                        json!(labels)
                    } else {
                        Value::String(labels[0].clone())
                    };
                    r.fields.insert(into.clone(), v);
                    next.push(r);
                }
            }
            _ => {
                for mut r in recs {
                    match apply_record_step(step, &mut r, lookups, index.as_ref(), env) {
                        Ok(true) => next.push(r),
                        Ok(false) => dropped.push(RecordError {
                            locator: r.locator.clone(),
                            message: format!("dropped by step `{}`", step_name(step)),
                        }),
                        Err(message) => errors.push(RecordError {
                            locator: r.locator.clone(),
                            message,
                        }),
                    }
                }
            }
        }
        recs = next;
    }
    let mut out: Out = recs.into_iter().map(Ok).collect();
    out.extend(errors.into_iter().map(Err));
    (out, dropped)
}

fn keyword_labels(text: &str, rules: &[KeywordRule], all: bool, lowercase: bool) -> Vec<String> {
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

fn step_name(step: &Step) -> String {
    serde_json::to_value(step)
        .ok()
        .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string))
        .unwrap_or_default()
}

fn group(
    recs: Vec<Record>,
    size: Option<usize>,
    by: Option<&str>,
    into: &str,
    env: &Environment,
    errors: &mut Vec<RecordError>,
    dropped: &mut Vec<RecordError>,
) -> Vec<Record> {
    let mut groups: Vec<Vec<Record>> = Vec::new();
    if let Some(n) = size.filter(|n| *n > 0) {
        let mut it = recs.into_iter().peekable();
        while it.peek().is_some() {
            let g: Vec<Record> = it.by_ref().take(n).collect();
            if g.len() == n {
                groups.push(g);
            } else {
                for r in g {
                    dropped.push(RecordError {
                        locator: r.locator,
                        message: format!("incomplete final group of fewer than {n}"),
                    });
                }
            }
        }
    } else if let Some(by) = by {
        let mut index: HashMap<String, usize> = HashMap::new();
        for r in recs {
            match env.render_str(by, crate::ctx(&r.fields)) {
                Ok(k) => {
                    let i = *index.entry(k).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[i].push(r);
                }
                Err(e) => errors.push(RecordError {
                    locator: r.locator.clone(),
                    message: format!("group key: {e}"),
                }),
            }
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let mut fields = g[0].fields.clone();
            let members: Vec<Value> = g.iter().map(|r| Value::Object(r.fields.clone())).collect();
            fields.insert(into.to_string(), Value::Array(members));
            let locator = if g.len() == 1 {
                g[0].locator.clone()
            } else {
                format!("{} .. {}", g[0].locator, g[g.len() - 1].locator)
            };
            let joined: String = g.iter().map(|r| r.raw_sha256.as_str()).collect();
            Record {
                fields,
                locator,
                raw_sha256: medsins_core::sha256_hex(joined.as_bytes()),
            }
        })
        .collect()
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

/// Applies a one-record operator. `Ok(false)` drops the record on purpose.
/// For join and lookup steps: the key of every record of the looked-up file -> its position
/// (first record wins), built once per file read.
fn lookup_index(
    step: &Step,
    lookups: &LookupFiles,
    env: &Environment,
) -> Option<HashMap<String, usize>> {
    let (file, key_of): (&str, Box<dyn Fn(&Record) -> Option<String>>) = match step {
        Step::Join { file, key, .. } => (
            file,
            Box::new(move |r: &Record| env.render_str(key, crate::ctx(&r.fields)).ok()),
        ),
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

fn apply_record_step(
    step: &Step,
    r: &mut Record,
    lookups: &LookupFiles,
    index: Option<&HashMap<String, usize>>,
    env: &Environment,
) -> Result<bool, String> {
    let empty = HashMap::new();
    let index = index.unwrap_or(&empty);
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
                .map(|(l, t)| json!({"letter": l, "text": t}))
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
        } => {
            let want = env
                .render_str(on, crate::ctx(&*f))
                .map_err(|e| format!("join `on`: {e}"))?;
            let _ = key;
            let found = index
                .get(&want)
                .and_then(|i| lookups.files.get(file)?.get(*i));
            match found {
                Some(o) => {
                    f.insert(into.clone(), Value::Object(o.fields.clone()));
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
                    Some(r) => found.push(json!({"code": c, "value": r.fields.get(value).map(value_text).unwrap_or_default()})),
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
        Step::Keep { when } => return crate::ops_keep::keep(env, when, f),
        Step::PyLiteral { field, into } => {
            let text = f
                .get(field)
                .map(value_text)
                .ok_or_else(|| format!("record has no field `{field}`"))?;
            let v = crate::ops_py_literal::parse_py_literal(&text)
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
                table,
                index,
            )?;
        }
        Step::Group { .. }
        | Step::Explode { .. }
        | Step::KeywordLabel { .. }
        | Step::RegexReplace { .. }
        | Step::PandasValues { .. } => {
            unreachable!("stream steps are handled by run_steps")
        }
    }
    Ok(true)
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
        assert!(apply_record_step(&step, &mut r, &LookupFiles::default(), None, &env).unwrap());
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
        apply_record_step(&up, &mut r, &LookupFiles::default(), None, &env).unwrap();
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
        apply_record_step(&step, &mut r, &LookupFiles::default(), None, &env).unwrap();
        assert_eq!(r.fields["c_letter"], "B");
        assert_eq!(r.fields["c_text"], "y");
        let mut bad = rec(json!({"opa": "x", "opb": "y", "cop": 5}));
        assert_eq!(
            apply_record_step(&step, &mut bad, &LookupFiles::default(), None, &env).unwrap_err(),
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
        apply_record_step(&step, &mut r, &LookupFiles::default(), None, &env).unwrap();
        assert_eq!(r.fields["f"], "a  b");
        let mut early = rec(json!({"t": "IMPRESSION: c FINDINGS: late"}));
        apply_record_step(&step, &mut early, &LookupFiles::default(), None, &env).unwrap();
        assert_eq!(early.fields["f"], "");
        let mut none = rec(json!({"t": "nothing"}));
        assert!(!apply_record_step(&step, &mut none, &LookupFiles::default(), None, &env).unwrap());
    }

    #[test]
    fn keyword_caps_count_in_file_order() {
        let env = Environment::new();
        let rules = vec![
            KeywordRule {
                any: vec!["CT".into()],
                label: "CT".into(),
                token: true,
            },
            KeywordRule {
                any: vec!["chest".into()],
                label: "Chest".into(),
                token: false,
            },
        ];
        let step = Step::KeywordLabel {
            field: "e".into(),
            rules,
            into: "l".into(),
            all: true,
            cap: Some(1),
            lowercase: true,
        };
        let recs = vec![
            rec(json!({"e": "CT CHEST"})),
            rec(json!({"e": "CT head"})),
            rec(json!({"e": "xray"})),
        ];
        let (out, dropped) = run_steps(&[step], recs, &LookupFiles::default(), &env);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].as_ref().unwrap().fields["l"], json!(["CT", "Chest"]));
        assert_eq!(dropped.len(), 2);
        assert_eq!(dropped[1].message, "no keyword rule matched `e`");
    }
}

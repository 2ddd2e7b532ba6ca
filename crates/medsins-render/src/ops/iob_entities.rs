//! `iob_entities`: IOB/CoNLL tags to entities. Reads the token and tag lists of an `iob`
//! record; writes `into` (entity texts, properly detokenised, in order) and `text_into` (the
//! sentence, detokenised). `types` keeps only entities of those types.

use super::strings;
use medsins_readers::detokenize;
use serde_json::{Map, Value};

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

/// The step's fields, as the manifest names them.
pub(crate) struct IobEntities<'a> {
    pub tokens: &'a str,
    pub tags: &'a str,
    pub into: &'a str,
    pub text_into: Option<&'a str>,
    pub types: Option<&'a [String]>,
    pub entity_spacing: Option<&'a str>,
}

pub(crate) fn apply(f: &mut Map<String, Value>, s: IobEntities) -> Result<(), String> {
    let toks = strings(f.get(s.tokens));
    let tgs = strings(f.get(s.tags));
    if toks.len() != tgs.len() {
        return Err(format!(
            "`{}` has {} items but `{}` has {}",
            s.tokens,
            toks.len(),
            s.tags,
            tgs.len()
        ));
    }
    let upstream = match s.entity_spacing {
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
        .filter(|(t, _)| match (s.types, t) {
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
    f.insert(s.into.to_string(), Value::Array(ents));
    if let Some(t) = s.text_into {
        let text = if upstream {
            upstream_join(&toks)
        } else {
            detokenize(&toks)
        };
        f.insert(t.to_string(), Value::String(text));
    }
    Ok(())
}

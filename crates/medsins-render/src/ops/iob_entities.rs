//! `iob_entities`: IOB/CoNLL tags to entities. Reads the token and tag lists of an `iob`
//! record; writes `into` (entity texts, properly detokenised, in order) and `text_into` (the
//! sentence, detokenised). `types` keeps only entities of those types.

use super::{OpContext, OpError, OpResult, not_this_op, strings};
use medsins_manifest::Step;
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

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, _: &OpContext) -> OpResult {
    let Step::IobEntities {
        tokens,
        tags,
        into,
        text_into,
        types,
        entity_spacing,
    } = step
    else {
        return Err(not_this_op(step));
    };
    let toks = strings(f.get(tokens));
    let tgs = strings(f.get(tags));
    if toks.len() != tgs.len() {
        return Err(OpError::TagCount {
            tokens: tokens.clone(),
            tags: tags.clone(),
            n_tokens: toks.len(),
            n_tags: tgs.len(),
        });
    }
    let upstream = match entity_spacing.as_deref() {
        None | Some("proper") => false,
        Some("upstream") => true,
        Some(other) => {
            return Err(OpError::EntitySpacing(other.to_string()));
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
    Ok(true)
}

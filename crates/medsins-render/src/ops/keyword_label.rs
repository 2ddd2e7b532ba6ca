//! `keyword_label`: labels a record by keyword rules on a field — the first (or every, with
//! `all = true`) rule whose keyword occurs decides; records with no label are dropped; `cap`
//! limits each label to that many records, counted in file order (so this step runs over the
//! stream, not record by record).

use medsins_manifest::{KeywordRule, MatchNormalize};
use medsins_readers::{Record, RecordError, value_text};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;

/// Text as `keyword_label` compares it: whitespace runs made one space and/or lower-cased
/// (borrowed unchanged when the step asks for neither).
fn normalized<'t>(text: &'t str, normalize: &[MatchNormalize]) -> Cow<'t, str> {
    if normalize.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut t = if normalize.contains(&MatchNormalize::Whitespace) {
        let mut out = String::with_capacity(text.len());
        let mut in_space = false;
        for c in text.chars() {
            if medsins_core::normalize::is_py_space(c) {
                if !in_space {
                    out.push(' ');
                }
                in_space = true;
            } else {
                out.push(c);
                in_space = false;
            }
        }
        out
    } else {
        text.to_string()
    };
    if normalize.contains(&MatchNormalize::Case) {
        t = t.to_lowercase();
    }
    Cow::Owned(t)
}

/// The labels of `text` under `rules`, in rule order.
pub(crate) fn keyword_labels(
    text: &str,
    rules: &[KeywordRule],
    all: bool,
    lowercase: bool,
    normalize: &[MatchNormalize],
) -> Vec<String> {
    let mut compared = normalized(text, normalize);
    if lowercase {
        compared = Cow::Owned(compared.to_lowercase());
    }
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let mut labels: Vec<String> = Vec::new();
    for rule in rules {
        let hit = rule.any.iter().any(|k| {
            let k = normalized(k, normalize);
            if rule.token {
                tokens.iter().any(|t| normalized(t, normalize) == k)
            } else {
                compared.contains(k.as_ref())
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

/// The step's fields, as the manifest names them.
pub(crate) struct KeywordLabel<'a> {
    pub field: &'a str,
    pub rules: &'a [KeywordRule],
    pub into: &'a str,
    pub all: bool,
    pub cap: Option<usize>,
    pub lowercase: bool,
    pub normalize: &'a [MatchNormalize],
}

/// Labels a batch of records (in file order); `counts` carries the records per label from
/// batch to batch when the step has a cap. Dropped records go to `dropped`.
pub(crate) fn label(
    s: &KeywordLabel,
    recs: Vec<Record>,
    counts: Option<&mut HashMap<String, usize>>,
    dropped: &mut Vec<RecordError>,
) -> Vec<Record> {
    let mut counts = counts;
    let mut next = Vec::with_capacity(recs.len());
    for mut r in recs {
        let text = r.fields.get(s.field).map(value_text).unwrap_or_default();
        let labels = keyword_labels(&text, s.rules, s.all, s.lowercase, s.normalize);
        if labels.is_empty() {
            dropped.push(RecordError {
                locator: r.locator.clone(),
                message: format!("no keyword rule matched `{}`", s.field),
            });
            continue;
        }
        if let (Some(cap), Some(counts)) = (s.cap, counts.as_deref_mut()) {
            if labels
                .iter()
                .any(|l| counts.get(l).copied().unwrap_or(0) >= cap)
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
        }
        let v = if s.all {
            json!(labels)
        } else {
            Value::String(labels[0].clone())
        };
        r.fields.insert(s.into.to_string(), v);
        next.push(r);
    }
    next
}

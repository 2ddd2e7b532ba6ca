//! `group`: consecutive records in groups of `size` (a short final group is dropped), or the
//! records sharing the `by` template's value in one; `into` = the list of member records. A
//! stream step: `size` carries an incomplete group from batch to batch, `by` holds the file's
//! records until the file ends (its groups can be anywhere in the file).

use crate::types::Prepared;
use medsins_readers::{Record, RecordError};
use minijinja::Environment;
use serde_json::Value;
use std::collections::HashMap;

/// What a group step holds between batches.
pub(crate) enum Pending {
    Size(Vec<Record>),
    By {
        groups: Vec<Vec<Record>>,
        index: HashMap<String, usize>,
    },
}

/// One record for a group: the first member's fields plus `into` = every member's fields.
fn group_record(g: Vec<Record>, into: &str) -> Record {
    let mut fields = g[0].fields.clone();
    let locator = if g.len() == 1 {
        g[0].locator.clone()
    } else {
        format!("{} .. {}", g[0].locator, g[g.len() - 1].locator)
    };
    let joined: String = g.iter().map(|r| r.raw_sha256.as_str()).collect();
    let members: Vec<Value> = g.into_iter().map(|r| Value::Object(r.fields)).collect();
    fields.insert(into.to_string(), Value::Array(members));
    Record {
        fields,
        locator,
        raw_sha256: medsins_core::sha256_hex(joined.as_bytes()),
    }
}

/// Records folded into the given group records: every member after each group's first.
pub(crate) fn merged(groups: &[Record], into: &str) -> u64 {
    groups
        .iter()
        .map(|g| match g.fields.get(into) {
            Some(Value::Array(members)) => members.len().saturating_sub(1) as u64,
            _ => 0,
        })
        .sum()
}

/// Adds a batch; returns the groups complete so far (`size`), or nothing yet (`by`).
pub(crate) fn push(
    pending: &mut Pending,
    recs: Vec<Record>,
    size: usize,
    into: &str,
    prep: &Prepared,
    env: &Environment,
    errors: &mut Vec<RecordError>,
) -> Vec<Record> {
    match pending {
        Pending::Size(held) => {
            let n = size.max(1);
            held.extend(recs);
            let complete = held.len() - held.len() % n;
            let rest = held.split_off(complete);
            let full = std::mem::replace(held, rest);
            let mut groups = Vec::with_capacity(full.len() / n);
            let mut it = full.into_iter();
            loop {
                let g: Vec<Record> = it.by_ref().take(n).collect();
                if g.is_empty() {
                    break;
                }
                groups.push(group_record(g, into));
            }
            groups
        }
        Pending::By { groups, index } => {
            for mut r in recs {
                match prep.render(env, &mut r.fields) {
                    Ok(k) => {
                        let g = *index.entry(k).or_insert_with(|| {
                            groups.push(Vec::new());
                            groups.len() - 1
                        });
                        groups[g].push(r);
                    }
                    Err(e) => errors.push(RecordError {
                        locator: r.locator.clone(),
                        message: format!("group key: {e}"),
                    }),
                }
            }
            Vec::new()
        }
    }
}

/// The end of the file: `by` emits its groups; `size` drops its incomplete final group.
pub(crate) fn finish(
    pending: &mut Pending,
    size: usize,
    into: &str,
    dropped: &mut Vec<RecordError>,
) -> Vec<Record> {
    match pending {
        Pending::Size(held) => {
            for r in held.drain(..) {
                dropped.push(RecordError {
                    locator: r.locator,
                    message: format!("incomplete final group of fewer than {size}"),
                });
            }
            Vec::new()
        }
        Pending::By { groups, index } => {
            index.clear();
            std::mem::take(groups)
                .into_iter()
                .map(|g| group_record(g, into))
                .collect()
        }
    }
}

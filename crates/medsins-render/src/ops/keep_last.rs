//! `keep_last`: of the records sharing a key, only the one read last is kept. Records wait
//! until the input ends (a file set's last file), because a later file can revise any of them.

use crate::types::Prepared;
use medsins_readers::{Record, RecordError};
use minijinja::Environment;
use std::collections::HashMap;

/// The records read so far, by key.
#[derive(Default)]
pub(crate) struct KeepLast {
    /// In read order; a slot is emptied when a later record with its key arrives.
    records: Vec<Option<Record>>,
    /// Key → slot of the latest record with it.
    latest: HashMap<String, usize>,
    /// (locator, key) of every record a later one replaced.
    superseded: Vec<(String, String)>,
}

impl KeepLast {
    /// Holds a batch of records (in read order), keyed by the step's `by` template; a record
    /// whose key does not render is quarantined.
    pub(crate) fn push_batch(
        &mut self,
        recs: Vec<Record>,
        prep: &Prepared,
        env: &Environment,
        errors: &mut Vec<RecordError>,
    ) {
        for mut r in recs {
            match prep.render(env, &mut r.fields) {
                Ok(k) => self.push(k, r),
                Err(e) => errors.push(RecordError {
                    locator: r.locator.clone(),
                    message: format!("keep_last key: {e}"),
                }),
            }
        }
    }

    fn push(&mut self, key: String, r: Record) {
        let slot = self.records.len();
        if let Some(old) = self.latest.insert(key.clone(), slot)
            && let Some(old) = self.records[old].take()
        {
            self.superseded.push((old.locator, key));
        }
        self.records.push(Some(r));
    }

    /// The records kept, in read order, and one drop notice per record replaced (naming the
    /// record kept instead).
    pub(crate) fn finish(&mut self) -> (Vec<Record>, Vec<RecordError>) {
        let records = std::mem::take(&mut self.records);
        let latest = std::mem::take(&mut self.latest);
        let dropped = std::mem::take(&mut self.superseded)
            .into_iter()
            .map(|(locator, key)| {
                let kept = latest
                    .get(&key)
                    .and_then(|i| records[*i].as_ref())
                    .map(|r| r.locator.as_str())
                    .unwrap_or_default();
                RecordError {
                    locator,
                    message: format!(
                        "replaced by the record read later with the same key `{key}`, at `{kept}`"
                    ),
                }
            })
            .collect();
        (records.into_iter().flatten().collect(), dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(loc: &str) -> Record {
        Record {
            fields: Default::default(),
            locator: loc.into(),
            raw_sha256: String::new(),
        }
    }

    #[test]
    fn the_last_record_of_a_key_wins_and_the_others_are_named() {
        let mut k = KeepLast::default();
        k.push("q1".into(), rec("training11b.json $.questions[0]"));
        k.push("q2".into(), rec("training11b.json $.questions[1]"));
        k.push("q1".into(), rec("11B1_golden.json $.questions[0]"));
        k.push("q1".into(), rec("training12b.json $.questions[5]"));
        let (kept, dropped) = k.finish();
        let locs: Vec<&str> = kept.iter().map(|r| r.locator.as_str()).collect();
        assert_eq!(
            locs,
            [
                "training11b.json $.questions[1]",
                "training12b.json $.questions[5]"
            ]
        );
        assert_eq!(dropped.len(), 2);
        assert_eq!(dropped[0].locator, "training11b.json $.questions[0]");
        assert_eq!(
            dropped[1].message,
            "replaced by the record read later with the same key `q1`, at `training12b.json $.questions[5]`"
        );
    }
}

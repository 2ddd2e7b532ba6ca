//! Record accounting (docs/data-quality.md): for every raw file of every task, where each
//! record went — kept, removed (by ledger reason), quarantined — with the records the steps
//! added (`explode`) or merged (`group`), so that
//! `records_read + added = kept + removed + quarantined + merged` holds per file; and the
//! `low_yield` check of files that turn fewer than half their records into samples without a
//! declared reason.

use crate::task::TaskRun;
use medsins_core::LedgerReason;
use medsins_manifest::{ExpectedYield, LOW_YIELD_CHECK};
use medsins_output::{DeclaredYield, FileAccount, LOW_YIELD_SHARE};
use medsins_quality::CheckResult;
use std::collections::BTreeMap;

impl TaskRun {
    /// Where every record of each of the task's files went, in file order. Kept samples are
    /// counted from the task's `kept` list, removals and quarantines from its ledger, so the
    /// identity checks the one against the other. A ledger file no file of the task names
    /// (a defect) is listed with no records read, so it shows as unbalanced. Each file
    /// carries the task's `expected_yield` declaration that covers it ([`declare`]).
    pub fn accounting(&self, declared: &[ExpectedYield]) -> Vec<FileAccount> {
        let mut kept: BTreeMap<u32, u64> = BTreeMap::new();
        for k in &self.kept {
            *kept.entry(u32::from(k.file)).or_default() += 1;
        }
        // ledger entries name a file by its path, so files declared twice over one path (e.g.
        // two record paths of one XML file) are accounted for as one, their ids joined by `+`
        let mut accounts: Vec<FileAccount> = Vec::new();
        for f in &self.files {
            let kept = kept.get(&f.file_no).copied().unwrap_or(0);
            match accounts.iter_mut().find(|a| a.file == f.file) {
                Some(a) => {
                    a.file_id = format!("{}{FILE_ID_JOIN}{}", a.file_id, f.file_id);
                    a.records_read += f.read;
                    a.added_by_steps += f.added;
                    a.merged_by_steps += f.merged;
                    a.kept += kept;
                }
                None => accounts.push(FileAccount {
                    file_id: f.file_id.clone(),
                    file: f.file.clone(),
                    records_read: f.read,
                    added_by_steps: f.added,
                    merged_by_steps: f.merged,
                    kept,
                    ..FileAccount::default()
                }),
            }
        }
        for (file, reasons) in &self.ledger.by_file {
            let at = match accounts.iter().position(|a| &a.file == file) {
                Some(i) => i,
                None => {
                    accounts.push(FileAccount {
                        file: file.clone(),
                        ..FileAccount::default()
                    });
                    accounts.len() - 1
                }
            };
            let a = &mut accounts[at];
            for (reason, n) in reasons {
                match reason {
                    LedgerReason::Quarantined => a.quarantined += n,
                    r if r.is_flag() => *a.flagged.entry(r.as_str().into()).or_default() += n,
                    r => *a.removed.entry(r.as_str().into()).or_default() += n,
                }
                // samples too long are removed while the shards are written, after `kept` is
                // final: they are still in it
                if *reason == LedgerReason::TooLong {
                    a.kept = a.kept.saturating_sub(*n);
                }
            }
        }
        declare(&mut accounts, declared);
        accounts
    }
}

/// Joins the ids of files accounted for as one (see [`TaskRun::accounting`]).
const FILE_ID_JOIN: char = '+';

/// Attaches a task's `expected_yield` declarations to the files they cover (the first
/// declaration naming a file wins over one for every file).
pub fn declare(accounts: &mut [FileAccount], declared: &[ExpectedYield]) {
    for a in accounts {
        let ids: Vec<&str> = a.file_id.split(FILE_ID_JOIN).collect();
        let named = declared
            .iter()
            .find(|d| d.file.as_deref().is_some_and(|f| ids.contains(&f)));
        a.expected_yield = named
            .or_else(|| declared.iter().find(|d| ids.iter().any(|id| d.covers(id))))
            .map(|d| DeclaredYield {
                reason: d.reason.clone(),
                min: d.min,
            });
    }
}

/// The `low_yield` check of every task with a file under [`LOW_YIELD_SHARE`]: one result per
/// task (count = the records of its low files that did not become samples), expected when
/// every low file is declared and at or above its declared minimum.
pub fn yield_checks<'a>(
    tasks: impl IntoIterator<Item = (&'a str, &'a [FileAccount])>,
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for (task, files) in tasks {
        let low: Vec<_> = files.iter().filter_map(FileAccount::low_yield).collect();
        if low.is_empty() {
            continue;
        }
        let expected = low.iter().all(|l| l.expected);
        let mut reasons: Vec<String> = Vec::new();
        for d in low.iter().filter_map(|l| l.account.expected_yield.as_ref()) {
            if !reasons.contains(&d.reason) {
                reasons.push(d.reason.clone());
            }
        }
        results.push(CheckResult {
            task_id: task.to_string(),
            check: LOW_YIELD_CHECK.to_string(),
            count: low.iter().map(|l| l.account.units() - l.account.kept).sum(),
            examples: Vec::new(),
            detail: low
                .iter()
                .map(|l| describe(l.account, l.share))
                .collect::<Vec<_>>()
                .join("; "),
            expected,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
        });
    }
    results
}

/// `train.tsv: 216 of 1000 records became samples (21.6 %, under 50 %; removed: filtered 778,
/// leak 6)`, and what the declaration says when the file is below its declared minimum.
fn describe(a: &FileAccount, share: f64) -> String {
    let mut gone: Vec<String> = a.removed.iter().map(|(r, n)| format!("{r} {n}")).collect();
    if a.quarantined > 0 {
        gone.push(format!("quarantined {}", a.quarantined));
    }
    let mut s = format!(
        "{}: {} of {} records became samples ({:.1} %, under {:.0} %; removed: {})",
        a.file,
        a.kept,
        a.units(),
        share * 100.0,
        LOW_YIELD_SHARE * 100.0,
        if gone.is_empty() {
            "none".to_string()
        } else {
            gone.join(", ")
        }
    );
    match &a.expected_yield {
        None => s.push_str("; declare why with the task's `expected_yield`, or fix the manifest"),
        Some(d) => {
            if let Some(min) = d.min.filter(|m| share < *m) {
                s.push_str(&format!(
                    "; below the declared minimum of {:.1} %",
                    min * 100.0
                ));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(read: u64, kept: u64, filtered: u64) -> FileAccount {
        FileAccount {
            file_id: "f".into(),
            file: "f.jsonl".into(),
            records_read: read,
            kept,
            removed: [("filtered".to_string(), filtered)].into(),
            ..FileAccount::default()
        }
    }

    #[test]
    fn a_low_yield_fails_unless_declared_and_above_the_declared_minimum() {
        let low = [account(10, 3, 7)];
        let r = yield_checks([("task1_x", &low[..])]);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].count, r[0].expected), (7, false));
        assert_eq!(
            r[0].detail,
            "f.jsonl: 3 of 10 records became samples (30.0 %, under 50 %; removed: filtered 7); declare why with the task's `expected_yield`, or fix the manifest"
        );
        let mut declared = low.clone();
        let why = |min| ExpectedYield {
            file: None,
            reason: "one label of three".into(),
            min,
        };
        declare(&mut declared, &[why(Some(0.25))]);
        let r = yield_checks([("task1_x", &declared[..])]);
        assert!(r[0].expected);
        assert_eq!(r[0].reason.as_deref(), Some("one label of three"));
        declare(&mut declared, &[why(Some(0.4))]);
        let r = yield_checks([("task1_x", &declared[..])]);
        assert!(!r[0].expected);
        assert!(
            r[0].detail
                .ends_with("; below the declared minimum of 40.0 %"),
            "{}",
            r[0].detail
        );
        // half is not low; a file without records has no yield
        assert!(yield_checks([("t", &[account(10, 5, 5), account(0, 0, 0)][..])]).is_empty());
    }

    #[test]
    fn a_declaration_naming_the_file_wins_over_one_for_every_file() {
        let mut a = [account(10, 1, 9)];
        let d = |file: Option<&str>, reason: &str| ExpectedYield {
            file: file.map(str::to_string),
            reason: reason.into(),
            min: None,
        };
        declare(
            &mut a,
            &[
                d(None, "all"),
                d(Some("f"), "this one"),
                d(Some("g"), "other"),
            ],
        );
        assert_eq!(a[0].expected_yield.as_ref().unwrap().reason, "this one");
        declare(&mut a, &[d(Some("g"), "other")]);
        assert_eq!(a[0].expected_yield, None);
    }
}

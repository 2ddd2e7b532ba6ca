//! Semantic checks per task, reported all at once (`checks.json`, `medsins check`).
//!
//! Each check counts the samples it fails on and names up to 5 of them (the smallest ids, so
//! the report does not depend on sample order). A manifest may declare a check as expected on
//! a task (`expected_checks`); such failures are reported but do not fail `--strict`.

use medsins_manifest::ExpectedCheck;
pub use medsins_manifest::QUALITY_CHECKS;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Label skew is tested on tasks with at most this many distinct outputs...
pub const SKEW_MAX_LABELS: usize = 20;
/// ... and at least this many samples ...
pub const SKEW_MIN_SAMPLES: usize = 20;
/// ... and fails below this normalised entropy (entropy / ln(labels); one label = 0).
pub const SKEW_MIN_ENTROPY: f64 = 0.5;
/// Any input or output longer than this (characters) is suspicious.
pub const MAX_CHARS: usize = 100_000;
/// Extraction tasks (NER, information extraction): output longer than this × input is suspicious.
pub const EXTRACTION_RATIO: usize = 20;
pub const EXAMPLES: usize = 5;

/// What the checks read of a task.
pub struct TaskView<'a> {
    pub task_id: &'a str,
    pub category: &'a str,
    /// `(id, input, output)`.
    pub samples: Vec<(&'a str, &'a str, &'a str)>,
    pub expected: &'a [ExpectedCheck],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub task_id: String,
    pub check: String,
    /// Samples that fail the check.
    pub count: u64,
    /// Up to 5 of their ids (smallest first).
    pub examples: Vec<String>,
    pub detail: String,
    pub expected: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChecksReport {
    pub checks: Vec<String>,
    pub tasks_checked: u64,
    pub samples_checked: u64,
    /// Failing (task, check) pairs.
    pub failing: u64,
    /// Failing pairs not declared in the task's `expected_checks`.
    pub unexpected: u64,
    /// Samples failing, per check, over all tasks.
    pub per_check: BTreeMap<String, u64>,
    pub results: Vec<CheckResult>,
    /// Every task's declared expected checks (so `medsins check` can honour them later).
    #[serde(default)]
    pub expected: BTreeMap<String, Vec<ExpectedCheck>>,
}

impl ChecksReport {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("checks serialise");
        s.push('\n');
        s
    }

    /// One line per failing (task, check), for terminals.
    pub fn summary_lines(&self) -> Vec<String> {
        self.results
            .iter()
            .map(|r| {
                let tag = if r.expected { "expected" } else { "FAILED  " };
                let why = r
                    .reason
                    .as_ref()
                    .map(|x| format!(" (expected: {x})"))
                    .unwrap_or_default();
                format!(
                    "{tag} {:<24} {} {} sample(s): {}; e.g. {}{why}",
                    r.check,
                    r.task_id,
                    r.count,
                    r.detail,
                    r.examples.join(", ")
                )
            })
            .collect()
    }
}

struct Failure {
    ids: Vec<String>,
    detail: String,
}

fn fail(ids: impl IntoIterator<Item = String>, detail: String) -> Option<Failure> {
    let mut ids: Vec<String> = ids.into_iter().collect();
    if ids.is_empty() {
        return None;
    }
    ids.sort_unstable();
    ids.dedup();
    Some(Failure { ids, detail })
}

/// Lettered options listed in an input: lines (or tab-separated cells, as MedMCQA's
/// `Options: A: x<TAB>B: y`) like `A. …`, `A: …`, `A) …`, `(A) …`, also after `Options:`.
pub fn option_letters(input: &str) -> BTreeSet<char> {
    let mut out = BTreeSet::new();
    for line in input.split(['\n', '\t']) {
        let line = line.trim_start();
        let line = line.strip_prefix("Options:").unwrap_or(line);
        let l = line.trim_start();
        let (l, paren) = match l.strip_prefix('(') {
            Some(r) => (r, true),
            None => (l, false),
        };
        let mut cs = l.chars();
        let (Some(c), Some(p)) = (cs.next(), cs.next()) else {
            continue;
        };
        let ok_punct = if paren {
            p == ')'
        } else {
            matches!(p, '.' | ':' | ')')
        };
        if c.is_ascii_uppercase() && ok_punct && cs.next().is_some_and(char::is_whitespace) {
            out.insert(c);
        }
    }
    if out.len() >= 2 && out.contains(&'A') && out.contains(&'B') {
        out
    } else {
        BTreeSet::new()
    }
}

/// The letter an output names: `B`, `B.`, `B) text`, `(B)`, `Answer: B`, `The answer is B.`
pub fn answer_letter(output: &str) -> Option<char> {
    let mut o = output.trim();
    let lower = o.to_lowercase();
    // `The (right|correct) answer is C`, `Answer: C`
    // (byte offsets of the lower-cased text are only used when they are valid in the original)
    if let Some(rest) = lower
        .find("answer is")
        .filter(|i| *i <= 20 && lower.starts_with("the "))
        .and_then(|i| o.get(i + 9..))
    {
        o = rest.trim_start_matches([' ', ':']);
    } else if let Some(rest) = lower.starts_with("answer").then(|| o.get(6..)).flatten() {
        o = rest.trim_start_matches([' ', ':']);
    }
    let o = o.strip_prefix('(').unwrap_or(o);
    let mut cs = o.chars();
    let c = cs.next()?;
    if !c.is_ascii_uppercase() {
        return None;
    }
    match cs.next() {
        None => Some(c),
        Some('.' | ')' | ':') => Some(c),
        _ => None,
    }
}

fn is_no_entity(output: &str) -> bool {
    output
        .trim()
        .to_lowercase()
        .starts_with("there is no related")
}

/// Runs every check on one task.
pub fn check_task(v: &TaskView) -> Vec<CheckResult> {
    let mut found: Vec<(&str, Option<Failure>)> = Vec::new();
    let ids = |f: &dyn Fn(&(&str, &str, &str)) -> bool| {
        v.samples
            .iter()
            .filter(|s| f(s))
            .map(|s| s.0.to_string())
            .collect::<Vec<_>>()
    };

    found.push((
        "empty_input",
        fail(ids(&|s| s.1.trim().is_empty()), "input is empty".into()),
    ));
    found.push((
        "empty_output",
        fail(ids(&|s| s.2.trim().is_empty()), "output is empty".into()),
    ));

    // identical input, different outputs
    let mut by_input: BTreeMap<&str, (BTreeSet<&str>, Vec<&str>)> = BTreeMap::new();
    for (id, i, o) in &v.samples {
        let e = by_input.entry(i).or_default();
        e.0.insert(o);
        e.1.push(id);
    }
    let conflicting: Vec<_> = by_input
        .values()
        .filter(|(outs, _)| outs.len() > 1)
        .collect();
    let n_inputs = conflicting.len();
    found.push((
        "conflicting_outputs",
        fail(
            conflicting
                .into_iter()
                .flat_map(|(_, ids)| ids.iter().map(|x| x.to_string())),
            format!("{n_inputs} input(s) with more than one distinct output"),
        ),
    ));

    // label skew
    let mut labels: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, _, o) in &v.samples {
        labels.entry(o).or_default().push(id);
        if labels.len() > SKEW_MAX_LABELS {
            break;
        }
    }
    let n = v.samples.len();
    let skew = if labels.len() <= SKEW_MAX_LABELS && n >= SKEW_MIN_SAMPLES {
        let k = labels.len();
        let h: f64 = labels
            .values()
            .map(|ids| ids.len() as f64 / n as f64)
            .map(|p| -p * p.ln())
            .sum();
        let norm = if k < 2 { 0.0 } else { h / (k as f64).ln() };
        let (top, top_ids) = labels
            .iter()
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
            .map(|(l, ids)| (*l, ids.clone()))
            .unwrap_or_default();
        (norm < SKEW_MIN_ENTROPY).then(|| {
            let label: String = top.chars().take(40).collect();
            fail(
                top_ids.iter().map(|x| x.to_string()),
                format!(
                    "normalised entropy {norm:.3} over {k} label(s); `{label}` is {:.1}% of {n}",
                    100.0 * top_ids.len() as f64 / n as f64
                ),
            )
        })
    } else {
        None
    };
    found.push(("label_skew", skew.flatten()));

    // multiple choice
    let mut mc_detail = String::new();
    let mc = ids(&|(_, i, o)| {
        let letters = option_letters(i);
        !letters.is_empty() && answer_letter(o).is_some_and(|c| !letters.contains(&c))
    });
    if let Some((_, i, o)) = v
        .samples
        .iter()
        .find(|s| mc.first().is_some_and(|f| f == s.0))
    {
        mc_detail = format!(
            "answer `{}` not among options {:?}",
            answer_letter(o).unwrap_or('?'),
            option_letters(i).into_iter().collect::<String>()
        );
    }
    found.push(("mc_answer_not_in_options", fail(mc, mc_detail)));

    // NER entities must be in the input
    if v.category == "Named Entity Recognition" {
        let missing = |i: &str, o: &str| -> Option<String> {
            if is_no_entity(o) {
                return None;
            }
            // MedS-Ins NER outputs: entities joined by ", ", then "." appended
            let o = o.strip_suffix('.').unwrap_or(o);
            o.split(", ")
                .map(str::trim)
                .find(|e| !e.is_empty() && !i.contains(e))
                .map(str::to_string)
        };
        let bad = ids(&|(_, i, o)| missing(i, o).is_some());
        let detail = v
            .samples
            .iter()
            .filter(|s| bad.iter().any(|b| b == s.0))
            .min_by_key(|s| s.0)
            .and_then(|(_, i, o)| missing(i, o))
            .map(|e| {
                format!(
                    "entity `{}` is not a substring of the input",
                    e.chars().take(60).collect::<String>()
                )
            })
            .unwrap_or_default();
        found.push(("ner_not_substring", fail(bad, detail)));
    }

    found.push((
        "output_copies_input",
        fail(
            ids(&|(_, i, o)| !o.is_empty() && i == o),
            "output equals input".into(),
        ),
    ));

    let extraction = matches!(
        v.category,
        "Named Entity Recognition" | "Information Extraction"
    );
    found.push((
        "suspicious_length",
        fail(
            ids(&|(_, i, o)| {
                let (li, lo) = (i.chars().count(), o.chars().count());
                li > MAX_CHARS
                    || lo > MAX_CHARS
                    || (extraction && li > 0 && lo > 100 && lo > EXTRACTION_RATIO * li)
            }),
            format!(
                "longer than {MAX_CHARS} characters{}",
                if extraction {
                    format!(", or output > {EXTRACTION_RATIO}× input")
                } else {
                    String::new()
                }
            ),
        ),
    ));

    found
        .into_iter()
        .filter_map(|(check, f)| {
            let f = f?;
            let exp = v.expected.iter().find(|e| e.check == check);
            Some(CheckResult {
                task_id: v.task_id.to_string(),
                check: check.to_string(),
                count: f.ids.len() as u64,
                examples: f.ids.into_iter().take(EXAMPLES).collect(),
                detail: f.detail,
                expected: exp.is_some(),
                reason: exp.map(|e| e.reason.clone()),
            })
        })
        .collect()
}

/// Runs every check on every task (tasks in the order given).
pub fn run_checks(views: &[TaskView]) -> ChecksReport {
    let results: Vec<CheckResult> = views.par_iter().flat_map_iter(check_task).collect();
    let mut r = ChecksReport {
        checks: QUALITY_CHECKS.iter().map(|c| c.to_string()).collect(),
        tasks_checked: views.len() as u64,
        samples_checked: views.iter().map(|v| v.samples.len() as u64).sum(),
        failing: results.len() as u64,
        unexpected: results.iter().filter(|r| !r.expected).count() as u64,
        ..Default::default()
    };
    for c in QUALITY_CHECKS {
        r.per_check.insert(c.to_string(), 0);
    }
    for x in &results {
        *r.per_check.entry(x.check.clone()).or_default() += x.count;
    }
    for v in views {
        if !v.expected.is_empty() {
            r.expected
                .insert(v.task_id.to_string(), v.expected.to_vec());
        }
    }
    r.results = results;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(
        category: &'a str,
        samples: Vec<(&'a str, &'a str, &'a str)>,
        expected: &'a [ExpectedCheck],
    ) -> TaskView<'a> {
        TaskView {
            task_id: "t",
            category,
            samples,
            expected,
        }
    }

    fn checks(v: &TaskView) -> Vec<(String, u64, Vec<String>)> {
        check_task(v)
            .into_iter()
            .map(|r| (r.check, r.count, r.examples))
            .collect()
    }

    #[test]
    fn options_and_letters() {
        assert_eq!(
            option_letters("Q?\nA. one\nB. two\nC: three")
                .into_iter()
                .collect::<String>(),
            "ABC"
        );
        assert_eq!(option_letters("(A) x\n(B) y").len(), 2);
        assert!(option_letters("A. lonely").is_empty());
        assert!(option_letters("A.B. Smith wrote\nB.C. era").is_empty());
        assert_eq!(answer_letter("C"), Some('C'));
        assert_eq!(answer_letter("D. aspirin"), Some('D'));
        assert_eq!(answer_letter("The answer is (B)."), Some('B'));
        assert_eq!(
            answer_letter("The right answer is C: Dose\nExplanation: x"),
            Some('C')
        );
        assert_eq!(
            option_letters("Question: q\nOptions: A: Safety\tB: Efficacy\tC: Dose")
                .into_iter()
                .collect::<String>(),
            "ABC"
        );
        assert_eq!(answer_letter("A patient"), None);
        assert_eq!(answer_letter("aspirin"), None);
        assert_eq!(answer_letter("The ÄÖÜ answer is B"), Some('B'));
        assert_eq!(answer_letter("İİİİ"), None);
    }

    #[test]
    fn each_check_fires_on_its_case() {
        let v = view(
            "Question Answering",
            vec![
                ("a", "Which?\nA. x\nB. y", "E"),
                ("b", "same", "one"),
                ("c", "same", "two"),
                ("d", "copy me", "copy me"),
                ("e", "", "x"),
            ],
            &[],
        );
        assert_eq!(
            checks(&v),
            [
                ("empty_input".to_string(), 1, vec!["e".to_string()]),
                (
                    "conflicting_outputs".into(),
                    2,
                    vec!["b".into(), "c".into()]
                ),
                ("mc_answer_not_in_options".into(), 1, vec!["a".into()]),
                ("output_copies_input".into(), 1, vec!["d".into()]),
            ]
        );
    }

    #[test]
    fn ner_substrings_skew_and_expected() {
        let exp = [ExpectedCheck {
            check: "ner_not_substring".into(),
            reason: "upstream spacing".into(),
        }];
        let v = view(
            "Named Entity Recognition",
            vec![
                ("a", "aspirin and ibuprofen", "aspirin, ibuprofen."),
                ("b", "no drugs", "There is no related entity."),
                ("c", "sp. nov. here", "sp . nov .."),
            ],
            &exp,
        );
        let r = check_task(&v);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].check.as_str(), r[0].count, r[0].expected),
            ("ner_not_substring", 1, true)
        );
        assert_eq!(r[0].examples, ["c"]);

        let mut s: Vec<(String, &str)> = (0..30)
            .map(|i| (format!("id{i:02}"), if i < 29 { "yes" } else { "no" }))
            .collect();
        s.sort();
        let v = view(
            "Text Classification",
            s.iter().map(|(id, o)| (id.as_str(), "q", *o)).collect(),
            &[],
        );
        let rep = run_checks(&[v]);
        let skew = rep
            .results
            .iter()
            .find(|r| r.check == "label_skew")
            .unwrap();
        assert_eq!(skew.count, 29);
        assert_eq!(skew.examples, ["id00", "id01", "id02", "id03", "id04"]);
        assert_eq!(rep.unexpected, 2); // label_skew and conflicting_outputs (input "q" for all)
    }
}

//! Semantic checks per task, reported all at once (`checks.json`, `medsins check`).
//!
//! Each check counts the samples it fails on and names up to 5 of them (the smallest ids) and
//! describes the one with the smallest id, so the report does not depend on sample order: the
//! build (which checks while it writes) and `medsins check` (which reads the shards) agree. A manifest may declare a check as expected on
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
                // a low yield counts the records that did not become samples, and has no
                // sample to show
                let unit = if r.check == medsins_manifest::LOW_YIELD_CHECK {
                    "record(s)"
                } else {
                    "sample(s)"
                };
                let examples = if r.examples.is_empty() {
                    String::new()
                } else {
                    format!("; e.g. {}", r.examples.join(", "))
                };
                format!(
                    "{tag} {:<24} {} {} {unit}: {}{examples}{why}",
                    r.check, r.task_id, r.count, r.detail,
                )
            })
            .collect()
    }
}

/// Lettered options listed in an input: lines (or tab-separated cells, as MedMCQA's
/// `Options: A: x<TAB>B: y`) like `A. …`, `A: …`, `A) …`, `(A) …`, also after `Options:`.
pub fn option_letters(input: &str) -> BTreeSet<char> {
    // options need an `A` and a `B` followed by `.`, `:` or `)`: a substring search rules out
    // most inputs (clinical notes, articles) without walking their lines
    let marked = |marks: [&str; 3]| marks.iter().any(|m| input.contains(m));
    if !(marked(["A.", "A:", "A)"]) && marked(["B.", "B:", "B)"])) {
        return BTreeSet::new();
    }
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

/// How many samples fail a check, and the smallest few of their ids.
#[derive(Debug, Clone, Default)]
struct Failing {
    count: u64,
    smallest: BTreeSet<String>,
}

impl Failing {
    fn add(&mut self, id: &str) {
        self.count += 1;
        if self.smallest.len() < EXAMPLES || self.smallest.last().is_some_and(|l| id < l.as_str()) {
            self.smallest.insert(id.to_string());
            if self.smallest.len() > EXAMPLES {
                self.smallest.pop_last();
            }
        }
    }
}

#[derive(Debug, Default)]
struct Label {
    failing: Failing,
}

/// The checks of one task, fed its samples one at a time (in task order) so a build checks
/// while it writes. Memory: 40 bytes plus the id per sample (for `conflicting_outputs`, which
/// needs every input's outputs), the rest is a few counters per check.
pub struct TaskChecker {
    task_id: String,
    category: String,
    expected: Vec<ExpectedCheck>,
    n: u64,
    empty_input: Failing,
    empty_output: Failing,
    copies: Failing,
    length: Failing,
    mc: Failing,
    /// (id, detail) of the failing multiple-choice sample with the smallest id
    mc_detail: Option<(String, String)>,
    ner: Failing,
    /// (id, detail) of the failing NER sample with the smallest id
    ner_detail: Option<(String, String)>,
    /// (input hash, output hash, id)
    pairs: Vec<(u128, u64, String)>,
    labels: BTreeMap<String, Label>,
    too_many_labels: bool,
}

impl TaskChecker {
    pub fn new(task_id: &str, category: &str, expected: &[ExpectedCheck]) -> TaskChecker {
        TaskChecker {
            task_id: task_id.to_string(),
            category: category.to_string(),
            expected: expected.to_vec(),
            n: 0,
            empty_input: Failing::default(),
            empty_output: Failing::default(),
            copies: Failing::default(),
            length: Failing::default(),
            mc: Failing::default(),
            mc_detail: None,
            ner: Failing::default(),
            ner_detail: None,
            pairs: Vec::new(),
            labels: BTreeMap::new(),
            too_many_labels: false,
        }
    }

    fn extraction(&self) -> bool {
        matches!(
            self.category.as_str(),
            "Named Entity Recognition" | "Information Extraction"
        )
    }

    pub fn push(&mut self, id: &str, i: &str, o: &str) {
        self.n += 1;
        if i.trim().is_empty() {
            self.empty_input.add(id);
        }
        if o.trim().is_empty() {
            self.empty_output.add(id);
        }
        self.pairs.push((
            xxhash_rust::xxh3::xxh3_128(i.as_bytes()),
            xxhash_rust::xxh3::xxh3_64(o.as_bytes()),
            id.to_string(),
        ));
        if !self.too_many_labels {
            let room = self.labels.len() < SKEW_MAX_LABELS;
            match self.labels.get_mut(o) {
                Some(l) => l.failing.add(id),
                None if room => {
                    let mut l = Label::default();
                    l.failing.add(id);
                    self.labels.insert(o.to_string(), l);
                }
                None => {
                    self.too_many_labels = true;
                    self.labels.clear();
                }
            }
        }
        let letters = option_letters(i);
        if !letters.is_empty()
            && let Some(c) = answer_letter(o).filter(|c| !letters.contains(c))
        {
            self.mc.add(id);
            if self.mc_detail.as_ref().is_none_or(|(m, _)| id < m.as_str()) {
                self.mc_detail = Some((
                    id.to_string(),
                    format!(
                        "answer `{c}` not among options {:?}",
                        letters.into_iter().collect::<String>()
                    ),
                ));
            }
        }
        if self.category == "Named Entity Recognition"
            && let Some(e) = ner_missing(i, o)
        {
            self.ner.add(id);
            if self
                .ner_detail
                .as_ref()
                .is_none_or(|(m, _)| id < m.as_str())
            {
                self.ner_detail = Some((
                    id.to_string(),
                    format!(
                        "entity `{}` is not a substring of the input",
                        e.chars().take(60).collect::<String>()
                    ),
                ));
            }
        }
        if !o.is_empty() && i == o {
            self.copies.add(id);
        }
        let (li, lo) = (i.chars().count(), o.chars().count());
        if li > MAX_CHARS
            || lo > MAX_CHARS
            || (self.extraction() && li > 0 && lo > 100 && lo > EXTRACTION_RATIO * li)
        {
            self.length.add(id);
        }
    }

    /// The failing checks, in the catalogue's check order.
    pub fn finish(mut self) -> Vec<CheckResult> {
        let mut found: Vec<(&str, Failing, String)> = Vec::new();
        found.push((
            "empty_input",
            std::mem::take(&mut self.empty_input),
            "input is empty".into(),
        ));
        found.push((
            "empty_output",
            std::mem::take(&mut self.empty_output),
            "output is empty".into(),
        ));

        // identical input, different outputs
        let mut pairs = std::mem::take(&mut self.pairs);
        pairs.sort_unstable();
        let mut conflicting = Failing::default();
        let mut n_inputs = 0usize;
        for g in pairs.chunk_by(|a, b| a.0 == b.0) {
            if g.iter().any(|p| p.1 != g[0].1) {
                n_inputs += 1;
                g.iter().for_each(|p| conflicting.add(&p.2));
            }
        }
        found.push((
            "conflicting_outputs",
            conflicting,
            format!("{n_inputs} input(s) with more than one distinct output"),
        ));

        // label skew
        let n = self.n as usize;
        if !self.too_many_labels && n >= SKEW_MIN_SAMPLES {
            let k = self.labels.len();
            let h: f64 = self
                .labels
                .values()
                .map(|l| l.failing.count as f64 / n as f64)
                .map(|p| -p * p.ln())
                .sum();
            let norm = if k < 2 { 0.0 } else { h / (k as f64).ln() };
            let top = self
                .labels
                .iter()
                .max_by(|a, b| a.1.failing.count.cmp(&b.1.failing.count).then(b.0.cmp(a.0)));
            if let (true, Some((label, l))) = (norm < SKEW_MIN_ENTROPY, top) {
                let shown: String = label.chars().take(40).collect();
                let detail = format!(
                    "normalised entropy {norm:.3} over {k} label(s); `{shown}` is {:.1}% of {n}",
                    100.0 * l.failing.count as f64 / n as f64
                );
                found.push(("label_skew", l.failing.clone(), detail));
            }
        }
        found.push((
            "mc_answer_not_in_options",
            std::mem::take(&mut self.mc),
            self.mc_detail.take().map(|d| d.1).unwrap_or_default(),
        ));
        if self.category == "Named Entity Recognition" {
            found.push((
                "ner_not_substring",
                std::mem::take(&mut self.ner),
                self.ner_detail.take().map(|d| d.1).unwrap_or_default(),
            ));
        }
        found.push((
            "output_copies_input",
            std::mem::take(&mut self.copies),
            "output equals input".into(),
        ));
        let length_detail = format!(
            "longer than {MAX_CHARS} characters{}",
            if self.extraction() {
                format!(", or output > {EXTRACTION_RATIO}× input")
            } else {
                String::new()
            }
        );
        found.push((
            "suspicious_length",
            std::mem::take(&mut self.length),
            length_detail,
        ));

        found
            .into_iter()
            .filter(|(_, f, _)| f.count > 0)
            .map(|(check, f, detail)| {
                let exp = self.expected.iter().find(|e| e.check == check);
                CheckResult {
                    task_id: self.task_id.clone(),
                    check: check.to_string(),
                    count: f.count,
                    examples: f.smallest.into_iter().collect(),
                    detail,
                    expected: exp.is_some(),
                    reason: exp.map(|e| e.reason.clone()),
                }
            })
            .collect()
    }
}

/// The first entity of an NER output that is not a substring of the input.
fn ner_missing(i: &str, o: &str) -> Option<String> {
    if is_no_entity(o) {
        return None;
    }
    // MedS-Ins NER outputs: entities joined by ", ", then "." appended
    let o = o.strip_suffix('.').unwrap_or(o);
    o.split(", ")
        .map(str::trim)
        .find(|e| !e.is_empty() && !i.contains(e))
        .map(str::to_string)
}

/// Runs every check on one task.
pub fn check_task(v: &TaskView) -> Vec<CheckResult> {
    let mut c = TaskChecker::new(v.task_id, v.category, v.expected);
    for (id, i, o) in &v.samples {
        c.push(id, i, o);
    }
    c.finish()
}

/// The report of checked tasks: `(results, samples checked)` per task, in task order.
pub fn report(
    tasks: Vec<(Vec<CheckResult>, u64)>,
    expected: BTreeMap<String, Vec<ExpectedCheck>>,
) -> ChecksReport {
    let samples: u64 = tasks.iter().map(|t| t.1).sum();
    let n = tasks.len() as u64;
    let results: Vec<CheckResult> = tasks.into_iter().flat_map(|t| t.0).collect();
    let mut r = ChecksReport {
        checks: QUALITY_CHECKS.iter().map(|c| c.to_string()).collect(),
        tasks_checked: n,
        samples_checked: samples,
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
    r.expected = expected
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    r.results = results;
    r
}

/// Runs every check on every task (tasks in the order given).
pub fn run_checks(views: &[TaskView]) -> ChecksReport {
    let tasks: Vec<(Vec<CheckResult>, u64)> = views
        .par_iter()
        .map(|v| (check_task(v), v.samples.len() as u64))
        .collect();
    let expected = views
        .iter()
        .map(|v| (v.task_id.to_string(), v.expected.to_vec()))
        .collect();
    report(tasks, expected)
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
        // each letter marked in its own way
        assert_eq!(option_letters("q\n(A) x\tB: y\nC. z").len(), 3);
        assert!(option_letters("A: one\nB  two").is_empty());
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

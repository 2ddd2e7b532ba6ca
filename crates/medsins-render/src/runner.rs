//! Running a task's steps over one file's records, batch by batch, in file order.
//!
//! A build never holds a whole file's records: the reader's records arrive in batches, each
//! batch goes through every step, and what comes out is rendered. One-record operators run in
//! parallel over a batch (results kept in order); the stream operators keep their state from
//! batch to batch: keyword caps count in file order, `group size = N` carries an incomplete
//! group over, `group by` collects the file's records (the one step that must see them all)
//! and emits the groups when the file ends ([`StepRunner::finish`]).
//!
//! `pandas_values` types each column over the whole file, as pandas does, so a task with such
//! a step reads the file twice: a learning pass ([`Pass::Learn`]) that runs the steps before
//! it and only counts what each column holds, then the real pass with the learnt types.

use crate::ops::group::Pending;
use crate::ops::keep_last::KeepLast;
use crate::ops::keyword_label::KeywordLabel;
use crate::ops::pandas_values::PandasInfer;
use crate::ops::{apply_record_step, explode, group, keyword_label};
use crate::program::StepProgram;
use crate::types::PandasPlan;
use crate::types::{LookupFiles, Prepared};
use medsins_manifest::Step;
use medsins_readers::{Record, RecordError};
use minijinja::Environment;
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Which pass over a file a runner makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Pass {
    /// The real pass over these steps (positions), records out: `0..n` for a whole task; a
    /// group of tasks sharing their first steps runs the shared steps once and each task's
    /// own steps after them.
    Run(std::ops::Range<usize>),
    /// Learning the column types of the `pandas_values` step at this position: the steps
    /// before it run, nothing comes out.
    Learn(usize),
}

/// What a batch (or the end of a file) produced.
#[derive(Debug, Default)]
pub struct StepOutput {
    pub records: Vec<Record>,
    /// Records a step could not handle (quarantined).
    pub errors: Vec<RecordError>,
    /// Records a step dropped on purpose, with the reason.
    pub dropped: Vec<RecordError>,
    /// Records `explode` added: a record fanned out into n gives n − 1.
    pub added: u64,
    /// Records `group` merged into another: a group of n gives n − 1 (its first member
    /// becomes the group's record).
    pub merged: u64,
}

/// What a stream step carries from batch to batch.
enum State {
    Stateless,
    Group(Pending),
    Caps(HashMap<String, usize>),
    KeepLast(KeepLast),
}

enum Local {
    Keep(Record),
    Many(Vec<Record>),
    Drop(RecordError),
    Error(RecordError),
}

/// Runs a [`StepProgram`] over one file's records (see the module docs).
pub struct StepRunner<'a> {
    prog: &'a StepProgram,
    env: &'a Environment<'static>,
    prepared: Vec<Prepared>,
    states: Vec<State>,
    pass: Pass,
    learning: Option<PandasInfer>,
}

impl<'a> StepRunner<'a> {
    /// A runner for one pass over a file; `learnt` holds the pandas column types learnt by
    /// earlier passes, by step position.
    pub fn new(
        prog: &'a StepProgram,
        env: &'a Environment<'static>,
        learnt: &BTreeMap<usize, Arc<PandasPlan>>,
        pass: Pass,
    ) -> StepRunner<'a> {
        let mut prepared = prog.prepared.clone();
        for (i, plan) in learnt {
            if let Some(p) = prepared.get_mut(*i) {
                p.pandas = Some(plan.clone());
            }
        }
        let states = prog
            .steps
            .iter()
            .map(|s| match s {
                Step::Group { size: Some(n), .. } if *n > 0 => {
                    State::Group(Pending::Size(Vec::new()))
                }
                Step::Group { by: Some(_), .. } => State::Group(Pending::By {
                    groups: Vec::new(),
                    index: HashMap::new(),
                }),
                Step::KeywordLabel { cap: Some(_), .. } => State::Caps(HashMap::new()),
                Step::KeepLast { .. } => State::KeepLast(KeepLast::default()),
                _ => State::Stateless,
            })
            .collect();
        let learning = match pass {
            Pass::Learn(i) => match prog.steps.get(i) {
                Some(Step::PandasValues { columns, exclude }) => {
                    Some(PandasInfer::new(columns.clone(), exclude.clone()))
                }
                _ => None,
            },
            Pass::Run(_) => None,
        };
        StepRunner {
            prog,
            env,
            prepared,
            states,
            pass,
            learning,
        }
    }

    /// The steps this pass runs.
    fn steps(&self) -> std::ops::Range<usize> {
        let n = self.prog.steps.len();
        match &self.pass {
            Pass::Run(r) => r.start.min(n)..r.end.min(n),
            Pass::Learn(i) => 0..(*i).min(n),
        }
    }

    fn end(&self) -> usize {
        self.steps().end
    }

    /// Runs a batch of records (in file order) through the steps.
    pub fn push(&mut self, batch: Vec<Record>) -> StepOutput {
        let mut out = StepOutput::default();
        let recs = self.run_from(self.steps().start, batch, &mut out);
        self.emit(recs, &mut out);
        out
    }

    /// The end of the file: flushes the stream steps' state through the steps after them.
    pub fn finish(&mut self) -> StepOutput {
        let mut out = StepOutput::default();
        for i in self.steps() {
            let flushed = self.flush(i, &mut out);
            let recs = self.run_from(i + 1, flushed, &mut out);
            self.emit(recs, &mut out);
        }
        out
    }

    /// The column types learnt by a [`Pass::Learn`] runner (after [`finish`](Self::finish)).
    pub fn learnt(self) -> Option<PandasPlan> {
        self.learning.map(PandasInfer::finish)
    }

    fn emit(&mut self, recs: Vec<Record>, out: &mut StepOutput) {
        match &mut self.learning {
            Some(infer) => recs.iter().for_each(|r| infer.observe(r)),
            None if matches!(self.pass, Pass::Run(_)) => out.records.extend(recs),
            None => {}
        }
    }

    fn run_from(
        &mut self,
        from: usize,
        mut recs: Vec<Record>,
        out: &mut StepOutput,
    ) -> Vec<Record> {
        for i in from..self.end() {
            if recs.is_empty() {
                break;
            }
            recs = self.apply(i, recs, out);
        }
        recs
    }

    fn apply(&mut self, i: usize, recs: Vec<Record>, out: &mut StepOutput) -> Vec<Record> {
        let step = &self.prog.steps[i];
        let prep = &self.prepared[i];
        match (step, &mut self.states[i]) {
            (Step::Group { size, into, .. }, State::Group(pending)) => {
                let size = size.unwrap_or(1);
                let groups =
                    group::push(pending, recs, size, into, prep, self.env, &mut out.errors);
                out.merged += group::merged(&groups, into);
                groups
            }
            // a group step with neither `size` nor `by` (refused by `validate`) passes nothing
            (Step::Group { .. }, _) => Vec::new(),
            (Step::KeepLast { .. }, State::KeepLast(held)) => {
                held.push_batch(recs, prep, self.env, &mut out.errors);
                Vec::new()
            }
            (
                Step::KeywordLabel {
                    field,
                    rules,
                    into,
                    all,
                    cap,
                    lowercase,
                    normalize,
                },
                state,
            ) => {
                let s = KeywordLabel {
                    field,
                    rules,
                    into,
                    all: *all,
                    cap: *cap,
                    lowercase: *lowercase,
                    normalize,
                };
                let counts = match state {
                    State::Caps(c) => Some(c),
                    _ => None,
                };
                keyword_label::label(&s, recs, counts, &mut out.dropped)
            }
            (step, _) => {
                let (prog, env) = (self.prog, self.env);
                let results: Vec<Local> = recs
                    .into_par_iter()
                    .map(|r| local(step, prep, r, &prog.lookups, env))
                    .collect();
                let mut next = Vec::with_capacity(results.len());
                for l in results {
                    match l {
                        Local::Keep(r) => next.push(r),
                        Local::Many(rs) => {
                            out.added += rs.len().saturating_sub(1) as u64;
                            next.extend(rs)
                        }
                        Local::Drop(e) => out.dropped.push(e),
                        Local::Error(e) => out.errors.push(e),
                    }
                }
                next
            }
        }
    }

    /// What a stream step still holds when the file ends.
    fn flush(&mut self, i: usize, out: &mut StepOutput) -> Vec<Record> {
        match (&self.prog.steps[i], &mut self.states[i]) {
            (Step::Group { size, into, .. }, State::Group(pending)) => {
                let groups = group::finish(pending, size.unwrap_or(1), into, &mut out.dropped);
                out.merged += group::merged(&groups, into);
                groups
            }
            (Step::KeepLast { .. }, State::KeepLast(held)) => {
                let (kept, dropped) = held.finish();
                out.dropped.extend(dropped);
                kept
            }
            _ => Vec::new(),
        }
    }
}

/// A one-record step (or the fan-out of `explode`) on one record.
fn local(
    step: &Step,
    prep: &Prepared,
    mut r: Record,
    lookups: &LookupFiles,
    env: &Environment,
) -> Local {
    if let Step::Explode { field, into } = step {
        return match explode::apply(r, field, into) {
            Ok(many) => Local::Many(many),
            Err(e) => Local::Drop(e),
        };
    }
    match apply_record_step(step, prep, &mut r, lookups, env) {
        Ok(true) => Local::Keep(r),
        Ok(false) => Local::Drop(RecordError {
            locator: r.locator,
            message: format!("dropped by step `{}`", prep.name),
        }),
        Err(e) => Local::Error(RecordError {
            locator: r.locator,
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medsins_manifest::{KeywordRule, MatchNormalize};
    use serde_json::{Value, json};

    fn rec(v: Value, loc: &str) -> Record {
        Record {
            fields: v.as_object().unwrap().clone(),
            locator: loc.into(),
            raw_sha256: String::new(),
        }
    }

    fn program(steps: Vec<Step>) -> (Environment<'static>, StepProgram) {
        let mut env = Environment::new();
        let steps: Vec<(Step, usize)> = steps.into_iter().map(|s| (s, 0)).collect();
        let p = StepProgram::compile(&mut env, &steps, LookupFiles::default()).unwrap();
        (env, p)
    }

    /// Runs `recs` through the program in batches of `batch`.
    fn run(
        env: &Environment<'static>,
        p: &StepProgram,
        recs: Vec<Record>,
        batch: usize,
    ) -> StepOutput {
        let mut r = StepRunner::new(p, env, &BTreeMap::new(), Pass::Run(0..p.steps.len()));
        let mut all = StepOutput::default();
        let mut add = |o: StepOutput| {
            all.records.extend(o.records);
            all.errors.extend(o.errors);
            all.dropped.extend(o.dropped);
            all.added += o.added;
            all.merged += o.merged;
        };
        for chunk in recs.chunks(batch) {
            add(r.push(chunk.to_vec()));
        }
        add(r.finish());
        all
    }

    /// A program compiled in the templates' environment (with the project's filters).
    fn program_with_filters(steps: Vec<Step>) -> (Environment<'static>, StepProgram) {
        let mut env = crate::templates::environment();
        let steps: Vec<(Step, usize)> = steps.into_iter().map(|s| (s, 0)).collect();
        let p = StepProgram::compile(&mut env, &steps, LookupFiles::default()).unwrap();
        (env, p)
    }

    #[test]
    fn keyword_labels_on_normalised_whitespace_find_every_hoc_hallmark() {
        let hallmark = |name: &str| KeywordRule {
            any: vec![
                format!("<{name}"),
                format!("< {name}"),
                format!("AND{name}"),
                format!("AND {name}"),
            ],
            label: name.into(),
            token: false,
        };
        let rules = vec![
            hallmark("Sustaining proliferative signaling"),
            hallmark("Resisting cell death"),
            hallmark("Avoiding immune destruction"),
        ];
        let step = |normalize| Step::KeywordLabel {
            field: "labels".into(),
            rules: rules.clone(),
            into: "h".into(),
            all: true,
            cap: None,
            lowercase: false,
            normalize,
        };
        let text = "< <  Resisting cell death--Apoptosis AND  Sustaining proliferative\tsignaling--Receptors< <\u{3000}Avoiding immune destruction";
        let recs = vec![rec(json!({ "labels": text }), "1")];
        let (env, p) = program(vec![step(vec![MatchNormalize::Whitespace])]);
        let out = run(&env, &p, recs.clone(), 1);
        assert_eq!(
            out.records[0].fields["h"],
            json!([
                "Sustaining proliferative signaling",
                "Resisting cell death",
                "Avoiding immune destruction"
            ])
        );
        // without normalising, the doubled spaces hide every hallmark
        let (env, p) = program(vec![step(vec![])]);
        let out = run(&env, &p, recs, 1);
        assert!(out.records.is_empty());
        assert_eq!(out.dropped[0].message, "no keyword rule matched `labels`");
    }

    #[test]
    fn keyword_labels_ignore_case_when_asked() {
        let (env, p) = program(vec![Step::KeywordLabel {
            field: "e".into(),
            rules: vec![KeywordRule {
                any: vec!["Chest  X-ray".into()],
                label: "CXR".into(),
                token: false,
            }],
            into: "l".into(),
            all: false,
            cap: None,
            lowercase: false,
            normalize: vec![MatchNormalize::Case, MatchNormalize::Whitespace],
        }]);
        let out = run(&env, &p, vec![rec(json!({"e": "PA CHEST\nX-RAY"}), "1")], 1);
        assert_eq!(out.records[0].fields["l"], json!("CXR"));
    }

    #[test]
    fn set_stores_the_value_of_an_expression() {
        let (env, p) = program_with_filters(vec![
            Step::Set {
                into: "question".into(),
                value: "problem_text".into(),
            },
            Step::Set {
                into: "options".into(),
                value: "choices|lettered".into(),
            },
            Step::Set {
                into: "answer_idx".into(),
                value: "answer|map('upper')|list".into(),
            },
            Step::Set {
                into: "bad".into(),
                value: "missing_field".into(),
            },
        ]);
        let r = rec(
            json!({"problem_text": "Q?", "choices": ["x", "y", "z"], "answer": ["c", "a"]}),
            "line 1",
        );
        let out = run(&env, &p, vec![r], 1);
        assert!(out.records.is_empty());
        assert_eq!(out.errors.len(), 1);
        assert!(
            out.errors[0].message.starts_with("set `bad`: "),
            "{}",
            out.errors[0].message
        );
        let (env, p) = program_with_filters(vec![
            Step::Set {
                into: "options".into(),
                value: "choices|lettered".into(),
            },
            Step::Set {
                into: "answer_idx".into(),
                value: "answer|map('upper')|list".into(),
            },
        ]);
        let r = rec(
            json!({"choices": ["x", "y", "z"], "answer": ["c", "a"]}),
            "line 1",
        );
        let out = run(&env, &p, vec![r], 1);
        assert_eq!(
            serde_json::to_string(&out.records[0].fields["options"]).unwrap(),
            r#"{"A":"x","B":"y","C":"z"}"#
        );
        assert_eq!(out.records[0].fields["answer_idx"], json!(["C", "A"]));
    }

    #[test]
    fn keep_last_waits_for_the_end_and_keeps_the_latest() {
        let (env, p) = program(vec![Step::KeepLast {
            by: "{{ id }}".into(),
        }]);
        let recs = vec![
            rec(json!({"id": "q1", "v": 1}), "a.json $[0]"),
            rec(json!({"id": "q2", "v": 2}), "a.json $[1]"),
            rec(json!({"id": "q1", "v": 3}), "b.json $[0]"),
        ];
        for batch in [1, 3] {
            let out = run(&env, &p, recs.clone(), batch);
            let kept: Vec<&Value> = out.records.iter().map(|r| &r.fields["v"]).collect();
            assert_eq!(kept, [&json!(2), &json!(3)]);
            assert_eq!(out.dropped.len(), 1);
            assert_eq!(out.dropped[0].locator, "a.json $[0]");
        }
    }

    #[test]
    fn keyword_caps_count_in_file_order_across_batches() {
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
        let (env, p) = program(vec![Step::KeywordLabel {
            field: "e".into(),
            rules,
            into: "l".into(),
            all: true,
            cap: Some(1),
            lowercase: true,
            normalize: vec![],
        }]);
        let recs = vec![
            rec(json!({"e": "CT CHEST"}), "1"),
            rec(json!({"e": "CT head"}), "2"),
            rec(json!({"e": "xray"}), "3"),
        ];
        for batch in [1, 3] {
            let out = run(&env, &p, recs.clone(), batch);
            assert_eq!(out.records.len(), 1);
            assert_eq!(out.records[0].fields["l"], json!(["CT", "Chest"]));
            assert_eq!(out.dropped.len(), 2);
            assert_eq!(out.dropped[0].message, "label cap 1 reached");
            assert_eq!(out.dropped[1].message, "no keyword rule matched `e`");
        }
    }

    #[test]
    fn groups_span_batches_and_group_by_waits_for_the_end() {
        let recs: Vec<Record> = (0..5)
            .map(|i| rec(json!({"k": i % 2, "v": i}), &format!("line {i}")))
            .collect();
        let (env, p) = program(vec![Step::Group {
            size: Some(2),
            by: None,
            into: "m".into(),
        }]);
        let out = run(&env, &p, recs.clone(), 3);
        assert_eq!(out.records.len(), 2);
        assert_eq!(out.records[1].locator, "line 2 .. line 3");
        assert_eq!(out.records[1].fields["m"][1]["v"], 3);
        assert_eq!(
            out.dropped[0].message,
            "incomplete final group of fewer than 2"
        );
        let (env, p) = program(vec![
            Step::Group {
                size: None,
                by: Some("{{ k }}".into()),
                into: "m".into(),
            },
            Step::Keep {
                when: "m|length > 2".into(),
            },
        ]);
        let out = run(&env, &p, recs, 2);
        assert_eq!(out.records.len(), 1, "the k = 1 group has two members");
        assert_eq!(out.records[0].locator, "line 0 .. line 4");
        assert_eq!(out.dropped[0].message, "dropped by step `keep`");
    }

    #[test]
    fn pandas_types_come_from_the_learning_pass_over_the_whole_file() {
        let (env, p) = program(vec![Step::PandasValues {
            columns: None,
            exclude: vec![],
        }]);
        let recs = vec![rec(json!({"a": "1"}), "1"), rec(json!({"a": ""}), "2")];
        assert_eq!(p.learning_steps(), [0]);
        let mut learn = StepRunner::new(&p, &env, &BTreeMap::new(), Pass::Learn(0));
        assert!(learn.push(vec![recs[0].clone()]).records.is_empty());
        learn.push(vec![recs[1].clone()]);
        learn.finish();
        let plan = learn.learnt().unwrap();
        let learnt = BTreeMap::from([(0, Arc::new(plan))]);
        let mut r = StepRunner::new(&p, &env, &learnt, Pass::Run(0..1));
        let out = r.push(recs);
        // a blank makes the column float, so the first row prints `1.0`
        assert_eq!(out.records[0].fields["a"], "1.0");
        assert_eq!(out.records[1].fields["a"], "nan");
    }
}

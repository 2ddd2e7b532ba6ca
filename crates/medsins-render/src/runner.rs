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

use crate::context::with_context;
use crate::operators::{LookupFiles, apply_record_step, keyword_labels, lookup_index, step_name};
use crate::ops_pandas::{PandasInfer, PandasPlan};
use crate::templates::RenderError;
use medsins_manifest::Step;
use medsins_readers::{Record, RecordError, value_text};
use minijinja::Environment;
use rayon::prelude::*;
use regex::Regex;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What a step needs at run time, compiled once per task: its template (join `on`, `keep`
/// condition, `group by` key), its lookup index, its regular expressions, its learnt pandas
/// column types, the read limits (`py_literal` keeps to the nesting depth).
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    pub(crate) name: String,
    pub(crate) template: Option<String>,
    pub(crate) index: Option<Arc<HashMap<String, usize>>>,
    pub(crate) regex: Vec<(Regex, String)>,
    pub(crate) pandas: Option<Arc<PandasPlan>>,
    pub(crate) limits: medsins_readers::Limits,
}

impl Prepared {
    /// Renders the step's template over a record's fields.
    pub(crate) fn render(
        &self,
        env: &Environment,
        fields: &mut serde_json::Map<String, Value>,
    ) -> Result<String, String> {
        let name = self
            .template
            .as_ref()
            .ok_or("the step has no compiled template")?;
        let t = env.get_template(name).map_err(|e| e.to_string())?;
        with_context(fields, |ctx| t.render(ctx)).map_err(|e| e.to_string())
    }
}

/// A task's steps, compiled: the steps, what each needs, and the lookup files.
#[derive(Debug, Default)]
pub struct StepProgram {
    pub(crate) steps: Vec<Step>,
    pub(crate) prepared: Vec<Prepared>,
    pub(crate) lookups: LookupFiles,
}

impl StepProgram {
    /// Compiles the steps' templates into `env` (as `step<N>.<part>`) and builds the lookup
    /// indexes. `steps` pairs each step with the byte offset of its manifest entry, for errors.
    pub fn compile(
        env: &mut Environment<'static>,
        steps: &[(Step, usize)],
        lookups: LookupFiles,
    ) -> Result<StepProgram, Vec<RenderError>> {
        let mut errors = Vec::new();
        let mut prepared = Vec::new();
        for (i, (step, offset)) in steps.iter().enumerate() {
            let mut p = Prepared {
                name: step_name(step),
                ..Prepared::default()
            };
            let mut add = |part: &str, src: String| -> Option<String> {
                let name = format!("step{i}.{part}");
                match env.add_template_owned(name.clone(), src) {
                    Ok(()) => Some(name),
                    Err(e) => {
                        errors.push(RenderError {
                            offset: *offset,
                            message: format!("step {} (`{}`) {part}: {e}", i + 1, p.name),
                        });
                        None
                    }
                }
            };
            let mut key = None;
            match step {
                Step::Join { on, key: k, .. } => {
                    p.template = add("on", on.clone());
                    key = add("key", k.clone());
                }
                Step::Keep { when } => {
                    p.template = add("when", crate::ops_keep::template_source(when));
                }
                Step::Group { by: Some(by), .. } => {
                    p.template = add("by", by.clone());
                }
                Step::RegexReplace { rules, .. } => match crate::ops_regex::compile(rules) {
                    Ok(r) => p.regex = r,
                    Err(message) => errors.push(RenderError {
                        offset: *offset,
                        message,
                    }),
                },
                _ => {}
            }
            p.index = lookup_index(step, key.as_deref(), &lookups, env).map(Arc::new);
            prepared.push(p);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(StepProgram {
            steps: steps.iter().map(|(s, _)| s.clone()).collect(),
            prepared,
            lookups,
        })
    }

    /// Positions of the steps that need a learning pass over the file (`pandas_values`).
    pub fn learning_steps(&self) -> Vec<usize> {
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Step::PandasValues { .. }))
            .map(|(i, _)| i)
            .collect()
    }
}

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
}

enum State {
    Stateless,
    GroupSize(Vec<Record>),
    GroupBy {
        groups: Vec<Vec<Record>>,
        index: HashMap<String, usize>,
    },
    Caps(HashMap<String, usize>),
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
                Step::Group { size: Some(n), .. } if *n > 0 => State::GroupSize(Vec::new()),
                Step::Group { by: Some(_), .. } => State::GroupBy {
                    groups: Vec::new(),
                    index: HashMap::new(),
                },
                Step::KeywordLabel { cap: Some(_), .. } => State::Caps(HashMap::new()),
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
            (Step::Group { size, into, .. }, State::GroupSize(pending)) => {
                let n = size.unwrap_or(1).max(1);
                pending.extend(recs);
                let complete = pending.len() - pending.len() % n;
                let rest = pending.split_off(complete);
                let full = std::mem::replace(pending, rest);
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
            (Step::Group { .. }, State::GroupBy { groups, index }) => {
                for mut r in recs {
                    match prep.render(self.env, &mut r.fields) {
                        Ok(k) => {
                            let g = *index.entry(k).or_insert_with(|| {
                                groups.push(Vec::new());
                                groups.len() - 1
                            });
                            groups[g].push(r);
                        }
                        Err(e) => out.errors.push(RecordError {
                            locator: r.locator.clone(),
                            message: format!("group key: {e}"),
                        }),
                    }
                }
                Vec::new()
            }
            // a group step with neither `size` nor `by` (refused by `validate`) passes nothing
            (Step::Group { .. }, _) => Vec::new(),
            (
                Step::KeywordLabel {
                    field,
                    rules,
                    into,
                    all,
                    cap,
                    lowercase,
                },
                state,
            ) => {
                let mut next = Vec::with_capacity(recs.len());
                for mut r in recs {
                    let text = r.fields.get(field).map(value_text).unwrap_or_default();
                    let labels = keyword_labels(&text, rules, *all, *lowercase);
                    if labels.is_empty() {
                        out.dropped.push(RecordError {
                            locator: r.locator.clone(),
                            message: format!("no keyword rule matched `{field}`"),
                        });
                        continue;
                    }
                    if let (Some(cap), State::Caps(counts)) = (cap, &mut *state) {
                        if labels
                            .iter()
                            .any(|l| counts.get(l).copied().unwrap_or(0) >= *cap)
                        {
                            out.dropped.push(RecordError {
                                locator: r.locator.clone(),
                                message: format!("label cap {cap} reached"),
                            });
                            continue;
                        }
                        for l in &labels {
                            *counts.entry(l.clone()).or_default() += 1;
                        }
                    }
                    let v = if *all {
                        json!(labels)
                    } else {
                        Value::String(labels[0].clone())
                    };
                    r.fields.insert(into.clone(), v);
                    next.push(r);
                }
                next
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
                        Local::Many(rs) => next.extend(rs),
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
        let into = match &self.prog.steps[i] {
            Step::Group { into, .. } => into.clone(),
            _ => return Vec::new(),
        };
        match &mut self.states[i] {
            State::GroupSize(pending) => {
                let n = match &self.prog.steps[i] {
                    Step::Group { size: Some(n), .. } => *n,
                    _ => 1,
                };
                for r in pending.drain(..) {
                    out.dropped.push(RecordError {
                        locator: r.locator,
                        message: format!("incomplete final group of fewer than {n}"),
                    });
                }
                Vec::new()
            }
            State::GroupBy { groups, index } => {
                index.clear();
                std::mem::take(groups)
                    .into_iter()
                    .map(|g| group_record(g, &into))
                    .collect()
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
        return match r.fields.get(field) {
            Some(Value::Array(items)) => {
                let items = items.clone();
                Local::Many(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| {
                            let mut c = r.clone();
                            c.fields.insert(into.clone(), item);
                            c.fields.insert(format!("{into}_index"), Value::from(i));
                            c.locator = format!("{} #{}", r.locator, i + 1);
                            c
                        })
                        .collect(),
                )
            }
            Some(Value::Null) | None => Local::Drop(RecordError {
                locator: r.locator.clone(),
                message: format!("`{field}` is empty"),
            }),
            Some(other) => {
                let other = other.clone();
                r.fields.insert(into.clone(), other);
                r.fields.insert(format!("{into}_index"), Value::from(0));
                Local::Keep(r)
            }
        };
    }
    match apply_record_step(step, prep, &mut r, lookups, env) {
        Ok(true) => Local::Keep(r),
        Ok(false) => Local::Drop(RecordError {
            locator: r.locator,
            message: format!("dropped by step `{}`", prep.name),
        }),
        Err(message) => Local::Error(RecordError {
            locator: r.locator,
            message,
        }),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use medsins_manifest::KeywordRule;

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
        };
        for chunk in recs.chunks(batch) {
            add(r.push(chunk.to_vec()));
        }
        add(r.finish());
        all
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

//! Compiled task templates and the per-record render.

use crate::context::with_context;
use crate::direct::DirectPlan;
use crate::program::StepProgram;
use crate::runner::{Pass, StepRunner};
use crate::types::PandasPlan;
use crate::types::{LookupFiles, RenderError};
use medsins_manifest::Task;
use medsins_readers::Record;
use minijinja::{Environment, UndefinedBehavior, Value as JValue};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Largest rendered field accepted (a guard against runaway templates, far above any real text).
pub const MAX_FIELD_BYTES: usize = 8 << 20;
const FUEL: u64 = 5_000_000;

/// What one record became.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    Sample {
        input: String,
        output: String,
        group_key: Option<String>,
    },
    /// The task's filter rejected the record.
    Filtered,
}

/// A task compiled for rendering; cheap to share across threads.
pub struct TaskRenderer {
    env: Arc<Environment<'static>>,
    /// The input, output and group-key templates that are plain substitutions, compiled to
    /// direct plans (`crate::direct`); the others render with minijinja.
    direct: [Option<DirectPlan>; 3],
    has_group_key: bool,
    has_filter: bool,
    steps: StepProgram,
}

pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    // a template's final line feed is part of its output (upstream outputs can end in one)
    if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
    {
        env.set_syntax(syntax);
    }
    // no loader: templates cannot include or import anything
    env.add_filter("pyrepr", |v: JValue| -> Result<String, minijinja::Error> {
        let j: serde_json::Value = serde_json::to_value(&v).map_err(err)?;
        Ok(crate::python::py_repr(&j))
    });
    env.add_filter("pyjson", |v: JValue| -> Result<String, minijinja::Error> {
        let j: serde_json::Value = serde_json::to_value(&v).map_err(err)?;
        Ok(crate::python::py_json_dumps(&j))
    });
    env.add_filter("strip", |s: String| {
        s.trim_matches(medsins_core::normalize::is_py_space)
            .to_string()
    });
    env.add_filter("detok", |v: Vec<String>| medsins_readers::detokenize(&v));
    env.add_filter("letter", |i: usize| {
        char::from(b'A' + (i % 26) as u8).to_string()
    });
    // a list of options as an object keyed A, B, C, … (MMedBench's `options` shape)
    env.add_filter("lettered", |items: Vec<JValue>| {
        JValue::from_pairs(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (char::from(b'A' + (i % 26) as u8).to_string(), v)),
        )
    });
    env.add_filter("tojson", |v: JValue| -> Result<String, minijinja::Error> {
        if v.is_undefined() {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::UndefinedError,
                "the value is undefined (a misspelt field?)",
            ));
        }
        serde_json::to_string(&v).map_err(err)
    });
    env.add_filter("text", |v: JValue| -> Result<String, minijinja::Error> {
        let j: serde_json::Value = serde_json::to_value(&v).map_err(err)?;
        Ok(medsins_readers::value_text(&j))
    });
    env.add_filter("remove", |s: String, what: String| {
        if what.is_empty() {
            s
        } else {
            s.replace(&what, "")
        }
    });
    env
}

fn err(e: impl std::fmt::Display) -> minijinja::Error {
    minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
}

/// Why a record does not render: it is quarantined with this message.
#[derive(Debug, thiserror::Error)]
pub enum RecordRenderError {
    #[error("template `{template}` rendered {bytes} bytes, above the limit of {MAX_FIELD_BYTES}")]
    TooLong {
        template: &'static str,
        bytes: usize,
    },
    /// A template the task compiled is not in its environment (a compile bug).
    #[error("{0}")]
    NotCompiled(String),
    /// The template failed on the record; `fields` are the record's field names when the
    /// failure is an unknown variable (most often a misspelt field).
    #[error("template `{template}`: {detail}{}", fields_note(.fields))]
    Template {
        template: &'static str,
        detail: String,
        fields: Option<Vec<String>>,
    },
}

fn fields_note(fields: &Option<Vec<String>>) -> String {
    match fields {
        Some(f) => format!("; the record has the fields: {}", f.join(", ")),
        None => String::new(),
    }
}

fn describe(e: &minijinja::Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(d) = e.detail() {
        s = format!("{s}: {d}");
    }
    if let Some(l) = e.line() {
        s = format!("{s} (template line {l})");
    }
    s
}

impl TaskRenderer {
    /// Compiles every template of the task; every error is returned, located.
    pub fn compile(task: &Task, lookups: LookupFiles) -> Result<TaskRenderer, Vec<RenderError>> {
        let mut env = environment();
        let mut errors = Vec::new();
        let mut add =
            |env: &mut Environment<'static>, name: &'static str, src: &toml::Spanned<String>| {
                if let Err(e) = env.add_template_owned(name, src.get_ref().clone()) {
                    errors.push(RenderError {
                        offset: src.span().start,
                        message: format!("template `{name}`: {}", describe(&e)),
                    });
                }
            };
        add(&mut env, "input", &task.input);
        add(&mut env, "output", &task.output);
        if let Some(g) = &task.group_key {
            add(&mut env, "group_key", g);
        }
        if let Some(f) = &task.filter {
            // The filter is compiled once as a template so renders need no re-parsing.
            if let Err(e) = env.compile_expression(f.get_ref()) {
                errors.push(RenderError {
                    offset: f.span().start,
                    message: format!("filter: {}", describe(&e)),
                });
            } else if let Err(e) = env.add_template_owned(
                "filter",
                format!("{{% if {} %}}1{{% endif %}}", f.get_ref()),
            ) {
                errors.push(RenderError {
                    offset: f.span().start,
                    message: format!("filter: {}", describe(&e)),
                });
            }
        }
        let steps: Vec<(medsins_manifest::Step, usize)> = task
            .steps
            .iter()
            .map(|s| (s.get_ref().clone(), s.span().start))
            .collect();
        let program = match StepProgram::compile(&mut env, &steps, lookups) {
            Ok(p) => Some(p),
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        let (Some(steps), true) = (program, errors.is_empty()) else {
            return Err(errors);
        };
        let plan =
            |t: Option<&toml::Spanned<String>>| t.and_then(|t| DirectPlan::compile(t.get_ref()));
        Ok(TaskRenderer {
            env: Arc::new(env),
            direct: [
                plan(Some(&task.input)),
                plan(Some(&task.output)),
                plan(task.group_key.as_ref()),
            ],
            has_group_key: task.group_key.is_some(),
            has_filter: task.filter.is_some(),
            steps,
        })
    }

    /// The task with its steps bound by `limits` instead of the defaults (a build that raised
    /// `--max-depth` lets `py_literal` parse as deep as the readers read).
    pub fn with_limits(mut self, limits: medsins_readers::Limits) -> Self {
        for p in &mut self.steps.prepared {
            p.limits = limits;
        }
        self
    }

    /// Positions of the steps that need a learning pass over each file before the real one
    /// (`pandas_values`); see [`crate::runner`].
    pub fn learning_steps(&self) -> Vec<usize> {
        self.steps.learning_steps()
    }

    /// The task's steps.
    pub fn steps(&self) -> &[medsins_manifest::Step] {
        &self.steps.steps
    }

    /// A runner of the task's steps for one pass over one file.
    pub fn runner<'a>(
        &'a self,
        learnt: &BTreeMap<usize, Arc<PandasPlan>>,
        pass: Pass,
    ) -> StepRunner<'a> {
        StepRunner::new(&self.steps, &self.env, learnt, pass)
    }

    /// How many of the task's input, output and group-key templates render without minijinja.
    pub fn direct_templates(&self) -> usize {
        self.direct.iter().flatten().count()
    }

    /// Renders one record (after the steps).
    pub fn render(&self, rec: &mut Record) -> Result<Rendered, RecordRenderError> {
        // the templates with a direct plan, over the record's fields as they are; `None` for
        // the others and for records a plan leaves to minijinja (`crate::direct`)
        let [mut input, mut output, mut group_key] = self.direct.each_ref().map(|p| {
            p.as_ref()
                .and_then(|p| p.render(&rec.fields))
                .filter(|s| s.len() <= MAX_FIELD_BYTES)
        });
        // debug builds render every record with minijinja too and compare (`pick`)
        if !self.has_filter && !cfg!(debug_assertions) {
            match (input, output, group_key, self.has_group_key) {
                (Some(input), Some(output), group_key, true) if group_key.is_some() => {
                    return Ok(Rendered::Sample {
                        input,
                        output,
                        group_key,
                    });
                }
                (Some(input), Some(output), _, false) => {
                    return Ok(Rendered::Sample {
                        input,
                        output,
                        group_key: None,
                    });
                }
                (i, o, g, _) => (input, output, group_key) = (i, o, g),
            }
        }
        // fields are variables; `record` holds them all, for names that are not identifiers
        // (`{{ record["plain language summary"] }}`); a field is converted only when a
        // template reads it (crate::context)
        let out = with_context(&mut rec.fields, |ctx| {
            if self.has_filter && self.render_one("filter", ctx)? != "1" {
                return Ok(Rendered::Filtered);
            }
            let input = self.pick("input", input.take(), ctx)?;
            let output = self.pick("output", output.take(), ctx)?;
            let group_key = if self.has_group_key {
                Some(self.pick("group_key", group_key.take(), ctx)?)
            } else {
                None
            };
            Ok(Rendered::Sample {
                input,
                output,
                group_key,
            })
        });
        out.map_err(|(name, e)| match e {
            Ok(e) => e,
            Err(e) => explain(name, &e, rec),
        })
    }

    /// A template's text: its direct rendering when there is one, else minijinja's. Debug
    /// builds render with minijinja as well and require both to agree.
    #[allow(clippy::type_complexity)]
    fn pick(
        &self,
        name: &'static str,
        direct: Option<String>,
        ctx: &JValue,
    ) -> Result<String, (&'static str, Result<RecordRenderError, minijinja::Error>)> {
        match direct {
            Some(d) if !cfg!(debug_assertions) => Ok(d),
            direct => {
                let rendered = self.render_one(name, ctx);
                if let Some(d) = direct {
                    let same = rendered.as_ref().is_ok_and(|m| *m == d);
                    debug_assert!(
                        same,
                        "the direct plan of template `{name}` rendered {d:?}, minijinja {:?}",
                        rendered
                            .as_ref()
                            .map_err(|e| e.1.as_ref().map_err(|e| e.to_string()))
                    );
                }
                rendered
            }
        }
    }

    /// Renders one template; an error is (template name, too-long message or template error).
    #[allow(clippy::type_complexity)]
    fn render_one(
        &self,
        name: &'static str,
        ctx: &JValue,
    ) -> Result<String, (&'static str, Result<RecordRenderError, minijinja::Error>)> {
        let t = self
            .env
            .get_template(name)
            .map_err(|e| (name, Ok(RecordRenderError::NotCompiled(describe(&e)))))?;
        let s = t.render(ctx).map_err(|e| (name, Err(e)))?;
        if s.len() > MAX_FIELD_BYTES {
            return Err((
                name,
                Ok(RecordRenderError::TooLong {
                    template: name,
                    bytes: s.len(),
                }),
            ));
        }
        Ok(s)
    }
}

/// A template's error on a record, naming the record's fields when a variable is unknown.
fn explain(template: &'static str, e: &minijinja::Error, rec: &Record) -> RecordRenderError {
    let fields = (e.kind() == minijinja::ErrorKind::UndefinedError).then(|| {
        rec.fields
            .keys()
            .map(|k| {
                if k.is_empty() {
                    "\"\"".into()
                } else {
                    k.clone()
                }
            })
            .collect()
    });
    RecordRenderError::Template {
        template,
        detail: describe(e),
        fields,
    }
}

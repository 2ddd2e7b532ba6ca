//! A task's steps compiled once: each step's templates in the task's environment, its lookup
//! index, its regular expressions.

use crate::types::{LookupFiles, Prepared, RenderError, step_name};
use medsins_manifest::Step;
use minijinja::Environment;
use std::sync::Arc;

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
                    p.template = add("when", crate::ops::keep::template_source(when));
                }
                Step::Group { by: Some(by), .. } | Step::KeepLast { by } => {
                    p.template = add("by", by.clone());
                }
                Step::Set { value, .. } => {
                    p.template = add("value", crate::ops::set::template_source(value));
                }
                Step::RegexReplace { rules, .. } => match crate::ops::regex_replace::compile(rules)
                {
                    Ok(r) => p.regex = r,
                    Err(e) => errors.push(RenderError {
                        offset: *offset,
                        message: e.to_string(),
                    }),
                },
                _ => {}
            }
            p.index = crate::ops::lookup::index(step, key.as_deref(), &lookups, env).map(Arc::new);
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

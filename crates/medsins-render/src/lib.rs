//! Rendering: raw records in, sample input and output out.
//!
//! A task's manifest entry compiles into a [`TaskRenderer`]: its named operators (steps) run
//! over the task's records in file order, batch by batch ([`StepRunner`]), then its filter
//! expression and its input, output and group-key templates run per record. Templates are
//! minijinja in a sandbox: no loader (so no file access), no environment or network access,
//! strict undefined variables (a misspelt field is an error naming the fields that exist), a
//! fuel limit and a bounded output size.
//!
//! Layers, each using only those above it: `types` (what everything shares) and `context`
//! (lazy template views of a record); `direct` (templates that are plain substitutions,
//! rendered without minijinja); `ops/` (one file per operator); `program` (a task's
//! steps compiled); `runner` (the steps over a file, batch by batch); `templates` (the task's
//! renderer).

mod context;
mod direct;
mod fields_read;
mod ops;
mod program;
mod python;
mod runner;
mod templates;
mod types;

pub use fields_read::unknown_fields;
pub use ops::entities_from_iob;
pub use python::{py_json_dumps, py_repr_str};
pub use runner::{Pass, StepOutput, StepRunner};
pub use templates::{MAX_FIELD_BYTES, RecordRenderError, Rendered, TaskRenderer};
pub use types::{LookupFiles, PandasPlan, RenderError};

/// A template context from any serialisable value.
pub(crate) fn ctx<T: serde::Serialize>(v: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}

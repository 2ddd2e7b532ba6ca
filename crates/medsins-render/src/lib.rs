//! Rendering: raw records in, sample input and output out.
//!
//! A task's manifest entry compiles into a [`TaskRenderer`]: its named operators (steps) run
//! over the task's records in file order, batch by batch ([`StepRunner`]), then its filter
//! expression and its input, output and group-key templates run per record. Templates are minijinja in a sandbox: no loader (so no
//! file access), no environment or network access, strict undefined variables (a misspelt field
//! is an error naming the fields that exist), a fuel limit and a bounded output size.

mod context;
mod operators;
mod ops_keep;
mod ops_lookup_records;
mod ops_pandas;
mod ops_py_literal;
mod ops_regex;
mod ops_select;
mod python;
mod runner;
mod templates;

pub use operators::{LookupFiles, entities_from_iob};
pub use ops_pandas::PandasPlan;
pub use python::{py_json_dumps, py_repr_str};
pub use runner::{Pass, StepOutput, StepRunner};
pub use templates::{MAX_FIELD_BYTES, RenderError, Rendered, TaskRenderer};

/// A template context from any serialisable value.
pub(crate) fn ctx<T: serde::Serialize>(v: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(v))
}

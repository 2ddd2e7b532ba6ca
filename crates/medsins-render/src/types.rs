//! The ground types every part of rendering shares: the lookup files a task joins, what a
//! compiled step carries (with the pandas column types it learnt), and a template problem
//! located in the manifest. They depend on nothing else in the crate but `context`, so the
//! operators, the step runner and the templates can all use them without importing each other.

use crate::context::with_context;
use medsins_manifest::Step;
use medsins_readers::Record;
use minijinja::Environment;
use regex::Regex;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Records of the files a task joins or looks up, by file id (loaded once per build).
#[derive(Debug, Default, Clone)]
pub struct LookupFiles {
    pub files: HashMap<String, Vec<Record>>,
}

/// The type pandas `read_csv` gives a column (what `pandas_values` prints its cells as).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dtype {
    Int,
    Float,
    Bool,
    /// Text, but every present cell is a boolean word (pandas gives Python booleans and NaN).
    BoolOrNa,
    Text,
}

/// The columns a `pandas_values` step rewrites and the type of each, learnt over a file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PandasPlan {
    pub columns: Vec<(String, Dtype)>,
}

/// A template problem located inside the manifest: byte offset of the template's value and text.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderError {
    pub offset: usize,
    pub message: String,
}

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

/// Why a step's template (join `on`, `keep` condition, `set` value, `group by` key) did not
/// render for a record.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepTemplateError {
    /// A compile bug, not bad input.
    #[error("the step has no compiled template")]
    NotCompiled,
    #[error(transparent)]
    Template(#[from] minijinja::Error),
}

impl Prepared {
    /// Renders the step's template over a record's fields.
    pub(crate) fn render(
        &self,
        env: &Environment,
        fields: &mut serde_json::Map<String, Value>,
    ) -> Result<String, StepTemplateError> {
        let name = self
            .template
            .as_ref()
            .ok_or(StepTemplateError::NotCompiled)?;
        let t = env.get_template(name)?;
        Ok(with_context(fields, |ctx| t.render(ctx))?)
    }
}

/// The `op` name of a step, as the manifest writes it.
pub(crate) fn step_name(step: &Step) -> String {
    serde_json::to_value(step)
        .ok()
        .and_then(|v| v.get("op").and_then(|o| o.as_str()).map(str::to_string))
        .unwrap_or_default()
}

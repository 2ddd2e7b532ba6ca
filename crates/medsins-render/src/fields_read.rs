//! Template names checked without data: the names a task's templates read that no record of
//! the task can have. `medsins validate` renders templates on a corpus's fixture records; a
//! corpus without a fixture (a new credentialed corpus) would otherwise pass with a misspelt
//! field and fail only at build time on the real data.

use crate::templates::environment;
use crate::types::RenderError;
use medsins_manifest::{Step, Task};
use std::collections::BTreeSet;

/// Every name the task's `input`, `output`, `group_key` and `filter` read that is neither a
/// field of `record_fields` (what the task's files give every record), nor written by one of
/// its steps, nor a template global. Only call this when the files fix their fields: with data
/// that decides them nothing can be said.
pub fn unknown_fields(task: &Task, record_fields: &[String]) -> Vec<RenderError> {
    let env = environment();
    let written: Vec<String> = task
        .steps
        .iter()
        .flat_map(|s| fields_written(s.get_ref()))
        .collect();
    let known = |name: &str| {
        record_fields.iter().any(|f| f == name)
            || env.globals().any(|(g, _)| g == name)
            || name == "record"
            // an operator's `into` also names derived fields `<into>_text`, `<into>_index`, …
            || written
                .iter()
                .any(|w| name == w || name.strip_prefix(w.as_str()).is_some_and(|r| r.starts_with('_')))
    };
    let mut templates = vec![
        ("input", task.input.clone()),
        ("output", task.output.clone()),
    ];
    if let Some(g) = &task.group_key {
        templates.push(("group_key", g.clone()));
    }
    if let Some(f) = &task.filter {
        let wrapped = format!("{{% if {} %}}1{{% endif %}}", f.get_ref());
        templates.push(("filter", toml::Spanned::new(f.span(), wrapped)));
    }
    let have = record_fields
        .iter()
        .chain(&written)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut found = Vec::new();
    for (name, src) in templates {
        let Ok(t) = env.template_from_str(src.get_ref()) else {
            continue; // compilation reports it
        };
        let read: BTreeSet<String> = t.undeclared_variables(false).into_iter().collect();
        for field in read.into_iter().filter(|n| !known(n)) {
            found.push(RenderError {
                offset: src.span().start,
                message: format!(
                    "template `{name}` reads `{field}`, which no record of this task has (its \
                     records have: {}); fix the name, or add a step that writes it",
                    have
                ),
            });
        }
    }
    found
}

/// The fields a step adds to a record (derived names `<into>_…` aside).
fn fields_written(step: &Step) -> Vec<String> {
    match step {
        Step::IobEntities {
            into, text_into, ..
        } => {
            let mut v = vec![into.clone()];
            v.extend(text_into.clone());
            v
        }
        Step::RegexReplace { field, into, .. } => vec![into.clone().unwrap_or(field.clone())],
        Step::PandasValues { columns, .. } => columns.clone().unwrap_or_default(),
        Step::Keep { .. } | Step::KeepLast { .. } => Vec::new(),
        Step::PubtatorEntities { into, .. }
        | Step::LetteredOptions { into, .. }
        | Step::Join { into, .. }
        | Step::Lookup { into, .. }
        | Step::Section { into, .. }
        | Step::KeywordLabel { into, .. }
        | Step::KeyValue { into, .. }
        | Step::Group { into, .. }
        | Step::Explode { into, .. }
        | Step::PyLiteral { into, .. }
        | Step::Select { into, .. }
        | Step::Set { into, .. }
        | Step::LookupRecords { into, .. }
        | Step::CodeDialogue { into, .. } => vec![into.clone()],
    }
}

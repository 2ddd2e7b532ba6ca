//! The named built-in operators (manifest `steps`), one file each. Each is general: it names
//! fields, never a corpus. One-record operators run through [`apply_record_step`]; the stream
//! operators (`keyword_label` caps, `group`, `explode`, `keep_last`) are driven by the step runner
//! ([`crate::runner`]), which runs every step over a file's records in file order, so results
//! are deterministic.

mod code_dialogue;
pub(crate) mod explode;
pub(crate) mod group;
mod iob_entities;
mod join;
pub(crate) mod keep;
pub(crate) mod keep_last;
mod key_value;
pub(crate) mod keyword_label;
mod lettered_options;
pub(crate) mod lookup;
mod lookup_records;
pub(crate) mod pandas_values;
mod pubtator_entities;
pub(crate) mod py_literal;
pub(crate) mod regex_replace;
mod section;
mod select;
pub(crate) mod set;

pub use iob_entities::entities_from_iob;

use crate::types::{LookupFiles, Prepared, StepTemplateError, step_name};
use medsins_manifest::Step;
use medsins_readers::{Record, value_text};
use minijinja::Environment;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// What a one-record operator may use besides the record: its compiled step, the task's
/// template environment, its lookup index and the lookup files.
pub(crate) struct OpContext<'a> {
    pub prep: &'a Prepared,
    pub env: &'a Environment<'a>,
    pub index: &'a HashMap<String, usize>,
    pub lookups: &'a LookupFiles,
}

/// Why a one-record operator cannot handle a record: it is quarantined with this message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpError {
    /// A dispatch bug, not bad input.
    #[error("internal: step `{0}` sent to the wrong operator")]
    WrongOperator(String),
    #[error("`{0}` runs over the whole stream, not one record")]
    WholeStream(String),
    #[error("record has no field `{0}`")]
    NoField(String),
    #[error("record has no column `{0}`")]
    NoColumn(String),
    #[error("lookup file `{0}` is not loaded")]
    LookupNotLoaded(String),
    /// The step's template failed; `what` names it (`join `on``, `set `x``).
    #[error("{what}: {source}")]
    Template {
        what: String,
        source: StepTemplateError,
    },
    #[error("set `{into}`: the value is not data: {source}")]
    NotData {
        into: String,
        source: serde_json::Error,
    },
    #[error("no record of `{file}` has key `{key}`")]
    NoJoinMatch { file: String, key: String },
    #[error("`{tokens}` has {n_tokens} items but `{tags}` has {n_tags}")]
    TagCount {
        tokens: String,
        tags: String,
        n_tokens: usize,
        n_tags: usize,
    },
    #[error("entity_spacing `{0}` must be `proper` or `upstream`")]
    EntitySpacing(String),
    #[error("options field `{0}` is neither an object nor a list")]
    OptionsNotListed(String),
    #[error("answer_is `{0}` must be letter, index0, index1 or text")]
    AnswerIs(String),
    #[error("answer {answer} is not among the {options} options")]
    AnswerNotAnOption { answer: Value, options: usize },
    #[error("record has no PubTator `entities`")]
    NoPubtatorEntities,
    #[error("`{field}`: {source}")]
    PyLiteral {
        field: String,
        source: py_literal::PyLiteralError,
    },
    #[error("pandas_values: the column types were not learned (no pre-pass)")]
    NotLearned,
    /// `code_dialogue`: a table record (the code's question) lacks a field the step names.
    #[error("`{code}` has no field `{field}`")]
    CodeWithoutField { code: String, field: String },
    #[error("`{code}`: `{field}` is not an object")]
    CodeMeaningsNotObject { code: String, field: String },
    #[error("`{code}`: the meaning of `{value}` has no member `{member}`")]
    CodeMeaningWithoutMember {
        code: String,
        value: String,
        member: String,
    },
}

/// `Ok(true)` keeps the record, `Ok(false)` drops it on purpose, `Err` quarantines it.
pub(crate) type OpResult = Result<bool, OpError>;

type Operator = fn(&mut Map<String, Value>, &Step, &OpContext) -> OpResult;

/// Applies a one-record operator. `Ok(false)` drops the record on purpose.
pub(crate) fn apply_record_step(
    step: &Step,
    prep: &Prepared,
    r: &mut Record,
    lookups: &LookupFiles,
    env: &Environment,
) -> OpResult {
    let op: Operator = match step {
        Step::IobEntities { .. } => iob_entities::apply,
        Step::PubtatorEntities { .. } => pubtator_entities::apply,
        Step::LetteredOptions { .. } => lettered_options::apply,
        Step::Join { .. } => join::apply,
        Step::Lookup { .. } => lookup::apply,
        Step::Section { .. } => section::apply,
        Step::KeyValue { .. } => key_value::apply,
        Step::Keep { .. } => keep::apply,
        Step::PyLiteral { .. } => py_literal::apply,
        Step::Select { .. } => select::apply,
        Step::LookupRecords { .. } => lookup_records::apply,
        Step::CodeDialogue { .. } => code_dialogue::apply,
        Step::RegexReplace { .. } => regex_replace::apply,
        Step::PandasValues { .. } => pandas_values::apply,
        Step::Set { .. } => set::apply,
        Step::Group { .. }
        | Step::Explode { .. }
        | Step::KeywordLabel { .. }
        | Step::KeepLast { .. } => {
            return Err(OpError::WholeStream(step_name(step)));
        }
    };
    let empty = HashMap::new();
    let cx = OpContext {
        prep,
        env,
        index: prep.index.as_deref().unwrap_or(&empty),
        lookups,
    };
    op(&mut r.fields, step, &cx)
}

/// The error of an operator handed another operator's step (a dispatch bug, not bad input).
/// The records of a lookup file the step names (loaded before the records stream).
fn lookup_table<'a>(cx: &OpContext<'a>, file: &str) -> Result<&'a [Record], OpError> {
    cx.lookups
        .files
        .get(file)
        .map(Vec::as_slice)
        .ok_or_else(|| OpError::LookupNotLoaded(file.to_string()))
}

fn not_this_op(step: &Step) -> OpError {
    OpError::WrongOperator(step_name(step))
}

/// The text of a field the step needs.
fn field_text(f: &Map<String, Value>, field: &str) -> Result<String, OpError> {
    f.get(field)
        .map(value_text)
        .ok_or_else(|| OpError::NoField(field.to_string()))
}

/// The texts of a list field (anything else: none).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().map(value_text).collect(),
        _ => vec![],
    }
}

/// A JSON object of string members, in the given order (built directly: `json!` would
/// serialise the strings again).
fn string_object<const N: usize>(members: [(&str, String); N]) -> Value {
    Value::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect(),
    )
}

/// A looked-up record's fields, or only the named ones (in the record's order).
fn pick(fields: &Map<String, Value>, only: Option<&[String]>) -> Map<String, Value> {
    match only {
        None => fields.clone(),
        Some(names) => fields
            .iter()
            .filter(|(k, _)| names.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{LookupFiles, Prepared};
    use medsins_manifest::OptionsSource;
    use minijinja::Environment;
    use serde_json::json;

    fn rec(v: Value) -> Record {
        Record {
            fields: v.as_object().unwrap().clone(),
            locator: "x".into(),
            raw_sha256: String::new(),
        }
    }

    #[test]
    fn iob_entities_types_and_orphan_i() {
        let tags: Vec<String> = ["I", "B-Chemical", "I-Chemical", "O", "B-Disease", "B", "I"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let e = entities_from_iob(&tags);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0], (Some("Chemical".into()), 1..3));
        assert_eq!(e[1], (Some("Disease".into()), 4..5));
        assert_eq!(e[2], (None, 5..7));
    }

    #[test]
    fn iob_step_detokenises_entities() {
        let env = Environment::new();
        let mut r = rec(
            json!({"tokens": ["Streptococcus", "ursoris", "sp", ".", "nov", ".", ",", "isolated"], "tags": ["B","I","I","I","I","I","O","O"]}),
        );
        let step = Step::IobEntities {
            tokens: "tokens".into(),
            tags: "tags".into(),
            into: "e".into(),
            text_into: Some("t".into()),
            types: None,
            entity_spacing: None,
        };
        assert!(
            apply_record_step(
                &step,
                &Prepared::default(),
                &mut r,
                &LookupFiles::default(),
                &env
            )
            .unwrap()
        );
        assert_eq!(r.fields["e"], json!(["Streptococcus ursoris sp. nov."]));
        assert_eq!(r.fields["t"], "Streptococcus ursoris sp. nov., isolated");
        let up = Step::IobEntities {
            tokens: "tokens".into(),
            tags: "tags".into(),
            into: "e".into(),
            text_into: Some("t".into()),
            types: None,
            entity_spacing: Some("upstream".into()),
        };
        apply_record_step(
            &up,
            &Prepared::default(),
            &mut r,
            &LookupFiles::default(),
            &env,
        )
        .unwrap();
        assert_eq!(r.fields["e"], json!(["Streptococcus ursoris sp . nov ."]));
    }

    #[test]
    fn lettered_options_from_fields_and_answer_not_among_options() {
        let env = Environment::new();
        let step = Step::LetteredOptions {
            options: OptionsSource::Fields(vec!["opa".into(), "opb".into()]),
            answer: "cop".into(),
            answer_is: "index1".into(),
            into: "c".into(),
        };
        let mut r = rec(json!({"opa": "x", "opb": "y", "cop": 2}));
        apply_record_step(
            &step,
            &Prepared::default(),
            &mut r,
            &LookupFiles::default(),
            &env,
        )
        .unwrap();
        assert_eq!(r.fields["c_letter"], "B");
        assert_eq!(r.fields["c_text"], "y");
        let mut bad = rec(json!({"opa": "x", "opb": "y", "cop": 5}));
        assert_eq!(
            apply_record_step(
                &step,
                &Prepared::default(),
                &mut bad,
                &LookupFiles::default(),
                &env
            )
            .unwrap_err()
            .to_string(),
            "answer 5 is not among the 2 options"
        );
    }

    #[test]
    fn section_follows_python_slicing() {
        let env = Environment::new();
        let step = Step::Section {
            field: "t".into(),
            start: "FINDINGS:".into(),
            end: Some("IMPRESSION:".into()),
            skip: 1,
            into: "f".into(),
            missing: "skip".into(),
            strip: true,
            replace_newlines: Some(" ".into()),
        };
        let mut r = rec(json!({"t": "EXAM\nFINDINGS: a\n b\nIMPRESSION: c"}));
        apply_record_step(
            &step,
            &Prepared::default(),
            &mut r,
            &LookupFiles::default(),
            &env,
        )
        .unwrap();
        assert_eq!(r.fields["f"], "a  b");
        let mut early = rec(json!({"t": "IMPRESSION: c FINDINGS: late"}));
        apply_record_step(
            &step,
            &Prepared::default(),
            &mut early,
            &LookupFiles::default(),
            &env,
        )
        .unwrap();
        assert_eq!(early.fields["f"], "");
        let mut none = rec(json!({"t": "nothing"}));
        assert!(
            !apply_record_step(
                &step,
                &Prepared::default(),
                &mut none,
                &LookupFiles::default(),
                &env
            )
            .unwrap()
        );
    }
}

//! `lettered_options`: options to lettered choices. `options` names a field holding an object
//! (letter -> text), a list of texts, or is a list of field names; `answer` names the field
//! holding the answer as `answer_is` = `letter`, `index0`, `index1` or `text`. Writes
//! `<into>_list` (list of `{letter, text}`), `<into>_letter` and `<into>_text`.

use super::{OpContext, OpError, OpResult, not_this_op, string_object};
use medsins_manifest::{OptionsSource, Step};
use medsins_readers::value_text;
use serde_json::{Map, Value};

fn letter(i: usize) -> String {
    char::from(b'A' + (i % 26) as u8).to_string()
}

/// The options as `(letter, text)`, in order.
fn option_texts(
    f: &Map<String, Value>,
    options: &OptionsSource,
) -> Result<Vec<(String, String)>, OpError> {
    Ok(match options {
        OptionsSource::Fields(names) => names
            .iter()
            .enumerate()
            .map(|(i, n)| (letter(i), f.get(n).map(value_text).unwrap_or_default()))
            .collect(),
        OptionsSource::Field(name) => match f.get(name) {
            Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), value_text(v))).collect(),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (letter(i), value_text(v)))
                .collect(),
            _ => {
                return Err(OpError::OptionsNotListed(name.clone()));
            }
        },
    })
}

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, _: &OpContext) -> OpResult {
    let Step::LetteredOptions {
        options,
        answer,
        answer_is,
        into,
    } = step
    else {
        return Err(not_this_op(step));
    };
    let texts = option_texts(f, options)?;
    let ans = f.get(answer).cloned().unwrap_or(Value::Null);
    let pos = match answer_is.as_str() {
        "letter" => texts
            .iter()
            .position(|(l, _)| *l == value_text(&ans).trim()),
        "index0" => value_text(&ans).trim().parse::<usize>().ok(),
        "index1" => value_text(&ans)
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|i| i.checked_sub(1)),
        "text" => texts
            .iter()
            .position(|(_, t)| t.trim() == value_text(&ans).trim()),
        other => {
            return Err(OpError::AnswerIs(other.to_string()));
        }
    };
    let Some(pos) = pos.filter(|p| *p < texts.len()) else {
        return Err(OpError::AnswerNotAnOption {
            answer: ans,
            options: texts.len(),
        });
    };
    let list: Vec<Value> = texts
        .iter()
        .map(|(l, t)| string_object([("letter", l.clone()), ("text", t.clone())]))
        .collect();
    f.insert(
        format!("{into}_letter"),
        Value::String(texts[pos].0.clone()),
    );
    f.insert(format!("{into}_text"), Value::String(texts[pos].1.clone()));
    f.insert(format!("{into}_list"), Value::Array(list));
    Ok(true)
}

//! `section`: a section of a text field between markers (first occurrences), from after
//! `start` (plus `skip` characters) up to `end` (or the end of the text), counted in
//! characters as Python slices them. `missing = "skip"` drops records without the start
//! marker, `empty` writes an empty string.

use super::{OpContext, OpResult, not_this_op};
use medsins_manifest::Step;
use medsins_readers::value_text;
use serde_json::{Map, Value};

/// `Ok(false)` drops the record (no start marker, `missing = "skip"`).
pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, _: &OpContext) -> OpResult {
    let Step::Section {
        field,
        start,
        end,
        skip,
        into,
        missing,
        strip,
        replace_newlines,
    } = step
    else {
        return Err(not_this_op(step));
    };
    let text = f.get(field).map(value_text).unwrap_or_default();
    let chars: Vec<char> = text.chars().collect();
    let find = |m: &str| text.find(m).map(|b| text[..b].chars().count());
    let section = match find(start) {
        None if missing == "skip" => return Ok(false),
        None => String::new(),
        Some(at) => {
            let from = (at + start.chars().count() + skip).min(chars.len());
            let to = match end {
                Some(e) => find(e).unwrap_or(chars.len()),
                None => chars.len(),
            };
            if to < from {
                String::new()
            } else {
                chars[from..to].iter().collect()
            }
        }
    };
    let section = match replace_newlines {
        Some(rep) => section.replace('\n', rep),
        None => section,
    };
    let section = if *strip {
        section
            .trim_matches(medsins_core::normalize::is_py_space)
            .to_string()
    } else {
        section
    };
    f.insert(into.clone(), Value::String(section));
    Ok(true)
}

//! `section`: a section of a text field between markers (first occurrences), from after
//! `start` (plus `skip` characters) up to `end` (or the end of the text), counted in
//! characters as Python slices them. `missing = "skip"` drops records without the start
//! marker, `empty` writes an empty string.

use medsins_readers::value_text;
use serde_json::{Map, Value};

/// The step's fields, as the manifest names them.
pub(crate) struct Section<'a> {
    pub field: &'a str,
    pub start: &'a str,
    pub end: Option<&'a str>,
    pub skip: usize,
    pub into: &'a str,
    pub missing: &'a str,
    pub strip: bool,
    pub replace_newlines: Option<&'a str>,
}

/// `Ok(false)` drops the record (no start marker, `missing = "skip"`).
pub(crate) fn apply(f: &mut Map<String, Value>, s: Section) -> Result<bool, String> {
    let text = f.get(s.field).map(value_text).unwrap_or_default();
    let chars: Vec<char> = text.chars().collect();
    let find = |m: &str| text.find(m).map(|b| text[..b].chars().count());
    let section = match find(s.start) {
        None if s.missing == "skip" => return Ok(false),
        None => String::new(),
        Some(at) => {
            let from = (at + s.start.chars().count() + s.skip).min(chars.len());
            let to = match s.end {
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
    let section = match s.replace_newlines {
        Some(rep) => section.replace('\n', rep),
        None => section,
    };
    let section = if s.strip {
        section
            .trim_matches(medsins_core::normalize::is_py_space)
            .to_string()
    } else {
        section
    };
    f.insert(s.into.to_string(), Value::String(section));
    Ok(true)
}

//! OBO flat-file ontologies (OBO 1.2 / 1.4, e.g. the Human Disease Ontology's `doid.obo`).
//!
//! One record per `[Term]` stanza (the header and `[Typedef]` / `[Instance]` stanzas are
//! skipped). Every `tag: value` line becomes a field named by the tag. Tags that the OBO 1.4
//! specification allows more than once (`synonym`, `is_a`, `xref`, `alt_id`, `subset`,
//! `relationship`, …) are always lists, so templates see one shape whatever the term; any
//! other tag that repeats becomes a list too. Values are kept verbatim (trailing `{…}`
//! qualifiers and `! comment`s included), and two helper fields are derived per tag, mirroring
//! the value's list-ness:
//! - `<tag>_text`: for values that open with a quoted string (`def`, `synonym`), that string
//!   with OBO escapes (`\"`, `\\`, `\n`, …) resolved;
//! - `<tag>_id` and `<tag>_name`: for values with a `! comment` (`is_a: DOID:4 ! disease`), the
//!   part before it and the comment (usually the referenced term's name).
//!
//! `stanza_index` numbers the `[Term]` stanzas from 1 in file order.

use crate::bytes::strip_bom;
use crate::limits::Limits;
use crate::{ReadError, Sink, format_err, record, record_too_large, too_large};
use serde_json::{Map, Value};
use std::path::Path;

/// Tags the OBO 1.4 specification lets a stanza repeat: always lists.
const MULTI: &[&str] = &[
    "alt_id",
    "subset",
    "synonym",
    "xref",
    "is_a",
    "intersection_of",
    "union_of",
    "disjoint_from",
    "relationship",
    "consider",
    "replaced_by",
    "property_value",
    "created_by_tag",
    "equivalent_to",
];

/// A stanza being read: its kind (`Term`, `Typedef`, …), first line, byte start and tag lines.
type Stanza<'a> = (String, usize, usize, Vec<(usize, &'a str)>);

pub fn read_obo(
    path: &Path,
    data: &[u8],
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let data = strip_bom(data);
    let text =
        std::str::from_utf8(data).map_err(|e| format_err(path, format!("not UTF-8 text: {e}")))?;
    let mut current: Option<Stanza> = None;
    let mut terms = 0usize;
    let mut offset = 0usize;
    let mut flush = |cur: Option<Stanza>, end: usize, terms: &mut usize| {
        if let Some((kind, first, start, lines)) = cur
            && kind == "Term"
        {
            *terms += 1;
            let f = stanza_fields(&lines, *terms);
            let id = f.get("id").map(crate::value_text).unwrap_or_default();
            let locator = format!("[Term] {id} (line {first})");
            sink(Ok(record(f, locator, &data[start..end])));
        }
    };
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            flush(current.take(), offset, &mut terms);
            current = Some((
                t[1..t.len() - 1].trim().to_string(),
                i + 1,
                offset,
                Vec::new(),
            ));
        } else if let Some((_, first, start, lines)) = current.as_mut()
            && !t.is_empty()
            && !t.starts_with('!')
        {
            if too_large(offset + line.len() - *start, limits) {
                return Err(record_too_large(
                    path,
                    limits,
                    &format!("the stanza from line {first}"),
                ));
            }
            lines.push((i + 1, t));
        }
        offset += line.len();
    }
    flush(current.take(), offset, &mut terms);
    Ok(())
}

fn stanza_fields(lines: &[(usize, &str)], index: usize) -> Map<String, Value> {
    let mut f = Map::new();
    for (_, l) in lines {
        let Some((tag, value)) = l.split_once(':') else {
            continue;
        };
        let (tag, value) = (tag.trim(), value.trim());
        let mut derived: Vec<(String, String)> = Vec::new();
        if value.starts_with('"')
            && let Some(q) = quoted(value)
        {
            derived.push((format!("{tag}_text"), q));
        }
        if let Some((id, name)) = split_comment(value) {
            derived.push((format!("{tag}_id"), id));
            derived.push((format!("{tag}_name"), name));
        }
        let multi = MULTI.contains(&tag);
        add(&mut f, tag, value.to_string(), multi);
        for (k, v) in derived {
            add(&mut f, &k, v, multi);
        }
    }
    f.insert("stanza_index".into(), Value::from(index));
    f
}

fn add(f: &mut Map<String, Value>, key: &str, v: String, multi: bool) {
    match f.get_mut(key) {
        Some(Value::Array(a)) => a.push(Value::String(v)),
        Some(old) => {
            let prev = old.take();
            *old = Value::Array(vec![prev, Value::String(v)]);
        }
        None if multi => {
            f.insert(key.into(), Value::Array(vec![Value::String(v)]));
        }
        None => {
            f.insert(key.into(), Value::String(v));
        }
    }
}

/// The leading quoted string of an OBO value, escapes resolved.
fn quoted(value: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = value.chars().skip(1);
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'W' => out.push(' '),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// `DOID:4 ! disease` -> (`DOID:4`, `disease`); the `!` must lie outside quotes.
fn split_comment(value: &str) -> Option<(String, String)> {
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => in_quote = !in_quote,
            '!' if !in_quote && (i == 0 || value[..i].ends_with(' ')) => {
                return Some((
                    value[..i].trim().to_string(),
                    value[i + 1..].trim().to_string(),
                ));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DATA: &str = "format-version: 1.2\nontology: doid\n\n[Term]\nid: DOID:1\nname: alpha disease\ndef: \"An \\\"alpha\\\" disease.\" [url:http\\://x.org]\nsynonym: \"alpha syndrome\" EXACT []\nsynonym: \"A disease\" RELATED []\nis_a: DOID:4 ! disease\n\n[Term]\nid: DOID:4\nname: disease\n\n[Typedef]\nid: has_part\nname: has part\n";

    #[test]
    fn terms_tags_lists_and_helpers() {
        let mut v = Vec::new();
        read_obo(
            Path::new("x.obo"),
            DATA.as_bytes(),
            &Limits::default(),
            &mut |r| v.push(r),
        )
        .unwrap();
        assert_eq!(v.len(), 2, "header and Typedef skipped");
        let t = v[0].as_ref().unwrap();
        assert_eq!(t.locator, "[Term] DOID:1 (line 4)");
        assert_eq!(t.fields["name"], "alpha disease");
        assert_eq!(t.fields["def_text"], "An \"alpha\" disease.");
        assert_eq!(
            t.fields["synonym_text"],
            json!(["alpha syndrome", "A disease"])
        );
        assert_eq!(t.fields["synonym"][1], "\"A disease\" RELATED []");
        assert_eq!(t.fields["is_a"], json!(["DOID:4 ! disease"]));
        assert_eq!(t.fields["is_a_id"], json!(["DOID:4"]));
        assert_eq!(t.fields["is_a_name"], json!(["disease"]));
        assert_eq!(t.fields["stanza_index"], 1);
        assert!(
            t.fields.get("def_id").is_none(),
            "`!` inside quotes is no comment"
        );
        let d = v[1].as_ref().unwrap();
        assert_eq!(d.locator, "[Term] DOID:4 (line 12)");
        assert!(d.fields.get("synonym").is_none());
        assert_eq!(d.fields["stanza_index"], 2);
        assert_eq!(
            d.raw_sha256,
            medsins_core::sha256_hex(b"[Term]\nid: DOID:4\nname: disease\n\n")
        );
    }

    #[test]
    fn repeated_single_tag_becomes_list() {
        let mut v = Vec::new();
        read_obo(
            Path::new("x.obo"),
            b"[Term]\nid: X:1\ncomment: a\ncomment: b\n",
            &Limits::default(),
            &mut |r| v.push(r),
        )
        .unwrap();
        assert_eq!(v[0].as_ref().unwrap().fields["comment"], json!(["a", "b"]));
    }
}

//! JSON (array, or object keyed by id), JSON Lines, and Super-NaturalInstructions task JSON.
//!
//! Before a document (or a JSON Lines line) is parsed, one pass over its bytes checks that its
//! arrays and objects nest no deeper than `--max-depth`; the parser's own recursion limit is
//! then lifted, so the bound is ours and the same for every format. A record larger than
//! `--max-record-bytes` refuses the file.

use crate::bytes::strip_bom;
use crate::limits::{Limit, Limits, line_column};
use crate::{
    ReadError, RecordError, Sink, format_err, limit_err, record, record_too_large, too_large,
};
use medsins_manifest::FileOptions;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;
use std::path::Path;

/// A JSON object's members in file order, values left raw (so each record's bytes can be hashed).
struct RawMembers<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for RawMembers<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawMembers<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, &'de RawValue>()? {
                    v.push((k, val));
                }
                Ok(RawMembers(v))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

fn utf8<'a>(path: &Path, data: &'a [u8]) -> Result<&'a str, ReadError> {
    std::str::from_utf8(strip_bom(data))
        .map_err(|e| format_err(path, format!("not UTF-8 text: {e}")))
}

/// The byte offset where `text` first nests arrays and objects deeper than `max_depth`
/// (brackets inside strings do not count), if it does.
fn too_deep(text: &[u8], max_depth: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, b) in text.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The depth error for nesting found at `offset` of `data` (a whole file, or one line of a
/// JSON Lines file, `line` of it).
fn depth_err(
    path: &Path,
    limits: &Limits,
    data: &[u8],
    offset: usize,
    line: Option<usize>,
) -> ReadError {
    let (l, column) = line_column(data, offset);
    limit_err(
        path,
        Limit::Depth,
        limits,
        format!(
            "JSON nesting deeper than {} at line {}, column {column}",
            limits.max_depth,
            line.unwrap_or(l)
        ),
    )
}

/// Parses JSON whose nesting [`too_deep`] has checked: serde_json's fixed recursion limit
/// (128) is lifted so `--max-depth` alone decides.
fn parse<'a, T: serde::Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let v = T::deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// The text of a whole JSON document, its nesting checked.
fn document<'a>(path: &Path, data: &'a [u8], limits: &Limits) -> Result<&'a str, ReadError> {
    let text = utf8(path, data)?;
    if let Some(at) = too_deep(text.as_bytes(), limits.max_depth) {
        return Err(depth_err(path, limits, text.as_bytes(), at, None));
    }
    Ok(text)
}

/// Follows a JSON pointer (`/questions`, `/Instances`) through raw values.
fn pointer<'a>(path: &Path, root: &'a RawValue, ptr: &str) -> Result<&'a RawValue, ReadError> {
    let mut cur = root;
    for part in ptr.split('/').filter(|p| !p.is_empty()) {
        let part = part.replace("~1", "/").replace("~0", "~");
        let text = cur.get().trim_start();
        cur = if text.starts_with('[') {
            let items: Vec<&RawValue> =
                parse(cur.get()).map_err(|e| format_err(path, format!("at `{ptr}`: {e}")))?;
            let i: usize = part.parse().map_err(|_| {
                format_err(path, format!("`{part}` in `{ptr}` is not an array index"))
            })?;
            *items
                .get(i)
                .ok_or_else(|| format_err(path, format!("`{ptr}`: index {i} out of range")))?
        } else {
            let members: RawMembers =
                parse(cur.get()).map_err(|e| format_err(path, format!("at `{ptr}`: {e}")))?;
            members
                .0
                .into_iter()
                .find(|(k, _)| *k == part)
                .map(|(_, v)| v)
                .ok_or_else(|| {
                    format_err(path, format!("JSON pointer `{ptr}`: no member `{part}`"))
                })?
        };
    }
    Ok(cur)
}

fn object_fields(raw: &RawValue) -> Result<Map<String, Value>, serde_json::Error> {
    match parse::<Value>(raw.get()) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => {
            // A scalar or list record gets one field, `value`.
            let mut m = Map::new();
            m.insert("value".into(), other);
            Ok(m)
        }
        Err(e) => Err(e),
    }
}

pub fn read_json(
    path: &Path,
    data: &[u8],
    opts: &FileOptions,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let text = document(path, data, limits)?;
    let root: &RawValue =
        parse(text).map_err(|e| format_err(path, format!("invalid JSON: {e}")))?;
    let ptr = opts.records.as_deref().unwrap_or("");
    let container = pointer(path, root, ptr)?;
    let shown = if ptr.is_empty() {
        "$".to_string()
    } else {
        format!("${}", ptr.replace('/', "."))
    };
    let body = container.get().trim_start();
    if body.starts_with('[') {
        let items: Vec<&RawValue> =
            parse(container.get()).map_err(|e| format_err(path, e.to_string()))?;
        for (i, item) in items.into_iter().enumerate() {
            let locator = format!("{shown}[{i}]");
            if too_large(item.get().len(), limits) {
                return Err(record_too_large(path, limits, &locator));
            }
            sink(match object_fields(item) {
                Ok(f) => Ok(record(f, locator, item.get().as_bytes())),
                Err(e) => Err(RecordError {
                    locator,
                    message: e.to_string(),
                }),
            });
        }
    } else if body.starts_with('{') {
        let key_field = opts.key_field.as_deref().unwrap_or("_key");
        let members: RawMembers =
            parse(container.get()).map_err(|e| format_err(path, e.to_string()))?;
        for (k, item) in members.0 {
            let locator = format!("{shown}[{}]", serde_json::to_string(&k).unwrap_or_default());
            if too_large(item.get().len(), limits) {
                return Err(record_too_large(path, limits, &locator));
            }
            sink(match object_fields(item) {
                Ok(f) => {
                    let mut fields = Map::new();
                    fields.insert(key_field.to_string(), Value::String(k));
                    fields.extend(f);
                    Ok(record(fields, locator, item.get().as_bytes()))
                }
                Err(e) => Err(RecordError {
                    locator,
                    message: e.to_string(),
                }),
            });
        }
    } else {
        return Err(format_err(
            path,
            format!(
                "records at `{}` are neither an array nor an object",
                if ptr.is_empty() { "/" } else { ptr }
            ),
        ));
    }
    Ok(())
}

pub fn read_jsonl(
    path: &Path,
    data: &[u8],
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let data = strip_bom(data);
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        let locator = format!("line {}", i + 1);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if too_large(line.len(), limits) {
            return Err(record_too_large(path, limits, &locator));
        }
        if let Some(at) = too_deep(line, limits.max_depth) {
            return Err(depth_err(path, limits, line, at, Some(i + 1)));
        }
        let parsed = std::str::from_utf8(line)
            .map_err(|e| format!("not UTF-8: {e}"))
            .and_then(|s| parse::<Value>(s.trim()).map_err(|e| format!("invalid JSON: {e}")));
        sink(match parsed {
            Ok(Value::Object(m)) => Ok(record(m, locator, line)),
            Ok(_) => Err(RecordError {
                locator,
                message: "line is JSON but not an object".into(),
            }),
            Err(message) => Err(RecordError { locator, message }),
        });
    }
    Ok(())
}

/// A string-or-list value as a list of strings (SNI files use both).
pub(crate) fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().map(crate::value_text).collect(),
        Some(Value::Null) | None => vec![],
        Some(other) => vec![other.to_string()],
    }
}

/// Super-NaturalInstructions / MedS-Ins task JSON: one record per entry of `Instances`, with
/// fields `id`, `input`, `output` (the first acceptable output) and `outputs` (all of them).
pub fn read_sni_task(
    path: &Path,
    data: &[u8],
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let text = document(path, data, limits)?;
    let root: &RawValue =
        parse(text).map_err(|e| format_err(path, format!("invalid JSON: {e}")))?;
    let instances = pointer(path, root, "/Instances")
        .map_err(|_| format_err(path, "not a task JSON file: it has no `Instances` list"))?;
    let items: Vec<&RawValue> = parse(instances.get())
        .map_err(|e| format_err(path, format!("`Instances` is not a list: {e}")))?;
    for (i, item) in items.into_iter().enumerate() {
        let locator = format!("$.Instances[{i}]");
        if too_large(item.get().len(), limits) {
            return Err(record_too_large(path, limits, &locator));
        }
        let parsed = match parse::<Value>(item.get()) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                sink(Err(RecordError {
                    locator,
                    message: "instance is not an object".into(),
                }));
                continue;
            }
            Err(e) => {
                sink(Err(RecordError {
                    locator,
                    message: e.to_string(),
                }));
                continue;
            }
        };
        let outputs = string_list(parsed.get("output"));
        let Some(input) = parsed.get("input").and_then(|v| v.as_str()) else {
            sink(Err(RecordError {
                locator,
                message: "instance has no string `input`".into(),
            }));
            continue;
        };
        let mut f = Map::new();
        f.insert(
            "id".into(),
            parsed.get("id").cloned().unwrap_or(Value::Null),
        );
        f.insert("input".into(), Value::String(input.to_string()));
        f.insert(
            "output".into(),
            outputs
                .first()
                .cloned()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        f.insert(
            "outputs".into(),
            Value::Array(outputs.into_iter().map(Value::String).collect()),
        );
        sink(Ok(record(f, locator, item.get().as_bytes())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(
        f: impl FnOnce(&mut Sink) -> Result<(), ReadError>,
    ) -> Vec<Result<crate::Record, RecordError>> {
        let mut v = Vec::new();
        f(&mut |r| v.push(r)).unwrap();
        v
    }

    #[test]
    fn json_object_keyed_by_id_keeps_order_and_key() {
        let data = br#"{"9": {"a": 1}, "10": {"a": 2}}"#;
        let recs = collect(|s| {
            read_json(
                Path::new("x.json"),
                data,
                &FileOptions::default(),
                &Limits::default(),
                s,
            )
        });
        let r: Vec<_> = recs.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(r[0].fields["_key"], "9");
        assert_eq!(r[1].fields["a"], 2);
        assert_eq!(r[0].locator, "$[\"9\"]");
        assert_eq!(r[0].raw_sha256, medsins_core::sha256_hex(br#"{"a": 1}"#));
    }

    #[test]
    fn json_pointer_and_array() {
        let data = br#"{"questions": [{"id": "q1"}, 3]}"#;
        let opts = FileOptions {
            records: Some("/questions".into()),
            ..Default::default()
        };
        let recs = collect(|s| read_json(Path::new("x.json"), data, &opts, &Limits::default(), s));
        assert_eq!(recs[0].as_ref().unwrap().locator, "$.questions[0]");
        assert_eq!(recs[1].as_ref().unwrap().fields["value"], 3);
    }

    #[test]
    fn jsonl_bad_line_is_a_record_error_and_reading_goes_on() {
        let data = b"{\"a\":1}\n{oops\n\n{\"a\":3}\r\n";
        let recs = collect(|s| read_jsonl(Path::new("x.jsonl"), data, &Limits::default(), s));
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].as_ref().unwrap_err().locator, "line 2");
        assert!(
            recs[1]
                .as_ref()
                .unwrap_err()
                .message
                .starts_with("invalid JSON")
        );
        assert_eq!(recs[2].as_ref().unwrap().locator, "line 4");
    }

    #[test]
    fn sni_task_accepts_string_or_list_outputs() {
        let data = br#"{"Definition": ["d"], "Instances": [{"id": "t-1", "input": "i", "output": ["a", "b"]}, {"input": "j", "output": "c"}]}"#;
        let recs = collect(|s| read_sni_task(Path::new("t.json"), data, &Limits::default(), s));
        let a = recs[0].as_ref().unwrap();
        assert_eq!(a.fields["output"], "a");
        assert_eq!(a.fields["outputs"], serde_json::json!(["a", "b"]));
        let b = recs[1].as_ref().unwrap();
        assert_eq!(b.fields["output"], "c");
        assert_eq!(b.fields["id"], Value::Null);
    }
}

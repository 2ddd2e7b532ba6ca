//! JSON (array, or object keyed by id), JSON Lines, and Super-NaturalInstructions task JSON.

use crate::bytes::strip_bom;
use crate::{ReadError, RecordError, Sink, format_err, record};
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

/// Follows a JSON pointer (`/questions`, `/Instances`) through raw values.
fn pointer<'a>(path: &Path, root: &'a RawValue, ptr: &str) -> Result<&'a RawValue, ReadError> {
    let mut cur = root;
    for part in ptr.split('/').filter(|p| !p.is_empty()) {
        let part = part.replace("~1", "/").replace("~0", "~");
        let text = cur.get().trim_start();
        cur = if text.starts_with('[') {
            let items: Vec<&RawValue> = serde_json::from_str(cur.get())
                .map_err(|e| format_err(path, format!("at `{ptr}`: {e}")))?;
            let i: usize = part.parse().map_err(|_| {
                format_err(path, format!("`{part}` in `{ptr}` is not an array index"))
            })?;
            *items
                .get(i)
                .ok_or_else(|| format_err(path, format!("`{ptr}`: index {i} out of range")))?
        } else {
            let members: RawMembers = serde_json::from_str(cur.get())
                .map_err(|e| format_err(path, format!("at `{ptr}`: {e}")))?;
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

fn object_fields(raw: &RawValue) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => {
            // A scalar or list record gets one field, `value`.
            let mut m = Map::new();
            m.insert("value".into(), other);
            Ok(m)
        }
        Err(e) => Err(e.to_string()),
    }
}

pub fn read_json(
    path: &Path,
    data: &[u8],
    opts: &FileOptions,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let text = utf8(path, data)?;
    let root: &RawValue =
        serde_json::from_str(text).map_err(|e| format_err(path, format!("invalid JSON: {e}")))?;
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
            serde_json::from_str(container.get()).map_err(|e| format_err(path, e.to_string()))?;
        for (i, item) in items.into_iter().enumerate() {
            let locator = format!("{shown}[{i}]");
            sink(match object_fields(item) {
                Ok(f) => Ok(record(f, locator, item.get().as_bytes())),
                Err(message) => Err(RecordError { locator, message }),
            });
        }
    } else if body.starts_with('{') {
        let key_field = opts.key_field.as_deref().unwrap_or("_key");
        let members: RawMembers =
            serde_json::from_str(container.get()).map_err(|e| format_err(path, e.to_string()))?;
        for (k, item) in members.0 {
            let locator = format!("{shown}[{}]", serde_json::to_string(&k).unwrap_or_default());
            sink(match object_fields(item) {
                Ok(f) => {
                    let mut fields = Map::new();
                    fields.insert(key_field.to_string(), Value::String(k));
                    fields.extend(f);
                    Ok(record(fields, locator, item.get().as_bytes()))
                }
                Err(message) => Err(RecordError { locator, message }),
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

pub fn read_jsonl(_path: &Path, data: &[u8], sink: &mut Sink) -> Result<(), ReadError> {
    let data = strip_bom(data);
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        let locator = format!("line {}", i + 1);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let parsed = std::str::from_utf8(line)
            .map_err(|e| format!("not UTF-8: {e}"))
            .and_then(|s| {
                serde_json::from_str::<Value>(s.trim()).map_err(|e| format!("invalid JSON: {e}"))
            });
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
pub fn read_sni_task(path: &Path, data: &[u8], sink: &mut Sink) -> Result<(), ReadError> {
    let text = utf8(path, data)?;
    let root: &RawValue =
        serde_json::from_str(text).map_err(|e| format_err(path, format!("invalid JSON: {e}")))?;
    let instances = pointer(path, root, "/Instances")
        .map_err(|_| format_err(path, "not a task JSON file: it has no `Instances` list"))?;
    let items: Vec<&RawValue> = serde_json::from_str(instances.get())
        .map_err(|e| format_err(path, format!("`Instances` is not a list: {e}")))?;
    for (i, item) in items.into_iter().enumerate() {
        let locator = format!("$.Instances[{i}]");
        let parsed = match serde_json::from_str::<Value>(item.get()) {
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
        let recs = collect(|s| read_json(Path::new("x.json"), data, &FileOptions::default(), s));
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
        let recs = collect(|s| read_json(Path::new("x.json"), data, &opts, s));
        assert_eq!(recs[0].as_ref().unwrap().locator, "$.questions[0]");
        assert_eq!(recs[1].as_ref().unwrap().fields["value"], 3);
    }

    #[test]
    fn jsonl_bad_line_is_a_record_error_and_reading_goes_on() {
        let data = b"{\"a\":1}\n{oops\n\n{\"a\":3}\r\n";
        let recs = collect(|s| read_jsonl(Path::new("x.jsonl"), data, s));
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
        let recs = collect(|s| read_sni_task(Path::new("t.json"), data, s));
        let a = recs[0].as_ref().unwrap();
        assert_eq!(a.fields["output"], "a");
        assert_eq!(a.fields["outputs"], serde_json::json!(["a", "b"]));
        let b = recs[1].as_ref().unwrap();
        assert_eq!(b.fields["output"], "c");
        assert_eq!(b.fields["id"], Value::Null);
    }
}

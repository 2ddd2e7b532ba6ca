//! XML: records are the elements at an element path (`ClinicalInquiries/record`, from the root)
//! or every element of a name at any depth (`//diag`). A record element becomes a JSON value
//! the way xmltodict would: an element with neither attributes nor child elements is its text
//! (entities decoded, line ends normalised, not stripped); otherwise an object with `@attr`
//! members, `#text` (its own character data) and one member per child name (a list when the
//! name repeats).
//!
//! Events borrow from the file's bytes (nothing outside a record is copied). Element nesting
//! deeper than `--max-depth` and a record element larger than `--max-record-bytes` refuse the
//! file: the values built here are freed and printed by recursive code, and one runaway element
//! would otherwise be held whole.

use crate::limits::{Limit, Limits, line_column};
use crate::{
    ReadError, Record, RecordError, Sink, format_err, limit_err, record, record_too_large,
    too_large,
};
use medsins_manifest::FileOptions;
use quick_xml::events::Event;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Where a record element starts: its position among the records, its first byte, its locator.
struct RecordRoot {
    ordinal: u64,
    start: usize,
    locator: String,
}

/// An open element being built: its frame, and its [`RecordRoot`] when it is a record.
type Open = (Frame, Option<RecordRoot>);

struct Frame {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<(String, Value)>,
}

impl Frame {
    fn into_value(self) -> Value {
        if self.attrs.is_empty() && self.children.is_empty() {
            return Value::String(self.text);
        }
        let mut m = Map::new();
        for (k, v) in self.attrs {
            m.insert(format!("@{k}"), Value::String(v));
        }
        if !self.text.trim().is_empty() {
            m.insert("#text".into(), Value::String(self.text));
        }
        // group children by name, in order of first appearance; a repeated name becomes a list
        let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
        for (k, v) in self.children {
            match groups.iter_mut().find(|(n, _)| *n == k) {
                Some((_, vs)) => vs.push(v),
                None => groups.push((k, vec![v])),
            }
        }
        for (k, mut vs) in groups {
            let v = if vs.len() == 1 {
                vs.pop().unwrap_or(Value::Null)
            } else {
                Value::Array(vs)
            };
            m.insert(k, v);
        }
        Value::Object(m)
    }
}

fn normalise_newlines(s: &str) -> String {
    if s.contains('\r') {
        s.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        s.to_string()
    }
}

pub fn read_xml(
    path: &Path,
    data: &[u8],
    opts: &FileOptions,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let sel = opts
        .records
        .as_deref()
        .ok_or_else(|| format_err(path, "xml needs the option `records` (an element path)"))?;
    let (anywhere, want): (bool, Vec<&str>) = match sel.strip_prefix("//") {
        Some(name) => (true, vec![name]),
        None => (false, sel.trim_start_matches('/').split('/').collect()),
    };
    let mut reader = quick_xml::Reader::from_reader(data);
    let mut path_stack: Vec<String> = Vec::new();
    // element positions (for locators like /a/b[3]): counts of each child name per open element
    let mut counts: Vec<BTreeMap<String, usize>> = vec![BTreeMap::new()];
    let mut frames: Vec<Open> = Vec::new();
    let mut ordinal = 0u64;
    let mut pending: BTreeMap<u64, Record> = BTreeMap::new();
    let mut next_emit = 0u64;
    loop {
        let before = reader.buffer_position() as usize;
        let ev = reader.read_event().map_err(|e| {
            format_err(
                path,
                format!("XML error at byte {}: {e}", reader.error_position()),
            )
        })?;
        // the record element being built, if any: it may not grow past the record-size limit
        if let Some((_, Some(root))) = frames.first()
            && too_large(reader.buffer_position() as usize - root.start, limits)
        {
            return Err(record_too_large(path, limits, &root.locator));
        }
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if path_stack.len() >= limits.max_depth {
                    let (line, column) = line_column(data, before);
                    return Err(limit_err(
                        path,
                        Limit::Depth,
                        limits,
                        format!(
                            "element nesting deeper than {} at line {line}, column {column}",
                            limits.max_depth
                        ),
                    ));
                }
                let empty = matches!(ev, Event::Empty(_));
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let idx = {
                    let c = counts.last_mut().expect("root counts");
                    let n = c.entry(name.clone()).or_insert(0);
                    *n += 1;
                    *n
                };
                path_stack.push(format!("{name}[{idx}]"));
                counts.push(BTreeMap::new());
                let names: Vec<&str> = path_stack
                    .iter()
                    .map(|p| p.split('[').next().unwrap_or(""))
                    .collect();
                let is_record = if anywhere {
                    name == want[0]
                } else {
                    names == want
                };
                if is_record || !frames.is_empty() {
                    let mut attrs = Vec::new();
                    for a in e.attributes().flatten() {
                        let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                        let v = a
                            .unescape_value()
                            .map(|v| v.into_owned())
                            .unwrap_or_default();
                        attrs.push((k, v));
                    }
                    let root = is_record.then(|| {
                        ordinal += 1;
                        RecordRoot {
                            ordinal: ordinal - 1,
                            start: before,
                            locator: format!("/{}", path_stack.join("/")),
                        }
                    });
                    frames.push((
                        Frame {
                            name,
                            attrs,
                            text: String::new(),
                            children: Vec::new(),
                        },
                        root,
                    ));
                }
                if empty {
                    close(
                        &mut frames,
                        &mut path_stack,
                        &mut counts,
                        data,
                        reader.buffer_position() as usize,
                        &mut pending,
                    );
                }
            }
            Event::End(_) => {
                close(
                    &mut frames,
                    &mut path_stack,
                    &mut counts,
                    data,
                    reader.buffer_position() as usize,
                    &mut pending,
                );
            }
            Event::Text(t) => {
                if let Some((f, _)) = frames.last_mut()
                    && f.children.is_empty()
                {
                    let raw = t
                        .xml_content()
                        .map_err(|e| format_err(path, e.to_string()))?;
                    f.text.push_str(&normalise_newlines(&raw));
                }
            }
            Event::GeneralRef(r) => {
                if let Some((f, _)) = frames.last_mut()
                    && f.children.is_empty()
                {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    let ch = match name.as_str() {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16)
                            .ok()
                            .and_then(char::from_u32),
                        n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
                        _ => None,
                    };
                    match ch {
                        Some(c) => f.text.push(c),
                        None => f.text.push_str(&format!("&{name};")),
                    }
                }
            }
            Event::CData(t) => {
                if let Some((f, _)) = frames.last_mut()
                    && f.children.is_empty()
                {
                    f.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        while let Some(r) = pending.remove(&next_emit) {
            sink(Ok(r));
            next_emit += 1;
        }
    }
    if !frames.is_empty() {
        let e = RecordError {
            locator: format!("/{}", path_stack.join("/")),
            message: "element not closed before end of file".into(),
        };
        sink(Err(e));
    }
    // records that closed after one left open (they waited for it, to keep document order)
    for r in pending.into_values() {
        sink(Ok(r));
    }
    Ok(())
}

fn close(
    frames: &mut Vec<Open>,
    path_stack: &mut Vec<String>,
    counts: &mut Vec<BTreeMap<String, usize>>,
    data: &[u8],
    end: usize,
    pending: &mut BTreeMap<u64, Record>,
) {
    path_stack.pop();
    counts.pop();
    let Some((frame, root)) = frames.pop() else {
        return;
    };
    let name = frame.name.clone();
    let value = frame.into_value();
    if let Some(RecordRoot {
        ordinal: ord,
        start,
        locator,
    }) = root
    {
        let fields = match &value {
            Value::Object(m) => m.clone(),
            other => {
                let mut m = Map::new();
                m.insert("#text".into(), other.clone());
                m
            }
        };
        pending.insert(ord, record(fields, locator, &data[start.min(end)..end]));
    }
    if let Some((parent, _)) = frames.last_mut() {
        parent.children.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str, sel: &str) -> Vec<Record> {
        let opts = FileOptions {
            records: Some(sel.into()),
            ..Default::default()
        };
        let mut v = Vec::new();
        read_xml(
            Path::new("x.xml"),
            xml.as_bytes(),
            &opts,
            &Limits::default(),
            &mut |r| v.push(r.unwrap()),
        )
        .unwrap();
        v
    }

    #[test]
    fn element_path_records_like_xmltodict() {
        let xml = "<?xml version=\"1.0\"?><root><record id=\"7\"><question>Q &amp; A?</question><answer><snip><sniptext>S1</sniptext><long><longtext>L1</longtext></long><long><longtext>L2</longtext></long></snip></answer></record><record id=\"8\"><question/></record></root>";
        let r = read(xml, "root/record");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].fields["@id"], "7");
        assert_eq!(r[0].fields["question"], "Q & A?");
        assert_eq!(r[0].fields["answer"]["snip"]["long"][1]["longtext"], "L2");
        assert_eq!(r[0].locator, "/root[1]/record[1]");
        assert_eq!(r[1].locator, "/root[1]/record[2]");
        assert_eq!(r[1].fields["question"], "");
        assert!(
            r[0].raw_sha256
                == medsins_core::sha256_hex(
                    &xml.as_bytes()
                        [xml.find("<record").unwrap()..xml.find("</record>").unwrap() + 9]
                )
        );
    }

    #[test]
    fn records_after_an_unclosed_one_are_still_read() {
        let xml = "<D><QAPairs><QAPair pid=\"1\"><Question>a</Question><QAPair pid=\"2\"><Question>b</Question></QAPair>";
        let opts = FileOptions {
            records: Some("//QAPair".into()),
            ..Default::default()
        };
        let mut v = Vec::new();
        read_xml(
            Path::new("x.xml"),
            xml.as_bytes(),
            &opts,
            &Limits::default(),
            &mut |r| v.push(r),
        )
        .unwrap();
        assert_eq!(v.len(), 2, "{v:?}");
        let e = v[0].as_ref().unwrap_err();
        assert_eq!(e.locator, "/D[1]/QAPairs[1]/QAPair[1]");
        assert_eq!(e.message, "element not closed before end of file");
        assert_eq!(v[1].as_ref().unwrap().fields["Question"], "b");
    }

    #[test]
    fn nested_records_anywhere_in_document_order() {
        let xml = "<t><diag><name>A00</name><desc>Cholera</desc><diag><name>A00.0</name><desc>C1</desc></diag></diag></t>";
        let r = read(xml, "//diag");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].fields["name"], "A00");
        assert_eq!(r[1].fields["name"], "A00.0");
        assert_eq!(r[1].locator, "/t[1]/diag[1]/diag[1]");
    }
}

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
use quick_xml::events::{BytesStart, Event};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// Where a record element starts: its position among the records, its first byte, its locator;
/// and why it cannot be a record (an attribute inside it that cannot be read), if so.
struct RecordRoot {
    ordinal: u64,
    start: usize,
    locator: String,
    broken: Option<String>,
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

/// Which elements are records: every element of a name at any depth (`//diag`), or the
/// elements at a path from the root (`ClinicalInquiries/record`).
enum RecordSelector<'a> {
    Anywhere(&'a str),
    Path(Vec<&'a str>),
}

impl<'a> RecordSelector<'a> {
    fn parse(sel: &'a str) -> Self {
        match sel.strip_prefix("//") {
            Some(name) => RecordSelector::Anywhere(name),
            None => RecordSelector::Path(sel.trim_start_matches('/').split('/').collect()),
        }
    }

    /// Whether the element just opened (`name`, the last of `path_stack`) is a record.
    fn matches(&self, name: &str, path_stack: &[String]) -> bool {
        match self {
            RecordSelector::Anywhere(want) => name == *want,
            RecordSelector::Path(want) => {
                path_stack.len() == want.len()
                    && path_stack
                        .iter()
                        .map(|p| p.split('[').next().unwrap_or(""))
                        .zip(want)
                        .all(|(a, b)| a == *b)
            }
        }
    }
}

/// The character an entity reference (`amp`, `#x41`, `#65`) stands for; `None` for an
/// entity the document would have to declare.
fn decode_entity(name: &str) -> Option<char> {
    match name {
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
    }
}

/// An attribute of an element inside a record that cannot be read: the record is quarantined.
#[derive(Debug, thiserror::Error)]
enum AttributeError {
    #[error("malformed attribute: {0}; write each attribute once, as name=\"value\"")]
    Malformed(quick_xml::events::attributes::AttrError),
    #[error(
        "attribute `{key}` cannot be unescaped: {source}; write the character itself, a character reference (`&#160;`) or one of `&amp;` `&lt;` `&gt;` `&quot;` `&apos;`"
    )]
    Unescape {
        key: String,
        source: quick_xml::Error,
    },
}

/// An element's attributes, values unescaped; a malformed attribute or a value that cannot be
/// unescaped (an entity the document would have to declare) is an error saying which.
fn attributes(e: &BytesStart) -> Result<Vec<(String, String)>, AttributeError> {
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(AttributeError::Malformed)?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = match a.unescape_value() {
            Ok(v) => v.into_owned(),
            Err(source) => return Err(AttributeError::Unescape { key, source }),
        };
        attrs.push((key, value));
    }
    Ok(attrs)
}

/// The state of one pass over a document: the open elements, the records being built, and
/// the finished records waiting for their turn (records are emitted in document order).
struct XmlWalk<'d> {
    data: &'d [u8],
    path_stack: Vec<String>,
    /// element positions (for locators like /a/b[3]): counts of each child name per open element
    counts: Vec<BTreeMap<String, usize>>,
    frames: Vec<Open>,
    ordinal: u64,
    pending: BTreeMap<u64, Result<Record, RecordError>>,
    next_emit: u64,
}

impl<'d> XmlWalk<'d> {
    fn new(data: &'d [u8]) -> Self {
        XmlWalk {
            data,
            path_stack: Vec::new(),
            counts: vec![BTreeMap::new()],
            frames: Vec::new(),
            ordinal: 0,
            pending: BTreeMap::new(),
            next_emit: 0,
        }
    }

    /// An element opens at byte `start`: it starts a record when `selector` matches it, and
    /// becomes part of the record being built when there is one.
    fn open(&mut self, e: &BytesStart, selector: &RecordSelector, start: usize) {
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let idx = {
            let c = self.counts.last_mut().expect("root counts");
            let n = c.entry(name.clone()).or_insert(0);
            *n += 1;
            *n
        };
        self.path_stack.push(format!("{name}[{idx}]"));
        self.counts.push(BTreeMap::new());
        let is_record = selector.matches(&name, &self.path_stack);
        if !is_record && self.frames.is_empty() {
            return;
        }
        let mut root = is_record.then(|| {
            self.ordinal += 1;
            RecordRoot {
                ordinal: self.ordinal - 1,
                start,
                locator: self.locator(),
                broken: None,
            }
        });
        // an attribute that cannot be read breaks every record holding its element: each is
        // quarantined with the element's line and column, the rest of the file is read
        let attrs = attributes(e).unwrap_or_else(|why| {
            let (line, column) = line_column(self.data, start);
            let why = format!("<{name}> at line {line}, column {column}: {why}");
            let open_roots = self.frames.iter_mut().filter_map(|(_, r)| r.as_mut());
            for r in open_roots.chain(root.as_mut()) {
                r.broken.get_or_insert_with(|| why.clone());
            }
            Vec::new()
        });
        let frame = Frame {
            name,
            attrs,
            text: String::new(),
            children: Vec::new(),
        };
        self.frames.push((frame, root));
    }

    /// The innermost open element closes at byte `end`: a record element becomes a pending
    /// record, any other joins its parent.
    fn close(&mut self, end: usize) {
        self.path_stack.pop();
        self.counts.pop();
        let Some((frame, root)) = self.frames.pop() else {
            return;
        };
        let name = frame.name.clone();
        let value = frame.into_value();
        if let Some(RecordRoot {
            ordinal: ord,
            start,
            locator,
            broken,
        }) = root
        {
            let read = match broken {
                Some(message) => Err(RecordError { locator, message }),
                None => {
                    let fields = match &value {
                        Value::Object(m) => m.clone(),
                        other => {
                            let mut m = Map::new();
                            m.insert("#text".into(), other.clone());
                            m
                        }
                    };
                    Ok(record(fields, locator, &self.data[start.min(end)..end]))
                }
            };
            self.pending.insert(ord, read);
        }
        if let Some((parent, _)) = self.frames.last_mut() {
            parent.children.push((name, value));
        }
    }

    /// Where character data goes: the innermost element being built, while it has no child
    /// elements (xmltodict keeps the text before the first child only).
    fn text(&mut self) -> Option<&mut String> {
        self.frames
            .last_mut()
            .map(|(f, _)| f)
            .filter(|f| f.children.is_empty())
            .map(|f| &mut f.text)
    }

    fn locator(&self) -> String {
        format!("/{}", self.path_stack.join("/"))
    }

    /// Emits the pending records whose turn it is.
    fn emit_ready(&mut self, sink: &mut Sink) {
        while let Some(r) = self.pending.remove(&self.next_emit) {
            sink(r);
            self.next_emit += 1;
        }
    }

    /// At the end of the document: a record left open is a record error, and the records that
    /// closed after it (they waited for it, to keep document order) are emitted.
    fn finish(self, sink: &mut Sink) {
        if !self.frames.is_empty() {
            sink(Err(RecordError {
                locator: self.locator(),
                message: "element not closed before end of file".into(),
            }));
        }
        for r in self.pending.into_values() {
            sink(r);
        }
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
    let selector = RecordSelector::parse(sel);
    let mut reader = quick_xml::Reader::from_reader(data);
    let mut walk = XmlWalk::new(data);
    loop {
        let before = reader.buffer_position() as usize;
        let ev = reader.read_event().map_err(|e| {
            format_err(
                path,
                format!("XML error at byte {}: {e}", reader.error_position()),
            )
        })?;
        // the record element being built, if any: it may not grow past the record-size limit
        if let Some((_, Some(root))) = walk.frames.first()
            && too_large(reader.buffer_position() as usize - root.start, limits)
        {
            return Err(record_too_large(path, limits, &root.locator));
        }
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if walk.path_stack.len() >= limits.max_depth {
                    return Err(too_deep(path, data, before, limits));
                }
                walk.open(e, &selector, before);
                if matches!(ev, Event::Empty(_)) {
                    walk.close(reader.buffer_position() as usize);
                }
            }
            Event::End(_) => walk.close(reader.buffer_position() as usize),
            Event::Text(t) => {
                if let Some(text) = walk.text() {
                    let raw = t
                        .xml_content()
                        .map_err(|e| format_err(path, e.to_string()))?;
                    text.push_str(&normalise_newlines(&raw));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(text) = walk.text() {
                    let name = String::from_utf8_lossy(&r);
                    match decode_entity(&name) {
                        Some(c) => text.push(c),
                        None => text.push_str(&format!("&{name};")),
                    }
                }
            }
            Event::CData(t) => {
                if let Some(text) = walk.text() {
                    text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        walk.emit_ready(sink);
    }
    walk.finish(sink);
    Ok(())
}

/// The file refused for an element nested deeper than the depth limit, at byte `at`.
fn too_deep(path: &Path, data: &[u8], at: usize, limits: &Limits) -> ReadError {
    let (line, column) = line_column(data, at);
    limit_err(
        path,
        Limit::Depth,
        limits,
        format!(
            "element nesting deeper than {} at line {line}, column {column}",
            limits.max_depth
        ),
    )
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

    #[test]
    fn a_record_with_an_attribute_that_cannot_be_read_is_quarantined_with_its_line() {
        let xml = "<root>\n<record id=\"1\"><q>a</q></record>\n<record id=\"&nbsp;2\"><q>b</q></record>\n<record><q lang=\"en\" lang=\"fr\">c</q></record>\n<record id=\"4\"><q>d</q></record>\n</root>";
        let opts = FileOptions {
            records: Some("root/record".into()),
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
        assert_eq!(v.len(), 4, "{v:?}");
        assert_eq!(v[0].as_ref().unwrap().fields["@id"], "1");
        let e = v[1].as_ref().unwrap_err();
        assert_eq!(e.locator, "/root[1]/record[2]");
        assert_eq!(
            e.message,
            "<record> at line 3, column 1: attribute `id` cannot be unescaped: at 1..5: unrecognized entity `nbsp`; write the character itself, a character reference (`&#160;`) or one of `&amp;` `&lt;` `&gt;` `&quot;` `&apos;`"
        );
        // a child element's attribute breaks the record holding it
        let e = v[2].as_ref().unwrap_err();
        assert_eq!(e.locator, "/root[1]/record[3]");
        assert_eq!(
            e.message,
            "<q> at line 4, column 9: malformed attribute: position 12: duplicated attribute, previous declaration at position 2; write each attribute once, as name=\"value\""
        );
        assert_eq!(v[3].as_ref().unwrap().fields["@id"], "4");
    }
}

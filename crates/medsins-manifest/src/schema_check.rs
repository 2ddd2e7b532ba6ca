//! Every type mistake of a manifest at once.
//!
//! serde stops at the first field it cannot read, so a manifest with three mistakes would take
//! three rounds of `medsins validate` to fix. When the typed parse fails, this module walks the
//! parsed TOML (recovering from syntax errors) against the manifest's JSON Schema — generated
//! from the same types serde reads, so the two agree — and reports each mistake with its span.
//! Only the schema keywords the generated schema uses are understood; a keyword outside that set
//! is ignored rather than guessed at, and serde's own error is still reported when the walk finds
//! nothing.

use serde_json::{Map, Value};
use std::ops::Range;
use std::sync::OnceLock;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One mistake: where it is in the manifest text and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub span: Range<usize>,
    pub message: String,
}

/// All syntax and type mistakes of a manifest's text, in text order.
pub(crate) fn problems(text: &str) -> Vec<Problem> {
    let (doc, syntax) = DeTable::parse_recoverable(text);
    let mut out: Vec<Problem> = syntax
        .iter()
        .map(|e| Problem {
            span: e.span().unwrap_or(0..0),
            message: e.message().trim().to_string(),
        })
        .collect();
    let schema = manifest_schema();
    let mut walker = Walker {
        defs: schema.get("$defs").and_then(Value::as_object),
        problems: Vec::new(),
    };
    walker.table(schema, doc.get_ref(), doc.span(), "");
    out.extend(walker.problems);
    out.sort_by(|a, b| (a.span.start, &a.message).cmp(&(b.span.start, &b.message)));
    out.dedup();
    out
}

/// The manifest schema as JSON, computed once per process.
fn manifest_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        serde_json::to_value(schemars::schema_for!(crate::model::Manifest)).unwrap_or(Value::Null)
    })
}

struct Walker<'s> {
    defs: Option<&'s Map<String, Value>>,
    problems: Vec<Problem>,
}

impl<'s> Walker<'s> {
    fn report(&mut self, span: Range<usize>, path: &str, message: String) {
        let message = if path.is_empty() {
            message
        } else {
            format!("`{path}`: {message}")
        };
        self.problems.push(Problem { span, message });
    }

    /// The schema behind a `$ref` (`#/$defs/Name`), or the schema itself.
    fn resolve(&self, schema: &'s Value) -> &'s Value {
        let target = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .and_then(|name| self.defs?.get(name));
        match target {
            Some(t) => self.resolve(t),
            None => schema,
        }
    }

    fn value(&mut self, schema: &'s Value, value: &Spanned<DeValue<'_>>, path: &str) {
        let schema = self.resolve(schema);
        if let Some(branches) = schema
            .get("oneOf")
            .or_else(|| schema.get("anyOf"))
            .and_then(Value::as_array)
        {
            return self.one_of(branches, value, path);
        }
        let span = value.span();
        if let Some(expected) = schema.get("type") {
            let allowed = type_names(expected);
            if !allowed.is_empty() && !allowed.iter().any(|t| fits(t, value.get_ref())) {
                let found = kind(value.get_ref());
                return self.report(
                    span,
                    path,
                    format!("expected {}, found {found}", describe(&allowed)),
                );
            }
        }
        match value.get_ref() {
            DeValue::Table(t) => self.table(schema, t, span, path),
            DeValue::Array(items) => {
                self.count(schema, items.len(), span.clone(), path);
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.value(item, v, &format!("{path}[{i}]"));
                    }
                }
            }
            DeValue::String(s) => self.string(schema, s, span, path),
            DeValue::Integer(i) => self.integer(schema, i, span, path),
            _ => {}
        }
    }

    fn table(&mut self, schema: &'s Value, table: &DeTable<'_>, span: Range<usize>, path: &str) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            let inner = join(path, name);
            match properties.and_then(|p| p.get(name)) {
                Some(s) => self.value(s, value, &inner),
                None if closed => {
                    let known = properties
                        .map(|p| p.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>())
                        .unwrap_or_default();
                    // not prefixed by the path: serde's wording, which editors and users know
                    let within = if path.is_empty() {
                        String::new()
                    } else {
                        format!(" in `{path}`")
                    };
                    self.report(
                        key.span(),
                        "",
                        format!(
                            "unknown field `{name}`{within}, expected one of {}",
                            known.join(", ")
                        ),
                    );
                }
                None => {}
            }
        }
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !table.keys().any(|k| k.get_ref().as_ref() == required) {
                self.report(span.clone(), path, format!("missing field `{required}`"));
            }
        }
    }

    /// `oneOf`/`anyOf`: a table picks its branch by the field every branch fixes with `const`
    /// (`op` of a step, `policy` of a split), so the mistakes inside that branch are reported;
    /// anything else must fit one branch.
    fn one_of(&mut self, branches: &'s [Value], value: &Spanned<DeValue<'_>>, path: &str) {
        let branches: Vec<&'s Value> = branches.iter().map(|b| self.resolve(b)).collect();
        if let (DeValue::Table(table), Some(tag)) = (value.get_ref(), discriminator(&branches)) {
            if let Some(branch) = self.tagged_branch(&branches, tag, table, value.span(), path) {
                self.table(branch, table, value.span(), path);
            }
            return;
        }
        let mut tried = Vec::new();
        for branch in &branches {
            let mut trial = Walker {
                defs: self.defs,
                problems: Vec::new(),
            };
            trial.value(branch, value, path);
            if trial.problems.is_empty() {
                return;
            }
            tried.push(trial.problems);
        }
        // The branch whose type fits explains the mistake best; none fitting, say what would.
        let fitting: Vec<usize> = branches
            .iter()
            .enumerate()
            .filter(|(_, b)| {
                b.get("type")
                    .is_some_and(|t| type_names(t).iter().any(|n| fits(n, value.get_ref())))
            })
            .map(|(i, _)| i)
            .collect();
        if let [only] = fitting[..] {
            self.problems.append(&mut tried[only]);
            return;
        }
        let consts: Vec<&str> = branches
            .iter()
            .filter_map(|b| b.get("const").and_then(Value::as_str))
            .collect();
        let expected = if consts.len() == branches.len() {
            format!("one of {}", consts.join(", "))
        } else {
            let mut names: Vec<&str> = branches
                .iter()
                .filter_map(|b| b.get("type"))
                .flat_map(type_names)
                .collect();
            names.dedup();
            describe(&names)
        };
        let found = match value.get_ref() {
            DeValue::String(s) => format!("`{s}`"),
            v => kind(v).to_string(),
        };
        self.report(
            value.span(),
            path,
            format!("expected {expected}, found {found}"),
        );
    }

    /// The branch of a discriminated `oneOf` that `table`'s `tag` field names; when the field
    /// is missing, not a string or names no branch, that is reported and there is none.
    fn tagged_branch(
        &mut self,
        branches: &[&'s Value],
        tag: &str,
        table: &DeTable<'_>,
        span: Range<usize>,
        path: &str,
    ) -> Option<&'s Value> {
        let names: Vec<&str> = branches.iter().filter_map(|b| tag_value(b, tag)).collect();
        let Some((_, given)) = table.iter().find(|(k, _)| k.get_ref().as_ref() == tag) else {
            let message = format!("missing field `{tag}` (one of {})", names.join(", "));
            self.report(span, path, message);
            return None;
        };
        let DeValue::String(s) = given.get_ref() else {
            let message = format!("expected a string, found {}", kind(given.get_ref()));
            self.report(given.span(), &join(path, tag), message);
            return None;
        };
        let branch = branches
            .iter()
            .find(|b| tag_value(b, tag) == Some(s.as_ref()))
            .copied();
        if branch.is_none() {
            let message = format!("unknown {tag} `{s}`, expected one of {}", names.join(", "));
            self.report(given.span(), &join(path, tag), message);
        }
        branch
    }

    fn string(&mut self, schema: &Value, s: &str, span: Range<usize>, path: &str) {
        if let Some(c) = schema.get("const").and_then(Value::as_str)
            && c != s
        {
            self.report(span.clone(), path, format!("expected `{c}`, found `{s}`"));
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            let names: Vec<&str> = options.iter().filter_map(Value::as_str).collect();
            if !names.contains(&s) {
                self.report(
                    span,
                    path,
                    format!("unknown value `{s}`, expected one of {}", names.join(", ")),
                );
            }
        }
    }

    fn integer(
        &mut self,
        schema: &Value,
        i: &toml::de::DeInteger<'_>,
        span: Range<usize>,
        path: &str,
    ) {
        let digits = i.as_str().replace('_', "");
        let Ok(n) = i128::from_str_radix(&digits, i.radix()) else {
            return; // the syntax check reports integers TOML cannot read
        };
        let minimum = schema.get("minimum").and_then(Value::as_f64);
        let maximum = match schema.get("format").and_then(Value::as_str) {
            Some("uint8") => Some(u8::MAX as i128),
            Some("uint16") => Some(u16::MAX as i128),
            Some("uint32") => Some(u32::MAX as i128),
            Some("uint64" | "uint") => Some(u64::MAX as i128),
            _ => None,
        };
        if minimum.is_some_and(|m| (n as f64) < m) || maximum.is_some_and(|m| n > m) {
            let range = match maximum {
                Some(m) => format!("between {} and {m}", minimum.unwrap_or(0.0)),
                None => format!("at least {}", minimum.unwrap_or(0.0)),
            };
            self.report(span, path, format!("{n} is out of range: expected {range}"));
        }
    }

    fn count(&mut self, schema: &Value, len: usize, span: Range<usize>, path: &str) {
        let min = schema.get("minItems").and_then(Value::as_u64);
        let max = schema.get("maxItems").and_then(Value::as_u64);
        let len = len as u64;
        if min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m) {
            let bounds = match (min, max) {
                (Some(a), Some(b)) if a == b => format!("exactly {a}"),
                (Some(a), Some(b)) => format!("{a} to {b}"),
                (Some(a), None) => format!("at least {a}"),
                (None, Some(b)) => format!("at most {b}"),
                (None, None) => unreachable!("checked above"),
            };
            self.report(span, path, format!("expected {bounds} items, found {len}"));
        }
    }
}

/// The field all object branches fix with a `const` string (the serde tag), if there is one.
fn discriminator<'s>(branches: &[&'s Value]) -> Option<&'s str> {
    let first = branches.first()?.get("properties")?.as_object()?;
    first
        .iter()
        .find(|(_, s)| s.get("const").is_some())
        .map(|(k, _)| k.as_str())
        .filter(|tag| branches.iter().all(|b| tag_value(b, tag).is_some()))
}

fn tag_value<'s>(branch: &'s Value, tag: &str) -> Option<&'s str> {
    branch.get("properties")?.get(tag)?.get("const")?.as_str()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The JSON types a schema `type` allows, without `null` (an absent TOML key is the null).
fn type_names(t: &Value) -> Vec<&str> {
    match t {
        Value::String(s) => vec![s.as_str()],
        Value::Array(v) => v.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|n| *n != "null")
    .collect()
}

fn fits(type_name: &str, v: &DeValue<'_>) -> bool {
    matches!(
        (type_name, v),
        ("string", DeValue::String(_))
            | ("integer", DeValue::Integer(_))
            | ("number", DeValue::Integer(_) | DeValue::Float(_))
            | ("boolean", DeValue::Boolean(_))
            | ("array", DeValue::Array(_))
            | ("object", DeValue::Table(_))
    )
}

fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn describe(types: &[&str]) -> String {
    let words: Vec<&str> = types
        .iter()
        .map(|t| match *t {
            "string" => "a string",
            "integer" => "an integer",
            "number" => "a number",
            "boolean" => "a boolean",
            "array" => "an array",
            "object" => "a table",
            other => other,
        })
        .collect();
    words.join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<String> {
        problems(text).into_iter().map(|p| p.message).collect()
    }

    #[test]
    fn every_bundled_manifest_fits_the_schema() {
        for (name, text) in crate::bundled::data::MANIFESTS {
            assert_eq!(messages(text), Vec::<String>::new(), "{name}");
        }
    }

    #[test]
    fn a_step_is_checked_against_the_branch_its_op_names() {
        let text = "[corpus]\nid = \"x\"\n[[tasks]]\nsteps = [{ op = \"join\", file = 3 }, { op = \"nope\" }]\n";
        let got = messages(text);
        assert!(
            got.contains(&"`tasks[0].steps[0].file`: expected a string, found an integer".into()),
            "{got:#?}"
        );
        assert!(
            got.iter()
                .any(|m| m.starts_with("`tasks[0].steps[1].op`: unknown op `nope`, expected one of iob_entities, pubtator_entities")),
            "{got:#?}"
        );
    }

    #[test]
    fn a_tagged_table_without_a_string_tag_says_what_the_tag_may_be() {
        let text = "[corpus]\nid = \"x\"\n[[tasks]]\nsteps = [{ into = \"x\" }, { op = 3 }]\nsplit = { split = \"train\" }\n";
        let got: Vec<String> = messages(text)
            .into_iter()
            .filter(|m| m.starts_with("`tasks[0].s"))
            .collect();
        assert_eq!(
            got,
            [
                "`tasks[0].steps[0]`: missing field `op` (one of iob_entities, pubtator_entities, \
                 lettered_options, join, lookup, section, keyword_label, key_value, group, explode, \
                 keep, py_literal, select, set, keep_last, lookup_records, code_dialogue, regex_replace, pandas_values)",
                "`tasks[0].steps[1].op`: expected a string, found an integer",
                "`tasks[0].split`: missing field `policy` (one of official, fixed, hash, head)",
            ]
        );
    }
}

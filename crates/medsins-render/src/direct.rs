//! Direct rendering of the templates that are plain substitutions.
//!
//! Most task templates are literal text around `{{ field }}`, `{{ a.b[0] }}` or a field through
//! a few string filters (`text`, `strip`, `trim`, `capitalize`, `lower`, `upper`, `join`).
//! Running those through minijinja costs a context object, a value conversion per field read
//! and the interpreter, per record; a [`DirectPlan`] is the same template compiled to a list of
//! literal pieces and field paths, rendered by copying the fields' strings straight out of the
//! record.
//!
//! A plan only renders what it can render exactly as minijinja does: when a field is missing,
//! a value is not a string (numbers, booleans and `null` print in minijinja's own way), or a
//! filter meets input it does not handle identically (`capitalize` of non-ASCII text),
//! [`DirectPlan::render`] returns `None` and the caller renders the record with minijinja, so
//! errors and every unusual value keep minijinja's behaviour. Debug builds render every
//! record both ways and compare (`TaskRenderer::render`); the fixture tests run them all.

use serde_json::{Map, Value};
use std::borrow::Cow;

/// A template compiled to literal pieces and field paths.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DirectPlan {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Value(Expr),
}

/// `field(.member | [index] | ["key"])* (| filter)*`
#[derive(Debug, Clone, PartialEq)]
struct Expr {
    field: String,
    path: Vec<Step>,
    filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Member(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    /// the crate's `text` filter: a string as it is, `null` as nothing
    Text,
    /// the crate's `strip` filter: Python's `str.strip()`
    Strip,
    Trim,
    Capitalize,
    Lower,
    Upper,
    Join(String),
}

/// Names a template can read that are not the record's fields (minijinja's globals and
/// keywords): a plan never treats them as fields.
const RESERVED: &[&str] = &[
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
    "not",
    "and",
    "or",
    "in",
    "is",
    "if",
    "else",
    "loop",
    "self",
    "super",
    "caller",
    "varargs",
    "kwargs",
    "range",
    "dict",
    "namespace",
    "debug",
    "lipsum",
    "cycler",
    "joiner",
    "record",
];

impl DirectPlan {
    /// The plan of `src`, when every part of it is a literal or a plain substitution.
    pub(crate) fn compile(src: &str) -> Option<DirectPlan> {
        // blocks and comments (and anything that looks like them) stay with minijinja
        if src.contains("{%") || src.contains("{#") {
            return None;
        }
        let mut parts = Vec::new();
        let mut rest = src;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}")?;
            parts.push(Part::Value(Parser::new(&after[..close]).expr()?));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Some(DirectPlan { parts })
    }

    /// The template rendered over `fields`, or `None` when minijinja must render it.
    pub(crate) fn render(&self, fields: &Map<String, Value>) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Value(e) => out.push_str(&e.eval(fields)?),
            }
        }
        Some(out)
    }
}

impl Expr {
    fn eval<'a>(&self, fields: &'a Map<String, Value>) -> Option<Cow<'a, str>> {
        let mut v = fields.get(&self.field)?;
        for step in &self.path {
            v = match (step, v) {
                (Step::Member(k), Value::Object(m)) => m.get(k)?,
                (Step::Index(i), Value::Array(a)) => a.get(*i)?,
                _ => return None,
            };
        }
        let mut filters = self.filters.iter();
        let mut s: Cow<str> = match (v, filters.next()) {
            (Value::String(s), None) => return Some(Cow::Borrowed(s)),
            (Value::Null, Some(Filter::Text)) => Cow::Borrowed(""),
            (Value::Array(items), Some(Filter::Join(sep))) => {
                let strings: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                Cow::Owned(strings?.join(sep))
            }
            (Value::String(s), Some(f)) => f.apply(Cow::Borrowed(s))?,
            _ => return None,
        };
        for f in filters {
            s = f.apply(s)?;
        }
        Some(s)
    }
}

impl Filter {
    /// The filter over a string, as minijinja (or the crate's own filter) computes it.
    fn apply<'a>(&self, s: Cow<'a, str>) -> Option<Cow<'a, str>> {
        Some(match self {
            Filter::Text => s,
            Filter::Strip => Cow::Owned(
                s.trim_matches(medsins_core::normalize::is_py_space)
                    .to_string(),
            ),
            Filter::Trim => Cow::Owned(s.trim().to_string()),
            Filter::Lower => Cow::Owned(s.to_lowercase()),
            Filter::Upper => Cow::Owned(s.to_uppercase()),
            // minijinja title-cases the first character with its own tables: ASCII only here
            Filter::Capitalize if s.is_ascii() => {
                let mut out = s.to_ascii_lowercase();
                if let Some(first) = out.get_mut(..1) {
                    first.make_ascii_uppercase();
                }
                Cow::Owned(out)
            }
            // `join` of a string joins its characters: not a substitution
            Filter::Capitalize | Filter::Join(_) => return None,
        })
    }
}

/// A parser of the expression inside `{{ }}`; any syntax outside the plan's grammar is `None`.
struct Parser<'a> {
    s: &'a str,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser { s }
    }

    fn skip_space(&mut self) {
        self.s = self.s.trim_start_matches([' ', '\t', '\n', '\r']);
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        match self.s.strip_prefix(token) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    fn ident(&mut self) -> Option<&'a str> {
        self.skip_space();
        let end = self
            .s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.s.len());
        let (id, rest) = self.s.split_at(end);
        if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        self.s = rest;
        Some(id)
    }

    fn string(&mut self) -> Option<String> {
        self.skip_space();
        let quote = self.s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let body = &self.s[1..];
        let end = body.find(quote)?;
        // escapes would need minijinja's string rules
        if body[..end].contains('\\') {
            return None;
        }
        self.s = &body[end + 1..];
        Some(body[..end].to_string())
    }

    fn index(&mut self) -> Option<usize> {
        self.skip_space();
        let end = self
            .s
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.s.len());
        let n = self.s[..end].parse().ok()?;
        self.s = &self.s[end..];
        Some(n)
    }

    /// `[ "key" ]` or `[ 3 ]`, after the `[`.
    fn subscript(&mut self) -> Option<Step> {
        self.skip_space();
        let step = if self.s.starts_with(['\'', '"']) {
            Step::Member(self.string()?)
        } else {
            Step::Index(self.index()?)
        };
        self.eat("]").then_some(step)
    }

    fn expr(&mut self) -> Option<Expr> {
        // `{{-` and `-}}` trim whitespace around the tag: minijinja's business
        if self.s.starts_with(['-', '+']) || self.s.ends_with(['-', '+']) {
            return None;
        }
        let root = self.ident()?;
        let field = if root == "record" {
            match self.subscript_or_member()? {
                Step::Member(k) => k,
                Step::Index(_) => return None,
            }
        } else if RESERVED.contains(&root) {
            return None;
        } else {
            root.to_string()
        };
        let mut path = Vec::new();
        loop {
            self.skip_space();
            if self.s.starts_with(['.', '[']) {
                path.push(self.subscript_or_member()?);
            } else {
                break;
            }
        }
        let mut filters = Vec::new();
        while self.eat("|") {
            filters.push(self.filter()?);
        }
        self.skip_space();
        self.s.is_empty().then_some(Expr {
            field,
            path,
            filters,
        })
    }

    fn subscript_or_member(&mut self) -> Option<Step> {
        if self.eat(".") {
            let name = self.ident()?;
            // `.0` is an index in minijinja; names only here
            Some(Step::Member(name.to_string()))
        } else if self.eat("[") {
            self.subscript()
        } else {
            None
        }
    }

    fn filter(&mut self) -> Option<Filter> {
        let f = match self.ident()? {
            "text" => Filter::Text,
            "strip" => Filter::Strip,
            "trim" => Filter::Trim,
            "capitalize" => Filter::Capitalize,
            "lower" => Filter::Lower,
            "upper" => Filter::Upper,
            "join" => {
                if !self.eat("(") {
                    return None;
                }
                let sep = self.string()?;
                if !self.eat(")") {
                    return None;
                }
                return Some(Filter::Join(sep));
            }
            _ => return None,
        };
        // a filter called with arguments (`trim("x")`) is not the plain filter
        self.skip_space();
        (!self.s.starts_with('(')).then_some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Renders `src` with the crate's minijinja environment over the lazy context.
    fn minijinja(src: &str, fields: &Map<String, Value>) -> Result<String, String> {
        let mut env = crate::templates::environment();
        env.add_template_owned("t", src.to_string())
            .map_err(|e| e.to_string())?;
        let t = env.get_template("t").map_err(|e| e.to_string())?;
        let mut f = fields.clone();
        crate::context::with_context(&mut f, |ctx| t.render(ctx)).map_err(|e| e.to_string())
    }

    #[test]
    fn plain_templates_compile_and_render_like_minijinja() {
        let fields = json!({
            "ehr": "age: 71\ngender: F", "outcome": "True", "sentence1": "  the lung.\u{a0}",
            "gold_label": "ENTAILMENT", "qa": {"answers": [{"text": "x"}], "q": "why?"},
            "mesh": ["A", "B c"], "plain language summary": "s", "nothing": null, "n": 3,
            "label": " General Info ", "word": "éclair", "record": "field named record"
        });
        let fields = fields.as_object().unwrap();
        let direct = [
            "{{ ehr }}",
            "{{ outcome }}",
            "Sentence1: {{ sentence1 }}\n\nSentence2: {{ gold_label }}\n",
            "{{ sentence1 | strip | capitalize }}.",
            "{{ gold_label|capitalize }} {{ gold_label | lower }} {{ ehr|upper }}",
            "{{ qa.answers[0].text }} {{ qa['q'] }} {{ qa[\"answers\"][0][\"text\"] }}",
            "{{ mesh | join('; ') }}|{{ mesh|join(\", \") }}",
            "{{ record[\"plain language summary\"] }} {{ record.ehr }}",
            "{{ nothing | text }}{{ ehr | text }}{{ label | trim }}",
            "no tags at all {}",
            "",
        ];
        for src in direct {
            let plan = DirectPlan::compile(src).unwrap_or_else(|| panic!("{src}"));
            assert_eq!(plan.render(fields), minijinja(src, fields).ok(), "{src}");
        }
        // syntax outside the grammar: minijinja's
        for src in [
            "{% if ehr %}x{% endif %}",
            "{# c #}{{ ehr }}",
            "{{- ehr }}",
            "{{ ehr -}}",
            "{{ n + 1 }}",
            "{{ record }}",
            "{{ range }}",
            "{{ none }}",
            "{{ ehr | trim('x') }}",
            "{{ ehr | replace('a', 'b') }}",
            "{{ mesh[-1] }}",
            "{{ 'lit' }}",
            "{{ ehr ~ outcome }}",
            "{{ ehr",
            "{{ mesh | join('\\n') }}",
        ] {
            assert_eq!(DirectPlan::compile(src), None, "{src}");
        }
        // values a plan does not print itself: minijinja renders the record
        for src in [
            "{{ n }}",
            "{{ nothing }}",
            "{{ missing }}",
            "{{ qa.missing }}",
            "{{ word | capitalize }}",
            "{{ qa | text }}",
            "{{ ehr | join(', ') }}",
            "{{ qa.answers[3].text }}",
        ] {
            let plan = DirectPlan::compile(src).unwrap_or_else(|| panic!("{src}"));
            assert_eq!(plan.render(fields), None, "{src}");
        }
    }
}

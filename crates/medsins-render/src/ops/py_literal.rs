//! `py_literal`: parse a field holding a Python literal (as `str()` of a list, tuple, dict,
//! string, number, bool or None prints it, e.g. DDXPlus `"['E_91', 'E_53_@_V_44']"`) into a
//! JSON value. Lists and tuples become arrays, dicts objects (keys as text), `None` null.
//! Nesting deeper than `--max-depth` is refused (the parser, and everything that later copies
//! or prints the value, recurses once per level).

use super::{OpContext, OpError, OpResult, field_text, not_this_op};
use medsins_manifest::Step;
use medsins_readers::{Limit, Limits};
use serde_json::{Map, Value};

/// Why a text is not a Python literal; positions are characters from 0.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PyLiteralError {
    #[error("the Python literal ends too early")]
    EndsEarly,
    #[error("`{0}` is not a Python literal")]
    NotALiteral(String),
    #[error("unexpected `{found}` at character {at} of the Python literal")]
    Unexpected { found: char, at: usize },
    /// `expected` is what may come there, as the message shows it (`` `:` ``).
    #[error("expected {expected} at character {at}")]
    Expected { expected: String, at: usize },
    /// Deeper than `--max-depth`; `advice` names the flag that raises it.
    #[error("the Python literal nests deeper than {max_depth} at character {at} {advice}")]
    TooDeep {
        max_depth: usize,
        at: usize,
        advice: String,
    },
    #[error("unterminated string in the Python literal")]
    UnterminatedString,
    #[error("unterminated escape in the Python literal")]
    UnterminatedEscape,
    #[error("short escape")]
    ShortEscape,
    #[error("bad escape `{0}`")]
    BadEscape(String),
    #[error("`{0}` is not a number")]
    NotANumber(String),
}

pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, cx: &OpContext) -> OpResult {
    let Step::PyLiteral { field, into } = step else {
        return Err(not_this_op(step));
    };
    let v = parse_py_literal(&field_text(f, field)?, &cx.prep.limits).map_err(|source| {
        OpError::PyLiteral {
            field: field.clone(),
            source,
        }
    })?;
    f.insert(into.clone(), v);
    Ok(true)
}

/// Parses one Python literal; the whole text must be consumed (surrounding whitespace allowed).
pub fn parse_py_literal(s: &str, limits: &Limits) -> Result<Value, PyLiteralError> {
    let chars: Vec<char> = s.chars().collect();
    let mut p = Parser {
        c: &chars,
        i: 0,
        depth: 0,
        limits,
    };
    let v = p.value()?;
    p.ws();
    if p.i != chars.len() {
        return Err(PyLiteralError::Unexpected {
            found: chars[p.i],
            at: p.i,
        });
    }
    Ok(v)
}

struct Parser<'a> {
    c: &'a [char],
    i: usize,
    /// Lists, tuples and dicts open around the current position.
    depth: usize,
    limits: &'a Limits,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.c.len() && self.c[self.i].is_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn value(&mut self) -> Result<Value, PyLiteralError> {
        self.ws();
        match self.peek() {
            None => Err(PyLiteralError::EndsEarly),
            Some('[') => self.nested(|p| p.seq(']')),
            Some('(') => self.nested(|p| p.seq(')')),
            Some('{') => self.nested(Self::dict),
            Some(q @ ('\'' | '"')) => self.string(q).map(Value::String),
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => self.number(),
            Some(c) if c.is_alphabetic() => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.i += 1;
                }
                let w: String = self.c[start..self.i].iter().collect();
                match w.as_str() {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::Null),
                    "nan" | "inf" => Ok(Value::String(w)),
                    _ => Err(PyLiteralError::NotALiteral(w)),
                }
            }
            Some(c) => Err(PyLiteralError::Unexpected {
                found: c,
                at: self.i,
            }),
        }
    }
    /// Parses a list, tuple or dict one level deeper, within the depth limit.
    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Value, PyLiteralError>,
    ) -> Result<Value, PyLiteralError> {
        if self.depth >= self.limits.max_depth {
            return Err(PyLiteralError::TooDeep {
                max_depth: self.limits.max_depth,
                at: self.i,
                advice: Limit::Depth.advice(self.limits),
            });
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }
    fn seq(&mut self, close: char) -> Result<Value, PyLiteralError> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(Value::Array(items));
            }
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(',') => self.i += 1,
                Some(c) if c == close => {}
                _ => {
                    return Err(PyLiteralError::Expected {
                        expected: format!("`,` or `{close}`"),
                        at: self.i,
                    });
                }
            }
        }
    }
    fn dict(&mut self) -> Result<Value, PyLiteralError> {
        self.i += 1;
        let mut m = Map::new();
        loop {
            self.ws();
            if self.peek() == Some('}') {
                self.i += 1;
                return Ok(Value::Object(m));
            }
            let k = match self.value()? {
                Value::String(s) => s,
                other => other.to_string(),
            };
            self.ws();
            if self.peek() != Some(':') {
                return Err(PyLiteralError::Expected {
                    expected: "`:`".into(),
                    at: self.i,
                });
            }
            self.i += 1;
            let v = self.value()?;
            m.insert(k, v);
            self.ws();
            match self.peek() {
                Some(',') => self.i += 1,
                Some('}') => {}
                _ => {
                    return Err(PyLiteralError::Expected {
                        expected: "`,` or `}`".into(),
                        at: self.i,
                    });
                }
            }
        }
    }
    fn string(&mut self, q: char) -> Result<String, PyLiteralError> {
        self.i += 1;
        let mut s = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(PyLiteralError::UnterminatedString);
            };
            self.i += 1;
            if c == q {
                return Ok(s);
            }
            if c != '\\' {
                s.push(c);
                continue;
            }
            let Some(e) = self.peek() else {
                return Err(PyLiteralError::UnterminatedEscape);
            };
            self.i += 1;
            let hex = |p: &mut Self, n: usize| -> Result<char, PyLiteralError> {
                let h: String =
                    p.c.get(p.i..p.i + n)
                        .ok_or(PyLiteralError::ShortEscape)?
                        .iter()
                        .collect();
                p.i += n;
                u32::from_str_radix(&h, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or(PyLiteralError::BadEscape(h))
            };
            match e {
                'n' => s.push('\n'),
                't' => s.push('\t'),
                'r' => s.push('\r'),
                '0' => s.push('\0'),
                'x' => s.push(hex(self, 2)?),
                'u' => s.push(hex(self, 4)?),
                'U' => s.push(hex(self, 8)?),
                '\n' => {}
                other => s.push(other),
            }
        }
    }
    fn number(&mut self) -> Result<Value, PyLiteralError> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        {
            self.i += 1;
        }
        let t: String = self.c[start..self.i]
            .iter()
            .filter(|c| **c != '_')
            .collect();
        if let Ok(n) = t.parse::<i64>() {
            return Ok(Value::from(n));
        }
        t.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or(PyLiteralError::NotANumber(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_lists_tuples_dicts() {
        assert_eq!(
            parse_py_literal("['E_91', 'E_53_@_V_44', \"it's\"]", &Limits::default()).unwrap(),
            json!(["E_91", "E_53_@_V_44", "it's"])
        );
        assert_eq!(
            parse_py_literal("[['Bronchite', 0.19], ('x', -2)]", &Limits::default()).unwrap(),
            json!([["Bronchite", 0.19], ["x", -2]])
        );
        assert_eq!(
            parse_py_literal(" {'a': None, 1: True} ", &Limits::default()).unwrap(),
            json!({"a": null, "1": true})
        );
        assert_eq!(
            parse_py_literal("'a\\'b\\xe9\\n'", &Limits::default()).unwrap(),
            json!("a'b\u{e9}\n")
        );
        assert_eq!(
            parse_py_literal("[]", &Limits::default()).unwrap(),
            json!([])
        );
        assert_eq!(
            parse_py_literal("['a',", &Limits::default()),
            Err(PyLiteralError::EndsEarly)
        );
        assert_eq!(
            parse_py_literal("['a'] x", &Limits::default())
                .unwrap_err()
                .to_string(),
            "unexpected `x` at character 6 of the Python literal"
        );
        assert_eq!(
            parse_py_literal("{'a' 1}", &Limits::default())
                .unwrap_err()
                .to_string(),
            "expected `:` at character 5"
        );
    }

    #[test]
    fn deep_nesting_is_refused_on_a_worker_stack() {
        // 100,000 open lists: recursion without a bound would overflow a 2 MiB stack
        let cell = format!("{}'x'{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || parse_py_literal(&cell, &Limits::default()))
            .unwrap()
            .join()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the Python literal nests deeper than 256 at character 256 (limit --max-depth 256); raise it with --max-depth N if the file is genuine"
        );
        let at_limit = format!("{}1{}", "(".repeat(256), ")".repeat(256));
        assert!(parse_py_literal(&at_limit, &Limits::default()).is_ok());
    }

    /// Cells like DDXPlus's, mutated: parsing never panics nor overflows the stack, and what
    /// parses prints back (`pyrepr`) to text that parses to the same value.
    fn fuzz(cases: u32) {
        let seeds = [
            "['E_91', 'E_53_@_V_44', \"it's\"]",
            "[['Bronchite', 0.19], ['Pneumonie', 0.0431], ('x', -2)]",
            " {'a': None, 1: True, 'b': [1.5e3, -7, +2, .5]} ",
            "'a\\'b\\xe9\\u00e9\\U0001F600\\n'",
            "[[[['deep']]], (), {}, [], nan, inf, 1_000]",
        ];
        let limits = Limits::default();
        medsins_fuzz::run(
            "py_literal",
            cases,
            medsins_fuzz::mutated(seeds.iter().map(|s| s.as_bytes().to_vec()).collect()),
            move |input| {
                let text = String::from_utf8_lossy(&input.bytes);
                let Ok(v) = parse_py_literal(&text, &limits) else {
                    return Ok(());
                };
                let printed = crate::python::py_repr(&v);
                match parse_py_literal(&printed, &limits) {
                    Ok(again) if again == v => Ok(()),
                    other => Err(format!("{v} printed as {printed} reads back as {other:?}")),
                }
            },
        );
    }

    #[test]
    fn fuzz_py_literal() {
        fuzz(2_000);
    }

    /// The long run (`scripts/fuzz.sh`).
    #[test]
    #[ignore = "long: run by scripts/fuzz.sh"]
    fn fuzz_py_literal_long() {
        fuzz(medsins_fuzz::cases(100_000));
    }
}

//! `regex_replace`: a sequence of regular-expression substitutions on a text field, each one
//! a left-to-right pass with non-overlapping matches over the whole text (Python `re.sub`).
//! Patterns use the Rust `regex` syntax; in replacements `$1` / `${name}` insert a group and
//! `$$` is a dollar sign (Python writes `\1`).

use super::{OpContext, OpResult, field_text, not_this_op};
use medsins_manifest::Step;
use regex::Regex;
use serde_json::{Map, Value};

/// Writes `into` (default: the field itself) with the step's rules applied to `field`.
pub(crate) fn apply(f: &mut Map<String, Value>, step: &Step, cx: &OpContext) -> OpResult {
    let Step::RegexReplace { field, into, .. } = step else {
        return Err(not_this_op(step));
    };
    let out = replace_all(&field_text(f, field)?, &cx.prep.regex);
    f.insert(
        into.as_deref().unwrap_or(field).to_string(),
        Value::String(out),
    );
    Ok(true)
}

/// A rule whose pattern does not compile, numbered from 1 as the manifest lists them.
#[derive(Debug, thiserror::Error)]
#[error("regex_replace rule {rule}: {source}")]
pub(crate) struct BadRule {
    rule: usize,
    source: regex::Error,
}

/// Compiles the rules once; a bad pattern is reported with its position in the list.
pub(crate) fn compile(rules: &[[String; 2]]) -> Result<Vec<(Regex, String)>, BadRule> {
    rules
        .iter()
        .enumerate()
        .map(|(i, [p, r])| {
            Regex::new(p)
                .map(|re| (re, r.clone()))
                .map_err(|source| BadRule {
                    rule: i + 1,
                    source,
                })
        })
        .collect()
}

/// Applies the rules in order.
pub fn replace_all(text: &str, rules: &[(Regex, String)]) -> String {
    let mut s = text.to_string();
    for (re, rep) in rules {
        if let std::borrow::Cow::Owned(o) = re.replace_all(&s, rep.as_str()) {
            s = o;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(r: &[(&str, &str)]) -> Vec<(Regex, String)> {
        compile(
            &r.iter()
                .map(|(a, b)| [a.to_string(), b.to_string()])
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn substitutions_run_in_order_without_overlap() {
        // the MIMIC-IV discharge clean-up (upstream-renderings.md §6)
        let r = rules(&[
            (":\n", ":<COLON_NEWLINE>"),
            ("\n([a-z,_])", "$1"),
            ("\n[\\s\\x1c-\\x1f]+([a-z])", " $1"),
            ("\n([,;:'\"().])", "$1"),
            (":<COLON_NEWLINE>", ":\n"),
        ]);
        assert_eq!(replace_all("was\nadmitted", &r), "wasadmitted");
        assert_eq!(replace_all("x\n\nbar", &r), "x\nbar");
        assert_eq!(replace_all("foo\n  bar", &r), "foo bar");
        assert_eq!(replace_all("a\n, b", &r), "a, b");
        assert_eq!(replace_all("Plan:\nrest\nA", &r), "Plan:\nrest\nA");
        assert_eq!(replace_all("a\n\n\nb", &r), "a b");
    }

    #[test]
    fn crlf_to_lf_like_text_mode() {
        let r = rules(&[("\r\n?", "\n")]);
        assert_eq!(replace_all("a\r\nb\rc\n", &r), "a\nb\nc\n");
        assert_eq!(replace_all("x$1", &rules(&[("x", "$$")])), "$$1");
    }

    #[test]
    fn bad_pattern_is_reported() {
        assert!(
            compile(&[["(".to_string(), String::new()]])
                .unwrap_err()
                .to_string()
                .starts_with("regex_replace rule 1: regex parse error")
        );
    }
}

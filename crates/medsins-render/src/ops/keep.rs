//! The `keep` step: drops the records for which an expression over their fields is false.

use super::{OpContext, OpError, OpResult};
use medsins_manifest::Step;
use serde_json::{Map, Value};

/// `Ok(false)` drops the record.
pub(crate) fn apply(f: &mut Map<String, Value>, _: &Step, cx: &OpContext) -> OpResult {
    cx.prep
        .render(cx.env, f)
        .map(|v| v == "1")
        .map_err(|source| OpError::Template {
            what: "keep `when`".into(),
            source,
        })
}

/// The template a `keep` condition compiles to: it renders `1` when the record is kept.
pub(crate) fn template_source(when: &str) -> String {
    format!("{{% if {when} %}}1{{% endif %}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::with_context;
    use serde_json::json;

    fn keep(when: &str, f: &serde_json::Value) -> Result<bool, minijinja::Error> {
        let mut env = minijinja::Environment::new();
        env.add_template_owned("k", template_source(when))?;
        let t = env.get_template("k").unwrap();
        let mut fields = f.as_object().unwrap().clone();
        let out = with_context(&mut fields, |ctx| t.render(ctx));
        Ok(out? == "1")
    }

    #[test]
    fn keep_evaluates_the_expression() {
        let f = json!({"heldout": null, "n": 3});
        assert!(keep("heldout is none", &f).unwrap());
        assert!(!keep("n > 5", &f).unwrap());
        assert!(keep("record['n'] == 3", &f).unwrap());
        assert!(keep("n >", &f).is_err());
    }
}

//! The `keep` step: drops the records for which an expression over their fields is false.

use minijinja::Environment;
use serde_json::{Map, Value};

/// `Ok(true)` keeps the record, `Ok(false)` drops it; an expression that does not compile or
/// evaluate is an error for the record.
pub(crate) fn keep(
    env: &Environment,
    when: &str,
    fields: &Map<String, Value>,
) -> Result<bool, String> {
    let expr = env
        .compile_expression(when)
        .map_err(|e| format!("keep `when`: {e}"))?;
    let ctx = minijinja::context! { record => crate::ctx(fields), ..crate::ctx(fields) };
    let v = expr.eval(ctx).map_err(|e| format!("keep `when`: {e}"))?;
    Ok(v.is_true())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keep_evaluates_the_expression() {
        let env = Environment::new();
        let f = json!({"heldout": null, "n": 3})
            .as_object()
            .unwrap()
            .clone();
        assert!(keep(&env, "heldout is none", &f).unwrap());
        assert!(!keep(&env, "n > 5", &f).unwrap());
        assert!(keep(&env, "record['n'] == 3", &f).unwrap());
        assert!(keep(&env, "n >", &f).is_err());
    }
}

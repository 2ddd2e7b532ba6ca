//! Template contexts over a record's fields, converted lazily.
//!
//! Converting a whole record to a minijinja value costs an allocation per field and per nested
//! value, and most templates read a handful of a record's fields (an EHR table has a hundred
//! columns; a DDXPlus patient carries its decoded evidence records). So the context is an
//! object over the record that converts a field the first time a template reads it, and
//! `record` (every field, for names that are not identifiers) only when a template names it.
//! A name the record lacks is undefined, so strict undefined errors and globals (`namespace`,
//! `range`) behave exactly as with a fully converted context.
//!
//! The object owns the fields while a template runs ([`with_context`] moves them in and back
//! out), so no field is copied.

use minijinja::Value as JValue;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};

#[derive(Debug)]
struct Fields {
    map: Map<String, Value>,
    /// The fields converted so far (a template reads a few distinct names).
    cache: Mutex<Vec<(String, JValue)>>,
}

impl Object for Fields {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let k = key.as_str()?;
        if let Ok(cache) = self.cache.lock()
            && let Some((_, v)) = cache.iter().find(|(n, _)| n == k)
        {
            return Some(v.clone());
        }
        // `record` is the whole record, even when a field has that name (as `{record => fields,
        // ..fields}` always had it)
        let v = if k == "record" {
            crate::ctx(&self.map)
        } else {
            crate::ctx(self.map.get(k)?)
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.push((k.to_string(), v.clone()));
        }
        Some(v)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<JValue> = self.map.keys().map(|k| JValue::from(k.as_str())).collect();
        keys.push(JValue::from("record"));
        Enumerator::Values(keys)
    }
}

/// Runs `f` with a context over `fields`; the fields are moved into the context and back.
pub fn with_context<R>(fields: &mut Map<String, Value>, f: impl FnOnce(&JValue) -> R) -> R {
    let obj = Arc::new(Fields {
        map: std::mem::take(fields),
        cache: Mutex::new(Vec::new()),
    });
    let ctx = JValue::from_dyn_object(obj.clone());
    let r = f(&ctx);
    drop(ctx);
    *fields = match Arc::try_unwrap(obj) {
        Ok(o) => o.map,
        // a template kept a reference (not something minijinja does after rendering): copy
        Err(shared) => shared.map.clone(),
    };
    r
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(src: &str, v: Value) -> Result<String, String> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template_owned("t", src.to_string())
            .map_err(|e| e.to_string())?;
        let t = env.get_template("t").unwrap();
        let mut fields = v.as_object().unwrap().clone();
        let before = fields.clone();
        let out = with_context(&mut fields, |ctx| t.render(ctx).map_err(|e| e.to_string()));
        assert_eq!(fields, before, "the fields come back unchanged");
        out
    }

    #[test]
    fn fields_record_globals_and_strict_undefined() {
        let f = json!({"orig_id": "3_NCT01_x", "items": [1, 2], "plain language summary": "s"});
        assert_eq!(
            render(r#"{{ (orig_id|split("_"))[1:]|join("_") }}"#, f.clone()).unwrap(),
            "NCT01_x"
        );
        assert_eq!(
            render(
                r#"{% set ns = namespace(n=0) %}{% for i in items %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"#,
                f.clone()
            )
            .unwrap(),
            "3"
        );
        assert_eq!(
            render(r#"{{ record["plain language summary"] }}{{ "items" in record }}"#, f.clone())
                .unwrap(),
            "sTrue"
        );
        assert!(render("{{ missing }}", f.clone()).unwrap_err().contains("undefined"));
        assert_eq!(
            render("{{ missing is defined }}", f).unwrap(),
            "False"
        );
    }
}

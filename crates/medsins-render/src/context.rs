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
//! The context owns the fields while a template runs ([`with_context`] moves them in and back
//! out), so no field is copied.

use minijinja::Value as JValue;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The record's fields, owned by the context while a template runs.
#[derive(Debug)]
struct Fields {
    map: Map<String, Value>,
}

/// What a [`Node`] views inside its owner.
#[derive(Debug, Clone, Copy)]
enum Target {
    Map(*const Map<String, Value>),
    List(*const Vec<Value>),
}

/// A JSON object or array inside the record, seen by templates as a map or a sequence whose
/// members are converted when read.
#[derive(Debug)]
struct Node {
    owner: Arc<Fields>,
    target: Target,
}

// SAFETY: a node points into `owner.map`, which it keeps alive; the map is never mutated while
// any `Arc<Fields>` other than the one `with_context` unwraps exists (it is moved back out only
// when the context and every node are gone). `serde_json::Value` is `Send + Sync`.
#[allow(unsafe_code)]
unsafe impl Send for Node {}
// SAFETY: as for `Send`.
#[allow(unsafe_code)]
unsafe impl Sync for Node {}

#[allow(unsafe_code)]
impl Node {
    fn map(&self) -> Option<&Map<String, Value>> {
        match self.target {
            // SAFETY: see the `Send`/`Sync` impls: the target lives as long as `owner`.
            Target::Map(m) => Some(unsafe { &*m }),
            Target::List(_) => None,
        }
    }
    fn list(&self) -> Option<&Vec<Value>> {
        match self.target {
            // SAFETY: as above.
            Target::List(l) => Some(unsafe { &*l }),
            Target::Map(_) => None,
        }
    }
}

/// A record value as a template value: containers lazily, scalars converted.
fn wrap(owner: &Arc<Fields>, v: &Value) -> JValue {
    let target = match v {
        Value::Object(m) => Target::Map(m),
        Value::Array(a) => Target::List(a),
        scalar => return crate::ctx(scalar),
    };
    JValue::from_object(Node {
        owner: owner.clone(),
        target,
    })
}

impl Object for Node {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.target {
            Target::Map(_) => ObjectRepr::Map,
            Target::List(_) => ObjectRepr::Seq,
        }
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let v = match (self.map(), self.list()) {
            (Some(m), _) => m.get(key.as_str()?)?,
            (_, Some(l)) => l.get(key.as_usize()?)?,
            _ => return None,
        };
        Some(wrap(&self.owner, v))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match (self.map(), self.list()) {
            (Some(m), _) => {
                Enumerator::Values(m.keys().map(|k| JValue::from(k.as_str())).collect())
            }
            (_, Some(l)) => Enumerator::Seq(l.len()),
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(match (self.map(), self.list()) {
            (Some(m), _) => m.len(),
            (_, Some(l)) => l.len(),
            _ => 0,
        })
    }
}

/// The root of a template context: the record's fields as variables, and `record`.
#[derive(Debug)]
struct Root(Arc<Fields>);

impl Object for Root {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let k = key.as_str()?;
        // `record` is the whole record, even when a field has that name (as `{record => fields,
        // ..fields}` always had it)
        if k == "record" {
            return Some(JValue::from_object(Node {
                owner: self.0.clone(),
                target: Target::Map(&self.0.map),
            }));
        }
        self.0.map.get(k).map(|v| wrap(&self.0, v))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<JValue> = self
            .0
            .map
            .keys()
            .map(|k| JValue::from(k.as_str()))
            .collect();
        keys.push(JValue::from("record"));
        Enumerator::Values(keys)
    }
}

/// Runs `f` with a context over `fields`; the fields are moved into the context and back.
pub fn with_context<R>(fields: &mut Map<String, Value>, f: impl FnOnce(&JValue) -> R) -> R {
    let owner = Arc::new(Fields {
        map: std::mem::take(fields),
    });
    let ctx = JValue::from_object(Root(owner.clone()));
    let r = f(&ctx);
    drop(ctx);
    *fields = match Arc::try_unwrap(owner) {
        Ok(o) => o.map,
        // a value of the context outlived the render (not something minijinja does): copy
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
            render(
                r#"{{ record["plain language summary"] }}{{ "items" in record }}"#,
                f.clone()
            )
            .unwrap(),
            "sTrue"
        );
        assert!(
            render("{{ missing }}", f.clone())
                .unwrap_err()
                .contains("undefined")
        );
        assert_eq!(render("{{ missing is defined }}", f).unwrap(), "False");
    }

    /// The lazy context renders every template exactly as a fully converted one.
    #[test]
    fn lazy_views_render_like_converted_values() {
        let f = json!({
            "evidences": [
                {"code": "E_1", "value": null, "record": {"q": "Fever?", "vm": {"V_1": {"en": "high"}}}},
                {"code": "E_1", "value": "V_1", "record": {"q": "Fever?", "vm": {"V_1": {"en": "high"}}}},
                {"code": "E_2", "value": "4", "record": {"q": "Pain?", "vm": {}}}
            ],
            "lines": [], "n": 3, "x": 1.5, "flag": true, "none": null,
            "opts": {"A": "one", "B": "two"}, "tokens": ["a", "b", "c"]
        });
        let templates = [
            "{% for e in evidences %}{% if e.value is none %}Yes{% elif e.value in e.record.vm %}{{ e.record.vm[e.value].en }}{% else %}{{ e.value }}{% endif %};{% endfor %}",
            "{{ evidences|length }} {{ lines|length }} {{ evidences[-1].code }} {{ tokens[1:]|join('-') }} {{ tokens|reverse|join }}",
            "{% if lines %}x{% else %}empty{% endif %}{% if opts %}y{% endif %}{{ 'A' in opts }}{{ 'b' in tokens }}",
            "{% for k, v in opts|items %}{{ k }}={{ v }},{% endfor %}{{ opts|dictsort|first }}",
            "{{ opts|tojson }} {{ tokens|tojson }} {{ evidences[2]|tojson }} {{ record.opts.B }} {{ n + x }} {{ flag }} {{ none is none }}",
            "{{ evidences|map(attribute='code')|unique|list }} {{ evidences|selectattr('value')|list|length }} {{ tokens|first }}{{ tokens|last }}",
            "{{ opts }} {{ tokens }} {{ evidences[0].record }} {{ (tokens + ['d'])|join }} {{ tokens == ['a', 'b', 'c'] }} {{ opts.A ~ opts['B'] }}",
        ];
        for src in templates {
            let mut env = minijinja::Environment::new();
            env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
            env.add_template_owned("t", src.to_string()).unwrap();
            let t = env.get_template("t").unwrap();
            let map = f.as_object().unwrap().clone();
            let full = crate::ctx(&map);
            let eager = t.render(minijinja::context! { record => full.clone(), ..full });
            let mut fields = map.clone();
            let lazy = with_context(&mut fields, |ctx| t.render(ctx));
            assert_eq!(
                lazy.map_err(|e| e.to_string()),
                eager.map_err(|e| e.to_string()),
                "{src}"
            );
            assert_eq!(fields, map);
        }
    }
}

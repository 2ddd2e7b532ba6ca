//! `explode`: one record fans out into one per element of the list field `field`; the element
//! is stored under `into` and its position under `<into>_index`. A missing or null field, or an
//! empty list, drops the record (ledgered); a single value is kept as one element.

use medsins_readers::{Record, RecordError};
use serde_json::Value;

/// The records `r` fans out into, or why it is dropped.
pub(crate) fn apply(mut r: Record, field: &str, into: &str) -> Result<Vec<Record>, RecordError> {
    match r.fields.get(field) {
        Some(Value::Array(items)) if items.is_empty() => Err(RecordError {
            locator: r.locator.clone(),
            message: format!("`{field}` is an empty list"),
        }),
        Some(Value::Array(items)) => {
            let items = items.clone();
            Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let mut c = r.clone();
                    c.fields.insert(into.to_string(), item);
                    c.fields.insert(format!("{into}_index"), Value::from(i));
                    c.locator = format!("{} #{}", r.locator, i + 1);
                    c
                })
                .collect())
        }
        Some(Value::Null) | None => Err(RecordError {
            locator: r.locator.clone(),
            message: format!("`{field}` is empty"),
        }),
        Some(other) => {
            let other = other.clone();
            r.fields.insert(into.to_string(), other);
            r.fields.insert(format!("{into}_index"), Value::from(0));
            Ok(vec![r])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Value) -> Record {
        Record {
            fields: v.as_object().unwrap().clone(),
            locator: "q1".into(),
            raw_sha256: String::new(),
        }
    }

    #[test]
    fn a_record_with_nothing_to_explode_is_dropped_with_a_reason() {
        let many = apply(rec(json!({"a": ["x", "y"]})), "a", "e").unwrap();
        let locs: Vec<&str> = many.iter().map(|r| r.locator.as_str()).collect();
        assert_eq!(locs, ["q1 #1", "q1 #2"]);
        assert_eq!(many[1].fields["e"], "y");
        assert_eq!(
            apply(rec(json!({"a": []})), "a", "e").unwrap_err().message,
            "`a` is an empty list"
        );
        assert_eq!(
            apply(rec(json!({"b": 1})), "a", "e").unwrap_err().message,
            "`a` is empty"
        );
    }
}

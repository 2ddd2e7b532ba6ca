//! `explode`: one record fans out into one per element of the list field `field`; the element
//! is stored under `into` and its position under `<into>_index`. A missing or null field drops
//! the record; a single value is kept as one element.

use medsins_readers::{Record, RecordError};
use serde_json::Value;

/// The records `r` fans out into, or why it is dropped.
pub(crate) fn apply(mut r: Record, field: &str, into: &str) -> Result<Vec<Record>, RecordError> {
    match r.fields.get(field) {
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

//! The fields a format gives every record when the format itself fixes them, so templates can
//! be checked against them without any raw file (`medsins validate` on a corpus that has no
//! fixture). Formats whose fields come from the data (a JSON object's keys, a CSV header) have
//! no fixed set.

use medsins_manifest::FileOptions;

/// The fields of every record a file of `format` read with `options` yields; `None` when the
/// data decides them.
pub fn fixed_fields(format: &str, options: &FileOptions) -> Option<Vec<String>> {
    let text_field = || options.text_field.clone().unwrap_or_else(|| "text".into());
    let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    match format {
        "iob" => Some(names(&["tokens", "tags", "sentence_index"])),
        "pubtator" => Some(names(&[
            "pmid",
            "text",
            "title",
            "abstract",
            "entities",
            "relations",
        ])),
        "brat" => Some(names(&[
            "document",
            "text",
            "entities",
            "relations",
            "attributes",
        ])),
        "sni-task" => Some(names(&["id", "input", "output", "outputs"])),
        "text-files" => {
            let mut v = names(&["path", "name", "stem"]);
            v.push(text_field());
            Some(v)
        }
        // Given column names are the record's fields, header or not.
        "csv" | "tsv" | "xlsx" => options.columns.clone(),
        "text-folder" => options.columns.clone().map(|mut v| {
            v.push(text_field());
            v
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_that_fix_their_fields_name_them_and_the_others_do_not() {
        let o = FileOptions::default();
        assert_eq!(
            fixed_fields("iob", &o),
            Some(vec![
                "tokens".into(),
                "tags".into(),
                "sentence_index".into()
            ])
        );
        assert_eq!(fixed_fields("jsonl", &o), None);
        assert_eq!(fixed_fields("csv", &o), None);
        let named = FileOptions {
            columns: Some(vec!["path".into()]),
            text_field: Some("report".into()),
            ..FileOptions::default()
        };
        assert_eq!(
            fixed_fields("text-folder", &named),
            Some(vec!["path".into(), "report".into()])
        );
    }
}

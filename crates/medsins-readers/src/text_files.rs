//! `text-files`: the `path` of the raw file is a folder; every file under it (recursively, in
//! path order; symbolic links are not followed) whose name ends with `options.extension`
//! (default `.txt`) is one record: `path` (relative to the folder, `/`-separated), `name`,
//! `stem` (name without the extension) and the text in `options.text_field` (default `text`),
//! read as UTF-8 with CR LF and lone CR turned into LF (Python text mode). A file larger than
//! `--max-record-bytes` refuses the folder.

use crate::limits::Limits;
use crate::{ReadError, RecordError, Sink, format_err, record, record_too_large};
use medsins_manifest::FileOptions;
use serde_json::{Map, Value};
use std::path::Path;

/// SHA-256 over the folder's files (relative path and content hash of each, in path order) and
/// their total size: what the lock file records for a `text-files` folder.
pub fn folder_sha256(dir: &Path) -> std::io::Result<(u64, String)> {
    let mut listing = String::new();
    let mut size = 0u64;
    for (rel, p) in crate::folder::files_under(dir)? {
        let (n, sha256) = crate::bytes::sha256_file(&p)?;
        size += n;
        listing.push_str(&format!("{rel}\0{sha256}\n"));
    }
    Ok((size, medsins_core::sha256_hex(listing.as_bytes())))
}

/// Reads every matching file under `dir`, one record each; returns how many files matched.
pub fn read_text_files(
    dir: &Path,
    opts: &FileOptions,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<usize, ReadError> {
    if !dir.is_dir() {
        return Err(format_err(dir, "text-files needs `path` to name a folder"));
    }
    let ext = opts.extension.as_deref().unwrap_or(".txt");
    let text_field = opts.text_field.as_deref().unwrap_or("text");
    let files = crate::folder::files_under(dir).map_err(|source| ReadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut matched = 0usize;
    for (rel, p) in files {
        let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
        let Some(stem) = name.strip_suffix(ext) else {
            continue;
        };
        matched += 1;
        if std::fs::metadata(&p).is_ok_and(|m| m.len() > limits.max_record_bytes) {
            return Err(record_too_large(dir, limits, &rel));
        }
        let data = match std::fs::read(&p) {
            Ok(d) => d,
            Err(e) => {
                sink(Err(RecordError {
                    locator: rel.clone(),
                    message: e.to_string(),
                }));
                continue;
            }
        };
        let text = match std::str::from_utf8(crate::bytes::strip_bom(&data)) {
            Ok(t) => t.replace("\r\n", "\n").replace('\r', "\n"),
            Err(e) => {
                sink(Err(RecordError {
                    locator: rel.clone(),
                    message: format!("not UTF-8 text: {e}"),
                }));
                continue;
            }
        };
        let mut m = Map::new();
        m.insert("path".into(), Value::String(rel.clone()));
        m.insert("name".into(), Value::String(name.clone()));
        m.insert("stem".into(), Value::String(stem.to_string()));
        m.insert(text_field.into(), Value::String(text));
        sink(Ok(record(m, rel, &data)));
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_text_files_recursively_in_order() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("batch2")).unwrap();
        std::fs::create_dir_all(d.path().join("batch1")).unwrap();
        std::fs::write(d.path().join("batch2/NCT2.txt"), "b\r\nc").unwrap();
        std::fs::write(d.path().join("batch1/NCT1.txt"), "a").unwrap();
        std::fs::write(d.path().join("batch1/NCT1.ann"), "T1").unwrap();
        let mut v = Vec::new();
        read_text_files(
            d.path(),
            &FileOptions::default(),
            &Limits::default(),
            &mut |r| v.push(r.unwrap()),
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].fields["path"], "batch1/NCT1.txt");
        assert_eq!(v[0].fields["stem"], "NCT1");
        assert_eq!(v[1].fields["text"], "b\nc");
        assert_eq!(folder_sha256(d.path()).unwrap().0, 7);
    }
}

//! A folder of raw files in one format (e.g. MedQuAD: one XML file per document, one folder per
//! source). When a raw file's `path` names a folder and its format is a per-file format (`xml`,
//! `json`, `csv`, …), every file under the folder (recursively, in `/`-separated relative path
//! order; symbolic links are not followed, so nothing outside the folder is read) whose name ends
//! with `options.extension` (default: every file) is read with that format and the same options.
//! Each record's locator is prefixed with the file's path relative to the folder
//! (`1_CancerGov_QA/0000001_1.xml /Document[1]/QAPairs[1]/QAPair[2]`). A file that cannot be
//! read at all is quarantined as one record error (locator = its relative path) and reading goes
//! on with the next file — except a file past one of the [`Limits`], which refuses the folder
//! (a decompression bomb or runaway record is never just skipped).

use crate::limits::Limits;
use crate::{ReadError, RecordError, Sink, read_one};
use medsins_manifest::FileOptions;
use std::path::{Path, PathBuf};

/// Regular files under `dir`, recursively, sorted by relative path; symlinks are skipped.
pub(crate) fn files_under(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), dir.to_path_buf())];
    while let Some((rel, p)) = stack.pop() {
        for e in std::fs::read_dir(&p)? {
            let e = e?;
            let ft = e.file_type()?;
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if ft.is_dir() {
                stack.push((r, e.path()));
            } else if ft.is_file() {
                out.push((r, e.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads every matching file under `dir`; returns how many files matched.
pub fn read_folder(
    dir: &Path,
    format: &str,
    opts: &FileOptions,
    corpus_dir: &Path,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<usize, ReadError> {
    let files = files_under(dir).map_err(|source| ReadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let ext = opts.extension.as_deref().unwrap_or("");
    let mut matched = 0usize;
    for (rel, p) in files {
        if !rel.ends_with(ext) {
            continue;
        }
        matched += 1;
        let result = read_one(&p, format, opts, corpus_dir, limits, &mut |r| {
            sink(match r {
                Ok(mut rec) => {
                    rec.locator = format!("{rel} {}", rec.locator);
                    Ok(rec)
                }
                Err(e) => Err(RecordError {
                    locator: format!("{rel} {}", e.locator),
                    message: e.message,
                }),
            })
        });
        match result {
            Err(e @ ReadError::Limit { .. }) => return Err(e),
            Err(e) => sink(Err(RecordError {
                locator: rel.clone(),
                message: e.to_string(),
            })),
            Ok(_) => {}
        }
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_matching_file_in_path_order() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("2_B")).unwrap();
        std::fs::create_dir_all(d.path().join("1_A")).unwrap();
        std::fs::write(d.path().join("2_B/x.xml"), "<D><Q><t>b</t></Q></D>").unwrap();
        std::fs::write(
            d.path().join("1_A/y.xml"),
            "<D><Q><t>a1</t></Q><Q><t>a2</t></Q></D>",
        )
        .unwrap();
        std::fs::write(d.path().join("1_A/z.xml"), "<D><Q><t>broken</D>").unwrap();
        std::fs::write(d.path().join("readme.txt"), "not xml").unwrap();
        let opts = FileOptions {
            records: Some("D/Q".into()),
            extension: Some(".xml".into()),
            ..Default::default()
        };
        let mut v = Vec::new();
        read_folder(
            d.path(),
            "xml",
            &opts,
            d.path(),
            &Limits::default(),
            &mut |r| v.push(r),
        )
        .unwrap();
        let ok: Vec<_> = v.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(ok.len(), 3);
        assert_eq!(ok[0].fields["t"], "a1");
        assert!(
            ok[0].locator.starts_with("1_A/y.xml /D[1]/Q[1]"),
            "{}",
            ok[0].locator
        );
        assert_eq!(ok[2].fields["t"], "b");
        assert!(ok[2].locator.starts_with("2_B/x.xml "), "{}", ok[2].locator);
        let bad: Vec<_> = v.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(bad.len(), 1);
        assert!(
            bad[0].locator.starts_with("1_A/z.xml"),
            "{}",
            bad[0].locator
        );
    }
}

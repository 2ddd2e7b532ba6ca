//! A folder of raw files in one format (e.g. MedQuAD: one XML file per document, one folder per
//! source). When a raw file's `path` names a folder and its format is a per-file format (`xml`,
//! `json`, `csv`, …), every file under the folder (recursively, in `/`-separated relative path
//! order; symbolic links are not followed, so nothing outside the folder is read) whose name ends
//! with `options.extension` (default: every file) is read with that format and the same options.
//! Each record's locator is prefixed with the file's path relative to the folder
//! (`1_CancerGov_QA/0000001_1.xml /Document[1]/QAPairs[1]/QAPair[2]`). A file that cannot be
//! read at all is quarantined as one record error (locator = its relative path) and reading goes
//! on with the next file — except a file past one of the [`Limits`], which refuses the folder
//! (a decompression bomb or runaway record is never just skipped). A file set (a `many` raw
//! file) is read the same way, from its list of files.

use crate::limits::Limits;
use crate::{ReadError, RecordError, Sink, read_source};
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
        if rel.ends_with(ext) {
            matched += 1;
            read_prefixed(
                &format!("{rel} "),
                &p,
                format,
                opts,
                corpus_dir,
                limits,
                sink,
            )?;
        }
    }
    Ok(matched)
}

/// Reads the files of a file set (a `many` raw file) one after the other, as one input. Each
/// part is `(its path relative to the set's folder, where it is)`; a record's locator is
/// prefixed with that path (`data/2018/112-A.jsonl line 3`). A part that is a folder is read
/// like a folder path, its files' paths joined on (`1_CancerGov_QA/0000001_1.xml /Document[1]/…`).
/// A part that cannot be read is quarantined whole and reading goes on with the next, except a
/// part past one of the [`Limits`], which refuses the set.
pub(crate) fn read_parts(
    parts: &[(String, PathBuf)],
    format: &str,
    opts: &FileOptions,
    corpus_dir: &Path,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    for (rel, p) in parts {
        let prefix = if p.is_dir() {
            format!("{rel}/")
        } else {
            format!("{rel} ")
        };
        read_prefixed(&prefix, p, format, opts, corpus_dir, limits, sink)?;
    }
    Ok(())
}

/// Reads one file (or folder) with `prefix` before every locator; one that cannot be read
/// becomes one record error, except one past the limits.
fn read_prefixed(
    prefix: &str,
    path: &Path,
    format: &str,
    opts: &FileOptions,
    corpus_dir: &Path,
    limits: &Limits,
    sink: &mut Sink,
) -> Result<(), ReadError> {
    let result = read_source(path, format, opts, corpus_dir, limits, &mut |r| {
        sink(match r {
            Ok(mut rec) => {
                rec.locator = format!("{prefix}{}", rec.locator);
                Ok(rec)
            }
            Err(e) => Err(RecordError {
                locator: format!("{prefix}{}", e.locator),
                message: e.message,
            }),
        })
    });
    match result {
        Err(e @ ReadError::Limit { .. }) => Err(e),
        Err(e) => {
            sink(Err(RecordError {
                locator: prefix.trim_end_matches([' ', '/']).to_string(),
                message: e.to_string(),
            }));
            Ok(())
        }
        Ok(_) => Ok(()),
    }
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

    #[test]
    fn a_file_set_reads_its_parts_in_the_given_order_with_their_paths() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("2018")).unwrap();
        std::fs::create_dir_all(d.path().join("QA")).unwrap();
        std::fs::write(d.path().join("2018/a.jsonl"), "{\"x\": 1}\n{\"x\": 2}\n").unwrap();
        std::fs::write(d.path().join("b.jsonl"), "{\"x\": 3}\nnot json\n").unwrap();
        std::fs::write(d.path().join("QA/c.jsonl"), "{\"x\": 4}\n").unwrap();
        let parts = vec![
            ("b.jsonl".to_string(), d.path().join("b.jsonl")),
            ("2018/a.jsonl".to_string(), d.path().join("2018/a.jsonl")),
            ("QA".to_string(), d.path().join("QA")),
            ("gone.jsonl".to_string(), d.path().join("gone.jsonl")),
        ];
        let mut v = Vec::new();
        read_parts(
            &parts,
            "jsonl",
            &FileOptions::default(),
            d.path(),
            &Limits::default(),
            &mut |r| {
                v.push(match r {
                    Ok(r) => format!("{} = {}", r.locator, r.fields["x"]),
                    Err(e) => format!("{} ! {}", e.locator, e.message),
                })
            },
        )
        .unwrap();
        assert_eq!(v.len(), 6, "{v:?}");
        assert_eq!(v[0], "b.jsonl line 1 = 3");
        assert!(v[1].starts_with("b.jsonl line 2 ! "), "{}", v[1]);
        assert_eq!(v[2], "2018/a.jsonl line 1 = 1");
        assert_eq!(v[3], "2018/a.jsonl line 2 = 2");
        assert_eq!(v[4], "QA/c.jsonl line 1 = 4");
        assert!(v[5].starts_with("gone.jsonl ! "), "{}", v[5]);
    }
}

//! `medsins new-corpus`: a contributor's starting point, written into a manifest folder — the
//! raw file(s) moved into the corpus folder of the raw root, a manifest (complete from an
//! upstream task JSON or contribution workbook, else with `TODO` markers), a fixture cut from
//! the first records in the same layout, and expected-row skeletons once the manifest renders.

use medsins_manifest::{CatalogueSource, Diagnostic};
use medsins_pipeline::corpus::Checksums;
use medsins_readers::ReadError;
use medsins_scaffold::ScaffoldError;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct NewCorpusOptions {
    /// Id of the new corpus (lower-case letters, digits and `-`).
    pub id: String,
    /// A raw file or folder, an upstream task JSON file, or a contribution workbook.
    pub from: PathBuf,
    /// The raw root: the raw files go to `<raw_root>/<id>/`.
    pub raw_root: PathBuf,
    /// The manifest folder written to (`<manifests>/<id>.toml`).
    pub manifests: PathBuf,
    /// The fixture root (`<fixtures>/<id>/...`); expected rows go to `<fixtures>/../expected`.
    pub fixtures: PathBuf,
    /// Records cut into the fixture.
    pub records: usize,
    /// Replace an existing manifest, fixture and expected rows.
    pub force: bool,
}

/// What `new-corpus` wrote, and what is left to do.
#[derive(Debug, Clone, Serialize)]
pub struct NewCorpus {
    pub corpus_id: String,
    /// The raw file inspected, in the corpus folder.
    pub raw_file: String,
    /// The format guessed (`csv`, `jsonl`, ..., `sni-task`, `workbook`).
    pub format: String,
    pub records: usize,
    pub bad_records: usize,
    /// Each field with an example value.
    pub fields: Vec<FieldExample>,
    pub manifest: String,
    /// The fixture written, with its record count, or why none was.
    pub fixture: Option<String>,
    pub fixture_records: Option<usize>,
    pub fixture_error: Option<String>,
    /// The expected-row skeleton written (to check by hand), when the manifest renders.
    pub expected: Option<String>,
    /// What `medsins validate` reports for the new manifest (the TODOs left).
    pub problems: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldExample {
    pub field: String,
    pub example: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NewCorpusError {
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The raw file yields no records, so there is nothing to guess the manifest from (the
    /// reader's own advice, to declare `may_be_empty`, is for a manifest that exists).
    #[error(
        "{path}: {what}; new-corpus writes the manifest from the file's records: pass --from a raw file (or folder) that holds some, e.g. a sample of the corpus"
    )]
    NoRecords { path: PathBuf, what: String },
    #[error(transparent)]
    Scaffold(#[from] medsins_scaffold::ScaffoldError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NewCorpusError + '_ {
    move |source| NewCorpusError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn copy_into(src: &Path, dest: &Path) -> Result<(), NewCorpusError> {
    if src.canonicalize().ok() == dest.canonicalize().ok() {
        return Ok(());
    }
    if let Some(p) = dest.parent() {
        std::fs::create_dir_all(p).map_err(io(p))?;
    }
    std::fs::copy(src, dest).map_err(io(dest))?;
    Ok(())
}

/// The files directly in `dir`, sorted.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>, NewCorpusError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

pub fn new_corpus(o: &NewCorpusOptions) -> Result<NewCorpus, NewCorpusError> {
    let id = o.id.as_str();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(NewCorpusError::Refused(format!(
            "corpus id `{id}` must be lower-case letters, digits and `-` (e.g. `my-corpus`)"
        )));
    }
    let manifest_path = o.manifests.join(format!("{id}.toml"));
    if manifest_path.exists() && !o.force {
        return Err(NewCorpusError::Refused(format!(
            "{} already exists; pick another id or pass --force to replace it",
            manifest_path.display()
        )));
    }
    let corpus_dir = o.raw_root.join(id);
    // the raw file(s) go into the corpus folder, where the manifest names them
    let raw_file = if o.from.is_dir() {
        let files = files_in(&o.from)?;
        let first = files.first().ok_or_else(|| {
            NewCorpusError::Refused(format!("{} holds no file", o.from.display()))
        })?;
        for f in &files {
            copy_into(f, &corpus_dir.join(f.file_name().unwrap_or_default()))?;
        }
        corpus_dir.join(first.file_name().unwrap_or_default())
    } else if o.from.is_file() {
        let dest = corpus_dir.join(o.from.file_name().unwrap_or_default());
        copy_into(&o.from, &dest)?;
        dest
    } else {
        return Err(NewCorpusError::Refused(format!(
            "{}: no such file or folder",
            o.from.display()
        )));
    };
    let rel = raw_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ins = medsins_scaffold::inspect(&raw_file, &corpus_dir).map_err(|e| match e {
        ScaffoldError::Read(ReadError::Empty { path, what }) => {
            NewCorpusError::NoRecords { path, what }
        }
        other => other.into(),
    })?;
    let text = match ins.format.as_str() {
        "sni-task" => medsins_scaffold::manifest_from_task_json(id, &raw_file, &rel)?,
        "workbook" => medsins_scaffold::manifest_from_workbook(id, &raw_file, &rel)?,
        _ => medsins_scaffold::starting_manifest(id, &rel, &ins),
    };
    std::fs::create_dir_all(&o.manifests).map_err(io(&o.manifests))?;
    std::fs::write(&manifest_path, &text).map_err(io(&manifest_path))?;
    let fixture_path = o.fixtures.join(id).join(&rel);
    let cut = medsins_scaffold::cut_fixture(&raw_file, &ins, o.records, &fixture_path);
    let mut report = NewCorpus {
        corpus_id: id.to_string(),
        raw_file: raw_file.display().to_string(),
        format: ins.format.clone(),
        records: ins.records,
        bad_records: ins.bad_records,
        fields: ins
            .fields
            .iter()
            .map(|(field, example)| FieldExample {
                field: field.clone(),
                example: example.clone(),
            })
            .collect(),
        manifest: manifest_path.display().to_string(),
        fixture: None,
        fixture_records: None,
        fixture_error: None,
        expected: None,
        problems: Vec::new(),
    };
    match cut {
        Ok(n) => {
            report.fixture = Some(fixture_path.display().to_string());
            report.fixture_records = Some(n);
        }
        Err(e) => report.fixture_error = Some(e.to_string()),
    }
    // expected-rows skeleton, when the manifest already renders
    let source = CatalogueSource::Directory {
        path: o.manifests.clone(),
    };
    let (cat, diags) = crate::validate::diagnostics(std::slice::from_ref(&manifest_path), &source);
    let expected_dir = match o.fixtures.parent() {
        Some(p) => p.join("expected"),
        None => PathBuf::from("expected"),
    };
    let expected_path = expected_dir.join(format!("{id}.jsonl"));
    if diags.is_empty()
        && fixture_path.exists()
        && (!expected_path.exists() || o.force)
        && let Ok(previews) = crate::preview(
            &cat,
            id,
            &o.fixtures,
            Checksums::Skip,
            o.records,
            crate::preview::DEFAULT_WINDOW,
        )
    {
        std::fs::create_dir_all(&expected_dir).map_err(io(&expected_dir))?;
        std::fs::write(&expected_path, crate::preview::expected_rows(&previews))
            .map_err(io(&expected_path))?;
        report.expected = Some(expected_path.display().to_string());
    }
    report.problems = diags.0;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `new-corpus` from `raw` (a file named `name`) into a catalogue in a temporary folder:
    /// the error it gives, as printed.
    fn error_from(name: &str, raw: &str) -> (String, PathBuf, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let from = tmp.path().join(name);
        std::fs::write(&from, raw).unwrap();
        let options = NewCorpusOptions {
            id: "my-corpus".into(),
            from,
            raw_root: tmp.path().join("raw"),
            manifests: tmp.path().join("corpora-manifests"),
            fixtures: tmp.path().join("fixtures/raw"),
            records: 5,
            force: false,
        };
        let e = new_corpus(&options).expect_err("nothing to guess a manifest from");
        let copied = options.raw_root.join("my-corpus").join(name);
        (e.to_string(), copied, tmp)
    }

    #[test]
    fn a_raw_file_without_records_asks_for_one_with_records_not_for_may_be_empty() {
        let advice = "new-corpus writes the manifest from the file's records: pass --from a raw file (or folder) that holds some, e.g. a sample of the corpus";
        for (name, raw, what) in [
            ("empty.csv", "", "the file is empty (0 bytes)"),
            (
                "header.csv",
                "a,b\n",
                "it has a header row but no data rows",
            ),
        ] {
            let (message, copied, _tmp) = error_from(name, raw);
            assert_eq!(message, format!("{}: {what}; {advice}", copied.display()));
        }
    }
}

//! Reader options for layouts of real releases: lines split as Python's `str.split` splits
//! them (ADE-Corpus-V2's `.rel` files and `ADE-NEG.txt`), and zip members named by a pattern
//! (HEAD-QA's archives, whose folder inside differs between copies).

use medsins_manifest::FileOptions;
use medsins_readers::{Limits, Record, RecordError, read_all};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};

fn file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

fn read(p: &Path, format: &str, options: &FileOptions) -> Vec<Result<Record, RecordError>> {
    read_all(p, format, options, p.parent().unwrap(), &Limits::default()).unwrap()
}

fn fields(r: &Result<Record, RecordError>) -> Value {
    Value::Object(r.as_ref().unwrap().fields.clone())
}

fn plain_split(delimiter: &str, columns: &[&str], max_fields: Option<usize>) -> FileOptions {
    FileOptions {
        delimiter: Some(delimiter.into()),
        header: Some(false),
        columns: Some(columns.iter().map(|c| c.to_string()).collect()),
        quoting: Some(false),
        max_fields,
        ..Default::default()
    }
}

/// DRUG-AE.rel: `|`-separated, sentences with quotes that are not CSV quoting.
#[test]
fn unquoted_lines_keep_quotes_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        dir.path(),
        "DRUG-AE.rel",
        b"10030778|Intravenous \"azithromycin\"-induced ototoxicity.|ototoxicity|43|54|azithromycin|22|34\r\n\
          10048291|\"Lupus\" after procainamide.|Lupus|1|6|procainamide|13|25\r\n",
    );
    let cols = [
        "pmid",
        "sentence",
        "effect",
        "effect_begin",
        "effect_end",
        "drug",
        "drug_begin",
        "drug_end",
    ];
    let got = read(&p, "csv", &plain_split("|", &cols, None));
    assert_eq!(got.len(), 2);
    assert_eq!(
        fields(&got[0]),
        json!({"pmid": "10030778", "sentence": "Intravenous \"azithromycin\"-induced ototoxicity.",
               "effect": "ototoxicity", "effect_begin": "43", "effect_end": "54",
               "drug": "azithromycin", "drug_begin": "22", "drug_end": "34"})
    );
    assert_eq!(got[1].as_ref().unwrap().locator, "row 2 (line 2)");
    assert_eq!(
        fields(&got[1])["sentence"],
        json!("\"Lupus\" after procainamide.")
    );
}

/// ADE-NEG.txt: `PMID NEG sentence`, split at the first two spaces only.
#[test]
fn max_fields_leaves_the_rest_of_the_line_in_the_last_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        dir.path(),
        "ADE-NEG.txt",
        b"10030778 NEG The patient's hearing \"recovered\" | after  two weeks.\n\
          10048291 NEG Short.\n\
          10048292 NEG\n",
    );
    let got = read(
        &p,
        "csv",
        &plain_split(" ", &["pmid", "label", "sentence"], Some(3)),
    );
    assert_eq!(
        fields(&got[0]),
        json!({"pmid": "10030778", "label": "NEG",
               "sentence": "The patient's hearing \"recovered\" | after  two weeks."})
    );
    assert_eq!(fields(&got[1])["sentence"], json!("Short."));
    // a line without a sentence is a record error, quarantined with its place
    assert_eq!(
        got[2].as_ref().unwrap_err(),
        &RecordError {
            locator: "row 3 (line 3)".into(),
            message: "has 2 fields where the header has 3".into()
        }
    );
}

#[test]
fn max_fields_without_plain_splitting_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(dir.path(), "x.txt", b"1 NEG a b\n");
    let opts = FileOptions {
        quoting: None,
        ..plain_split(" ", &["pmid", "label", "sentence"], Some(3))
    };
    let e = read_all(&p, "csv", &opts, dir.path(), &Limits::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: `max_fields` needs `quoting = false` and at least 1 field",
            p.display()
        )
    );
}

fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (name, data) in members {
        if name.ends_with('/') {
            z.add_directory(name.trim_end_matches('/'), opts).unwrap();
        } else {
            z.start_file(*name, opts).unwrap();
            z.write_all(data).unwrap();
        }
    }
    z.finish().unwrap().into_inner()
}

fn member(pattern: &str) -> FileOptions {
    FileOptions {
        compression: Some("zip".into()),
        member: Some(pattern.into()),
        ..Default::default()
    }
}

#[test]
fn a_member_pattern_reads_the_one_member_it_matches() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        dir.path(),
        "HEAD_EN.zip",
        &zip(&[
            ("HEAD_EN/", b""),
            ("HEAD_EN/HEAD_EN.json", b"[{\"qid\": \"1\"}]"),
            ("HEAD_EN/train_HEAD_EN.json", b"[{\"qid\": \"2\"}]"),
            ("HEAD_EN/Cuaderno_2013_1_B.gold", b"1\t3\n"),
        ]),
    );
    for pattern in ["*/train_HEAD_EN.json", "**/train_HEAD_EN.json"] {
        let got = read(&p, "json", &member(pattern));
        assert_eq!(fields(&got[0]), json!({"qid": "2"}), "{pattern}");
    }
    // a plain name is read as it is
    let got = read(&p, "json", &member("HEAD_EN/HEAD_EN.json"));
    assert_eq!(fields(&got[0]), json!({"qid": "1"}));
}

#[test]
fn a_member_pattern_matching_none_or_several_lists_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        dir.path(),
        "HEAD.zip",
        &zip(&[
            ("HEAD/", b""),
            ("HEAD/train_HEAD.json", b"[]"),
            ("HEAD/dev_HEAD.json", b"[]"),
        ]),
    );
    let err = |pattern: &str| {
        read_all(&p, "json", &member(pattern), dir.path(), &Limits::default())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("*/test_HEAD.json"),
        format!(
            "{}: no zip member matches `*/test_HEAD.json`; the archive holds `HEAD/dev_HEAD.json`, `HEAD/train_HEAD.json`",
            p.display()
        )
    );
    assert_eq!(
        err("**/*_HEAD.json"),
        format!(
            "{}: 2 zip members match `**/*_HEAD.json`: `HEAD/dev_HEAD.json`, `HEAD/train_HEAD.json`; write `member` so that it names one",
            p.display()
        )
    );
}

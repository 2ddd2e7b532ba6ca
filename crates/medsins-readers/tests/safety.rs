//! Raw files that must not make the readers lose or leak data: nesting bombs, decompression
//! bombs, runaway records, and files that hold no records. Each is refused with the exact
//! message a user sees (the file, where, the limit and the flag that raises it).

use medsins_manifest::FileOptions;
use medsins_readers::{Limits, ReadError, Record, RecordError, read_all};
use std::io::Write;
use std::path::{Path, PathBuf};

type Read = Result<Vec<Result<Record, RecordError>>, ReadError>;

/// Writes `data` as `name` in a fresh folder (kept alive by the returned guard).
fn file(name: &str, data: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, data).unwrap();
    (dir, p)
}

fn read(p: &Path, format: &str, options: &FileOptions, limits: &Limits) -> Read {
    read_all(p, format, options, p.parent().unwrap(), limits)
}

/// The error text, with the temporary folder replaced by `raw`.
fn err_text(r: Read, dir: &Path) -> String {
    let e = r.expect_err("the file must be refused");
    e.to_string().replace(&dir.display().to_string(), "raw")
}

/// Runs `f` on a thread with the 2 MiB stack of a worker thread, so a recursion bug shows up as
/// a crash of this test instead of passing on the main thread's larger stack.
fn on_worker_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

fn records_at(sel: &str) -> FileOptions {
    FileOptions {
        records: Some(sel.into()),
        ..Default::default()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A zip archive holding `members`, deflated.
fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9));
    for (name, data) in members {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// A workbook: the MeQSum fixture's parts with its sheet replaced by `sheet_data` (the
/// `<sheetData>` content).
fn workbook(sheet_data: &str) -> Vec<u8> {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/raw/meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx");
    let mut src = zip::ZipArchive::new(std::fs::File::open(fixture).unwrap()).unwrap();
    let sheet = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>{sheet_data}</sheetData></worksheet>"
    );
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..src.len() {
        let mut m = src.by_index(i).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut m, &mut data).unwrap();
        if m.name().starts_with("xl/worksheets/") {
            data = sheet.clone().into_bytes();
        }
        parts.push((m.name().to_string(), data));
    }
    let refs: Vec<(&str, &[u8])> = parts
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    zip(&refs)
}

// ---- (6) nesting ------------------------------------------------------------------------------

#[test]
fn xml_nested_5000_deep_is_refused_on_a_worker_stack() {
    let xml = format!("<r>{}x{}</r>", "<a>".repeat(5000), "</a>".repeat(5000));
    assert!(xml.len() > 35_000);
    let text = on_worker_stack(move || {
        let (dir, p) = file("y.xml", xml.as_bytes());
        err_text(
            read(&p, "xml", &records_at("r/a"), &Limits::default()),
            dir.path(),
        )
    });
    assert_eq!(
        text,
        "raw/y.xml: element nesting deeper than 256 at line 1, column 769 (limit --max-depth 256); raise it with --max-depth N if the file is genuine"
    );
}

#[test]
fn xml_at_the_raised_ceiling_is_read_on_a_worker_stack() {
    let depth = medsins_readers::MAX_DEPTH_CEILING;
    let xml = format!(
        "<r>{}x{}</r>",
        "<a>".repeat(depth - 1),
        "</a>".repeat(depth - 1)
    );
    let n = on_worker_stack(move || {
        let (_dir, p) = file("y.xml", xml.as_bytes());
        let limits = Limits {
            max_depth: depth,
            ..Limits::default()
        };
        let recs = read(&p, "xml", &records_at("r/a"), &limits).unwrap();
        // the record is a value nested about a thousand deep: cloned, printed and freed here
        let copy = recs.clone();
        let printed = serde_json::to_string(&copy[0].as_ref().unwrap().fields).unwrap();
        drop(copy);
        printed.matches('{').count()
    });
    assert_eq!(n, depth - 2);
}

#[test]
fn json_and_jsonl_nesting_is_refused_with_the_position() {
    let deep = format!("[{}{}]", "[".repeat(300), "]".repeat(300));
    let (dir, p) = file("d.json", format!("[\n{deep}\n]").as_bytes());
    assert_eq!(
        err_text(
            read(&p, "json", &FileOptions::default(), &Limits::default()),
            dir.path()
        ),
        "raw/d.json: JSON nesting deeper than 256 at line 2, column 256 (limit --max-depth 256); raise it with --max-depth N if the file is genuine"
    );
    let (dir, p) = file(
        "d.jsonl",
        format!("{{\"a\": 1}}\n{{\"x\": \"[[[\", \"y\": {deep}}}\n").as_bytes(),
    );
    assert_eq!(
        err_text(
            read(&p, "jsonl", &FileOptions::default(), &Limits::default()),
            dir.path()
        ),
        "raw/d.jsonl: JSON nesting deeper than 256 at line 2, column 274 (limit --max-depth 256); raise it with --max-depth N if the file is genuine"
    );
}

#[test]
fn json_deeper_than_serde_default_reads_when_the_limit_allows_it() {
    // serde_json alone stops at 128 levels; the limit is ours
    let v = format!("{{\"v\": {}1{}}}", "[".repeat(200), "]".repeat(200));
    let (_dir, p) = file("d.jsonl", v.as_bytes());
    let recs = on_worker_stack(move || {
        read(&p, "jsonl", &FileOptions::default(), &Limits::default()).map(|r| r.len())
    });
    assert_eq!(recs.unwrap(), 1);
}

// ---- (10) decompression -----------------------------------------------------------------------

#[test]
fn gzip_bomb_is_refused_after_64_mib() {
    // 1 GiB of zeros in about 1 MB
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    assert!(bomb.len() < 2 << 20);
    let (dir, p) = file("notes.csv.gz", &bomb);
    let start = std::time::Instant::now();
    let text = err_text(
        read(&p, "csv", &FileOptions::default(), &Limits::default()),
        dir.path(),
    );
    assert_eq!(
        text,
        "raw/notes.csv.gz: it expands more than 100 times its compressed size (limit --max-decompression-ratio 100); raise it with --max-decompression-ratio N if the file is genuine"
    );
    assert!(
        start.elapsed().as_secs() < 30,
        "refused in {:?}",
        start.elapsed()
    );
}

#[test]
fn zip_bomb_member_is_refused_and_named() {
    let zeros = vec![b'a'; 80 << 20];
    let (dir, p) = file("answer.zip", &zip(&[("answer.csv", &zeros)]));
    let opts = FileOptions {
        compression: Some("zip".into()),
        member: Some("answer.csv".into()),
        ..Default::default()
    };
    assert_eq!(
        err_text(read(&p, "csv", &opts, &Limits::default()), dir.path()),
        "raw/answer.zip: zip member `answer.csv` expands more than 100 times its compressed size (limit --max-decompression-ratio 100); raise it with --max-decompression-ratio N if the file is genuine"
    );
}

#[test]
fn decompressed_size_is_capped_absolutely() {
    let text: String = (0..200_000).map(|i| format!("{i},row {i}\n")).collect();
    let (dir, p) = file("big.csv.gz", &gzip(text.as_bytes()));
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        ..Limits::default()
    };
    assert_eq!(
        err_text(
            read(&p, "csv", &FileOptions::default(), &limits),
            dir.path()
        ),
        "raw/big.csv.gz: it decompresses to more than 1MiB (limit --max-decompressed-bytes 1MiB); raise it with --max-decompressed-bytes N if the file is genuine"
    );
}

#[test]
fn xlsx_bomb_is_refused_before_calamine_inflates_it() {
    let cells = "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>x</t></is></c></row>";
    let bomb = workbook(&format!("{cells}{}", " ".repeat(100 << 20)));
    let (dir, p) = file("w.xlsx", &bomb);
    assert_eq!(
        err_text(
            read(&p, "xlsx", &FileOptions::default(), &Limits::default()),
            dir.path()
        ),
        "raw/w.xlsx: zip member `xl/worksheets/sheet1.xml` expands more than 100 times its compressed size (limit --max-decompression-ratio 100); raise it with --max-decompression-ratio N if the file is genuine"
    );
}

#[test]
fn xlsx_naming_the_far_corner_cell_reads_without_allocating_the_rectangle() {
    let sheet = "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>Input</t></is></c></row>\
                 <row r=\"1048576\"><c r=\"A1048576\" t=\"inlineStr\"><is><t>q</t></is></c>\
                 <c r=\"XFD1048576\" t=\"inlineStr\"><is><t>far</t></is></c></row>";
    let (_dir, p) = file("w.xlsx", &workbook(sheet));
    let recs = read(&p, "xlsx", &FileOptions::default(), &Limits::default()).unwrap();
    assert_eq!(recs.len(), 1);
    let r = recs[0].as_ref().unwrap();
    assert_eq!(r.locator, "QS!row 1048576");
    assert_eq!(r.fields["Input"], "q");
}

#[test]
fn an_overlong_cell_reference_is_an_error_not_a_panic() {
    // calamine's reference arithmetic overflows on it (a panic where overflow is checked)
    let sheet = "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>Input</t></is></c></row>\
                 <row r=\"2\"><c r=\"ZZZZZZZZZZZZZZZZ2\" t=\"inlineStr\"><is><t>q</t></is></c></row>";
    let (dir, p) = file("w.xlsx", &workbook(sheet));
    let r = read(&p, "xlsx", &FileOptions::default(), &Limits::default());
    // without overflow checks (release) the arithmetic wraps and the read goes on: no panic
    // either way, which is the point
    if cfg!(debug_assertions) {
        assert_eq!(
            err_text(r, dir.path()),
            "raw/w.xlsx: the XLSX reader failed on it (attempt to multiply with overflow); the file is damaged or not XLSX"
        );
    }
}

#[test]
fn a_parquet_page_the_decoder_divides_by_zero_on_is_an_error_not_a_panic() {
    // found by the fuzz run: one byte of the LiveQA fixture's first page header set to 0
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/raw/liveqa/data/train-00000-of-00001.parquet");
    let mut data = std::fs::read(fixture).unwrap();
    assert_eq!(data[12], 8);
    data[12] = 0;
    let (dir, p) = file("train.parquet", &data);
    assert_eq!(
        err_text(
            read(&p, "parquet", &FileOptions::default(), &Limits::default()),
            dir.path()
        ),
        "raw/train.parquet: the Parquet reader failed on it (attempt to divide by zero); the file is damaged or not Parquet"
    );
}

// ---- record size ------------------------------------------------------------------------------

fn small_records() -> Limits {
    Limits {
        max_record_bytes: 1 << 10,
        ..Limits::default()
    }
}

#[test]
fn csv_unclosed_quote_stops_at_the_record_limit() {
    let data = format!("id,text\n1,ok\n2,\"never closed{}\n", "x".repeat(1 << 20));
    let (dir, p) = file("n.csv", data.as_bytes());
    assert_eq!(
        err_text(
            read(&p, "csv", &FileOptions::default(), &small_records()),
            dir.path()
        ),
        "raw/n.csv: the record at row 2 (line 3) is larger than 1KiB (limit --max-record-bytes 1KiB); raise it with --max-record-bytes N if the file is genuine"
    );
}

#[test]
fn oversized_records_are_refused_in_every_line_format() {
    let long = "w".repeat(2000);
    let cases: Vec<(&str, &str, String, FileOptions, &str)> = vec![
        (
            "a.jsonl",
            "jsonl",
            format!("{{\"a\": 1}}\n{{\"t\": \"{long}\"}}\n"),
            FileOptions::default(),
            "the record at line 2",
        ),
        (
            "a.json",
            "json",
            format!("[{{\"a\": 1}}, {{\"t\": \"{long}\"}}]"),
            FileOptions::default(),
            "the record at $[1]",
        ),
        (
            "a.xml",
            "xml",
            format!("<r><q>1</q><q>{long}</q></r>"),
            records_at("r/q"),
            "the record at /r[1]/q[2]",
        ),
        (
            "a.tsv",
            "iob",
            format!("A\tO\n\nB\tO\n{long}\tO\n"),
            FileOptions::default(),
            "the record at sentence 2 (from line 3)",
        ),
        (
            "a.txt",
            "pubtator",
            format!("1|t|T\n1|a|A\n\n2|t|T\n2|a|{long}\n"),
            FileOptions::default(),
            "the record at the document from line 4",
        ),
        (
            "a.obo",
            "obo",
            format!("[Term]\nid: X:1\n\n[Term]\nid: X:2\ndef: \"{long}\"\n"),
            FileOptions::default(),
            "the record at the stanza from line 4",
        ),
    ];
    for (name, format, data, opts, at) in cases {
        let (dir, p) = file(name, data.as_bytes());
        assert_eq!(
            err_text(read(&p, format, &opts, &small_records()), dir.path()),
            format!(
                "raw/{name}: {at} is larger than 1KiB (limit --max-record-bytes 1KiB); raise it with --max-record-bytes N if the file is genuine"
            ),
            "{format}"
        );
    }
}

#[test]
fn an_oversized_text_file_refuses_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("t")).unwrap();
    std::fs::write(dir.path().join("t/a.txt"), "short").unwrap();
    std::fs::write(dir.path().join("t/b.txt"), "x".repeat(2000)).unwrap();
    let r = read_all(
        &dir.path().join("t"),
        "text-files",
        &FileOptions::default(),
        dir.path(),
        &small_records(),
    );
    assert_eq!(
        err_text(r, dir.path()),
        "raw/t: the record at b.txt is larger than 1KiB (limit --max-record-bytes 1KiB); raise it with --max-record-bytes N if the file is genuine"
    );
}

#[test]
fn a_limit_inside_a_folder_refuses_the_folder_instead_of_quarantining_one_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/1.xml"), "<D><Q>a</Q></D>").unwrap();
    std::fs::write(
        dir.path().join("docs/2.xml"),
        format!("<D><Q>{}</Q></D>", "<a>".repeat(300)),
    )
    .unwrap();
    let r = read_all(
        &dir.path().join("docs"),
        "xml",
        &records_at("D/Q"),
        dir.path(),
        &Limits::default(),
    );
    assert_eq!(
        err_text(r, dir.path()),
        "raw/docs/2.xml: element nesting deeper than 256 at line 1, column 769 (limit --max-depth 256); raise it with --max-depth N if the file is genuine"
    );
}

// ---- (11) files that hold no records ----------------------------------------------------------

const EMPTY_ADVICE: &str = "; check that it is the file the manifest describes (not truncated, not a placeholder), or declare `may_be_empty = true` in its options if it may legitimately hold no records";

#[test]
fn files_without_records_are_errors_naming_the_file() {
    let cases: Vec<(&str, &str, &[u8], FileOptions, &str)> = vec![
        (
            "a.csv",
            "csv",
            b"",
            FileOptions::default(),
            "the file is empty (0 bytes)",
        ),
        (
            "a.csv",
            "csv",
            b"id,text\r\n",
            FileOptions::default(),
            "it has a header row but no data rows",
        ),
        (
            "a.tsv",
            "tsv",
            b"id\ttext\n",
            FileOptions::default(),
            "it has a header row but no data rows",
        ),
        (
            "a.json",
            "json",
            b"[]",
            FileOptions::default(),
            "it is an empty JSON list or object",
        ),
        (
            "a.json",
            "json",
            b"{\"questions\": []}",
            records_at("/questions"),
            "the records at `/questions` are an empty list or object",
        ),
        (
            "a.jsonl",
            "jsonl",
            b"\n  \n\r\n",
            FileOptions::default(),
            "it holds only blank lines",
        ),
        (
            "t.json",
            "sni-task",
            b"{\"Instances\": []}",
            FileOptions::default(),
            "its `Instances` list is empty",
        ),
        (
            "a.tsv",
            "iob",
            b"-DOCSTART-\tO\n\n",
            FileOptions::default(),
            "it holds no sentences (only blank and -DOCSTART- lines)",
        ),
        (
            "a.xml",
            "xml",
            b"<r></r>",
            records_at("r/q"),
            "it has no `r/q` element",
        ),
        (
            "a.obo",
            "obo",
            b"format-version: 1.2\n",
            FileOptions::default(),
            "it has no [Term] stanza",
        ),
        (
            "a.jsonl",
            "jsonl",
            b"{oops\n[1]\n",
            FileOptions::default(),
            "none of its 2 records could be read (the first, at line 1: invalid JSON: key must be a string at line 1 column 2)",
        ),
    ];
    for (name, format, data, opts, what) in cases {
        let (dir, p) = file(name, data);
        assert_eq!(
            err_text(read(&p, format, &opts, &Limits::default()), dir.path()),
            format!("raw/{name}: {what}{EMPTY_ADVICE}"),
            "{format} {:?}",
            String::from_utf8_lossy(data)
        );
    }
}

#[test]
fn header_only_workbook_and_empty_gzip_are_errors() {
    let sheet = "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>CHQ</t></is></c></row>";
    let (dir, p) = file("w.xlsx", &workbook(sheet));
    let opts = FileOptions {
        sheet: Some("QS".into()),
        ..Default::default()
    };
    assert_eq!(
        err_text(read(&p, "xlsx", &opts, &Limits::default()), dir.path()),
        format!("raw/w.xlsx: sheet `QS` has no data rows{EMPTY_ADVICE}")
    );
    let (dir, p) = file("a.jsonl.gz", &gzip(b""));
    assert_eq!(
        err_text(
            read(&p, "jsonl", &FileOptions::default(), &Limits::default()),
            dir.path()
        ),
        format!("raw/a.jsonl.gz: it decompresses to 0 bytes{EMPTY_ADVICE}")
    );
}

#[test]
fn a_folder_without_matching_files_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/readme.txt"), "x").unwrap();
    let opts = FileOptions {
        extension: Some(".xml".into()),
        ..records_at("D/Q")
    };
    let r = read_all(
        &dir.path().join("docs"),
        "xml",
        &opts,
        dir.path(),
        &Limits::default(),
    );
    assert_eq!(
        err_text(r, dir.path()),
        format!("raw/docs: the folder holds no file ending with `.xml`{EMPTY_ADVICE}")
    );
}

#[test]
fn may_be_empty_declares_an_empty_file_legitimate() {
    let opts = FileOptions {
        may_be_empty: Some(true),
        ..Default::default()
    };
    for (name, data) in [("a.csv", &b""[..]), ("b.csv", b"id,text\n")] {
        let (_dir, p) = file(name, data);
        assert_eq!(read(&p, "csv", &opts, &Limits::default()).unwrap().len(), 0);
    }
}

// ---- measuring the real files ------------------------------------------------------------------

/// The smallest value of one limit that reads `path` without hitting it (binary search).
fn smallest_passing(mut read_with: impl FnMut(u64) -> bool, mut hi: u64) -> u64 {
    let mut lo = 1;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if read_with(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Prints, for every raw file of `../shared/corpora` and of the fixtures that a manifest
/// reads, its largest record and deepest nesting as the readers see them (docs/safety.md).
#[test]
#[ignore = "measurement for docs/safety.md"]
fn measure_largest_record_and_deepest_nesting() {
    use medsins_readers::Limit;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (cat, diags) = medsins_manifest::Catalogue::load(&[repo.join("corpora-manifests")]);
    assert!(diags.is_empty(), "{diags}");
    for root in [repo.join("../shared/corpora"), repo.join("fixtures/raw")] {
        for lm in &cat.manifests {
            for f in &lm.manifest.files {
                let folder = f
                    .root
                    .as_ref()
                    .map_or(lm.manifest.id(), |r| r.get_ref().as_str());
                let corpus_dir = root.join(lm.manifest.id());
                let p = root.join(folder).join(f.path.get_ref());
                if !p.exists() {
                    continue;
                }
                let hits = |limits: &Limits, which: Limit| {
                    matches!(
                        read_all(&p, f.format.get_ref(), &f.options, &corpus_dir, limits),
                        Err(ReadError::Limit { limit, .. }) if limit == which
                    )
                };
                let record = smallest_passing(
                    |n| {
                        !hits(
                            &Limits {
                                max_record_bytes: n,
                                ..Limits::default()
                            },
                            Limit::RecordBytes,
                        )
                    },
                    Limits::default().max_record_bytes,
                );
                let depth = smallest_passing(
                    |n| {
                        !hits(
                            &Limits {
                                max_depth: n as usize,
                                ..Limits::default()
                            },
                            Limit::Depth,
                        )
                    },
                    Limits::default().max_depth as u64,
                );
                println!(
                    "{}\t{}\t{record}\t{depth}",
                    p.strip_prefix(&root).unwrap().display(),
                    f.format.get_ref()
                );
            }
        }
    }
}

//! Fuzzing every reader: inputs mutated from the fixtures of every manifest (each read with the
//! options its manifest gives it), seeds written here for the formats no fixture uses
//! (PubTator, TSV), inside their containers (gzip, XLSX) and as containers (mutated compressed
//! bytes: gzip, zip, XLSX), plus the instruction bank. Each case is read through `read_file`
//! on a 2 MiB stack; a case fails on a panic or a broken contract, the process on an abort.
//!
//! `cargo test` runs [`CI_CASES`] cases per target; `scripts/fuzz.sh` runs the ignored
//! `fuzz_long` with `MEDSINS_FUZZ_CASES` (100,000 by default) per target.

use medsins_fuzz::{Input, cases, mutated, run};
use medsins_manifest::{Catalogue, FileOptions};
use medsins_readers::{InstructionBank, Limits, ReadError, read_file};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Cases per target in every `cargo test`.
const CI_CASES: u32 = 1_000;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    repo().join("fixtures/raw")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// How a case's bytes become what the reader reads, in the case folder.
#[derive(Clone, Copy)]
enum Place {
    /// The bytes are the file, with this name.
    File(&'static str),
    /// The bytes are a file's content, gzipped into this name.
    Gzipped(&'static str),
    /// The bytes are the sheet XML of a workbook (the MeQSum fixture's other parts), whose
    /// sheet is named `Instances` when `instances` (a contribution workbook), else `QS`.
    Sheet { instances: bool },
    /// The bytes are a brat `.txt` and, after [`MARK`], its `.ann`.
    Brat,
    /// The bytes are text files separated by [`MARK`], in a folder (some in a sub-folder).
    TextFolder,
    /// The bytes are one XML file added to the MedQuAD fixture folder.
    InFolder,
}

const MARK: &[u8] = b"\n==== next file ====\n";

/// Splits a case at [`MARK`] (how one case describes several files).
fn parts(d: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = d;
    while let Some(i) = rest.windows(MARK.len()).position(|w| w == MARK) {
        out.push(&rest[..i]);
        rest = &rest[i + MARK.len()..];
    }
    out.push(rest);
    out
}

impl Place {
    /// Writes the case under `dir`; returns the path to read.
    fn put(self, d: &[u8], dir: &Path) -> PathBuf {
        let write = |name: &str, data: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, data).unwrap();
            p
        };
        match self {
            Place::File(name) => write(name, d),
            Place::Gzipped(name) => write(name, &gzip(d)),
            Place::Sheet { instances } => write("x.xlsx", &workbook(d, instances)),
            Place::Brat => {
                let p = parts(d);
                write("doc.ann", p.get(1).copied().unwrap_or_default());
                write("doc.txt", p[0])
            }
            Place::TextFolder => {
                let folder = dir.join("texts");
                let _ = std::fs::remove_dir_all(&folder);
                std::fs::create_dir_all(folder.join("sub")).unwrap();
                for (i, part) in parts(d).into_iter().enumerate() {
                    let name = if i % 2 == 0 {
                        format!("{i}.txt")
                    } else {
                        format!("sub/{i}.txt")
                    };
                    std::fs::write(folder.join(name), part).unwrap();
                }
                folder
            }
            Place::InFolder => {
                write("MedQuAD/0_Case/0000000.xml", d);
                dir.join("MedQuAD")
            }
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zip_of(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, data) in members {
        z.start_file(name.as_str(), opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// The MeQSum fixture workbook's parts (one sheet, `QS`, in `xl/worksheets/sheet1.xml`).
fn meqsum_parts() -> Vec<(String, Vec<u8>)> {
    let data = read(&fixtures().join("meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"));
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(data)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut m = z.by_index(i).unwrap();
            let mut d = Vec::new();
            std::io::Read::read_to_end(&mut m, &mut d).unwrap();
            (m.name().to_string(), d)
        })
        .collect()
}

fn workbook(sheet: &[u8], instances: bool) -> Vec<u8> {
    let parts: Vec<(String, Vec<u8>)> = meqsum_parts()
        .into_iter()
        .map(|(name, data)| match name.as_str() {
            "xl/worksheets/sheet1.xml" => (name, sheet.to_vec()),
            "xl/workbook.xml" if instances => {
                let wb = String::from_utf8(data).unwrap();
                let renamed = wb.replace("name=\"QS\"", "name=\"Instances\"");
                (name, renamed.into_bytes())
            }
            _ => (name, data),
        })
        .collect();
    zip_of(&parts)
}

/// What a target reads.
#[derive(Clone)]
enum Reader {
    /// `read_file` in this format; each seed with its own options.
    File { format: String },
    /// `InstructionBank::load`.
    Bank,
}

struct Target {
    name: String,
    reader: Reader,
    /// Seeds and the options each is read with.
    seeds: Vec<(FileOptions, Vec<u8>)>,
    place: Place,
    /// Files a read may refer to, written once into the case folder (relative path, bytes).
    support: Vec<(String, Vec<u8>)>,
}

impl Target {
    fn new(name: &str, format: &str, seeds: Vec<(FileOptions, Vec<u8>)>, place: Place) -> Self {
        Target {
            name: name.into(),
            reader: Reader::File {
                format: format.into(),
            },
            seeds,
            place,
            support: Vec::new(),
        }
    }
}

/// Every file under `dir`, recursively, as (path relative to `base`, bytes).
fn files_under(dir: &Path, base: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.push((rel, read(&p)));
            }
        }
    }
    out.sort();
    out
}

/// The targets: every format, seeded with every fixture the manifests read in it.
fn targets() -> Vec<Target> {
    let (cat, diags) = Catalogue::load(&[repo().join("corpora-manifests")]);
    assert!(diags.is_empty(), "{diags}");
    // (format, options, path) of every fixture file or folder the manifests name
    let mut fixture: Vec<(String, FileOptions, PathBuf)> = Vec::new();
    for lm in &cat.manifests {
        // the files of every distribution; a path pattern stands for the fixtures it matches
        let m = &lm.manifest;
        let variants = m.variants.iter().flat_map(|v| &v.files);
        for f in m.files.iter().chain(variants) {
            let root = f.root.as_ref().map_or(m.id(), |r| r.get_ref().as_str());
            let Ok(pattern) = medsins_manifest::PathPattern::parse(f.path.get_ref()) else {
                continue;
            };
            // found in the corpus folder or one folder deeper, as the build looks; a file set
            // counts as the folder holding it (MedQuAD's source folders: `medquad/MedQuAD`)
            let dir = fixtures().join(root);
            let bases = std::iter::once(dir.clone()).chain(
                medsins_manifest::listing(&dir)
                    .unwrap()
                    .into_iter()
                    .filter(|e| e.2)
                    .map(|e| e.1),
            );
            for base in bases {
                let found = pattern.find(&base).unwrap();
                if f.many && !found.is_empty() {
                    fixture.push((f.format.get_ref().clone(), f.options.clone(), base));
                    break;
                }
                for (_, p) in found {
                    fixture.push((f.format.get_ref().clone(), f.options.clone(), p));
                }
            }
        }
    }
    let plain = |format: &str| -> Vec<(FileOptions, Vec<u8>)> {
        let seeds: Vec<_> = fixture
            .iter()
            .filter(|(f, o, p)| f == format && o.compression.is_none() && p.is_file())
            .map(|(_, o, p)| (o.clone(), read(p)))
            .collect();
        assert!(!seeds.is_empty(), "no fixture file in format {format}");
        seeds
    };
    let mut targets: Vec<Target> = [
        ("json", "x.json"),
        ("jsonl", "x.jsonl"),
        ("sni-task", "x.json"),
        ("csv", "x.csv"),
        ("iob", "x.tsv"),
        ("xml", "x.xml"),
        ("obo", "x.obo"),
        ("parquet", "x.parquet"),
        ("xlsx", "x.xlsx"),
    ]
    .into_iter()
    .map(|(format, name)| Target::new(format, format, plain(format), Place::File(name)))
    .collect();

    let tabbed = plain("csv")
        .into_iter()
        .map(|(o, b)| {
            let tsv = b.iter().map(|c| if *c == b',' { b'\t' } else { *c });
            (
                FileOptions {
                    delimiter: None,
                    ..o
                },
                tsv.collect(),
            )
        })
        .collect();
    targets.push(Target::new("tsv", "tsv", tabbed, Place::File("x.tsv")));

    // the BC5CDR release's PubTator layout
    let pubtator = b"227508|t|Naloxone reverses the antihypertensive effect of clonidine.\n227508|a|In unanesthetized, spontaneously hypertensive rats the decrease in blood pressure and heart rate produced by intravenous clonidine was inhibited by naloxone.\n227508\t0\t8\tNaloxone\tChemical\tD009270\n227508\t49\t58\tclonidine\tChemical\tD003000\n227508\tCID\tD008750\tD007022\n\n354896|t|Lidocaine-induced cardiac asystole.\n354896|a|Intravenous administration of a single 50 mg bolus of lidocaine.\n354896\t0\t9\tLidocaine\tChemical\tD008012\n";
    targets.push(Target::new(
        "pubtator",
        "pubtator",
        vec![(FileOptions::default(), pubtator.to_vec())],
        Place::File("x.txt"),
    ));

    let brat = fixtures().join("clinical-trials-gov/data/docs/brat");
    let brat_seeds = ["batch1/NCT03869710", "batch2/NCT04211233"]
        .iter()
        .map(|d| {
            let txt = read(&brat.join(format!("{d}.txt")));
            let ann = read(&brat.join(format!("{d}.ann")));
            (FileOptions::default(), [txt, ann].join(MARK))
        })
        .collect();
    targets.push(Target::new("brat", "brat", brat_seeds, Place::Brat));

    let hoc: Vec<Vec<u8>> = files_under(&fixtures().join("hoc/text"), &fixtures())
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    targets.push(Target::new(
        "text-files",
        "text-files",
        vec![(FileOptions::default(), hoc.join(MARK))],
        Place::TextFolder,
    ));

    let (medquad_options, medquad) = fixture
        .iter()
        .find(|(f, _, p)| f == "xml" && p.is_dir())
        .map(|(_, o, p)| (o.clone(), p.clone()))
        .expect("the MedQuAD fixture folder");
    let medquad_files = files_under(&medquad, medquad.parent().unwrap());
    let mut folder = Target::new(
        "folder (xml)",
        "xml",
        medquad_files
            .iter()
            .filter(|(n, _)| n.ends_with(".xml"))
            .map(|(_, b)| (medquad_options.clone(), b.clone()))
            .collect(),
        Place::InFolder,
    );
    folder.support = medquad_files;
    folder
        .support
        .push(("MedQuAD/0_Case/0000000.xml".into(), Vec::new()));
    targets.push(folder);

    let (cxr_options, cxr_index) = fixture
        .iter()
        .find(|(f, _, _)| f == "text-folder")
        .map(|(_, o, p)| (o.clone(), p.clone()))
        .expect("a text-folder fixture");
    let cxr_root = cxr_index.parent().unwrap().to_path_buf();
    let mut cxr = Target::new(
        "text-folder",
        "text-folder",
        vec![(cxr_options, read(&cxr_index))],
        Place::File("x.csv"),
    );
    cxr.support = files_under(&cxr_root.join("files"), &cxr_root);
    targets.push(cxr);

    let sheet = meqsum_parts()
        .into_iter()
        .find(|(n, _)| n == "xl/worksheets/sheet1.xml")
        .unwrap()
        .1;
    let qs = FileOptions {
        sheet: Some("QS".into()),
        ..Default::default()
    };
    targets.push(Target::new(
        "xlsx (sheet XML)",
        "xlsx",
        vec![(qs, sheet.clone())],
        Place::Sheet { instances: false },
    ));
    targets.push(Target::new(
        "workbook",
        "workbook",
        vec![(FileOptions::default(), sheet)],
        Place::Sheet { instances: true },
    ));

    let jsonl_content = plain("jsonl")
        .into_iter()
        .map(|(_, b)| (FileOptions::default(), b))
        .collect();
    targets.push(Target::new(
        "gzip (content)",
        "jsonl",
        jsonl_content,
        Place::Gzipped("x.jsonl.gz"),
    ));
    let csv_gz = plain("csv")
        .into_iter()
        .map(|(o, b)| (o, gzip(&b)))
        .collect();
    targets.push(Target::new(
        "gzip (container)",
        "csv",
        csv_gz,
        Place::File("x.csv.gz"),
    ));
    // the zip archives as released (cmedqa2, PubMed summarisation), each with its member
    let zips: Vec<_> = fixture
        .iter()
        .filter(|(_, o, _)| o.compression.as_deref() == Some("zip"))
        .collect();
    assert!(!zips.is_empty(), "no zip fixture");
    // a target reads one format: one target per format the zip members are in
    for format in ["csv", "jsonl"] {
        let seeds: Vec<_> = zips
            .iter()
            .filter(|(f, _, _)| f == format)
            .map(|(_, o, p)| (o.clone(), read(p)))
            .collect();
        if !seeds.is_empty() {
            targets.push(Target::new(
                &format!("zip ({format} members)"),
                format,
                seeds,
                Place::File("x.zip"),
            ));
        }
    }

    targets.push(Target {
        name: "instruction bank".into(),
        reader: Reader::Bank,
        seeds: vec![(
            FileOptions::default(),
            br#"{"task114": {"original_def": "Summarize the question.", "auto_rewrite_def": ["Give a short summary.", "Condense it."]}, "task7": {"original_def": ["Line one", "Line two"], "auto_rewrite_def": "Only one."}}"#.to_vec(),
        )],
        place: Place::File("x.json"),
        support: Vec::new(),
    });
    targets
}

/// Reads one case and checks the readers' contract beyond not panicking: an error is about a
/// file of the case, a limit error names the flag that raises it, and a read that succeeds
/// yielded at least one record (no seed declares `may_be_empty`).
fn check(reader: &Reader, options: &FileOptions, path: &Path, dir: &Path) -> Result<(), String> {
    let format = match reader {
        Reader::Bank => {
            return match InstructionBank::load(path) {
                Ok(_) => Ok(()),
                Err(e) if e.to_string().starts_with(&path.display().to_string()) => Ok(()),
                Err(e) => Err(format!("error does not name the file: {e}")),
            };
        }
        Reader::File { format } => format,
    };
    let mut good = 0usize;
    let mut bad_hash = None;
    let result = read_file(path, format, options, dir, &Limits::default(), &mut |r| {
        if let Ok(rec) = r {
            good += 1;
            if rec.raw_sha256.len() != 64 {
                bad_hash = Some(rec.locator);
            }
        }
    });
    if let Some(at) = bad_hash {
        return Err(format!("record at {at} has no SHA-256"));
    }
    match result {
        Ok(()) if good == 0 => Err("the read succeeded with no record".into()),
        Ok(()) => Ok(()),
        Err(e) => {
            let text = e.to_string();
            let about = match &e {
                ReadError::Missing { path }
                | ReadError::Io { path, .. }
                | ReadError::Format { path, .. }
                | ReadError::Limit { path, .. }
                | ReadError::Empty { path, .. } => path,
            };
            if !about.starts_with(dir) || !text.starts_with(&about.display().to_string()) {
                return Err(format!(
                    "the error does not name a file of the case: {text}"
                ));
            }
            if let ReadError::Limit { limit, .. } = &e
                && !text.contains(&format!("raise it with {} N", limit.flag()))
            {
                return Err(format!("a limit error without its flag: {text}"));
            }
            Ok(())
        }
    }
}

fn fuzz_all(cases_per_target: u32) {
    for t in targets() {
        let dir = tempfile::tempdir().unwrap();
        for (rel, bytes) in &t.support {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        let (options, seeds): (Vec<FileOptions>, Vec<Vec<u8>>) = t.seeds.into_iter().unzip();
        let (reader, place) = (t.reader, t.place);
        let case_dir = dir.path().to_path_buf();
        run(
            &t.name,
            cases_per_target,
            mutated(seeds),
            move |input: &Input| {
                let path = place.put(&input.bytes, &case_dir);
                check(&reader, &options[input.seed], &path, &case_dir)
            },
        );
    }
}

#[test]
fn fuzz_every_reader() {
    fuzz_all(CI_CASES);
}

/// The long run (`scripts/fuzz.sh`): `MEDSINS_FUZZ_CASES` per target, 100,000 by default.
#[test]
#[ignore = "long: run by scripts/fuzz.sh"]
fn fuzz_long() {
    fuzz_all(cases(100_000));
}

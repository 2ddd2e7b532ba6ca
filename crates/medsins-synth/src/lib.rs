//! `medsins synth`: synthetic raw corpora at MedS-Ins scale, for benchmarks and scale tests.
//!
//! For every raw file the catalogue declares, the corpus's fixture file
//! (`fixtures/raw/<root or corpus>/<path>`) is the template: its records are replicated, in the
//! same raw layout (JSON Lines lines, CSV/TSV rows under one header, IOB and PubTator blocks,
//! JSON arrays and id-keyed objects, task JSON `Instances`, XML record elements, XLSX rows,
//! zip members), up to `scale ×` the corpus's instance count in [`TARGETS`] (MedS-Ins's
//! "≈ instances", from corpora.md), divided over the corpus's files by their fixture record
//! counts and the number of tasks that read each file. Copies are varied deterministically
//! ([`text`]: seeded same-length word substitutions and appended sentences, only in prose),
//! and a `dup_rate` fraction is re-emitted as exact duplicates of earlier records; keys and
//! ids the format needs unique are re-keyed. Files used only as lookups, folders, Parquet and
//! OBO files are copied as they are. Same options → same bytes; `scale = 1.0` ≈ 5M instances.
//! The root gets a `FIXTURES.md` marker, so release checksums are reported, not fatal.

pub mod formats;
pub mod text;

use formats::{BlockKind, Blocks, Ctx, Family, JsonDoc, JsonLines, Table, Workbook, XmlDoc};
use medsins_manifest::{Catalogue, RawFile};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// MedS-Ins instances per corpus (corpora.md, "≈ instances", read off the paper's figure).
/// Corpora not listed get [`DEFAULT_INSTANCES`].
pub const TARGETS: &[(&str, u64)] = &[
    ("mimic4ed", 1_150_000),
    ("ddxplus", 1_020_000),
    ("pmc-patients", 451_000),
    ("mimic-iv-radiology", 376_000),
    ("medmcqa", 343_000),
    ("mimic-iv-discharge", 296_000),
    ("pubmedqa", 240_000),
    ("cmedqa2", 203_000),
    ("chatdoctor", 112_000),
    ("mimic-cxr", 109_000),
    ("pubmed-summarization", 108_000),
    ("mimic-iv-icd10", 99_000),
    ("icd10cm", 98_000),
    ("pubmed-mesh", 45_000),
    ("mmedbench", 45_000),
    ("medqa", 37_600),
    ("seer", 32_000),
    ("medalpaca", 31_000),
    ("disease-ontology", 29_000),
    ("mashqa", 28_000),
    ("bc4chemd", 28_000),
    ("radiopaedia-ner", 27_000),
    ("biolord", 27_000),
    ("readability-plos", 23_000),
    ("mednli", 20_000),
    ("medlineplus", 20_000),
    ("medquad", 15_000),
    ("litcovid", 14_500),
    ("wikidoc", 14_000),
    ("ms2", 13_000),
    ("headqa", 12_000),
    ("bioasq", 8_200),
    ("ecdc-tm", 6_600),
    ("healthfact", 6_200),
    ("species800", 5_200),
    ("catalonia-independence", 4_400),
    ("ade-corpus", 4_400),
    ("bc5cdr", 4_100),
    ("rct-summarization", 3_400),
    ("ebms", 3_100),
    ("medical-question-pairs", 2_700),
    ("frenchmedmcqa", 2_200),
    ("covid-qa", 1_800),
    ("igakuqa", 1_600),
    ("hoc", 1_400),
    ("pico-ebmnlp", 1_100),
    ("rumedbench", 1_000),
    ("bc2gm", 1_000),
    ("meqsum", 900),
    ("clinical-trials-gov", 900),
    ("medicationqa", 500),
    ("liveqa", 460),
    ("anem", 200),
    ("mediqa-ans", 140),
    ("linnaeus", 130),
    ("ncbi-disease", 130),
    ("bc5cdr-disease", 70),
    ("lima", 30),
];
pub const DEFAULT_INSTANCES: u64 = 1_000;

pub fn instances(corpus_id: &str) -> u64 {
    TARGETS
        .iter()
        .find(|(c, _)| *c == corpus_id)
        .map(|(_, n)| *n)
        .unwrap_or(DEFAULT_INSTANCES)
}

#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub scale: f64,
    pub seed: u64,
    /// Fraction of emitted records that are exact duplicates of earlier ones.
    pub dup_rate: f64,
}

/// What was written for one raw path (or zip member).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SynthFile {
    pub path: String,
    /// `replicated` or `copied`
    pub how: String,
    pub records: usize,
    pub note: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SynthReport {
    pub files: Vec<SynthFile>,
    pub bytes: u64,
}

fn rel_path(corpus: &str, f: &RawFile) -> String {
    let folder = f
        .root
        .as_ref()
        .map(|r| r.get_ref().as_str())
        .unwrap_or(corpus);
    format!("{folder}/{}", f.path.get_ref())
}

fn parse_family(format: &str, bytes: &[u8], f: &RawFile) -> std::io::Result<Box<dyn Family>> {
    let o = &f.options;
    let delim = |d: u8| {
        o.delimiter
            .as_ref()
            .and_then(|s| s.bytes().next())
            .unwrap_or(d)
    };
    Ok(match format {
        "jsonl" => Box::new(JsonLines::parse(bytes)?),
        "json" => Box::new(JsonDoc::parse(
            bytes,
            o.records.as_deref().unwrap_or(""),
            None,
        )?),
        "sni-task" => Box::new(JsonDoc::parse(bytes, "/Instances", Some("id"))?),
        "csv" => Box::new(Table::parse(bytes, delim(b','), o.header.unwrap_or(true))?),
        "tsv" => Box::new(Table::parse(bytes, delim(b'\t'), o.header.unwrap_or(true))?),
        "iob" => Box::new(Blocks::parse(bytes, BlockKind::Iob)?),
        "pubtator" => Box::new(Blocks::parse(bytes, BlockKind::PubTator)?),
        "xml" => Box::new(XmlDoc::parse(bytes, o.records.as_deref().unwrap_or(""))?),
        other => return Err(std::io::Error::other(format!("format `{other}` is copied"))),
    })
}

enum Source {
    Stream(Box<dyn Family>),
    Xlsx(Workbook),
}

impl Source {
    fn templates(&self) -> usize {
        match self {
            Source::Stream(f) => f.templates(),
            Source::Xlsx(w) => w.templates(),
        }
    }
}

/// One replicated raw file or zip member.
struct Planned {
    source: Source,
    count: usize,
}

fn zip_member(path: &Path, member: &str) -> std::io::Result<Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path)?).map_err(std::io::Error::other)?;
    let mut m = z.by_name(member).map_err(std::io::Error::other)?;
    let mut v = Vec::new();
    m.read_to_end(&mut v)?;
    Ok(v)
}

fn load(fixtures: &Path, rel: &str, f: &RawFile) -> std::io::Result<Source> {
    let path = fixtures.join(rel);
    let format = f.format.get_ref().as_str();
    if format == "xlsx" {
        return Ok(Source::Xlsx(Workbook::parse(
            &path,
            f.options.sheet.as_deref(),
        )?));
    }
    if path.is_dir() || rel.ends_with(".gz") || f.options.compression.as_deref() == Some("gzip") {
        return Err(std::io::Error::other("folders and gzip files are copied"));
    }
    let bytes = match (f.options.compression.as_deref(), &f.options.member) {
        (Some("zip"), Some(m)) => zip_member(&path, m)?,
        _ => std::fs::read(&path)?,
    };
    Ok(Source::Stream(parse_family(format, &bytes, f)?))
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<u64> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        let mut n = 0;
        let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            n += copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        Ok(n)
    } else {
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::copy(from, to)
    }
}

/// Copies files of a fixture folder that no plan entry writes and that are not there yet.
fn copy_missing(
    from: &Path,
    to: &Path,
    plan: &BTreeMap<(String, Option<String>), Planned>,
    rel: &str,
) -> std::io::Result<u64> {
    if !from.is_dir() {
        return Ok(0);
    }
    let mut n = 0;
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = format!("{rel}/{name}");
        let dest = to.join(&name);
        if e.path().is_dir() {
            n += copy_missing(&e.path(), &dest, plan, &r)?;
        } else if !dest.exists() && !plan.keys().any(|(p, _)| *p == r) {
            std::fs::create_dir_all(to)?;
            n += std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(n)
}

/// Writes the synthetic raw root. `fixtures` is the fixture raw root (`fixtures/raw`).
pub fn synth(
    cat: &Catalogue,
    fixtures: &Path,
    out: &Path,
    o: &SynthOptions,
) -> Result<SynthReport, String> {
    fn io(p: &Path) -> impl Fn(std::io::Error) -> String + '_ {
        move |e| format!("{}: {e}", p.display())
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    // (raw path, zip member) -> planned replication; raw path -> copy
    let mut plan: BTreeMap<(String, Option<String>), Planned> = BTreeMap::new();
    let mut copies: BTreeMap<String, String> = BTreeMap::new();
    for lm in &cat.manifests {
        let m = &lm.manifest;
        let uses = |f: &RawFile| {
            m.tasks
                .iter()
                .filter(|t| {
                    m.task_files(t)
                        .iter()
                        .any(|g| g.id.get_ref() == f.id.get_ref())
                })
                .count()
        };
        let mut loaded: Vec<(String, Option<String>, Source, usize)> = Vec::new();
        for f in &m.files {
            let rel = rel_path(m.id(), f);
            let member = (f.options.compression.as_deref() == Some("zip"))
                .then(|| f.options.member.clone())
                .flatten();
            let t = uses(f);
            if t == 0 {
                copies
                    .entry(rel)
                    .or_insert_with(|| "lookup or unused file".into());
                continue;
            }
            match load(fixtures, &rel, f) {
                Ok(s) => loaded.push((rel, member, s, t)),
                Err(e) => {
                    copies.entry(rel).or_insert_with(|| e.to_string());
                }
            }
        }
        let weight: usize = loaded.iter().map(|(_, _, s, t)| s.templates() * t).sum();
        let target = o.scale * instances(m.id()) as f64;
        for (rel, member, s, _) in loaded {
            let n = s.templates();
            let count = ((target * n as f64 / weight.max(1) as f64).round() as usize).max(n);
            let key = (rel, member);
            if plan.get(&key).is_none_or(|p| p.count < count) {
                plan.insert(key, Planned { source: s, count });
            }
        }
    }
    // a path replicated for one corpus is not also copied for another
    copies.retain(|rel, _| !plan.keys().any(|(r, _)| r == rel));

    let mut report = SynthReport::default();
    for (rel, why) in &copies {
        let from = fixtures.join(rel);
        if !from.exists() {
            report.files.push(SynthFile {
                path: rel.clone(),
                how: "absent".into(),
                records: 0,
                note: "no fixture".into(),
            });
            continue;
        }
        report.bytes += copy_tree(&from, &out.join(rel)).map_err(io(&from))?;
        report.files.push(SynthFile {
            path: rel.clone(),
            how: "copied".into(),
            records: 0,
            note: why.clone(),
        });
    }
    // whatever else the fixture folders hold (e.g. the report files a `text-folder` index names)
    let folders: std::collections::BTreeSet<String> = plan
        .keys()
        .map(|(r, _)| r.clone())
        .chain(copies.keys().cloned())
        .filter_map(|r| r.split('/').next().map(str::to_string))
        .collect();
    for folder in &folders {
        report.bytes += copy_missing(&fixtures.join(folder), &out.join(folder), &plan, folder)
            .map_err(io(&fixtures.join(folder)))?;
    }
    // group zip members by archive; every other planned path is one output file
    let mut outputs: BTreeMap<String, Vec<(Option<String>, &Planned)>> = BTreeMap::new();
    for ((rel, member), p) in &plan {
        outputs
            .entry(rel.clone())
            .or_default()
            .push((member.clone(), p));
    }
    let written: Vec<Result<(u64, Vec<SynthFile>), String>> = outputs
        .par_iter()
        .map(|(rel, parts)| write_output(fixtures, out, rel, parts, o))
        .collect();
    for w in written {
        let (bytes, files) = w?;
        report.bytes += bytes;
        report.files.extend(files);
    }
    std::fs::write(
        out.join("FIXTURES.md"),
        format!(
            "Synthetic raw root written by `medsins synth --scale {} --seed {} --dup-rate {}`: fixture records\n\
             replicated and varied, never real data. This marker makes release checksum differences non-fatal.\n",
            o.scale, o.seed, o.dup_rate
        ),
    )
    .map_err(io(out))?;
    report.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(report)
}

fn write_output(
    fixtures: &Path,
    out: &Path,
    rel: &str,
    parts: &[(Option<String>, &Planned)],
    o: &SynthOptions,
) -> Result<(u64, Vec<SynthFile>), String> {
    let dest: PathBuf = out.join(rel);
    let io = |e: std::io::Error| format!("{}: {e}", dest.display());
    if let Some(p) = dest.parent() {
        std::fs::create_dir_all(p).map_err(io)?;
    }
    let cx = |key: String| Ctx {
        seed: o.seed,
        dup_rate: o.dup_rate,
        key,
    };
    let mut files = Vec::new();
    let entry = |path: String, count: usize| SynthFile {
        path,
        how: "replicated".into(),
        records: count,
        note: String::new(),
    };
    if parts.iter().any(|(m, _)| m.is_some()) {
        // a zip archive: replicated members, the others copied
        let src = fixtures.join(rel);
        let mut z = zip::ZipArchive::new(std::fs::File::open(&src).map_err(io)?)
            .map_err(|e| format!("{}: {e}", src.display()))?;
        let mut w = zip::ZipWriter::new(BufWriter::new(std::fs::File::create(&dest).map_err(io)?));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .large_file(true);
        for i in 0..z.len() {
            let mut m = z.by_index(i).map_err(|e| e.to_string())?;
            let name = m.name().to_string();
            if m.is_dir() {
                w.add_directory(name, opts).map_err(|e| e.to_string())?;
                continue;
            }
            w.start_file(name.clone(), opts)
                .map_err(|e| e.to_string())?;
            match parts
                .iter()
                .find(|(mm, _)| mm.as_deref() == Some(name.as_str()))
            {
                Some((_, p)) => {
                    let Source::Stream(f) = &p.source else {
                        return Err(format!("{rel}!{name}: not a stream format"));
                    };
                    f.emit(p.count, &cx(format!("{rel}!{name}")), &mut w)
                        .map_err(io)?;
                    files.push(entry(format!("{rel}!{name}"), p.count));
                }
                None => {
                    std::io::copy(&mut m, &mut w).map_err(io)?;
                }
            }
        }
        w.finish().map_err(|e| e.to_string())?.flush().map_err(io)?;
    } else {
        let p = parts[0].1;
        match &p.source {
            Source::Stream(f) => {
                let mut w =
                    BufWriter::with_capacity(1 << 20, std::fs::File::create(&dest).map_err(io)?);
                f.emit(p.count, &cx(rel.to_string()), &mut w).map_err(io)?;
                w.flush().map_err(io)?;
            }
            Source::Xlsx(wb) => wb.write(p.count, &cx(rel.to_string()), &dest).map_err(io)?,
        }
        files.push(entry(rel.to_string(), p.count));
    }
    let bytes = std::fs::metadata(&dest).map_err(io)?.len();
    Ok((bytes, files))
}

//! Decontamination against benchmark test sets (`medsins build --decontaminate PATH...`).
//!
//! A benchmark file is a Super-NaturalInstructions / MedS-Bench task JSON (`.json`, read as
//! `sni-task`; a plain JSON array of objects also works), JSON Lines (`.jsonl`) or Parquet
//! (`.parquet`) whose records have an `input` field and `output` and/or `outputs`.
//! Inputs and outputs are compared separately, as lower-cased word n-grams (n = 13 by default):
//! a sample is contaminated when one n-gram of its input occurs in any benchmark input, or one
//! n-gram of its output in any benchmark output. Minimum-length guard: an input shorter than n
//! words is contaminated only when it equals a benchmark input word for word; an output
//! shorter than n words is not compared at all (labels, letters and short answers would match
//! everywhere).

use super::minhash::{is_cjk, words};
use medsins_core::Sample;
use medsins_manifest::FileOptions;
use medsins_readers::{Limits, ReadError, read_file, value_text};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// One loaded benchmark file.
#[derive(Debug, Clone)]
pub struct Benchmark {
    /// File name (no directories: the lock stays machine-independent).
    pub name: String,
    pub sha256: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
}

fn format_of(path: &Path) -> &'static str {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name).to_string();
    if name.ends_with(".parquet") {
        "parquet"
    } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") {
        "jsonl"
    } else {
        "sni-task"
    }
}

/// A `--decontaminate` file that cannot serve as a benchmark. Messages name the file and what
/// to do.
#[derive(Debug, thiserror::Error)]
pub enum BenchmarkError {
    #[error("--decontaminate {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--decontaminate {}: {source}", .path.display())]
    Read { path: PathBuf, source: ReadError },
    #[error("--decontaminate {}: neither a task JSON with `Instances` ({as_task}) nor a JSON array of records ({as_array})", .path.display())]
    Unrecognised {
        path: PathBuf,
        // boxed: two read errors would make every Result of this type large
        as_task: Box<ReadError>,
        as_array: Box<ReadError>,
    },
    #[error("--decontaminate {}: none of its {records} records has an `input`, `output` or `outputs` field ({bad} unreadable); give a task JSON, JSON Lines or Parquet file with those fields", .path.display())]
    NoTexts {
        path: PathBuf,
        records: usize,
        bad: usize,
    },
}

/// Loads a benchmark file.
pub fn load_benchmark(path: &Path) -> Result<Benchmark, BenchmarkError> {
    let bytes = std::fs::read(path).map_err(|source| BenchmarkError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut b = Benchmark {
        name,
        sha256: medsins_core::sha256_hex(&bytes),
        inputs: Vec::new(),
        outputs: Vec::new(),
    };
    let mut bad = 0usize;
    let mut records = 0usize;
    let mut sink = |r: Result<medsins_readers::Record, medsins_readers::RecordError>| match r {
        Ok(r) => {
            records += 1;
            if let Some(v) = r.fields.get("input") {
                b.inputs.push(value_text(v));
            }
            match r.fields.get("outputs") {
                Some(serde_json::Value::Array(a)) => b.outputs.extend(a.iter().map(value_text)),
                _ => {
                    if let Some(v) = r.fields.get("output") {
                        b.outputs.push(value_text(v));
                    }
                }
            }
        }
        Err(_) => bad += 1,
    };
    let opts = FileOptions::default();
    // benchmarks are read within the default limits (they are test sets, not raw corpora)
    let limits = Limits::default();
    let format = format_of(path);
    let first = read_file(path, format, &opts, dir, &limits, &mut sink);
    if let Err(as_task) = first {
        if format != "sni-task" {
            return Err(BenchmarkError::Read {
                path: path.to_path_buf(),
                source: as_task,
            });
        }
        // not a task JSON: a plain JSON array of objects
        read_file(path, "json", &opts, dir, &limits, &mut sink).map_err(|as_array| {
            BenchmarkError::Unrecognised {
                path: path.to_path_buf(),
                as_task: Box::new(as_task),
                as_array: Box::new(as_array),
            }
        })?;
    }
    if b.inputs.is_empty() && b.outputs.is_empty() {
        return Err(BenchmarkError::NoTexts {
            path: path.to_path_buf(),
            records,
            bad,
        });
    }
    if bad > 0 {
        log::warn!(
            "--decontaminate {}: {bad} unreadable records skipped",
            path.display()
        );
    }
    b.inputs
        .iter_mut()
        .chain(b.outputs.iter_mut())
        .for_each(|t| *t = medsins_core::normalize_text(t));
    Ok(b)
}

fn word_hashes(w: &[String], seed: u64) -> Vec<u64> {
    w.iter()
        .map(|x| xxh3_64_with_seed(x.as_bytes(), seed))
        .collect()
}

/// Units joined for a reader: by spaces, except between two CJK characters.
fn join_units(units: &[String]) -> String {
    let mut out = String::new();
    for (i, u) in units.iter().enumerate() {
        let cjk = |s: &str| s.chars().all(is_cjk);
        if i > 0 && !(cjk(u) && cjk(&units[i - 1])) {
            out.push(' ');
        }
        out.push_str(u);
    }
    out
}

fn gram_key(h: &[u64]) -> u64 {
    let mut buf = Vec::with_capacity(h.len() * 8);
    for x in h {
        buf.extend_from_slice(&x.to_le_bytes());
    }
    xxh3_64_with_seed(&buf, 0x6e67)
}

/// The n-grams of every benchmark, by field; values are the first benchmark holding them.
pub struct BenchIndex {
    pub n: usize,
    seed: u64,
    names: Vec<String>,
    input_grams: HashMap<u64, u32>,
    output_grams: HashMap<u64, u32>,
    /// Whole inputs shorter than n words.
    input_short: HashMap<u64, u32>,
}

/// A contaminated sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Contamination {
    pub index: usize,
    pub benchmark: String,
    /// `input` or `output`.
    pub field: &'static str,
    /// The first matching n-gram (or the whole short input).
    pub ngram: String,
    /// Share of the field's n-grams found in the benchmarks.
    pub share: f64,
}

impl BenchIndex {
    pub fn new(benchmarks: &[Benchmark], n: usize, seed: u64) -> BenchIndex {
        let n = n.max(1);
        let mut ix = BenchIndex {
            n,
            seed,
            names: benchmarks.iter().map(|b| b.name.clone()).collect(),
            input_grams: HashMap::new(),
            output_grams: HashMap::new(),
            input_short: HashMap::new(),
        };
        for (bi, b) in benchmarks.iter().enumerate() {
            for t in &b.inputs {
                let h = word_hashes(&words(t), seed);
                if h.is_empty() {
                    continue;
                }
                if h.len() < n {
                    ix.input_short.entry(gram_key(&h)).or_insert(bi as u32);
                } else {
                    for g in h.windows(n) {
                        ix.input_grams.entry(gram_key(g)).or_insert(bi as u32);
                    }
                }
            }
            for t in &b.outputs {
                let h = word_hashes(&words(t), seed);
                for g in h.windows(n) {
                    ix.output_grams.entry(gram_key(g)).or_insert(bi as u32);
                }
            }
        }
        ix
    }

    fn field(
        &self,
        text: &str,
        grams: &HashMap<u64, u32>,
        short: Option<&HashMap<u64, u32>>,
    ) -> Option<(u32, String, f64)> {
        let w = words(text);
        let h = word_hashes(&w, self.seed);
        if h.is_empty() {
            return None;
        }
        if h.len() < self.n {
            let bi = short?.get(&gram_key(&h))?;
            return Some((*bi, join_units(&w), 1.0));
        }
        let mut first: Option<(u32, usize)> = None;
        let mut hits = 0usize;
        let total = h.len() - self.n + 1;
        for (i, g) in h.windows(self.n).enumerate() {
            if let Some(bi) = grams.get(&gram_key(g)) {
                hits += 1;
                first.get_or_insert((*bi, i));
            }
        }
        first.map(|(bi, i)| {
            (
                bi,
                join_units(&w[i..i + self.n]),
                super::minhash::round4(hits as f64 / total as f64),
            )
        })
    }

    /// The contaminated samples of a task, in sample order (input checked before output).
    pub fn contaminated(&self, samples: &[Sample]) -> Vec<Contamination> {
        samples
            .par_iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let (field, (bi, ngram, share)) =
                    match self.field(&s.input, &self.input_grams, Some(&self.input_short)) {
                        Some(m) => ("input", m),
                        None => ("output", self.field(&s.output, &self.output_grams, None)?),
                    };
                Some(Contamination {
                    index: i,
                    benchmark: self.names[bi as usize].clone(),
                    field,
                    ngram,
                    share,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medsins_core::SampleId;

    fn s(input: &str, output: &str) -> Sample {
        Sample {
            id: SampleId::UNDERIVED,
            instruction: String::new(),
            instruction_id: 0,
            input: input.into(),
            output: output.into(),
            split: Some(medsins_core::Split::Train),
            source_file: String::new(),
            source_locator: String::new(),
            raw_sha256: String::new(),
            group_key: String::new(),
            order: (0, 0),
        }
    }

    #[test]
    fn ngram_overlap_on_inputs_and_outputs_separately_with_length_guard() {
        let bench = Benchmark {
            name: "bench.json".into(),
            sha256: String::new(),
            inputs: vec!["one two three four five six".into(), "Is it safe?".into()],
            outputs: vec!["alpha beta gamma delta epsilon".into(), "yes".into()],
        };
        let ix = BenchIndex::new(&[bench], 4, 0);
        let samples = vec![
            s("zero one two three four seven", "x"), // input 4-gram "one two three four"
            s("unrelated text here today", "q alpha beta gamma delta"), // output 4-gram
            s("is it SAFE", "yes"),                  // short input equals a benchmark input
            s("alpha beta gamma delta", "one two three four"), // fields are not crossed
            s("no match at all here", "yes"),        // short output: not compared
        ];
        let c = ix.contaminated(&samples);
        let got: Vec<(usize, &str, &str)> = c
            .iter()
            .map(|c| (c.index, c.field, c.ngram.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (0, "input", "one two three four"),
                (1, "output", "alpha beta gamma delta"),
                (2, "input", "is it safe")
            ]
        );
        assert_eq!(c[0].share, 0.3333);
    }

    #[test]
    fn short_chinese_and_japanese_inputs_are_compared_by_character_ngrams() {
        let bench = Benchmark {
            name: "medsbench_zh_ja.json".into(),
            sha256: String::new(),
            inputs: vec![
                "患者男性，六十五岁，因胸痛三小时入院，心电图提示急性心肌梗死。".into(),
                "高血圧の患者に対して最初に投与すべき薬剤はどれか。".into(),
            ],
            outputs: vec!["A".into()],
        };
        let ix = BenchIndex::new(&[bench], 13, 0);
        let samples = vec![
            // 20 characters sharing 14 with the first benchmark input
            s("因胸痛三小时入院，心电图提示急性心肌梗死", "A"),
            // a Japanese input of 19 characters sharing 15
            s("患者に対して最初に投与すべき薬剤を選べ", "B"),
            // same topic, no 13-character span in common
            s("患者女性，因发热咳嗽三天入院，胸片提示肺炎", "C"),
            // 11 characters and a Latin word: 12 units, shorter than n, and no exact match
            s("心电图提示急性心肌梗死ECG", "D"),
        ];
        let got: Vec<(usize, &str, String)> = ix
            .contaminated(&samples)
            .into_iter()
            .map(|c| (c.index, c.field, c.ngram))
            .collect();
        assert_eq!(
            got,
            [
                (0, "input", "因胸痛三小时入院心电图提示".to_string()),
                (1, "input", "患者に対して最初に投与すべ".to_string()),
            ]
        );
    }
}

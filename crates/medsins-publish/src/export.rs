//! Exports of a build for training and for MedS-Ins users (`medsins export`).
//!
//! One file per task and split — `<task_id>.<ext>` for train, `<task_id>_<split>.<ext>`
//! otherwise — rows in shard order, and `EXPORT.json` describing what was written and what
//! the token bound left out (nothing is dropped silently):
//!
//! | format | each row |
//! |---|---|
//! | `chat` | `{"messages": [{"role": "system", "content": instruction}, {"role": "user", "content": input}, {"role": "assistant", "content": output}]}` (instruction in the user turn with `InstructionIn::User`) |
//! | `sharegpt` | `{"conversations": [{"from": "system"\|"human"\|"gpt", "value": …}]}`, the same turns |
//! | `alpaca` | `{"instruction", "input", "output"}` |
//! | `jsonl` | every column of the row |
//! | `task-json` | one MedS-Ins / Super-NaturalInstructions task JSON per file (`Definition`, `Instances`, …) |

use crate::{BuildDir, PublishError, io_err};
use medsins_manifest::Catalogue;
use medsins_pipeline::tokens::{Counter, InstructionIn, messages};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TaskJson,
    Jsonl,
    Chat,
    ShareGpt,
    Alpaca,
}

impl Format {
    pub const NAMES: &'static [&'static str] =
        &["task-json", "jsonl", "chat", "sharegpt", "alpaca"];

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "task-json" => Format::TaskJson,
            "jsonl" => Format::Jsonl,
            "chat" => Format::Chat,
            "sharegpt" => Format::ShareGpt,
            "alpaca" => Format::Alpaca,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::TaskJson => "task-json",
            Format::Jsonl => "jsonl",
            Format::Chat => "chat",
            Format::ShareGpt => "sharegpt",
            Format::Alpaca => "alpaca",
        }
    }

    fn extension(self) -> &'static str {
        if self == Format::TaskJson {
            "json"
        } else {
            "jsonl"
        }
    }
}

pub struct ExportOptions<'a> {
    pub format: Format,
    pub instruction_in: InstructionIn,
    /// Rows whose training length (see [`Counter::count_sample`]) exceeds `max_tokens` are
    /// left out and listed in `EXPORT.json`.
    pub counter: Option<&'a Counter>,
    pub max_tokens: Option<usize>,
    /// For `task-json`: each task's definition, source and languages.
    pub catalogue: Option<&'a Catalogue>,
}

/// One written file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExportedFile {
    pub file: String,
    pub task_id: String,
    pub split: String,
    pub rows: u64,
    pub too_long: u64,
}

/// A row the token bound left out.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TooLong {
    pub id: String,
    pub task_id: String,
    pub tokens: u32,
}

/// What an export wrote (also written as `EXPORT.json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExportSummary {
    pub format: String,
    pub instruction_in: String,
    pub max_tokens: Option<usize>,
    /// What the bound counts (instruction + input + output, or a chat template's rendering).
    pub tokens_counted: Option<String>,
    pub files: Vec<ExportedFile>,
    pub rows: u64,
    pub too_long: Vec<TooLong>,
}

pub const SUMMARY_FILE: &str = "EXPORT.json";

fn language_name(code: &str) -> &str {
    match code {
        "en" => "English",
        "zh" => "Chinese",
        "ja" => "Japanese",
        "fr" => "French",
        "ru" => "Russian",
        "es" => "Spanish",
        "sv" => "Swedish",
        "de" => "German",
        "ca" => "Catalan",
        "ko" => "Korean",
        other => other,
    }
}

fn text(row: &Map<String, Value>, k: &str) -> String {
    row.get(k)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// One exported line (JSON Lines formats) or instance (task JSON) of a row.
fn line(row: &Map<String, Value>, format: Format, place: InstructionIn) -> Value {
    let (instruction, input, output) = (
        text(row, "instruction"),
        text(row, "input"),
        text(row, "output"),
    );
    match format {
        Format::Chat => json!({
            "messages": messages(&instruction, &input, &output, place)
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect::<Vec<_>>()
        }),
        Format::ShareGpt => json!({
            "conversations": messages(&instruction, &input, &output, place)
                .into_iter()
                .map(|(role, content)| {
                    let from = match role {
                        "user" => "human",
                        "assistant" => "gpt",
                        other => other,
                    };
                    json!({"from": from, "value": content})
                })
                .collect::<Vec<_>>()
        }),
        Format::Alpaca => json!({"instruction": instruction, "input": input, "output": output}),
        Format::Jsonl => Value::Object(row.clone()),
        Format::TaskJson => json!({"id": row.get("id"), "input": input, "output": vec![output]}),
    }
}

/// The task JSON around the instances of one file: the document with an empty `Instances`
/// list, cut where the instances go.
fn task_json_frame(
    catalogue: Option<&Catalogue>,
    task_id: &str,
    split: &str,
    first: Option<&Map<String, Value>>,
) -> Result<(String, String), PublishError> {
    let task = catalogue.and_then(|c| {
        c.tasks()
            .into_iter()
            .find(|(_, t)| *t.id.get_ref() == task_id)
    });
    let names = |v: &[toml::Spanned<String>]| -> Vec<String> {
        v.iter()
            .map(|l| language_name(l.get_ref()).to_string())
            .collect()
    };
    let doc = json!({
        "Contributors": ["medsins"],
        "Source": [task.map(|(m, _)| m.manifest.corpus.name.clone()).unwrap_or_default()],
        "URL": [task.map(|(m, _)| m.manifest.corpus.homepage.clone()).unwrap_or_default()],
        "Categories": [first.and_then(|r| r.get("category")).cloned().unwrap_or(Value::Null)],
        "Reasoning": [],
        "Definition": [task.map(|(_, t)| t.definition.clone()).unwrap_or_default()],
        "Input_language": task.map(|(_, t)| names(&t.input_languages)).unwrap_or_default(),
        "Output_language": task.map(|(_, t)| names(&t.output_languages)).unwrap_or_default(),
        "Instruction_language": ["English"],
        "Domains": first.and_then(|r| r.get("domains")).cloned().unwrap_or(json!([])),
        "Positive Examples": [],
        "Negative Examples": [],
        "Instances": "\u{0}",
        "Split Type": if split == "train" { "Train" } else { "Test" },
    });
    let pretty =
        serde_json::to_string_pretty(&doc).map_err(|e| PublishError::Invalid(e.to_string()))?;
    let (head, tail) = pretty
        .split_once("\"\\u0000\"")
        .ok_or_else(|| PublishError::Invalid("task JSON frame".into()))?;
    Ok((format!("{head}[\n"), format!("\n  ]{tail}\n")))
}

/// Exports every shard of `dir` into `to` (created if needed).
pub fn export(
    dir: &BuildDir,
    to: &Path,
    opts: &ExportOptions,
) -> Result<ExportSummary, PublishError> {
    std::fs::create_dir_all(to).map_err(io_err(to))?;
    let bound = match (opts.max_tokens, opts.counter) {
        (Some(max), Some(c)) => Some((max, c)),
        (Some(_), None) => {
            return Err(PublishError::Invalid(
                "--max-tokens needs --tokenizer: the tokenizer.json of the model you train".into(),
            ));
        }
        _ => None,
    };
    let mut summary = ExportSummary {
        format: opts.format.as_str().into(),
        instruction_in: opts.instruction_in.as_str().into(),
        max_tokens: opts.max_tokens,
        tokens_counted: bound.map(|(_, c)| c.total_is()),
        files: Vec::new(),
        rows: 0,
        too_long: Vec::new(),
    };
    let all_columns: Vec<String> = medsins_output::sample_schema_with_tokens()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let columns: Vec<&str> = match opts.format {
        Format::Jsonl => all_columns.iter().map(String::as_str).collect(),
        _ => vec![
            "id",
            "instruction",
            "input",
            "output",
            "category",
            "domains",
        ],
    };
    for ((task_id, split), shards) in dir.shards()? {
        let mut file = FileWriter::create(to, task_id, split, opts)?;
        for shard in &shards {
            let mut failure: Option<PublishError> = None;
            medsins_output::for_each_row_batch(shard, &columns, &mut |rows| {
                for row in rows {
                    if failure.is_none()
                        && let Err(e) = file.row(&row, bound, &mut summary.too_long)
                    {
                        failure = Some(e);
                    }
                }
            })?;
            if let Some(e) = failure {
                return Err(e);
            }
        }
        let entry = file.finish()?;
        summary.rows += entry.rows;
        summary.files.push(entry);
    }
    let p = to.join(SUMMARY_FILE);
    let s =
        serde_json::to_string_pretty(&summary).map_err(|e| PublishError::Invalid(e.to_string()))?;
    std::fs::write(&p, s + "\n").map_err(io_err(&p))?;
    Ok(summary)
}

/// One exported file (a task and split) being written.
struct FileWriter<'a> {
    path: std::path::PathBuf,
    w: std::io::BufWriter<std::fs::File>,
    entry: ExportedFile,
    /// The closing text of a task JSON file, once its head is written.
    tail: Option<String>,
    opts: &'a ExportOptions<'a>,
}

impl<'a> FileWriter<'a> {
    fn create(
        to: &Path,
        task_id: String,
        split: String,
        opts: &'a ExportOptions<'a>,
    ) -> Result<FileWriter<'a>, PublishError> {
        let name = if split == "train" {
            format!("{task_id}.{}", opts.format.extension())
        } else {
            format!("{task_id}_{split}.{}", opts.format.extension())
        };
        let path = to.join(&name);
        let file = std::fs::File::create(&path).map_err(io_err(&path))?;
        Ok(FileWriter {
            w: std::io::BufWriter::new(file),
            path,
            entry: ExportedFile {
                file: name,
                task_id,
                split,
                rows: 0,
                too_long: 0,
            },
            tail: None,
            opts,
        })
    }

    /// Writes one row, or lists it in `too_long` when it is over the token bound.
    fn row(
        &mut self,
        row: &Map<String, Value>,
        bound: Option<(usize, &Counter)>,
        too_long: &mut Vec<TooLong>,
    ) -> Result<(), PublishError> {
        if let Some((max, c)) = bound {
            let t = c.count_sample(
                &text(row, "instruction"),
                &text(row, "input"),
                &text(row, "output"),
            )?;
            if t.total as usize > max {
                self.entry.too_long += 1;
                too_long.push(TooLong {
                    id: text(row, "id"),
                    task_id: self.entry.task_id.clone(),
                    tokens: t.total,
                });
                return Ok(());
            }
        }
        let v = line(row, self.opts.format, self.opts.instruction_in);
        let s = serde_json::to_string(&v).map_err(|e| PublishError::Invalid(e.to_string()))?;
        let io = io_err(&self.path);
        if self.opts.format == Format::TaskJson {
            match &self.tail {
                None => {
                    let (head, t) = task_json_frame(
                        self.opts.catalogue,
                        &self.entry.task_id,
                        &self.entry.split,
                        Some(row),
                    )?;
                    self.w.write_all(head.as_bytes()).map_err(io)?;
                    self.tail = Some(t);
                }
                Some(_) => self.w.write_all(b",\n").map_err(io)?,
            }
            self.w.write_all(b"    ").map_err(io_err(&self.path))?;
        }
        self.w.write_all(s.as_bytes()).map_err(io_err(&self.path))?;
        if self.opts.format != Format::TaskJson {
            self.w.write_all(b"\n").map_err(io_err(&self.path))?;
        }
        self.entry.rows += 1;
        Ok(())
    }

    /// Closes the file (a task JSON file's instance list, empty when every row was over the
    /// bound).
    fn finish(mut self) -> Result<ExportedFile, PublishError> {
        if self.opts.format == Format::TaskJson {
            let tail = match self.tail.take() {
                Some(t) => t,
                None => {
                    let (head, t) = task_json_frame(
                        self.opts.catalogue,
                        &self.entry.task_id,
                        &self.entry.split,
                        None,
                    )?;
                    self.w
                        .write_all(head.as_bytes())
                        .map_err(io_err(&self.path))?;
                    t
                }
            };
            self.w
                .write_all(tail.as_bytes())
                .map_err(io_err(&self.path))?;
        }
        self.w.flush().map_err(io_err(&self.path))?;
        Ok(self.entry)
    }
}

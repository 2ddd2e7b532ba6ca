use crate::paths;
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// A build's output directory.
    #[arg(default_value = "out")]
    out: PathBuf,
    /// Where to write the exported files.
    #[arg(long)]
    to: PathBuf,
    /// `task-json`: one MedS-Ins / Super-NaturalInstructions task JSON per task and split (the
    /// layout MedS-Ins itself releases); `jsonl`: one JSON object per row, per task and split.
    #[arg(long, value_parser = ["task-json", "jsonl"], default_value = "task-json")]
    format: String,
    #[arg(long)]
    manifests: Option<PathBuf>,
}

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
        other => other,
    }
}

/// Every shard of the output, grouped by (task id, split), in file-name order.
fn shards(out: &Path) -> anyhow::Result<BTreeMap<(String, String), Vec<PathBuf>>> {
    let mut m: BTreeMap<(String, String), Vec<PathBuf>> = BTreeMap::new();
    let data = out.join("data");
    for task in std::fs::read_dir(&data)
        .with_context(|| format!("{}: not a medsins output (no data/)", out.display()))?
    {
        let task = task?.path();
        let tid = task
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for f in std::fs::read_dir(&task)? {
            let f = f?.path();
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(split) = name
                .split('-')
                .next()
                .filter(|_| name.ends_with(".parquet"))
            {
                m.entry((tid.clone(), split.to_string()))
                    .or_default()
                    .push(f);
            }
        }
    }
    for v in m.values_mut() {
        v.sort();
    }
    Ok(m)
}

/// Exports a build in the formats MedS-Ins users already consume.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let (cat, _) = paths::load_catalogue(&paths::manifests_dir(a.manifests));
    std::fs::create_dir_all(&a.to).with_context(|| format!("creating {}", a.to.display()))?;
    let mut files = 0;
    for ((tid, split), paths) in shards(&a.out)? {
        let mut rows = Vec::new();
        for p in &paths {
            rows.extend(medsins_output::read_samples(p)?);
        }
        let name = if split == "train" {
            format!("{tid}.json")
        } else {
            format!("{tid}_{split}.json")
        };
        if a.format == "jsonl" {
            let mut s = String::new();
            for r in &rows {
                s.push_str(&serde_json::to_string(r)?);
                s.push('\n');
            }
            std::fs::write(a.to.join(name.replace(".json", ".jsonl")), s)?;
        } else {
            let first = rows.first().cloned().unwrap_or_default();
            let task = cat
                .tasks()
                .into_iter()
                .find(|(_, t)| *t.id.get_ref() == tid);
            let definition = task.map(|(_, t)| t.definition.clone()).unwrap_or_default();
            let (source, url) = task
                .map(|(m, _)| {
                    (
                        m.manifest.corpus.name.clone(),
                        m.manifest.corpus.homepage.clone(),
                    )
                })
                .unwrap_or_default();
            let names = |v: &[toml::Spanned<String>]| -> Vec<String> {
                v.iter()
                    .map(|l| language_name(l.get_ref()).to_string())
                    .collect()
            };
            let (input_langs, output_langs) = task
                .map(|(_, t)| (names(&t.input_languages), names(&t.output_languages)))
                .unwrap_or_default();
            let doc = json!({
                "Contributors": ["medsins"],
                "Source": [source],
                "URL": [url],
                "Categories": [first.get("category").cloned().unwrap_or(Value::Null)],
                "Reasoning": [],
                "Definition": [definition],
                "Input_language": input_langs,
                "Output_language": output_langs,
                "Instruction_language": ["English"],
                "Domains": first.get("domains").cloned().unwrap_or(json!([])),
                "Positive Examples": [],
                "Negative Examples": [],
                "Instances": rows.iter().map(|r| json!({"id": r["id"], "input": r["input"], "output": r["output"]})).collect::<Vec<_>>(),
                "Split Type": if split == "train" { "Train" } else { "Test" },
            });
            std::fs::write(a.to.join(&name), serde_json::to_string_pretty(&doc)?)?;
        }
        files += 1;
    }
    println!("{files} file(s) written to {}", a.to.display());
    Ok(0)
}

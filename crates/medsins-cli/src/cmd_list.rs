use crate::paths;
use medsins_readers::InstructionBank;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t)]
    format: paths::Format,
    /// The instruction bank, to count the instructions available per task.
    #[arg(long)]
    instructions: Option<PathBuf>,
    #[arg(long)]
    manifests: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let dir = paths::manifests_dir(a.manifests);
    let cat = paths::valid_catalogue(&dir)?;
    let bank = a
        .instructions
        .as_deref()
        .map(InstructionBank::load)
        .transpose()?;
    let corpora: Vec<_> = cat
        .manifests
        .iter()
        .map(|m| {
            let c = &m.manifest.corpus;
            json!({
                "corpus_id": m.manifest.id(), "name": c.name, "homepage": c.homepage, "version": c.version,
                "license": c.license, "access": c.access.get_ref(),
                "files": m.manifest.files.iter().map(|f| medsins_pipeline::corpus::raw_rel_path(m.manifest.id(), f)).collect::<Vec<_>>(),
                "variants": m.manifest.variants.iter().map(|v| json!({
                    "id": v.id.get_ref(), "name": v.name,
                    "files": v.files.iter().map(|f| medsins_pipeline::corpus::raw_rel_path(m.manifest.id(), f)).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "tasks": m.manifest.tasks.iter().map(|t| t.id.get_ref()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let tasks: Vec<_> = cat
        .tasks()
        .into_iter()
        .map(|(m, t)| {
            let n = medsins_pipeline::instruction_set(t, bank.as_ref()).len();
            json!({
                "task_no": t.number.get_ref(), "task_id": t.id.get_ref(), "corpus_id": m.manifest.id(),
                "name": t.name, "category": t.category.get_ref(), "text_source": t.text_source.get_ref(),
                "languages": t.languages(), "confirmed": t.confirmed, "instructions": n,
                "access": m.manifest.corpus.access.get_ref(),
            })
        })
        .collect();
    if a.format == paths::Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"corpora": corpora, "tasks": tasks}))?
        );
        return Ok(0);
    }
    println!(
        "{:<5} {:<58} {:<24} {:<30} {:<6} certain",
        "no.", "task", "corpus", "category", "instr."
    );
    for t in &tasks {
        println!(
            "{:<5} {:<58} {:<24} {:<30} {:<6} {}",
            t["task_no"],
            t["task_id"].as_str().unwrap_or(""),
            t["corpus_id"].as_str().unwrap_or(""),
            t["category"].as_str().unwrap_or(""),
            t["instructions"],
            if t["confirmed"] == true {
                "yes"
            } else {
                "inferred"
            }
        );
    }
    println!("{} corpora, {} tasks", corpora.len(), tasks.len());
    Ok(0)
}

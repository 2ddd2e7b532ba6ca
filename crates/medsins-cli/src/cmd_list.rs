use crate::output::Format;
use crate::paths;
use medsins_inspect::listing::{Listing, listing};
use medsins_readers::InstructionBank;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// The instruction bank, to count the instructions available per task.
    #[arg(long, value_name = "FILE")]
    instructions: Option<PathBuf>,
    /// Manifest folder (default: `corpora-manifests` in the working directory, else the
    /// catalogue bundled with medsins).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
}

/// The catalogue's corpora and tasks (the Python module's `list_catalogue`).
pub fn report(a: &Args) -> anyhow::Result<Listing> {
    let cat = paths::valid_catalogue(&paths::manifests_dir(a.manifests.clone()))?;
    let bank = a
        .instructions
        .as_deref()
        .map(InstructionBank::load)
        .transpose()?;
    Ok(listing(&cat, bank.as_ref()))
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let l = report(&a)?;
    if a.format == Format::Json {
        crate::output::print_json(&l)?;
        return Ok(0);
    }
    outln!(
        "{:<5} {:<58} {:<24} {:<30} {:<6} certain",
        "no.",
        "task",
        "corpus",
        "category",
        "instr."
    );
    for t in &l.tasks {
        outln!(
            "{:<5} {:<58} {:<24} {:<30} {:<6} {}",
            t.task_no,
            t.task_id,
            t.corpus_id,
            t.category,
            t.instructions,
            if t.confirmed { "yes" } else { "inferred" }
        );
    }
    outln!(
        "{} corpora, {} tasks ({})",
        l.corpora.len(),
        l.tasks.len(),
        l.catalogue
    );
    Ok(0)
}

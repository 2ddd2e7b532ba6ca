use crate::output::Format as OutputFormat;
use crate::paths::{self, OutDir};
use anyhow::Context;
use medsins_pipeline::tokens::{ChatTemplate, Counter, InstructionIn};
use medsins_publish::export::{ExportOptions, Format};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    out: OutDir,
    /// Where to write the exported files (one per task and split, and EXPORT.json).
    #[arg(long)]
    to: PathBuf,
    /// `task-json`: MedS-Ins / Super-NaturalInstructions task JSON (the layout MedS-Ins itself
    /// releases); `jsonl`: every column of each row; `chat`: `{"messages": [...]}` with system,
    /// user and assistant turns; `sharegpt`: `{"conversations": [...]}`; `alpaca`:
    /// `{"instruction", "input", "output"}`.
    #[arg(long, value_parser = Format::NAMES.to_vec(), default_value = "task-json")]
    format: String,
    /// Where chat and ShareGPT turns put the instruction: a system message, or before the
    /// input in the user message (models without a system role).
    #[arg(long, value_parser = ["system", "user"], default_value = "system")]
    instruction_in: String,
    /// The tokenizer.json of the model to train: with --max-tokens, rows longer than the bound
    /// are left out (listed in EXPORT.json).
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Leave out rows over this many instruction + input + output tokens (with
    /// --chat-template: tokens of the rendered conversation).
    #[arg(long, requires = "tokenizer")]
    max_tokens: Option<usize>,
    /// The model's tokenizer_config.json (or chat_template.jinja): --max-tokens counts the
    /// conversation its chat template renders.
    #[arg(long, requires = "max_tokens")]
    chat_template: Option<PathBuf>,
    #[arg(long)]
    manifests: Option<PathBuf>,
    /// Print what was written as JSON.
    #[arg(long = "output-format", value_enum, default_value_t)]
    output_format: OutputFormat,
}

/// Loads `--tokenizer` and `--chat-template`.
fn counter(
    tokenizer: Option<&std::path::Path>,
    chat_template: Option<&std::path::Path>,
    place: InstructionIn,
) -> anyhow::Result<Option<Counter>> {
    let Some(t) = tokenizer else { return Ok(None) };
    let c = Counter::load(t).map_err(anyhow::Error::msg)?;
    Ok(Some(match chat_template {
        Some(p) => c.with_template(ChatTemplate::load(p, place).map_err(anyhow::Error::msg)?),
        None => c,
    }))
}

/// Exports a build for training or in the formats MedS-Ins users already consume.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let format = Format::parse(&a.format).context("--format")?;
    let place = InstructionIn::parse(&a.instruction_in).context("--instruction-in")?;
    let cat = (format == Format::TaskJson)
        .then(|| paths::load_catalogue(&paths::manifests_dir(a.manifests)).0);
    let counter = counter(a.tokenizer.as_deref(), a.chat_template.as_deref(), place)?;
    let dir = medsins_publish::BuildDir::open(a.out.path())?;
    let summary = medsins_publish::export::export(
        &dir,
        &a.to,
        &ExportOptions {
            format,
            instruction_in: place,
            counter: counter.as_ref(),
            max_tokens: a.max_tokens,
            catalogue: cat.as_ref(),
        },
    )?;
    if a.output_format == OutputFormat::Json {
        crate::output::print_json(&summary)?;
        return Ok(0);
    }
    outln!(
        "{} rows in {} file(s) written to {} ({})",
        summary.rows,
        summary.files.len(),
        a.to.display(),
        summary.format
    );
    if let Some(max) = summary.max_tokens {
        outln!(
            "{} row(s) over --max-tokens {max} ({}) left out; their ids are in {}",
            summary.too_long.len(),
            summary.tokens_counted.as_deref().unwrap_or_default(),
            a.to.join(medsins_publish::export::SUMMARY_FILE).display()
        );
    }
    Ok(0)
}

use crate::output::Format;
use crate::paths::{self, RawRoot};
use medsins_inspect::preview::{changed_corpora, expected_rows};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A corpus id, task id or task number (or nothing, with --changed-since).
    #[arg(required_unless_present = "changed_since")]
    target: Option<String>,
    /// Preview every corpus whose manifest changed since this git ref (e.g. `origin/main`).
    #[arg(long, value_name = "REF")]
    changed_since: Option<String>,
    /// Samples to show per task.
    #[arg(short = 'n', default_value_t = 3)]
    n: usize,
    /// Raw root (default: the catalogue's fixtures).
    #[arg(long, value_name = "DIR")]
    raw_root: Option<PathBuf>,
    /// Accept raw files whose SHA-256 differs from their manifest's.
    #[arg(long)]
    skip_checksums: bool,
    /// Records read per file to find the samples.
    #[arg(long, default_value_t = medsins_inspect::preview::DEFAULT_WINDOW)]
    window: usize,
    /// Manifest folder (default: `corpora-manifests` in the working directory, else the
    /// catalogue bundled with medsins).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
    /// Print the samples as expected-row JSON Lines (`task_id`, `source_locator`, `split`,
    /// `input`, `output`): the skeleton of `fixtures/expected/<corpus>.jsonl`. Check every
    /// line by hand against the raw record before committing it.
    #[arg(long)]
    expected: bool,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let source = paths::manifests_dir(a.manifests);
    let cat = paths::valid_catalogue(&source)?;
    let targets: Vec<String> = match (&a.target, &a.changed_since) {
        (Some(t), _) => vec![t.clone()],
        (None, Some(r)) => {
            let dir = source.dir().ok_or_else(|| {
                anyhow::anyhow!(
                    "--changed-since compares a manifest folder with git: run it in a checkout (or pass --manifests DIR)"
                )
            })?;
            changed_corpora(dir, r)
                .map_err(anyhow::Error::msg)?
                .into_iter()
                .filter(|id| cat.get(id).is_some())
                .collect()
        }
        (None, None) => anyhow::bail!("give a corpus or task, or --changed-since REF"),
    };
    if targets.is_empty() {
        outln!(
            "no manifest changed since {}",
            a.changed_since.as_deref().unwrap_or("")
        );
        return Ok(0);
    }
    let raw = RawRoot::choose(a.raw_root, a.skip_checksums, &source)?;
    let mut previews = Vec::new();
    for t in &targets {
        previews.extend(
            medsins_inspect::preview(&cat, t, &raw.path, raw.checksums, a.n, a.window)
                .map_err(anyhow::Error::msg)?,
        );
    }
    let failed = previews.iter().any(|p| p.error.is_some());
    if a.expected {
        out!("{}", expected_rows(&previews));
        return Ok(if failed { 1 } else { 0 });
    }
    if a.format == Format::Json {
        crate::output::print_json(&previews)?;
        return Ok(if failed { 1 } else { 0 });
    }
    for p in &previews {
        let from = p
            .source_variant
            .as_deref()
            .filter(|v| *v != medsins_manifest::DEFAULT_VARIANT)
            .map(|v| format!(", variant `{v}`"))
            .unwrap_or_default();
        outln!(
            "━━ task {} `{}` ({}{from})",
            p.task_no,
            p.task_id,
            p.corpus_id
        );
        outln!("instruction: {}", p.definition.trim());
        if let Some(e) = &p.error {
            outln!("ERROR: {e}\n");
            continue;
        }
        for s in &p.samples {
            outln!(
                "── {} [{}] {} @ {}",
                s.id,
                s.split.map_or("", |x| x.as_str()),
                s.source_file,
                s.source_locator
            );
            outln!(
                "input:\n{}\noutput:\n{}\n",
                indent(&s.input),
                indent(&s.output)
            );
        }
        for r in &p.removed {
            outln!(
                "removed ({}, {}) {} @ {}: {}",
                r.stage,
                r.reason,
                r.source_file,
                r.source_locator,
                r.detail
            );
        }
        if p.samples.is_empty() {
            outln!("(no samples in the first records)\n");
        }
    }
    Ok(if failed { 1 } else { 0 })
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("  │ {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

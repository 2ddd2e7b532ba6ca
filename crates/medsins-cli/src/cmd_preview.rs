use crate::paths;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A corpus id, task id or task number (or nothing, with --changed-since).
    #[arg(required_unless_present = "changed_since")]
    target: Option<String>,
    /// Preview every corpus whose manifest changed since this git ref (e.g. `origin/main`).
    #[arg(long)]
    changed_since: Option<String>,
    /// Samples to show per task.
    #[arg(short = 'n', default_value_t = 3)]
    n: usize,
    /// Raw root (default: the bundled fixtures).
    #[arg(long)]
    raw_root: Option<PathBuf>,
    /// Records read per file to find the samples.
    #[arg(long, default_value_t = 1000)]
    window: usize,
    #[arg(long)]
    manifests: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    format: paths::Format,
    /// Print the samples as expected-row JSON Lines (`task_id`, `source_locator`, `split`,
    /// `input`, `output`): the skeleton of `fixtures/expected/<corpus>.jsonl`. Check every
    /// line by hand against the raw record before committing it.
    #[arg(long)]
    expected: bool,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let dir = paths::manifests_dir(a.manifests);
    let cat = paths::valid_catalogue(&dir)?;
    let targets: Vec<String> = match (&a.target, &a.changed_since) {
        (Some(t), _) => vec![t.clone()],
        (None, Some(r)) => changed_corpora(&dir, r)?
            .into_iter()
            .filter(|id| cat.get(id).is_some())
            .collect(),
        (None, None) => unreachable!("clap requires one"),
    };
    if targets.is_empty() {
        println!(
            "no manifest changed since {}",
            a.changed_since.as_deref().unwrap_or("")
        );
        return Ok(0);
    }
    let root = paths::raw_root(a.raw_root);
    let mut previews = Vec::new();
    for t in &targets {
        previews.extend(
            medsins_inspect::preview(&cat, t, &root, a.n, a.window).map_err(anyhow::Error::msg)?,
        );
    }
    if a.expected {
        print!("{}", expected_rows(&previews));
        return Ok(if previews.iter().any(|p| p.error.is_some()) {
            1
        } else {
            0
        });
    }
    if a.format == paths::Format::Json {
        println!("{}", serde_json::to_string_pretty(&previews)?);
        return Ok(if previews.iter().any(|p| p.error.is_some()) {
            1
        } else {
            0
        });
    }
    let mut failed = false;
    for p in &previews {
        let from = p
            .source_variant
            .as_deref()
            .filter(|v| *v != medsins_manifest::DEFAULT_VARIANT)
            .map(|v| format!(", variant `{v}`"))
            .unwrap_or_default();
        println!(
            "━━ task {} `{}` ({}{from})",
            p.task_no, p.task_id, p.corpus_id
        );
        println!("instruction: {}", p.definition.trim());
        if let Some(e) = &p.error {
            failed = true;
            println!("ERROR: {e}\n");
            continue;
        }
        for s in &p.samples {
            println!(
                "── {} [{}] {} @ {}",
                s.id,
                s.split.map_or("", |x| x.as_str()),
                s.source_file,
                s.source_locator
            );
            println!(
                "input:\n{}\noutput:\n{}\n",
                indent(&s.input),
                indent(&s.output)
            );
        }
        for r in &p.removed {
            println!(
                "removed ({}, {}) {} @ {}: {}",
                r.stage, r.reason, r.source_file, r.source_locator, r.detail
            );
        }
        if p.samples.is_empty() {
            println!("(no samples in the first records)\n");
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

/// Corpus ids of the manifests that differ from `git_ref` (added or modified, not deleted).
fn changed_corpora(dir: &std::path::Path, git_ref: &str) -> anyhow::Result<Vec<String>> {
    let out = std::process::Command::new("git")
        .args(["diff", "--name-only", "--diff-filter=AM", git_ref, "--"])
        .arg(dir)
        .output()
        .map_err(|e| anyhow::anyhow!("running git: {e}"))?;
    if !out.status.success() {
        anyhow::bail!(
            "git diff {git_ref}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // fixtures of a corpus count as a change to it too
    let fx = std::process::Command::new("git")
        .args([
            "diff",
            "--name-only",
            "--diff-filter=AM",
            git_ref,
            "--",
            "fixtures",
        ])
        .output();
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.ends_with(".toml"))
        .filter_map(|l| {
            std::path::Path::new(l)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .collect();
    if let Ok(fx) = fx {
        for l in String::from_utf8_lossy(&fx.stdout).lines() {
            let parts: Vec<&str> = l.split('/').collect();
            if parts.len() > 2 && parts[1] == "raw" {
                ids.push(parts[2].to_string());
            } else if parts.len() == 3 && parts[1] == "expected" {
                ids.push(parts[2].trim_end_matches(".jsonl").to_string());
            }
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Previewed samples as expected-row JSON Lines (the format of `fixtures/expected/<corpus>.jsonl`).
pub fn expected_rows(previews: &[medsins_inspect::preview::TaskPreview]) -> String {
    let mut lines = String::new();
    for p in previews {
        for s in &p.samples {
            let row = serde_json::json!({
                "task_id": p.task_id, "source_file": s.source_file, "source_locator": s.source_locator, "split": s.split,
                "input": s.input, "output": s.output,
            });
            lines.push_str(&format!("{row}\n"));
        }
    }
    lines
}

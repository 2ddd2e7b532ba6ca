use crate::output::Format;
use crate::paths::OutDir;
use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    out: OutDir,
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Prints a build's `stats.json`: as it is with `--format json`, else as tables.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let out = a.out.path();
    let path = out.join("stats.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: not a medsins output (no stats.json); pass --out DIR of a build",
            out.display()
        )
    })?;
    if a.format == Format::Json {
        out!("{text}");
        return Ok(0);
    }
    let s: medsins_output::Stats = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a stats file", path.display()))?;
    outln!(
        "{} samples, {} tasks, {} corpora",
        s.samples,
        s.tasks,
        s.corpora
    );
    let kv = |title: &str, m: &std::collections::BTreeMap<String, u64>| {
        outln!("\n{title}");
        for (k, v) in m {
            outln!("  {k:<48} {v:>10}");
        }
    };
    kv("per split", &s.per_split);
    kv("per access class", &s.per_access);
    kv("per licence", &s.per_license);
    kv("removed, by reason", &s.removed_by_reason);
    outln!(
        "\n{:<5} {:<58} {:>9} {:>9} {:>9}  removed",
        "no.",
        "task",
        "read",
        "samples",
        "in p50"
    );
    let mut tasks: Vec<_> = s.per_task.iter().collect();
    tasks.sort_by_key(|(_, t)| t.task_no);
    for (id, t) in tasks {
        let removed: Vec<String> = t
            .removed_by_reason
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        outln!(
            "{:<5} {:<58} {:>9} {:>9} {:>9}  {}",
            t.task_no,
            id,
            t.records_read,
            t.samples,
            t.input_chars.p50,
            removed.join(", ")
        );
    }
    Ok(0)
}

//! `medsins cache stats|prune --cache DIR`: housekeeping of a build cache (docs/scale-out.md).

use crate::output::Format;
use medsins_pipeline::cache::{self, Prune};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// What the cache holds: its units, their size and when a build last used them.
    Stats {
        #[arg(long, value_name = "DIR")]
        cache: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Remove units no build used for DAYS days (or all of them), and the folders killed
    /// processes left. Run it while no build uses the cache.
    Prune {
        #[arg(long, value_name = "DIR")]
        cache: PathBuf,
        /// Remove units no build used for this many days.
        #[arg(
            long,
            value_name = "DAYS",
            required_unless_present = "all",
            conflicts_with = "all"
        )]
        older_than: Option<f64>,
        /// Remove every unit.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    match a.command {
        Command::Stats { cache, format } => stats(&cache, format),
        Command::Prune {
            cache,
            older_than,
            all,
            format,
        } => {
            let what = match (all, older_than) {
                (false, Some(days)) => Prune::IdleFor(days),
                _ => Prune::All,
            };
            let pruned = cache::prune(&cache, what)?;
            if format == Format::Json {
                crate::output::print_json(&pruned)?;
            } else {
                outln!(
                    "removed {} unit(s), the written shards of {} task(s) and {} abandoned folder(s), {} from {}",
                    pruned.units.len(),
                    pruned.written.len(),
                    pruned.abandoned,
                    mb(pruned.bytes),
                    cache.display()
                );
            }
            Ok(0)
        }
    }
}

fn stats(dir: &std::path::Path, format: Format) -> anyhow::Result<i32> {
    let s = cache::stats(dir)?;
    if format == Format::Json {
        crate::output::print_json(&s)?;
        return Ok(0);
    }
    outln!(
        "{:<64} {:>5} {:>10} {:>9}",
        "unit",
        "tasks",
        "size",
        "idle days"
    );
    for u in &s.units {
        outln!(
            "{:<64} {:>5} {:>10} {:>9.2}",
            u.unit,
            u.tasks,
            mb(u.bytes),
            u.idle_days
        );
    }
    let written_bytes: u64 = s.written.iter().map(|w| w.bytes).sum();
    outln!(
        "{} unit(s) and the written shards of {} task(s) ({}), {} in {}; {} folder(s) being computed or abandoned ({})",
        s.units.len(),
        s.written.len(),
        mb(written_bytes),
        mb(s.bytes),
        s.dir,
        s.in_progress,
        mb(s.in_progress_bytes)
    );
    Ok(0)
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

//! `medsins synth`: a synthetic raw root at MedS-Ins scale, from the fixtures (benchmarks).

use crate::output::Format;
use crate::paths::{self, RawRoot};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Fraction of MedS-Ins's per-corpus instance counts (~5.13M in all) the root should
    /// build to (1.0 ≈ full scale).
    #[arg(long)]
    scale: f64,
    /// Raw root to write (one folder per corpus, as `build --raw-root` expects): a new or
    /// empty folder, or an earlier synth output.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Seed of the variations and duplicates (same seed, same bytes).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fraction of records re-emitted as exact duplicates of earlier ones.
    #[arg(long, default_value_t = 0.02)]
    dup_rate: f64,
    /// Manifest folder (default: `corpora-manifests` in the working directory, else the
    /// catalogue bundled with medsins).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    /// Fixture raw root whose files are the templates (default: the catalogue's fixtures).
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
    /// Print what was written as JSON.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    // NaN is refused too: it compares to nothing
    let positive = a.scale.partial_cmp(&0.0) == Some(std::cmp::Ordering::Greater);
    if !positive || !(0.0..1.0).contains(&a.dup_rate) {
        anyhow::bail!("--scale must be > 0 and --dup-rate in [0, 1)");
    }
    let source = paths::manifests_dir(a.manifests);
    let cat = paths::valid_catalogue(&source)?;
    let fixtures = RawRoot::choose(a.fixtures, false, &source)?;
    let opts = medsins_synth::SynthOptions {
        scale: a.scale,
        seed: a.seed,
        dup_rate: a.dup_rate,
    };
    let started = std::time::Instant::now();
    let report =
        medsins_synth::synth(&cat, &fixtures.path, &a.out, &opts).map_err(anyhow::Error::msg)?;
    let secs = started.elapsed().as_secs_f64();
    if a.format == Format::Json {
        crate::output::print_json(&report)?;
        return Ok(0);
    }
    for f in &report.files {
        match f.how.as_str() {
            "replicated" => outln!("replicated {:>9} records  {}", f.records, f.path),
            "generated" => outln!("generated  {:>17}  {}", "", f.path),
            _ => outln!("{:<10} {:>17}  {}  ({})", f.how, "", f.path, f.note),
        }
    }
    let expected: f64 = report.corpora.iter().map(|c| c.expected).sum();
    outln!(
        "{} records, {:.1} MB written to {} in {secs:.1} s (plan: ≈ {:.0} samples after build)",
        report.records,
        report.bytes as f64 / 1e6,
        a.out.display(),
        expected
    );
    errln!(
        "build it with: medsins build --raw-root {} --skip-checksums (its files are not the releases)",
        a.out.display()
    );
    Ok(0)
}

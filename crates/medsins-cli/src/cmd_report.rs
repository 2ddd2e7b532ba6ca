use crate::paths::OutDir;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    out: OutDir,
    /// Where to write the report: one self-contained HTML page (inline SVG and CSS).
    #[arg(long)]
    html: PathBuf,
}

/// Writes the HTML report of a build.
pub fn run(a: Args) -> anyhow::Result<i32> {
    let dir = medsins_publish::BuildDir::open(a.out.path())?;
    medsins_publish::report::write(&dir, &a.html)?;
    outln!("report written to {}", a.html.display());
    Ok(0)
}

use crate::paths;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// What to produce: `schema` (the manifest JSON Schema) or `doc` (docs/catalogue.md).
    #[arg(value_parser = ["schema", "doc"])]
    what: String,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Manifest folder (default: `corpora-manifests` in the working directory, else the
    /// catalogue bundled with medsins).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let text = match a.what.as_str() {
        "schema" => medsins_manifest::json_schema(),
        _ => {
            let cat = paths::valid_catalogue(&paths::manifests_dir(a.manifests))?;
            medsins_inspect::catalogue_doc(&cat)
        }
    };
    match a.output {
        Some(p) => {
            std::fs::write(&p, text).map_err(|e| anyhow::anyhow!("writing {}: {e}", p.display()))?
        }
        None => out!("{text}"),
    }
    Ok(0)
}

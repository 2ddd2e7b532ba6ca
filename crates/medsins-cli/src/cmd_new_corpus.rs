use crate::output::Format;
use crate::paths;
use medsins_inspect::new_corpus::{NewCorpusOptions, new_corpus};
use medsins_manifest::WORKING_CATALOGUE;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Id of the new corpus (lower-case letters, digits and `-`).
    id: String,
    /// A raw file or the corpus folder; or an upstream task JSON file or contribution workbook.
    #[arg(long, value_name = "PATH")]
    from: PathBuf,
    /// Where raw files live; the corpus folder is `<raw-root>/<id>/`.
    #[arg(long, value_name = "DIR", default_value = "raw")]
    raw_root: PathBuf,
    /// Records to cut into the fixture.
    #[arg(short = 'n', default_value_t = 5)]
    n: usize,
    /// Replace an existing manifest, fixture and expected rows.
    #[arg(long)]
    force: bool,
    /// The manifest folder to write into (default: `corpora-manifests` in the working
    /// directory).
    #[arg(long, value_name = "DIR")]
    manifests: Option<PathBuf>,
    /// Fixture root (default: `fixtures/raw` beside the manifest folder).
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
    /// Print what was written and what is left to do as JSON.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let source = paths::manifests_dir(a.manifests);
    let (Some(manifests), Some(default_fixtures)) =
        (source.dir(), source.fixture_dir_for_new_corpora())
    else {
        anyhow::bail!(
            "no manifest folder to write into: run `medsins new-corpus` in a checkout of medsins (the folder holding {WORKING_CATALOGUE}/) or pass --manifests DIR"
        );
    };
    let opts = NewCorpusOptions {
        id: a.id.clone(),
        from: a.from,
        raw_root: a.raw_root.clone(),
        manifests: manifests.to_path_buf(),
        fixtures: a.fixtures.unwrap_or(default_fixtures),
        records: a.n,
        force: a.force,
    };
    let r = new_corpus(&opts)?;
    let id = &r.corpus_id;
    let raw_root = a.raw_root.display();
    if a.format == Format::Json {
        crate::output::print_json(&r)?;
        return Ok(0);
    }
    outln!(
        "inspected {}: format `{}`, {} records ({} unreadable)",
        r.raw_file,
        r.format,
        r.records,
        r.bad_records
    );
    for f in &r.fields {
        outln!("  field {:<24} e.g. {}", f.field, f.example);
    }
    outln!("wrote     {}", r.manifest);
    match (&r.fixture, r.fixture_records, &r.fixture_error) {
        (Some(f), Some(n), _) => outln!("wrote     {f} ({n} records, same layout)"),
        (_, _, Some(e)) => outln!("fixture   not written: {e}"),
        _ => {}
    }
    if let Some(e) = &r.expected {
        outln!("wrote     {e} (check every row by hand)");
    }
    outln!();
    if r.problems.is_empty() {
        outln!("the manifest validates. Next: medsins preview {id} --raw-root {raw_root}");
    } else {
        outln!(
            "left to do ({}), as `medsins validate {}` reports:",
            r.problems.len(),
            r.manifest
        );
        for d in &r.problems {
            outln!("{d}");
        }
    }
    outln!("then: medsins build --raw-root {raw_root} --only {id}");
    Ok(0)
}

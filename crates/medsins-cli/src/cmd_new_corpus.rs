use crate::paths;
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Id of the new corpus (lower-case letters, digits and `-`).
    id: String,
    /// A raw file or the corpus folder; or an upstream task JSON file or contribution workbook.
    #[arg(long)]
    from: PathBuf,
    /// Where raw files live; the corpus folder is `<raw-root>/<id>/`.
    #[arg(long, default_value = "raw")]
    raw_root: PathBuf,
    /// Records to cut into the fixture.
    #[arg(short = 'n', default_value_t = 5)]
    n: usize,
    /// Replace an existing manifest, fixture and expected rows.
    #[arg(long)]
    force: bool,
    #[arg(long)]
    manifests: Option<PathBuf>,
    /// Fixture root (default: fixtures/raw of the checkout).
    #[arg(long)]
    fixtures: Option<PathBuf>,
}

fn copy_into(src: &Path, dest: &Path) -> anyhow::Result<()> {
    if src.canonicalize().ok() == dest.canonicalize().ok() {
        return Ok(());
    }
    if let Some(p) = dest.parent() {
        std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
    }
    std::fs::copy(src, dest)
        .with_context(|| format!("copying {} to {}", src.display(), dest.display()))?;
    Ok(())
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let id = a.id.as_str();
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        anyhow::bail!(
            "corpus id `{id}` must be lower-case letters, digits and `-` (e.g. `my-corpus`)"
        );
    }
    let manifests = paths::manifests_dir(a.manifests);
    let fixtures = a.fixtures.unwrap_or_else(|| paths::raw_root(None));
    let expected_dir = fixtures
        .parent()
        .map(|p| p.join("expected"))
        .unwrap_or_else(|| PathBuf::from("fixtures/expected"));
    let manifest_path = manifests.join(format!("{id}.toml"));
    if manifest_path.exists() && !a.force {
        anyhow::bail!(
            "{} already exists; pick another id or pass --force to replace it",
            manifest_path.display()
        );
    }
    let corpus_dir = a.raw_root.join(id);
    // The raw file(s) go into the corpus folder, where the manifest names them.
    let raw_file = if a.from.is_dir() {
        let first = std::fs::read_dir(&a.from)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .min()
            .with_context(|| format!("{} holds no file", a.from.display()))?;
        for e in std::fs::read_dir(&a.from)?.filter_map(|e| e.ok()) {
            if e.path().is_file() {
                copy_into(&e.path(), &corpus_dir.join(e.file_name()))?;
            }
        }
        corpus_dir.join(first.file_name().unwrap_or_default())
    } else if a.from.is_file() {
        let dest = corpus_dir.join(a.from.file_name().unwrap_or_default());
        copy_into(&a.from, &dest)?;
        dest
    } else {
        anyhow::bail!("{}: no such file or folder", a.from.display());
    };
    let rel = raw_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ins = medsins_scaffold::inspect(&raw_file, &corpus_dir)?;
    let text = match ins.format.as_str() {
        "sni-task" => medsins_scaffold::manifest_from_task_json(id, &raw_file, &rel)?,
        "workbook" => medsins_scaffold::manifest_from_workbook(id, &raw_file, &rel)?,
        _ => medsins_scaffold::starting_manifest(id, &rel, &ins),
    };
    std::fs::create_dir_all(&manifests)?;
    std::fs::write(&manifest_path, &text)?;
    let fixture_path = fixtures.join(id).join(&rel);
    let cut = medsins_scaffold::cut_fixture(&raw_file, &ins, a.n, &fixture_path);
    println!(
        "inspected {}: format `{}`, {} records ({} unreadable)",
        raw_file.display(),
        ins.format,
        ins.records,
        ins.bad_records
    );
    for (f, ex) in &ins.fields {
        println!("  field {f:<24} e.g. {ex}");
    }
    println!("wrote     {}", manifest_path.display());
    match cut {
        Ok(n) => println!(
            "wrote     {} ({n} records, same layout)",
            fixture_path.display()
        ),
        Err(e) => println!("fixture   not written: {e}"),
    }
    // expected-rows skeleton, when the manifest already renders
    let expected_path = expected_dir.join(format!("{id}.jsonl"));
    let (cat, diags) =
        crate::cmd_validate::diagnostics(std::slice::from_ref(&manifest_path), &manifests);
    if diags.is_empty()
        && fixture_path.exists()
        && let Ok(previews) = medsins_inspect::preview(&cat, id, &fixtures, a.n, 1000)
    {
        let lines = crate::cmd_preview::expected_rows(&previews);
        if !expected_path.exists() || a.force {
            std::fs::create_dir_all(&expected_dir)?;
            std::fs::write(&expected_path, lines)?;
            println!(
                "wrote     {} (check every row by hand)",
                expected_path.display()
            );
        }
    }
    println!();
    if diags.is_empty() {
        println!(
            "the manifest validates. Next: medsins preview {id} --raw-root {}",
            a.raw_root.display()
        );
    } else {
        println!(
            "left to do ({}), as `medsins validate {}` reports:",
            diags.0.len(),
            manifest_path.display()
        );
        println!("{diags}");
    }
    println!(
        "then: medsins build --raw-root {} --only {id}",
        a.raw_root.display()
    );
    Ok(0)
}

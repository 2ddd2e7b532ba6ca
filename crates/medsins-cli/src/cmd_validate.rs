use crate::paths;
use anyhow::Context;
use medsins_manifest::{Catalogue, Diagnostics, LoadedManifest};
use medsins_pipeline::corpus::{Resolution, resolve_corpus};
use medsins_render::{LookupFiles, TaskRenderer};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Manifest files or folders (default: the catalogue). The whole catalogue is always loaded
    /// too, so task numbers are checked against every other manifest.
    paths: Vec<PathBuf>,
    /// Manifest folder of the catalogue.
    #[arg(long)]
    manifests: Option<PathBuf>,
    /// Also render the first records of every task from this raw root (default: the fixtures,
    /// when the corpus has one), reporting template errors at the template's line.
    #[arg(long)]
    raw_root: Option<PathBuf>,
    /// Records rendered per file by the render check.
    #[arg(long, default_value_t = 200)]
    sample: usize,
    /// Print a hashed summary of the full build of the given manifests on --raw-root (counts,
    /// checks, SHA-256 of the normalised output) for a maintainer to reproduce with --compare.
    #[arg(long)]
    report: bool,
    /// Compare the build on --raw-root with a report made elsewhere by --report.
    #[arg(long)]
    compare: Option<PathBuf>,
}

/// Every diagnostic for the given manifests: parse, meaning (against the whole catalogue) and
/// template compilation.
pub fn diagnostics(targets: &[PathBuf], catalogue_dir: &Path) -> (Catalogue, Diagnostics) {
    let (mut cat, mut diags) = Catalogue::load(targets);
    // check numbers and ids against the rest of the catalogue, reporting only the targets' lines
    let (all, _) = Catalogue::load(&[catalogue_dir.to_path_buf()]);
    let target_paths: Vec<PathBuf> = cat.manifests.iter().map(|m| canon(&m.path)).collect();
    let mut combined = cat.manifests.clone();
    for m in all.manifests {
        if !target_paths.contains(&canon(&m.path)) {
            combined.push(m);
        }
    }
    diags.0.extend(
        medsins_manifest::check_catalogue(&combined)
            .0
            .into_iter()
            .filter(|d| target_paths.contains(&canon(&d.file))),
    );
    // every task as each distribution builds it (its variant steps first)
    for lm in &cat.manifests {
        let views = lm.manifest.variant_ids().into_iter();
        for view in views.filter_map(|v| lm.manifest.for_variant(v)) {
            for t in &view.tasks {
                if let Err(errs) = TaskRenderer::compile(t, LookupFiles::default()) {
                    diags
                        .0
                        .extend(errs.into_iter().map(|e| lm.diag(e.offset, e.message)));
                }
            }
        }
    }
    diags.sort();
    cat.manifests.sort_by(|a, b| a.path.cmp(&b.path));
    (cat, diags)
}

fn canon(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Renders the first `sample` records of each task and turns record-level problems into
/// diagnostics at the template or field they come from (one per distinct problem).
pub fn render_diagnostics(lm: &LoadedManifest, raw_root: &Path, sample: usize) -> Diagnostics {
    let mut d = Diagnostics::default();
    let m = &lm.manifest;
    for t in &m.tasks {
        let rc = match resolve_corpus(lm, raw_root, Some(std::slice::from_ref(t.id.get_ref()))) {
            Resolution::Ready(rc) => rc,
            Resolution::Missing(p) => {
                d.0.push(lm.diag(
                    t.id.span().start,
                    format!("cannot render-check: missing {}", p.join(", ")),
                ));
                continue;
            }
            Resolution::Failed(e) => {
                d.0.push(lm.diag(t.id.span().start, e));
                continue;
            }
        };
        // the task as the distribution found builds it (its steps included)
        let Some(t) = rc.task(t.id.get_ref()) else {
            continue;
        };
        let tb = match rc.render_task(
            t.id.get_ref(),
            0,
            std::slice::from_ref(&t.definition),
            Some(sample),
        ) {
            Ok(tb) => tb,
            Err(e) => {
                d.0.push(lm.diag(t.id.span().start, e.to_string()));
                continue;
            }
        };
        let mut seen: Vec<(usize, String)> = Vec::new();
        let quarantined: Vec<_> = tb
            .ledger
            .iter()
            .filter(|e| e.reason == medsins_core::LedgerReason::Quarantined)
            .collect();
        for e in &quarantined {
            let offset = if e.detail.starts_with("template `input`") {
                t.input.span().start
            } else if e.detail.starts_with("template `output`") {
                t.output.span().start
            } else if e.detail.starts_with("template `group_key`")
                || e.detail.starts_with("group_key")
            {
                t.group_key
                    .as_ref()
                    .map(|g| g.span().start)
                    .unwrap_or(t.id.span().start)
            } else if e.detail.starts_with("template `filter`") {
                t.filter
                    .as_ref()
                    .map(|g| g.span().start)
                    .unwrap_or(t.id.span().start)
            } else {
                t.id.span().start
            };
            let key = e
                .detail
                .split("; the record has")
                .next()
                .unwrap_or("")
                .to_string();
            if seen.iter().any(|(o, k)| *o == offset && *k == key) {
                continue;
            }
            let count = quarantined
                .iter()
                .filter(|x| x.detail.split("; the record has").next() == Some(key.as_str()))
                .count();
            seen.push((offset, key));
            d.0.push(lm.diag(
                offset,
                format!(
                    "task `{}`: {} of the first {} records fail ({} @ {}): {}",
                    t.id.get_ref(),
                    count,
                    tb.records_read,
                    e.source_file,
                    e.source_locator,
                    e.detail
                ),
            ));
        }
    }
    d
}

/// The hashed summary of a corpus's full build: enough to prove two people built the same thing
/// without sharing the data.
fn report(lm: &LoadedManifest, raw_root: &Path) -> anyhow::Result<serde_json::Value> {
    let rc = match resolve_corpus(lm, raw_root, None) {
        Resolution::Ready(rc) => rc,
        Resolution::Missing(p) => {
            anyhow::bail!("{}: missing raw files: {}", lm.manifest.id(), p.join(", "))
        }
        Resolution::Failed(e) => anyhow::bail!(e),
    };
    let mut tasks = Vec::new();
    for t in &rc.manifest.manifest.tasks {
        let tb = rc.render_task(t.id.get_ref(), 0, std::slice::from_ref(&t.definition), None)?;
        let mut ids: Vec<String> = tb.samples.iter().map(|s| s.id.to_string()).collect();
        ids.sort_unstable();
        let mut reasons: std::collections::BTreeMap<&str, u64> = Default::default();
        for e in &tb.ledger {
            *reasons.entry(e.reason.as_str()).or_default() += 1;
        }
        tasks.push(json!({
            "task_id": tb.meta.task_id, "records_read": tb.records_read, "samples": tb.samples.len(),
            "removed_by_reason": reasons, "output_sha256": medsins_core::sha256_hex(ids.join("\n").as_bytes()),
        }));
    }
    Ok(json!({
        "builder_version": medsins_core::BUILDER_VERSION, "corpus_id": lm.manifest.id(), "manifest_sha256": lm.sha256, "source_variant": rc.variant(),
        "raw_files": rc.locked(lm.manifest.id()).iter().map(|f| json!({"path": f.path, "size": f.size, "sha256": f.sha256})).collect::<Vec<_>>(),
        "tasks": tasks,
    }))
}

pub fn run(a: Args) -> anyhow::Result<i32> {
    let dir = paths::manifests_dir(a.manifests);
    let targets = if a.paths.is_empty() {
        vec![dir.clone()]
    } else {
        a.paths
    };
    let (cat, mut diags) = diagnostics(&targets, &dir);
    if diags.is_empty() {
        let root = a.raw_root.clone().unwrap_or_else(|| paths::raw_root(None));
        for lm in &cat.manifests {
            let has_files = medsins_pipeline::corpus::any_present(lm, &root);
            if a.raw_root.is_some() || has_files {
                diags.0.extend(render_diagnostics(lm, &root, a.sample).0);
            }
        }
        diags.sort();
    }
    if !diags.is_empty() {
        println!("{diags}");
        eprintln!("{} problem(s) found", diags.0.len());
        return Ok(1);
    }
    if a.report || a.compare.is_some() {
        let root = a
            .raw_root
            .context("--report and --compare need --raw-root (the real files)")?;
        let reports: Vec<_> = cat
            .manifests
            .iter()
            .map(|lm| report(lm, &root))
            .collect::<anyhow::Result<_>>()?;
        let mine = json!({ "reports": reports });
        if let Some(theirs) = a.compare {
            let text = std::fs::read_to_string(&theirs)
                .with_context(|| format!("reading {}", theirs.display()))?;
            let other: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a report", theirs.display()))?;
            return Ok(compare(&mine, &other));
        }
        println!("{}", serde_json::to_string_pretty(&mine)?);
        return Ok(0);
    }
    let tasks: usize = cat.manifests.iter().map(|m| m.manifest.tasks.len()).sum();
    println!(
        "ok: {} manifest(s), {tasks} task(s) valid",
        cat.manifests.len()
    );
    Ok(0)
}

fn compare(mine: &serde_json::Value, theirs: &serde_json::Value) -> i32 {
    let tasks = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["reports"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["tasks"].as_array().cloned().unwrap_or_default())
            .collect()
    };
    let (a, b) = (tasks(mine), tasks(theirs));
    let mut bad = 0;
    for t in &b {
        let id = t["task_id"].as_str().unwrap_or("");
        match a.iter().find(|x| x["task_id"] == t["task_id"]) {
            Some(x) if x == t => println!("MATCH     {id}"),
            Some(x) => {
                bad += 1;
                println!(
                    "DIFFERENT {id}: here {} samples ({}), report {} samples ({})",
                    x["samples"], x["output_sha256"], t["samples"], t["output_sha256"]
                );
            }
            None => {
                bad += 1;
                println!("MISSING   {id}: in the report, not built here");
            }
        }
    }
    if bad > 0 { 1 } else { 0 }
}

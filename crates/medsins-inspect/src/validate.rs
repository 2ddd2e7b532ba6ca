//! `medsins validate`: every problem of the given manifests at once — parse errors, meaning
//! (checked against the whole catalogue, so task numbers clash with no other manifest),
//! template compilation, and templates rendered on the first records of the raw files —
//! and the hashed build summary a credentialed contributor sends instead of the data.

use medsins_core::Profile;
use medsins_manifest::{
    Catalogue, CatalogueSource, Diagnostic, Diagnostics, LoadedManifest, Manifest, Task,
};
use medsins_pipeline::corpus::{Checksums, Resolution, any_present, resolve_corpus};
use medsins_render::{LookupFiles, TaskRenderer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where to render the manifests' tasks.
#[derive(Debug, Clone)]
pub struct RenderCheck {
    pub raw_root: PathBuf,
    pub checksums: Checksums,
    /// Render every manifest (a raw root the user named), or only those with files under the
    /// root (the catalogue's fixtures, which not every corpus has yet).
    pub all: bool,
    /// Records rendered per file.
    pub sample: usize,
}

/// What `medsins validate --format json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub ok: bool,
    pub manifests: usize,
    pub tasks: usize,
    pub problems: Vec<Diagnostic>,
    /// Corpora whose templates were not rendered because the raw root holds none of their
    /// files (their templates were still checked against the fields their formats fix).
    pub not_rendered: Vec<String>,
}

/// Validates `paths` (manifest files or folders; empty: the whole catalogue) against
/// `catalogue`, rendering their tasks when `render` is given and nothing else is wrong.
pub fn validate(
    paths: &[PathBuf],
    catalogue: &CatalogueSource,
    render: Option<&RenderCheck>,
) -> (Catalogue, Validation) {
    let (cat, mut diags) = diagnostics(paths, catalogue);
    let mut not_rendered = Vec::new();
    if diags.is_empty()
        && let Some(r) = render
    {
        for lm in &cat.manifests {
            if r.all || any_present(lm, &r.raw_root) {
                diags
                    .0
                    .extend(render_diagnostics(lm, &r.raw_root, r.checksums, r.sample).0);
            } else {
                not_rendered.push(lm.manifest.id().to_string());
            }
        }
        diags.sort();
    }
    let v = Validation {
        ok: diags.is_empty(),
        manifests: cat.manifests.len(),
        tasks: cat.manifests.iter().map(|m| m.manifest.tasks.len()).sum(),
        problems: diags.0,
        not_rendered,
    };
    (cat, v)
}

/// Every parse, meaning and template-compilation diagnostic of the given manifests (or of
/// the whole catalogue when `paths` is empty), with the manifests that parsed.
pub fn diagnostics(paths: &[PathBuf], catalogue: &CatalogueSource) -> (Catalogue, Diagnostics) {
    let (all, all_diags) = catalogue.load();
    let (mut cat, mut diags) = if paths.is_empty() {
        (all.clone(), all_diags)
    } else {
        Catalogue::load(paths)
    };
    // check numbers and ids against the rest of the catalogue, reporting only the targets' lines
    let target_paths: Vec<PathBuf> = cat.manifests.iter().map(|m| canon(&m.path)).collect();
    let mut combined = cat.manifests.clone();
    combined.extend(
        all.manifests
            .into_iter()
            .filter(|m| !target_paths.contains(&canon(&m.path))),
    );
    diags.0.extend(
        medsins_manifest::check_catalogue(&combined)
            .0
            .into_iter()
            .filter(|d| target_paths.contains(&canon(&d.file))),
    );
    // every task as each distribution builds it (its variant steps first), and the tasks
    // with upstream overrides as `--profile upstream` builds them
    for lm in &cat.manifests {
        let upstream = lm.manifest.for_profile(Profile::Upstream);
        let views = lm.manifest.variant_ids().into_iter().flat_map(|v| {
            let clean = lm.manifest.for_variant(v).map(|m| (m, false));
            clean
                .into_iter()
                .chain(upstream.for_variant(v).map(|m| (m, true)))
        });
        for (view, upstream_view) in views {
            for t in &view.tasks {
                if upstream_view && t.upstream.is_none() {
                    continue;
                }
                if let Err(errs) = TaskRenderer::compile(t, LookupFiles::default()) {
                    diags
                        .0
                        .extend(errs.into_iter().map(|e| lm.diag(e.offset, e.message)));
                } else if let Some(fields) = fixed_record_fields(&view, t) {
                    let unknown = medsins_render::unknown_fields(t, &fields);
                    diags
                        .0
                        .extend(unknown.into_iter().map(|e| lm.diag(e.offset, e.message)));
                }
            }
        }
    }
    diags.sort();
    cat.manifests.sort_by(|a, b| a.path.cmp(&b.path));
    (cat, diags)
}

/// The fields every record of `task` has when all its files' formats fix them (see
/// [`medsins_readers::fixed_fields`]); `None` when any file's data decides its fields.
fn fixed_record_fields(manifest: &Manifest, task: &Task) -> Option<Vec<String>> {
    let files = manifest.task_files(task);
    let mut fields: Vec<String> = Vec::new();
    for f in &files {
        for name in medsins_readers::fixed_fields(f.format.get_ref(), &f.options)? {
            if !fields.contains(&name) {
                fields.push(name);
            }
        }
    }
    (!files.is_empty()).then_some(fields)
}

fn canon(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Renders the first `sample` records of each task and turns record-level problems into
/// diagnostics at the template or field they come from (one per distinct problem).
pub fn render_diagnostics(
    lm: &LoadedManifest,
    raw_root: &Path,
    checksums: Checksums,
    sample: usize,
) -> Diagnostics {
    let mut d = Diagnostics::default();
    let m = &lm.manifest;
    for t in &m.tasks {
        let task_ids = std::slice::from_ref(t.id.get_ref());
        let rc = match resolve_corpus(lm, raw_root, Some(task_ids), checksums) {
            Resolution::Ready(rc) => rc,
            Resolution::Missing(p) => {
                d.0.push(lm.diag(
                    t.id.span().start,
                    format!("cannot render-check: missing {}", p.join(", ")),
                ));
                continue;
            }
            Resolution::Failed(e) => {
                d.0.push(lm.diag(t.id.span().start, e.to_string()));
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
        // a record's problem, without the list of the fields it has
        let problem = |detail: &str| -> String {
            detail
                .split("; the record has")
                .next()
                .unwrap_or("")
                .to_string()
        };
        let quarantined: Vec<_> = tb
            .ledger
            .iter()
            .filter(|e| e.reason == medsins_core::LedgerReason::Quarantined)
            .collect();
        let mut seen: Vec<(usize, String)> = Vec::new();
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
            let key = problem(&e.detail);
            if seen.iter().any(|(o, k)| *o == offset && *k == key) {
                continue;
            }
            let count = quarantined
                .iter()
                .filter(|x| problem(&x.detail) == key)
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

/// The hashed summary of a build of some corpora: enough to prove two people built the same
/// thing without sharing the data (`validate --report`, checked by `validate --compare`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContributionReport {
    pub reports: Vec<CorpusReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CorpusReport {
    pub builder_version: String,
    pub corpus_id: String,
    pub manifest_sha256: String,
    /// The distribution the report was built from.
    pub source_variant: String,
    pub raw_files: Vec<RawFileReport>,
    pub tasks: Vec<TaskReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RawFileReport {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskReport {
    pub task_id: String,
    pub records_read: u64,
    pub samples: u64,
    pub removed_by_reason: BTreeMap<String, u64>,
    /// SHA-256 of the sorted sample ids, one a line.
    pub output_sha256: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReportError(String);

/// The contribution report of every manifest of `cat`, built in full from `raw_root`.
pub fn contribution_report(
    cat: &Catalogue,
    raw_root: &Path,
    checksums: Checksums,
) -> Result<ContributionReport, ReportError> {
    let reports = cat
        .manifests
        .iter()
        .map(|lm| corpus_report(lm, raw_root, checksums))
        .collect::<Result<_, _>>()?;
    Ok(ContributionReport { reports })
}

fn corpus_report(
    lm: &LoadedManifest,
    raw_root: &Path,
    checksums: Checksums,
) -> Result<CorpusReport, ReportError> {
    let rc = match resolve_corpus(lm, raw_root, None, checksums) {
        Resolution::Ready(rc) => rc,
        Resolution::Missing(p) => {
            return Err(ReportError(format!(
                "{}: missing raw files: {}",
                lm.manifest.id(),
                p.join(", ")
            )));
        }
        Resolution::Failed(e) => return Err(ReportError(e.to_string())),
    };
    let mut tasks = Vec::new();
    for t in &rc.manifest.manifest.tasks {
        let tb = rc
            .render_task(t.id.get_ref(), 0, std::slice::from_ref(&t.definition), None)
            .map_err(|e| ReportError(e.to_string()))?;
        let mut ids: Vec<String> = tb.samples.iter().map(|s| s.id.to_string()).collect();
        ids.sort_unstable();
        let mut removed_by_reason: BTreeMap<String, u64> = BTreeMap::new();
        for e in &tb.ledger {
            *removed_by_reason
                .entry(e.reason.as_str().to_string())
                .or_default() += 1;
        }
        tasks.push(TaskReport {
            task_id: tb.meta.task_id.clone(),
            records_read: tb.records_read as u64,
            samples: tb.samples.len() as u64,
            removed_by_reason,
            output_sha256: medsins_core::sha256_hex(ids.join("\n").as_bytes()),
        });
    }
    Ok(CorpusReport {
        builder_version: medsins_core::BUILDER_VERSION.to_string(),
        corpus_id: lm.manifest.id().to_string(),
        manifest_sha256: lm.sha256.clone(),
        source_variant: rc.variant().to_string(),
        raw_files: rc
            .locked(lm.manifest.id())
            .into_iter()
            .map(|f| RawFileReport {
                path: f.path,
                size: f.size,
                sha256: f.sha256,
            })
            .collect(),
        tasks,
    })
}

/// How one task of a report made elsewhere compares with the build here.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TaskComparison {
    Match {
        task_id: String,
    },
    Different {
        task_id: String,
        here: TaskReport,
        theirs: TaskReport,
    },
    /// In their report, not built here.
    Missing {
        task_id: String,
    },
}

/// Every task of `theirs`, compared with `mine`.
pub fn compare_reports(
    mine: &ContributionReport,
    theirs: &ContributionReport,
) -> Vec<TaskComparison> {
    let tasks = |r: &ContributionReport| -> Vec<TaskReport> {
        r.reports.iter().flat_map(|c| c.tasks.clone()).collect()
    };
    let here = tasks(mine);
    tasks(theirs)
        .into_iter()
        .map(|t| match here.iter().find(|x| x.task_id == t.task_id) {
            Some(x) if *x == t => TaskComparison::Match { task_id: t.task_id },
            Some(x) => TaskComparison::Different {
                task_id: t.task_id.clone(),
                here: x.clone(),
                theirs: t,
            },
            None => TaskComparison::Missing { task_id: t.task_id },
        })
        .collect()
}

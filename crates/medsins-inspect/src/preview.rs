//! Rendered samples of a corpus or task for review, without writing anything.

use medsins_core::{LedgerEntry, Sample};
use medsins_manifest::{Catalogue, LoadedManifest};
use medsins_pipeline::corpus::{Resolution, resolve_corpus};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct TaskPreview {
    pub corpus_id: String,
    pub task_id: String,
    pub task_no: u32,
    pub definition: String,
    /// The distribution the samples come from (None when no file was found).
    pub source_variant: Option<String>,
    pub samples: Vec<Sample>,
    /// Records of the previewed window that were quarantined or filtered, with reasons.
    pub removed: Vec<LedgerEntry>,
    /// A problem with the task as a whole (missing file, template error).
    pub error: Option<String>,
}

/// Previews `target` (a corpus id or task id): up to `n` samples per task, rendered from the
/// first `window` records of each file.
pub fn preview(
    catalogue: &Catalogue,
    target: &str,
    raw_root: &Path,
    n: usize,
    window: usize,
) -> Result<Vec<TaskPreview>, String> {
    let pairs: Vec<(&LoadedManifest, &medsins_manifest::Task)> = catalogue
        .tasks()
        .into_iter()
        .filter(|(m, t)| {
            m.manifest.id() == target
                || t.id.get_ref() == target
                || t.number.get_ref().to_string() == target
        })
        .collect();
    if pairs.is_empty() {
        return Err(format!(
            "no corpus or task `{target}` in the catalogue; `medsins list` shows them"
        ));
    }
    let mut out = Vec::new();
    for (lm, task) in pairs {
        let mut p = TaskPreview {
            corpus_id: lm.manifest.id().into(),
            task_id: task.id.get_ref().clone(),
            task_no: *task.number.get_ref(),
            definition: task.definition.clone(),
            source_variant: None,
            samples: vec![],
            removed: vec![],
            error: None,
        };
        match resolve_corpus(lm, raw_root, Some(std::slice::from_ref(&p.task_id))) {
            Resolution::Ready(rc) => {
                p.source_variant = Some(rc.variant().to_string());
                let window = Some(window);
                match rc.render_task(
                    &p.task_id,
                    0,
                    std::slice::from_ref(&task.definition),
                    window,
                ) {
                    Ok(tb) => {
                        p.samples = tb.samples.into_iter().take(n).collect();
                        p.removed = tb
                            .ledger
                            .into_iter()
                            .filter(|e| e.reason != medsins_core::LedgerReason::ExactDuplicate)
                            .take(n)
                            .collect();
                    }
                    Err(e) => p.error = Some(e.to_string()),
                }
            }
            Resolution::Missing(paths) => {
                p.error = Some(format!("missing raw files: {}", paths.join(", ")))
            }
            Resolution::Failed(m) => p.error = Some(m),
        }
        out.push(p);
    }
    Ok(out)
}

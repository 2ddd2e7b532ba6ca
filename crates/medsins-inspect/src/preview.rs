//! Rendered samples of a corpus or task for review, without writing anything.

use medsins_core::{LedgerEntry, Sample};
use medsins_manifest::{Catalogue, LoadedManifest};
use medsins_pipeline::corpus::{Checksums, Resolution, resolve_corpus};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Why nothing could be previewed.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("no corpus or task `{0}` in the catalogue; `medsins list` shows them")]
    UnknownTarget(String),
    #[error("running git: {0}")]
    Git(std::io::Error),
    /// `git diff` failed; `stderr` is what it said.
    #[error("git diff {git_ref}: {stderr}")]
    GitDiff { git_ref: String, stderr: String },
}

/// Records read per file to find a preview's samples, unless told otherwise.
pub const DEFAULT_WINDOW: usize = 1000;

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
    checksums: Checksums,
    n: usize,
    window: usize,
) -> Result<Vec<TaskPreview>, PreviewError> {
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
        return Err(PreviewError::UnknownTarget(target.to_string()));
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
        let task_ids = std::slice::from_ref(&p.task_id);
        match resolve_corpus(lm, raw_root, Some(task_ids), checksums) {
            Resolution::Ready(rc) => {
                p.source_variant = Some(rc.variant().to_string());
                let instructions = std::slice::from_ref(&task.definition);
                match rc.render_task(&p.task_id, 0, instructions, Some(window)) {
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
            Resolution::Failed(e) => p.error = Some(e.to_string()),
        }
        out.push(p);
    }
    Ok(out)
}

/// Previewed samples as expected-row JSON Lines (the format of `fixtures/expected/<corpus>.jsonl`).
pub fn expected_rows(previews: &[TaskPreview]) -> String {
    let mut lines = String::new();
    for p in previews {
        for s in &p.samples {
            let row = serde_json::json!({
                "task_id": p.task_id, "source_file": s.source_file, "source_locator": s.source_locator, "split": s.split,
                "input": s.input, "output": s.output,
            });
            lines.push_str(&format!("{row}\n"));
        }
    }
    lines
}

/// Corpus ids whose manifest in `manifests` (a folder under git), or whose fixtures or
/// expected rows beside it, were added or modified since `git_ref`.
pub fn changed_corpora(manifests: &Path, git_ref: &str) -> Result<Vec<String>, PreviewError> {
    let diff = |path: &Path| -> Result<String, PreviewError> {
        let out = std::process::Command::new("git")
            .args(["diff", "--name-only", "--diff-filter=AM", git_ref, "--"])
            .arg(path)
            .output()
            .map_err(PreviewError::Git)?;
        if !out.status.success() {
            return Err(PreviewError::GitDiff {
                git_ref: git_ref.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let mut ids: Vec<String> = diff(manifests)?
        .lines()
        .filter(|l| l.ends_with(".toml"))
        .filter_map(|l| {
            Path::new(l)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .collect();
    // fixtures of a corpus count as a change to it too
    let fixtures = match manifests.parent() {
        Some(p) => p.join("fixtures"),
        None => PathBuf::from("fixtures"),
    };
    if fixtures.is_dir() {
        for l in diff(&fixtures)?.lines() {
            let parts: Vec<&str> = l.split('/').collect();
            if parts.len() > 2 && parts[1] == "raw" {
                ids.push(parts[2].to_string());
            } else if parts.len() == 3 && parts[1] == "expected" {
                ids.push(parts[2].trim_end_matches(".jsonl").to_string());
            }
        }
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}

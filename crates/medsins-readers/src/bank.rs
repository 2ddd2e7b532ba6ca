//! The MedS-Ins instruction bank `RewriteDefinitions.json`: per task number, the original
//! definition and its machine-written paraphrases.

use crate::{ReadError, format_err};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct TaskInstructions {
    /// `original_def` (a list is joined with line feeds).
    pub original: String,
    /// `auto_rewrite_def`, in file order (repeats kept: the bank is reproduced, not cleaned).
    pub paraphrases: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct InstructionBank {
    pub sha256: String,
    pub tasks: BTreeMap<u32, TaskInstructions>,
}

impl InstructionBank {
    pub fn load(path: &Path) -> Result<Self, ReadError> {
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::Missing {
                path: path.to_path_buf(),
            },
            _ => ReadError::Io {
                path: path.to_path_buf(),
                source: e,
            },
        })?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format_err(path, format!("invalid JSON: {e}")))?;
        let obj = v.as_object().ok_or_else(|| {
            format_err(
                path,
                "the instruction bank must be an object keyed by `task<N>`",
            )
        })?;
        let mut tasks = BTreeMap::new();
        for (k, entry) in obj {
            let n: u32 = k
                .strip_prefix("task")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| {
                    format_err(path, format!("key `{k}` is not of the form `task<N>`"))
                })?;
            let original = match entry.get("original_def") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(crate::value_text)
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => return Err(format_err(path, format!("`{k}` has no `original_def`"))),
            };
            let paraphrases = crate::json::string_list(entry.get("auto_rewrite_def"));
            tasks.insert(
                n,
                TaskInstructions {
                    original,
                    paraphrases,
                },
            );
        }
        Ok(InstructionBank {
            sha256: medsins_core::sha256_hex(&bytes),
            tasks,
        })
    }

    pub fn paraphrase_count(&self) -> usize {
        self.tasks.values().map(|t| t.paraphrases.len()).sum()
    }
}

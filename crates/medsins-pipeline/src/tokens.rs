//! Token counts (`medsins build --tokenizer tokenizer.json [--max-tokens N]`).
//!
//! Counts run after every other stage, on the samples that will be written: `input_tokens` and
//! `output_tokens` are the lengths of `encode_fast(text, add_special_tokens = false)` of the
//! input and the output. With `max_tokens`, a sample whose `input_tokens + output_tokens`
//! exceeds it is removed (ledger stage `tokens`, reason `too_long`).

use crate::task::TaskBuild;
use medsins_core::LedgerEntry;
use rayon::prelude::*;
use std::path::Path;
use tokenizers::Tokenizer;

/// A loaded Hugging Face `tokenizer.json`, with its file name and SHA-256 for the lock.
pub struct Counter {
    tok: Tokenizer,
    pub name: String,
    pub sha256: String,
}

impl Counter {
    pub fn load(path: &Path) -> Result<Counter, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("--tokenizer {}: {e}", path.display()))?;
        let tok = Tokenizer::from_bytes(&bytes).map_err(|e| {
            format!(
                "--tokenizer {}: not a Hugging Face tokenizer.json: {e}",
                path.display()
            )
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Counter {
            tok,
            name,
            sha256: medsins_core::sha256_hex(&bytes),
        })
    }

    pub fn count(&self, text: &str) -> u32 {
        self.tok
            .encode_fast(text, false)
            .map(|e| e.len() as u32)
            .unwrap_or(0)
    }

    /// Counts every sample of the task (in parallel, order kept) and removes those over `max`.
    /// Returns the per-sample `(input_tokens, output_tokens)` of the samples kept.
    pub fn apply(&self, tb: &mut TaskBuild, max: Option<usize>) -> Vec<(i32, i32)> {
        let counts: Vec<(u32, u32)> = tb
            .samples
            .par_iter()
            .map(|s| (self.count(&s.input), self.count(&s.output)))
            .collect();
        let before = tb.samples.len() as u64;
        let Some(max) = max else {
            tb.stages.push(("tokens".into(), before, before));
            return counts
                .into_iter()
                .map(|(a, b)| (a as i32, b as i32))
                .collect();
        };
        let samples = std::mem::take(&mut tb.samples);
        let mut kept = Vec::with_capacity(counts.len());
        for (s, (i, o)) in samples.into_iter().zip(counts) {
            if (i + o) as usize > max {
                tb.ledger.push(LedgerEntry {
                    detail: format!("{i} input + {o} output tokens > --max-tokens {max}"),
                    ..LedgerEntry::for_sample(&tb.meta, &s, "tokens", "too_long")
                });
            } else {
                tb.samples.push(s);
                kept.push((i as i32, o as i32));
            }
        }
        tb.stages
            .push(("tokens".into(), before, tb.samples.len() as u64));
        kept
    }
}

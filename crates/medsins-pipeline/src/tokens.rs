//! Token counts (`medsins build --tokenizer tokenizer.json [--max-tokens N]`).
//!
//! Counts run after every other stage, as the samples are written: `input_tokens` and
//! `output_tokens` are the lengths of `encode_fast(text, add_special_tokens = false)` of the
//! input and the output. With `max_tokens`, a sample whose `input_tokens + output_tokens`
//! exceeds it is removed (ledger stage `tokens`, reason `too_long`).

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
    pub fn load(path: &Path) -> Result<Counter, crate::BuildError> {
        let fail = |message: String| crate::BuildError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let tok = Tokenizer::from_bytes(&bytes)
            .map_err(|e| fail(format!("not a Hugging Face tokenizer.json: {e}")))?;
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

    /// `(input_tokens, output_tokens)` of every sample of a batch (in parallel, order kept).
    pub fn count_batch(&self, batch: &[medsins_core::Sample]) -> Vec<(u32, u32)> {
        batch
            .par_iter()
            .map(|s| (self.count(&s.input), self.count(&s.output)))
            .collect()
    }
}

//! Trains a byte-level BPE `tokenizer.json` on local text files, for benchmarking
//! `medsins build --tokenizer` without downloading a tokenizer (docs/benchmarks.md).
//!
//! ```sh
//! cargo run --release -p medsins-pipeline --example train_tokenizer -- \
//!     --vocab 16000 --out /tmp/tokenizer.json FILE...
//! ```

use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{
    DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper, TokenizerBuilder,
};

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut vocab = 16_000usize;
    let mut out = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--vocab" => vocab = args.next().ok_or("--vocab needs a number")?.parse()?,
            "--out" => out = args.next(),
            _ => files.push(a),
        }
    }
    let out = out.ok_or("--out PATH is required")?;
    if files.is_empty() {
        return Err("give the text files to train on".into());
    }
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab)
        .show_progress(false)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    let mut tokenizer = TokenizerBuilder::<
        BPE,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    >::new()
    .with_model(BPE::default())
    .with_pre_tokenizer(Some(PreTokenizerWrapper::ByteLevel(ByteLevel::default())))
    .with_decoder(Some(DecoderWrapper::ByteLevel(ByteLevel::default())))
    .build()?;
    let start = std::time::Instant::now();
    tokenizer.train_from_files(&mut trainer, files)?;
    tokenizer.save(&out, false)?;
    eprintln!(
        "trained a {vocab}-token BPE in {:.1}s: {out}",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

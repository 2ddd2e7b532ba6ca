//! Recall of the near-duplicate search against the exact search over every pair sharing an
//! LSH band (no bucket window, no screening), as docs/data-quality.md measures it.
//!
//! ```sh
//! cargo run --release -p medsins-quality --example near_recall -- SAMPLES.jsonl [PERMUTATIONS]
//! ```
//!
//! `SAMPLES.jsonl`: one `{"id": "<32 hex digits>", "input": …, "output": …}` a line, in task
//! order (e.g. a task's shard). Prints the samples each search flags and how many of the exact
//! search's flags the production search finds.

use medsins_core::SampleId;
use medsins_manifest::{NearDedup, NearDedupPolicy};
use medsins_quality::minhash::{MinHasher, UnionFind, jaccard, near_duplicates, sample_shingles};
use rayon::prelude::*;
use std::collections::BTreeSet;

#[derive(serde::Deserialize)]
struct Row {
    id: String,
    input: String,
    output: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let path = args
        .get(1)
        .ok_or("usage: near_recall SAMPLES.jsonl [PERMUTATIONS]")?;
    let permutations: usize = args.get(2).map_or(Ok(256), |p| p.parse())?;
    let mut rows = Vec::new();
    for (n, line) in std::fs::read_to_string(path)?.lines().enumerate() {
        let r: Row = serde_json::from_str(line).map_err(|e| format!("{path}:{}: {e}", n + 1))?;
        let id = u128::from_str_radix(&r.id, 16).map_err(|e| format!("{path}:{}: {e}", n + 1))?;
        rows.push((SampleId::from_u128(id), r.input, r.output));
    }
    let cfg = NearDedup {
        policy: NearDedupPolicy::Flag,
        permutations,
        ..NearDedup::default()
    };
    let items: Vec<(SampleId, &str, &str)> = rows
        .iter()
        .map(|(id, i, o)| (*id, i.as_str(), o.as_str()))
        .collect();
    let t = std::time::Instant::now();
    let found: BTreeSet<usize> = near_duplicates(&items, &cfg, 0)
        .into_iter()
        .map(|d| d.index)
        .collect();
    let search_secs = t.elapsed().as_secs_f64();
    // the exact search: every pair sharing a band of a 128-bin signature, compared exactly
    let sets: Vec<Vec<u64>> = rows
        .par_iter()
        .map(|(_, i, o)| sample_shingles(i, o, cfg.shingle, 0))
        .collect();
    let mh = MinHasher::new(0, "reference", 128, cfg.bands, cfg.rows);
    let mut entries: Vec<(u64, u32)> = sets
        .par_iter()
        .enumerate()
        .flat_map_iter(|(i, s)| {
            mh.band_keys(&mh.signature(s))
                .into_iter()
                .map(move |k| (k, i as u32))
        })
        .collect();
    entries.par_sort_unstable();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for bucket in entries.chunk_by(|a, b| a.0 == b.0) {
        for j in 1..bucket.len() {
            pairs.extend(bucket[..j].iter().map(|x| (x.1, bucket[j].1)));
        }
    }
    pairs.par_sort_unstable();
    pairs.dedup();
    let confirmed: Vec<(u32, u32)> = pairs
        .par_iter()
        .copied()
        .filter(|(a, b)| jaccard(&sets[*a as usize], &sets[*b as usize]) >= cfg.threshold)
        .collect();
    let mut uf = UnionFind::new(rows.len());
    for (a, b) in &confirmed {
        uf.union(*a, *b);
    }
    let mut smallest: Vec<Option<usize>> = vec![None; rows.len()];
    for i in 0..rows.len() {
        let r = uf.find(i as u32) as usize;
        if smallest[r].is_none_or(|k| rows[i].0 < rows[k].0) {
            smallest[r] = Some(i);
        }
    }
    let exact: BTreeSet<usize> = (0..rows.len())
        .filter(|i| smallest[uf.find(*i as u32) as usize] != Some(*i))
        .collect();
    println!(
        "{} samples, permutations {permutations}: search flags {} ({search_secs:.1}s); exact search: {} candidate pairs, {} confirmed, flags {}; both flag {} (recall {:.1} %), search only {}",
        rows.len(),
        found.len(),
        pairs.len(),
        confirmed.len(),
        exact.len(),
        found.intersection(&exact).count(),
        100.0 * found.intersection(&exact).count() as f64 / exact.len().max(1) as f64,
        found.difference(&exact).count()
    );
    Ok(())
}

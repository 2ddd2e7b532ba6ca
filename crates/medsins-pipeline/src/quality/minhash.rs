//! MinHash over word shingles, LSH banding, exact Jaccard, and the near-duplicate stage.
//!
//! Words are maximal runs of alphanumeric characters, lower-cased; a shingle is `k` consecutive
//! words (a text of fewer than `k` words is one shingle of all its words). Shingles are hashed
//! with xxh3 seeded from the build seed; each of the `permutations` hash functions is
//! `a·x + b` (mod 2^64, `a` odd) over the shingle hash `x`, with `a`, `b` derived from the seed.
//! Candidates share one band (`rows` consecutive signature values); every candidate pair is
//! confirmed by the exact Jaccard similarity of the two shingle sets. Everything is ordered by
//! sample position or id, never by hash-map iteration, so results do not depend on threads.

use crate::stages::{Stage, TaskContext};
use medsins_core::{LedgerEntry, Sample};
use medsins_manifest::{NearDedup, NearDedupPolicy};
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Lower-cased alphanumeric words of a text.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect()
}

/// Sorted, deduplicated hashes of the `k`-word shingles of `words`, tagged by field (so an
/// input shingle never equals an output shingle). Empty for a text without words.
pub fn shingles_into(out: &mut Vec<u64>, words: &[String], k: usize, seed: u64, tag: u8) {
    if words.is_empty() {
        return;
    }
    let k = k.max(1).min(words.len());
    let mut buf = Vec::new();
    for w in words.windows(k) {
        buf.clear();
        buf.push(tag);
        for x in w {
            buf.extend_from_slice(x.as_bytes());
            buf.push(0);
        }
        out.push(xxh3_64_with_seed(&buf, seed));
    }
}

pub fn finish_set(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v.dedup();
    v
}

/// Shingle set of one text.
pub fn text_shingles(text: &str, k: usize, seed: u64) -> Vec<u64> {
    let mut v = Vec::new();
    shingles_into(&mut v, &words(text), k, seed, b'i');
    finish_set(v)
}

/// Shingle set of a sample: input and output (never the instruction).
pub fn sample_shingles(input: &str, output: &str, k: usize, seed: u64) -> Vec<u64> {
    let mut v = Vec::new();
    shingles_into(&mut v, &words(input), k, seed, b'i');
    shingles_into(&mut v, &words(output), k, seed, b'o');
    finish_set(v)
}

/// Exact Jaccard similarity of two sorted sets.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    inter as f64 / (a.len() + b.len() - inter) as f64
}

/// Rounded to 4 decimals for the ledger.
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51afd7ed558ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ceb9fe1a85ec53);
    k ^ (k >> 33)
}

/// `permutations` seeded hash functions and the band layout.
#[derive(Debug, Clone)]
pub struct MinHasher {
    keys: Vec<(u64, u64)>,
    pub bands: usize,
    pub rows: usize,
}

impl MinHasher {
    pub fn new(
        seed: u64,
        purpose: &str,
        permutations: usize,
        bands: usize,
        rows: usize,
    ) -> MinHasher {
        let base = xxh3_64_with_seed(purpose.as_bytes(), seed);
        let keys = (0..permutations.max(bands * rows).max(1) as u64)
            .map(|i| {
                let k = fmix64(base ^ fmix64(i.wrapping_add(0x9e3779b97f4a7c15)));
                (fmix64(k) | 1, fmix64(k ^ 0x5bd1e995))
            })
            .collect();
        MinHasher {
            keys,
            bands: bands.max(1),
            rows: rows.max(1),
        }
    }

    pub fn signature(&self, set: &[u64]) -> Vec<u64> {
        let mut sig = vec![u64::MAX; self.keys.len()];
        for x in set {
            for (m, (a, b)) in sig.iter_mut().zip(&self.keys) {
                let h = a.wrapping_mul(*x).wrapping_add(*b);
                if h < *m {
                    *m = h;
                }
            }
        }
        sig
    }

    /// One key per band (the band number is part of the key).
    pub fn band_keys(&self, sig: &[u64]) -> Vec<u64> {
        (0..self.bands)
            .map(|b| {
                let mut buf = Vec::with_capacity(8 * (self.rows + 1));
                buf.extend_from_slice(&(b as u64).to_le_bytes());
                for v in &sig[b * self.rows..(b + 1) * self.rows] {
                    buf.extend_from_slice(&v.to_le_bytes());
                }
                xxh3_64_with_seed(&buf, 0)
            })
            .collect()
    }
}

/// Buckets larger than this compare each member with the bucket's first and previous member
/// only (not all pairs), bounding the work on heavily repeated texts.
pub const FULL_PAIRS_BUCKET: usize = 100;

/// Candidate pairs `(i, j)`, `i < j`, sorted and unique, from items' band keys.
pub fn candidate_pairs(band_keys: &[Vec<u64>]) -> Vec<(u32, u32)> {
    let mut entries: Vec<(u64, u32)> = band_keys
        .iter()
        .enumerate()
        .flat_map(|(i, ks)| ks.iter().map(move |k| (*k, i as u32)))
        .collect();
    entries.sort_unstable();
    let mut pairs = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let mut end = start + 1;
        while end < entries.len() && entries[end].0 == entries[start].0 {
            end += 1;
        }
        let m: Vec<u32> = entries[start..end].iter().map(|e| e.1).collect();
        if m.len() <= FULL_PAIRS_BUCKET {
            for a in 0..m.len() {
                for b in a + 1..m.len() {
                    pairs.push((m[a], m[b]));
                }
            }
        } else {
            for b in 1..m.len() {
                pairs.push((m[0], m[b]));
                if b > 1 {
                    pairs.push((m[b - 1], m[b]));
                }
            }
        }
        start = end;
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
}

/// Union-find with path halving.
pub struct UnionFind(Vec<u32>);

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind((0..n as u32).collect())
    }
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            let p = self.0[self.0[x as usize] as usize];
            self.0[x as usize] = p;
            x = p;
        }
        x
    }
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi as usize] = lo;
        }
    }
}

/// A near-duplicate found in a task: sample `index` is a near-duplicate of `representative`.
#[derive(Debug, Clone, PartialEq)]
pub struct NearDuplicate {
    pub index: usize,
    pub representative: usize,
    pub similarity: f64,
    pub cluster_size: usize,
}

/// Clusters of near-duplicates among `(id, input, output)` items. Every member other than the
/// representative (smallest id) of each cluster is returned, in item order.
pub fn near_duplicates(
    items: &[(&str, &str, &str)],
    cfg: &NearDedup,
    seed: u64,
) -> Vec<NearDuplicate> {
    let t0 = std::time::Instant::now();
    let sets: Vec<Vec<u64>> = items
        .par_iter()
        .map(|(_, i, o)| sample_shingles(i, o, cfg.shingle, seed))
        .collect();
    let t1 = t0.elapsed().as_secs_f64();
    let mh = MinHasher::new(seed, "near_dedup", cfg.permutations, cfg.bands, cfg.rows);
    let keys: Vec<Vec<u64>> = sets
        .par_iter()
        .map(|s| {
            if s.is_empty() {
                Vec::new()
            } else {
                mh.band_keys(&mh.signature(s))
            }
        })
        .collect();
    let t2 = t0.elapsed().as_secs_f64();
    let pairs = candidate_pairs(&keys);
    let t3 = t0.elapsed().as_secs_f64();
    // Confirm in chunks, skipping pairs already joined: the clusters are the same as when every
    // pair is confirmed (connectivity does not depend on order), with far fewer comparisons.
    let mut uf = UnionFind::new(items.len());
    let mut confirmed = 0usize;
    for chunk in pairs.chunks(4096) {
        let todo: Vec<(u32, u32)> = chunk
            .iter()
            .copied()
            .filter(|(a, b)| uf.find(*a) != uf.find(*b))
            .collect();
        let ok: Vec<(u32, u32)> = todo
            .par_iter()
            .filter(|(a, b)| jaccard(&sets[*a as usize], &sets[*b as usize]) >= cfg.threshold)
            .copied()
            .collect();
        confirmed += ok.len();
        for (a, b) in ok {
            uf.union(a, b);
        }
    }
    log::debug!(
        "near_dedup: {} samples, {} candidate pairs, {} confirmed; shingles {t1:.3}s, signatures {:.3}s, pairs {:.3}s, jaccard {:.3}s",
        items.len(),
        pairs.len(),
        confirmed,
        t2 - t1,
        t3 - t2,
        t0.elapsed().as_secs_f64() - t3
    );
    if confirmed == 0 {
        return Vec::new();
    }
    // representative and size per root
    let mut rep: Vec<Option<usize>> = vec![None; items.len()];
    let mut size = vec![0usize; items.len()];
    for i in 0..items.len() {
        let r = uf.find(i as u32) as usize;
        size[r] += 1;
        match rep[r] {
            Some(cur) if items[cur].0 <= items[i].0 => {}
            _ => rep[r] = Some(i),
        }
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let r = uf.find(i as u32) as usize;
        let Some(k) = rep[r] else { continue };
        if size[r] > 1 && k != i {
            out.push(NearDuplicate {
                index: i,
                representative: k,
                similarity: round4(jaccard(&sets[i], &sets[k])),
                cluster_size: size[r],
            });
        }
    }
    out
}

/// The near-duplicate stage (after exact dedup): `remove` drops every cluster member but the
/// representative (ledger `near_duplicate`); `flag` keeps them and writes a ledger entry
/// `near_duplicate_flag`; `off` does nothing.
pub struct NearDedupStage(pub NearDedup);

impl Stage for NearDedupStage {
    fn name(&self) -> &'static str {
        "near_dedup"
    }
    fn run(
        &self,
        cx: &TaskContext,
        samples: Vec<Sample>,
        ledger: &mut Vec<LedgerEntry>,
    ) -> Vec<Sample> {
        let cfg = &self.0;
        if cfg.policy == NearDedupPolicy::Off || samples.len() < 2 {
            return samples;
        }
        let items: Vec<(&str, &str, &str)> = samples
            .iter()
            .map(|s| (s.id.as_str(), s.input.as_str(), s.output.as_str()))
            .collect();
        let found = near_duplicates(&items, cfg, cx.seed);
        if found.is_empty() {
            return samples;
        }
        let remove = cfg.policy == NearDedupPolicy::Remove;
        let reason = if remove {
            "near_duplicate"
        } else {
            "near_duplicate_flag"
        };
        let mut drop = vec![false; samples.len()];
        for d in &found {
            let s = &samples[d.index];
            let kept = &samples[d.representative].id;
            let detail = format!(
                "Jaccard {:.4} with {kept} over input+output word {}-shingles (cluster of {}, threshold {})",
                d.similarity, cfg.shingle, d.cluster_size, cfg.threshold
            );
            let mut e = cx.removal(s, self.name(), reason, Some(kept), detail);
            e.similarity = Some(d.similarity);
            ledger.push(e);
            drop[d.index] = remove;
        }
        samples
            .into_iter()
            .zip(drop)
            .filter(|(_, d)| !d)
            .map(|(s, _)| s)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(policy: NearDedupPolicy) -> NearDedup {
        NearDedup {
            policy,
            ..NearDedup::default()
        }
    }

    #[test]
    fn words_and_shingles() {
        assert_eq!(words("The  cat, sat!"), ["the", "cat", "sat"]);
        assert_eq!(
            text_shingles("a b c", 5, 0).len(),
            1,
            "short text is one shingle"
        );
        assert_eq!(text_shingles("a b c d e f", 5, 0).len(), 2);
        assert!(text_shingles("...", 5, 0).is_empty());
        // input and output shingles never coincide
        assert_eq!(sample_shingles("x y", "x y", 5, 0).len(), 2);
    }

    #[test]
    fn jaccard_is_exact() {
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard(&[], &[]), 1.0);
        assert_eq!(jaccard(&[1], &[]), 0.0);
    }

    #[test]
    fn signatures_estimate_jaccard_and_depend_on_seed() {
        let a: Vec<u64> = (0..200).collect();
        let b: Vec<u64> = (20..220).collect(); // J = 180/220
        let mh = MinHasher::new(7, "t", 128, 16, 8);
        let (sa, sb) = (mh.signature(&a), mh.signature(&b));
        let est = sa.iter().zip(&sb).filter(|(x, y)| x == y).count() as f64 / 128.0;
        assert!((est - 180.0 / 220.0).abs() < 0.15, "{est}");
        assert_ne!(MinHasher::new(8, "t", 128, 16, 8).signature(&a), sa);
    }

    #[test]
    fn one_word_changed_is_a_near_duplicate_with_smallest_id_kept() {
        let long = "the patient was admitted with chest pain and shortness of breath after climbing two flights of stairs at home yesterday evening";
        let changed = long.replace("evening", "morning");
        let items = vec![
            ("b2", long, "angina"),
            ("a1", changed.as_str(), "angina"),
            (
                "c3",
                "an unrelated question about vaccines for children",
                "no",
            ),
        ];
        let found = near_duplicates(&items, &cfg(NearDedupPolicy::Remove), 0);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].index, 0);
        assert_eq!(found[0].representative, 1);
        assert!(found[0].similarity >= 0.8 && found[0].similarity < 1.0);
        // deterministic whatever the pool size
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(
            pool.install(|| near_duplicates(&items, &cfg(NearDedupPolicy::Remove), 0)),
            found
        );
    }

    #[test]
    fn union_find_merges_transitively_to_smallest() {
        let mut uf = UnionFind::new(4);
        uf.union(3, 2);
        uf.union(2, 1);
        assert_eq!(uf.find(3), 1);
        assert_ne!(uf.find(0), 1);
    }

    #[test]
    fn big_buckets_still_pair_every_member() {
        let keys: Vec<Vec<u64>> = (0..150).map(|_| vec![42]).collect();
        let p = candidate_pairs(&keys);
        assert!(p.contains(&(0, 149)) && p.contains(&(148, 149)));
        assert!(p.len() < 150 * 2);
    }
}

//! MinHash over word shingles, LSH banding, exact Jaccard, and the near-duplicate pass.
//!
//! Words are maximal runs of alphanumeric characters, lower-cased; a shingle is `k` consecutive
//! words (a text of fewer than `k` words is one shingle of all its words). Each word is hashed
//! once (xxh3), and a shingle's hash combines its words' hashes, seeded from the build seed.
//! Signatures are one-permutation MinHash with optimal densification (Shrivastava, ICML 2017):
//! a shingle hash falls into one of `permutations` bins and each bin keeps its smallest hash;
//! an empty bin borrows the value of a bin drawn by a seeded hash of (bin, attempt). This costs
//! one hash per shingle instead of one per shingle and permutation, and keeps MinHash's
//! collision probability (two signatures agree in a bin with probability ≈ Jaccard).
//! Candidates share one band (`rows` consecutive signature values); every candidate pair is
//! confirmed by the exact Jaccard similarity of the two shingle sets. Everything is ordered by
//! sample position or id, never by hash-map iteration, so results do not depend on threads.

use crate::stages::TaskContext;
use medsins_core::Sample;
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

/// Calls `f` with every lower-cased word of `text` (the words of [`words`]), in order, as
/// bytes. ASCII is scanned byte by byte without decoding or allocating; a word with any
/// non-ASCII character is lower-cased by Unicode rules.
pub fn for_each_word(text: &str, mut f: impl FnMut(&[u8])) {
    let bytes = text.as_bytes();
    let mut buf: Vec<u8> = Vec::with_capacity(64);
    let mut start: Option<usize> = None;
    let mut ascii = true;
    let mut i = 0usize;
    let mut flush = |from: usize, to: usize, ascii: bool, buf: &mut Vec<u8>| {
        let w = &text[from..to];
        if ascii {
            buf.clear();
            buf.extend_from_slice(w.as_bytes());
            buf.make_ascii_lowercase();
            f(buf);
        } else {
            f(w.to_lowercase().as_bytes());
        }
    };
    while i < bytes.len() {
        let b = bytes[i];
        let (alnum, len) = if b < 0x80 {
            (b.is_ascii_alphanumeric(), 1)
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            (c.is_alphanumeric(), c.len_utf8())
        };
        if alnum {
            if start.is_none() {
                start = Some(i);
                ascii = true;
            }
            ascii &= b < 0x80;
        } else if let Some(s0) = start.take() {
            flush(s0, i, ascii, &mut buf);
        }
        i += len;
    }
    if let Some(s0) = start {
        flush(s0, bytes.len(), ascii, &mut buf);
    }
}

/// Appends the hashes of the `k`-word shingles of `text`, tagged by field (so an input shingle
/// never equals an output shingle). Nothing for a text without words. A shingle's hash is a
/// polynomial of its words' hashes, updated in O(1) from one shingle to the next, then mixed
/// with the seed and the tag.
pub fn shingles_into(out: &mut Vec<u64>, text: &str, k: usize, seed: u64, tag: u8) {
    scan_into(out, text, k, seed, tag);
}

/// [`shingles_into`], also returning the leakage pass's exact key of the text (the hash of its
/// lower-cased words joined by spaces, seeded by `seed`; `None` without words): one scan of
/// the words serves both.
pub fn scan_into(out: &mut Vec<u64>, text: &str, k: usize, seed: u64, tag: u8) -> Option<u64> {
    const P: u64 = 0x100000001b3_u64.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    let mut w: Vec<u64> = Vec::new();
    let mut key = xxhash_rust::xxh3::Xxh3::with_seed(seed);
    for_each_word(text, |word| {
        if !w.is_empty() {
            key.update(b" ");
        }
        key.update(word);
        w.push(xxh3_64_with_seed(word, 0));
    });
    if w.is_empty() {
        return None;
    }
    let k = k.max(1).min(w.len());
    let salt = fmix64(seed ^ (tag as u64).wrapping_mul(0xc2b2ae3d27d4eb4f));
    // P^(k-1), the weight of the word leaving the window
    let top = (1..k).fold(1u64, |acc, _| acc.wrapping_mul(P));
    let mut h = w[..k]
        .iter()
        .fold(0u64, |acc, x| acc.wrapping_mul(P).wrapping_add(*x));
    out.reserve(w.len() + 1 - k);
    out.push(fmix64(h ^ salt));
    for i in k..w.len() {
        h = h
            .wrapping_sub(w[i - k].wrapping_mul(top))
            .wrapping_mul(P)
            .wrapping_add(w[i]);
        out.push(fmix64(h ^ salt));
    }
    Some(key.digest())
}

pub fn finish_set(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v.dedup();
    v
}

/// The shingle hashes of a sample's input and output, unsorted and with repeats: enough for a
/// signature (a minimum does not care), at the cost of no sort.
pub fn sample_shingle_hashes(input: &str, output: &str, k: usize, seed: u64) -> Vec<u64> {
    let mut v = Vec::new();
    shingles_into(&mut v, input, k, seed, b'i');
    shingles_into(&mut v, output, k, seed, b'o');
    v
}

/// Shingle set of one text.
pub fn text_shingles(text: &str, k: usize, seed: u64) -> Vec<u64> {
    let mut v = Vec::new();
    shingles_into(&mut v, text, k, seed, b'i');
    finish_set(v)
}

/// Shingle set of a sample: input and output (never the instruction).
pub fn sample_shingles(input: &str, output: &str, k: usize, seed: u64) -> Vec<u64> {
    let mut v = Vec::new();
    shingles_into(&mut v, input, k, seed, b'i');
    shingles_into(&mut v, output, k, seed, b'o');
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

/// Seeded one-permutation MinHash signatures and their LSH band keys.
#[derive(Debug, Clone)]
pub struct MinHasher {
    key: u64,
    pub bins: usize,
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
        MinHasher {
            key: xxh3_64_with_seed(purpose.as_bytes(), seed),
            bins: permutations.max(bands * rows).max(1),
            bands: bands.max(1),
            rows: rows.max(1),
        }
    }

    fn bin_of(&self, h: u64) -> usize {
        ((h as u128 * self.bins as u128) >> 64) as usize
    }

    /// The signature of a shingle set (`permutations` values); empty for an empty set. Order
    /// and repeats do not matter (each bin keeps a minimum).
    pub fn signature(&self, set: &[u64]) -> Vec<u64> {
        if set.is_empty() {
            return Vec::new();
        }
        let mut sig = vec![u64::MAX; self.bins];
        for x in set {
            let h = fmix64(x ^ self.key);
            let b = self.bin_of(h);
            if h < sig[b] {
                sig[b] = h;
            }
        }
        // optimal densification: an empty bin takes the value of the first non-empty bin
        // that its own seeded sequence of draws hits
        let filled = sig.clone();
        for (j, v) in sig.iter_mut().enumerate() {
            if *v != u64::MAX {
                continue;
            }
            let mut attempt = 0u64;
            loop {
                let d = self.bin_of(fmix64(
                    self.key ^ ((j as u64) << 32 | attempt).wrapping_mul(0x9e3779b97f4a7c15),
                ));
                if filled[d] != u64::MAX {
                    *v = filled[d];
                    break;
                }
                attempt += 1;
            }
        }
        sig
    }

    /// One key per band (the band number is part of the key).
    pub fn band_keys(&self, sig: &[u64]) -> Vec<u64> {
        if sig.is_empty() {
            return Vec::new();
        }
        let mut buf = Vec::with_capacity(8 * (self.rows + 1));
        (0..self.bands)
            .map(|b| {
                buf.clear();
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

/// Candidate pairs `(i, j)`, `i < j`, sorted and unique, from `(band key, item)` entries.
/// Band keys are stored in 32 bits: a false candidate from a truncated key is rejected by the
/// exact Jaccard confirmation like any other.
pub fn candidate_pairs(mut entries: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
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

/// Shingle sets at least this large have signatures dense enough for the estimate that
/// screens candidate pairs before the exact Jaccard (smaller ones are always compared exactly).
pub(crate) const SCREEN_MIN_SHINGLES: u32 = 128;
/// Candidates whose estimated similarity is this far from the threshold are decided by the
/// estimate alone: with 128 bins its standard deviation is at most ≈ 0.035 near the
/// threshold (measured: +0.02 ± 0.03 on synthetic EHR rows), so 0.15 is over 4 standard
/// deviations (p < 1e-5 of a wrong decision for a pair at the threshold).
pub(crate) const SCREEN_MARGIN: f64 = 0.15;

/// One byte of each signature bin (the low byte: the high bits of a bin's value are set by the
/// bin itself). Two signatures' bytes agree where their bins do, plus 1/256 by chance.
pub fn signature_bytes(sig: &[u64], bins: usize) -> Vec<u8> {
    if sig.is_empty() {
        return vec![0u8; bins];
    }
    sig.iter().map(|v| *v as u8).collect()
}

/// The share of agreeing bytes of two signatures: an estimate of their sets' Jaccard.
pub fn estimate(x: &[u8], y: &[u8]) -> f64 {
    // in blocks of 32 bytes summed as bytes, so the comparison vectorises
    let same: u32 = x
        .chunks(32)
        .zip(y.chunks(32))
        .map(|(p, q)| p.iter().zip(q).map(|(u, v)| (u == v) as u8).sum::<u8>() as u32)
        .sum();
    same as f64 / x.len().max(1) as f64
}

/// The per-task near-duplicate state, kept while the task's samples stream to their store:
/// every sample's signature, each bin truncated to one byte (128 bytes a sample by default),
/// and its shingle count. Band keys are hashed from the truncated bins (a chance agreement of
/// all 8 bins of a band has probability 2^-64); the bytes also estimate the Jaccard similarity
/// of a candidate pair (a chance agreement adds 1/256 at most), which screens out the many
/// candidates far below the threshold before the exact comparison reads their texts.
pub struct NearIndex {
    pub cfg: NearDedup,
    mh: MinHasher,
    seed: u64,
    /// `bins` bytes per sample (all zero for a sample without words: `sizes[i] == 0`).
    sigs: Vec<u8>,
    sizes: Vec<u32>,
}

impl NearIndex {
    pub fn new(cfg: &NearDedup, seed: u64) -> NearIndex {
        NearIndex {
            mh: MinHasher::new(seed, "near_dedup", cfg.permutations, cfg.bands, cfg.rows),
            cfg: cfg.clone(),
            seed,
            sigs: Vec::new(),
            sizes: Vec::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.cfg.policy != NearDedupPolicy::Off
    }

    /// Signs a batch of samples (in parallel), appended in order.
    pub fn add(&mut self, batch: &[Sample]) {
        let (k, seed) = (self.cfg.shingle, self.seed);
        let hashes: Vec<Vec<u64>> = batch
            .par_iter()
            .map(|s| sample_shingle_hashes(&s.input, &s.output, k, seed))
            .collect();
        self.add_hashes(&hashes);
    }

    /// Signs samples given their input and output shingle hashes (unsorted, with repeats).
    pub fn add_hashes(&mut self, hashes: &[Vec<u64>]) {
        let (mh, bins) = (&self.mh, self.mh.bins);
        let sigs: Vec<(u32, Vec<u8>)> = hashes
            .par_iter()
            .map(|h| (h.len() as u32, signature_bytes(&mh.signature(h), bins)))
            .collect();
        for (n, bytes) in sigs {
            self.sizes.push(n);
            self.sigs.extend(bytes);
        }
    }

    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    fn sig(&self, i: usize) -> &[u8] {
        &self.sigs[i * self.mh.bins..(i + 1) * self.mh.bins]
    }

    /// The estimated similarity of a pair, when both signatures are dense enough to trust it.
    fn estimate(&self, a: usize, b: usize) -> Option<f64> {
        if self.sizes[a].min(self.sizes[b]) < SCREEN_MIN_SHINGLES {
            return None;
        }
        Some(estimate(self.sig(a), self.sig(b)))
    }

    /// Clusters of near-duplicates among the samples added, in order; `ids` are their ids
    /// (the representative of a cluster is its smallest id); `load` reads the `(input,
    /// output)` of samples by position (from the task's store) for the exact comparisons of
    /// the pairs the screening leaves. Every member other than the representative of each
    /// cluster is returned, in task order.
    pub fn find<K: Ord>(
        &self,
        ids: &[K],
        load: &(dyn Fn(&[usize]) -> Result<Vec<(String, String)>, String> + Sync),
    ) -> Result<Vec<NearDuplicate>, String> {
        let n = self.len();
        if !self.enabled() || n < 2 {
            return Ok(Vec::new());
        }
        let (bands, rows) = (self.mh.bands, self.mh.rows);
        let entries: Vec<(u32, u32)> = (0..n)
            .into_par_iter()
            .filter(|i| self.sizes[*i] > 0)
            .flat_map_iter(|i| {
                let sig = self.sig(i);
                (0..bands).map(move |b| {
                    let band = &sig[b * rows..(b + 1) * rows];
                    (xxh3_64_with_seed(band, b as u64) as u32, i as u32)
                })
            })
            .collect();
        let t0 = std::time::Instant::now();
        let pairs = candidate_pairs(entries);
        let candidates = pairs.len();
        let t_pairs = t0.elapsed().as_secs_f64();
        let threshold = self.cfg.threshold;
        let (k, seed) = (self.cfg.shingle, self.seed);
        let sets_of =
            |idx: &[usize]| -> Result<std::collections::HashMap<usize, Vec<u64>>, String> {
                let texts = load(idx)?;
                Ok(idx
                    .par_iter()
                    .zip(texts.par_iter())
                    .map(|(i, (a, b))| (*i, sample_shingles(a, b, k, seed)))
                    .collect())
            };
        // Confirm in chunks, skipping pairs already joined: the clusters are the same as when
        // every pair is confirmed (connectivity does not depend on order), with far fewer
        // comparisons; only one chunk's texts are loaded at a time.
        // Screen by the estimate: far below the threshold, rejected; far above, accepted; in
        // between, compared exactly. The most similar pairs go first, so the clusters form
        // early and most later pairs join two samples already together (no comparison).
        // Cluster membership does not depend on this order, only the work does.
        let (lo, hi) = (threshold - SCREEN_MARGIN, threshold + SCREEN_MARGIN);
        let mut screened: Vec<(u32, u32, u32, bool)> = pairs
            .into_par_iter()
            .filter_map(|(a, b)| match self.estimate(a as usize, b as usize) {
                Some(e) if e < lo => None,
                Some(e) => Some((u32::MAX - (e * 1e6) as u32, a, b, e >= hi)),
                None => Some((u32::MAX, a, b, false)),
            })
            .collect();
        screened.par_sort_unstable();
        let mut uf = UnionFind::new(n);
        let mut confirmed = 0usize;
        let mut compared = 0usize;
        for chunk in screened.chunks(4096) {
            let mut todo: Vec<(u32, u32)> = Vec::new();
            for &(_, a, b, accept) in chunk {
                if uf.find(a) == uf.find(b) {
                    continue;
                }
                if accept {
                    confirmed += 1;
                    uf.union(a, b);
                } else {
                    todo.push((a, b));
                }
            }
            // pairs joined by the accepted ones need no comparison
            todo.retain(|(a, b)| uf.find(*a) != uf.find(*b));
            compared += todo.len();
            if todo.is_empty() {
                continue;
            }
            let mut need: Vec<usize> = todo
                .iter()
                .flat_map(|(a, b)| [*a as usize, *b as usize])
                .collect();
            need.sort_unstable();
            need.dedup();
            let sets = sets_of(&need)?;
            let ok: Vec<(u32, u32)> = todo
                .par_iter()
                .filter(|(a, b)| jaccard(&sets[&(*a as usize)], &sets[&(*b as usize)]) >= threshold)
                .copied()
                .collect();
            confirmed += ok.len();
            for (a, b) in ok {
                uf.union(a, b);
            }
        }
        log::debug!(
            "near_dedup: {n} samples, {candidates} candidate pairs ({t_pairs:.2}s), {} after screening, {compared} compared exactly, {confirmed} confirmed ({:.2}s)",
            screened.len(),
            t0.elapsed().as_secs_f64() - t_pairs
        );
        if confirmed == 0 {
            return Ok(Vec::new());
        }
        // representative and size per root
        let mut rep: Vec<Option<usize>> = vec![None; n];
        let mut size = vec![0usize; n];
        for i in 0..n {
            let r = uf.find(i as u32) as usize;
            size[r] += 1;
            match rep[r] {
                Some(cur) if ids[cur] <= ids[i] => {}
                _ => rep[r] = Some(i),
            }
        }
        let mut members: Vec<(usize, usize, usize)> = Vec::new();
        for i in 0..n {
            let r = uf.find(i as u32) as usize;
            let Some(k) = rep[r] else { continue };
            if size[r] > 1 && k != i {
                members.push((i, k, size[r]));
            }
        }
        let mut out = Vec::with_capacity(members.len());
        for chunk in members.chunks(2048) {
            let mut need: Vec<usize> = chunk.iter().flat_map(|m| [m.0, m.1]).collect();
            need.sort_unstable();
            need.dedup();
            let sets = sets_of(&need)?;
            out.extend(chunk.iter().map(|&(i, k, size)| NearDuplicate {
                index: i,
                representative: k,
                similarity: round4(jaccard(&sets[&i], &sets[&k])),
                cluster_size: size,
            }));
        }
        Ok(out)
    }
}

/// Near-duplicate clusters among in-memory `(id, input, output)` items (tests and tools).
pub fn near_duplicates(
    items: &[(&str, &str, &str)],
    cfg: &NearDedup,
    seed: u64,
) -> Vec<NearDuplicate> {
    let mut idx = NearIndex::new(cfg, seed);
    let samples: Vec<Sample> = items
        .iter()
        .map(|(id, i, o)| Sample {
            id: id.to_string(),
            input: i.to_string(),
            output: o.to_string(),
            ..Sample::default()
        })
        .collect();
    let ids: Vec<&str> = items.iter().map(|x| x.0).collect();
    idx.add(&samples);
    let load = |pos: &[usize]| -> Result<Vec<(String, String)>, String> {
        Ok(pos
            .iter()
            .map(|p| (items[*p].1.to_string(), items[*p].2.to_string()))
            .collect())
    };
    idx.find(&ids, &load).unwrap_or_default()
}

/// The ledger entry of a near-duplicate (`near_duplicate` when the policy removes it,
/// `near_duplicate_flag` when it only flags it).
pub fn near_entry(
    cx: &TaskContext,
    cfg: &NearDedup,
    s: &Sample,
    kept: &str,
    d: &NearDuplicate,
) -> medsins_core::LedgerEntry {
    let reason = if cfg.policy == NearDedupPolicy::Remove {
        "near_duplicate"
    } else {
        "near_duplicate_flag"
    };
    let detail = format!(
        "Jaccard {:.4} with {kept} over input+output word {}-shingles (cluster of {}, threshold {})",
        d.similarity, cfg.shingle, d.cluster_size, cfg.threshold
    );
    let mut e = cx.removal(s, "near_dedup", reason, Some(kept), detail);
    e.similarity = Some(d.similarity);
    e
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
        // the byte scanner finds the same words as the char split, Unicode included
        for t in [
            "The  cat, sat!",
            "Ärzte-Café ÖL x²y 3.5mg",
            "日本語テキスト、です。",
            "",
            "a",
            "İstanbul ǅ",
        ] {
            let mut got: Vec<String> = Vec::new();
            for_each_word(t, |w| got.push(String::from_utf8(w.to_vec()).unwrap()));
            assert_eq!(got, words(t), "{t}");
        }
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
        // small sets are densified: every bin is filled, and the estimate still holds
        let (c, d): (Vec<u64>, Vec<u64>) = ((0..10).collect(), (1..11).collect()); // J = 9/11
        let (sc, sd) = (mh.signature(&c), mh.signature(&d));
        assert!(sc.iter().all(|v| *v != u64::MAX));
        let est = sc.iter().zip(&sd).filter(|(x, y)| x == y).count() as f64 / 128.0;
        assert!((est - 9.0 / 11.0).abs() < 0.2, "{est}");
        assert!(mh.signature(&[]).is_empty());
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
        let p = candidate_pairs((0..150).map(|i| (42, i)).collect());
        assert!(p.contains(&(0, 149)) && p.contains(&(148, 149)));
        assert!(p.len() < 150 * 2);
    }
}

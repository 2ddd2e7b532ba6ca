//! MinHash over word shingles, LSH banding, exact Jaccard, and the near-duplicate pass.
//!
//! Text units ("words") are Unicode words, lower-cased, with runs of Han, Kana and Hangul cut
//! into characters ([`for_each_word`]); a shingle is `k` consecutive units (a text of fewer
//! than `k` units is one shingle of all its units). Each word is hashed
//! once (xxh3), and a shingle's hash combines its words' hashes, seeded from the build seed.
//! Signatures are one-permutation MinHash with optimal densification (Shrivastava, ICML 2017):
//! a shingle hash falls into one of `permutations` bins and each bin keeps its smallest hash;
//! an empty bin borrows the value of a bin drawn by a seeded hash of (bin, attempt). This costs
//! one hash per shingle instead of one per shingle and permutation, and keeps MinHash's
//! collision probability (two signatures agree in a bin with probability ≈ Jaccard).
//! Candidates share one band (`rows` consecutive signature values); every candidate pair is
//! confirmed by the exact Jaccard similarity of the two shingle sets. Everything is ordered by
//! sample position or id, never by hash-map iteration, so results do not depend on threads.

use medsins_core::{Sample, SampleId};
use medsins_manifest::{NearDedup, NearDedupPolicy};
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Lower-cased text units of a text (see [`for_each_word`]).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |w| out.push(String::from_utf8_lossy(w).into_owned()));
    out
}

/// Characters of the scripts written without spaces between words (Han, Hiragana, Katakana)
/// and of Hangul: their runs are compared as characters (docs/data-quality.md, "Text units").
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3005..=0x3007            // 々 〆 〇
        | 0x3021..=0x3029 | 0x3038..=0x303B
        | 0x3041..=0x309F          // Hiragana (and its voicing marks)
        | 0x30A0..=0x30FA | 0x30FC..=0x30FF // Katakana, without the middle dot ・
        | 0x31F0..=0x31FF          // Katakana phonetic extensions
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF // CJK ideographs
        | 0x20000..=0x3134F        // CJK ideographs, extensions B–H
        | 0xFF66..=0xFF9F          // half-width Katakana
        | 0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7FF // Hangul
    )
}

/// Characters per unit inside a CJK run: 1, each character is a unit.
pub const CJK_UNIT_CHARS: usize = 1;

/// The shingle length of a text most of whose units are CJK characters, for `k`-word
/// shingles elsewhere: ⌈k/2⌉ (3 characters for the default 5). A character carries about
/// half a word: measured on 40 planted pairs of 60-character Chinese sentences differing in
/// one character (test `cjk_shingle_length_measured`), shingles of 2, 3, 4, 5 and 6
/// characters give a smallest Jaccard of 0.91, 0.89, 0.86, 0.83 and 0.80 within pairs, and
/// at most 0.26, 0.09, 0.05, 0.03 and 0.02 between distinct sentences of the same
/// vocabulary. At 5 characters one pair in 40 escaped the 16 × 8 LSH bands (0.83 is a
/// candidate with probability 0.98); at 3 a pair is one with probability 0.9997, and
/// distinct sentences share few 3-character shingles, where bigrams share a quarter.
pub fn cjk_shingle(k: usize) -> usize {
    k.div_ceil(2)
}

/// Whether a unit of [`for_each_word`] is a CJK character.
fn is_cjk_unit(unit: &[u8]) -> bool {
    unit.first().is_some_and(|b| *b >= 0xE1)
        && std::str::from_utf8(unit)
            .ok()
            .and_then(|s| s.chars().next())
            .is_some_and(is_cjk)
}

/// Calls `f` with every lower-cased text unit of `text`, in order, as bytes:
///
/// - words by Unicode word segmentation (UAX #29, the `unicode-segmentation` crate) that hold
///   a letter or a digit, lower-cased — so `don't`, `3.5`, `1,000`, `e.g` and `snake_case`
///   are one word each;
/// - inside a word, every run of [`is_cjk`] characters (even across word boundaries: UAX #29
///   makes each Han character a word of its own) is cut into units of [`CJK_UNIT_CHARS`]
///   characters, since Chinese and Japanese put no spaces between words; the rest of such a
///   word (e.g. `CT` in `CT검사`) is a word of its own.
///
/// ASCII text takes a byte scanner that applies the same UAX #29 rules (letters, digits, `_`
/// join; `'`, `.` and `:` join two letters; `'`, `.`, `,` and `;` join two digits) without
/// decoding or allocating; a test checks it against the crate on random ASCII.
pub fn for_each_word(text: &str, f: impl FnMut(&[u8])) {
    for_each_unit(text, CJK_UNIT_CHARS, f)
}

/// ASCII text goes to [`ascii_words`]; other text is cut at every space followed by an ASCII
/// byte other than a space, where no UAX #29 rule looks across (each rule looks past its break
/// only through letters, digits, joiners, extenders or further spaces), and only the pieces
/// holding a non-ASCII character go to [`segmented_units`]: a sentence with one `µg` or `é`
/// costs the segmenter one word, not the whole text. Such a cut also ends every CJK run (a
/// space is not CJK), so the units are the ones of the whole text segmented at once.
fn for_each_unit(text: &str, cjk_chars: usize, mut f: impl FnMut(&[u8])) {
    let b = text.as_bytes();
    let cut = |p: usize| b[p - 1] == b' ' && b[p] != b' ' && b[p].is_ascii();
    let mut done = 0usize;
    while let Some(off) = b[done..].iter().position(|c| !c.is_ascii()) {
        let j = done + off;
        let start = (done + 1..j).rev().find(|&p| cut(p)).unwrap_or(done);
        let end = (j + 1..b.len()).find(|&p| cut(p)).unwrap_or(b.len());
        ascii_words(&b[done..start], &mut f);
        // `start` and `end` hold ASCII bytes (or are the text's ends): char boundaries
        segmented_units(&text[start..end], cjk_chars, &mut f);
        done = end;
    }
    ascii_words(&b[done..], f);
}

/// [`for_each_word`] by the `unicode-segmentation` crate (any text).
fn segmented_units(text: &str, cjk_chars: usize, mut f: impl FnMut(&[u8])) {
    use unicode_segmentation::UnicodeSegmentation;
    let mut run: Vec<char> = Vec::new();
    let mut piece = String::new();
    let mut buf = String::new();
    let mut emit_run = |run: &mut Vec<char>, f: &mut dyn FnMut(&[u8])| {
        if run.is_empty() {
            return;
        }
        let n = cjk_chars.max(1).min(run.len());
        for w in run.windows(n) {
            buf.clear();
            buf.extend(w);
            f(buf.as_bytes());
        }
        run.clear();
    };
    let emit_piece = |piece: &mut String, f: &mut dyn FnMut(&[u8])| {
        if piece.chars().any(char::is_alphanumeric) {
            f(piece.to_lowercase().as_bytes());
        }
        piece.clear();
    };
    for seg in text.split_word_bounds() {
        for c in seg.chars() {
            if is_cjk(c) {
                emit_piece(&mut piece, &mut f);
                run.push(c);
            } else {
                emit_run(&mut run, &mut f);
                piece.push(c);
            }
        }
        emit_piece(&mut piece, &mut f);
    }
    emit_run(&mut run, &mut f);
}

/// UAX #29 word classes of ASCII bytes. The three classes that make up a word come first, so
/// [`Wb::in_word`] is one comparison.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Wb {
    Letter,
    Digit,
    /// `_` (ExtendNumLet)
    Join,
    /// `:` (MidLetter)
    MidLetter,
    /// `.` and `'` (MidNumLet, Single_Quote)
    MidBoth,
    /// `,` and `;` (MidNum)
    MidNum,
    Other,
}

impl Wb {
    /// Letters, digits and `_`: the bytes a word is a run of.
    fn in_word(self) -> bool {
        self <= Wb::Join
    }
}

const fn wb(b: u8) -> Wb {
    match b {
        b'a'..=b'z' | b'A'..=b'Z' => Wb::Letter,
        b'0'..=b'9' => Wb::Digit,
        b'_' => Wb::Join,
        b':' => Wb::MidLetter,
        b'.' | b'\'' => Wb::MidBoth,
        b',' | b';' => Wb::MidNum,
        _ => Wb::Other,
    }
}

/// [`wb`] of every byte, looked up instead of matched in the scanner's inner loop.
static WB: [Wb; 256] = {
    let mut t = [Wb::Other; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = wb(b as u8);
        b += 1;
    }
    t
};

/// The UAX #29 words of ASCII text holding a letter or digit, lower-cased (see
/// [`for_each_word`]). The text is lower-cased once, whole, and every word is a slice of that
/// copy: no per-word copy. A word is a run of letters, digits and `_`, continued across one
/// `:`, `.` or `'` between two letters and one `,`, `;`, `.` or `'` between two digits.
fn ascii_words(bytes: &[u8], mut f: impl FnMut(&[u8])) {
    let lower = bytes.to_ascii_lowercase();
    let class = |i: usize| bytes.get(i).map_or(Wb::Other, |b| WB[*b as usize]);
    let n = bytes.len();
    let mut i = 0usize;
    while i < n {
        if !WB[bytes[i] as usize].in_word() {
            i += 1;
            continue;
        }
        let start = i;
        loop {
            while i < n && WB[bytes[i] as usize].in_word() {
                i += 1;
            }
            let (last, mid, after) = (WB[bytes[i - 1] as usize], class(i), class(i + 1));
            let joins = (last == Wb::Letter
                && matches!(mid, Wb::MidLetter | Wb::MidBoth)
                && after == Wb::Letter)
                || (last == Wb::Digit
                    && matches!(mid, Wb::MidNum | Wb::MidBoth)
                    && after == Wb::Digit);
            if !joins {
                break;
            }
            i += 2;
        }
        let word = &lower[start..i];
        // only a word of nothing but `_` lacks a letter or digit (a joiner sits between two)
        if word.iter().any(|b| *b != b'_') {
            f(word);
        }
    }
}

/// Appends the hashes of the `k`-word shingles of `text` ([`cjk_shingle`] characters when
/// most of its units are CJK characters), tagged by field (so an input shingle
/// never equals an output shingle). Nothing for a text without words. A shingle's hash is a
/// polynomial of its words' hashes, updated in O(1) from one shingle to the next, then mixed
/// with the seed and the tag.
pub fn shingles_into(out: &mut Vec<u64>, text: &str, k: usize, seed: u64, tag: u8) {
    scan(out, text, k, seed, tag, false);
}

/// [`shingles_into`], also returning the leakage pass's exact key of the text (the hash of its
/// lower-cased words joined by spaces, seeded by `seed`; `None` without words): one scan of
/// the words serves both.
pub fn scan_into(out: &mut Vec<u64>, text: &str, k: usize, seed: u64, tag: u8) -> Option<u64> {
    scan(out, text, k, seed, tag, true)
}

/// The scan of [`scan_into`]; the exact key (`Some(0)` when not `keyed`) is one hash of the
/// words joined in a buffer, which gives the digest a streaming hasher fed word by word gives,
/// at a fraction of the cost for short words.
fn scan(out: &mut Vec<u64>, text: &str, k: usize, seed: u64, tag: u8, keyed: bool) -> Option<u64> {
    const P: u64 = 0x100000001b3_u64.wrapping_mul(0x9e3779b97f4a7c15) | 1;
    // a word is at least one byte and a separator: at most half the bytes are words
    let mut w: Vec<u64> = Vec::with_capacity(text.len() / 4 + 1);
    let mut joined: Vec<u8> = Vec::with_capacity(if keyed { text.len() } else { 0 });
    let mut cjk = 0usize;
    for_each_word(text, |word| {
        if keyed {
            if !w.is_empty() {
                joined.push(b' ');
            }
            joined.extend_from_slice(word);
        }
        cjk += is_cjk_unit(word) as usize;
        w.push(xxh3_64_with_seed(word, 0));
    });
    if w.is_empty() {
        return None;
    }
    let k = if 2 * cjk > w.len() { cjk_shingle(k) } else { k };
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
    Some(if keyed {
        xxh3_64_with_seed(&joined, seed)
    } else {
        0
    })
}

/// A sorted set of hashes, without repeats.
pub fn finish_set<T: Ord>(mut v: Vec<T>) -> Vec<T> {
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
    finish_set(sample_shingle_hashes(input, output, k, seed))
}

/// Exact Jaccard similarity of two sorted sets.
pub fn jaccard<T: Ord>(a: &[T], b: &[T]) -> f64 {
    let inter = intersection(a, b, |_| true).unwrap_or_default();
    ratio(inter, a.len() + b.len())
}

/// `inter / (total - inter)`: the Jaccard of two sets of `total` members together sharing
/// `inter` (1 for two empty sets).
fn ratio(inter: usize, total: usize) -> f64 {
    if total == 0 {
        1.0
    } else {
        inter as f64 / (total - inter) as f64
    }
}

/// The intersection size of two sorted sets; `None` as soon as `reachable(largest
/// intersection still possible)` says it is not worth finishing (checked every
/// `INTERSECT_BLOCK` steps). The steps are branch-free (the comparison only moves the
/// indices), in blocks that cannot run past either set, so the merge does not pay a
/// mispredicted branch per element; the result does not depend on where it is checked.
fn intersection<T: Ord>(a: &[T], b: &[T], reachable: impl Fn(usize) -> bool) -> Option<usize> {
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    // each step moves i or j (or both) by one: a block of n steps stays inside both sets
    while a.len() - i >= INTERSECT_BLOCK && b.len() - j >= INTERSECT_BLOCK {
        for _ in 0..INTERSECT_BLOCK {
            let (x, y) = (&a[i], &b[j]);
            inter += (x == y) as usize;
            i += (x <= y) as usize;
            j += (y <= x) as usize;
        }
        // the intersection can grow by at most what is left of the shorter side
        if !reachable(inter + (a.len() - i).min(b.len() - j)) {
            return None;
        }
    }
    while i < a.len() && j < b.len() {
        let (x, y) = (&a[i], &b[j]);
        inter += (x == y) as usize;
        i += (x <= y) as usize;
        j += (y <= x) as usize;
    }
    Some(inter)
}

/// Merge steps between two checks of whether a Jaccard can still reach its threshold.
const INTERSECT_BLOCK: usize = 16;

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
    /// The first [`DRAWS_KEPT`] densification draws of every bin (`bins × DRAWS_KEPT`, bin
    /// by bin): a table look-up instead of a hash per attempt, which short texts (most bins
    /// empty, several attempts each) otherwise pay for every empty bin. Empty when `bins`
    /// does not fit 16 bits (every draw is then computed).
    draws: Vec<u16>,
}

/// Densification draws kept per bin: a set filling an eighth of the bins needs more than 64
/// attempts for a bin with probability (7/8)^64 ≈ 2e-4.
const DRAWS_KEPT: usize = 64;

impl MinHasher {
    pub fn new(
        seed: u64,
        purpose: &str,
        permutations: usize,
        bands: usize,
        rows: usize,
    ) -> MinHasher {
        let mut mh = MinHasher {
            key: xxh3_64_with_seed(purpose.as_bytes(), seed),
            bins: permutations.max(bands * rows).max(1),
            bands: bands.max(1),
            rows: rows.max(1),
            draws: Vec::new(),
        };
        if mh.bins <= 1 << 16 {
            mh.draws = (0..mh.bins)
                .flat_map(|j| (0..DRAWS_KEPT as u64).map(move |a| (j, a)))
                .map(|(j, a)| mh.draw(j, a) as u16)
                .collect();
        }
        mh
    }

    fn bin_of(&self, h: u64) -> usize {
        ((h as u128 * self.bins as u128) >> 64) as usize
    }

    /// The bin an empty bin `j` borrows from at its `attempt`-th draw.
    fn draw(&self, j: usize, attempt: u64) -> usize {
        self.bin_of(fmix64(
            self.key ^ ((j as u64) << 32 | attempt).wrapping_mul(0x9e3779b97f4a7c15),
        ))
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
        // that its own seeded sequence of draws hits (bins filled by densification are not
        // hit: the draws look at the bins the shingles filled)
        let filled: Vec<bool> = sig.iter().map(|v| *v != u64::MAX).collect();
        for j in 0..self.bins {
            if filled[j] {
                continue;
            }
            let kept = self.draws.get(j * DRAWS_KEPT..(j + 1) * DRAWS_KEPT);
            let from = kept
                .and_then(|d| d.iter().map(|d| *d as usize).find(|d| filled[*d]))
                .unwrap_or_else(|| {
                    let first = if kept.is_some() { DRAWS_KEPT as u64 } else { 0 };
                    (first..)
                        .map(|a| self.draw(j, a))
                        .find(|d| filled[*d])
                        .unwrap_or_default()
                });
            sig[j] = sig[from];
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

/// Each member of an LSH bucket is paired with the `BUCKET_WINDOW` members before it (in
/// sample order): all pairs in buckets up to `BUCKET_WINDOW + 1` members, and candidates that
/// grow linearly with the sample count where templated records (EHR rows, symptom lists) fill
/// buckets with thousands of similar samples. Members further apart are still joined through
/// the members between them and through their other bands. Measured on the synthetic
/// MIMIC-IV-ED task at scale 0.1 (38K rows): all pairs flag 9,202 samples from 28.7M
/// candidates; a window of 32 flags 8,301 (90%) from 6.8M (docs/data-quality.md).
pub const BUCKET_WINDOW: usize = 32;

/// Calls `f(i, j)` (`i < j`) for the candidate pairs of `(band key, item)` entries sorted by
/// key then item, bucket by bucket in parallel, and collects what `f` keeps. A pair sharing
/// several bands is produced once per band.
fn bucket_pairs<T: Send>(
    entries: &[(u32, u32)],
    f: impl Fn(u32, u32) -> Option<T> + Sync,
) -> Vec<T> {
    let mut starts: Vec<usize> = (0..entries.len())
        .filter(|&i| i == 0 || entries[i].0 != entries[i - 1].0)
        .collect();
    starts.push(entries.len());
    starts
        .par_windows(2)
        .flat_map_iter(|w| {
            let m = &entries[w[0]..w[1]];
            let f = &f;
            (1..m.len()).flat_map(move |j| {
                (j.saturating_sub(BUCKET_WINDOW)..j).filter_map(move |i| f(m[i].1, m[j].1))
            })
        })
        .collect()
}

/// Entries per round of a near-dup search (at most `BUCKET_WINDOW` pairs each: ≤ 100 MB of
/// pairs held at a time).
const ROUND_ENTRIES: usize = 256 << 10;

/// Ranges of `entries` (sorted by key) that hold whole buckets, each of at most `max` entries
/// unless one bucket alone is larger.
fn rounds(entries: &[(u32, u32)], max: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let mut end = (start + max).min(entries.len());
        while end < entries.len() && entries[end].0 == entries[end - 1].0 {
            end += 1;
        }
        out.push(start..end);
        start = end;
    }
    out
}

/// `jaccard(a, b) >= t`, stopping as soon as the intersection can no longer get there.
pub fn jaccard_at_least<T: Ord>(a: &[T], b: &[T], t: f64) -> bool {
    let total = a.len() + b.len();
    intersection(a, b, |most| ratio(most, total) >= t).is_some_and(|i| ratio(i, total) >= t)
}

/// Candidate pairs `(i, j)`, `i < j`, sorted and unique, from `(band key, item)` entries (the
/// unscreened candidate set of [`NearIndex::find`], for tests).
/// Band keys are stored in 32 bits: a false candidate from a truncated key is rejected by the
/// exact Jaccard confirmation like any other.
#[cfg(test)]
fn candidate_pairs(mut entries: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    entries.par_sort_unstable();
    let mut pairs = bucket_pairs(&entries, |i, j| Some((i, j)));
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
}

/// Shingles (4 bytes each) of the sets one near-dup search keeps loaded for its exact
/// comparisons: 256 MB. Each sample is then loaded and shingled once per search, not once
/// per pair, unless a task's sets exceed this (the cache is then emptied and refilled); the
/// 384K EHR rows of a MIMIC-IV-ED task at scale 1.0 take ≈ 52M.
pub(crate) const SET_CACHE_SHINGLES: usize = 64 << 20;

/// Reads the `(input, output)` of samples by position, from a task's store; its error is the
/// caller's (the search only passes it on).
pub type TextLoader<'a, E> = dyn Fn(&[usize]) -> Result<Vec<(String, String)>, E> + Sync + 'a;

/// The shingle sets of the samples a near-dup search compares exactly, loaded from the task's
/// store on first use and kept up to [`SET_CACHE_SHINGLES`]. Sets hold the high 32 bits of
/// each shingle hash: half the memory, and a chance collision between two sets of 300
/// shingles (≈ 2e-5 a pair) moves their Jaccard by ≈ 0.002. Each set is kept with its
/// [`Sketch`], which rejects most candidate pairs without merging their sets.
struct SetCache<'a, E> {
    /// the sketch's words, then the set
    sets: Vec<Option<Box<[u32]>>>,
    held: usize,
    k: usize,
    seed: u64,
    load: &'a TextLoader<'a, E>,
}

impl<E> SetCache<'_, E> {
    /// Makes sure the sets of `need` (sorted, unique) are loaded.
    fn ensure(&mut self, need: &[usize]) -> Result<(), E> {
        let missing: Vec<usize> = need
            .iter()
            .copied()
            .filter(|i| self.sets[*i].is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let texts = (self.load)(&missing)?;
        let (k, seed) = (self.k, self.seed);
        let loaded: Vec<Box<[u32]>> = texts
            .par_iter()
            .map(|(a, b)| {
                let high: Vec<u32> = sample_shingle_hashes(a, b, k, seed)
                    .into_iter()
                    .map(|h| (h >> 32) as u32)
                    .collect();
                let set = finish_set(high);
                let mut kept = Vec::with_capacity(SKETCH_WORDS + set.len());
                kept.extend(Sketch::of(&set).0);
                kept.extend(set);
                kept.into_boxed_slice()
            })
            .collect();
        let adding: usize = loaded.iter().map(|s| s.len()).sum();
        if self.held + adding > SET_CACHE_SHINGLES {
            self.held = 0;
            for (i, set) in self.sets.iter_mut().enumerate() {
                match set {
                    Some(s) if need.binary_search(&i).is_ok() => self.held += s.len(),
                    _ => *set = None,
                }
            }
        }
        self.held += adding;
        for (i, set) in missing.into_iter().zip(loaded) {
            self.sets[i] = Some(set);
        }
        Ok(())
    }

    /// The sketch and the set of sample `i` (loaded by [`SetCache::ensure`]).
    fn get(&self, i: u32) -> (&[u32], &[u32]) {
        let kept = self.sets[i as usize].as_deref().unwrap_or(&[]);
        kept.split_at(SKETCH_WORDS.min(kept.len()))
    }

    fn set(&self, i: u32) -> &[u32] {
        self.get(i).1
    }

    /// [`jaccard_at_least`] of the sets of samples `a` and `b`, deciding by their sketches
    /// first where those suffice.
    fn similar(&self, a: u32, b: u32, t: f64) -> bool {
        sketched_at_least(self.get(a), self.get(b), t)
    }
}

/// [`jaccard_at_least`] of two sets given with their sketches: `false` without a merge when
/// the sketches show that the sets differ in too many members.
fn sketched_at_least((sa, a): (&[u32], &[u32]), (sb, b): (&[u32], &[u32]), t: f64) -> bool {
    let differ = sa.iter().zip(sb).map(|(x, y)| (x ^ y).count_ones()).sum();
    let total = a.len() + b.len();
    ratio(most_shared(total, differ), total) >= t && jaccard_at_least(a, b, t)
}

/// 32-bit words of a [`Sketch`].
const SKETCH_WORDS: usize = 8;

/// A 256-bit map of the members of a set of 32-bit hashes: bit `x % 256` for each member `x`.
/// A bit that only one of two sets has stands for a member of that set missing from the
/// other, a different member for each such bit: the bits the sketches do not share count
/// members outside the intersection, a bound on the Jaccard that needs no merge.
struct Sketch([u32; SKETCH_WORDS]);

impl Sketch {
    fn of(set: &[u32]) -> Sketch {
        let mut words = [0u32; SKETCH_WORDS];
        for x in set {
            let bit = (x % 256) as usize;
            words[bit / 32] |= 1 << (bit % 32);
        }
        Sketch(words)
    }
}

/// The largest intersection two sets of `total` members together can have when at least
/// `differ` of those members are outside it.
fn most_shared(total: usize, differ: u32) -> usize {
    total.saturating_sub(differ as usize) / 2
}

/// Union-find with path halving.
pub struct UnionFind(Vec<u32>);

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind((0..n as u32).collect())
    }
    /// The root of `x`, without shortening paths (for shared, read-only use).
    pub fn root(&self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            x = self.0[x as usize];
        }
        x
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
    agreeing(x, y) as f64 / x.len().max(1) as f64
}

/// The number of agreeing bytes of two signatures.
fn agreeing(x: &[u8], y: &[u8]) -> u32 {
    // in blocks of 32 bytes summed as bytes, so the comparison vectorises
    x.chunks(32)
        .zip(y.chunks(32))
        .map(|(p, q)| p.iter().zip(q).map(|(u, v)| (u == v) as u8).sum::<u8>() as u32)
        .sum()
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

    /// The estimated similarity of a pair, as its number of agreeing signature bytes (of
    /// `bins`), when both signatures are dense enough to trust it.
    fn agreeing(&self, a: usize, b: usize) -> Option<u32> {
        if self.sizes[a].min(self.sizes[b]) < SCREEN_MIN_SHINGLES {
            return None;
        }
        Some(agreeing(self.sig(a), self.sig(b)))
    }

    /// Clusters of near-duplicates among the samples added, in order; `ids` are their ids
    /// (the representative of a cluster is its smallest id); `load` reads the `(input,
    /// output)` of samples by position (from the task's store) for the exact comparisons of
    /// the pairs the screening leaves. Every member other than the representative of each
    /// cluster is returned, in task order.
    pub fn find<K: Ord, E>(
        &self,
        ids: &[K],
        load: &TextLoader<'_, E>,
    ) -> Result<Vec<NearDuplicate>, E> {
        let n = self.len();
        if !self.enabled() || n < 2 {
            return Ok(Vec::new());
        }
        let mut cache = SetCache {
            sets: vec![None; n],
            held: 0,
            k: self.cfg.shingle,
            seed: self.seed,
            load,
        };
        let mut uf = UnionFind::new(n);
        if self.cluster(&mut uf, &mut cache)? == 0 {
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
            cache.ensure(&need)?;
            out.extend(chunk.iter().map(|&(i, k, size)| NearDuplicate {
                index: i,
                representative: k,
                similarity: round4(jaccard(cache.set(i as u32), cache.set(k as u32))),
                cluster_size: size,
            }));
        }
        Ok(out)
    }

    /// `(band key, sample)` of every band of every non-empty sample, sorted: samples sharing a
    /// band key are candidates.
    fn band_entries(&self) -> Vec<(u32, u32)> {
        let (bands, rows) = (self.mh.bands, self.mh.rows);
        let mut entries: Vec<(u32, u32)> = (0..self.len())
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
        entries.par_sort_unstable();
        entries
    }

    /// Joins the near-duplicate pairs in `uf`; returns how many pairs were confirmed.
    ///
    /// Screens by the estimate as the pairs are made (so the pairs far below the threshold
    /// are never held): far below the threshold, rejected; far above, accepted; in between,
    /// compared exactly. Pairs are `(u32::MAX - agreeing bytes, a, b)`, 12 bytes: the most
    /// similar first (so the clusters form early and most later pairs join two samples
    /// already together: no comparison), unscreened pairs (short texts) last. Buckets are
    /// taken in rounds of at most ROUND_ENTRIES entries, bounding the pairs held; pairs
    /// already joined by earlier rounds are not made. Cluster membership depends on neither
    /// the order nor the rounds, only the work does.
    fn cluster<E>(&self, uf: &mut UnionFind, cache: &mut SetCache<E>) -> Result<usize, E> {
        let entries = self.band_entries();
        let t0 = std::time::Instant::now();
        let threshold = self.cfg.threshold;
        let bins = self.mh.bins as f64;
        let (lo, hi) = (
            (threshold - SCREEN_MARGIN) * bins,
            (threshold + SCREEN_MARGIN) * bins,
        );
        let accepted = |key: u32| key != u32::MAX && (u32::MAX - key) as f64 >= hi;
        let (mut candidates, mut confirmed, mut compared) = (0usize, 0usize, 0usize);
        for round in rounds(&entries, ROUND_ENTRIES) {
            let mut screened: Vec<(u32, u32, u32)> = bucket_pairs(&entries[round], |a, b| {
                if uf.root(a) == uf.root(b) {
                    return None;
                }
                match self.agreeing(a as usize, b as usize) {
                    Some(same) if (same as f64) < lo => None,
                    Some(same) => Some((u32::MAX - same, a, b)),
                    None => Some((u32::MAX, a, b)),
                }
            });
            screened.par_sort_unstable();
            screened.dedup();
            candidates += screened.len();
            for chunk in screened.chunks(4096) {
                let mut todo: Vec<(u32, u32)> = Vec::new();
                for &(key, a, b) in chunk {
                    if uf.find(a) == uf.find(b) {
                        continue;
                    }
                    if accepted(key) {
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
                cache.ensure(&need)?;
                let ok: Vec<(u32, u32)> = todo
                    .par_iter()
                    .filter(|(a, b)| cache.similar(*a, *b, threshold))
                    .copied()
                    .collect();
                confirmed += ok.len();
                for (a, b) in ok {
                    uf.union(a, b);
                }
            }
        }
        log::debug!(
            "near_dedup: {} samples, {candidates} candidate pairs after screening, {compared} compared exactly, {confirmed} confirmed ({:.2}s)",
            self.len(),
            t0.elapsed().as_secs_f64()
        );
        Ok(confirmed)
    }
}

/// Near-duplicate clusters among in-memory `(id, input, output)` items (tests and tools).
pub fn near_duplicates(
    items: &[(SampleId, &str, &str)],
    cfg: &NearDedup,
    seed: u64,
) -> Vec<NearDuplicate> {
    let mut idx = NearIndex::new(cfg, seed);
    let samples: Vec<Sample> = items
        .iter()
        .map(|(id, i, o)| Sample {
            id: *id,
            input: i.to_string(),
            output: o.to_string(),
            ..Sample::default()
        })
        .collect();
    let ids: Vec<SampleId> = items.iter().map(|x| x.0).collect();
    idx.add(&samples);
    let load = |pos: &[usize]| -> Result<Vec<(String, String)>, std::convert::Infallible> {
        Ok(pos
            .iter()
            .map(|p| (items[*p].1.to_string(), items[*p].2.to_string()))
            .collect())
    };
    let Ok(found) = idx.find(&ids, &load);
    found
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

    /// The exact key hashes the joined words at once: the digest of a hasher fed word by word.
    #[test]
    fn exact_key_is_the_streamed_hash_of_the_words() {
        for text in [
            "",
            "...",
            "One",
            "The  cat, sat! 3.5 mg",
            &"long words ".repeat(200),
        ] {
            let mut key = xxhash_rust::xxh3::Xxh3::with_seed(42);
            for (i, w) in words(text).iter().enumerate() {
                if i > 0 {
                    key.update(b" ");
                }
                key.update(w.as_bytes());
            }
            let expected = (!words(text).is_empty()).then(|| key.digest());
            assert_eq!(
                scan_into(&mut Vec::new(), text, 5, 42, b'i'),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn jaccard_is_exact() {
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard::<u64>(&[], &[]), 1.0);
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

    /// The signature as the densification defines it: every draw hashed, none looked up.
    fn signature_by_definition(mh: &MinHasher, set: &[u64]) -> Vec<u64> {
        let mut sig = vec![u64::MAX; mh.bins];
        for x in set {
            let h = fmix64(x ^ mh.key);
            let b = mh.bin_of(h);
            sig[b] = sig[b].min(h);
        }
        let filled = sig.clone();
        for (j, v) in sig.iter_mut().enumerate() {
            if *v == u64::MAX {
                let d = (0..)
                    .map(|a| mh.draw(j, a))
                    .find(|d| filled[*d] != u64::MAX);
                *v = filled[d.unwrap()];
            }
        }
        sig
    }

    #[test]
    fn looked_up_draws_give_the_signature_by_definition() {
        // from one shingle (most empty bins need more draws than are kept) to all bins full
        for (bins, sizes) in [
            (128, [1usize, 2, 5, 40, 127, 2000]),
            (8, [1, 2, 3, 4, 9, 50]),
        ] {
            let mh = MinHasher::new(3, "t", bins, 1, 1);
            for n in sizes {
                let set: Vec<u64> = (0..n as u64).map(|i| i.wrapping_mul(0x9e37) ^ 77).collect();
                assert_eq!(
                    mh.signature(&set),
                    signature_by_definition(&mh, &set),
                    "{bins} {n}"
                );
            }
        }
    }

    #[test]
    fn one_word_changed_is_a_near_duplicate_with_smallest_id_kept() {
        let long = "the patient was admitted with chest pain and shortness of breath after climbing two flights of stairs at home yesterday evening";
        let changed = long.replace("evening", "morning");
        let items = vec![
            (SampleId::from_u128(0xb2), long, "angina"),
            (SampleId::from_u128(0xa1), changed.as_str(), "angina"),
            (
                SampleId::from_u128(0xc3),
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
    fn big_buckets_pair_each_member_with_the_window_before_it() {
        let p = candidate_pairs((0..150).map(|i| (42, i)).collect());
        assert!(p.contains(&(0, 32)) && !p.contains(&(0, 33)));
        assert!(p.contains(&(148, 149)) && p.contains(&(117, 149)) && !p.contains(&(116, 149)));
        // every member of a bucket of 33 is paired with every other
        let q = candidate_pairs((0..33).map(|i| (7, i)).collect());
        assert_eq!(q.len(), 33 * 32 / 2);
        assert_eq!(p.len(), (1..150).map(|j: usize| j.min(32)).sum::<usize>());
    }

    #[test]
    fn early_exit_jaccard_decides_like_the_exact_one() {
        let a: Vec<u32> = (0..200).collect();
        for shift in [0u32, 5, 20, 22, 23, 40, 199, 300] {
            let b: Vec<u32> = (shift..200 + shift).collect();
            for t in [0.5, 0.8, 0.81, 0.9] {
                assert_eq!(
                    jaccard_at_least(&a, &b, t),
                    jaccard(&a, &b) >= t,
                    "{shift} {t}"
                );
            }
        }
        assert!(jaccard_at_least::<u32>(&[], &[], 0.8));
    }

    /// The sketches only skip merges: they decide every pair as the exact Jaccard does, from
    /// disjoint sets to equal ones, and reject most pairs well below the threshold alone.
    #[test]
    fn sketched_comparison_decides_like_the_exact_one() {
        let mut x = 0x9e3779b97f4a7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u32
        };
        let mut by_sketch = 0;
        for round in 0..4000 {
            let n = 1 + round % 120;
            let a: Vec<u32> = finish_set((0..n).map(|_| next()).collect());
            // b keeps a share of a's members, drops the rest and adds new ones
            let keep = (round % 11) as u32;
            let mut b: Vec<u32> = Vec::new();
            for m in &a {
                let kept = next() % 10 < keep;
                b.push(if kept { *m } else { next() });
            }
            for _ in 0..round % 7 {
                b.push(next());
            }
            let b = finish_set(b);
            let (sa, sb) = (Sketch::of(&a), Sketch::of(&b));
            for t in [0.5, 0.8, 0.9] {
                let sketched = sketched_at_least((&sa.0, &a), (&sb.0, &b), t);
                assert_eq!(sketched, jaccard(&a, &b) >= t, "{round} {t}");
                let differ =
                    sa.0.iter()
                        .zip(&sb.0)
                        .map(|(x, y)| (x ^ y).count_ones())
                        .sum();
                let total = a.len() + b.len();
                by_sketch += (ratio(most_shared(total, differ), total) < t) as usize;
            }
        }
        assert!(
            by_sketch > 6000,
            "{by_sketch} of 12000 decided by the sketches"
        );
    }

    #[test]
    fn rounds_keep_buckets_whole() {
        let e = vec![(1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 5)];
        assert_eq!(rounds(&e, 3), vec![0..5, 5..6]);
        assert_eq!(rounds(&e, 1), vec![0..2, 2..5, 5..6]);
    }

    fn units(text: &str, cjk_chars: usize) -> Vec<String> {
        let mut v = Vec::new();
        for_each_unit(text, cjk_chars, |w| {
            v.push(String::from_utf8(w.to_vec()).unwrap())
        });
        v
    }

    #[test]
    fn latin_words_follow_unicode_word_boundaries() {
        // what UAX #29 changes for Latin text: inner apostrophes, decimal and thousands
        // separators, `.`/`:` between letters and `_` stay inside a word
        assert_eq!(
            words("Don't give 1,000 mg/kg (p<0.05), e.g. snake_case; 5-FU: it's 3.5."),
            [
                "don't",
                "give",
                "1,000",
                "mg",
                "kg",
                "p",
                "0.05",
                "e.g",
                "snake_case",
                "5",
                "fu",
                "it's",
                "3.5"
            ]
        );
        assert_eq!(
            words("Ärzte-Café ÖL x²y"),
            ["ärzte", "café", "öl", "x", "²", "y"]
        );
        assert!(words("... -- !!").is_empty());
        assert!(words("___").is_empty(), "no letter or digit: not a word");
    }

    #[test]
    fn ascii_scanner_agrees_with_unicode_segmentation() {
        let alphabet = b"aZk09_.,;:' -\n\t\"()/";
        let mut x = 0x9e3779b97f4a7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..40_000 {
            // short texts cover every pattern of a few bytes, long ones words that continue
            // across several joiners and end at the text's end
            let len = (next() % 40) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize] as char)
                .collect();
            let mut fast = Vec::new();
            ascii_words(text.as_bytes(), |w| fast.push(w.to_vec()));
            let mut slow = Vec::new();
            segmented_units(&text, 1, |w| slow.push(w.to_vec()));
            assert_eq!(fast, slow, "{text:?}");
        }
    }

    #[test]
    fn mixed_text_cut_at_spaces_agrees_with_segmenting_it_whole() {
        // ASCII with spaces, and characters whose UAX #29 rules look across neighbours:
        // combining accent (Extend), ZWJ, NBSP and ideographic space, MidLetter `·`,
        // MidNumLet `’`, half-width Katakana, Arabic digits, regional indicators, an emoji
        let alphabet: Vec<char> = "aZ9_.,:' \n  é中\u{301}\u{200D}\u{A0}\u{3000}·’ｱ٣🇺🇸😀"
            .chars()
            .collect();
        let mut x = 0x2545f4914f6cdd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..40_000 {
            let len = (next() % 30) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            for cjk_chars in [1, 2] {
                let mut pieces = Vec::new();
                for_each_unit(&text, cjk_chars, |w| pieces.push(w.to_vec()));
                let mut whole = Vec::new();
                segmented_units(&text, cjk_chars, |w| whole.push(w.to_vec()));
                assert_eq!(pieces, whole, "{text:?}");
            }
        }
    }

    #[test]
    fn cjk_runs_are_cut_into_characters() {
        assert_eq!(
            words("患者CT检查正常。"),
            ["患", "者", "ct", "检", "查", "正", "常"]
        );
        assert_eq!(
            words("テキスト、です"),
            ["テ", "キ", "ス", "ト", "で", "す"],
            "Katakana runs too"
        );
        assert_eq!(words("CT검사 결과"), ["ct", "검", "사", "결", "과"]);
        assert_eq!(units("东京タワー", 2), ["东京", "京タ", "タワ", "ワー"]);
        assert_eq!(units("肺", 2), ["肺"], "a run shorter than n is one unit");
    }

    /// Pseudo-random sentences of `len` characters made of the given words (seeded).
    fn sentences(vocab: &[&str], n: usize, len: usize, seed: u64) -> Vec<String> {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|_| {
                let mut s = String::new();
                while s.chars().count() < len {
                    s.push_str(vocab[(next() % vocab.len() as u64) as usize]);
                }
                s.chars().take(len).collect()
            })
            .collect()
    }

    /// The sentence with its `at`-th character replaced by another of the sentence's script.
    fn one_changed(s: &str, at: usize) -> String {
        s.chars()
            .enumerate()
            .map(|(i, c)| {
                if i != at {
                    c
                } else if c == '病' {
                    '症'
                } else if c == 'の' {
                    'が'
                } else if (c as u32) < 0x4E00 {
                    'の' // Kana by Kana
                } else {
                    '病'
                }
            })
            .collect()
    }

    const ZH: &[&str] = &[
        "患者",
        "医生",
        "治疗",
        "高血压",
        "糖尿病",
        "症状",
        "检查",
        "发热",
        "咳嗽",
        "头痛",
        "药物",
        "剂量",
        "每日",
        "两次",
        "服用",
        "手术",
        "术后",
        "恢复",
        "良好",
        "建议",
        "复查",
        "血常规",
        "肝功能",
        "异常",
        "心电图",
        "提示",
        "诊断",
        "为",
        "的",
        "了",
        "在",
        "和",
        "出现",
        "持续",
        "三天",
        "入院",
        "出院",
        "胸痛",
        "呼吸",
        "困难",
    ];
    const JA: &[&str] = &[
        "患者",
        "は",
        "の",
        "を",
        "に",
        "が",
        "で",
        "した",
        "です",
        "ます",
        "発熱",
        "咳",
        "頭痛",
        "高血圧",
        "糖尿病",
        "治療",
        "薬",
        "投与",
        "検査",
        "結果",
        "正常",
        "異常",
        "入院",
        "退院",
        "手術",
        "経過",
        "良好",
        "診断",
        "症状",
        "持続",
        "三日間",
        "胸痛",
        "呼吸困難",
        "服用",
        "一日",
        "二回",
        "医師",
        "看護師",
        "カルテ",
        "リハビリ",
    ];

    /// 40 pairs of 60-character sentences differing in one character, and 40 other
    /// sentences of the same vocabulary: every pair is found, no other sentence is flagged.
    fn planted_pairs_are_found(vocab: &[&str], seed: u64) {
        let base = sentences(vocab, 80, 60, seed);
        let mut items: Vec<(String, String)> = Vec::new();
        for (i, s) in base.iter().enumerate() {
            items.push((format!("{:03}a", i), s.clone()));
            if i < 40 {
                // the changed character moves through the sentence: edges and middle
                let at = (i * 37 + 11) % 60;
                let changed = one_changed(s, at);
                assert_ne!(&changed, s);
                items.push((format!("{:03}b", i), changed));
            }
        }
        // "000a", "000b", …: hexadecimal, so the `a` of a pair is the smaller id
        let refs: Vec<(SampleId, &str, &str)> = items
            .iter()
            .map(|(id, t)| {
                let id = SampleId::from_u128(u128::from_str_radix(id, 16).unwrap());
                (id, t.as_str(), "是")
            })
            .collect();
        let found = near_duplicates(&refs, &cfg(NearDedupPolicy::Flag), 0);
        let mut pairs: Vec<(String, String)> = found
            .iter()
            .map(|d| (items[d.representative].0.clone(), items[d.index].0.clone()))
            .collect();
        pairs.sort();
        let expected: Vec<(String, String)> = (0..40)
            .map(|i| (format!("{:03}a", i), format!("{:03}b", i)))
            .collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn chinese_near_duplicates_differing_in_one_character_are_found() {
        planted_pairs_are_found(ZH, 7);
    }

    #[test]
    fn japanese_near_duplicates_differing_in_one_character_are_found() {
        planted_pairs_are_found(JA, 11);
    }

    /// The measurement behind [`cjk_shingle`]: the smallest exact Jaccard over the 40
    /// planted pairs, and the largest between distinct sentences, for shingles of 2 to 6
    /// characters.
    #[test]
    fn cjk_shingle_length_measured() {
        let shingles = |t: &str, n: usize| -> Vec<String> {
            let u = units(t, 1);
            finish_set(u.windows(n).map(|w| w.concat()).collect())
        };
        let base = sentences(ZH, 80, 60, 7);
        let measured: Vec<(f64, f64)> = (2..=6)
            .map(|n| {
                let pairs = (0..40)
                    .map(|i| {
                        let c = one_changed(&base[i], (i * 37 + 11) % 60);
                        jaccard(&shingles(&base[i], n), &shingles(&c, n))
                    })
                    .fold(1.0f64, f64::min);
                let distinct = (40..80)
                    .flat_map(|i| (i + 1..80).map(move |j| (i, j)))
                    .map(|(i, j)| jaccard(&shingles(&base[i], n), &shingles(&base[j], n)))
                    .fold(0.0f64, f64::max);
                (round4(pairs), round4(distinct))
            })
            .collect();
        println!(
            "(smallest pair, largest distinct) Jaccard, shingles of 2..6 characters: {measured:?}"
        );
        let (pair3, distinct3) = measured[cjk_shingle(5) - 2];
        assert!(pair3 >= 0.89 && distinct3 < 0.1, "{measured:?}");
        assert!(measured[3].0 < 0.85, "{measured:?}");
        // the rule: mostly CJK units → ⌈k/2⌉-unit shingles
        assert_eq!(
            text_shingles(&base[0], 5, 0).len(),
            shingles(&base[0], 3).len()
        );
        assert_eq!(
            text_shingles("the patient 患者 was seen today by a doctor", 5, 0).len(),
            6
        );
    }
}

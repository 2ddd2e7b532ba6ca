//! Cross-task leakage: no test or validation input may appear in any training sample of any
//! task, exactly (same lower-cased word sequence) or as a near-duplicate (MinHash LSH over the
//! inputs' word shingles, confirmed by exact Jaccard). The offending training samples are
//! removed; the held-out sample is the one kept.

use super::minhash::{
    MinHasher, SCREEN_MARGIN, SCREEN_MIN_SHINGLES, estimate, jaccard, round4, scan_into,
    signature_bytes, text_shingles,
};
use medsins_core::{Sample, SampleId, Split};
use rayon::prelude::*;
use std::collections::HashMap;

/// Leakage detection parameters (recorded in the lock).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LeakConfig {
    pub shingle: usize,
    pub permutations: usize,
    pub bands: usize,
    pub rows: usize,
    pub threshold: f64,
    /// Candidates examined per training sample at most (bounded work on repeated inputs).
    pub max_candidates: usize,
}

impl Default for LeakConfig {
    fn default() -> Self {
        LeakConfig {
            shingle: 5,
            permutations: 128,
            bands: 16,
            rows: 8,
            threshold: 0.8,
            max_candidates: 256,
        }
    }
}

/// A training sample whose input is (nearly) a held-out sample's input.
#[derive(Debug, Clone, PartialEq)]
pub struct Leak {
    /// Position of the training sample in the batch given to [`HeldOut::check`].
    pub index: usize,
    /// The held-out sample ([`HeldOut::get`]).
    pub held: usize,
    pub similarity: f64,
    pub exact: bool,
}

/// Key of the "exactly equal after normalisation" comparison: lower-cased words (the hash of
/// the words joined by spaces).
pub fn exact_key(text: &str, seed: u64) -> Option<u64> {
    scan_into(&mut Vec::new(), text, 1, seed, b'i')
}

pub fn is_held_out(split: Option<Split>) -> bool {
    matches!(split, Some(Split::Test | Split::Validation))
}

/// One held-out sample: where it is and what the leakage check compares.
#[derive(Debug, Clone)]
pub struct HeldSample {
    /// Position of its task in the build (as given to [`HeldOut::keys`]).
    pub task: usize,
    /// The number of its input's shingle set in that task's held-out set store.
    pub set: u32,
    pub id: SampleId,
    pub split: Split,
}

/// What the leakage check compares of one sample's input: its exact key, band keys,
/// signature bytes and shingle count. Computed while the task's batches stream (the scan of
/// the input that near-dedup needs gives it too) and kept in the task's probe file, so the
/// cross-task pass reads no text for a training sample without plausible candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct InputProbe {
    pub exact: Option<u64>,
    pub size: u32,
    pub bands: Vec<u32>,
    pub sig: Vec<u8>,
}

/// What a held-out sample contributes to the index.
pub struct HeldKeys {
    pub sample: HeldSample,
    pub probe: InputProbe,
}

/// The held-out side of the check: every test and validation input of every task, by exact
/// key and by LSH band (≈ 100 bytes a held-out sample; the texts stay in the tasks' stores).
pub struct HeldOut {
    pub cfg: LeakConfig,
    seed: u64,
    mh: MinHasher,
    samples: Vec<HeldSample>,
    /// (exact key, id, sample) sorted, so the first match has the smallest id
    exact: Vec<(u64, u128, u32)>,
    /// (band key, sample) sorted
    bands: Vec<(u32, u32)>,
    /// Where the band keys of each value of their high bits start in `bands` (one more entry
    /// than values): a band's look-up searches its own stretch instead of all of `bands`,
    /// whose binary search costs a cache miss a step on millions of entries.
    band_starts: Vec<u32>,
    /// The bits of a band key left after the high bits that index `band_starts`.
    band_shift: u32,
    /// signature bytes (`bins` a sample) and shingle counts, for screening
    sigs: Vec<u8>,
    sizes: Vec<u32>,
}

impl HeldOut {
    pub fn new(cfg: LeakConfig, seed: u64) -> HeldOut {
        HeldOut {
            mh: MinHasher::new(seed, "leakage", cfg.permutations, cfg.bands, cfg.rows),
            cfg,
            seed,
            samples: Vec::new(),
            exact: Vec::new(),
            bands: Vec::new(),
            band_starts: Vec::new(),
            band_shift: 32,
            sigs: Vec::new(),
            sizes: Vec::new(),
        }
    }

    /// The probe of an input from its shingle hashes (unsorted, with repeats) and exact key.
    pub fn probe(&self, hashes: &[u64], exact: Option<u64>) -> InputProbe {
        let sig = self.mh.signature(hashes);
        InputProbe {
            exact,
            size: hashes.len() as u32,
            bands: self
                .mh
                .band_keys(&sig)
                .into_iter()
                .map(|b| b as u32)
                .collect(),
            sig: signature_bytes(&sig, self.mh.bins),
        }
    }

    /// The probe of an input text.
    pub fn probe_text(&self, input: &str) -> InputProbe {
        let mut hashes = Vec::new();
        let exact = scan_into(&mut hashes, input, self.cfg.shingle, self.seed, b'i');
        self.probe(&hashes, exact)
    }

    /// Bytes of an encoded probe (fixed for a configuration).
    pub fn probe_len(&self) -> usize {
        1 + 8 + 4 + 4 * self.mh.bands + self.mh.bins
    }

    pub fn encode(&self, p: &InputProbe, buf: &mut Vec<u8>) {
        buf.push(p.exact.is_some() as u8);
        buf.extend_from_slice(&p.exact.unwrap_or(0).to_le_bytes());
        buf.extend_from_slice(&p.size.to_le_bytes());
        for i in 0..self.mh.bands {
            buf.extend_from_slice(&p.bands.get(i).copied().unwrap_or(0).to_le_bytes());
        }
        buf.extend_from_slice(&p.sig);
        buf.resize(buf.len() + self.mh.bins - p.sig.len().min(self.mh.bins), 0);
    }

    pub fn decode(&self, b: &[u8]) -> Option<InputProbe> {
        let u32_at = |i: usize| {
            b.get(i..i + 4)
                .and_then(|x| x.try_into().ok())
                .map(u32::from_le_bytes)
        };
        let exact = b
            .get(1..9)
            .and_then(|x| x.try_into().ok())
            .map(u64::from_le_bytes)?;
        let size = u32_at(9)?;
        let bands = (0..self.mh.bands)
            .map(|i| u32_at(13 + 4 * i))
            .collect::<Option<Vec<u32>>>()?;
        let at = 13 + 4 * self.mh.bands;
        Some(InputProbe {
            exact: (*b.first()? == 1).then_some(exact),
            size,
            // a sample without words has no bands: it is never a candidate
            bands: if size == 0 { Vec::new() } else { bands },
            sig: b.get(at..at + self.mh.bins)?.to_vec(),
        })
    }

    /// Adds held-out samples (call in task order, then [`seal`](Self::seal)).
    pub fn add(&mut self, keys: Vec<HeldKeys>) {
        for k in keys {
            let i = self.samples.len() as u32;
            if let Some(x) = k.probe.exact {
                self.exact.push((x, k.sample.id.as_u128(), i));
            }
            if k.probe.size > 0 {
                self.bands.extend(k.probe.bands.iter().map(|b| (*b, i)));
            }
            let mut sig = k.probe.sig;
            sig.resize(self.mh.bins, 0);
            self.sigs.extend(sig);
            self.sizes.push(k.probe.size);
            self.samples.push(k.sample);
        }
    }

    pub fn seal(&mut self) {
        self.exact.sort_unstable();
        self.bands.sort_unstable();
        // about 8 entries a stretch, at most 2^22 stretches (16 MB)
        let bits = (self.bands.len() / 8).max(2).ilog2().min(22);
        self.band_shift = 32 - bits;
        let mut starts = vec![0u32; (1 << bits) + 1];
        for e in &self.bands {
            starts[(e.0 >> self.band_shift) as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        self.band_starts = starts;
    }

    /// The held-out samples with band key `key`, in order.
    fn band(&self, key: u32) -> impl Iterator<Item = u32> + '_ {
        let high = (key >> self.band_shift) as usize;
        let stretch =
            &self.bands[self.band_starts[high] as usize..self.band_starts[high + 1] as usize];
        let at = stretch.partition_point(|e| e.0 < key);
        stretch[at..]
            .iter()
            .take_while(move |e| e.0 == key)
            .map(|e| e.1)
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn get(&self, i: usize) -> &HeldSample {
        &self.samples[i]
    }

    fn sig(&self, i: usize) -> &[u8] {
        &self.sigs[i * self.mh.bins..(i + 1) * self.mh.bins]
    }

    /// The leaks among a batch of training samples, given their probes. `load` reads the
    /// input shingle sets of held-out samples, `train` the set of training sample `j` of the
    /// batch; both are called only for candidates the screening leaves.
    ///
    /// Candidates are screened by their signatures' estimated similarity (as near-dedup
    /// screens, `minhash.rs`): far below the threshold they are dropped; the rest are compared
    /// exactly, most similar estimate first, [`CONFIRM_FIRST`] at a time, until one reaches the
    /// threshold; the leak is the best of the compared ones (highest Jaccard, then smallest id).
    pub fn check<E: Send>(
        &self,
        batch: &[InputProbe],
        load: &(dyn Fn(&HeldSample) -> Result<Vec<u64>, E> + Sync),
        train: &(dyn Fn(usize) -> Result<Vec<u64>, E> + Sync),
    ) -> Result<Vec<Leak>, E> {
        if self.samples.is_empty() {
            return Ok(Vec::new());
        }
        let mut leaks = Vec::new();
        // sub-batches bound the sets loaded at once
        for (c, chunk) in batch.chunks(256).enumerate() {
            let base = c * 256;
            let probes: Vec<Candidates> = chunk.par_iter().map(|p| self.candidates(p)).collect();
            let train_sets: HashMap<usize, Vec<u64>> = probes
                .iter()
                .enumerate()
                .filter(|(_, p)| matches!(p, Candidates::Near(_)))
                .map(|(j, _)| j)
                .collect::<Vec<usize>>()
                .into_par_iter()
                .map(|j| train(base + j).map(|s| (j, s)))
                .collect::<Result<_, E>>()?;
            let best = self.confirm(&probes, &train_sets, load)?;
            for (j, p) in probes.into_iter().enumerate() {
                match (p, best[j]) {
                    (Candidates::Exact(h), _) => leaks.push(Leak {
                        index: base + j,
                        held: h,
                        similarity: 1.0,
                        exact: true,
                    }),
                    (Candidates::Near(_), Some((jac, c))) => leaks.push(Leak {
                        index: base + j,
                        held: c,
                        similarity: round4(jac),
                        exact: false,
                    }),
                    _ => {}
                }
            }
        }
        Ok(leaks)
    }

    /// The held-out samples a training probe may leak: an exact match, or the band-sharing
    /// candidates that survive the screening, most similar estimate first.
    fn candidates(&self, p: &InputProbe) -> Candidates {
        let Some(key) = p.exact else {
            return Candidates::None;
        };
        let at = self.exact.partition_point(|e| e.0 < key);
        if let Some(&(k, _, h)) = self.exact.get(at)
            && k == key
        {
            return Candidates::Exact(h as usize);
        }
        if p.size == 0 {
            return Candidates::None;
        }
        let mut cands: Vec<u32> = Vec::new();
        for &bk in &p.bands {
            cands.extend(self.band(bk));
        }
        cands.sort_unstable();
        cands.dedup();
        cands.truncate(self.cfg.max_candidates);
        let lo = self.cfg.threshold - SCREEN_MARGIN;
        let dense = p.size >= SCREEN_MIN_SHINGLES;
        let mut scored: Vec<(std::cmp::Reverse<u32>, u32)> = cands
            .into_iter()
            .filter_map(|c| {
                if !dense || self.sizes[c as usize] < SCREEN_MIN_SHINGLES {
                    return Some((std::cmp::Reverse(u32::MAX), c));
                }
                let e = estimate(&p.sig, self.sig(c as usize));
                (e >= lo).then_some((std::cmp::Reverse((e * 1e6) as u32), c))
            })
            .collect();
        scored.sort_unstable();
        if scored.is_empty() {
            Candidates::None
        } else {
            Candidates::Near(scored.into_iter().map(|x| x.1).collect())
        }
    }

    /// Exact comparisons in rounds: the next [`CONFIRM_FIRST`] candidates of every sample still
    /// unresolved. Returns each probe's best leak `(Jaccard, held-out sample)`, if any.
    fn confirm<E: Send>(
        &self,
        probes: &[Candidates],
        train_sets: &HashMap<usize, Vec<u64>>,
        load: &(dyn Fn(&HeldSample) -> Result<Vec<u64>, E> + Sync),
    ) -> Result<Vec<Option<(f64, usize)>>, E> {
        let mut best: Vec<Option<(f64, usize)>> = vec![None; probes.len()];
        let mut done: Vec<bool> = probes
            .iter()
            .map(|p| !matches!(p, Candidates::Near(..)))
            .collect();
        let mut round = 0usize;
        while done.iter().any(|d| !d) {
            let range =
                |n: usize| (round * CONFIRM_FIRST).min(n)..((round + 1) * CONFIRM_FIRST).min(n);
            let mut need: Vec<usize> = probes
                .iter()
                .zip(&done)
                .filter(|(_, d)| !**d)
                .flat_map(|(p, _)| match p {
                    Candidates::Near(c) => c[range(c.len())].iter().map(|x| *x as usize).collect(),
                    _ => Vec::new(),
                })
                .collect();
            need.sort_unstable();
            need.dedup();
            let held_sets: HashMap<usize, Vec<u64>> = need
                .par_iter()
                .map(|i| load(&self.samples[*i]).map(|s| (*i, s)))
                .collect::<Result<_, E>>()?;
            for (j, p) in probes.iter().enumerate() {
                let (Candidates::Near(cands), false) = (p, done[j]) else {
                    continue;
                };
                let set = &train_sets[&j];
                for &c in &cands[range(cands.len())] {
                    let c = c as usize;
                    let jac = jaccard(set, &held_sets[&c]);
                    if jac < self.cfg.threshold {
                        continue;
                    }
                    let better = match best[j] {
                        None => true,
                        Some((bj, bc)) => {
                            jac > bj || (jac == bj && self.samples[c].id < self.samples[bc].id)
                        }
                    };
                    if better {
                        best[j] = Some((jac, c));
                    }
                }
                done[j] = best[j].is_some() || (round + 1) * CONFIRM_FIRST >= cands.len();
            }
            round += 1;
        }
        Ok(best)
    }
}

/// What a training probe may leak.
enum Candidates {
    Exact(usize),
    /// candidates, most similar estimate first
    Near(Vec<u32>),
    None,
}

/// Candidates compared exactly per round of [`HeldOut::check`].
pub const CONFIRM_FIRST: usize = 8;

/// Every leak of training samples of `tasks` (in-memory samples; tests and tools), ordered by
/// (task, sample index): `(task, index, leak)`. Returns also the held-out and training counts.
pub fn find_leaks(
    tasks: &[&[Sample]],
    cfg: &LeakConfig,
    seed: u64,
) -> (Vec<(usize, usize, Leak)>, u64, u64) {
    let mut held = HeldOut::new(cfg.clone(), seed);
    let mut sets: Vec<Vec<Vec<u64>>> = Vec::new();
    for (t, ss) in tasks.iter().enumerate() {
        let mut task_sets = Vec::new();
        let keys: Vec<HeldKeys> = ss
            .iter()
            .filter_map(|s| s.split.filter(|x| is_held_out(Some(*x))).map(|x| (s, x)))
            .map(|(s, split)| {
                task_sets.push(text_shingles(&s.input, cfg.shingle, seed));
                HeldKeys {
                    sample: HeldSample {
                        task: t,
                        set: task_sets.len() as u32 - 1,
                        id: s.id,
                        split,
                    },
                    probe: held.probe_text(&s.input),
                }
            })
            .collect();
        held.add(keys);
        sets.push(task_sets);
    }
    held.seal();
    let mut out = Vec::new();
    let mut train = 0u64;
    for (t, ss) in tasks.iter().enumerate() {
        let tr: Vec<(usize, &Sample)> = ss
            .iter()
            .enumerate()
            .filter(|(_, s)| s.split == Some(Split::Train))
            .collect();
        train += tr.len() as u64;
        let probes: Vec<InputProbe> = tr.iter().map(|(_, s)| held.probe_text(&s.input)).collect();
        let load = |h: &HeldSample| Ok(sets[h.task][h.set as usize].clone());
        let train_set = |j: usize| Ok(text_shingles(&tr[j].1.input, cfg.shingle, seed));
        let Ok(leaks) = held.check::<std::convert::Infallible>(&probes, &load, &train_set);
        for l in leaks {
            out.push((t, tr[l.index].0, l));
        }
    }
    (out, held.len() as u64, train)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: u128, input: &str, split: &str) -> Sample {
        Sample {
            id: SampleId::from_u128(id),
            instruction: String::new(),
            instruction_id: 0,
            input: input.into(),
            output: "o".into(),
            split: Split::parse(split),
            source_file: String::new(),
            source_locator: String::new(),
            raw_sha256: String::new(),
            group_key: id.to_string(),
            order: (0, 0),
        }
    }

    #[test]
    fn band_look_up_finds_every_sample_of_the_key() {
        let mut held = HeldOut::new(LeakConfig::default(), 0);
        let mut x = 0x2545f4914f6cdd1du64;
        let mut keys: Vec<u32> = (0..3000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u32
            })
            .collect();
        // repeated keys, and the smallest and largest ones
        keys.extend([0, 0, u32::MAX, u32::MAX, keys[7], keys[7]]);
        held.bands = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i as u32))
            .collect();
        held.seal();
        for k in keys.iter().copied().chain([1, 12345]) {
            let expected: Vec<u32> = held
                .bands
                .iter()
                .filter(|e| e.0 == k)
                .map(|e| e.1)
                .collect();
            assert_eq!(held.band(k).collect::<Vec<u32>>(), expected, "{k}");
        }
    }

    #[test]
    fn exact_and_near_leaks_across_tasks() {
        let long = "aspirin irreversibly inhibits cyclooxygenase in platelets for the whole lifetime of the platelet which is about ten days";
        let a = vec![
            s(
                0x71,
                "Aspirin, irreversibly inhibits cyclooxygenase in platelets for the whole lifetime of the platelet which is about ten days",
                "test",
            ),
            s(0x76, "short one", "validation"),
        ];
        let b = vec![
            s(0x81, long, "train"),
            s(0x82, &long.replace("days", "weeks"), "train"),
            s(0x83, "SHORT one", "train"),
            s(0x84, "something entirely different about kidneys", "train"),
        ];
        let (leaks, held, train) = find_leaks(&[&a, &b], &LeakConfig::default(), 0);
        assert_eq!((held, train), (2, 4));
        let got: Vec<(usize, usize, &str, bool)> = leaks
            .iter()
            .map(|(t, i, l)| (*t, *i, ["t1", "v1"][l.held], l.exact))
            .collect();
        assert_eq!(
            got,
            [(1, 0, "t1", true), (1, 1, "t1", false), (1, 2, "v1", true)]
        );
        assert!(leaks[1].2.similarity >= 0.8 && leaks[1].2.similarity < 1.0);
    }
}

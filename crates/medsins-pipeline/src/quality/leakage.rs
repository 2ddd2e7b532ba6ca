//! Cross-task leakage: no test or validation input may appear in any training sample of any
//! task, exactly (same lower-cased word sequence) or as a near-duplicate (MinHash LSH over the
//! inputs' word shingles, confirmed by exact Jaccard). The offending training samples are
//! removed; the held-out sample is the one kept.

use super::minhash::{MinHasher, jaccard, round4, text_shingles};
use super::sets::SetStore;
use medsins_core::Sample;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

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

/// Key of the "exactly equal after normalisation" comparison: lower-cased words.
pub fn exact_key(text: &str, seed: u64) -> Option<u64> {
    let mut joined = String::with_capacity(text.len());
    for w in text.split(|c: char| !c.is_alphanumeric()) {
        if w.is_empty() {
            continue;
        }
        if !joined.is_empty() {
            joined.push(' ');
        }
        if w.is_ascii() {
            joined.extend(w.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            joined.push_str(&w.to_lowercase());
        }
    }
    (!joined.is_empty()).then(|| xxh3_64_with_seed(joined.as_bytes(), seed))
}

pub fn is_held_out(split: &str) -> bool {
    split == "test" || split == "validation"
}

/// One held-out sample: where it is and what the leakage check compares.
#[derive(Debug, Clone)]
pub struct HeldSample {
    /// Position of its task in the build (as given to [`HeldOut::keys`]).
    pub task: usize,
    /// The number of its input's shingle set in that task's held-out set store.
    pub set: u32,
    pub id: String,
    pub split: String,
}

/// What a held-out sample contributes to the index (computed per task, in parallel).
pub struct HeldKeys {
    pub sample: HeldSample,
    exact: Option<u64>,
    bands: Vec<u64>,
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
}

fn id128(id: &str) -> u128 {
    u128::from_str_radix(id, 16).unwrap_or(u128::MAX)
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
        }
    }

    /// The index keys of held-out samples of task `task` (in parallel); their input shingle
    /// sets go to `sets`, the task's held-out set store.
    pub fn keys(
        &self,
        task: usize,
        batch: &[Sample],
        sets: &mut SetStore,
    ) -> Result<Vec<HeldKeys>, String> {
        let computed: Vec<(Vec<u64>, Option<u64>, Vec<u64>)> = batch
            .par_iter()
            .map(|s| {
                let set = text_shingles(&s.input, self.cfg.shingle, self.seed);
                let bands = self.mh.band_keys(&self.mh.signature(&set));
                (set, exact_key(&s.input, self.seed), bands)
            })
            .collect();
        batch
            .iter()
            .zip(computed)
            .map(|(s, (set, exact, bands))| {
                Ok(HeldKeys {
                    sample: HeldSample {
                        task,
                        set: sets.push(&set)?,
                        id: s.id.clone(),
                        split: s.split.clone(),
                    },
                    exact,
                    bands,
                })
            })
            .collect()
    }

    /// Adds held-out samples (call in task order, then [`seal`](Self::seal)).
    pub fn add(&mut self, keys: Vec<HeldKeys>) {
        for k in keys {
            let i = self.samples.len() as u32;
            if let Some(x) = k.exact {
                self.exact.push((x, id128(&k.sample.id), i));
            }
            self.bands.extend(k.bands.iter().map(|b| (*b as u32, i)));
            self.samples.push(k.sample);
        }
    }

    pub fn seal(&mut self) {
        self.exact.sort_unstable();
        self.bands.sort_unstable();
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

    /// The leaks among a batch of training samples. `load` reads the input shingle sets of
    /// held-out samples (by index) for the exact Jaccard confirmation of candidates.
    pub fn check(
        &self,
        batch: &[Sample],
        load: &(dyn Fn(&HeldSample) -> Result<Vec<u64>, String> + Sync),
    ) -> Result<Vec<Leak>, String> {
        if self.samples.is_empty() {
            return Ok(Vec::new());
        }
        let mut leaks = Vec::new();
        // sub-batches bound the held-out texts loaded at once
        for (c, chunk) in batch.chunks(256).enumerate() {
            let base = c * 256;
            enum Probe {
                Exact(usize),
                Near(Vec<u64>, Vec<u32>),
                None,
            }
            let probes: Vec<Probe> = chunk
                .par_iter()
                .map(|s| {
                    let Some(key) = exact_key(&s.input, self.seed) else {
                        return Probe::None;
                    };
                    let lo = self.exact.partition_point(|e| e.0 < key);
                    if let Some(&(k, _, h)) = self.exact.get(lo)
                        && k == key
                    {
                        return Probe::Exact(h as usize);
                    }
                    let set = text_shingles(&s.input, self.cfg.shingle, self.seed);
                    if set.is_empty() {
                        return Probe::None;
                    }
                    let mut cands: Vec<u32> = Vec::new();
                    for bk in self.mh.band_keys(&self.mh.signature(&set)) {
                        let bk = bk as u32;
                        let lo = self.bands.partition_point(|e| e.0 < bk);
                        cands.extend(
                            self.bands[lo..]
                                .iter()
                                .take_while(|e| e.0 == bk)
                                .map(|e| e.1),
                        );
                    }
                    cands.sort_unstable();
                    cands.dedup();
                    cands.truncate(self.cfg.max_candidates);
                    if cands.is_empty() {
                        Probe::None
                    } else {
                        Probe::Near(set, cands)
                    }
                })
                .collect();
            let mut need: Vec<usize> = probes
                .iter()
                .flat_map(|p| match p {
                    Probe::Near(_, c) => c.iter().map(|x| *x as usize).collect(),
                    _ => Vec::new(),
                })
                .collect();
            need.sort_unstable();
            need.dedup();
            let held_sets: std::collections::HashMap<usize, Vec<u64>> = need
                .par_iter()
                .map(|i| load(&self.samples[*i]).map(|s| (*i, s)))
                .collect::<Result<_, String>>()?;
            for (j, p) in probes.into_iter().enumerate() {
                match p {
                    Probe::Exact(h) => leaks.push(Leak {
                        index: base + j,
                        held: h,
                        similarity: 1.0,
                        exact: true,
                    }),
                    Probe::Near(set, cands) => {
                        let mut best: Option<(f64, &str, usize)> = None;
                        for c in cands {
                            let c = c as usize;
                            let jac = jaccard(&set, &held_sets[&c]);
                            if jac < self.cfg.threshold {
                                continue;
                            }
                            let id = self.samples[c].id.as_str();
                            let better = match best {
                                None => true,
                                Some((bj, bid, _)) => jac > bj || (jac == bj && id < bid),
                            };
                            if better {
                                best = Some((jac, id, c));
                            }
                        }
                        if let Some((jac, _, c)) = best {
                            leaks.push(Leak {
                                index: base + j,
                                held: c,
                                similarity: round4(jac),
                                exact: false,
                            });
                        }
                    }
                    Probe::None => {}
                }
            }
        }
        Ok(leaks)
    }
}

/// Every leak of training samples of `tasks` (in-memory samples; tests and tools), ordered by
/// (task, sample index): `(task, index, leak)`. Returns also the held-out and training counts.
pub fn find_leaks(
    tasks: &[&[Sample]],
    cfg: &LeakConfig,
    seed: u64,
) -> (Vec<(usize, usize, Leak)>, u64, u64) {
    let mut held = HeldOut::new(cfg.clone(), seed);
    let mut sets: Vec<SetStore> = Vec::new();
    for (t, ss) in tasks.iter().enumerate() {
        let batch: Vec<Sample> = ss
            .iter()
            .filter(|s| is_held_out(&s.split))
            .cloned()
            .collect();
        let mut store = SetStore::memory();
        if let Ok(keys) = held.keys(t, &batch, &mut store) {
            held.add(keys);
        }
        sets.push(store);
    }
    held.seal();
    let mut out = Vec::new();
    let mut train = 0u64;
    for (t, ss) in tasks.iter().enumerate() {
        let tr: Vec<(usize, Sample)> = ss
            .iter()
            .enumerate()
            .filter(|(_, s)| s.split == "train")
            .map(|(i, s)| (i, s.clone()))
            .collect();
        train += tr.len() as u64;
        let batch: Vec<Sample> = tr.iter().map(|x| x.1.clone()).collect();
        let load = |h: &HeldSample| sets[h.task].get(h.set);
        for l in held.check(&batch, &load).unwrap_or_default() {
            out.push((t, tr[l.index].0, l));
        }
    }
    (out, held.len() as u64, train)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: &str, input: &str, split: &str) -> Sample {
        Sample {
            id: id.into(),
            instruction: String::new(),
            instruction_id: 0,
            input: input.into(),
            output: "o".into(),
            split: split.into(),
            source_file: String::new(),
            source_locator: String::new(),
            raw_sha256: String::new(),
            group_key: id.into(),
            order: (0, 0),
        }
    }

    #[test]
    fn exact_and_near_leaks_across_tasks() {
        let long = "aspirin irreversibly inhibits cyclooxygenase in platelets for the whole lifetime of the platelet which is about ten days";
        let a = vec![
            s(
                "t1",
                "Aspirin, irreversibly inhibits cyclooxygenase in platelets for the whole lifetime of the platelet which is about ten days",
                "test",
            ),
            s("v1", "short one", "validation"),
        ];
        let b = vec![
            s("x1", long, "train"),
            s("x2", &long.replace("days", "weeks"), "train"),
            s("x3", "SHORT one", "train"),
            s("x4", "something entirely different about kidneys", "train"),
        ];
        let (leaks, held, train) = find_leaks(&[&a, &b], &LeakConfig::default(), 0);
        assert_eq!((held, train), (2, 4));
        let got: Vec<(usize, usize, &str, bool)> = leaks
            .iter()
            .map(|(t, i, l)| (*t, *i, [a[0].id.as_str(), a[1].id.as_str()][l.held], l.exact))
            .collect();
        assert_eq!(got, [(1, 0, "t1", true), (1, 1, "t1", false), (1, 2, "v1", true)]);
        assert!(leaks[1].2.similarity >= 0.8 && leaks[1].2.similarity < 1.0);
    }
}

//! Cross-task leakage: no test or validation input may appear in any training sample of any
//! task, exactly (same lower-cased word sequence) or as a near-duplicate (MinHash LSH over the
//! inputs' word shingles, confirmed by exact Jaccard). The offending training samples are
//! removed; the held-out sample is the one kept.

use super::minhash::{MinHasher, jaccard, round4, text_shingles, words};
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
    /// Index of the task in the slice given, and of the sample in that task.
    pub task: usize,
    pub index: usize,
    pub held_out_task: usize,
    pub held_out_id: String,
    pub held_out_split: String,
    pub similarity: f64,
    pub exact: bool,
}

/// Key of the "exactly equal after normalisation" comparison: lower-cased words.
pub fn exact_key(text: &str, seed: u64) -> Option<u64> {
    let w = words(text);
    (!w.is_empty()).then(|| xxh3_64_with_seed(w.join(" ").as_bytes(), seed))
}

fn held_out(split: &str) -> bool {
    split == "test" || split == "validation"
}

/// Every leak, ordered by (task, sample index). `tasks` are the tasks' final samples.
pub fn find_leaks(tasks: &[&[Sample]], cfg: &LeakConfig, seed: u64) -> (Vec<Leak>, u64, u64) {
    struct Held<'a> {
        task: usize,
        s: &'a Sample,
        set: Vec<u64>,
    }
    let held: Vec<Held> = tasks
        .iter()
        .enumerate()
        .flat_map(|(t, ss)| {
            ss.iter()
                .filter(|s| held_out(&s.split))
                .map(move |s| (t, s))
        })
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(task, s)| Held {
            task,
            s,
            set: text_shingles(&s.input, cfg.shingle, seed),
        })
        .collect();
    let train: Vec<(usize, usize)> = tasks
        .iter()
        .enumerate()
        .flat_map(|(t, ss)| {
            ss.iter()
                .enumerate()
                .filter(|(_, s)| s.split == "train")
                .map(move |(i, _)| (t, i))
        })
        .collect();
    if held.is_empty() || train.is_empty() {
        return (Vec::new(), held.len() as u64, train.len() as u64);
    }
    // exact index: (key, id, held index) sorted, so the first match has the smallest id
    let mut exact: Vec<(u64, &str, u32)> = held
        .iter()
        .enumerate()
        .filter_map(|(i, h)| exact_key(&h.s.input, seed).map(|k| (k, h.s.id.as_str(), i as u32)))
        .collect();
    exact.sort_unstable();
    let mh = MinHasher::new(seed, "leakage", cfg.permutations, cfg.bands, cfg.rows);
    let mut bands: Vec<(u64, u32)> = held
        .par_iter()
        .enumerate()
        .filter(|(_, h)| !h.set.is_empty())
        .flat_map_iter(|(i, h)| {
            mh.band_keys(&mh.signature(&h.set))
                .into_iter()
                .map(move |k| (k, i as u32))
        })
        .collect();
    bands.sort_unstable();

    let leaks: Vec<Leak> = train
        .par_iter()
        .filter_map(|&(t, i)| {
            let s = &tasks[t][i];
            let key = exact_key(&s.input, seed)?;
            let lo = exact.partition_point(|e| e.0 < key);
            if let Some(&(k, _, h)) = exact.get(lo)
                && k == key
            {
                let h = &held[h as usize];
                return Some(Leak {
                    task: t,
                    index: i,
                    held_out_task: h.task,
                    held_out_id: h.s.id.clone(),
                    held_out_split: h.s.split.clone(),
                    similarity: 1.0,
                    exact: true,
                });
            }
            let set = text_shingles(&s.input, cfg.shingle, seed);
            if set.is_empty() {
                return None;
            }
            let mut cands: Vec<u32> = Vec::new();
            for bk in mh.band_keys(&mh.signature(&set)) {
                let lo = bands.partition_point(|e| e.0 < bk);
                cands.extend(bands[lo..].iter().take_while(|e| e.0 == bk).map(|e| e.1));
            }
            cands.sort_unstable();
            cands.dedup();
            cands.truncate(cfg.max_candidates);
            let mut best: Option<(f64, &str, u32)> = None;
            for c in cands {
                let h = &held[c as usize];
                let j = jaccard(&set, &h.set);
                if j < cfg.threshold {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((bj, bid, _)) => j > bj || (j == bj && h.s.id.as_str() < bid),
                };
                if better {
                    best = Some((j, h.s.id.as_str(), c));
                }
            }
            best.map(|(j, _, c)| {
                let h = &held[c as usize];
                Leak {
                    task: t,
                    index: i,
                    held_out_task: h.task,
                    held_out_id: h.s.id.clone(),
                    held_out_split: h.s.split.clone(),
                    similarity: round4(j),
                    exact: false,
                }
            })
        })
        .collect();
    (leaks, held.len() as u64, train.len() as u64)
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
        let got: Vec<(usize, &str, bool)> = leaks
            .iter()
            .map(|l| (l.index, l.held_out_id.as_str(), l.exact))
            .collect();
        assert_eq!(got, [(0, "t1", true), (1, "t1", false), (2, "v1", true)]);
        assert!(leaks[1].similarity >= 0.8 && leaks[1].similarity < 1.0);
    }
}

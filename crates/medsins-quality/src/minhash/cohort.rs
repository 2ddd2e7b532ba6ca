//! One near-duplicate search for the tasks of a group that render identical inputs from the
//! same records (MIMIC-IV-ED's hospitalisation and critical-triage tasks): the search scales
//! with the distinct inputs, not with the samples of every task (docs/data-quality.md,
//! "Tasks with identical inputs").
//!
//! - Every distinct input (by its key: the hash of its lower-cased words, so one input set)
//!   is a *slot*, numbered in task order then sample order; a task's samples point to slots
//!   (several samples of a task can share one: the same input with different outputs).
//! - Candidates are slot pairs sharing an LSH band of the **input** signatures (the bucket
//!   window of [`BUCKET_WINDOW`] applies), screened by the inputs' estimated similarity: a
//!   pair more than the screening margin below the threshold is rejected. Nothing is accepted
//!   on the estimate: the output can still pull a pair under the threshold.
//! - Each surviving slot pair is confirmed **per task**, for every pair of that task's samples
//!   on the two slots that is not already in one cluster, by the exact Jaccard of the task's
//!   full sets (input and output shingles): the input intersection is counted once for all
//!   tasks, each task adds its outputs'. Samples of one task on the same slot are candidates
//!   of each other (the window again).
//! - Input sets are built once per slot, output sets once per sample of each task.
//!
//! Clusters, representatives (smallest id) and similarities are then as in
//! [`NearIndex::find`]: each task's clusters are the connected components of its confirmed
//! pairs, so they depend neither on threads nor on the order pairs are examined in.

use super::{
    BUCKET_WINDOW, NearDuplicate, NearIndex, ROUND_ENTRIES, SCREEN_MIN_SHINGLES, SetCache,
    TextLoader, UnionFind, agreeing, band_entries, bucket_pairs, high_set, intersection, ratio,
    round4, rounds, screen_margin, shingles_into,
};
use rayon::prelude::*;
use std::collections::HashMap;

/// One task of a shared-input search: its index (which [signs inputs](NearIndex::sign_inputs)),
/// its samples' ids and the reader of its samples' texts by position.
pub struct CohortTask<'a, K, E> {
    pub index: &'a NearIndex,
    pub ids: &'a [K],
    pub load: &'a TextLoader<'a, E>,
}

/// A task's pair of samples `(task, x, y)` still in different clusters.
type TaskPair = (u32, u32, u32);

/// The distinct inputs of the tasks and where each task's samples point.
struct Slots {
    /// the first (task, sample) of each slot: its signature, and whose text gives its set
    first: Vec<(u32, u32)>,
    /// per task, its samples grouped by slot: `samples[t][start[t][s]..start[t][s + 1]]`
    samples: Vec<Vec<u32>>,
    start: Vec<Vec<u32>>,
    /// per task, the slot of each sample (`u32::MAX`: no words, never compared)
    of: Vec<Vec<u32>>,
}

impl Slots {
    fn new<K, E>(tasks: &[CohortTask<K, E>]) -> Slots {
        let mut by_key: HashMap<u64, u32> = HashMap::new();
        let mut first: Vec<(u32, u32)> = Vec::new();
        let mut of: Vec<Vec<u32>> = Vec::with_capacity(tasks.len());
        for (t, task) in tasks.iter().enumerate() {
            let ix = task.index;
            let keys = ix.input_keys.as_deref().unwrap_or(&[]);
            of.push(
                (0..ix.len())
                    .map(|i| {
                        if ix.sizes[i] == 0 {
                            return u32::MAX;
                        }
                        *by_key.entry(keys[i]).or_insert_with(|| {
                            first.push((t as u32, i as u32));
                            first.len() as u32 - 1
                        })
                    })
                    .collect(),
            );
        }
        let n = first.len();
        let (mut samples, mut start) = (Vec::new(), Vec::new());
        for slots in &of {
            let mut s: Vec<(u32, u32)> = (0..slots.len() as u32)
                .filter(|i| slots[*i as usize] != u32::MAX)
                .map(|i| (slots[i as usize], i))
                .collect();
            s.sort_unstable();
            let mut st = vec![0u32; n + 1];
            for (slot, _) in &s {
                st[*slot as usize + 1] += 1;
            }
            for k in 0..n {
                st[k + 1] += st[k];
            }
            samples.push(s.into_iter().map(|x| x.1).collect());
            start.push(st);
        }
        Slots {
            first,
            samples,
            start,
            of,
        }
    }

    fn len(&self) -> usize {
        self.first.len()
    }

    /// Task `t`'s samples on `slot`, in sample order.
    fn of_task(&self, t: usize, slot: u32) -> &[u32] {
        let st = &self.start[t];
        &self.samples[t][st[slot as usize] as usize..st[slot as usize + 1] as usize]
    }
}

/// The sets one shared search compares: input sets by slot, output sets by task and sample.
struct Sets<'a, K, E> {
    tasks: &'a [CohortTask<'a, K, E>],
    slots: &'a Slots,
    inputs: SetCache,
    outputs: Vec<SetCache>,
}

impl<K, E> Sets<'_, K, E> {
    /// Loads the sets the pairs need: the input set of each slot (from the text of its first
    /// sample) and the output set of each sample.
    fn ensure(&mut self, pairs: &[TaskPair]) -> Result<(), E> {
        let (k, seed) = (self.tasks[0].index.cfg.shingle, self.tasks[0].index.seed);
        let mut slots: Vec<usize> = Vec::new();
        let mut per_task: Vec<Vec<usize>> = vec![Vec::new(); self.tasks.len()];
        for &(t, x, y) in pairs {
            for s in [x, y] {
                slots.push(self.slots.of[t as usize][s as usize] as usize);
                per_task[t as usize].push(s as usize);
            }
        }
        slots.sort_unstable();
        slots.dedup();
        let missing = self.inputs.missing(&slots);
        // the missing slots' texts, read by the task holding each slot's first sample
        let mut by_task: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.tasks.len()];
        for (j, slot) in missing.iter().enumerate() {
            let (t, i) = self.slots.first[*slot];
            by_task[t as usize].push((i as usize, j));
        }
        let mut loaded: Vec<Box<[u32]>> = vec![Box::default(); missing.len()];
        for (t, wanted) in by_task.iter().enumerate() {
            if wanted.is_empty() {
                continue;
            }
            let pos: Vec<usize> = wanted.iter().map(|w| w.0).collect();
            let texts = (self.tasks[t].load)(&pos)?;
            let sets: Vec<Box<[u32]>> = texts
                .par_iter()
                .map(|(input, _)| {
                    let mut v = Vec::new();
                    shingles_into(&mut v, input, k, seed, b'i');
                    high_set(v)
                })
                .collect();
            for (w, set) in wanted.iter().zip(sets) {
                loaded[w.1] = set;
            }
        }
        self.inputs.fill(&slots, missing, loaded);
        for (t, mut need) in per_task.into_iter().enumerate() {
            need.sort_unstable();
            need.dedup();
            self.outputs[t].ensure(&need, self.tasks[t].load, |_, output| {
                let mut v = Vec::new();
                shingles_into(&mut v, output, k, seed, b'o');
                v
            })?;
        }
        Ok(())
    }

    fn input(&self, t: u32, x: u32) -> &[u32] {
        self.inputs.get(self.slots.of[t as usize][x as usize])
    }

    fn output(&self, t: u32, x: u32) -> &[u32] {
        self.outputs[t as usize].get(x)
    }

    /// `(shingles of both full sets together, most output shingles they can share)` of a pair.
    fn totals(&self, (t, x, y): TaskPair) -> (usize, usize) {
        let (ox, oy) = (self.output(t, x).len(), self.output(t, y).len());
        (
            self.input(t, x).len() + self.input(t, y).len() + ox + oy,
            ox.min(oy),
        )
    }

    /// The full-set Jaccard of each pair on slots `a` and `b` (all of them, or only those
    /// that can reach `threshold`: `None` for the others), the inputs' intersection counted
    /// once for all.
    fn jaccards(
        &self,
        a: u32,
        b: u32,
        pairs: &[TaskPair],
        threshold: Option<f64>,
    ) -> Vec<Option<f64>> {
        let (t, x, y) = pairs[0];
        let (ia, ib) = (self.input(t, x), self.input(t, y));
        let inter = if a == b {
            Some(ia.len())
        } else {
            let bounds: Vec<(usize, usize)> = pairs.iter().map(|p| self.totals(*p)).collect();
            intersection(ia, ib, |most| {
                threshold.is_none_or(|th| {
                    bounds
                        .iter()
                        .any(|(total, out)| ratio(most + out, *total) >= th)
                })
            })
        };
        pairs
            .iter()
            .map(|&(t, x, y)| {
                let inter = inter?;
                let out = intersection(self.output(t, x), self.output(t, y), |_| true)?;
                let j = ratio(inter + out, self.totals((t, x, y)).0);
                threshold.is_none_or(|th| j >= th).then_some(j)
            })
            .collect()
    }
}

/// Near-duplicates of each task of a group of tasks with identical inputs (see the module
/// docs), in the tasks' order; each task's list is as [`NearIndex::find`] gives it.
pub fn find_shared<K: Ord + Sync, E: Send>(
    tasks: &[CohortTask<'_, K, E>],
) -> Result<Vec<Vec<NearDuplicate>>, E> {
    let mut out: Vec<Vec<NearDuplicate>> = tasks.iter().map(|_| Vec::new()).collect();
    let Some(first) = tasks.first() else {
        return Ok(out);
    };
    let t0 = std::time::Instant::now();
    let slots = Slots::new(tasks);
    let mut sets = Sets {
        tasks,
        slots: &slots,
        inputs: SetCache::new(slots.len()),
        outputs: tasks.iter().map(|t| SetCache::new(t.index.len())).collect(),
    };
    let mut ufs: Vec<UnionFind> = tasks
        .iter()
        .map(|t| UnionFind::new(t.index.len()))
        .collect();
    let (mh, cfg) = (&first.index.mh, &first.index.cfg);
    let sig = |slot: u32| {
        let (t, i) = slots.first[slot as usize];
        (
            tasks[t as usize].index.sig(i as usize),
            tasks[t as usize].index.sizes[i as usize],
        )
    };
    let threshold = cfg.threshold;
    let lo = (threshold - screen_margin(mh.bins)) * mh.bins as f64;
    let mut counts = Counts::default();
    // samples of one task on one slot: identical inputs, compared by their outputs
    let same: Vec<(u32, u32)> = (0..slots.len() as u32).map(|s| (s, s)).collect();
    confirm(&same, &mut sets, &mut ufs, threshold, &mut counts)?;
    let entries = band_entries(slots.len(), mh.bands, mh.rows, |s| Some(sig(s as u32).0));
    for round in rounds(&entries, ROUND_ENTRIES) {
        let mut screened: Vec<(u32, u32, u32)> = bucket_pairs(&entries[round], |a, b| {
            let ((sa, na), (sb, nb)) = (sig(a), sig(b));
            if na.min(nb) < SCREEN_MIN_SHINGLES {
                return Some((u32::MAX, a, b));
            }
            let same = agreeing(sa, sb);
            ((same as f64) >= lo).then_some((u32::MAX - same, a, b))
        });
        screened.par_sort_unstable();
        screened.dedup();
        counts.candidates += screened.len();
        let pairs: Vec<(u32, u32)> = screened.into_iter().map(|p| (p.1, p.2)).collect();
        confirm(&pairs, &mut sets, &mut ufs, threshold, &mut counts)?;
    }
    log::debug!(
        "near_dedup (shared by {} tasks): {} distinct inputs of {} samples, {} candidate input pairs after screening, {} compared exactly, {} task pairs confirmed ({:.2}s)",
        tasks.len(),
        slots.len(),
        tasks.iter().map(|t| t.index.len()).sum::<usize>(),
        counts.candidates,
        counts.compared,
        counts.confirmed,
        t0.elapsed().as_secs_f64()
    );
    for (t, task) in tasks.iter().enumerate() {
        if counts.confirmed > 0 {
            out[t] = members(t as u32, task.ids, &mut ufs[t], &mut sets)?;
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Counts {
    candidates: usize,
    compared: usize,
    confirmed: usize,
}

/// Confirms candidate slot pairs `(a, b)` (`a == b`: the samples of one slot) in every task,
/// in chunks: the task pairs still apart are compared exactly and joined.
fn confirm<K: Sync, E>(
    pairs: &[(u32, u32)],
    sets: &mut Sets<K, E>,
    ufs: &mut [UnionFind],
    threshold: f64,
    counts: &mut Counts,
) -> Result<(), E> {
    for chunk in pairs.chunks(4096) {
        let mut todo: Vec<(u32, u32, Vec<TaskPair>)> = Vec::new();
        for &(a, b) in chunk {
            let mut apart: Vec<TaskPair> = Vec::new();
            for (t, uf) in ufs.iter_mut().enumerate() {
                let (xs, ys) = (sets.slots.of_task(t, a), sets.slots.of_task(t, b));
                for (j, &y) in ys.iter().enumerate() {
                    // within a slot, each sample with the window of samples before it
                    let xs = if a == b {
                        &xs[j.saturating_sub(BUCKET_WINDOW)..j]
                    } else {
                        xs
                    };
                    for &x in xs {
                        if uf.find(x) != uf.find(y) {
                            apart.push((t as u32, x, y));
                        }
                    }
                }
            }
            if !apart.is_empty() {
                todo.push((a, b, apart));
            }
        }
        if todo.is_empty() {
            continue;
        }
        counts.compared += todo.len();
        let all: Vec<TaskPair> = todo.iter().flat_map(|x| x.2.iter().copied()).collect();
        sets.ensure(&all)?;
        let sets = &*sets;
        let joined: Vec<TaskPair> = todo
            .par_iter()
            .flat_map_iter(|(a, b, apart)| {
                let j = sets.jaccards(*a, *b, apart, Some(threshold));
                apart
                    .iter()
                    .zip(j)
                    .filter_map(|(p, j)| j.map(|_| *p))
                    .collect::<Vec<_>>()
            })
            .collect();
        counts.confirmed += joined.len();
        for (t, x, y) in joined {
            ufs[t as usize].union(x, y);
        }
    }
    Ok(())
}

/// Every member of task `t`'s clusters but the representative (smallest id), with its
/// Jaccard with the representative, in sample order.
fn members<K: Ord, E>(
    t: u32,
    ids: &[K],
    uf: &mut UnionFind,
    sets: &mut Sets<K, E>,
) -> Result<Vec<NearDuplicate>, E> {
    let n = ids.len();
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
    let mut found: Vec<(usize, usize, usize)> = Vec::new();
    for i in 0..n {
        let r = uf.find(i as u32) as usize;
        if let Some(k) = rep[r]
            && size[r] > 1
            && k != i
        {
            found.push((i, k, size[r]));
        }
    }
    let mut out = Vec::with_capacity(found.len());
    for chunk in found.chunks(2048) {
        let pairs: Vec<TaskPair> = chunk.iter().map(|m| (t, m.1 as u32, m.0 as u32)).collect();
        sets.ensure(&pairs)?;
        for (m, p) in chunk.iter().zip(&pairs) {
            let (a, b) = (
                sets.slots.of[t as usize][p.1 as usize],
                sets.slots.of[t as usize][p.2 as usize],
            );
            let j = sets.jaccards(a, b, std::slice::from_ref(p), None)[0].unwrap_or(0.0);
            out.push(NearDuplicate {
                index: m.0,
                representative: m.1,
                similarity: round4(j),
                cluster_size: m.2,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{near_duplicates, scan_into};
    use super::*;
    use medsins_core::SampleId;
    use medsins_manifest::{NearDedup, NearDedupPolicy};

    type Item = (SampleId, String, String);

    /// `n` words drawn from a small vocabulary by a seeded generator.
    fn text(n: usize, seed: u64) -> String {
        let mut x = seed.wrapping_mul(0x9e3779b97f4a7c15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("w{}", x % 5000)
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// An index signing the inputs of `items` alone, as a task of a cohort builds it.
    fn input_index(items: &[Item], cfg: &NearDedup) -> NearIndex {
        let mut ix = NearIndex::new(cfg, 0);
        ix.sign_inputs();
        let (mut hashes, mut keys) = (Vec::new(), Vec::new());
        for (_, input, _) in items {
            let mut h = Vec::new();
            keys.push(scan_into(&mut h, input, cfg.shingle, 0, b'i'));
            hashes.push(h);
        }
        let outputs: Vec<usize> = items
            .iter()
            .map(|(_, _, o)| {
                let mut h = Vec::new();
                shingles_into(&mut h, o, cfg.shingle, 0, b'o');
                h.len()
            })
            .collect();
        ix.add_inputs(&hashes, &keys, &outputs);
        ix
    }

    fn shared(tasks: &[Vec<Item>], cfg: &NearDedup) -> Vec<Vec<NearDuplicate>> {
        let indexes: Vec<NearIndex> = tasks.iter().map(|t| input_index(t, cfg)).collect();
        let ids: Vec<Vec<SampleId>> = tasks
            .iter()
            .map(|t| t.iter().map(|x| x.0).collect())
            .collect();
        let loads: Vec<Box<TextLoader<'_, std::convert::Infallible>>> = tasks
            .iter()
            .map(|t| {
                Box::new(move |pos: &[usize]| {
                    Ok(pos
                        .iter()
                        .map(|p| (t[*p].1.clone(), t[*p].2.clone()))
                        .collect())
                }) as Box<TextLoader<'_, std::convert::Infallible>>
            })
            .collect();
        let cohort: Vec<CohortTask<'_, SampleId, std::convert::Infallible>> = indexes
            .iter()
            .zip(&ids)
            .zip(&loads)
            .map(|((index, ids), load)| CohortTask {
                index,
                ids,
                load: load.as_ref(),
            })
            .collect();
        let Ok(found) = find_shared(&cohort);
        found
    }

    fn separate(items: &[Item], cfg: &NearDedup) -> Vec<NearDuplicate> {
        let refs: Vec<(SampleId, &str, &str)> = items
            .iter()
            .map(|(id, i, o)| (*id, i.as_str(), o.as_str()))
            .collect();
        near_duplicates(&refs, cfg, 0)
    }

    /// Two tasks over the same 60 inputs of 100 words: 20 planted pairs differing in one word
    /// (input Jaccard ≈ 0.9). Task one answers every pair alike; task two gives the second of
    /// each of the first 10 pairs a 40-word output of its own (full Jaccard ≈ 0.6), and has
    /// one input twice with outputs differing in a word (a shared input within one task).
    fn planted() -> (Vec<Item>, Vec<Item>) {
        let mut one = Vec::new();
        let mut two = Vec::new();
        for i in 0..40u64 {
            let base = text(100, i + 1);
            let id = |k: u64| SampleId::from_u128(((i as u128) << 8) | k as u128);
            one.push((id(0), base.clone(), "yes".to_string()));
            two.push((id(0), base.clone(), "short answer".to_string()));
            if i < 20 {
                let changed = base.replacen(" ", " extra ", 1);
                one.push((id(1), changed.clone(), "yes".to_string()));
                let out = if i < 10 {
                    text(40, 1000 + i)
                } else {
                    "short answer".to_string()
                };
                two.push((id(1), changed, out));
            }
        }
        two.push((
            SampleId::from_u128(0xffff),
            two[0].1.clone(),
            "a b c d f".to_string(),
        ));
        (one, two)
    }

    #[test]
    fn a_shared_search_flags_what_separate_searches_flag() {
        let cfg = NearDedup {
            policy: NearDedupPolicy::Flag,
            ..NearDedup::default()
        };
        let (one, two) = planted();
        // labels fit a search on the inputs; the build searches task two alone (the search
        // itself works on any outputs, as here)
        assert!(input_index(&one, &cfg).outputs_are_short());
        assert!(!input_index(&two, &cfg).outputs_are_short());
        let found = shared(&[one.clone(), two.clone()], &cfg);
        assert_eq!(found[0], separate(&one, &cfg));
        assert_eq!(found[1], separate(&two, &cfg));
        let flagged = |f: &[NearDuplicate], items: &[Item]| -> Vec<u128> {
            f.iter().map(|d| items[d.index].0.as_u128()).collect()
        };
        // task one: the 20 changed copies; task two: the 10 with the same output, and the
        // second sample of the shared input
        assert_eq!(
            flagged(&found[0], &one),
            (0..20).map(|i| (i << 8) | 1).collect::<Vec<u128>>()
        );
        let mut expected: Vec<u128> = (10..20).map(|i| (i << 8) | 1).collect();
        expected.push(0xffff);
        assert_eq!(flagged(&found[1], &two), expected);
        let shared_input = found[1].iter().find(|d| two[d.index].0.as_u128() == 0xffff);
        assert!(shared_input.is_some_and(|d| d.representative == 0 && d.similarity > 0.95));
        // deterministic whatever the pool size
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        assert_eq!(pool.install(|| shared(&[one, two], &cfg)), found);
    }
}

//! Longest-processing-time scheduling over the worker pool.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `f` on every item, largest first, and returns the results in the items' order. Each
/// worker takes the next largest item when it is free, so one huge task starts first instead
/// of last. Which worker runs an item never changes its result. A result is `None` only if
/// `f` panicked on its item (the panic then propagates from this call, so callers see `None`
/// only when they catch it).
pub fn largest_first<T: Send, R: Send>(
    items: Vec<T>,
    size: impl Fn(&T) -> u64 + Sync,
    f: impl Fn(T) -> R + Sync,
) -> Vec<Option<R>> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(size(&items[*i])));
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|x| Mutex::new(Some(x))).collect();
    let results: Vec<Mutex<Option<R>>> = slots.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().min(order.len()).max(1);
    rayon::scope(|s| {
        for _ in 0..workers {
            s.spawn(|_| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    // each slot is taken by exactly one worker: a lock is never contended, and
                    // a poisoned one still holds its value
                    let item = slots[i].lock().unwrap_or_else(|p| p.into_inner()).take();
                    if let Some(item) = item {
                        let r = f(item);
                        *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_item_order_whatever_the_pool() {
        let items: Vec<u64> = vec![3, 100, 7, 55, 1];
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| largest_first(items.clone(), |x| *x, |x| x * 2));
            assert_eq!(got, vec![Some(6), Some(200), Some(14), Some(110), Some(2)]);
        }
    }
}

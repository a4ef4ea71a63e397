//! Runs a reference loop's independent output items on several threads.
//!
//! The reference sums every output element in a fixed order. Splitting the
//! outputs between threads (never one output's terms) keeps that order, so
//! results are the same to the bit with any thread count; tests compare
//! several counts against one.

use std::sync::OnceLock;

/// Below this many multiply-adds a loop stays on the calling thread: a
/// thread's start costs about as much as a few thousand of them.
const WORK_PER_THREAD: usize = 1 << 18;

/// Threads the machine offers (`available_parallelism`, read once).
fn machine_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Threads worth starting for `work` multiply-adds.
pub fn threads_for(work: usize) -> usize {
    (work / WORK_PER_THREAD).clamp(1, machine_threads())
}

/// Splits `out` into at most `threads` runs of whole items, `item_len`
/// values each, and calls `f(first_item, run)` for every run: on the
/// calling thread when there is one run, else each run on its own thread.
/// Nothing is called when there are no items.
pub fn for_each_run<T: Send>(
    out: &mut [T],
    item_len: usize,
    threads: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    if item_len == 0 || out.is_empty() {
        return;
    }
    let items = out.len() / item_len;
    let runs = threads.clamp(1, items);
    if runs == 1 {
        f(0, out);
        return;
    }
    let per_run = items.div_ceil(runs);
    std::thread::scope(|scope| {
        for (k, run) in out.chunks_mut(per_run * item_len).enumerate() {
            let f = &f;
            scope.spawn(move || f(k * per_run, run));
        }
    });
}

/// Calls `f(k, lanes)` for blocks `k..k + lanes` covering `0..count`:
/// `block` items while that many remain, then one at a time. (The loops
/// that run `block` independent sums side by side take their leftovers
/// singly.)
pub fn in_blocks(count: usize, block: usize, mut f: impl FnMut(usize, usize)) {
    let mut k = 0;
    while k < count {
        let lanes = if count - k >= block { block } else { 1 };
        f(k, lanes);
        k += lanes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_items_in_order_then_singly() {
        let mut seen = Vec::new();
        in_blocks(11, 4, |k, lanes| seen.push((k, lanes)));
        assert_eq!(seen, [(0, 4), (4, 4), (8, 1), (9, 1), (10, 1)]);
        in_blocks(0, 4, |_, _| panic!("no items, no call"));
    }

    #[test]
    fn every_item_is_visited_once_with_its_index() {
        for threads in [1, 2, 3, 7, 64] {
            for items in [0, 1, 2, 5, 13] {
                let mut out = vec![usize::MAX; items * 3];
                for_each_run(&mut out, 3, threads, |first, run| {
                    for (k, item) in run.chunks_mut(3).enumerate() {
                        item.fill(first + k);
                    }
                });
                let want: Vec<usize> = (0..items).flat_map(|i| [i; 3]).collect();
                assert_eq!(out, want, "{items} items on {threads} threads");
            }
        }
    }
}

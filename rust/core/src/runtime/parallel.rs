//! When to run in parallel, and helpers for splitting work over the threads.

use crate::runtime::team;

/// Below this many elements, a pass over memory is faster on one thread.
pub const PAR_MIN_ELEMS: usize = 1 << 15;

/// Elements per parallel chunk: large enough to amortise scheduling.
pub const PAR_CHUNK: usize = 1 << 14;

/// True when `n` elements are worth splitting over threads.
#[inline]
pub fn worth_parallel(n: usize) -> bool {
    n >= PAR_MIN_ELEMS && team::threads() > 1
}

/// Writes `out[i] = f(i)` for every `i`, in parallel for large outputs.
pub fn fill_indexed<T: Send, F: Fn(usize) -> T + Sync>(out: &mut [T], f: F) {
    if worth_parallel(out.len()) {
        let chunks = out.chunks_mut(PAR_CHUNK).enumerate().collect();
        team::for_each(chunks, |(c, chunk): (usize, &mut [T])| {
            let base = c * PAR_CHUNK;
            for (j, o) in chunk.iter_mut().enumerate() {
                *o = f(base + j);
            }
        });
    } else {
        for (i, o) in out.iter_mut().enumerate() {
            *o = f(i);
        }
    }
}

/// `f` of each `PAR_CHUNK`-long chunk of `x` in order (one call on all of `x` when it is
/// that short), run on the threads when `x` is large. The chunks depend on the length alone,
/// so partial results combined in order come out the same for any thread count.
pub fn map_chunks<T: Sync, R: Send>(x: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    if x.len() <= PAR_CHUNK {
        return vec![f(x)];
    }
    let chunks: Vec<&[T]> = x.chunks(PAR_CHUNK).collect();
    if worth_parallel(x.len()) {
        team::map(chunks, f)
    } else {
        chunks.into_iter().map(f).collect()
    }
}

/// Position of the first element of `x` for which `bad` holds, searched over the threads
/// when `x` is large.
pub fn first_position<T: Sync, F: Fn(&T) -> bool + Sync>(x: &[T], bad: F) -> Option<usize> {
    let found = map_chunks(x, |chunk| chunk.iter().position(&bad));
    found
        .into_iter()
        .enumerate()
        .find_map(|(c, at)| at.map(|i| c * PAR_CHUNK + i))
}

/// `f(i)` for every `i` in `0..n`, in order. Items cost about `cost` element operations each;
/// when the total is large, runs of consecutive items worth about `PAR_CHUNK` operations go
/// to the threads.
pub fn map_indexed<R: Send, F: Fn(usize) -> R + Sync>(n: usize, cost: usize, f: F) -> Vec<R> {
    if !worth_parallel(n.saturating_mul(cost.max(1))) {
        return (0..n).map(f).collect();
    }
    let per = (PAR_CHUNK / cost.max(1)).max(1);
    let runs = team::map((0..n.div_ceil(per)).collect(), |g| {
        (g * per..((g + 1) * per).min(n))
            .map(&f)
            .collect::<Vec<R>>()
    });
    runs.into_iter().flatten().collect()
}

/// Applies `f(start, chunk)` to consecutive chunks of `out` (`start` is the chunk's first
/// index), spread over the threads when `out` is large; otherwise one call covers all of it.
pub fn for_each_chunk<T: Send, F: Fn(usize, &mut [T]) + Sync>(out: &mut [T], f: F) {
    if worth_parallel(out.len()) {
        let chunks = out.chunks_mut(PAR_CHUNK).enumerate().collect();
        team::for_each(chunks, |(c, chunk): (usize, &mut [T])| {
            f(c * PAR_CHUNK, chunk)
        });
    } else {
        f(0, out);
    }
}

/// Applies `f(row_index, row)` to consecutive rows of length `row_len`, in parallel when the
/// whole buffer is large.
pub fn for_each_row<T: Send, F: Fn(usize, &mut [T]) + Sync>(out: &mut [T], row_len: usize, f: F) {
    for_each_row_costing(out, row_len, row_len, f)
}

/// [`for_each_row`] for rows that cost about `row_cost` element operations each (more than
/// their length when each output element reads several inputs): in parallel when all rows
/// together cost enough, in groups of rows of about `PAR_CHUNK` operations.
pub fn for_each_row_costing<T: Send, F: Fn(usize, &mut [T]) + Sync>(
    out: &mut [T],
    row_len: usize,
    row_cost: usize,
    f: F,
) {
    if row_len == 0 {
        return;
    }
    let rows = out.len() / row_len;
    if worth_parallel(rows.saturating_mul(row_cost)) {
        let rows_per = (PAR_CHUNK / row_cost.max(1)).max(1);
        let groups = out.chunks_mut(rows_per * row_len).enumerate().collect();
        team::for_each(groups, |(g, group): (usize, &mut [T])| {
            for (r, row) in group.chunks_mut(row_len).enumerate() {
                f(g * rows_per + r, row);
            }
        });
    } else {
        for (r, row) in out.chunks_mut(row_len).enumerate() {
            f(r, row);
        }
    }
}

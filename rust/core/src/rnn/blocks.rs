//! Cutting the batch into blocks of rows that run the whole sequence on different threads.
//!
//! The rows of a batch never mix in a recurrence, so each block steps through time on its
//! own thread with no synchronisation between steps: one small product and one elementwise
//! pass per step, instead of waking the team at every step for products too small to split.

use super::SeqDims;
use crate::error::Result;
use crate::runtime::team;

/// Recurrent products of at least this many multiply-adds in all are split over threads.
const PAR_MIN_MACS: usize = 1 << 20;

/// Fewest batch rows worth a block of their own.
const MIN_ROWS: usize = 8;

/// The blocks `(first_row, rows)` of the batch, one per thread when the recurrence is worth
/// it (none for an empty batch).
pub(super) fn batch_blocks(d: &SeqDims, gates: usize) -> Vec<(usize, usize)> {
    let n = d.batch;
    let macs = d
        .steps
        .saturating_mul(n)
        .saturating_mul(gates)
        .saturating_mul(d.hidden);
    let threads = team::threads();
    let parts = if threads > 1 && macs >= PAR_MIN_MACS {
        threads.min(n / MIN_ROWS).max(1)
    } else {
        1
    };
    (0..parts)
        .map(|p| (p * n / parts, (p + 1) * n / parts - p * n / parts))
        .filter(|&(_, rows)| rows > 0)
        .collect()
}

/// Runs `f` on every block, on the team when there are several; the first error wins.
pub(super) fn over_blocks<R: Send>(
    blocks: Vec<(usize, usize)>,
    f: impl Fn((usize, usize)) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    if blocks.len() > 1 {
        team::map(blocks, f).into_iter().collect()
    } else {
        blocks.into_iter().map(f).collect()
    }
}

/// A mutable buffer that the blocks write at disjoint places.
#[derive(Clone, Copy)]
pub(super) struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: the blocks only reach the buffer through `part`, whose callers keep their ranges
// disjoint from those of every other thread.
unsafe impl<T: Send> Send for Shared<T> {}
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    pub(super) fn new(buf: &mut [T]) -> Self {
        Shared {
            ptr: buf.as_mut_ptr(),
            len: buf.len(),
        }
    }

    /// Elements `start..start + len`.
    ///
    /// # Safety
    /// While the slice lives, no other live slice may overlap it, and the buffer given to
    /// [`Shared::new`] must not be used otherwise.
    #[allow(clippy::mut_from_ref)]
    pub(super) unsafe fn part(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start <= self.len && len <= self.len - start);
        std::slice::from_raw_parts_mut(self.ptr.add(start), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_batch_once() {
        for batch in [0, 1, 7, 8, 16, 17, 64, 1000] {
            let d = SeqDims {
                steps: 50,
                batch,
                input: 3,
                hidden: 128,
            };
            let blocks = batch_blocks(&d, 512);
            let mut next = 0;
            for (first, rows) in blocks {
                assert_eq!(first, next);
                assert!(rows > 0);
                next += rows;
            }
            assert_eq!(next, batch);
        }
    }
}

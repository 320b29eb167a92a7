//! Gathering rows: a batch of samples picked by index out of a larger array, as a data loader
//! forms shuffled batches.
//!
//! Shuffled rows sit far apart in memory, so each one starts with a cache miss; the copy
//! prefetches the rows a few places ahead while it copies the current one, so those misses
//! overlap instead of following one another, and large batches are split over the threads.
//!
//! ```
//! use ferrograd_core::gather::gather_rows;
//! let src = [0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0]; // three rows of two
//! assert_eq!(gather_rows(&src, 2, &[2, 0, -1]).unwrap(), vec![4.0, 5.0, 0.0, 1.0, 4.0, 5.0]);
//! ```

use crate::buf;
use crate::error::Result;
use crate::runtime::parallel::for_each_row;
use crate::value_err;

/// Rows ahead of the one being copied whose memory is requested early.
const AHEAD: usize = 4;
/// At most this many bytes of a row ahead are prefetched (the hardware follows the rest).
const PREFETCH_BYTES: usize = 2048;

/// The rows `rows` (NumPy's convention: negative counts from the end) of `src`, a C-ordered
/// array of rows of `row_len` elements, in order.
pub fn gather_rows<T: Copy + Send + Sync>(
    src: &[T],
    row_len: usize,
    rows: &[i64],
) -> Result<Vec<T>> {
    let n = src.len().checked_div(row_len).unwrap_or(0);
    let mut starts = buf::with_capacity::<usize>(rows.len())?;
    for (i, &r) in rows.iter().enumerate() {
        let k = if r < 0 { r + n as i64 } else { r };
        if k < 0 || k >= n as i64 {
            return value_err!(
                "take_rows: index {r} at position {i} is out of bounds for {n} rows"
            );
        }
        starts.push(k as usize * row_len);
    }
    let mut out = buf::with_capacity::<T>(rows.len().saturating_mul(row_len))?;
    // SAFETY: every element is written below before it is read (each output row is a full
    // copy of one source row); T is Copy, so no drop runs on the uninitialised values.
    unsafe { out.set_len(rows.len() * row_len) };
    if row_len == 0 {
        return Ok(out);
    }
    for_each_row(&mut out, row_len, |i, row| {
        if let Some(&ahead) = starts.get(i + AHEAD) {
            prefetch(&src[ahead..ahead + row_len]);
        }
        let s = starts[i];
        row.copy_from_slice(&src[s..s + row_len]);
    });
    Ok(out)
}

#[inline(always)]
fn prefetch<T>(row: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(row).min(PREFETCH_BYTES);
        let base = row.as_ptr().cast::<i8>();
        let mut off = 0;
        while off < bytes {
            // SAFETY: `off` stays inside the row; prefetching never faults.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(off)) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_in_order_with_negative_indices_and_repeats() {
        let src: Vec<f64> = (0..40).map(f64::from).collect(); // 10 rows of 4
        let got = gather_rows(&src, 4, &[9, 0, -1, 3, 3]).unwrap();
        let want: Vec<f64> = [9, 0, 9, 3, 3]
            .iter()
            .flat_map(|&r| (0..4).map(move |c| f64::from(r * 4 + c)))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn out_of_bounds_is_an_error() {
        let src = [1.0f32; 6];
        assert!(gather_rows(&src, 2, &[3]).is_err());
        assert!(gather_rows(&src, 2, &[-4]).is_err());
        assert_eq!(gather_rows(&src, 2, &[]).unwrap(), Vec::<f32>::new());
    }

    #[test]
    fn large_batches_on_the_threads_match_one_thread() {
        let src: Vec<f32> = (0..200_000).map(|v| v as f32).collect();
        let rows: Vec<i64> = (0..1000).map(|i| (i * 7919) % 1000).collect();
        let got = gather_rows(&src, 200, &rows).unwrap();
        for (i, &r) in rows.iter().enumerate() {
            let r = r as usize;
            assert_eq!(&got[i * 200..(i + 1) * 200], &src[r * 200..(r + 1) * 200]);
        }
    }
}

//! Stores that bypass the caches, for results too large to stay in them.
//!
//! A plain store to a line that is not cached first reads the line from memory; a streaming
//! (non-temporal) store writes it without that read, which cuts the memory traffic of writing
//! a large result by a third. The data then goes to memory rather than the cache, so this only
//! pays for results written once and read much later, and only when they are large.

use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::for_each_chunk;

/// Results of at least this many bytes are worth streaming.
pub const STREAM_MIN_BYTES: usize = 16 << 20;

/// Copies `src` into `dst` (of the same length) with streaming stores where the CPU has them.
/// Call [`fence`] before the results are handed to another thread.
///
/// # Examples
/// ```
/// use ferrograd_core::runtime::stream::{copy_streaming, fence};
/// let src: Vec<f32> = (0..100).map(|i| i as f32).collect();
/// let mut dst = vec![0.0f32; 100];
/// copy_streaming(&mut dst, &src);
/// fence();
/// assert_eq!(dst, src);
/// ```
#[inline(always)]
pub fn copy_streaming<T: Copy>(dst: &mut [T], src: &[T]) {
    assert_eq!(dst.len(), src.len(), "copy_streaming: lengths differ");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
        let size = std::mem::size_of::<T>();
        if size == 0 || 16 % size != 0 {
            dst.copy_from_slice(src);
            return;
        }
        let per = 16 / size;
        let misaligned = dst.as_ptr() as usize % 16;
        if !misaligned.is_multiple_of(size) {
            dst.copy_from_slice(src);
            return;
        }
        let head = (((16 - misaligned) % 16) / size).min(dst.len());
        dst[..head].copy_from_slice(&src[..head]);
        let body = (dst.len() - head) / per * per;
        let (d, s) = (&mut dst[head..head + body], &src[head..head + body]);
        let (dp, sp) = (d.as_mut_ptr() as *mut __m128i, s.as_ptr() as *const __m128i);
        for i in 0..body / per {
            // SAFETY: `(i + 1) * 16 <= body * size`, so both 16-byte accesses stay inside the
            // slices; the destination is 16-byte aligned (checked above), and SSE2 is part of
            // x86_64.
            unsafe { _mm_stream_si128(dp.add(i), _mm_loadu_si128(sp.add(i))) };
        }
        dst[head + body..].copy_from_slice(&src[head + body..]);
    }
    #[cfg(not(target_arch = "x86_64"))]
    dst.copy_from_slice(src);
}

/// A copy of `src` in a new vector, made on the threads when it is large and with streaming
/// stores when it is larger than [`STREAM_MIN_BYTES`] (fenced before it is returned). Large
/// results come from the allocator's reused blocks ([`crate::runtime::reuse`]), so unlike a copy into
/// fresh memory this costs no page faults in a loop.
///
/// # Examples
/// ```
/// use ferrograd_core::runtime::stream::copied;
/// let src: Vec<f64> = (0..1000).map(|i| i as f64).collect();
/// assert_eq!(copied(&src).unwrap(), src);
/// ```
pub fn copied<T: Real>(src: &[T]) -> Result<Vec<T>> {
    let stream = std::mem::size_of_val(src) >= STREAM_MIN_BYTES;
    let mut v: Vec<T> = buf::with_capacity(src.len())?;
    // SAFETY: the capacity holds `src.len()` elements, any bit pattern is a valid float, and
    // every element is written below before the length is set and anything is read.
    let dst = unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr(), src.len()) };
    for_each_chunk(dst, |start, chunk| {
        let from = &src[start..start + chunk.len()];
        if stream {
            copy_streaming(chunk, from);
            fence();
        } else {
            chunk.copy_from_slice(from);
        }
    });
    // SAFETY: all elements are written.
    unsafe { v.set_len(src.len()) };
    Ok(v)
}

/// Orders earlier streaming stores before everything after it (streaming stores are not
/// ordered by the usual release/acquire pairs).
#[inline(always)]
pub fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86_64.
    unsafe {
        std::arch::x86_64::_mm_sfence()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_and_alignment() {
        let src: Vec<f64> = (0..300).map(|i| i as f64 * 0.5).collect();
        for start in 0..4 {
            for len in [0, 1, 2, 3, 5, 16, 17, 100, 257] {
                let mut dst = vec![-1.0f64; 300];
                copy_streaming(&mut dst[start..start + len], &src[..len]);
                fence();
                assert_eq!(&dst[start..start + len], &src[..len]);
                assert!(dst[..start].iter().all(|&v| v == -1.0));
                assert!(dst[start + len..].iter().all(|&v| v == -1.0));
            }
        }
        let src: Vec<f32> = (0..300).map(|i| i as f32).collect();
        for start in 0..5 {
            let mut dst = vec![0.0f32; 300];
            copy_streaming(&mut dst[start..start + 250], &src[..250]);
            fence();
            assert_eq!(&dst[start..start + 250], &src[..250]);
        }
        for n in [0, 1, 1000, (STREAM_MIN_BYTES / 4) + 3] {
            let src: Vec<f32> = (0..n).map(|i| i as f32).collect();
            assert_eq!(copied(&src).unwrap(), src);
        }
        let src: Vec<[u8; 3]> = (0..50).map(|i| [i as u8; 3]).collect();
        let mut dst = vec![[0u8; 3]; 50];
        copy_streaming(&mut dst, &src);
        assert_eq!(dst, src);
    }
}

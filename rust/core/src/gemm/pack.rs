//! Copies a row-major operand into the column-major layout the `gemm` crate reads fastest.
//!
//! The crate packs a left operand (after its own orientation of the product) whose rows are
//! not contiguous with a strided gather of up to 48 rows at a time; when those rows lie a
//! power-of-two number of bytes apart (a 1024-wide weight), every read of a gather lands in
//! the same cache set and the packing costs more than the multiplication. A blocked transpose
//! into a scratch buffer reads each cache line once.

use super::View;
use crate::real::Real;
use crate::runtime::scratch;

/// Operands smaller than this (rows x depth) are left to the crate's own packing.
pub(super) const PACK_MIN: usize = 1 << 12;

/// Side of the square tiles the transpose works through.
const TILE: usize = 16;

/// The `rows x depth` operand `src` copied column-major (element (i, p) at `i + p * rows`)
/// into a scratch buffer; hand the buffer back with [`scratch::give_back`].
///
/// # Safety
/// `src` must address a valid `rows x depth` matrix.
pub(super) unsafe fn column_major<T: Real>(src: View<T>, rows: usize, depth: usize) -> Vec<T> {
    let mut buf = scratch::take_scratch::<T>(rows * depth);
    let dst = buf.as_mut_ptr();
    for p0 in (0..depth).step_by(TILE) {
        let p1 = (p0 + TILE).min(depth);
        for i0 in (0..rows).step_by(TILE) {
            let i1 = (i0 + TILE).min(rows);
            for p in p0..p1 {
                let from = src.ptr.offset(p as isize * src.cs);
                let to = dst.add(p * rows);
                for i in i0..i1 {
                    *to.add(i) = *from.offset(i as isize * src.rs);
                }
            }
        }
    }
    buf
}

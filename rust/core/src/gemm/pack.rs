//! Copies a row-major operand into the column-major layout the `gemm` crate reads fastest.
//!
//! The crate packs a left operand (after its own orientation of the product) whose rows are
//! not contiguous by gathering a register tile's worth of rows (dozens) at each step; when
//! those rows lie a power-of-two number of bytes apart (a 1024-wide weight), the reads of a
//! gather all land in one cache set and the packing costs nearly as much as the
//! multiplication. A tiled transpose into a scratch buffer reads each cache line once.

use super::View;
use crate::real::Real;
use crate::runtime::scratch;

/// Operands smaller than this (rows x depth) are left to the crate's own packing.
pub(super) const PACK_MIN: usize = 1 << 12;

/// Rows and depth of the tiles the transpose works through: 8 rows keep the lines read in
/// cache even when the rows lie a power-of-two number of bytes apart.
const TILE_ROWS: usize = 8;
const TILE_DEPTH: usize = 64;

/// Elements between the copy's columns: `rows` rounded up to whole cache lines plus one
/// more line, so that columns never lie a power-of-two number of bytes apart.
pub(super) fn column_stride(rows: usize) -> usize {
    rows.next_multiple_of(16) + 16
}

/// The `rows x depth` operand `src` copied column-major (element (i, p) at
/// `i + p * column_stride(rows)`) into a scratch buffer; hand the buffer back with
/// [`scratch::give_back`].
///
/// # Safety
/// `src` must address a valid `rows x depth` matrix.
pub(super) unsafe fn column_major<T: Real>(src: View<T>, rows: usize, depth: usize) -> Vec<T> {
    let cs = column_stride(rows);
    let mut buf = scratch::take_scratch::<T>(cs * depth);
    let dst = buf.as_mut_ptr();
    for i0 in (0..rows).step_by(TILE_ROWS) {
        let i1 = (i0 + TILE_ROWS).min(rows);
        for p0 in (0..depth).step_by(TILE_DEPTH) {
            for p in p0..(p0 + TILE_DEPTH).min(depth) {
                let from = src.ptr.offset(p as isize * src.cs);
                let to = dst.add(p * cs);
                for i in i0..i1 {
                    *to.add(i) = *from.offset(i as isize * src.rs);
                }
            }
        }
    }
    buf
}

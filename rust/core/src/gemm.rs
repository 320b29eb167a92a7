//! Matrix products on the `gemm` crate: plain, batched (with a shared operand broadcast over
//! the batch) and their gradients. Operands are row-major; transposes are expressed as
//! strides, never copied.

use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::runtime::{scratch, team};
use crate::shape_err;

mod dims;
mod narrow;
mod pack;
pub use dims::{linear_backward_dims, linear_dims, linear_out_shape, MatmulDims};

/// Products of at least this many multiply-adds are split over threads.
const PAR_MIN_MACS: usize = 1 << 20;

/// A row-major matrix operand: pointer plus element strides of rows and columns.
#[derive(Clone, Copy)]
struct View<T> {
    ptr: *const T,
    rs: isize,
    cs: isize,
}

// SAFETY: views only point into slices borrowed for the whole call; they are read-only.
unsafe impl<T: Sync> Send for View<T> {}
unsafe impl<T: Sync> Sync for View<T> {}

impl<T> View<T> {
    fn rows(s: &[T], cols: usize) -> Self {
        View {
            ptr: s.as_ptr(),
            rs: cols as isize,
            cs: 1,
        }
    }
    fn t(self) -> Self {
        View {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
    fn at(self, offset: usize) -> Self {
        View {
            ptr: self.ptr.wrapping_add(offset),
            ..self
        }
    }
    fn at_signed(self, offset: isize) -> Self {
        View {
            ptr: self.ptr.wrapping_offset(offset),
            ..self
        }
    }
}

/// Threads worth giving an m x n x k product (1: run it on the calling thread).
fn parallelism(m: usize, n: usize, k: usize) -> usize {
    let threads = team::threads();
    if threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PAR_MIN_MACS {
        threads
    } else {
        1
    }
}

/// A raw output pointer that may cross threads: each thread writes a disjoint block.
#[derive(Clone, Copy)]
struct OutPtr<T>(*mut T);
// SAFETY: the blocks handed to different threads never overlap.
unsafe impl<T> Send for OutPtr<T> {}
unsafe impl<T> Sync for OutPtr<T> {}

impl<T> OutPtr<T> {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper).
    fn get(self) -> *mut T {
        self.0
    }
}

/// `dst (m x n, row stride ld) = [dst +] lhs (m x k) @ rhs (k x n)` on one thread.
///
/// # Safety
/// `dst` must address an m x n block with row stride `ld`; the views must address valid
/// m x k and k x n matrices.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_block<T: Real>(
    dst: *mut T,
    ld: usize,
    m: usize,
    n: usize,
    k: usize,
    lhs: View<T>,
    rhs: View<T>,
    accumulate: bool,
) {
    if n < THIN_COLS && m > n {
        let short = k <= narrow::MAX_DEPTH && m * n * k <= narrow::MAX_MACS;
        if short && narrow::available::<T>(&lhs) {
            return narrow::product(dst, ld, m, n, k, lhs, rhs, accumulate);
        }
        return gemm_thin_block(dst, ld, m, n, k, lhs, rhs, accumulate);
    }
    gemm_call(dst, (1, ld as isize), (m, n, k), lhs, rhs, accumulate);
}

/// The gemm crate's product on one thread into `dst` with element strides `(col, row)`.
///
/// The crate computes a column-major output, taking a row-major one as the transposed
/// product; the left operand of that product is copied column-major first when its rows are
/// strided (see [`pack`]).
///
/// # Safety
/// `dst` must address an m x n block with those strides; the views must address valid
/// m x k and k x n matrices.
unsafe fn gemm_call<T: Real>(
    dst: *mut T,
    (dst_cs, dst_rs): (isize, isize),
    (m, n, k): (usize, usize, usize),
    mut lhs: View<T>,
    mut rhs: View<T>,
    accumulate: bool,
) {
    let transposed = dst_cs.abs() < dst_rs.abs();
    let (rows, left) = if transposed { (n, rhs.t()) } else { (m, lhs) };
    let packed = (left.rs != 1 && rows * k >= pack::PACK_MIN).then(|| {
        let buf = pack::column_major(left, rows, k);
        let view = View {
            ptr: buf.as_ptr(),
            rs: 1,
            cs: pack::column_stride(rows) as isize,
        };
        if transposed {
            rhs = view.t();
        } else {
            lhs = view;
        }
        buf
    });
    gemm::gemm(
        m,
        n,
        k,
        dst,
        dst_cs,
        dst_rs,
        accumulate,
        lhs.ptr,
        lhs.cs,
        lhs.rs,
        rhs.ptr,
        rhs.cs,
        rhs.rs,
        T::one(),
        T::one(),
        false,
        false,
        false,
        gemm::Parallelism::None,
    );
    if let Some(buf) = packed {
        scratch::give_back(buf);
    }
}

/// Row-major outputs with fewer columns than this are computed column-major and copied back.
/// The gemm crate tiles the short side of a row-major output with its wide register tile, so
/// a 10-column output (a classifier layer) leaves most of every tile empty and runs at a
/// third of the speed of the same product laid out the other way round.
const THIN_COLS: usize = 16;

/// [`gemm_block`] for a thin output: the product lands in a column-major scratch buffer
/// (the gemm crate then tiles the long side) and is transposed into `dst`.
///
/// # Safety
/// As for [`gemm_block`].
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_thin_block<T: Real>(
    dst: *mut T,
    ld: usize,
    m: usize,
    n: usize,
    k: usize,
    lhs: View<T>,
    rhs: View<T>,
    accumulate: bool,
) {
    let mut t = scratch::take_scratch::<T>(m * n);
    let cols = &mut t[..m * n];
    if accumulate {
        for i in 0..m {
            for j in 0..n {
                cols[j * m + i] = *dst.add(i * ld + j);
            }
        }
    }
    gemm_call(
        cols.as_mut_ptr(),
        (m as isize, 1),
        (m, n, k),
        lhs,
        rhs,
        accumulate,
    );
    for i in 0..m {
        let row = dst.add(i * ld);
        for j in 0..n {
            *row.add(j) = cols[j * m + i];
        }
    }
    scratch::give_back(t);
}

/// Outputs with at most this many rows split their columns over threads when the right
/// operand is copied (see [`Product::pieces`]).
const SPLIT_COPY_ROWS: usize = 1024;

/// One product `dst (m x n, row stride n) = [dst +] lhs (m x k) @ rhs (k x n)`.
#[derive(Clone, Copy)]
struct Product<T> {
    dst: OutPtr<T>,
    m: usize,
    n: usize,
    k: usize,
    lhs: View<T>,
    rhs: View<T>,
    accumulate: bool,
    /// A row of `n` values every output row starts from (a layer's bias; null: none). Each
    /// piece writes its own block of it, so the copy runs on the threads too.
    row_init: *const T,
}

/// A block of a [`Product`]: rows (or columns) `start..start + size` of its output.
#[derive(Clone, Copy)]
struct Piece<T> {
    product: Product<T>,
    rows: bool,
    start: usize,
    size: usize,
}

impl<T: Real> Product<T> {
    /// `parts` blocks of rows (or of columns, when the output is wider than tall), aligned to
    /// the kernel's register tile of 16.
    fn pieces(self, parts: usize) -> impl Iterator<Item = Piece<T>> {
        // A right operand with strided rows is copied column-major before the product (see
        // `pack`). When the output has few rows that copy costs a good part of the product,
        // and splitting the columns gives each thread only its share of it; the pieces keep
        // at least 64 columns, as narrower ones waste the register tile.
        let shares_copy = self.rhs.cs != 1 && self.m <= SPLIT_COPY_ROWS;
        let rows = if shares_copy && self.n >= 128 {
            false
        } else {
            self.m >= self.n
        };
        let len = if rows { self.m } else { self.n };
        let step = (len.div_ceil(parts.max(1)).div_ceil(16) * 16).max(16);
        (0..len).step_by(step).map(move |start| Piece {
            product: self,
            rows,
            start,
            size: step.min(len - start),
        })
    }

    /// Whether there is nothing to multiply (an empty output or an empty sum).
    fn is_empty(&self) -> bool {
        self.m == 0 || self.n == 0 || self.k == 0
    }

    /// Threads worth giving this product on its own.
    fn parts(&self) -> usize {
        parallelism(self.m, self.n, self.k)
    }

    /// Computes the product in `parts` pieces spread over the team. An empty sum (`k` of 0)
    /// clears the output unless accumulating.
    ///
    /// # Safety
    /// `dst` must address m*n elements (which may be uninitialised unless `accumulate`), and
    /// the views valid m x k and k x n matrices.
    unsafe fn compute(self, parts: usize) {
        if self.is_empty() {
            if self.k == 0 && !self.row_init.is_null() {
                for r in 0..self.m {
                    std::ptr::copy_nonoverlapping(
                        self.row_init,
                        self.dst.get().add(r * self.n),
                        self.n,
                    );
                }
            } else if self.k == 0 && !self.accumulate {
                // All-zero bits are +0.0 in both float types.
                std::ptr::write_bytes(self.dst.get(), 0, self.m * self.n);
            }
            return;
        }
        Pieces(self.pieces(parts.max(1)).collect()).compute();
    }
}

impl<T: Real> Piece<T> {
    /// # Safety
    /// The product's pointers must be valid; pieces run at once must not overlap.
    unsafe fn compute(&self) {
        let p = &self.product;
        let (dst, s) = (p.dst.get(), self.start);
        let init = !p.row_init.is_null();
        let accumulate = p.accumulate || init;
        if self.rows {
            if init {
                for r in s..s + self.size {
                    std::ptr::copy_nonoverlapping(p.row_init, dst.add(r * p.n), p.n);
                }
            }
            let l = p.lhs.at_signed(s as isize * p.lhs.rs);
            gemm_block(
                dst.add(s * p.n),
                p.n,
                self.size,
                p.n,
                p.k,
                l,
                p.rhs,
                accumulate,
            );
        } else {
            if init {
                for r in 0..p.m {
                    std::ptr::copy_nonoverlapping(
                        p.row_init.add(s),
                        dst.add(r * p.n + s),
                        self.size,
                    );
                }
            }
            let r = p.rhs.at_signed(s as isize * p.rhs.cs);
            gemm_block(dst.add(s), p.n, p.m, self.size, p.k, p.lhs, r, accumulate);
        }
    }
}

/// Pieces shared with the team's threads.
struct Pieces<T>(Vec<Piece<T>>);
// SAFETY: pieces point into operands borrowed for the whole call, and into disjoint outputs.
unsafe impl<T> Sync for Pieces<T> {}

impl<T: Real> Pieces<T> {
    /// Computes every piece, spread over the team.
    ///
    /// # Safety
    /// As for [`Piece::compute`].
    unsafe fn compute(&self) {
        match self.0.as_slice() {
            [] => {}
            [one] => one.compute(),
            all => team::run(all.len(), &|i| self.0[i].compute()),
        }
    }
}

/// `dst (m x n, row-major) = [dst +] lhs (m x k) @ rhs (k x n)`.
///
/// With `par` threads (more than 1), the output is cut into `par` blocks of rows (or of
/// columns, when it is wider than tall) run on the team; at the sizes of small networks this
/// beats splitting inside the kernel.
///
/// # Safety
/// `dst` must hold m*n elements, and the views must address valid m x k and k x n matrices.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into<T: Real>(
    dst: &mut [T],
    m: usize,
    n: usize,
    k: usize,
    lhs: View<T>,
    rhs: View<T>,
    accumulate: bool,
    par: usize,
) {
    gemm_to(dst.as_mut_ptr(), m, n, k, lhs, rhs, accumulate, par)
}

/// [`gemm_into`] on a raw output, which may be uninitialised unless `accumulate`: every
/// element is written.
///
/// # Safety
/// `dst` must be valid for m*n writes (and reads, with `accumulate`), and the views must
/// address valid m x k and k x n matrices.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_to<T: Real>(
    dst: *mut T,
    m: usize,
    n: usize,
    k: usize,
    lhs: View<T>,
    rhs: View<T>,
    accumulate: bool,
    par: usize,
) {
    let product = Product {
        dst: OutPtr(dst),
        m,
        n,
        k,
        lhs,
        rhs,
        accumulate,
        row_init: std::ptr::null(),
    };
    product.compute(par);
}

/// `dst (m x n, row-major) = row_init (broadcast over rows) + lhs @ rhs`, every piece
/// copying its own block of the rows first.
///
/// # Safety
/// As for [`gemm_to`] without `accumulate`; `row_init` must hold `n` elements.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_from_rows<T: Real>(
    dst: *mut T,
    row_init: &[T],
    m: usize,
    n: usize,
    k: usize,
    lhs: View<T>,
    rhs: View<T>,
    par: usize,
) {
    let product = Product {
        dst: OutPtr(dst),
        m,
        n,
        k,
        lhs,
        rhs,
        accumulate: false,
        row_init: row_init.as_ptr(),
    };
    product.compute(par);
}

/// A vector of `len` elements that `write` fills through the raw pointer it is handed,
/// without clearing the memory first.
///
/// # Safety
/// `write` must write all `len` elements (and read none it has not written).
unsafe fn written<T>(len: usize, write: impl FnOnce(*mut T)) -> Result<Vec<T>> {
    let mut v = buf::with_capacity(len)?;
    write(v.as_mut_ptr());
    v.set_len(len);
    Ok(v)
}

/// The arguments of one product for [`two_products`]: output (which may be uninitialised),
/// m, n, k, lhs and rhs.
type ProductArgs<T> = (*mut T, usize, usize, usize, View<T>, View<T>);

/// Computes two independent products `dst = lhs @ rhs` (operands as for [`gemm_into`]).
/// When together they are worth threads and neither dwarfs the other, they run side by side
/// on part of the team each: every thread then packs only its own operands, where splitting
/// each product in turn packs the shared operand once per thread and wakes the team twice.
///
/// # Safety
/// As for [`gemm_into`], for each product.
unsafe fn two_products<T: Real>(p: ProductArgs<T>, q: ProductArgs<T>) {
    let product = |(dst, m, n, k, lhs, rhs): ProductArgs<T>| Product {
        dst: OutPtr(dst),
        m,
        n,
        k,
        lhs,
        rhs,
        accumulate: false,
        row_init: std::ptr::null(),
    };
    let (p, q) = (product(p), product(q));
    let threads = team::threads();
    let (p_macs, q_macs) = (p.m * p.n * p.k, q.m * q.n * q.k);
    let balanced = p_macs.min(q_macs) * 4 >= p_macs.max(q_macs);
    if threads < 2 || !balanced || p_macs + q_macs < PAR_MIN_MACS || p.is_empty() || q.is_empty() {
        p.compute(p.parts());
        q.compute(q.parts());
        return;
    }
    let p_parts = (threads * p_macs)
        .div_ceil(p_macs + q_macs)
        .clamp(1, threads - 1);
    let pieces = p.pieces(p_parts).chain(q.pieces(threads - p_parts));
    Pieces(pieces.collect()).compute();
}

/// Runs `f(item, out_item)` for each batch item; items go to different threads when each
/// product is too small to split by itself.
fn per_item<T: Real, F: Fn(usize, &mut [T], usize) + Sync>(
    out: &mut [T],
    d: &MatmulDims,
    item_len: usize,
    rows: usize,
    f: F,
) {
    if item_len == 0 {
        return;
    }
    let inner = parallelism(rows, item_len / rows.max(1), d.k);
    let threads = team::threads();
    let total = d.batch * d.m * d.n * d.k;
    if inner == 1 && d.batch > 1 && threads > 1 && total >= PAR_MIN_MACS {
        let items = out.chunks_mut(item_len).enumerate().collect();
        team::for_each(items, |(i, o): (usize, &mut [T])| f(i, o, 1));
    } else {
        for (i, o) in out.chunks_mut(item_len).enumerate() {
            f(i, o, inner);
        }
    }
}

/// `a @ b` for `d.batch` items. Returns `batch * m * n` elements.
pub fn matmul<T: Real>(a: &[T], b: &[T], d: MatmulDims) -> Result<Vec<T>> {
    d.check(a.len(), b.len())?;
    let (m, k, n) = (d.m, d.k, d.n);
    let (va, vb) = (View::rows(a, k), View::rows(b, n));
    // A shared right operand with a batched left one is a single (batch*m) x k product.
    if d.a_batched && !d.b_batched {
        let rows = d.batch * m;
        // SAFETY: sizes checked above; the product writes all rows x n elements.
        return unsafe {
            written(rows * n, |out| {
                gemm_to(out, rows, n, k, va, vb, false, parallelism(rows, n, k))
            })
        };
    }
    let mut out = buf::zeros(d.batch * m * n)?;
    let sa = if d.a_batched { m * k } else { 0 };
    let sb = if d.b_batched { k * n } else { 0 };
    per_item(&mut out, &d, m * n, m, |i, o, par| unsafe {
        gemm_into(o, m, n, k, va.at(i * sa), vb.at(i * sb), false, par)
    });
    Ok(out)
}

/// Gradients of `a @ b`: `(g @ b^T, a^T @ g)`, summed over the batch for a shared operand.
pub fn matmul_backward<T: Real>(
    g: &[T],
    a: &[T],
    b: &[T],
    d: MatmulDims,
) -> Result<(Vec<T>, Vec<T>)> {
    d.check(a.len(), b.len())?;
    let (m, k, n) = (d.m, d.k, d.n);
    if g.len() != d.batch * m * n {
        return shape_err!(
            "matmul_backward: grad_output holds {} elements, expected {} ({} x {} x {})",
            g.len(),
            d.batch * m * n,
            d.batch,
            m,
            n
        );
    }
    let (vg, va, vb) = (View::rows(g, n), View::rows(a, k), View::rows(b, n));
    let (sa, sb) = (
        if d.a_batched { m * k } else { 0 },
        if d.b_batched { k * n } else { 0 },
    );
    // A single (or flattened) product: the two gradients side by side.
    if d.batch == 1 || (d.a_batched && !d.b_batched) {
        let rows = d.batch * m;
        let (mut ga, mut gb) = (buf::with_capacity(a.len())?, buf::with_capacity(b.len())?);
        // SAFETY: every view addresses a checked slice of the right size; the outputs hold
        // rows x k = a.len() and k x n = b.len() elements, all written by the products.
        unsafe {
            two_products(
                (ga.as_mut_ptr(), rows, k, n, vg, vb.t()),
                (gb.as_mut_ptr(), k, n, rows, va.t(), vg),
            );
            ga.set_len(a.len());
            gb.set_len(b.len());
        }
        return Ok((ga, gb));
    }
    let mut ga = buf::zeros(a.len())?;
    let mut gb = buf::zeros(b.len())?;
    // SAFETY (all blocks): every view addresses a checked slice of the right size.
    unsafe {
        // grad of a: g_i (m x n) @ b_i^T (n x k)
        if d.a_batched && !d.b_batched {
            let rows = d.batch * m;
            gemm_into(
                &mut ga,
                rows,
                k,
                n,
                vg,
                vb.t(),
                false,
                parallelism(rows, k, n),
            );
        } else if d.a_batched {
            per_item(&mut ga, &d, m * k, m, |i, o, par| {
                gemm_into(o, m, k, n, vg.at(i * m * n), vb.at(i * sb).t(), false, par)
            });
        } else {
            let par = parallelism(m, k, n);
            for i in 0..d.batch {
                gemm_into(
                    &mut ga,
                    m,
                    k,
                    n,
                    vg.at(i * m * n),
                    vb.at(i * sb).t(),
                    i > 0,
                    par,
                );
            }
        }
        // grad of b: a_i^T (k x m) @ g_i (m x n)
        if !d.b_batched && d.a_batched {
            let rows = d.batch * m;
            gemm_into(
                &mut gb,
                k,
                n,
                rows,
                va.t(),
                vg,
                false,
                parallelism(k, n, rows),
            );
        } else if d.b_batched {
            per_item(&mut gb, &d, k * n, k, |i, o, par| {
                gemm_into(o, k, n, m, va.at(i * sa).t(), vg.at(i * m * n), false, par)
            });
        } else {
            let par = parallelism(k, n, m);
            for i in 0..d.batch {
                gemm_into(&mut gb, k, n, m, va.t(), vg.at(i * m * n), i > 0, par);
            }
        }
    }
    Ok((ga, gb))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    fn dims(batch: usize, m: usize, k: usize, n: usize, ab: bool, bb: bool) -> MatmulDims {
        MatmulDims {
            batch,
            m,
            k,
            n,
            a_batched: ab,
            b_batched: bb,
        }
    }

    #[test]
    fn matches_naive_product() {
        let (m, k, n) = (7, 5, 3);
        let a: Vec<f64> = (0..m * k).map(|v| (v as f64).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|v| (v as f64).cos()).collect();
        let c = matmul(&a, &b, dims(1, m, k, n, true, true)).unwrap();
        for (x, y) in c.iter().zip(naive(&a, &b, m, k, n)) {
            assert!((x - y).abs() < 1e-12);
        }
    }

    #[test]
    fn shared_operand_gradient_sums_over_batch() {
        let (m, k, n) = (2, 3, 2);
        let a: Vec<f64> = (0..2 * m * k).map(|v| v as f64).collect();
        let b: Vec<f64> = (0..k * n).map(|v| 1.0 + v as f64).collect();
        let g = vec![1.0; 2 * m * n];
        let (_, gb) = matmul_backward(&g, &a, &b, dims(2, m, k, n, true, false)).unwrap();
        // sum over batch and rows of a^T @ ones
        let mut want = vec![0.0; k * n];
        for i in 0..2 {
            let ai = &a[i * m * k..(i + 1) * m * k];
            for p in 0..k {
                for j in 0..n {
                    want[p * n + j] += (0..m).map(|r| ai[r * k + p]).sum::<f64>();
                }
            }
        }
        assert_eq!(gb, want);
    }

    #[test]
    fn wrong_sizes_are_errors() {
        assert!(matmul(&[1.0f32; 6], &[1.0; 5], dims(1, 2, 3, 2, true, true)).is_err());
    }
}

/// `x (m x k) @ w^T + bias` for a weight `w` of shape (n, k) in PyTorch's layout, with
/// the transpose read through strides. Returns m x n.
pub fn linear<T: Real>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    m: usize,
    k: usize,
    n: usize,
) -> Result<Vec<T>> {
    if x.len() != m * k || w.len() != n * k || bias.is_some_and(|b| b.len() != n) {
        return shape_err!(
            "linear: input holds {} elements, weight {} and bias {:?}; expected {m}x{k}, \
             {n}x{k} and {n}",
            x.len(),
            w.len(),
            bias.map(|b| b.len())
        );
    }
    let (vx, vw) = (View::rows(x, k), View::rows(w, k).t());
    // SAFETY: sizes checked above. Every row starts as the bias (copied by the threads, each
    // its own block), to which the product is added; without a bias the product writes
    // every element itself.
    unsafe {
        written(m * n, |out: *mut T| {
            let par = parallelism(m, n, k);
            match bias {
                Some(b) => gemm_from_rows(out, b, m, n, k, vx, vw, par),
                None => gemm_to(out, m, n, k, vx, vw, false, par),
            }
        })
    }
}

/// Gradients of [`linear`]: `(g @ w, g^T @ x, column sums of g)`.
pub fn linear_backward<T: Real>(
    g: &[T],
    x: &[T],
    w: &[T],
    m: usize,
    k: usize,
    n: usize,
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    linear_backward_opt(g, x, w, m, k, n, true)
}

/// [`linear_backward`], skipping the input gradient (returned empty) unless `input_grad`.
pub fn linear_backward_opt<T: Real>(
    g: &[T],
    x: &[T],
    w: &[T],
    m: usize,
    k: usize,
    n: usize,
    input_grad: bool,
) -> Result<(Vec<T>, Vec<T>, Vec<T>)> {
    if g.len() != m * n || x.len() != m * k || w.len() != n * k {
        return shape_err!(
            "linear_backward: grad_output holds {} elements, input {} and weight {}; expected \
             {m}x{n}, {m}x{k} and {n}x{k}",
            g.len(),
            x.len(),
            w.len()
        );
    }
    let mut gx = buf::with_capacity(if input_grad { m * k } else { 0 })?;
    let mut gw = buf::with_capacity(n * k)?;
    let (vg, vx, vw) = (View::rows(g, n), View::rows(x, k), View::rows(w, k));
    // SAFETY: sizes checked above; the products write every element of both outputs.
    unsafe {
        if input_grad {
            two_products(
                (gx.as_mut_ptr(), m, k, n, vg, vw),
                (gw.as_mut_ptr(), n, k, m, vg.t(), vx),
            );
            gx.set_len(m * k);
        } else {
            gemm_to(
                gw.as_mut_ptr(),
                n,
                k,
                m,
                vg.t(),
                vx,
                false,
                parallelism(n, k, m),
            );
        }
        gw.set_len(n * k);
    }
    let mut gb = buf::zeros(n)?;
    column_sums(g, n, &mut gb);
    Ok((gx, gw, gb))
}

/// `out[j] += sum_i g[i * n + j]`; blocks of columns on the team when `g` is large.
fn column_sums<T: Real>(g: &[T], n: usize, out: &mut [T]) {
    if n == 0 {
        return;
    }
    let sum = |start: usize, acc: &mut [T]| {
        for row in g.chunks(n) {
            for (a, &v) in acc.iter_mut().zip(&row[start..]) {
                *a = *a + v;
            }
        }
    };
    let threads = team::threads();
    if threads > 1 && g.len() >= PAR_MIN_SUM && n >= 2 * 16 {
        let width = n.div_ceil(threads).next_multiple_of(16);
        let items: Vec<(usize, &mut [T])> = out
            .chunks_mut(width)
            .enumerate()
            .map(|(i, c)| (i * width, c))
            .collect();
        team::for_each(items, |(start, acc)| sum(start, acc));
    } else {
        sum(0, out);
    }
}

/// Gradients with at least this many elements sum their columns on the team.
const PAR_MIN_SUM: usize = 1 << 16;

#[cfg(test)]
mod linear_tests {
    use super::*;

    #[test]
    fn bias_rows_and_column_sums_on_threads_match_the_naive_sums() {
        // Sizes that split columns (the weight copied), rows, a narrow output, an empty
        // reduction; the bias is copied by the pieces and the bias gradient summed on the team.
        for &(m, k, n) in &[
            (300, 70, 200),
            (2000, 40, 50),
            (600, 30, 7),
            (5, 0, 9),
            (700, 20, 150),
        ] {
            let x: Vec<f64> = (0..m * k).map(|v| (v as f64 * 0.31).sin()).collect();
            let w: Vec<f64> = (0..n * k).map(|v| (v as f64 * 0.17).cos()).collect();
            let b: Vec<f64> = (0..n).map(|v| v as f64 - 3.5).collect();
            let y = linear(&x, &w, Some(&b), m, k, n).unwrap();
            for i in 0..m {
                for j in 0..n {
                    let dot: f64 = (0..k).map(|p| x[i * k + p] * w[j * k + p]).sum();
                    let want = dot + b[j];
                    assert!(
                        (y[i * n + j] - want).abs() < 1e-9,
                        "{m}x{k}x{n} at ({i}, {j})"
                    );
                }
            }
            let g: Vec<f64> = (0..m * n).map(|v| (v as f64 * 0.07).sin()).collect();
            let (_, _, gb) = linear_backward(&g, &x, &w, m, k, n).unwrap();
            for j in 0..n {
                let want: f64 = (0..m).map(|i| g[i * n + j]).sum();
                assert!(
                    (gb[j] - want).abs() < 1e-9,
                    "{m}x{k}x{n}: bias gradient {j}"
                );
            }
        }
    }

    #[test]
    fn linear_matches_matmul_with_transposed_weight() {
        let (m, k, n) = (3, 4, 2);
        let x: Vec<f64> = (0..m * k).map(|v| v as f64 * 0.5).collect();
        let w: Vec<f64> = (0..n * k).map(|v| 1.0 - v as f64).collect();
        let b = [10.0, 20.0];
        let y = linear(&x, &w, Some(&b), m, k, n).unwrap();
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|p| x[i * k + p] * w[j * k + p]).sum::<f64>() + b[j];
                assert!((y[i * n + j] - want).abs() < 1e-12);
            }
        }
        let g = vec![1.0; m * n];
        let (gx, gw, gb) = linear_backward(&g, &x, &w, m, k, n).unwrap();
        assert_eq!(gb, vec![3.0, 3.0]);
        assert!((gx[0] - (w[0] + w[k])).abs() < 1e-12);
        assert!((gw[0] - (x[0] + x[k] + x[2 * k])).abs() < 1e-12);
    }
}

/// A matrix operand read from a slice through element strides: element (i, j) is
/// `data[i * rs + j * cs]`, so a transpose is the same slice with the strides swapped.
#[derive(Clone, Copy)]
pub struct Strided<'a, T> {
    pub data: &'a [T],
    pub rs: usize,
    pub cs: usize,
}

impl<'a, T> Strided<'a, T> {
    /// Rows `stride` elements apart, each contiguous: element (i, j) is
    /// `data[i * stride + j]` (a row-major matrix when `stride` is its width).
    pub fn rows(data: &'a [T], stride: usize) -> Self {
        Strided {
            data,
            rs: stride,
            cs: 1,
        }
    }

    /// Columns `stride` elements apart, each contiguous: element (i, j) is
    /// `data[j * stride + i]` (the transpose of a row-major matrix of width `stride`, read in
    /// place).
    pub fn transposed(data: &'a [T], stride: usize) -> Self {
        Strided {
            data,
            rs: 1,
            cs: stride,
        }
    }
}

impl<T> Strided<'_, T> {
    /// Whether every element of a `rows x cols` matrix lies inside `data`.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        if rows == 0 || cols == 0 {
            return true;
        }
        (rows - 1)
            .checked_mul(self.rs)
            .zip((cols - 1).checked_mul(self.cs))
            .and_then(|(a, b)| a.checked_add(b))
            .is_some_and(|last| last < self.data.len())
    }

    fn view(&self) -> View<T> {
        View {
            ptr: self.data.as_ptr(),
            rs: self.rs as isize,
            cs: self.cs as isize,
        }
    }
}

/// `dst (m x n, row-major) = [dst +] a (m x k) @ b (k x n)` for strided operands, `(m, k, n)`
/// given as `dims`. With `threads`, a large product is split over the team; pass false
/// when already running on it. Operands that do not fit their slices are a `ShapeError`.
pub fn gemm_strided<T: Real>(
    dst: &mut [T],
    dims: (usize, usize, usize),
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    accumulate: bool,
    threads: bool,
) -> Result<()> {
    let (m, k, n) = dims;
    if m.checked_mul(n) != Some(dst.len()) || !a.fits(m, k) || !b.fits(k, n) {
        return shape_err!(
            "gemm_strided: operands of {} and {} elements and an output of {} do not hold a \
             {m}x{k} @ {k}x{n} product",
            a.data.len(),
            b.data.len(),
            dst.len()
        );
    }
    let par = if threads { parallelism(m, n, k) } else { 1 };
    // SAFETY: the extents of both operands and of the output were checked above.
    unsafe { gemm_into(dst, m, n, k, a.view(), b.view(), accumulate, par) };
    Ok(())
}

/// `a (m x k) @ b (k x n)` for strided operands, as a new row-major m x n matrix: a
/// transposed or sliced view is read in place instead of being copied first.
pub fn matmul_strided<T: Real>(
    a: Strided<'_, T>,
    b: Strided<'_, T>,
    dims: (usize, usize, usize),
) -> Result<Vec<T>> {
    let (m, _, n) = dims;
    let Some(len) = m.checked_mul(n) else {
        return Err(buf::no_room::<T>(usize::MAX));
    };
    let mut dst = buf::zeros(len)?;
    gemm_strided(&mut dst, dims, a, b, false, true)?;
    Ok(dst)
}

#[cfg(test)]
mod strided_tests {
    use super::*;

    #[test]
    fn transposed_operands_match_the_copied_product() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        // a^T stored as k x m, read back through swapped strides.
        let at: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
        let bt: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let d = MatmulDims {
            batch: 1,
            m,
            k,
            n,
            a_batched: false,
            b_batched: false,
        };
        let want = matmul(&a, &b, d).unwrap();
        let av = Strided::transposed(&at, m);
        let bv = Strided::transposed(&bt, k);
        let got = matmul_strided(av, bv, (m, k, n)).unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-12);
        }
        let short = Strided::transposed(&at[..3], m);
        assert!(matmul_strided(short, bv, (m, k, n)).is_err());
    }

    /// Deterministic operands `a` (m x k) and `b` (k x n), and `start + a @ b` summed naively.
    fn operands(m: usize, k: usize, n: usize, start: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut want = vec![start; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] += (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f64>();
            }
        }
        (a, b, want)
    }

    #[test]
    fn copied_strided_operands_match_the_naive_product() {
        // Operands big enough to be copied column-major before the product (see `pack`), in
        // every layout, with odd sizes, accumulation and threads; and a negative row stride.
        for &(m, k, n) in &[(70, 90, 65), (33, 130, 200), (129, 257, 40), (300, 64, 15)] {
            let (a, b, want) = operands(m, k, n, 0.25);
            let at: Vec<f64> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let bt: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            let plain_a = Strided::rows(&a, k);
            let plain_b = Strided::rows(&b, n);
            let trans_a = Strided::transposed(&at, m);
            let trans_b = Strided::transposed(&bt, k);
            for (av, bv) in [
                (plain_a, plain_b),
                (trans_a, plain_b),
                (plain_a, trans_b),
                (trans_a, trans_b),
            ] {
                let mut got = vec![0.25; m * n];
                gemm_strided(&mut got, (m, k, n), av, bv, true, true).unwrap();
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-9, "{m}x{k}x{n}: {g} vs {w}");
                }
            }
            // Rows of `a` read bottom to top: a negative row stride through a raw view.
            let flipped: Vec<f64> = (0..m * k).map(|i| a[(m - 1 - i / k) * k + i % k]).collect();
            let mut got = vec![0.0; m * n];
            unsafe {
                let lhs = View::rows(&flipped, k).at((m - 1) * k);
                let lhs = View {
                    rs: -(k as isize),
                    ..lhs
                };
                gemm_into(&mut got, m, n, k, lhs, View::rows(&bt, k).t(), false, 2);
            }
            for (g, w) in got.iter().zip(&want) {
                assert!((g + 0.25 - w).abs() < 1e-9, "flipped {m}x{k}x{n}");
            }
        }
    }

    #[test]
    fn narrow_outputs_match_the_naive_product_in_every_layout() {
        // Outputs under 16 columns with short reductions (the `narrow` kernels where the CPU
        // has them, else the crate): float32 and float64, row- and column-major left
        // operands, row counts that leave partial blocks, with accumulation.
        fn check<T: Real>(m: usize, k: usize, n: usize, tol: f64) {
            let a: Vec<T> = (0..m * k).map(|i| T::c((i as f64 * 0.37).sin())).collect();
            let b: Vec<T> = (0..k * n).map(|i| T::c((i as f64 * 0.11).cos())).collect();
            let at: Vec<T> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
            let mut want = vec![0.5f64; m * n];
            for i in 0..m {
                for j in 0..n {
                    let dot: f64 = (0..k)
                        .map(|p| a[i * k + p].to_f64().unwrap() * b[p * n + j].to_f64().unwrap())
                        .sum();
                    want[i * n + j] += dot;
                }
            }
            let bv = Strided::rows(&b, n);
            let rows_a = Strided::rows(&a, k);
            let cols_a = Strided::transposed(&at, m);
            for av in [rows_a, cols_a] {
                let mut got = vec![T::c(0.5); m * n];
                gemm_strided(&mut got, (m, k, n), av, bv, true, true).unwrap();
                for (g, w) in got.iter().zip(&want) {
                    let g = g.to_f64().unwrap();
                    assert!(
                        (g - w).abs() <= tol * (1.0 + w.abs()),
                        "{m}x{k}x{n}: {g} vs {w}"
                    );
                }
            }
        }
        for &(m, k, n) in &[
            (3, 5, 2),
            (17, 33, 9),
            (130, 128, 10),
            (41, 200, 15),
            (16, 7, 1),
        ] {
            check::<f32>(m, k, n, 1e-4);
            check::<f64>(m, k, n, 1e-12);
        }
    }

    #[test]
    fn thin_outputs_accumulate_like_wide_ones() {
        // Outputs narrower than THIN_COLS take the row-by-row kernel (`narrow`) or, with a
        // long reduction, the column-major path; check both against the naive product, with
        // and without accumulation, for several widths and threads.
        let cases = [
            (40, 9, 1),
            (33, 17, 10),
            (300, 64, 15),
            (2000, 700, 3),
            (70, 3000, 7),
        ];
        for &(m, k, n) in &cases {
            let (a, b, want) = operands(m, k, n, 0.5);
            let av = Strided::rows(&a, k);
            let bv = Strided::rows(&b, n);
            let mut got = vec![0.5; m * n];
            gemm_strided(&mut got, (m, k, n), av, bv, true, true).unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-9, "{m}x{k}x{n}: {g} vs {w}");
            }
            let plain = matmul_strided(av, bv, (m, k, n)).unwrap();
            for (g, w) in plain.iter().zip(&want) {
                assert!((g + 0.5 - w).abs() < 1e-9);
            }
        }
    }
}

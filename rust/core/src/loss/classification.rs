//! Classification losses with their gradients: `cross_entropy` (log-softmax and negative
//! log-likelihood fused, class-index or class-probability targets, class weights,
//! `ignore_index`, label smoothing), `nll_loss`, `binary_cross_entropy` and
//! `binary_cross_entropy_with_logits`, with PyTorch's semantics.
//!
//! Inputs of `cross_entropy` and `nll_loss` are `(C,)`, `(N, C)` or `(N, C, d1, ..., dk)`; the
//! class axis is axis 1 (axis 0 when unbatched), and each position `(n, d1, ..., dk)` is one
//! "row" of `C` scores. Rows are processed in parallel chunks; within a chunk every row is
//! handled in a few passes over cache-resident memory, with `exp` computed once per element by
//! a vectorisable polynomial ([`FastMath`]).
//!
//! ```
//! use ferrograd_core::loss::classification::{cross_entropy, ClassOptions, ClassTarget, View};
//! use ferrograd_core::loss::Reduction;
//! // log of the probabilities (0.228, 0.619, 0.153) as logits, target class 1.
//! let x = [0.228f64.ln(), 0.619f64.ln(), 0.153f64.ln()];
//! let opts = ClassOptions::new(Reduction::Mean);
//! let (loss, shape) =
//!     cross_entropy(View::new(&x, &[1, 3]), ClassTarget::Index(View::new(&[1], &[1])), &opts)
//!         .unwrap();
//! assert!(shape.is_empty());
//! // The probabilities sum to 1, so the loss is -ln(0.619) = 0.4797.
//! assert!((loss[0] + 0.619f64.ln()).abs() < 1e-12);
//! ```

pub use super::bce::{
    binary_cross_entropy, binary_cross_entropy_backward, binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_backward,
};
pub use super::class_input::{ClassLayout, ClassOptions, ClassTarget, View};
pub use super::cross_entropy::{cross_entropy, cross_entropy_backward, cross_entropy_with_grad};
pub use super::fastmath::FastMath;
pub use super::nll::{nll_loss, nll_loss_backward};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::class_input::*;
    use crate::loss::cross_entropy::*;
    use crate::loss::fastmath::*;
    #[cfg(target_arch = "x86_64")]
    use crate::loss::simd::{narrow256, narrow512};
    use crate::loss::Reduction;

    fn opts<'a>(r: Reduction) -> ClassOptions<'a, f64> {
        ClassOptions::new(r)
    }

    #[test]
    fn fast_exp_matches_std() {
        let mut worst32 = 0.0f64;
        let mut worst64 = 0.0f64;
        let mut x = -87.0f64;
        while x < 88.0 {
            let e32 = (x as f32).fast_exp() as f64;
            let r32 = ((x as f32) as f64).exp();
            worst32 = worst32.max(((e32 - r32) / r32).abs());
            let e64 = x.fast_exp();
            let r64 = x.exp();
            worst64 = worst64.max(((e64 - r64) / r64).abs());
            x += 0.0137;
        }
        assert!(worst32 < 3.0 * f32::EPSILON as f64, "f32 error {worst32}");
        assert!(worst64 < 4.0 * f64::EPSILON, "f64 error {worst64}");
        assert_eq!(f32::NEG_INFINITY.fast_exp(), 0.0);
        assert_eq!((-1000.0f64).fast_exp(), 0.0);
        assert!(f32::NAN.fast_exp().is_nan());
        assert!(f64::NAN.fast_exp().is_nan());
        assert_eq!(0.0f64.fast_exp(), 1.0);
        assert_eq!(1000.0f32.fast_exp(), f32::INFINITY);
        assert!((709.0f64.fast_exp() / 709.0f64.exp() - 1.0).abs() < 1e-14);
        assert!((88.5f32.fast_exp() / 88.5f32.exp() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn fast_ln_matches_std() {
        let mut worst32 = 0.0f64;
        let mut worst64 = 0.0f64;
        let mut x = 1e-30f64;
        while x < 1e30 {
            let r32 = ((x as f32) as f64).ln();
            let e32 = (x as f32).fast_ln() as f64;
            worst32 = worst32.max((e32 - r32).abs() / r32.abs().max(1.0));
            worst64 = worst64.max((x.fast_ln() - x.ln()).abs() / x.ln().abs().max(1.0));
            x *= 1.0137;
        }
        assert!(worst32 < 2.0 * f32::EPSILON as f64, "f32 error {worst32}");
        assert!(worst64 < 2.0 * f64::EPSILON, "f64 error {worst64}");
        for v in [1.0f64, 2.0, 10.0, 0.5, 1.0 + 1e-12] {
            assert!((v.fast_ln() - v.ln()).abs() <= 4.0 * f64::EPSILON * v.ln().abs().max(1e-300));
        }
        assert_eq!(0.0f32.fast_ln(), f32::NEG_INFINITY);
        assert_eq!(f64::INFINITY.fast_ln(), f64::INFINITY);
        assert!((-1.0f64).fast_ln().is_nan());
        assert!(f32::NAN.fast_ln().is_nan());
        let sub = 1e-310f64;
        assert!((sub.fast_ln() - sub.ln()).abs() < 1e-12);
        let sub32 = 1e-40f32;
        assert!((sub32.fast_ln() - sub32.ln()).abs() < 1e-4);
    }

    #[test]
    fn exp_nonpos_matches_std_with_and_without_fma() {
        let mut x = -700.0f64;
        while x <= 0.0 {
            let want = x.exp();
            for got in [x.exp_nonpos_with::<false>(), x.exp_nonpos_with::<true>()] {
                assert!(
                    (got - want).abs() <= 4.0 * f64::EPSILON * want,
                    "{x}: {got} vs {want}"
                );
            }
            let x32 = x as f32;
            if x32 > -87.0 {
                let want = (x32 as f64).exp();
                for got in [
                    x32.exp_nonpos_with::<false>(),
                    x32.exp_nonpos_with::<true>(),
                ] {
                    let err = (got as f64 - want).abs() / want;
                    assert!(err <= 3.0 * f32::EPSILON as f64, "{x32}: {got} vs {want}");
                }
            }
            x += 0.0731;
        }
        assert_eq!(f32::NEG_INFINITY.exp_nonpos_with::<true>(), 0.0);
        assert!(f64::NAN.exp_nonpos_with::<false>().is_nan());
        assert_eq!(0.0f32.exp_nonpos_with::<false>(), 1.0);
    }

    /// Runs both builds of the block kernel (plain and FMA), each with plain and streaming
    /// stores, with and without label smoothing, on the same rows.
    fn both_builds(x: &[f64], c: usize, inner: usize, labels: &[i64], w: Option<&[f64]>) {
        for smoothing in [true, false] {
            each_build(x, c, inner, labels, w, smoothing);
        }
    }

    fn each_build(
        x: &[f64],
        c: usize,
        inner: usize,
        labels: &[i64],
        w: Option<&[f64]>,
        smoothing: bool,
    ) {
        let eps = if smoothing { 0.1 } else { 0.0 };
        let plan = Plan {
            classes: c,
            weight: w,
            weight_sum: w.map_or(c as f64, |w| w.iter().sum()),
            keep: 1.0 - eps,
            spread: eps / c as f64,
            smoothing,
            ignore: -100,
            stream: false,
            after: &[],
        };
        let rows = labels.len();
        let coef: Vec<f64> = (0..rows).map(|r| 0.5 + r as f64 * 0.01).collect();
        let mut out = Vec::new();
        for (fma, stream) in [(false, false), (true, false), (false, true), (true, true)] {
            let p = Plan { stream, ..plan };
            let mut g = vec![0.0; x.len()];
            let mut l = vec![0.0; rows];
            let cf = Some(Coef::Each(&coef));
            let t = Rows::Index(labels);
            if fma {
                ce_block::<f64, true>(&p, x, t, inner, Some(&mut g), Some(&mut l), cf);
            } else {
                ce_block::<f64, false>(&p, x, t, inner, Some(&mut g), Some(&mut l), cf);
            }
            out.push((g, l));
        }
        for other in &out[1..] {
            for (a, b) in out[0]
                .0
                .iter()
                .zip(&other.0)
                .chain(out[0].1.iter().zip(&other.1))
            {
                assert!((a - b).abs() <= 1e-13 * (1.0 + a.abs()), "{a} vs {b}");
            }
        }
        assert!(out[0].1.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn plain_and_fma_builds_agree() {
        let data = |n: usize| -> Vec<f64> {
            (0..n)
                .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
                .collect()
        };
        let w: Vec<f64> = (0..100).map(|k| 0.5 + (k % 3) as f64).collect();
        // Narrow rows, wide rows, and one spatial block.
        let labels: Vec<i64> = (0..70)
            .map(|r| if r % 9 == 0 { -100 } else { r % 5 })
            .collect();
        both_builds(&data(70 * 5), 5, 1, &labels, Some(&w[..5]));
        let labels = [0, 40, -100, 80, 99];
        both_builds(&data(5 * 100), 100, 1, &labels, None);
        both_builds(&data(5 * 100), 100, 1, &labels, Some(&w));
        let labels: Vec<i64> = (0..130).map(|r| r % 4).collect();
        both_builds(&data(4 * 130), 4, 130, &labels, Some(&w[..4]));
    }

    #[test]
    fn seed_example() {
        let x = [0.228f64.ln(), 0.619f64.ln(), 0.153f64.ln()];
        let t = [1i64];
        let (l, s) = cross_entropy(
            View::new(&x, &[3]),
            ClassTarget::Index(View::new(&t[..1], &[])),
            &opts(Reduction::Mean),
        )
        .unwrap();
        assert!(s.is_empty());
        // The probabilities sum to 1, so the loss is -ln 0.619.
        assert!((l[0] - 0.479_650_006_297_978_9).abs() < 1e-9, "{}", l[0]);
        let onehot = [0.0, 1.0, 0.0];
        let (lp, _) = cross_entropy(
            View::new(&x, &[3]),
            ClassTarget::Prob(View::new(&onehot, &[3])),
            &opts(Reduction::Mean),
        )
        .unwrap();
        assert!((lp[0] - l[0]).abs() < 1e-15);
    }

    #[test]
    fn gradient_is_softmax_minus_onehot() {
        let x = [1.0f64, 2.0, 3.0, -1.0, 0.0, 1.0];
        let t = [2i64, 0];
        let g = cross_entropy_backward(
            View::new(&[1.0], &[]),
            View::new(&x, &[2, 3]),
            ClassTarget::Index(View::new(&t, &[2])),
            &opts(Reduction::Sum),
        )
        .unwrap();
        for r in 0..2 {
            let row = &x[r * 3..r * 3 + 3];
            let s: f64 = row.iter().map(|v| v.exp()).sum();
            for k in 0..3 {
                let want = row[k].exp() / s - if k as i64 == t[r] { 1.0 } else { 0.0 };
                assert!((g[r * 3 + k] - want).abs() < 1e-14);
            }
        }
    }

    #[test]
    fn bad_labels_and_shapes_are_errors() {
        let x = [0.0f64; 20];
        let t = [1i64, 12];
        let e = cross_entropy(
            View::new(&x, &[2, 10]),
            ClassTarget::Index(View::new(&t, &[2])),
            &opts(Reduction::Mean),
        )
        .unwrap_err();
        assert_eq!(
            e,
            crate::Error::Value(
                "cross_entropy: target has label 12 at index 1, but input has 10 classes".into()
            )
        );
        let t3 = [0i64; 3];
        assert!(matches!(
            nll_loss(
                View::new(&x, &[2, 10]),
                View::new(&t3, &[3]),
                &opts(Reduction::Sum)
            ),
            Err(crate::Error::Shape(_))
        ));
    }

    #[test]
    fn spatial_matches_rows() {
        // (N=2, C=3, d=2) against its (4, 3) reshape.
        let x: Vec<f64> = (0..12).map(|v| (v as f64 * 0.7).sin() * 3.0).collect();
        let t = [0i64, 2, 1, -100];
        let mut xr = vec![0.0; 12];
        for n in 0..2 {
            for c in 0..3 {
                for i in 0..2 {
                    xr[(n * 2 + i) * 3 + c] = x[(n * 3 + c) * 2 + i];
                }
            }
        }
        let w = [0.5, 2.0, 1.0];
        let mut o = opts(Reduction::None);
        o.weight = Some(&w);
        o.label_smoothing = 0.1;
        let (a, sa) = cross_entropy(
            View::new(&x, &[2, 3, 2]),
            ClassTarget::Index(View::new(&t, &[2, 2])),
            &o,
        )
        .unwrap();
        let (b, _) = cross_entropy(
            View::new(&xr, &[4, 3]),
            ClassTarget::Index(View::new(&t, &[4])),
            &o,
        )
        .unwrap();
        assert_eq!(sa, vec![2, 2]);
        for (u, v) in a.iter().zip(&b) {
            assert!((u - v).abs() < 1e-14);
        }
    }

    #[test]
    fn bce_clamps_and_checks_range() {
        let x = [0.0f64, 1.0];
        let t = [1.0f64, 1.0];
        let (l, _) = binary_cross_entropy(
            View::new(&x, &[2]),
            View::new(&t, &[2]),
            None,
            Reduction::None,
        )
        .unwrap();
        assert_eq!(l, vec![100.0, 0.0]);
        let bad = [0.5f64, 1.5];
        assert!(matches!(
            binary_cross_entropy(
                View::new(&bad, &[2]),
                View::new(&t, &[2]),
                None,
                Reduction::Sum
            ),
            Err(crate::Error::Value(_))
        ));
    }

    /// The tile kernels for narrow `f32` rows (`narrow512`, `narrow256`) give bit for bit the
    /// results of the portable column kernel (NaN signs aside), which the same rows reach when
    /// laid out as one spatial batch element (class-major).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn narrow_tiles_match_the_column_kernel() {
        for c in 2..=narrow512::MAX_CLASSES {
            for rows in [16, 37, 64] {
                for variant in 0..6 {
                    tiles_vs_columns(c, rows, variant);
                }
            }
        }
    }

    /// One comparison; `variant` picks weights, smoothing, per-row coefficients, streaming,
    /// an ignored class inside `0..c`, and a misaligned gradient (4 bytes past a 64-byte
    /// boundary, so misaligned for both kernels' streamed stores).
    #[cfg(target_arch = "x86_64")]
    fn tiles_vs_columns(c: usize, rows: usize, variant: usize) {
        let x: Vec<f32> = (0..rows * c)
            .map(|i| match i % 23 {
                5 if variant == 3 => 9_000.0,
                7 if variant == 4 => -9_000.0,
                11 if variant == 5 && i / c == 3 => f32::NAN,
                _ => ((i * 37 % 101) as f32 - 50.0) / 7.0,
            })
            .collect();
        let ignore: i64 = if variant == 2 { 1 } else { -100 };
        let labels: Vec<i64> = (0..rows)
            .map(|r| {
                if r % 7 == 3 {
                    -100
                } else {
                    ((r * 7 + r / 3) % c) as i64
                }
            })
            .map(|y| {
                if y == -100 && ignore != -100 {
                    ignore
                } else {
                    y
                }
            })
            .collect();
        let w: Vec<f32> = (0..c).map(|k| 0.5 + (k % 3) as f32).collect();
        let eps = if variant % 2 == 1 { 0.1 } else { 0.0 };
        let weighted = variant >= 2;
        let plan = Plan {
            classes: c,
            weight: weighted.then_some(&w[..]),
            weight_sum: if weighted { w.iter().sum() } else { c as f32 },
            keep: 1.0 - eps,
            spread: eps / c as f32,
            smoothing: eps > 0.0,
            ignore,
            // Variant 4 streams to a misaligned gradient (as after reuse of a block that
            // `calloc` made), which must fall back to plain stores.
            stream: variant.is_multiple_of(3) || variant == 4,
            after: &[],
        };
        let each: Vec<f32> = (0..rows).map(|r| 0.5 + r as f32 * 0.01).collect();
        let coef = if variant.is_multiple_of(2) {
            Coef::Each(&each[..])
        } else {
            Coef::All(0.25)
        };
        // Rows: the gradient at a 64-byte boundary (or 4 bytes past one for variant 4).
        let mut store = vec![f32::NAN; rows * c + 32];
        let skew = (64 - store.as_ptr() as usize % 64) / 4 % 16 + usize::from(variant == 4);
        let g_rows = &mut store[skew..skew + rows * c];
        let mut l_rows = vec![f32::NAN; rows];
        let t = Rows::Index(&labels[..]);
        ce_block_dispatch(&plan, &x, t, 1, Some(g_rows), Some(&mut l_rows), Some(coef));
        // The same rows, class-major.
        let xc: Vec<f32> = (0..rows * c)
            .map(|i| x[(i % rows) * c + i / rows])
            .collect();
        let mut g_cols = vec![f32::NAN; rows * c];
        let mut l_cols = vec![f32::NAN; rows];
        let p = Plan {
            stream: false,
            ..plan
        };
        ce_block_dispatch(
            &p,
            &xc,
            t,
            rows,
            Some(&mut g_cols),
            Some(&mut l_cols),
            Some(coef),
        );
        let g_rows = &store[skew..skew + rows * c];
        let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        for j in 0..rows {
            assert!(
                same(l_rows[j], l_cols[j]),
                "c={c} rows={rows} v={variant} loss {j}"
            );
            for k in 0..c {
                let (a, b) = (g_rows[j * c + k], g_cols[k * rows + j]);
                assert!(
                    same(a, b),
                    "c={c} rows={rows} v={variant} grad ({j}, {k}): {a} vs {b}"
                );
            }
        }
        assert!(
            l_rows.iter().any(|v| v.is_finite() && *v != 0.0),
            "c={c} rows={rows} v={variant}: {l_rows:?}"
        );
        // The AVX2 tile kernel on the whole tiles: its exponential is the portable one, which
        // the AVX-512 one equals outside (-104, -87.3), a range these scores never reach.
        if avx2_fma() {
            let g2 = &mut store[skew..skew + rows * c];
            g2.fill(f32::NAN);
            let mut l2 = vec![f32::NAN; rows];
            // SAFETY: the CPU has AVX2 and FMA.
            let done = unsafe {
                narrow256::ce_tiles(&plan, &x, &labels, Some(g2), Some(&mut l2), Some(coef))
            };
            assert_eq!(done, rows / 8 * 8);
            let g2 = &store[skew..skew + rows * c];
            for j in 0..done {
                assert!(
                    same(l2[j], l_cols[j]),
                    "avx2 c={c} rows={rows} v={variant} loss {j}"
                );
                for k in 0..c {
                    let (a, b) = (g2[j * c + k], g_cols[k * rows + j]);
                    assert!(same(a, b), "avx2 c={c} rows={rows} v={variant} ({j}, {k})");
                }
            }
        }
    }
}

//! 2-D max and average pooling over NCHW (or CHW) arrays, forward and backward.

use super::fmt_pair;
use crate::buf;
use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::for_each_row_costing;
use crate::shape::{checked_numel, fmt_shape};
use crate::{shape_err, value_err};

/// Settings of a 2-D pooling window; every pair is (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dSpec {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    /// Round the output size up instead of down (windows may then start in the padding at
    /// the end, but never entirely past it).
    pub ceil_mode: bool,
}

/// The checked sizes of a pooling: `planes` (N * C) planes of h x w in, oh x ow out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dDims {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub spec: Pool2dSpec,
}

/// PyTorch's pooling output size along one axis (before checking that it is positive).
fn pool_out(size: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> i128 {
    let (size, k, s, p, d) = (size as i128, k as i128, s as i128, p as i128, d as i128);
    let num = size + 2 * p - d * (k - 1) - 1 + if ceil { s - 1 } else { 0 };
    let mut out = num.div_euclid(s) + 1;
    // The last window must start inside the input or its leading padding.
    if ceil && (out - 1) * s >= size + p {
        out -= 1;
    }
    out
}

impl Pool2dDims {
    /// Checks an input of shape (N, C, H, W) or (C, H, W) against `spec`; `func` names the
    /// caller in error messages.
    pub fn new(func: &str, input: &[usize], spec: Pool2dSpec) -> Result<Self> {
        let s = spec;
        if input.len() != 3 && input.len() != 4 {
            return shape_err!(
                "{func}: input has shape {}, expected (N, C, H, W) or (C, H, W)",
                fmt_shape(input)
            );
        }
        let nd = input.len();
        if input[nd - 3..].contains(&0) {
            return shape_err!(
                "{func}: input has shape {}; its channel and spatial sizes must be non-zero",
                fmt_shape(input)
            );
        }
        for (name, v) in [
            ("kernel_size", s.kernel),
            ("stride", s.stride),
            ("dilation", s.dilation),
        ] {
            if v.contains(&0) {
                return value_err!("{func}: {name} must be positive, got {}", fmt_pair(v));
            }
        }
        if s.padding[0] > s.kernel[0] / 2 || s.padding[1] > s.kernel[1] / 2 {
            return value_err!(
                "{func}: padding should be at most half of kernel_size, got padding {} and \
                 kernel_size {}",
                fmt_pair(s.padding),
                fmt_pair(s.kernel)
            );
        }
        let (h, w) = (input[nd - 2], input[nd - 1]);
        let Some(planes) = checked_numel(&input[..nd - 2]) else {
            return shape_err!("{func}: input shape {} is too big", fmt_shape(input));
        };
        let oh = pool_out(
            h,
            s.kernel[0],
            s.stride[0],
            s.padding[0],
            s.dilation[0],
            s.ceil_mode,
        );
        let ow = pool_out(
            w,
            s.kernel[1],
            s.stride[1],
            s.padding[1],
            s.dilation[1],
            s.ceil_mode,
        );
        if oh < 1 || ow < 1 {
            return shape_err!(
                "{func}: output size would be ({oh}, {ow}) for input {} with kernel_size {}, \
                 stride {}, padding {} and dilation {}; the output must not be empty",
                fmt_shape(input),
                fmt_pair(s.kernel),
                fmt_pair(s.stride),
                fmt_pair(s.padding),
                fmt_pair(s.dilation)
            );
        }
        let (oh, ow) = (oh as usize, ow as usize);
        if checked_numel(&[planes, oh, ow]).is_none_or(|v| v > isize::MAX as usize / 8) {
            return shape_err!("{func}: the output is too big for an array");
        }
        Ok(Pool2dDims {
            planes,
            h,
            w,
            oh,
            ow,
            spec,
        })
    }

    /// Shape of the output for an input of shape `input`: its leading axes, then
    /// (H_out, W_out).
    pub fn out_shape(&self, input: &[usize]) -> Vec<usize> {
        let mut s = input[..input.len().saturating_sub(2)].to_vec();
        s.extend([self.oh, self.ow]);
        s
    }

    /// Checks that a gradient of the output of an input of shape `input` has the output's
    /// shape.
    pub fn check_grad_output(&self, func: &str, input: &[usize], grad: &[usize]) -> Result<()> {
        let want = self.out_shape(input);
        if grad != want {
            return shape_err!(
                "{func}: grad_output has shape {}, expected the output shape {}",
                fmt_shape(grad),
                fmt_shape(&want)
            );
        }
        Ok(())
    }

    fn check_in(&self, func: &str, len: usize) -> Result<()> {
        if len != self.planes * self.h * self.w {
            return shape_err!(
                "{func}: input holds {len} elements, expected {} planes of {}x{}",
                self.planes,
                self.h,
                self.w
            );
        }
        Ok(())
    }

    fn check_out(&self, func: &str, len: usize) -> Result<()> {
        if len != self.planes * self.oh * self.ow {
            return shape_err!(
                "{func}: grad_output holds {len} elements, expected {} planes of {}x{}",
                self.planes,
                self.oh,
                self.ow
            );
        }
        Ok(())
    }

    /// Element operations per plane: one per output and window element.
    fn plane_work(&self) -> usize {
        (self.oh * self.ow).saturating_mul(self.spec.kernel[0] * self.spec.kernel[1])
    }

    /// Window of output (oy, ox) along one axis: first position (may be negative), step.
    fn start(&self, ax: usize, o: usize) -> isize {
        (o * self.spec.stride[ax]) as isize - self.spec.padding[ax] as isize
    }
}

pub fn max_pool2d<T: Real>(x: &[T], d: &Pool2dDims) -> Result<(Vec<T>, Vec<i64>)> {
    d.check_in("max_pool2d", x.len())?;
    let (l, plane) = (d.oh * d.ow, d.h * d.w);
    let mut pairs = buf::filled(d.planes * l, (T::zero(), 0i64))?;
    let [kh, kw] = d.spec.kernel;
    let [dh, dw] = d.spec.dilation;
    let [sh, sw] = d.spec.stride;
    // Without padding, and with every window inside the input, no position needs a check.
    let inside = d.spec.padding == [0, 0]
        && (d.oh.saturating_sub(1) * sh + (kh - 1) * dh) < d.h
        && (d.ow.saturating_sub(1) * sw + (kw - 1) * dw) < d.w;
    for_each_row_costing(&mut pairs, l, d.plane_work(), |p, o| {
        let src = &x[p * plane..(p + 1) * plane];
        if inside && [kh, kw, dh, dw] == [2, 2, 1, 1] {
            // The common 2 x 2 window without data-dependent branches: which element wins
            // is unpredictable with real data, and mispredictions would cost several times
            // the comparisons.
            for (oy, row) in o.chunks_mut(d.ow).enumerate() {
                for (ox, slot) in row.iter_mut().enumerate() {
                    let k = oy * sh * d.w + ox * sw;
                    let corner = max_of_four(src[k], src[k + 1], src[k + d.w], src[k + d.w + 1]);
                    let at = k + [0, 1, d.w, d.w + 1][corner];
                    *slot = (src[at], at as i64);
                }
            }
            return;
        }
        if inside {
            for (oy, row) in o.chunks_mut(d.ow).enumerate() {
                for (ox, slot) in row.iter_mut().enumerate() {
                    let first = oy * sh * d.w + ox * sw;
                    let (mut best, mut at) = (src[first], first);
                    for i in 0..kh {
                        let line = first + i * dh * d.w;
                        for j in 0..kw {
                            let k = line + j * dw;
                            let v = src[k];
                            // Selects, not a branch: with real data which element wins is
                            // unpredictable, and mispredictions would cost more than the
                            // comparisons.
                            let take = (v > best) | v.is_nan();
                            best = if take { v } else { best };
                            at = if take { k } else { at };
                        }
                    }
                    *slot = (best, at as i64);
                }
            }
            return;
        }
        for oy in 0..d.oh {
            let y0 = d.start(0, oy);
            for ox in 0..d.ow {
                let x0 = d.start(1, ox);
                let (mut best, mut at) = (T::neg_infinity(), -1i64);
                for i in 0..kh {
                    let y = y0 + (i * dh) as isize;
                    if y < 0 || y >= d.h as isize {
                        continue;
                    }
                    for j in 0..kw {
                        let xx = x0 + (j * dw) as isize;
                        if xx < 0 || xx >= d.w as isize {
                            continue;
                        }
                        let k = y as usize * d.w + xx as usize;
                        let v = src[k];
                        if at < 0 || v > best || v.is_nan() {
                            best = v;
                            at = k as i64;
                        }
                    }
                }
                o[oy * d.ow + ox] = (best, at);
            }
        }
    });
    let (mut values, mut indices) = (
        buf::with_capacity(pairs.len())?,
        buf::with_capacity(pairs.len())?,
    );
    for (v, i) in pairs {
        values.push(v);
        indices.push(i);
    }
    Ok((values, indices))
}

/// Which element of a 2 x 2 window `a b / c e` (0 to 3, in window order) a scan in window
/// order keeps: the first of equal maxima, or the last NaN (as PyTorch). Without NaN (the
/// predictable case), arithmetic on the comparisons picks it.
#[inline(always)]
fn max_of_four<T: Real>(a: T, b: T, c: T, e: T) -> usize {
    if a.is_nan() | b.is_nan() | c.is_nan() | e.is_nan() {
        return if e.is_nan() {
            3
        } else if c.is_nan() {
            2
        } else {
            b.is_nan() as usize
        };
    }
    let m = a.max(b).max(c).max(e);
    let (is_a, is_b, is_c) = ((a == m) as u8, (b == m) as u8, (c == m) as u8);
    // a if it is the maximum, else b if it is, else c if it is, else e.
    ((1 - is_a) * (1 + (1 - is_b) * (1 + (1 - is_c)))) as usize
}

/// Gradient of [`max_pool2d`] from its indices: each output's gradient goes to the input
/// element it took. `planes` planes of `in_plane` input and `out_plane` output elements.
pub fn max_pool2d_backward<T: Real>(
    g: &[T],
    indices: &[i64],
    planes: usize,
    in_plane: usize,
    out_plane: usize,
) -> Result<Vec<T>> {
    let want = planes.checked_mul(out_plane);
    if want != Some(g.len()) || indices.len() != g.len() {
        return shape_err!(
            "max_pool2d_backward: grad_output and indices hold {} and {} elements, expected \
             {planes} planes of {out_plane}",
            g.len(),
            indices.len()
        );
    }
    if let Some(k) = indices.iter().position(|&i| i < -1 || i >= in_plane as i64) {
        return value_err!(
            "max_pool2d_backward: indices holds {} at flat position {k}, outside an input \
             plane of {in_plane} elements",
            indices[k]
        );
    }
    let Some(total) = planes.checked_mul(in_plane) else {
        return shape_err!("max_pool2d_backward: the input is too big for an array");
    };
    let mut gx = buf::zeros(total)?;
    for_each_row_costing(&mut gx, in_plane, out_plane.max(in_plane), |p, gp| {
        let (gs, is) = (
            &g[p * out_plane..(p + 1) * out_plane],
            &indices[p * out_plane..(p + 1) * out_plane],
        );
        for (&v, &i) in gs.iter().zip(is) {
            if i >= 0 {
                gp[i as usize] = gp[i as usize] + v;
            }
        }
    });
    Ok(gx)
}

/// Bounds of one average-pooling window along an axis: `(start, end, padded_len)` with
/// start/end clipped to the input and `padded_len` the window size within the padded input.
fn avg_window(start: isize, k: usize, size: usize, pad: usize) -> (usize, usize, usize) {
    let end = (start + k as isize).min((size + pad) as isize);
    let padded = (end - start) as usize;
    let (s, e) = (
        start.max(0) as usize,
        end.min(size as isize).max(0) as usize,
    );
    (s, e.max(s), padded)
}

fn avg_divisor(
    (h0, h1, ph): (usize, usize, usize),
    (w0, w1, pw): (usize, usize, usize),
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> usize {
    match divisor_override {
        Some(v) => v,
        None if count_include_pad => ph * pw,
        None => (h1 - h0) * (w1 - w0),
    }
}

fn check_avg(func: &str, d: &Pool2dDims, divisor_override: Option<usize>) -> Result<()> {
    if d.spec.dilation != [1, 1] {
        return value_err!(
            "{func}: dilation is not supported, got {}",
            fmt_pair(d.spec.dilation)
        );
    }
    if divisor_override == Some(0) {
        return value_err!("{func}: divisor_override must be positive, got 0");
    }
    Ok(())
}

/// Average pooling with PyTorch's semantics: `count_include_pad` divides by the window
/// size within the padded input, otherwise by the number of input elements in it;
/// `divisor_override` replaces either divisor.
pub fn avg_pool2d<T: Real>(
    x: &[T],
    d: &Pool2dDims,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Result<Vec<T>> {
    check_avg("avg_pool2d", d, divisor_override)?;
    d.check_in("avg_pool2d", x.len())?;
    let (l, plane) = (d.oh * d.ow, d.h * d.w);
    let mut out = buf::zeros(d.planes * l)?;
    let [kh, kw] = d.spec.kernel;
    for_each_row_costing(&mut out, l, d.plane_work(), |p, o| {
        let src = &x[p * plane..(p + 1) * plane];
        for oy in 0..d.oh {
            let wy = avg_window(d.start(0, oy), kh, d.h, d.spec.padding[0]);
            for ox in 0..d.ow {
                let wx = avg_window(d.start(1, ox), kw, d.w, d.spec.padding[1]);
                let mut acc = T::zero();
                for y in wy.0..wy.1 {
                    acc = acc
                        + src[y * d.w + wx.0..y * d.w + wx.1]
                            .iter()
                            .copied()
                            .sum::<T>();
                }
                let div = avg_divisor(wy, wx, count_include_pad, divisor_override);
                o[oy * d.ow + ox] = acc / T::from_usize_(div);
            }
        }
    });
    Ok(out)
}

/// Gradient of [`avg_pool2d`]: each output's gradient, divided by its divisor, spread over
/// its window.
pub fn avg_pool2d_backward<T: Real>(
    g: &[T],
    d: &Pool2dDims,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Result<Vec<T>> {
    check_avg("avg_pool2d_backward", d, divisor_override)?;
    d.check_out("avg_pool2d_backward", g.len())?;
    let (l, plane) = (d.oh * d.ow, d.h * d.w);
    let mut gx = buf::zeros(d.planes * plane)?;
    let [kh, kw] = d.spec.kernel;
    for_each_row_costing(&mut gx, plane, d.plane_work(), |p, gp| {
        let gs = &g[p * l..(p + 1) * l];
        for oy in 0..d.oh {
            let wy = avg_window(d.start(0, oy), kh, d.h, d.spec.padding[0]);
            for ox in 0..d.ow {
                let wx = avg_window(d.start(1, ox), kw, d.w, d.spec.padding[1]);
                let div = avg_divisor(wy, wx, count_include_pad, divisor_override);
                let v = gs[oy * d.ow + ox] / T::from_usize_(div);
                for y in wy.0..wy.1 {
                    for t in &mut gp[y * d.w + wx.0..y * d.w + wx.1] {
                        *t = *t + v;
                    }
                }
            }
        }
    });
    Ok(gx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool_spec(k: usize, s: usize, p: usize, ceil_mode: bool) -> Pool2dSpec {
        Pool2dSpec {
            kernel: [k, k],
            stride: [s, s],
            padding: [p, p],
            dilation: [1, 1],
            ceil_mode,
        }
    }

    #[test]
    fn max_pool_picks_maxima_and_routes_gradients() {
        let x: Vec<f64> = (0..16).map(|v| v as f64).collect();
        let d = Pool2dDims::new("t", &[1, 4, 4], pool_spec(2, 2, 0, false)).unwrap();
        let (y, idx) = max_pool2d(&x, &d).unwrap();
        assert_eq!(y, vec![5.0, 7.0, 13.0, 15.0]);
        assert_eq!(idx, vec![5, 7, 13, 15]);
        assert_eq!(d.out_shape(&[1, 4, 4]), vec![1, 2, 2]);
        assert!(d.check_grad_output("t", &[1, 4, 4], &[1, 2, 2]).is_ok());
        assert!(d.check_grad_output("t", &[1, 4, 4], &[2, 2]).is_err());
        let gx = max_pool2d_backward(&[1.0, 2.0, 3.0, 4.0], &idx, 1, 16, 4).unwrap();
        assert_eq!(gx[5], 1.0);
        assert_eq!(gx[15], 4.0);
        assert_eq!(gx.iter().sum::<f64>(), 10.0);
        assert!(max_pool2d_backward(&[1.0], &[16], 1, 16, 1).is_err());
    }

    #[test]
    fn avg_pool_divisors_follow_pytorch() {
        let x = vec![1.0f64; 9];
        let d = Pool2dDims::new("t", &[1, 1, 3, 3], pool_spec(2, 2, 1, false)).unwrap();
        assert_eq!((d.oh, d.ow), (2, 2));
        assert_eq!(
            avg_pool2d(&x, &d, true, None).unwrap(),
            vec![0.25, 0.5, 0.5, 1.0]
        );
        assert_eq!(avg_pool2d(&x, &d, false, None).unwrap(), vec![1.0; 4]);
        assert_eq!(
            avg_pool2d(&x, &d, true, Some(1)).unwrap(),
            vec![1.0, 2.0, 2.0, 4.0]
        );
        // ceil_mode: a 2x2 input with kernel 3, stride 2 gives one window clipped to the input.
        let c = Pool2dDims::new("t", &[1, 1, 2, 2], pool_spec(3, 2, 0, true)).unwrap();
        assert_eq!((c.oh, c.ow), (1, 1));
        assert_eq!(
            avg_pool2d(&[1.0f64, 2.0, 3.0, 4.0], &c, true, None).unwrap(),
            vec![2.5]
        );
        let g = avg_pool2d_backward(&[4.0f64; 4], &d, true, None).unwrap();
        assert_eq!(g.iter().sum::<f64>(), 9.0);
    }

    #[test]
    fn bad_pools_are_errors() {
        assert!(Pool2dDims::new("t", &[1, 1, 4, 4], pool_spec(2, 2, 2, false)).is_err());
        assert!(Pool2dDims::new("t", &[1, 1, 1, 1], pool_spec(2, 2, 0, false)).is_err());
        assert!(Pool2dDims::new("t", &[1, 4, 4], pool_spec(0, 1, 0, false)).is_err());
        assert!(Pool2dDims::new("t", &[4, 4], pool_spec(2, 1, 0, false)).is_err());
        let d = Pool2dDims::new("t", &[1, 1, 4, 4], pool_spec(2, 2, 0, false)).unwrap();
        assert!(avg_pool2d(&[0.0f32; 16], &d, true, Some(0)).is_err());
        assert!(max_pool2d(&[0.0f32; 15], &d).is_err());
    }
}

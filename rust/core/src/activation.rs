//! Elementwise activations and their gradients, with PyTorch's conventions at the kinks
//! (`relu'(0) = 0`, `leaky_relu'(0) = negative_slope`, `elu'(0) = alpha`).
//!
//! Each forward is one pass over the input; each backward one pass over `(grad_output, x)`
//! that recomputes what it needs from `x`. Sigmoid-like functions use the two-sided stable form
//! so that inputs of any finite size give finite results and gradients. NaN propagates: a NaN
//! input gives a NaN output and a NaN gradient.
//!
//! ```
//! use ferrograd_core::activation::{forward, backward, Activation};
//! let y = forward(Activation::Relu, &[-1.0f64, 0.0, 2.0]).unwrap();
//! assert_eq!(y, vec![0.0, 0.0, 2.0]);
//! let g = backward(Activation::Relu, &[1.0f64; 3], &[-1.0, 0.0, 2.0]).unwrap();
//! assert_eq!(g, vec![0.0, 0.0, 1.0]);
//! ```

use crate::buf;
use crate::elementwise::map;
use crate::error::Result;
use crate::real::Real;
use crate::runtime::parallel::for_each_chunk;
use crate::softmax::{log_softmax, softmax, softmax_backward};
use crate::{shape_err, value_err};

/// Which form of GELU to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeluApprox {
    /// The exact `x * Phi(x)` with the normal CDF `Phi`.
    None,
    /// `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`.
    Tanh,
}

impl GeluApprox {
    /// Parses PyTorch's `approximate` argument: `"none"` or `"tanh"`.
    pub fn parse(func: &str, s: &str) -> Result<Self> {
        match s {
            "none" => Ok(GeluApprox::None),
            "tanh" => Ok(GeluApprox::Tanh),
            _ => value_err!("{func}: approximate must be 'none' or 'tanh', got '{s}'"),
        }
    }
}

/// An elementwise activation with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// `max(x, 0)`.
    Relu,
    /// `x` for `x > 0`, `negative_slope * x` otherwise.
    LeakyRelu { negative_slope: f64 },
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// Gaussian error linear unit.
    Gelu { approximate: GeluApprox },
    /// `x` for `x > 0`, `alpha * (exp(x) - 1)` otherwise.
    Elu { alpha: f64 },
    /// `x * sigmoid(x)`.
    Silu,
    /// `log(1 + exp(beta x)) / beta`, or `x` where `beta x > threshold`.
    Softplus { beta: f64, threshold: f64 },
}

impl Activation {
    /// The public name, used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Gelu { .. } => "gelu",
            Activation::Elu { .. } => "elu",
            Activation::Silu => "silu",
            Activation::Softplus { .. } => "softplus",
        }
    }

    fn validate(self, func: &str) -> Result<()> {
        if let Activation::Softplus { beta, .. } = self {
            if beta == 0.0 {
                return value_err!("{func}: beta must be non-zero, got {beta}");
            }
        }
        Ok(())
    }
}

/// `sigmoid(x)` and `sigmoid(-x) = 1 - sigmoid(x)`, each to full relative precision, from one
/// `exp(-|x|)` (never the exponential of a large positive number) and selects, not branches.
#[inline(always)]
pub fn sigmoid_pair<T: Real>(x: T) -> (T, T) {
    let e = (-x.abs()).exp();
    let big = T::one() / (T::one() + e);
    let small = e * big;
    if x >= T::zero() {
        (big, small)
    } else if x < T::zero() {
        (small, big)
    } else {
        (x, x)
    }
}

/// `tanh(x) / x` on `|x| <= 1/4` as a polynomial in `x^2`: degree-7 interpolation at the
/// Chebyshev nodes of `[0, 1/16]` (relative error of `tanh` below 1e-15).
#[allow(clippy::excessive_precision)]
pub(crate) const TANH_SMALL: [f64; 8] = [
    1.0,
    -0.33333333333327325,
    0.13333333331783412,
    -0.05396825249286112,
    0.021869418007122117,
    -0.008861368187139621,
    0.0035647111104948996,
    -0.001251670077793711,
];

/// `tanh(x)`: `(1 - e) / (1 + e)` with `e = exp(-2|x|)`, or a polynomial near 0 where that
/// would cancel; both are computed and one is selected, so the loop has no branches.
#[inline(always)]
fn tanh<T: Real>(x: T) -> T {
    let one = T::one();
    let a = x.abs();
    let e = (T::c(-2.0) * a).exp();
    let far = (one - e) / (one + e);
    let y = x * x;
    let mut p = T::c(TANH_SMALL[7]);
    for &c in TANH_SMALL[..7].iter().rev() {
        p = p * y + T::c(c);
    }
    let t = if a < T::c(0.25) { a * p } else { far };
    t.copysign(x)
}

/// Logistic sigmoid, stable on both sides.
#[inline(always)]
pub fn sigmoid<T: Real>(x: T) -> T {
    sigmoid_pair(x).0
}

const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_TANH_C: f64 = 0.044_715;

/// The scaled complementary error function `erfc(z) exp(z^2)` on `[0, 4)`, in eight pieces
/// `[i/2, (i+1)/2)`: row `i` holds the monomial coefficients, in `t = z - i/2`, of the
/// degree-12 polynomial interpolating it at the piece's Chebyshev nodes (relative error of the
/// resulting `erfc` below 3e-15; the constant term of the first row is exactly `erfc(0) = 1`).
#[rustfmt::skip]
#[allow(clippy::excessive_precision)]
const ERFC_SCALED: [[f64; 13]; 8] = [
    [
        1.0,
        -1.1283791670952308,
        0.9999999999622832,
        -0.752252776268106,
        0.4999999570515623,
        -0.30090050684183206,
        0.1666612210930677,
        -0.0859387833581231,
        0.04152913329074482,
        -0.018705677120653446,
        0.007532225568110184,
        -0.0023853663630107715,
        0.00042541597836736554,
    ],
    [
        0.615690344192926,
        -0.5126888229025623,
        0.35934593273892423,
        -0.2220105708972702,
        0.12417032065632001,
        -0.06397012130478036,
        0.030728020841048392,
        -0.013884951856617332,
        0.005935504378696131,
        -0.00239329070600039,
        0.0008801203318456618,
        -0.00026223661080081157,
        4.541121605554157e-05,
    ],
    [
        0.42758357615580717,
        -0.27321201478391205,
        0.15437156137332864,
        -0.07922696899981889,
        0.037572297417457656,
        -0.01666188308839616,
        0.006970241330295529,
        -0.0027694993638758257,
        0.0010514142967685863,
        -0.0003834280405230751,
        0.00013317224795112418,
        -4.032381571250001e-05,
        7.606936987404306e-06,
    ],
    [
        0.32158541645431743,
        -0.16362291773257168,
        0.0761510398566366,
        -0.03293090534100474,
        0.013377341729625042,
        -0.005145966252205087,
        0.0018861972968754546,
        -0.0006622254277969824,
        0.00022423529479139955,
        -7.452710156388213e-05,
        2.5099061773090937e-05,
        -8.154365736546553e-06,
        1.7574203936356979e-06,
    ],
    [
        0.25539567631050575,
        -0.10679646185352168,
        0.04180275260706322,
        -0.015460637895912295,
        0.005440741005075218,
        -0.0018316914816037338,
        0.0005926604329523602,
        -0.00018565795580822523,
        5.844391828135266e-05,
        -2.183676270229295e-05,
        1.1793686795920262e-05,
        -6.556587164314647e-06,
        1.9647586461602577e-06,
    ],
    [
        0.21080636406114364,
        -0.07434734678980173,
        0.024937997087288506,
        -0.008001569407514354,
        0.0024670373540933285,
        -0.0007335976875316709,
        0.00021107330036028912,
        -5.9145816580450567e-05,
        1.6909369386258774e-05,
        -6.336016248873884e-06,
        4.06966125201309e-06,
        -2.6583989113137476e-06,
        8.819437893694676e-07,
    ],
    [
        0.17900115118139,
        -0.054372260007206,
        0.01588437116214187,
        -0.004479431091657968,
        0.001223040411347636,
        -0.00032414109593998936,
        8.36688944651054e-05,
        -2.1550253443943826e-05,
        6.978034517925947e-06,
        -5.1859234646765e-06,
        5.696665133318207e-06,
        -4.312676692832481e-06,
        1.470080122870135e-06,
    ],
    [
        0.1552936556088943,
        -0.04132357783328607,
        0.010661133195352767,
        -0.002673074534596818,
        0.0006526880218141201,
        -0.00015548716877306656,
        3.630810086600658e-05,
        -8.820424037603989e-06,
        3.643328101217521e-06,
        -4.12913749644655e-06,
        4.996596831355065e-06,
        -3.7552088189905246e-06,
        1.2534769871897104e-06,
    ],
];

/// `erfc(z)` for `z >= 4` by its continued fraction
/// `e^{-z^2} / sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...))))`, evaluated from a
/// depth that gives full double precision.
fn erfc_fraction(z: f64) -> f64 {
    let depth = (10.0 + 200.0 / (z * z)).min(70.0) as usize;
    let mut f = z;
    for k in (1..=depth).rev() {
        f = z + 0.5 * k as f64 / f;
    }
    (-z * z).exp() / (std::f64::consts::PI.sqrt() * f)
}

/// Complementary error function with relative accuracy over the whole real line, also in the
/// tail where `erfc` is tiny (relative error below 3e-15 for `|z| < 4`; beyond, the continued
/// fraction is exact to rounding and `exp(-z^2)` sets the error).
pub fn erfc(z: f64) -> f64 {
    if z.is_nan() {
        return z;
    }
    let a = z.abs();
    let upper = if a < 4.0 {
        // The piece is chosen by indexing, not branching.
        let i = (a * 2.0) as usize;
        let t = a - 0.5 * i as f64;
        let c = &ERFC_SCALED[i];
        let mut p = c[12];
        for &ck in c[..12].iter().rev() {
            p = p * t + ck;
        }
        p * (-a * a).exp()
    } else {
        erfc_fraction(a)
    };
    let lower = 2.0 - upper;
    if z >= 0.0 {
        upper
    } else {
        lower
    }
}

/// The standard normal CDF `Phi(x) = erfc(-x / sqrt 2) / 2`, computed in `f64`.
#[inline]
fn normal_cdf<T: Real>(x: T) -> T {
    let v = x.to_f64().unwrap_or(f64::NAN);
    T::c(0.5 * erfc(-v * std::f64::consts::FRAC_1_SQRT_2))
}

/// The standard normal density, computed in `f64`.
#[inline]
fn normal_pdf<T: Real>(x: T) -> T {
    let v = x.to_f64().unwrap_or(f64::NAN);
    T::c(FRAC_1_SQRT_2PI * (-0.5 * v * v).exp())
}

/// `sigmoid(2u)` and `sigmoid(-2u)` for the tanh-GELU at `x`, and `u'(x)`: with
/// `u = sqrt(2/pi) (x + c x^3)`, `0.5 (1 + tanh u) = sigmoid(2u)`.
#[inline(always)]
fn gelu_tanh_parts<T: Real>(x: T) -> (T, T, T) {
    let (k, c) = (T::c(SQRT_2_OVER_PI), T::c(GELU_TANH_C));
    let x2 = x * x;
    let u2 = T::c(2.0) * k * (x + c * x2 * x);
    let du = k * (T::one() + T::c(3.0) * c * x2);
    let (s, sm) = sigmoid_pair(u2);
    (s, sm, du)
}

/// `log(1 + e)` for `0 <= e <= 1`, accurate for tiny `e`: `ln(u) * e / (u - 1)` with
/// `u = 1 + e` cancels the rounding of `u` (and is `e` itself where `u` rounds to 1).
#[inline(always)]
fn log1p_small<T: Real>(e: T) -> T {
    let u = T::one() + e;
    let d = u - T::one();
    let r = u.ln() * (e / d);
    if d == T::zero() {
        e
    } else {
        r
    }
}

/// `exp(v) - 1` for `v <= 0` (unspecified above), accurate near 0: `(u - 1) * v / ln(u)` with `u = exp(v)`
/// cancels the rounding of `u` (`v` itself where `u` rounds to 1, -1 where it underflows).
#[inline(always)]
fn expm1_nonpos<T: Real>(v: T) -> T {
    let u = v.exp();
    let d = u - T::one();
    let r = d * (v / u.ln());
    if d == T::zero() {
        v
    } else if d == -T::one() {
        d
    } else {
        r
    }
}

/// `log(1 + exp(v))` without overflow: `max(v, 0) + log1p(exp(-|v|))`.
#[inline(always)]
fn log1p_exp<T: Real>(v: T) -> T {
    // max(NaN, 0) is 0, but the log term is NaN then.
    v.max(T::zero()) + log1p_small((-v.abs()).exp())
}

/// Applies an activation elementwise.
/// The closures below are `move`: a constant captured by reference would be read through a
/// pointer into the calling thread's stack by every worker, and the cache line it shares with
/// that thread's working variables then bounces between cores (relu ran 3x slower on two
/// threads than on one).
pub fn forward<T: Real>(act: Activation, x: &[T]) -> Result<Vec<T>> {
    act.validate(act.name())?;
    let zero = T::zero();
    match act {
        // `v <= 0` is false for NaN, which is passed through.
        Activation::Relu => map(x, move |v| if v <= zero { zero } else { v }),
        Activation::LeakyRelu { negative_slope } => {
            let s = T::c(negative_slope);
            map(x, move |v| if v > zero { v } else { v * s })
        }
        Activation::Sigmoid => map(x, sigmoid),
        Activation::Tanh => map(x, tanh),
        Activation::Gelu {
            approximate: GeluApprox::None,
        } => map(x, move |v| v * normal_cdf(v)),
        Activation::Gelu {
            approximate: GeluApprox::Tanh,
        } => map(x, move |v| v * gelu_tanh_parts(v).0),
        Activation::Elu { alpha } => {
            let a = T::c(alpha);
            map(x, move |v| {
                // Computed for every v (the positive side is discarded) so the loop has no
                // branches.
                let neg = a * expm1_nonpos(v);
                if v > zero {
                    v
                } else {
                    neg
                }
            })
        }
        Activation::Silu => map(x, move |v| v * sigmoid(v)),
        Activation::Softplus { beta, threshold } => {
            let (b, th) = (T::c(beta), T::c(threshold));
            map(x, move |v| {
                let bv = v * b;
                if bv > th {
                    v
                } else {
                    log1p_exp(bv) / b
                }
            })
        }
    }
}

/// `out[i] = f(g[i], x[i])` after checking the lengths agree.
fn zip_grad<T: Real, F: Fn(T, T) -> T + Sync>(
    func: &str,
    g: &[T],
    x: &[T],
    f: F,
) -> Result<Vec<T>> {
    if g.len() != x.len() {
        return shape_err!(
            "{func}: grad_output has {} elements but input has {}",
            g.len(),
            x.len()
        );
    }
    let mut out = buf::zeros(x.len())?;
    let body = |o: &mut [T], g: &[T], x: &[T]| {
        for ((o, &g), &x) in o.iter_mut().zip(g).zip(x) {
            *o = f(g, x);
        }
    };
    for_each_chunk(&mut out, |s, o| {
        body(o, &g[s..s + o.len()], &x[s..s + o.len()])
    });
    Ok(out)
}

/// Gradient of an activation: `grad_output * f'(x)`, elementwise.
pub fn backward<T: Real>(act: Activation, g: &[T], x: &[T]) -> Result<Vec<T>> {
    let func = match act {
        Activation::Relu => "relu_backward",
        Activation::LeakyRelu { .. } => "leaky_relu_backward",
        Activation::Sigmoid => "sigmoid_backward",
        Activation::Tanh => "tanh_backward",
        Activation::Gelu { .. } => "gelu_backward",
        Activation::Elu { .. } => "elu_backward",
        Activation::Silu => "silu_backward",
        Activation::Softplus { .. } => "softplus_backward",
    };
    act.validate(func)?;
    let (zero, one) = (T::zero(), T::one());
    match act {
        // Selects of computed values (so the loops vectorise), not products: an infinite
        // grad_output meets relu's zero slope as 0.
        Activation::Relu => zip_grad(func, g, x, move |g, v| {
            let r = if v > zero { g } else { zero };
            if v.is_nan() {
                v
            } else {
                r
            }
        }),
        Activation::LeakyRelu { negative_slope } => {
            let s = T::c(negative_slope);
            zip_grad(func, g, x, move |g, v| {
                let r = if v > zero { g } else { g * s };
                if v.is_nan() {
                    v
                } else {
                    r
                }
            })
        }
        Activation::Sigmoid => zip_grad(func, g, x, move |g, v| {
            let (s, sm) = sigmoid_pair(v);
            g * s * sm
        }),
        Activation::Tanh => zip_grad(func, g, x, move |g, v| {
            // 1 - tanh^2 = sech^2 = 4e / (1 + e)^2 with e = exp(-2|x|): accurate relative to
            // the result even where tanh rounds to +-1.
            let e = (T::c(-2.0) * v.abs()).exp();
            let d = one + e;
            g * (T::c(4.0) * e / (d * d))
        }),
        Activation::Gelu {
            approximate: GeluApprox::None,
        } => zip_grad(func, g, x, move |g, v| {
            // d/dx x Phi(x) = Phi(x) + x phi(x); x phi(x) is 0, not NaN, once phi underflows.
            let pdf = normal_pdf(v);
            let tail = if pdf == zero { zero } else { v * pdf };
            g * (normal_cdf(v) + tail)
        }),
        Activation::Gelu {
            approximate: GeluApprox::Tanh,
        } => zip_grad(func, g, x, move |g, v| {
            // d/dx x s(2u) = s(2u) + x * 2 s(2u) s(-2u) u'(x).
            let (s, sm, du) = gelu_tanh_parts(v);
            let w = s * sm;
            let tail = if w == zero {
                zero
            } else {
                T::c(2.0) * w * v * du
            };
            g * (s + tail)
        }),
        Activation::Elu { alpha } => {
            let a = T::c(alpha);
            zip_grad(func, g, x, move |g, v| {
                // Computed for every v and discarded where v > 0, so the loop has no branches.
                let e = v.exp();
                if v > zero {
                    g
                } else {
                    g * a * e
                }
            })
        }
        Activation::Silu => zip_grad(func, g, x, move |g, v| {
            // d/dx x s(x) = s(x) (1 + x s(-x)).
            let (s, sm) = sigmoid_pair(v);
            let tail = if sm == zero { zero } else { v * sm };
            g * s * (one + tail)
        }),
        Activation::Softplus { beta, threshold } => {
            let (b, th) = (T::c(beta), T::c(threshold));
            zip_grad(func, g, x, move |g, v| {
                let bv = v * b;
                if bv > th {
                    g
                } else {
                    g * sigmoid(bv)
                }
            })
        }
    }
}

/// Gradient of softmax (or log-softmax when `log`) along `axis`, given the input `x` rather
/// than the output: recomputes the output, then applies the backward rule.
pub fn softmax_backward_input<T: Real>(
    g: &[T],
    x: &[T],
    shape: &[usize],
    axis: isize,
    log: bool,
) -> Result<Vec<T>> {
    let func = if log {
        "log_softmax_backward"
    } else {
        "softmax_backward"
    };
    if g.len() != x.len() {
        return shape_err!(
            "{func}: grad_output has {} elements but input has {}",
            g.len(),
            x.len()
        );
    }
    let y = if log {
        log_softmax(x, shape, axis)?
    } else {
        softmax(x, shape, axis)?
    };
    softmax_backward(g, &y, shape, axis, log)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Activation; 10] = [
        Activation::Relu,
        Activation::LeakyRelu {
            negative_slope: 0.01,
        },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Gelu {
            approximate: GeluApprox::None,
        },
        Activation::Gelu {
            approximate: GeluApprox::Tanh,
        },
        Activation::Elu { alpha: 1.0 },
        Activation::Silu,
        Activation::Softplus {
            beta: 1.0,
            threshold: 20.0,
        },
        Activation::Softplus {
            beta: 2.0,
            threshold: 1e9,
        },
    ];

    #[test]
    fn erfc_matches_known_values() {
        // erf(0.5), erfc(1), erfc(3), erfc(10) to 17 digits.
        let cases = [
            (0.5, 1.0 - 0.520_499_877_813_046_5),
            (1.0, 0.157_299_207_050_285_13),
            (3.0, 2.209_049_699_858_544e-5),
            (10.0, 2.088_487_583_762_545e-45),
        ];
        for (z, want) in cases {
            let got = erfc(z);
            assert!(
                ((got - want) / want).abs() < 1e-14,
                "erfc({z}) = {got}, want {want}"
            );
            let neg = erfc(-z);
            assert!((neg - (2.0 - want)).abs() < 1e-15);
        }
        assert!(erfc(f64::NAN).is_nan());
        assert_eq!(erfc(f64::INFINITY), 0.0);
        assert_eq!(erfc(f64::NEG_INFINITY), 2.0);
    }

    #[test]
    fn kinks_follow_pytorch() {
        let x = [0.0f64];
        let g = [1.0f64];
        let d = |a| backward(a, &g, &x).unwrap()[0];
        assert_eq!(d(Activation::Relu), 0.0);
        assert_eq!(
            d(Activation::LeakyRelu {
                negative_slope: 0.2
            }),
            0.2
        );
        assert_eq!(d(Activation::Elu { alpha: 1.5 }), 1.5);
        assert_eq!(d(Activation::Sigmoid), 0.25);
        assert_eq!(
            d(Activation::Gelu {
                approximate: GeluApprox::None
            }),
            0.5
        );
    }

    #[test]
    fn extreme_inputs_are_finite_and_nan_propagates() {
        let x = [-1e4f32, -50.0, 0.0, 50.0, 1e4];
        let g = [1.0f32; 5];
        for a in ALL {
            let y = forward(a, &x).unwrap();
            let d = backward(a, &g, &x).unwrap();
            assert!(y.iter().all(|v| v.is_finite()), "{a:?} forward {y:?}");
            assert!(d.iter().all(|v| v.is_finite()), "{a:?} backward {d:?}");
            assert!(forward(a, &[f32::NAN]).unwrap()[0].is_nan(), "{a:?}");
            assert!(
                backward(a, &[1.0], &[f32::NAN]).unwrap()[0].is_nan(),
                "{a:?}"
            );
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let sp = Activation::Softplus {
            beta: 0.0,
            threshold: 20.0,
        };
        assert!(forward(sp, &[1.0f64]).is_err());
        assert!(backward(Activation::Relu, &[1.0f64], &[1.0, 2.0]).is_err());
        assert!(GeluApprox::parse("gelu", "erf").is_err());
        assert!(softmax_backward_input(&[1.0f64], &[1.0, 2.0], &[2], -1, false).is_err());
    }

    #[test]
    fn softmax_gradient_from_input_sums_to_zero() {
        let x = [0.5f64, -1.0, 2.0];
        let g = [1.0f64, 2.0, 3.0];
        let d = softmax_backward_input(&g, &x, &[3], -1, false).unwrap();
        assert!(d.iter().sum::<f64>().abs() < 1e-15);
    }
}

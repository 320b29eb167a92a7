//! Bindings of the gradient utilities: global norms, in-place scaling and clamping.

use super::*;

/// The `norm_type`-norm of all elements of all `arrays` taken as one vector (`inf`: the
/// largest absolute value), computed in float64. Arrays may mix float32 and float64.
#[pyfunction]
pub fn total_norm<'py>(py: Python<'py>, arrays: Vec<Obj<'py>>, norm_type: f64) -> BindResult<f64> {
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(value_error(format!(
            "total_norm: norm_type must be positive or inf, got {norm_type}"
        )));
    }
    let (a32, a64) = by_float("total_norm", &arrays)?;
    if norm_type == f64::INFINITY {
        let m32 = reduce::<f32>(py, &a32, |r| optim::total_norm(r, f64::INFINITY))?;
        let m64 = reduce::<f64>(py, &a64, |r| optim::total_norm(r, f64::INFINITY))?;
        return Ok(if m32.is_nan() || m64.is_nan() {
            f64::NAN
        } else {
            m32.max(m64)
        });
    }
    let s32 = reduce::<f32>(py, &a32, |r| Ok(optim::power_sum(r, norm_type)))?;
    let s64 = reduce::<f64>(py, &a64, |r| Ok(optim::power_sum(r, norm_type)))?;
    let s = s32 + s64;
    Ok(if norm_type == 1.0 {
        s
    } else if norm_type == 2.0 {
        s.sqrt()
    } else {
        s.powf(1.0 / norm_type)
    })
}

fn inplace<'py, T: Element + Real>(
    py: Python<'py>,
    func: &str,
    want: Float,
    arrays: &[&Obj<'py>],
    f: impl FnOnce(Vec<&mut [T]>) -> ferrograd_core::Result<()> + Send,
) -> BindResult<()> {
    let objs: Vec<Obj<'py>> = arrays.iter().map(|a| (*a).clone()).collect();
    let mut guards = borrow_mut_list::<T>(func, "arrays", &objs, None, want)?;
    let slices = slices_mut(func, "arrays", &mut guards)?;
    run(py, || f(slices))
}

/// Multiplies every element of every array by `factor`, in place (float32 and float64 arrays,
/// writeable, C-contiguous, each given once).
#[pyfunction]
pub fn scale_inplace<'py>(py: Python<'py>, arrays: Vec<Obj<'py>>, factor: f64) -> BindResult<()> {
    let func = "scale_inplace";
    let (a32, a64) = by_float(func, &arrays)?;
    inplace::<f32>(py, func, Float::F32, &a32, |s| {
        optim::scale_inplace(s, factor);
        Ok(())
    })?;
    inplace::<f64>(py, func, Float::F64, &a64, |s| {
        optim::scale_inplace(s, factor);
        Ok(())
    })
}

/// Clamps every element of every array to `[min, max]` in place (NaN stays NaN).
#[pyfunction]
#[pyo3(name = "clamp_inplace", signature = (arrays, min, max))]
pub fn clamp_inplace_py<'py>(
    py: Python<'py>,
    arrays: Vec<Obj<'py>>,
    min: f64,
    max: f64,
) -> BindResult<()> {
    let func = "clamp_inplace";
    if min.is_nan() || max.is_nan() || min > max {
        return Err(value_error(format!(
            "{func}: need min <= max, got min={min}, max={max}"
        )));
    }
    let (a32, a64) = by_float(func, &arrays)?;
    inplace::<f32>(py, func, Float::F32, &a32, |s| {
        optim::clamp_inplace(s, min, max)
    })?;
    inplace::<f64>(py, func, Float::F64, &a64, |s| {
        optim::clamp_inplace(s, min, max)
    })
}

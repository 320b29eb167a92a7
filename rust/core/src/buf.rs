//! The one way the kernels get memory whose size follows their input: fallibly.
//!
//! `vec![x; n]`, `to_vec` and `collect` abort the whole process when the allocator cannot
//! meet a request (a huge broadcast view handed in from NumPy is enough). Every buffer whose
//! length comes from the input is made here instead, and a request that cannot be met is an
//! [`Error::Memory`], which the bindings raise as Python's `MemoryError`.
//!
//! ```
//! use ferrograd_core::{buf, Error};
//! assert_eq!(buf::zeros::<f32>(3).unwrap(), vec![0.0; 3]);
//! assert!(matches!(buf::zeros::<f64>(usize::MAX / 4), Err(Error::Memory(_))));
//! ```

use crate::error::{Error, Result};
use std::alloc::Layout;

/// Element types whose all-zero bit pattern is the value zero.
///
/// # Safety
/// Implement only for types for which every byte being 0 is a valid value that means zero.
pub unsafe trait Zeroable: Copy {}

// SAFETY: all-zero bits are +0.0 for IEEE floats and 0 for integers.
unsafe impl Zeroable for f32 {}
// SAFETY: as above.
unsafe impl Zeroable for f64 {}
// SAFETY: as above.
unsafe impl Zeroable for i64 {}
// SAFETY: as above.
unsafe impl Zeroable for usize {}

/// The error for `n` elements of `T` that could not be allocated.
pub fn no_room<T>(n: usize) -> Error {
    let bytes = n as u128 * std::mem::size_of::<T>() as u128;
    let gib = bytes as f64 / (1u64 << 30) as f64;
    Error::Memory(format!(
        "cannot allocate {n} elements of {} bytes ({gib:.1} GiB)",
        std::mem::size_of::<T>()
    ))
}

/// An empty vector with room for `n` elements.
pub fn with_capacity<T>(n: usize) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| no_room::<T>(n))?;
    Ok(v)
}

/// `n` copies of `value`.
pub fn filled<T: Clone>(n: usize, value: T) -> Result<Vec<T>> {
    let mut v = with_capacity(n)?;
    v.resize(n, value);
    Ok(v)
}

/// `n` zeros, in memory the OS clears lazily (as `vec![0.0; n]` gets it).
pub fn zeros<T: Zeroable>(n: usize) -> Result<Vec<T>> {
    let size = std::mem::size_of::<T>();
    if n == 0 || size == 0 {
        return filled(n, zero_value::<T>());
    }
    let layout = Layout::array::<T>(n).map_err(|_| no_room::<T>(n))?;
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<T>();
    if ptr.is_null() {
        return Err(no_room::<T>(n));
    }
    // SAFETY: `ptr` comes from the global allocator with the layout of a `Vec<T>` of capacity
    // `n`, and its `n` elements are zeroed, a valid value of `T` (`Zeroable`).
    Ok(unsafe { Vec::from_raw_parts(ptr, n, n) })
}

fn zero_value<T: Zeroable>() -> T {
    // SAFETY: `Zeroable` promises that all-zero bytes are a valid `T`.
    unsafe { std::mem::zeroed() }
}

/// A copy of `x`.
pub fn copied<T: Copy>(x: &[T]) -> Result<Vec<T>> {
    let mut v = with_capacity(x.len())?;
    v.extend_from_slice(x);
    Ok(v)
}

/// The first `n` items of `items` (fewer if it ends sooner), with room for `n` reserved
/// first.
pub fn collect<T>(n: usize, items: impl IntoIterator<Item = T>) -> Result<Vec<T>> {
    let mut v = with_capacity(n)?;
    v.extend(items.into_iter().take(n));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_that_cannot_be_met_are_errors_not_aborts() {
        for n in [usize::MAX, usize::MAX / 8, 1 << 60] {
            assert!(matches!(zeros::<f32>(n), Err(Error::Memory(_))));
            assert!(matches!(filled(n, 1.0f64), Err(Error::Memory(_))));
            assert!(matches!(with_capacity::<u8>(n), Err(Error::Memory(_))));
        }
        assert!(matches!(
            collect::<f64>(1 << 60, std::iter::empty()),
            Err(Error::Memory(_))
        ));
        let msg = no_room::<f32>(1 << 40).to_string();
        assert!(
            msg.contains("1099511627776 elements of 4 bytes (4096.0 GiB)"),
            "{msg}"
        );
    }

    #[test]
    fn buffers_hold_what_was_asked() {
        assert_eq!(zeros::<f64>(5).unwrap(), vec![0.0; 5]);
        assert_eq!(zeros::<i64>(0).unwrap(), Vec::<i64>::new());
        assert_eq!(filled(3, 7u8).unwrap(), vec![7, 7, 7]);
        assert_eq!(copied(&[1.5f32, 2.5]).unwrap(), vec![1.5, 2.5]);
        assert_eq!(collect(2, [1, 2, 3]).unwrap(), vec![1, 2]);
        let big = zeros::<f32>(1 << 22).unwrap();
        assert!(big.iter().all(|&v| v == 0.0 && v.is_sign_positive()));
    }
}

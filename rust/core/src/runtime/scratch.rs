//! Reusable per-thread work buffers, so kernels called over and over (the convolutions of a
//! training step) neither clear nor fault in fresh memory on every call.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Buffers kept for reuse on one thread, per element type (a supertrait of
/// [`Real`](crate::real::Real)).
pub trait Scratch: Copy + Default + 'static {
    /// This thread's spare buffers of `Self`.
    fn spares() -> &'static LocalKey<RefCell<Vec<Vec<Self>>>>;
}

thread_local! {
    static F32: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
    static F64: RefCell<Vec<Vec<f64>>> = const { RefCell::new(Vec::new()) };
}

impl Scratch for f32 {
    fn spares() -> &'static LocalKey<RefCell<Vec<Vec<f32>>>> {
        &F32
    }
}

impl Scratch for f64 {
    fn spares() -> &'static LocalKey<RefCell<Vec<Vec<f64>>>> {
        &F64
    }
}

/// Buffers larger than this (in elements) are freed after use rather than kept.
const KEEP_MAX: usize = 1 << 22;

/// At most this many spare buffers of each type are kept per thread.
const KEEP_COUNT: usize = 4;

/// Calls `f` with a buffer of `len` elements whose contents are left over from earlier use
/// (zeros when new): `f` must write every element it reads. Calls may nest.
///
/// # Examples
/// ```
/// use ferrograd_core::runtime::scratch::with_scratch;
/// let total = with_scratch::<f64, _>(4, |buf| {
///     buf.fill(1.5);
///     buf.iter().sum::<f64>()
/// });
/// assert_eq!(total, 6.0);
/// ```
pub fn with_scratch<T: Scratch, R>(len: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
    let mut buf = take_scratch(len);
    let out = f(&mut buf[..len]);
    give_back(buf);
    out
}

/// A buffer of at least `len` elements (contents left over from earlier use, zeros when new)
/// for code that cannot run inside a closure; hand it back with [`give_back`].
///
/// Kernels compiled for extra CPU features use this: a closure passed to [`with_scratch`] is
/// compiled without them.
pub fn take_scratch<T: Scratch>(len: usize) -> Vec<T> {
    let mut buf = T::spares()
        .with(|s| s.borrow_mut().pop())
        .unwrap_or_default();
    if buf.len() < len {
        buf.resize(len, T::default());
    }
    buf
}

/// Keeps `buf` for a later [`take_scratch`] on this thread, unless it is too large or
/// enough are kept already.
pub fn give_back<T: Scratch>(buf: Vec<T>) {
    if buf.len() <= KEEP_MAX {
        T::spares().with(|s| {
            let mut spares = s.borrow_mut();
            if spares.len() < KEEP_COUNT {
                spares.push(buf);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_calls_get_separate_buffers() {
        with_scratch::<f32, _>(3, |a| {
            a.fill(1.0);
            with_scratch::<f32, _>(3, |b| {
                b.fill(2.0);
            });
            assert_eq!(a, &[1.0; 3]);
        });
    }

    #[test]
    fn a_buffer_grows_when_asked_for_more() {
        with_scratch::<f64, _>(2, |a| a.fill(1.0));
        with_scratch::<f64, _>(5, |a| assert_eq!(a.len(), 5));
    }
}

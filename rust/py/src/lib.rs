//! `ferrograd._core`: the Python extension module. Each binding borrows its arrays, checks
//! dtype and shape, releases the GIL and calls a kernel of `ferrograd-core`.

use pyo3::prelude::*;

mod args;
mod arrays;
mod conv;
mod errors;
mod functional;
mod norm;
mod ops;
mod optim;
mod rnn;
mod step;

/// Large freed blocks (results of a step, gradients) are kept for the next step of the same
/// sizes instead of being faulted in fresh from the OS each time.
#[global_allocator]
static ALLOC: ferrograd_core::runtime::reuse::ReusingAlloc =
    ferrograd_core::runtime::reuse::ReusingAlloc;

/// Number of threads the kernels use (`FERROGRAD_NUM_THREADS`, by default one per core).
#[pyfunction]
fn num_threads() -> usize {
    ferrograd_core::runtime::team::threads()
}

/// Whether the kernel threads have been started; their number is fixed from then on.
#[pyfunction]
fn threads_started() -> bool {
    ferrograd_core::runtime::team::started()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(threads_started, m)?)?;
    ops::register(m)?;
    functional::register(m)?;
    conv::register(m)?;
    norm::register(m)?;
    optim::register(m)?;
    rnn::register(m)?;
    step::register(m)?;
    Ok(())
}

//! `ferrograd._core`: the Python extension module. Each binding borrows its arrays, checks
//! dtype and shape, releases the GIL and calls a kernel of `ferrograd-core`.

use pyo3::prelude::*;

mod arrays;
mod conv;
mod errors;
mod functional;
mod norm;
mod ops;
mod optim;
mod rnn;
mod step;

/// Sizes the rayon pool from `FERROGRAD_NUM_THREADS` (default: every core).
fn init_threads() {
    let n = std::env::var("FERROGRAD_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(0);
    let n = if n == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        n
    };
    let builder = rayon::ThreadPoolBuilder::new().num_threads(n);
    // The importing thread joins the pool as worker 0, so a kernel it calls runs its share of
    // the work itself instead of handing all of it to the pool and sleeping until it is done.
    // With one thread there would be no other worker to run jobs from other threads.
    let builder = if n > 1 {
        builder.use_current_thread()
    } else {
        builder
    };
    // Fails only if the pool already exists, which is harmless.
    let _ = builder.build_global();
}

/// Number of threads the kernels use.
#[pyfunction]
fn num_threads() -> usize {
    rayon::current_num_threads()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_threads();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(num_threads, m)?)?;
    ops::register(m)?;
    functional::register(m)?;
    conv::register(m)?;
    norm::register(m)?;
    optim::register(m)?;
    rnn::register(m)?;
    step::register(m)?;
    Ok(())
}

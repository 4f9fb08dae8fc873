//! The native half of the `eryx` Python package: a thin PyO3 layer over [`eryx_rt::Sandbox`].
//!
//! Policy lives in Python (`python/eryx/`: the `Sandbox` class users see, callback schemas and
//! dispatch, asyncio); this crate only moves values across and keeps the rules that need Rust:
//!
//! * the GIL is released while a sandbox is built or runs code, so other Python threads (and
//!   other sandboxes) go on meanwhile (`sandbox`);
//! * a sandbox runs one execution at a time: a second thread gets `eryx.BusyError` at once
//!   instead of waiting behind (or corrupting) the first (`sandbox`);
//! * a blocking execute checks for signals while it waits, so Ctrl-C cancels the guest
//!   (`blocking`); `execute_async` runs on the Rust core's async path (`sandbox`);
//! * Python callables become host callbacks over JSON (`callbacks`);
//! * every failure becomes the matching exception of `eryx.errors`, carrying what was printed
//!   (`errors`).
//!
//! Modules: `sandbox` uses `callbacks`, `blocking` and `errors`; those three are leaves.

mod blocking;
mod callbacks;
mod errors;
mod sandbox;

use pyo3::prelude::*;

/// The native module `eryx._eryx`.
#[pymodule]
fn _eryx(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<sandbox::NativeSandbox>()?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

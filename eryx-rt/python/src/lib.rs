//! The native half of the `eryx` Python package: a thin PyO3 layer over [`eryx_rt::Sandbox`].
//!
//! Policy lives in Python (`python/eryx/__init__.py`: the `Sandbox` class users see, callbacks,
//! asyncio); this module only moves values across and keeps the rules that need Rust:
//!
//! * the GIL is released while a sandbox is built or runs code, so other Python threads (and
//!   other sandboxes) go on meanwhile;
//! * a sandbox runs one execution at a time: a second thread gets `eryx.BusyError` at once
//!   instead of waiting behind (or corrupting) the first;
//! * every failure becomes the matching exception of `eryx.errors`, carrying what was printed.

use std::path::PathBuf;
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use eryx_rt::{ExecuteError, Failure, Output, Sandbox};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// One sandbox; Python's `eryx.Sandbox` wraps it.
#[pyclass(module = "eryx._eryx", name = "NativeSandbox")]
struct NativeSandbox {
    sandbox: Mutex<Sandbox>,
}

/// What `execute` hands back to Python: `(stdout, stderr, duration_seconds, truncated)`.
type Outcome = (String, String, f64, bool);

#[pymethods]
impl NativeSandbox {
    #[new]
    #[pyo3(signature = (*, timeout=None, memory_limit=None, fuel=None, output_limit=None, wheels=Vec::new(), preinit=None))]
    fn new(
        py: Python<'_>,
        timeout: Option<f64>,
        memory_limit: Option<usize>,
        fuel: Option<u64>,
        output_limit: Option<usize>,
        wheels: Vec<PathBuf>,
        preinit: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let mut builder = Sandbox::builder();
        if let Some(seconds) = timeout {
            let timeout = Duration::try_from_secs_f64(seconds).ok().filter(|t| !t.is_zero()).ok_or_else(|| {
                PyValueError::new_err(format!("timeout must be a positive number of seconds, not {seconds}"))
            })?;
            builder = builder.timeout(timeout);
        }
        if let Some(bytes) = memory_limit {
            builder = builder.memory_limit(bytes);
        }
        if let Some(fuel) = fuel {
            builder = builder.fuel(fuel);
        }
        if let Some(bytes) = output_limit {
            builder = builder.output_limit(bytes);
        }
        for wheel in wheels {
            builder = builder.with_wheel(wheel);
        }
        if let Some(modules) = preinit {
            builder = builder.with_preinit_imports(modules);
        }
        let built = py.detach(|| builder.build());
        match built {
            Ok(sandbox) => Ok(NativeSandbox { sandbox: Mutex::new(sandbox) }),
            Err(error) => Err(new_error(py, "SandboxError", (format!("cannot create the sandbox: {error}"),))?),
        }
    }

    /// Runs `code` in the sandbox; returns `(stdout, stderr, seconds, truncated)` or raises.
    fn execute(&self, py: Python<'_>, code: &str) -> PyResult<Outcome> {
        let result = py.detach(|| {
            let mut sandbox = match self.sandbox.try_lock() {
                Ok(guard) => guard,
                Err(TryLockError::WouldBlock) => return Err(Busy),
                // A panic while running cannot leave the sandbox half-updated for Python to see:
                // eryx-rt marks a sandbox stopped before it reports a failure.
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            };
            Ok(sandbox.execute(code))
        });
        match result {
            Err(Busy) => Err(new_error(
                py,
                "BusyError",
                ("this sandbox is running code for another thread; use one sandbox per thread",),
            )?),
            Ok(Ok(output)) => Ok(outcome(&output)),
            Ok(Err(error)) => Err(execute_error(py, &error)?),
        }
    }
}

/// Marks a sandbox that another thread is using.
struct Busy;

fn outcome(output: &Output) -> Outcome {
    (output.stdout.clone(), output.stderr.clone(), output.duration.as_secs_f64(), output.truncated)
}

/// Builds the `eryx.errors` exception that matches a failed execution.
fn execute_error(py: Python<'_>, error: &ExecuteError) -> PyResult<PyErr> {
    let (stdout, stderr) = (error.output.stdout.clone(), error.output.stderr.clone());
    let (class, message) = match &error.failure {
        Failure::Python(exception) => {
            let args = (&exception.type_name, &exception.message, &exception.traceback, stdout, stderr);
            return new_error(py, "PythonError", args);
        }
        Failure::Timeout(_) => ("TimeoutError", error.failure.to_string()),
        Failure::MemoryLimit { .. } => ("MemoryLimitError", error.failure.to_string()),
        Failure::FuelExhausted(_) => ("FuelExhaustedError", error.failure.to_string()),
        Failure::Trap(_) => ("TrapError", error.failure.to_string()),
        Failure::Stopped(_) => ("StoppedError", error.failure.to_string()),
        _ => ("Error", error.failure.to_string()),
    };
    new_error(py, class, (message, stdout, stderr))
}

/// Instantiates `eryx.errors.<class>(*args)` as an error to raise.
fn new_error<'py, A: pyo3::call::PyCallArgs<'py>>(py: Python<'py>, class: &str, args: A) -> PyResult<PyErr> {
    let class = py.import("eryx.errors")?.getattr(class)?;
    Ok(PyErr::from_value(class.call1(args)?))
}

/// The native module `eryx._eryx`.
#[pymodule]
fn _eryx(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeSandbox>()?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

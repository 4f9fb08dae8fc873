//! Failures of the Rust core as the exceptions of `eryx.errors` (defined in Python, so users
//! can subclass and pickle them like any exception), each carrying what the guest printed.

use eryx_rt::{ExecuteError, Failure, FilesError};
use pyo3::prelude::*;

/// Instantiates `eryx.errors.<class>(*args)` as an error to raise.
pub(crate) fn new_error<'py, A: pyo3::call::PyCallArgs<'py>>(py: Python<'py>, class: &str, args: A) -> PyErr {
    match py.import("eryx.errors").and_then(|module| module.getattr(class)).and_then(|class| class.call1(args)) {
        Ok(error) => PyErr::from_value(error),
        Err(error) => error,
    }
}

/// The `eryx.errors` exception that matches a failed execution.
pub(crate) fn execute_error(py: Python<'_>, error: &ExecuteError) -> PyErr {
    let (stdout, stderr) = (error.output.stdout.clone(), error.output.stderr.clone());
    let (class, message) = match &error.failure {
        Failure::Python(exception) => {
            let args = (&exception.type_name, &exception.message, &exception.traceback, stdout, stderr);
            return new_error(py, "PythonError", args);
        }
        Failure::SystemExit(code) => return new_error(py, "SystemExitError", (*code, stdout, stderr)),
        Failure::Timeout(_) => ("TimeoutError", error.failure.to_string()),
        Failure::MemoryLimit { .. } => ("MemoryLimitError", error.failure.to_string()),
        Failure::FuelExhausted(_) => ("FuelExhaustedError", error.failure.to_string()),
        Failure::Trap(_) => ("TrapError", error.failure.to_string()),
        Failure::Stopped(_) => ("StoppedError", error.failure.to_string()),
        Failure::Cancelled => ("CancelledError", error.failure.to_string()),
        _ => ("Error", error.failure.to_string()),
    };
    new_error(py, class, (message, stdout, stderr))
}

/// `eryx.BusyError`: another thread (or task) is running code in this sandbox.
pub(crate) fn busy(py: Python<'_>) -> PyErr {
    new_error(
        py,
        "BusyError",
        ("this sandbox is running code for another thread or task; use one sandbox per thread, or wait for it",),
    )
}

/// `eryx.FilesError` for a failed file operation; `FileNotFoundError` semantics are kept in
/// `kind` ("not-found", "is-a-folder", "not-a-folder", "no-space", "invalid-path", "dropped").
pub(crate) fn files_error(py: Python<'_>, error: &FilesError) -> PyErr {
    let kind = match error {
        FilesError::NotFound { .. } => "not-found",
        FilesError::IsAFolder { .. } => "is-a-folder",
        FilesError::NotAFolder { .. } => "not-a-folder",
        FilesError::NoSpace { .. } => "no-space",
        FilesError::InvalidPath { .. } => "invalid-path",
        FilesError::SandboxDropped => "dropped",
        _ => "other",
    };
    new_error(py, "FilesError", (error.to_string(), kind))
}

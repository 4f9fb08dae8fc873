//! `NativeSandbox`: one [`eryx_rt::Sandbox`] behind a slot that an execute checks it out of.
//!
//! The slot is empty while an execute runs, so a second caller gets `eryx.BusyError` at once
//! (never a wait, a deadlock or two threads in one wasmtime store); the sandbox goes back when
//! the execute ends, however it ends. The cancel handle and the file handle are kept outside
//! the slot, so both work while an execute runs.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eryx_rt::{CallbackLimits, CancelHandle, ExecuteError, FileKind, Files, Output, Sandbox, Stream};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::Value;

use crate::blocking::run_detached;
use crate::callbacks::{Dispatch, LoopSlot, python_callback};
use crate::errors::{busy, execute_error, files_error, new_error};

/// One sandbox; Python's `eryx.Sandbox` wraps it.
#[pyclass(module = "eryx._eryx", name = "NativeSandbox", frozen)]
pub(crate) struct NativeSandbox {
    slot: Arc<Mutex<Option<Sandbox>>>,
    cancel: CancelHandle,
    files: Files,
    event_loop: LoopSlot,
}

/// How long one callback call may take unless `callback_timeout` says otherwise (the core's default).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What `execute` hands back to Python: `(stdout, stderr, duration_seconds, truncated)`.
type Outcome = (String, String, f64, bool);

/// A host callback as Python describes it: `(name, description, schema as JSON text, callable)`.
type CallbackSpec = (String, String, String, Py<PyAny>);

/// A mount as Python passes it: `(host folder, guest path, writable)`.
type MountSpec = (PathBuf, String, bool);

#[pymethods]
impl NativeSandbox {
    #[new]
    #[pyo3(signature = (
        *, timeout=None, memory_limit=None, fuel=None, output_limit=None, wheels=Vec::new(), preinit=None,
        callbacks=Vec::new(), dispatch=None, callback_timeout=None, output_handler=None, mounts=Vec::new(),
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        timeout: Option<f64>,
        memory_limit: Option<usize>,
        fuel: Option<u64>,
        output_limit: Option<usize>,
        wheels: Vec<PathBuf>,
        preinit: Option<Vec<String>>,
        callbacks: Vec<CallbackSpec>,
        dispatch: Option<Py<PyAny>>,
        callback_timeout: Option<f64>,
        output_handler: Option<Py<PyAny>>,
        mounts: Vec<MountSpec>,
    ) -> PyResult<Self> {
        let mut builder = Sandbox::builder();
        if let Some(seconds) = timeout {
            builder = builder.timeout(seconds_arg("timeout", seconds)?);
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
        let call_timeout = match callback_timeout {
            Some(seconds) => seconds_arg("callback_timeout", seconds)?,
            None => CALL_TIMEOUT,
        };
        builder = builder.callback_limits(CallbackLimits::default().call_timeout(call_timeout));
        let event_loop = LoopSlot::default();
        if !callbacks.is_empty() {
            let dispatch = dispatch.ok_or_else(|| PyValueError::new_err("callbacks need a dispatch function"))?;
            let dispatch = Dispatch { function: Arc::new(dispatch), event_loop: event_loop.clone(), call_timeout };
            for (name, description, schema, function) in callbacks {
                let schema: Value = serde_json::from_str(&schema)
                    .map_err(|e| PyValueError::new_err(format!("the schema of callback {name} is not JSON: {e}")))?;
                builder = builder.with_callback(python_callback(name, description, schema, function, dispatch.clone()));
            }
        }
        if let Some(handler) = output_handler {
            builder = builder.output_handler(move |stream, bytes| live_output(&handler, stream, bytes));
        }
        for (host, guest, writable) in mounts {
            builder = if writable { builder.mount_writable(host, guest) } else { builder.mount(host, guest) };
        }
        let sandbox = py
            .detach(|| builder.build())
            .map_err(|error| new_error(py, "SandboxError", (format!("cannot create the sandbox: {error}"),)))?;
        Ok(NativeSandbox {
            cancel: sandbox.cancel_handle(),
            files: sandbox.files(),
            slot: Arc::new(Mutex::new(Some(sandbox))),
            event_loop,
        })
    }

    /// Runs `code`, blocking this thread with the GIL released; async callbacks run on
    /// `event_loop` (None: the package's background loop). Ctrl-C cancels the guest and raises
    /// `KeyboardInterrupt`.
    #[pyo3(signature = (code, event_loop=None))]
    fn execute(&self, py: Python<'_>, code: &str, event_loop: Option<Py<PyAny>>) -> PyResult<Outcome> {
        let mut checkout = self.checkout(py)?;
        self.event_loop.set(event_loop);
        let (result, interrupted) = run_detached(py, &self.cancel, checkout.sandbox().execute_async(code));
        drop(checkout);
        if let Some(error) = interrupted {
            return Err(error);
        }
        outcome(py, result)
    }

    /// Runs `code` on the core's async path (a tokio runtime of the package) and returns an
    /// asyncio future of `event_loop`'s. Cancelling that future cancels the guest.
    fn execute_async<'py>(&self, py: Python<'py>, code: String, event_loop: Py<PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let mut checkout = self.checkout(py)?;
        self.event_loop.set(Some(event_loop));
        let cancel_on_drop = CancelOnDrop(Some(self.cancel.clone()));
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            // The execute runs as a task of its own: when asyncio cancels this future (and
            // drops it), the task is cancelled through the handle and ends cleanly.
            let task = tokio::spawn(async move {
                let result = checkout.sandbox().execute_async(&code).await;
                drop(checkout);
                result
            });
            let joined = task.await;
            let mut guard = cancel_on_drop;
            guard.0 = None;
            match joined {
                Ok(result) => Python::attach(|py| outcome(py, result)),
                Err(error) => Err(PyRuntimeError::new_err(format!("the execute's task failed: {error}"))),
            }
        })
    }

    /// Cancels the running execute, if any; returns whether one was running.
    fn cancel(&self) -> bool {
        self.cancel.cancel()
    }

    /// Writes `data` to `path` in the sandbox's scratch space (`/tmp`, `/home/sandbox`).
    fn write_file(&self, py: Python<'_>, path: &str, data: &[u8]) -> PyResult<()> {
        self.files.write(path, data).map_err(|e| files_error(py, &e))
    }

    /// The bytes of the file at `path`.
    fn read_file<'py>(&self, py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.files.read(path).map_err(|e| files_error(py, &e))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// `(name, kind, size)` of each entry of the folder at `path`, by name; kind is "file",
    /// "folder" or "symlink".
    fn list_files(&self, py: Python<'_>, path: &str) -> PyResult<Vec<(String, &'static str, u64)>> {
        let entries = self.files.list(path).map_err(|e| files_error(py, &e))?;
        Ok(entries
            .into_iter()
            .map(|entry| {
                let kind = match entry.kind {
                    FileKind::Folder => "folder",
                    FileKind::Symlink => "symlink",
                    _ => "file",
                };
                (entry.name, kind, entry.size)
            })
            .collect())
    }

    /// Removes the file, symlink or folder (with its content) at `path`.
    fn remove_file(&self, py: Python<'_>, path: &str) -> PyResult<()> {
        self.files.remove(path).map_err(|e| files_error(py, &e))
    }

    /// Creates the folder at `path` and the folders above it.
    fn make_dirs(&self, py: Python<'_>, path: &str) -> PyResult<()> {
        self.files.create_dir_all(path).map_err(|e| files_error(py, &e))
    }
}

impl NativeSandbox {
    /// Takes the sandbox out of its slot for one execute, or fails with `BusyError`.
    fn checkout(&self, py: Python<'_>) -> PyResult<Checkout> {
        let sandbox = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take().ok_or_else(|| busy(py))?;
        Ok(Checkout { slot: self.slot.clone(), sandbox: Some(sandbox) })
    }
}

/// A sandbox taken out of its slot; it goes back when this is dropped.
struct Checkout {
    slot: Arc<Mutex<Option<Sandbox>>>,
    sandbox: Option<Sandbox>,
}

impl Checkout {
    fn sandbox(&mut self) -> &mut Sandbox {
        self.sandbox.as_mut().expect("a checkout holds its sandbox until dropped")
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(sandbox);
        }
    }
}

/// Cancels the execute when dropped armed (its asyncio future was cancelled).
struct CancelOnDrop(Option<CancelHandle>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.cancel();
        }
    }
}

fn outcome(py: Python<'_>, result: Result<Output, ExecuteError>) -> PyResult<Outcome> {
    match result {
        Ok(output) => Ok((output.stdout, output.stderr, output.duration.as_secs_f64(), output.truncated)),
        Err(error) => Err(execute_error(py, &error)),
    }
}

/// A positive number of seconds, or a `ValueError` naming the argument.
fn seconds_arg(name: &str, seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| PyValueError::new_err(format!("{name} must be a positive number of seconds, not {seconds}")))
}

/// Hands a chunk of live output to the Python handler; what it raises is reported as
/// unraisable (it cannot reach the guest, and the execute goes on).
fn live_output(handler: &Py<PyAny>, stream: Stream, bytes: &[u8]) {
    Python::attach(|py| {
        let name = match stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        if let Err(error) = handler.call1(py, (name, PyBytes::new(py, bytes))) {
            error.write_unraisable(py, Some(handler.bind(py)));
        }
    });
}

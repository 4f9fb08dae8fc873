//! Python callables as host callbacks.
//!
//! Each callable becomes an [`eryx_rt::Callback`] over JSON: its name, description and
//! parameter schema come from Python (`eryx._callbacks.describe`, from the signature and the
//! docstring). A call from the guest hands the arguments, as JSON text, to
//! `eryx._callbacks.dispatch` on a blocking worker thread of tokio (so a slow or stuck callable
//! never stalls the guest's timers: the call and execute timeouts still end it). `dispatch`
//! calls the callable with the GIL held; when it returns an awaitable, the awaitable runs on
//! the execute's asyncio loop (the caller's loop for `execute_async`, a background loop of the
//! package for `execute`) and the worker waits for it. It answers JSON text, or raises with a
//! message the guest then sees as `eryx.CallbackError` (the callable raised, or returned a
//! value JSON cannot represent).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eryx_rt::{Callback, CallbackError};
use pyo3::prelude::*;
use serde_json::Value;

/// The asyncio loop the running execute's async callbacks run on (None: the package's own).
#[derive(Clone, Default)]
pub(crate) struct LoopSlot(Arc<Mutex<Option<Arc<Py<PyAny>>>>>);

impl LoopSlot {
    pub(crate) fn set(&self, event_loop: Option<Py<PyAny>>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = event_loop.map(Arc::new);
    }

    fn get(&self) -> Option<Arc<Py<PyAny>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What every callback of a sandbox shares: `eryx._callbacks.dispatch`, the execute's loop,
/// and the per-call timeout (an awaitable still running then is cancelled on its loop).
#[derive(Clone)]
pub(crate) struct Dispatch {
    pub(crate) function: Arc<Py<PyAny>>,
    pub(crate) event_loop: LoopSlot,
    pub(crate) call_timeout: Duration,
}

/// A callback named `name` that calls `function` through `dispatch`.
pub(crate) fn python_callback(
    name: String,
    description: String,
    schema: Value,
    function: Py<PyAny>,
    dispatch: Dispatch,
) -> Callback {
    let function = Arc::new(function);
    let callback_name = name.clone();
    Callback::new(name, description, schema, move |args: Value| {
        let (function, dispatch, name) = (function.clone(), dispatch.clone(), callback_name.clone());
        async move {
            let call = move || Python::attach(|py| call_python(py, &name, &function, &dispatch, &args));
            match tokio::task::spawn_blocking(call).await {
                Ok(result) => result,
                Err(error) => Err(CallbackError::new(format!("the callback's worker thread failed: {error}"))),
            }
        }
    })
}

fn call_python(
    py: Python<'_>,
    name: &str,
    function: &Py<PyAny>,
    dispatch: &Dispatch,
    args: &Value,
) -> Result<Value, CallbackError> {
    let event_loop = dispatch.event_loop.get().map_or_else(|| py.None(), |l| l.clone_ref(py));
    let timeout = dispatch.call_timeout.as_secs_f64();
    let answer = dispatch
        .function
        .bind(py)
        .call1((function.bind(py), name, args.to_string(), event_loop, timeout))
        .and_then(|answer| answer.extract::<String>());
    match answer {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| CallbackError::new(format!("callback {name} answered text that is not JSON: {e}"))),
        Err(error) => Err(CallbackError::new(message(py, &error))),
    }
}

/// The message of a raised exception: `str(exc)`, or its class name when that is empty.
fn message(py: Python<'_>, error: &PyErr) -> String {
    let value = error.value(py);
    match value.str() {
        Ok(text) if !text.to_string_lossy().is_empty() => text.to_string_lossy().into_owned(),
        _ => value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "an exception".into()),
    }
}

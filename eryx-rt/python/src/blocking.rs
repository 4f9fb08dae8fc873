//! Running the core's async calls from a blocking Python call: a current-thread tokio runtime
//! per thread (what the core's own blocking API does), raced against a watch for signals.
//!
//! Python handles signals (Ctrl-C's `SIGINT`) on the main thread, between bytecodes; a thread
//! blocked in native code never gets there. So while the guest runs, the waiting thread takes
//! the GIL every [`SIGNAL_CHECK`] to run pending signal handlers: when one raises
//! (`KeyboardInterrupt`), the execute is cancelled through its `CancelHandle`, awaited to its
//! (clean) end, and the handler's exception is raised instead of the result.

use std::future::Future;
use std::time::Duration;

use eryx_rt::CancelHandle;
use pyo3::prelude::*;

/// How often a waiting thread checks for signals (Ctrl-C is answered within this).
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Runs `future` to its end on this thread, with the GIL released. Returns its output and, when
/// a signal handler raised meanwhile, that exception (the future was then cancelled with
/// `cancel`, and its output says so).
pub(crate) fn run_detached<F>(py: Python<'_>, cancel: &CancelHandle, future: F) -> (F::Output, Option<PyErr>)
where
    F: Future + Send,
    F::Output: Send,
{
    py.detach(|| {
        eryx_rt::block_on(async {
            let future = std::pin::pin!(future);
            watched(future, cancel).await
        })
    })
}

async fn watched<F: Future + Unpin>(mut future: F, cancel: &CancelHandle) -> (F::Output, Option<PyErr>) {
    let interrupted: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);
    let slot = || interrupted.lock().unwrap_or_else(|e| e.into_inner());
    let watch = async {
        let mut ticks = tokio::time::interval(SIGNAL_CHECK);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let unseen = slot().is_none();
            if unseen && let Err(error) = Python::attach(|py| py.check_signals()) {
                *slot() = Some(error);
            }
            // A signal that came before the execute began (its sandbox still being made, on a
            // busy machine) cancels it as soon as it has begun: cancelling before is a no-op.
            if slot().is_some() && cancel.cancel() {
                return;
            }
        }
    };
    tokio::select! {
        biased;
        output = &mut future => return (output, slot().take()),
        () = watch => {}
    }
    let output = future.await;
    (output, slot().take())
}

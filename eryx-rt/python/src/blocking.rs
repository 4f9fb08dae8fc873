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
        off_runtime(|| {
            on_this_thread(async {
                let future = std::pin::pin!(future);
                watched(future, cancel).await
            })
        })
    })
}

async fn watched<F: Future + Unpin>(mut future: F, cancel: &CancelHandle) -> (F::Output, Option<PyErr>) {
    let watch = async {
        let mut ticks = tokio::time::interval(SIGNAL_CHECK);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = Python::attach(|py| py.check_signals()) {
                cancel.cancel();
                return error;
            }
        }
    };
    tokio::select! {
        biased;
        output = &mut future => (output, None),
        error = watch => (future.await, Some(error)),
    }
}

/// Runs `work` here, or on a short-lived thread when this thread is inside a tokio runtime
/// (a callback's worker thread calling another sandbox), where no runtime may be started.
fn off_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("eryx-python-blocking".into())
            .spawn_scoped(scope, work)
            .expect("can start a thread for a blocking eryx call");
        worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn on_this_thread<F: Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("eryx-python")
            .build()
            .expect("can create a current-thread tokio runtime");
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

//! Running one `execute` to its end, its deadline or its cancellation, and the blocking
//! wrapper that the synchronous API is built on.
//!
//! The guest runs inside wasmtime's async call future. The store yields at every epoch tick
//! ([`crate::engine`]), and every wait of the guest (a WASI sleep or poll, a host callback) is
//! an async host function, so that future is pending at least every tick. Racing it against a
//! timer and a cancel signal therefore ends an execute at its deadline whatever the guest does:
//! computing, sleeping, or waiting on the host. Dropping the call future abandons the call,
//! which leaves the instance unusable, so an interrupted sandbox is stopped.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

/// Why an execute did not run to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interrupted {
    Timeout,
    Cancelled,
}

/// Awaits `call` unless the deadline passes or `signal` is cancelled first.
pub(crate) async fn race<F: Future>(call: F, deadline: Instant, signal: &Signal) -> Result<F::Output, Interrupted> {
    tokio::select! {
        biased;
        output = call => Ok(output),
        () = tokio::time::sleep_until(deadline.into()) => Err(Interrupted::Timeout),
        () = signal.cancelled() => Err(Interrupted::Cancelled),
    }
}

/// Stops the `execute` that is running when [`cancel`](CancelHandle::cancel) is called.
///
/// Cloneable, `Send` and `Sync`: hand it to another thread or task. Cancelling when nothing
/// runs, cancelling twice, or cancelling after the sandbox was dropped does nothing. A
/// cancelled execute returns [`Failure::Cancelled`](crate::Failure::Cancelled) within a few
/// milliseconds, also while the guest sleeps or waits on a host callback; the sandbox is then
/// stopped (later calls return [`Failure::Stopped`](crate::Failure::Stopped)), like after a
/// timeout: make a new one.
#[derive(Clone, Debug, Default)]
pub struct CancelHandle {
    current: Arc<Mutex<Option<Arc<Signal>>>>,
}

impl CancelHandle {
    /// Cancels the running execute, if any; returns whether one was running.
    pub fn cancel(&self) -> bool {
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_ref() {
            Some(signal) => {
                signal.cancel();
                true
            }
            None => false,
        }
    }

    /// Registers a new execute; its signal stays current until [`Self::end`].
    pub(crate) fn begin(&self) -> Arc<Signal> {
        let signal = Arc::new(Signal::default());
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(signal.clone());
        signal
    }

    pub(crate) fn end(&self) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// The cancel signal of one execute.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    cancelled: AtomicBool,
    notify: Notify,
}

impl Signal {
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    async fn cancelled(&self) {
        loop {
            // Created before the check, so a cancel between the two still wakes it.
            let notified = self.notify.notified();
            if self.cancelled.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// Runs `future` to completion from synchronous code.
///
/// Outside tokio it runs on a current-thread runtime kept by this thread (timers and I/O
/// enabled, which WASI and callbacks need). Inside a tokio runtime, a worker must not block and
/// a runtime cannot be started on its thread, so the future runs on a short-lived thread of its
/// own and this thread waits for it: calling the blocking API from async code works (it blocks
/// that worker, as any blocking call does; prefer the `_async` methods there).
///
/// Public for bindings that drive the `_async` methods from their own blocking calls (the
/// Python package races an execute against its signal checks this way).
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    off_runtime(|| on_this_thread(future))
}

/// Runs `work` on this thread, or, inside a tokio runtime, on a short-lived thread of its own
/// (synchronous WASI calls start a runtime of their own, which tokio forbids on its threads).
pub(crate) fn off_runtime<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("eryx-blocking".into())
            .spawn_scoped(scope, work)
            .expect("can start a thread for a blocking eryx call");
        worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn on_this_thread<F: Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("eryx")
            .build()
            .expect("can create a current-thread tokio runtime");
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cancelling_idle_or_twice_is_harmless() {
        let handle = CancelHandle::default();
        assert!(!handle.cancel());
        let signal = handle.begin();
        assert!(handle.cancel());
        assert!(handle.cancel());
        handle.end();
        assert!(!handle.cancel());
        block_on(signal.cancelled());
    }

    #[test]
    fn a_race_ends_at_the_deadline_or_the_cancel() {
        let handle = CancelHandle::default();
        let signal = handle.begin();
        let deadline = Instant::now() + Duration::from_millis(20);
        let slow = async { race(tokio::time::sleep(Duration::from_secs(30)), deadline, &signal).await };
        assert_eq!(block_on(slow), Err(Interrupted::Timeout));
        let other = handle.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.cancel()
        });
        let far = Instant::now() + Duration::from_secs(30);
        let slow = async { race(tokio::time::sleep(Duration::from_secs(30)), far, &signal).await };
        assert_eq!(block_on(slow), Err(Interrupted::Cancelled));
        assert!(canceller.join().unwrap());
    }

    #[test]
    fn block_on_works_inside_a_runtime() {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let value = runtime.block_on(async { block_on(async { 7 }) });
        assert_eq!(value, 7);
        let value = runtime.block_on(runtime.spawn_blocking(|| block_on(async { 8 }))).unwrap();
        assert_eq!(value, 8);
    }
}

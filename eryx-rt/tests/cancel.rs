//! Cancellation: a `CancelHandle` stops a running execute promptly, from another thread or
//! task, whatever the guest is doing; misuse of the handle is harmless.

use std::time::{Duration, Instant};

use eryx_rt::{CancelHandle, Failure, Sandbox};
use serde_json::json;

fn sandbox() -> Sandbox {
    Sandbox::builder()
        .timeout(Duration::from_secs(30))
        .callback("hang", "never answers", json!({}), |_| std::future::pending())
        .build()
        .expect("the base sandbox builds")
}

/// Cancels through `handle` after `delay` on another thread; returns when it cancelled.
fn cancel_later(handle: CancelHandle, delay: Duration) -> std::thread::JoinHandle<Instant> {
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        assert!(handle.cancel(), "an execute was running");
        Instant::now()
    })
}

fn assert_cancelled_promptly(code: &str) {
    let mut sandbox = sandbox();
    let canceller = cancel_later(sandbox.cancel_handle(), Duration::from_millis(300));
    let error = sandbox.execute(code).unwrap_err();
    let returned = Instant::now();
    let cancelled = canceller.join().unwrap();
    assert!(matches!(error.failure, Failure::Cancelled), "{code}: {error}");
    let latency = returned.saturating_duration_since(cancelled);
    assert!(latency <= Duration::from_millis(50), "{code}: returned {latency:?} after the cancel");
    let after = sandbox.execute("print(1)").unwrap_err();
    assert!(matches!(after.failure, Failure::Stopped(_)), "a cancelled sandbox is stopped: {after}");
}

#[test]
fn cancels_a_busy_loop() {
    assert_cancelled_promptly("while True: pass");
}

#[test]
fn cancels_a_sleep() {
    assert_cancelled_promptly("import time; time.sleep(30)");
}

#[test]
fn cancels_a_wait_on_a_callback() {
    assert_cancelled_promptly("from eryx import tools; tools.hang()");
}

#[test]
fn cancels_an_asyncio_wait() {
    assert_cancelled_promptly(
        "import asyncio\nfrom eryx import atools\nawait asyncio.gather(atools.hang(), asyncio.sleep(30))",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_from_another_task() {
    let mut sandbox = sandbox();
    let handle = sandbox.cancel_handle();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        handle.cancel();
        Instant::now()
    });
    let error = sandbox.execute_async("import time; time.sleep(30)").await.unwrap_err();
    let latency = Instant::now().saturating_duration_since(canceller.await.unwrap());
    assert!(matches!(error.failure, Failure::Cancelled), "{error}");
    assert!(latency <= Duration::from_millis(50), "{latency:?}");
}

#[test]
fn cancelling_idle_twice_or_after_drop_is_harmless() {
    let mut sandbox = sandbox();
    let handle = sandbox.cancel_handle();
    assert!(!handle.cancel(), "nothing runs");
    assert!(!handle.clone().cancel());
    assert_eq!(sandbox.execute("print('runs normally')").unwrap().stdout, "runs normally\n");

    let canceller = cancel_later(handle.clone(), Duration::from_millis(100));
    let second = handle.clone();
    let error = sandbox.execute("import time; time.sleep(30)").unwrap_err();
    canceller.join().unwrap();
    assert!(matches!(error.failure, Failure::Cancelled));
    second.cancel();
    second.cancel();

    drop(sandbox);
    assert!(!handle.cancel(), "the sandbox is gone");
    let other = Sandbox::builder().build().unwrap();
    drop(other);
}

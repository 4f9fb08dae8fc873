//! The async API and the timeout that always holds, against the real base component on real
//! tokio runtimes.

use std::time::{Duration, Instant};

use eryx_rt::{Failure, Sandbox};

fn sandbox(timeout: Duration) -> Sandbox {
    Sandbox::builder().timeout(timeout).build().expect("the base sandbox builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_async_runs_code_and_keeps_globals() {
    let mut sandbox = sandbox(Duration::from_secs(10));
    sandbox.execute_async("x = 41").await.unwrap();
    assert_eq!(sandbox.execute_async("print(x + 1)").await.unwrap().stdout, "42\n");
    let error = sandbox.execute_async("1/0").await.unwrap_err();
    assert!(matches!(&error.failure, Failure::Python(e) if e.type_name == "ZeroDivisionError"));
    assert_eq!(sandbox.execute_async("print('still usable')").await.unwrap().stdout, "still usable\n");
}

#[tokio::test(flavor = "current_thread")]
async fn execute_async_works_on_a_current_thread_runtime() {
    let mut sandbox = sandbox(Duration::from_secs(10));
    let out = sandbox.execute_async("import time; time.sleep(0.05); print('slept')").await.unwrap();
    assert_eq!(out.stdout, "slept\n");
    assert!(out.duration >= Duration::from_millis(50), "{:?}", out.duration);
}

/// A guest sleeping in WASI used to hold the thread for the whole sleep.
#[test]
fn the_timeout_holds_while_the_guest_sleeps_sync() {
    let mut sandbox = sandbox(Duration::from_secs(1));
    let started = Instant::now();
    let error = sandbox.execute("import time\nprint('going to sleep')\ntime.sleep(30)").unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(error.failure, Failure::Timeout(_)), "{error}");
    assert!(elapsed < Duration::from_millis(1200), "took {elapsed:?}");
    assert!(elapsed >= Duration::from_secs(1), "took {elapsed:?}");
    assert_eq!(error.output.stdout, "going to sleep\n", "output before the timeout is kept");
    let again = sandbox.execute("pass").unwrap_err();
    assert!(matches!(again.failure, Failure::Stopped(_)), "a timed-out sandbox is stopped: {again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_holds_while_the_guest_sleeps_async() {
    let mut sandbox = sandbox(Duration::from_secs(1));
    let started = Instant::now();
    let error = sandbox.execute_async("import time; time.sleep(30)").await.unwrap_err();
    assert!(matches!(error.failure, Failure::Timeout(_)), "{error}");
    assert!(started.elapsed() < Duration::from_millis(1200), "took {:?}", started.elapsed());
}

#[test]
fn the_timeout_holds_in_a_busy_loop_and_in_select() {
    for code in ["while True: pass", "import select\nwhile True: select.select([], [], [], 10)"] {
        let mut sandbox = sandbox(Duration::from_millis(300));
        let started = Instant::now();
        let error = sandbox.execute(code).unwrap_err();
        assert!(matches!(error.failure, Failure::Timeout(_)), "{code}: {error}");
        assert!(started.elapsed() < Duration::from_millis(500), "{code}: took {:?}", started.elapsed());
    }
}

/// Many sandboxes at once on a small runtime: their sleeps overlap instead of queueing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sandboxes_sleep_concurrently_on_two_workers() {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let mut sandbox = sandbox(Duration::from_secs(20));
        tasks.push(tokio::spawn(async move {
            sandbox.execute_async(&format!("import time; time.sleep(0.2); print({i})")).await.unwrap().stdout
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), format!("{i}\n"));
    }
    assert!(started.elapsed() < Duration::from_secs(3), "20 × 0.2 s sleeps took {:?}", started.elapsed());
}

/// The blocking API inside a runtime: from a blocking thread and from an async task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_api_works_inside_a_runtime() {
    let out = tokio::task::spawn_blocking(|| sandbox(Duration::from_secs(10)).execute("print(1)").unwrap().stdout)
        .await
        .unwrap();
    assert_eq!(out, "1\n");
    let mut sandbox = sandbox(Duration::from_secs(10));
    assert_eq!(sandbox.execute("print(2)").unwrap().stdout, "2\n");
}

/// Live output: chunks reach the handler in write order while the code runs; `Output` stays.
#[test]
fn the_output_handler_gets_chunks_in_order_while_the_code_runs() {
    use std::sync::{Arc, Mutex};
    let chunks = Arc::new(Mutex::new(Vec::new()));
    let seen = chunks.clone();
    let mut sandbox = Sandbox::builder()
        .output_handler(move |stream, bytes| seen.lock().unwrap().push((stream, bytes.to_vec(), Instant::now())))
        .build()
        .unwrap();
    let out = sandbox
        .execute(
            "import sys, time, os\nprint('a')\nsys.stderr.write('b')\nos.write(1, b'raw')\ntime.sleep(0.2)\nprint('c')",
        )
        .unwrap();
    let finished = Instant::now();
    assert_eq!(out.stdout, "a\nrawc\n");
    assert_eq!(out.stderr, "b");
    let chunks = chunks.lock().unwrap();
    let texts: Vec<(eryx_rt::Stream, String)> =
        chunks.iter().map(|(s, b, _)| (*s, String::from_utf8_lossy(b).into_owned())).collect();
    use eryx_rt::Stream::{Stderr, Stdout};
    let joined = |stream| texts.iter().filter(|(s, _)| *s == stream).map(|(_, t)| t.as_str()).collect::<String>();
    assert_eq!(joined(Stdout), "a\nrawc\n");
    assert_eq!(joined(Stderr), "b");
    let order: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).filter(|t| !t.trim().is_empty()).collect();
    let position = |needle: &str| order.iter().position(|t| t.contains(needle)).unwrap();
    assert!(
        position("a") < position("b") && position("b") < position("raw") && position("raw") < position("c"),
        "{order:?}"
    );
    assert!(finished.duration_since(chunks[0].2) >= Duration::from_millis(150), "the first chunk came before the end");
}

//! Load: 10,000 sandboxes created, used and dropped in one process on 8 threads leave nothing
//! behind: resident memory ends within 10% of what it was after the first 100, and no file
//! descriptor is left open. Its own test binary, so the figures are this process's alone;
//! `-- --nocapture` prints them.
//!
//! The runtime reads the environment's cache folder but never prunes it (no cap), so a test
//! run never evicts what other processes cached.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use eryx_rt::Runtime;

const THREADS: usize = 8;
const WARM_UP: usize = 100;
const TOTAL: usize = 10_000;

/// Resident memory of this process in bytes (`VmRSS` of /proc/self/status).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status is readable");
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("VmRSS is reported");
    let kib: u64 = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("VmRSS is a number");
    kib * 1024
}

fn open_descriptors() -> usize {
    descriptors().len()
}

/// What each open descriptor of this process refers to (for the failure message).
fn descriptors() -> Vec<String> {
    let entries = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd is readable");
    let mut found: Vec<String> = entries
        .flatten()
        .map(|entry| {
            let target = std::fs::read_link(entry.path()).map(|t| t.display().to_string()).unwrap_or_default();
            format!("{} -> {target}", entry.file_name().to_string_lossy())
        })
        .collect();
    found.sort();
    found
}

/// Creates, uses and drops `count` sandboxes on [`THREADS`] threads, and returns once those
/// threads have ended.
///
/// Each thread is joined by its handle: `thread::scope` alone returns when the threads' closures
/// have returned, before their thread-locals are destroyed (the blocking API's per-thread tokio
/// runtime holds two descriptors), so the descriptors counted right after it raced with those
/// destructors (CI once counted three threads' worth as left open).
fn churn(runtime: &Runtime, count: usize) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    while next.fetch_add(1, Ordering::Relaxed) < count {
                        let mut sandbox = runtime.sandbox().build().expect("the sandbox builds");
                        let output = sandbox.execute("print(sum(range(100)))").expect("the code runs");
                        assert_eq!(output.stdout, "4950\n");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a churning thread panicked");
        }
    });
}

#[test]
fn ten_thousand_sandboxes_leave_no_memory_or_descriptors_behind() {
    let runtime = Runtime::builder().cache_limit(u64::MAX).build().unwrap();
    let started = Instant::now();
    churn(&runtime, WARM_UP);
    let warm_elapsed = started.elapsed();
    let (rss_warm, fds_warm, open_warm) = (resident_bytes(), open_descriptors(), descriptors());
    churn(&runtime, TOTAL - WARM_UP);
    let elapsed = started.elapsed() - warm_elapsed;
    let (rss_end, fds_end, open_end) = (resident_bytes(), open_descriptors(), descriptors());
    println!(
        "{TOTAL} sandboxes on {THREADS} threads: resident {:.1} MiB after {WARM_UP}, {:.1} MiB after {TOTAL} \
         ({:+.1}%); descriptors {fds_warm} -> {fds_end}; first {WARM_UP} in {:.1} s, then {:.2} ms per sandbox",
        rss_warm as f64 / 1048576.0,
        rss_end as f64 / 1048576.0,
        (rss_end as f64 / rss_warm as f64 - 1.0) * 100.0,
        warm_elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / (TOTAL - WARM_UP) as f64,
    );
    assert!(rss_end as f64 <= rss_warm as f64 * 1.10, "resident memory grew from {rss_warm} to {rss_end} bytes");
    assert!(
        fds_end <= fds_warm,
        "open descriptors grew from {fds_warm} to {fds_end}:\n{open_warm:#?}\nthen\n{open_end:#?}"
    );
}

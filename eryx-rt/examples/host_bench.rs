//! Medians of the host interface: callback round trips (waited and awaited), async against sync
//! execute of `pass`, 200 sandboxes on a 2-worker tokio runtime each awaiting a 100 ms callback,
//! and cancellation latency.
//!
//! `cargo run --release -p eryx-rt --example host_bench`

use std::time::{Duration, Instant};

use eryx_rt::{CallbackError, Sandbox, SandboxBuilder};
use serde_json::{Value, json};

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn builder() -> SandboxBuilder {
    Sandbox::builder()
        .timeout(Duration::from_secs(60))
        .callback("noop", "returns null", json!({}), |_| async { Ok(Value::Null) })
        .callback("wait100", "waits 100 ms", json!({}), |_| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok::<_, CallbackError>(Value::Null)
        })
}

/// Per-call time in µs of `loop_code` (which runs `calls` calls), measured inside the guest.
fn round_trip(sandbox: &mut Sandbox, loop_code: &str, calls: usize) -> f64 {
    let code = format!(
        "import time, asyncio\nfrom eryx import tools, atools\nt = time.perf_counter()\n{loop_code}\nprint(time.perf_counter() - t)"
    );
    let out = sandbox.execute(&code).expect("the loop runs");
    out.stdout.trim().parse::<f64>().unwrap() / calls as f64 * 1e6
}

fn main() -> anyhow::Result<()> {
    let calls = 2000;
    let mut sandbox = builder().callback_limits(eryx_rt::CallbackLimits::default().max_calls(1_000_000)).build()?;
    sandbox.execute("from eryx import tools; tools.noop()")?; // warm: json imported
    let sync: Vec<f64> =
        (0..9).map(|_| round_trip(&mut sandbox, &format!("for _ in range({calls}): tools.noop()"), calls)).collect();
    println!("callback round trip, waited (tools.noop()):        median {:.1} µs", median(sync));
    let awaited: Vec<f64> = (0..9)
        .map(|_| round_trip(&mut sandbox, &format!("for _ in range({calls}): await atools.noop()"), calls))
        .collect();
    println!("callback round trip, awaited (await atools.noop()): median {:.1} µs", median(awaited));
    let empty: Vec<f64> =
        (0..9).map(|_| round_trip(&mut sandbox, &format!("for _ in range({calls}): pass"), calls)).collect();
    println!("  (the empty loop itself:                          median {:.3} µs)", median(empty));

    let runs = 2000;
    let sync: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            sandbox.execute("pass").unwrap();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    println!("execute(\"pass\"), sync:                            median {:.1} µs", median(sync));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let asynchronous: Vec<f64> = runtime.block_on(async {
        let mut samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            sandbox.execute_async("pass").await.unwrap();
            samples.push(t.elapsed().as_secs_f64() * 1e6);
        }
        samples
    });
    println!("execute_async(\"pass\").await:                       median {:.1} µs", median(asynchronous));

    // The first execute of a fresh sandbox lists the callbacks in the guest (compute, shared by
    // 2 workers; json is already in the snapshot); later ones only wait.
    let count = 200;
    let mut sandboxes: Vec<Sandbox> = (0..count).map(|_| builder().build().unwrap()).collect();
    let mut rounds = Vec::new();
    for _ in 0..4 {
        let t = Instant::now();
        sandboxes = runtime.block_on(async {
            let tasks: Vec<_> = sandboxes
                .into_iter()
                .map(|mut sandbox| {
                    tokio::spawn(async move {
                        sandbox.execute_async("from eryx import tools; tools.wait100()").await.unwrap();
                        sandbox
                    })
                })
                .collect();
            let mut back = Vec::with_capacity(count);
            for task in tasks {
                back.push(task.await.unwrap());
            }
            back
        });
        rounds.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "{count} sandboxes, 2 workers, each awaiting a 100 ms callback: first execute {:.0} ms, later ones median {:.0} ms wall",
        rounds[0],
        median(rounds[1..].to_vec())
    );
    drop(sandboxes);

    for (what, code) in [
        ("sleeping", "import time; time.sleep(30)"),
        ("computing", "while True: pass"),
        ("waiting on a callback", "from eryx import tools\nwhile True: tools.wait100()"),
    ] {
        let samples: Vec<f64> = (0..15)
            .map(|_| {
                let mut sandbox = builder().build().unwrap();
                let handle = sandbox.cancel_handle();
                let canceller = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(50));
                    let t = Instant::now();
                    handle.cancel();
                    t
                });
                let error = sandbox.execute(code).unwrap_err();
                let returned = Instant::now();
                assert!(matches!(error.failure, eryx_rt::Failure::Cancelled));
                returned.saturating_duration_since(canceller.join().unwrap()).as_secs_f64() * 1e3
            })
            .collect();
        println!("cancellation latency while {what}: median {:.2} ms", median(samples));
    }
    Ok(())
}

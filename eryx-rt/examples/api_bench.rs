//! The Rust side of the binding benchmark: the operations that `eryx-rt/python/bench.py` times
//! from Python and over MCP, here straight on the Rust API, so the difference is the overhead
//! the Python binding (or the MCP server) adds. Prints medians.
//!
//! `cargo build --workspace --all-features --release --example api_bench && target/release/examples/api_bench [ROUNDS]`
//! (the workspace's feature set: `cargo run -p eryx-rt` would compile wasmtime once more).
//!
//! * `Sandbox::builder().build()` with the defaults (in-memory cache hit, default snapshot);
//! * the first `execute("pass")` of a new sandbox;
//! * a warm `execute("pass")` (the same sandbox, again and again);
//! * a callback round trip: the guest calls `tools.noop()`, a host callback answering null,
//!   timed inside the guest per call (500 calls, 9 times), as `bench.py` times a Python callable.

use std::time::{Duration, Instant};

use eryx_rt::Sandbox;
use serde_json::{Value, json};

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(30);
    let started = Instant::now();
    Sandbox::builder().build()?.execute("pass")?;
    println!("warm-up (may compile or snapshot the component once per machine): {:?}", started.elapsed());
    let (mut create, mut first, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let mut sandbox = Sandbox::builder().build()?;
        create.push(t.elapsed());
        let t = Instant::now();
        sandbox.execute("pass")?;
        first.push(t.elapsed());
        for _ in 0..10 {
            let t = Instant::now();
            sandbox.execute("pass")?;
            warm.push(t.elapsed());
        }
    }
    println!("medians over {rounds} rounds (warm execute: {} calls)", warm.len());
    println!("{:<36}{:>12.3?}", "Sandbox::builder().build()", median(&mut create));
    println!("{:<36}{:>12.3?}", "first execute(\"pass\")", median(&mut first));
    println!("{:<36}{:>12.3?}", "warm execute(\"pass\")", median(&mut warm));
    let mut sandbox = Sandbox::builder()
        .timeout(Duration::from_secs(300))
        .callback("noop", "returns null", json!({}), |_| async { Ok(Value::Null) })
        .build()?;
    sandbox.execute("from eryx import tools\ntools.noop()")?;
    let calls = 500;
    let code = format!(
        "import time\nfrom eryx import tools\nt = time.perf_counter()\nfor _ in range({calls}): tools.noop()\nprint(time.perf_counter() - t)"
    );
    let mut trips: Vec<Duration> = (0..9)
        .map(|_| {
            let seconds: f64 = sandbox.execute(&code)?.stdout.trim().parse()?;
            Ok(Duration::from_secs_f64(seconds / f64::from(calls)))
        })
        .collect::<anyhow::Result<_>>()?;
    println!("{:<36}{:>12.3?}", "callback round trip tools.noop()", median(&mut trips));
    Ok(())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

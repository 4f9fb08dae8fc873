//! Start-up benchmark of the base sandbox: prints medians.
//!
//! `cargo run --release -p eryx-rt --example startup_bench [-- ROUNDS]`
//!
//! * warm process: sandbox creation (in-memory cache hit), first execute of `pass` in a new
//!   sandbox (Python's start-up), and a warm execute of `pass`;
//! * fresh process: the same binary re-run as a child for each round, timing from `main` to
//!   a ready sandbox (on-disk cache hit) and to the first result.

use std::process::Command;
use std::time::{Duration, Instant};

use eryx_rt::Sandbox;

fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("--child") {
        return child();
    }
    let rounds: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(15);
    let started = Instant::now();
    Sandbox::builder().build()?.execute("pass").map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("warm-up (may compile the component once per machine): {:?}", started.elapsed());

    let (mut create, mut first, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        let mut sandbox = Sandbox::builder().build()?;
        create.push(t.elapsed());
        let t = Instant::now();
        sandbox.execute("pass").map_err(|e| anyhow::anyhow!("{e}"))?;
        first.push(t.elapsed());
        for _ in 0..20 {
            let t = Instant::now();
            sandbox.execute("pass").map_err(|e| anyhow::anyhow!("{e}"))?;
            warm.push(t.elapsed());
        }
    }
    println!("warm process, {rounds} rounds:");
    println!("  sandbox creation        median {:>10.3?}", median(&mut create));
    println!("  first execute `pass`    median {:>10.3?}", median(&mut first));
    println!("  warm execute `pass`     median {:>10.3?}", median(&mut warm));

    let (mut ready, mut result) = (Vec::new(), Vec::new());
    for _ in 0..rounds.min(10) {
        let out = Command::new(std::env::current_exe()?).arg("--child").output()?;
        anyhow::ensure!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout)?;
        let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().map(Duration::from_micros));
        ready.push(numbers.next().unwrap()?);
        result.push(numbers.next().unwrap()?);
    }
    println!("fresh process (on-disk cache hit), {} rounds:", ready.len());
    println!("  main → sandbox ready    median {:>10.3?}", median(&mut ready));
    println!("  main → first result     median {:>10.3?}", median(&mut result));
    Ok(())
}

fn child() -> anyhow::Result<()> {
    let t = Instant::now();
    let mut sandbox = Sandbox::builder().build()?;
    let ready = t.elapsed();
    sandbox.execute("print('hi')").map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{} {}", ready.as_micros(), t.elapsed().as_micros());
    Ok(())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

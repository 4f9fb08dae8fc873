//! File-system benchmark: prints medians.
//!
//! `cargo build --workspace --all-features --release --example fs_bench && target/release/examples/fs_bench [ROUNDS]`
//!
//! * writing then reading 10 MiB in the guest's scratch space (`/tmp`, in memory), timed inside
//!   the guest, against the host's `python3` doing the same on the host's temporary folder;
//! * what the scratch space adds to sandbox creation (making and dropping an empty one), beside
//!   a whole sandbox creation for scale;
//! * host memory of one empty scratch space (resident-set growth over 10,000 kept alive).

use std::process::Command;
use std::time::{Duration, Instant};

use eryx_rt::{Sandbox, ScratchLimits};

const WRITE_READ: &str = r#"import time
data = b'x' * (10 << 20)
times = []
for _ in range(ROUNDS):
    start = time.perf_counter()
    with open(PATH, 'wb') as f: f.write(data)
    with open(PATH, 'rb') as f: back = f.read()
    times.append(time.perf_counter() - start)
    assert back == data
print(' '.join(str(t) for t in times))
"#;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn parse_times(stdout: &str) -> Vec<f64> {
    stdout.split_whitespace().map(|t| t.parse().expect("a float")).collect()
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map(|r| r.parse()).transpose()?.unwrap_or(11);

    let mut sandbox = Sandbox::builder().build()?;
    let code = WRITE_READ.replace("ROUNDS", &rounds.to_string()).replace("PATH", "'/tmp/bench.bin'");
    let guest = median(parse_times(&sandbox.execute(&code)?.stdout));
    let host_code = format!(
        "import os, tempfile\nPATH = os.path.join(tempfile.mkdtemp(), 'bench.bin')\n{}os.remove(PATH)\n",
        WRITE_READ.replace("ROUNDS", &rounds.to_string())
    );
    let host_out = Command::new("python3").arg("-c").arg(&host_code).output()?;
    anyhow::ensure!(host_out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&host_out.stderr));
    let host = median(parse_times(&String::from_utf8(host_out.stdout)?));
    println!(
        "write+read 10 MiB: guest scratch {:.2} ms, host python3 {:.2} ms, ratio {:.2} (medians of {rounds})",
        guest * 1e3,
        host * 1e3,
        guest / host
    );

    let creations = 2_000;
    let mut scratch_times = Vec::with_capacity(creations);
    for _ in 0..creations {
        let start = Instant::now();
        drop(std::hint::black_box(eryx_rt::bench_new_scratch(ScratchLimits::default())));
        scratch_times.push(start.elapsed().as_secs_f64());
    }
    let mut sandbox_times = Vec::new();
    for _ in 0..rounds.max(11) * 5 {
        let start = Instant::now();
        drop(Sandbox::builder().build()?);
        sandbox_times.push(start.elapsed().as_secs_f64());
    }
    println!(
        "creation: scratch space {:.2} µs (median of {creations}), whole sandbox {:.2} ms (median of {})",
        median(scratch_times) * 1e6,
        median(sandbox_times.clone()) * 1e3,
        sandbox_times.len()
    );

    let kept = 10_000;
    let before = rss_bytes();
    let alive: Vec<_> = (0..kept).map(|_| eryx_rt::bench_new_scratch(ScratchLimits::default())).collect();
    let after = rss_bytes();
    println!(
        "memory: {:.0} bytes per empty scratch space ({kept} alive)",
        (after.saturating_sub(before)) as f64 / kept as f64
    );
    drop(alive);
    std::thread::sleep(Duration::from_millis(1));
    Ok(())
}

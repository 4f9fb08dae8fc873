//! Start-up benchmark of the base sandbox: prints medians, with and without the pre-initialised
//! snapshot, in one run.
//!
//! `cargo run --release -p eryx-rt --example startup_bench [-- [--pooling MAX_SANDBOXES] ROUNDS]`
//!
//! With `--pooling`, sandboxes come from a runtime that uses wasmtime's pooling allocator.
//!
//! For each mode (no snapshot: Python starts on the first execute; the default snapshot; a
//! snapshot that also imported json, decimal and asyncio):
//!
//! * warm process: sandbox creation (in-memory cache hit), the first execute of `pass` in a new
//!   sandbox, the first execute of `import json, decimal, asyncio` in a new sandbox, and a warm
//!   execute of `pass`;
//! * fresh process: the same binary re-run as a child for each round, timing from `main` to
//!   a ready sandbox (on-disk cache hit) and to the first result.

use std::process::Command;
use std::time::{Duration, Instant};

use std::sync::OnceLock;

use eryx_rt::{Runtime, SandboxBuilder};

/// The runtime of this process: the default configuration, or with a pool of this many slots.
static POOLING: OnceLock<Option<u32>> = OnceLock::new();

fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| match POOLING.get().copied().flatten() {
            Some(max) => Runtime::builder().pooling_allocator(max).build().expect("a pooling runtime"),
            None => Runtime::default(),
        })
        .clone()
}

const IMPORTS: &str = "import json, decimal, asyncio";

#[derive(Clone, Copy)]
enum Mode {
    NoSnapshot,
    Snapshot,
    SnapshotWithImports,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::NoSnapshot, Mode::Snapshot, Mode::SnapshotWithImports];

    fn name(self) -> &'static str {
        match self {
            Mode::NoSnapshot => "no-snapshot",
            Mode::Snapshot => "snapshot",
            Mode::SnapshotWithImports => "snapshot+imports",
        }
    }

    fn builder(self) -> SandboxBuilder {
        match self {
            Mode::NoSnapshot => runtime().sandbox().preinit(false),
            Mode::Snapshot => runtime().sandbox().preinit(true),
            Mode::SnapshotWithImports => runtime().sandbox().with_preinit_imports(["json", "decimal", "asyncio"]),
        }
    }
}

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let pooling = match args.iter().position(|a| a == "--pooling") {
        Some(at) => {
            let max = args.get(at + 1).ok_or_else(|| anyhow::anyhow!("--pooling needs a number"))?.parse::<u32>()?;
            args.drain(at..at + 2);
            Some(max)
        }
        None => None,
    };
    POOLING.set(pooling).expect("set once");
    let pooling_args: Vec<String> =
        pooling.map(|max| vec!["--pooling".to_string(), max.to_string()]).unwrap_or_default();
    if args.first().map(String::as_str) == Some("--child") {
        let mode = args.get(1).cloned().unwrap_or_default();
        let mode = Mode::ALL.into_iter().find(|m| m.name() == mode).ok_or_else(|| anyhow::anyhow!("no mode {mode}"))?;
        return child(mode);
    }
    let rounds: usize = args.first().map(|n| n.parse()).transpose()?.unwrap_or(15);
    println!("allocator: {}", pooling.map_or("on demand".to_string(), |max| format!("pooling, {max} slots")));
    for mode in Mode::ALL {
        let started = Instant::now();
        mode.builder().build()?.execute("pass").map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "[{}] warm-up (may compile or snapshot the component once per machine): {:?}",
            mode.name(),
            started.elapsed()
        );
    }
    println!();
    let mut table = Vec::new();
    for mode in Mode::ALL {
        let (mut create, mut first, mut imports, mut warm) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = Instant::now();
            let mut sandbox = mode.builder().build()?;
            create.push(t.elapsed());
            let t = Instant::now();
            sandbox.execute("pass").map_err(|e| anyhow::anyhow!("{e}"))?;
            first.push(t.elapsed());
            for _ in 0..20 {
                let t = Instant::now();
                sandbox.execute("pass").map_err(|e| anyhow::anyhow!("{e}"))?;
                warm.push(t.elapsed());
            }
            let mut sandbox = mode.builder().build()?;
            let t = Instant::now();
            sandbox.execute(IMPORTS).map_err(|e| anyhow::anyhow!("{e}"))?;
            imports.push(t.elapsed());
        }
        let (mut ready, mut result) = (Vec::new(), Vec::new());
        for _ in 0..rounds.min(10) {
            let out =
                Command::new(std::env::current_exe()?).args(&pooling_args).args(["--child", mode.name()]).output()?;
            anyhow::ensure!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8(out.stdout)?;
            let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().map(Duration::from_micros));
            ready.push(numbers.next().unwrap()?);
            result.push(numbers.next().unwrap()?);
        }
        table.push((
            mode.name(),
            [
                median(&mut create),
                median(&mut first),
                median(&mut imports),
                median(&mut warm),
                median(&mut ready),
                median(&mut result),
            ],
        ));
    }
    println!("medians over {rounds} rounds (fresh process: {} rounds, on-disk cache hit)", rounds.min(10));
    let rows = [
        "sandbox creation",
        "first execute `pass`",
        "first execute `import json, decimal, asyncio`",
        "warm execute `pass`",
        "fresh process: main -> sandbox ready",
        "fresh process: main -> first result",
    ];
    print!("{:<46}", "");
    for (name, _) in &table {
        print!("{name:>18}");
    }
    println!();
    for (row, label) in rows.iter().enumerate() {
        print!("{label:<46}");
        for (_, values) in &table {
            print!("{:>18}", format!("{:.3?}", values[row]));
        }
        println!();
    }
    Ok(())
}

fn child(mode: Mode) -> anyhow::Result<()> {
    let t = Instant::now();
    let mut sandbox = mode.builder().build()?;
    let ready = t.elapsed();
    sandbox.execute("print('hi')").map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{} {}", ready.as_micros(), t.elapsed().as_micros());
    Ok(())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

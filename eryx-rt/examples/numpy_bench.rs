//! numpy benchmark: prints medians.
//!
//! `cargo run --release -p eryx-rt --example numpy_bench [-- ROUNDS]`
//!
//! * linking numpy's 13 extension modules with the base libraries (`Wheel::from_file`,
//!   `SitePackages`, `eryx_libs::link_component`), in this process, no cache involved;
//! * sandbox creation and the first `import numpy`, without the pre-initialised snapshot
//!   (`.preinit(false)`: Python starts on the first execute) and with a snapshot that has numpy
//!   imported already (`.with_preinit_imports(["numpy"])`); both from the in-memory cache, after
//!   a warm-up that compiles (or loads from disk) each component once;
//! * `np.dot` of two 200x200 float64 matrices (and, as a loop without BLAS on either side,
//!   `np.sin` over 10^6 float64) timed inside the sandbox and by the host's own python3 with
//!   numpy 2.4.6 from the index (a venv under target/numpy-bench/, one OpenBLAS thread), as a ratio.
//!
//! The wheel comes from `libs/sdist-wheel/numpy/build.sh` (cached after its first build).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use eryx_rt::{Sandbox, SandboxBuilder};

const HOST_NUMPY: &str = "numpy==2.4.6";

/// Times `np.dot` (200x200 float64) and `np.sin` (10^6 float64); prints the medians in seconds.
const KERNELS: &str = r#"
import time, statistics
import numpy as np
rng = np.random.default_rng(0)
a, b = rng.random((200, 200)), rng.random((200, 200))
x = rng.random(1_000_000)
def median_of(f, n):
    f()
    samples = []
    for _ in range(n):
        t = time.perf_counter(); f(); samples.append(time.perf_counter() - t)
    return statistics.median(samples)
print(median_of(lambda: np.dot(a, b), 21), median_of(lambda: np.sin(x), 11))
"#;

#[derive(Clone, Copy)]
enum Mode {
    NoSnapshot,
    SnapshotWithNumpy,
}

impl Mode {
    const ALL: [Mode; 2] = [Mode::NoSnapshot, Mode::SnapshotWithNumpy];

    fn name(self) -> &'static str {
        match self {
            Mode::NoSnapshot => "no-snapshot",
            Mode::SnapshotWithNumpy => "snapshot+numpy",
        }
    }

    fn builder(self, wheel: &Path) -> SandboxBuilder {
        let builder = Sandbox::builder().timeout(Duration::from_secs(300)).memory_limit(1 << 30).with_wheel(wheel);
        match self {
            Mode::NoSnapshot => builder.preinit(false),
            Mode::SnapshotWithNumpy => builder.with_preinit_imports(["numpy"]),
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn numpy_wheel() -> anyhow::Result<PathBuf> {
    let out = repo().join("target/numpy-bench/wheel");
    let status = Command::new(repo().join("libs/sdist-wheel/numpy/build.sh"))
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()?;
    ensure!(status.success(), "libs/sdist-wheel/numpy/build.sh failed");
    let wheel = std::fs::read_dir(&out)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("numpy-2.4.6-")))
        .context("build.sh wrote no numpy wheel")?;
    Ok(wheel)
}

/// python3 in a venv under target/ with numpy from the index (created once).
fn host_python() -> anyhow::Result<PathBuf> {
    let venv = repo().join("target/numpy-bench/host-venv");
    let python = venv.join("bin/python");
    let has_numpy = |python: &Path| {
        Command::new(python)
            .args(["-c", "import numpy; assert numpy.__version__ == '2.4.6'"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has_numpy(&python) {
        let status = Command::new("python3").args(["-m", "venv"]).arg(&venv).status()?;
        ensure!(status.success(), "python3 -m venv failed (Debian: apt-get install python3-venv)");
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--only-binary",
                ":all:",
                HOST_NUMPY,
            ])
            .status()?;
        ensure!(status.success() && has_numpy(&python), "pip install {HOST_NUMPY} failed");
    }
    Ok(python)
}

fn kernels(stdout: &str) -> anyhow::Result<(f64, f64)> {
    let mut numbers = stdout.split_whitespace().map(str::parse::<f64>);
    Ok((numbers.next().context("no dot time")??, numbers.next().context("no sin time")??))
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(7);
    let wheel = numpy_wheel()?;
    println!("wheel: {} ({} bytes)", wheel.file_name().unwrap().to_string_lossy(), std::fs::metadata(&wheel)?.len());

    // Link time (no cache: link_component itself).
    let base = eryx_libs::BaseLibraries::load();
    let (mut read, mut link) = (Vec::new(), Vec::new());
    let mut component_size = 0;
    let mut modules = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let parsed = eryx_libs::Wheel::from_file(&wheel)?;
        let mut site = eryx_libs::SitePackages::new();
        site.add_wheel(&parsed)?;
        let extensions = site.native_extensions();
        read.push(t.elapsed());
        let t = Instant::now();
        let component = eryx_libs::link_component(&base, &extensions)?;
        link.push(t.elapsed());
        component_size = component.len();
        modules = extensions.len();
    }

    // Warm-up: the first sandbox of each mode links, compiles (and snapshots) once per machine.
    for mode in Mode::ALL {
        let t = Instant::now();
        mode.builder(&wheel).build()?.execute("import numpy").map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("[{}] warm-up (links, compiles or snapshots once per machine): {:.1?}", mode.name(), t.elapsed());
    }
    println!();

    let mut table = Vec::new();
    for mode in Mode::ALL {
        let (mut create, mut import, mut warm) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = Instant::now();
            let mut sandbox = mode.builder(&wheel).build()?;
            create.push(t.elapsed());
            let t = Instant::now();
            sandbox.execute("import numpy").map_err(|e| anyhow::anyhow!("{e}"))?;
            import.push(t.elapsed());
            let t = Instant::now();
            sandbox.execute("import numpy; numpy.ones(3).sum()").map_err(|e| anyhow::anyhow!("{e}"))?;
            warm.push(t.elapsed());
        }
        table.push((mode.name(), [median(&mut create), median(&mut import), median(&mut warm)]));
    }

    // Kernels: the sandbox (no snapshot needed) against the host's numpy.
    let mut sandbox = Mode::SnapshotWithNumpy.builder(&wheel).build()?;
    let out = sandbox.execute(KERNELS).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (guest_dot, guest_sin) = kernels(&out.stdout)?;
    let python = host_python()?;
    // One BLAS thread, like the sandbox (which has no threads).
    let out = Command::new(&python).arg("-c").arg(KERNELS).env("OPENBLAS_NUM_THREADS", "1").output()?;
    ensure!(out.status.success(), "host python failed: {}", String::from_utf8_lossy(&out.stderr));
    let (host_dot, host_sin) = kernels(&String::from_utf8(out.stdout)?)?;
    let host_config = Command::new(&python)
        .args(["-c", "import numpy, sys; c = numpy.show_config(mode='dicts'); print(sys.version.split()[0], c['Build Dependencies']['blas']['name'])"])
        .output()?;

    println!("medians over {rounds} rounds");
    println!("{:<52}{:>14}", "read the wheel + SitePackages (13 modules)", format!("{:.1?}", median(&mut read)));
    println!(
        "{:<52}{:>14}",
        format!("link_component ({modules} modules, {:.1} MB out)", component_size as f64 / 1e6),
        format!("{:.1?}", median(&mut link))
    );
    println!();
    print!("{:<52}", "");
    for (name, _) in &table {
        print!("{name:>18}");
    }
    println!();
    for (row, label) in
        ["sandbox creation (in-memory cache hit)", "first execute `import numpy`", "second execute (numpy imported)"]
            .iter()
            .enumerate()
    {
        print!("{label:<52}");
        for (_, values) in &table {
            print!("{:>18}", format!("{:.2?}", values[row]));
        }
        println!();
    }
    println!();
    println!("host python/numpy BLAS: {}", String::from_utf8_lossy(&host_config.stdout).trim());
    println!(
        "np.dot 200x200 float64: sandbox {:.2} ms, host {:.3} ms, ratio {:.0}x",
        guest_dot * 1e3,
        host_dot * 1e3,
        guest_dot / host_dot
    );
    println!(
        "np.sin 10^6 float64:    sandbox {:.2} ms, host {:.2} ms, ratio {:.1}x",
        guest_sin * 1e3,
        host_sin * 1e3,
        guest_sin / host_sin
    );
    Ok(())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

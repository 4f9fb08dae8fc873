//! Late-linking benchmark: prints medians for 1 and for 20 native extensions.
//!
//! `cargo run --release -p eryx-rt --example late_link_bench`
//!
//! * cold link alone: `eryx_libs::link_component` (wit-component's Linker::encode and checks);
//! * cold link + compile: a new process with an empty cache folder, to a ready sandbox;
//! * on-disk hit: a new process with that cache folder, to a ready sandbox;
//! * in-memory hit: another `build()` with the same inputs in a warm process.
//!
//! The 20 extensions are copies of the C test extension under 20 module paths.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use eryx_rt::Sandbox;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let count: usize = args[2].parse()?;
        let t = Instant::now();
        builder(count)?.build()?;
        println!("{}", t.elapsed().as_micros());
        return Ok(());
    }
    let base = eryx_libs::BaseLibraries::load();
    for count in [1, 20] {
        let extensions: Vec<_> = extension_files(count)?
            .into_iter()
            .map(|(path, bytes)| eryx_libs::NativeExtension::new(format!("/site-packages/{path}"), bytes))
            .collect();
        let mut link =
            samples(5, || eryx_libs::link_component(&base, &extensions).map(drop).map_err(anyhow::Error::from))?;

        let scratch = tempfile::tempdir()?;
        let (mut cold, mut disk) = (Vec::new(), Vec::new());
        for round in 0..3 {
            let cache = scratch.path().join(round.to_string());
            cold.push(child(count, &cache)?);
            for _ in 0..3 {
                disk.push(child(count, &cache)?);
            }
        }
        builder(count)?.build()?;
        let mut memory = samples(20, || builder(count)?.build().map(drop).map_err(anyhow::Error::from))?;
        println!("{count} extension(s):");
        println!("  cold link alone           median {:>10.3?}", median(&mut link));
        println!(
            "  cold link + compile       median {:>10.3?}  (new process, empty cache, to a ready sandbox)",
            median(&mut cold)
        );
        println!("  on-disk cache hit         median {:>10.3?}  (new process, to a ready sandbox)", median(&mut disk));
        println!("  in-memory cache hit       median {:>10.3?}  (build() in a warm process)", median(&mut memory));
    }
    Ok(())
}

fn child(count: usize, cache: &Path) -> anyhow::Result<Duration> {
    let out = Command::new(std::env::current_exe()?)
        .args(["--child", &count.to_string()])
        .env("ERYX_CACHE_DIR", cache)
        .output()?;
    anyhow::ensure!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(Duration::from_micros(String::from_utf8(out.stdout)?.trim().parse()?))
}

fn builder(count: usize) -> anyhow::Result<eryx_rt::SandboxBuilder> {
    let mut builder = Sandbox::builder();
    for (path, bytes) in extension_files(count)? {
        builder = builder.with_native_extension(path, bytes);
    }
    Ok(builder)
}

fn extension_files(count: usize) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/wheels");
    let wheel = std::fs::read_dir(&fixtures)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .find(|path| path.to_string_lossy().contains("eryx_test_c-"))
        .ok_or_else(|| anyhow::anyhow!("no eryx_test_c wheel in {}", fixtures.display()))?;
    let wheel = eryx_libs::Wheel::from_file(&wheel)?;
    let so = wheel.native_extensions().next().ok_or_else(|| anyhow::anyhow!("no extension in the wheel"))?;
    Ok((0..count).map(|i| (format!("bench_{i}.cpython-314-wasm32-wasi.so"), so.bytes.clone())).collect())
}

fn samples(rounds: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Vec<Duration>> {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f().map(|()| t.elapsed())
        })
        .collect()
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

//! `eryx`: run Python 3.14 in an eryx sandbox.
//!
//! Exit status: 0 on success, 1 when the code raised an exception (traceback on stderr),
//! 2 when a limit was hit or the guest trapped, 3 when the sandbox could not be created.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use eryx_rt::{Failure, Sandbox};

#[derive(Parser)]
#[command(name = "eryx", version, about = "Run Python 3.14 in a WebAssembly sandbox")]
struct Args {
    /// Python code to run.
    #[arg(short = 'c', value_name = "CODE", conflicts_with = "file")]
    code: Option<String>,
    /// A Python file to run.
    #[arg(value_name = "FILE.py", required_unless_present = "code")]
    file: Option<PathBuf>,
    /// Wall-clock limit in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    timeout: f64,
    /// Memory limit in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    memory: usize,
    /// Fuel budget (roughly, wasm instructions); unlimited when absent.
    #[arg(long)]
    fuel: Option<u64>,
    /// A wheel to install in the sandbox (its native extensions are linked in); repeatable.
    #[arg(long = "wheel", value_name = "PATH")]
    wheels: Vec<PathBuf>,
    /// An installed site-packages folder to add (its `.so` files are linked in); repeatable.
    #[arg(long = "site-packages", value_name = "DIR")]
    site_packages: Vec<PathBuf>,
    /// A module to import before the start-up snapshot is taken (then importing it costs
    /// nothing at run time); repeatable. The snapshot is made once per machine and list.
    #[arg(long = "preinit", value_name = "MODULE")]
    preinit: Vec<String>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ERYX_LOG"))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Args::parse()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("eryx: {error:#}");
            ExitCode::from(3)
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    let code = match (&args.code, &args.file) {
        (Some(code), _) => code.clone(),
        (None, Some(file)) => {
            std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
        }
        (None, None) => unreachable!("clap requires one of them"),
    };
    anyhow::ensure!(args.timeout > 0.0 && args.timeout.is_finite(), "--timeout must be a positive number of seconds");
    let builder = Sandbox::builder()
        .timeout(Duration::from_secs_f64(args.timeout))
        .memory_limit(args.memory.checked_shl(20).context("--memory is too large")?);
    let mut builder = match args.fuel {
        Some(fuel) => builder.fuel(fuel),
        None => builder,
    };
    for wheel in &args.wheels {
        builder = builder.with_wheel(wheel);
    }
    for dir in &args.site_packages {
        builder = builder.with_site_packages(dir);
    }
    if !args.preinit.is_empty() {
        builder = builder.with_preinit_imports(args.preinit.iter().cloned());
    }

    let progress = indicatif::ProgressBar::new_spinner()
        .with_message("preparing the sandbox (a new set of extensions is linked and compiled once)");
    progress.enable_steady_tick(Duration::from_millis(120));
    let sandbox = builder.build();
    progress.finish_and_clear();
    let mut sandbox = sandbox.context("cannot create the sandbox")?;

    match sandbox.execute(&code) {
        Ok(output) => {
            write_output(&output);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            write_output(&error.output);
            match &error.failure {
                Failure::Python(exception) => {
                    eprint!("{}", exception.traceback);
                    Ok(ExitCode::from(1))
                }
                failure => {
                    eprintln!("eryx: {failure}");
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}

fn write_output(output: &eryx_rt::Output) {
    // The host's stdout may be a closed pipe (`eryx ... | head`): that is not an error here.
    let _ = std::io::stdout().write_all(output.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().write_all(output.stderr.as_bytes());
    if output.truncated {
        eprintln!("eryx: output beyond the limit was dropped");
    }
}

//! The flags that shape a sandbox (limits, wheels, pre-initialised modules, files), shared by
//! every way of running code so that a subcommand can `#[command(flatten)]` them.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use eryx_rt::{Sandbox, SandboxBuilder};

use crate::files_args::FilesArgs;

/// Limits and packages of the sandbox.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct SandboxArgs {
    /// Wall-clock limit in seconds, per program (per statement in the REPL).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    pub(crate) timeout: f64,
    /// Memory limit in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    pub(crate) memory: usize,
    /// Fuel budget (roughly, wasm instructions); unlimited when absent.
    #[arg(long)]
    pub(crate) fuel: Option<u64>,
    /// A wheel to install in the sandbox (its native extensions are linked in); repeatable.
    #[arg(long = "wheel", value_name = "PATH")]
    pub(crate) wheels: Vec<PathBuf>,
    /// An installed site-packages folder to add (its `.so` files are linked in); repeatable.
    #[arg(long = "site-packages", value_name = "DIR")]
    pub(crate) site_packages: Vec<PathBuf>,
    /// A module to import before the start-up snapshot is taken (then importing it costs
    /// nothing at run time); repeatable. The snapshot is made once per machine and list.
    #[arg(long = "preinit", value_name = "MODULE")]
    pub(crate) preinit: Vec<String>,
    /// Import the top-level packages of the `--wheel`s before the start-up snapshot is taken,
    /// so that importing them costs nothing at run time (their import-time state, such as
    /// random seeds, is then shared by every run; see the README).
    #[arg(long = "preinit-wheels")]
    pub(crate) preinit_wheels: bool,
    /// Host folders mounted and files copied in and out.
    #[command(flatten)]
    pub(crate) files: FilesArgs,
}

impl SandboxArgs {
    /// The builder these flags describe; a bad value is an error naming the flag. Output is
    /// collected, not printed (stdout may carry a protocol, as in `eryx mcp`).
    pub(crate) fn builder(&self) -> anyhow::Result<SandboxBuilder> {
        anyhow::ensure!(
            self.timeout > 0.0 && self.timeout.is_finite(),
            "--timeout must be a positive number of seconds"
        );
        let mut builder = Sandbox::builder()
            .timeout(Duration::from_secs_f64(self.timeout))
            .memory_limit(self.memory.checked_shl(20).context("--memory is too large")?);
        if let Some(fuel) = self.fuel {
            builder = builder.fuel(fuel);
        }
        for wheel in &self.wheels {
            builder = builder.with_wheel(wheel);
        }
        for dir in &self.site_packages {
            builder = builder.with_site_packages(dir);
        }
        if !self.preinit.is_empty() {
            builder = builder.with_preinit_imports(self.preinit.iter().cloned());
        }
        if self.preinit_wheels {
            builder = builder.preinit_wheels(true);
        }
        Ok(self.files.mount_into(builder))
    }

    /// Creates the sandbox for a terminal: its output is printed live, with a spinner while a
    /// new set of extensions is linked and compiled.
    ///
    /// The spinner needs a thread of its own, which a warm start (a few milliseconds) would pay
    /// for twice: starting it, then waking it and waiting for its exit. With stderr not a
    /// terminal the spinner would draw nothing, so it is not started at all.
    pub(crate) fn build(&self) -> anyhow::Result<Sandbox> {
        let builder = self.builder()?.output_handler(crate::output::print_live);
        if !std::io::stderr().is_terminal() {
            return builder.build().context("cannot create the sandbox");
        }
        let progress = indicatif::ProgressBar::new_spinner()
            .with_message("preparing the sandbox (a new set of extensions is linked and compiled once)");
        progress.enable_steady_tick(Duration::from_millis(120));
        let sandbox = builder.build();
        progress.finish_and_clear();
        sandbox.context("cannot create the sandbox")
    }
}

//! `eryx`: run Python 3.14 in an eryx sandbox, invoked the way `python` is.
//!
//! One module per concern, so that several people can extend the command at once:
//! [`args`] parses the command line (python-style program arguments, plus subcommands),
//! [`sandbox_args`] turns the limit and package flags into a sandbox, [`files_args`] mounts
//! host folders and copies files in and out around a run, [`run`] runs a program and maps its
//! outcome to an exit status, [`repl`] is the interactive prompt (with [`interrupt`] for
//! Ctrl-C), [`output`] prints what the guest printed, [`cache`] is `eryx cache` and
//! [`status`] holds the exit statuses that `--help` documents. A subcommand lives in a module
//! of its own and is dispatched from [`dispatch`].

mod args;
mod cache;
mod files_args;
mod interrupt;
mod mcp;
mod mcp_wire;
mod output;
mod repl;
mod run;
mod sandbox_args;
mod status;
mod version;

use std::io::IsTerminal;
use std::process::ExitCode;

use args::{Cli, Command};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("ERYX_LOG"))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse_python_style();
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("eryx: {error:#}");
            ExitCode::from(status::SETUP_FAILED)
        }
    }
}

/// Runs the subcommand; else the program; else, with a terminal on stdin, the REPL.
fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None if cli.run.program().is_none() && std::io::stdin().is_terminal() => repl::run(&cli.run.sandbox),
        None => run::run(cli.run),
        Some(Command::Mcp(args)) => mcp::serve(args),
        Some(Command::Cache(args)) => cache::run(args),
    }
}

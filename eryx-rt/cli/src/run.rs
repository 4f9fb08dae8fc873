//! Runs one program in a fresh sandbox and turns its outcome into the exit status.

use std::process::ExitCode;

use anyhow::Context;
use eryx_rt::Failure;

use crate::args::{Program, RunArgs};
use crate::{output, status};

/// Runs the program the arguments name.
pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let code = match args.program() {
        Some(Program::Code(code)) => code,
        Some(Program::File(file)) => {
            std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?
        }
        Some(Program::Module(_)) => anyhow::bail!("-m is not supported yet"),
        Some(Program::Stdin) | None => anyhow::bail!("give -c CODE or FILE.py"),
    };
    let mut sandbox = args.sandbox.build()?;
    let outcome = sandbox.execute(&code);
    Ok(ExitCode::from(report(outcome)))
}

/// Prints an execution's output and failure; returns the exit status.
pub(crate) fn report(outcome: Result<eryx_rt::Output, eryx_rt::ExecuteError>) -> u8 {
    match outcome {
        Ok(output) => {
            output::write(&output);
            status::SUCCESS
        }
        Err(error) => {
            output::write(&error.output);
            match &error.failure {
                Failure::Python(exception) => {
                    eprint!("{}", exception.traceback);
                    status::EXCEPTION
                }
                failure => {
                    eprintln!("eryx: {failure}");
                    status::LIMIT
                }
            }
        }
    }
}

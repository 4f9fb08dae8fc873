//! Runs one program in a fresh sandbox and turns its outcome into the exit status.
//!
//! The program comes from `-c`, `-m`, a file or stdin (see [`Program`]; with no program and a
//! terminal on stdin, `main` starts the REPL instead). When the program does not come
//! from stdin, the guest reads the host's own stdin, lazily as `python` does (a program that
//! never reads leaves it alone); a program that came from stdin sees an empty one.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use eryx_rt::{Failure, Program as GuestProgram};

use crate::args::{Program, RunArgs};
use crate::{output, status};

/// Runs the program the arguments name.
pub(crate) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let argv = args.argv();
    let program = match args.program() {
        None | Some(Program::Stdin) => GuestProgram::file("<stdin>", read_host_stdin()?),
        Some(Program::Code(code)) => GuestProgram::code(code).host_stdin(),
        Some(Program::Module(module)) => GuestProgram::module(module).host_stdin(),
        Some(Program::File(path)) => match std::fs::read(&path) {
            Ok(source) => GuestProgram::file(path.display().to_string(), source).host_stdin(),
            Err(error) => {
                // Python's words and status for a file it cannot open.
                eprintln!("eryx: can't open file '{}': {error}", path.display());
                return Ok(ExitCode::from(status::USAGE));
            }
        },
    };
    let mut sandbox = args.sandbox.build()?;
    args.sandbox.files.put_into(&sandbox)?;
    let outcome = sandbox.run(&program.argv(argv));
    let status = report(outcome);
    args.sandbox.files.get_from(&sandbox)?;
    // The process ends now: freeing the sandbox (its store, the mapping of its memory, the
    // compiled component's tables) would only be work the kernel's exit does anyway.
    std::mem::forget(sandbox);
    Ok(ExitCode::from(status))
}

/// The program, read from the host's stdin (a pipe, a file, or a terminal until Ctrl-D).
fn read_host_stdin() -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::stdin().lock().read_to_end(&mut bytes).context("cannot read the program from stdin")?;
    Ok(bytes)
}

/// Prints an execution's failure (its output was printed live); returns the exit status: for
/// `sys.exit(n)` the low 8 bits of `n`, as the operating system keeps them from `python`'s.
pub(crate) fn report(outcome: Result<eryx_rt::Output, eryx_rt::ExecuteError>) -> u8 {
    let error = match outcome {
        Ok(output) => {
            output::write(&output);
            return status::SUCCESS;
        }
        Err(error) => error,
    };
    output::write(&error.output);
    match &error.failure {
        // A message given to sys.exit was printed to stderr by the guest already.
        Failure::SystemExit(code) => *code as u8,
        Failure::Python(exception) => {
            if exception.traceback.is_empty() {
                // The runtime's own errors (out of memory while reporting one) have no traceback.
                eprintln!("{exception}");
            } else {
                eprint!("{}", exception.traceback);
            }
            status::EXCEPTION
        }
        failure => {
            eprintln!("eryx: {failure}");
            status::LIMIT
        }
    }
}

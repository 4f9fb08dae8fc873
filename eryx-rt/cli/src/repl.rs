//! The interactive prompt: `eryx` with no program and a terminal on stdin.
//!
//! It behaves like Python's own REPL, but every entry runs in one sandbox: state persists from
//! entry to entry and each entry gets the sandbox's limits. Whether an entry needs more lines
//! is asked of the guest, which decides it with `codeop` as Python's REPL does, so `def`,
//! `for`, decorators and open brackets continue with `... `; expression values are echoed by
//! the guest's `sys.displayhook`. Ctrl-C while reading drops the entry; Ctrl-C while an entry
//! runs cancels it. A cancelled entry or a limit stops the sandbox (wasmtime cannot resume a
//! guest interrupted mid-instruction), so a new one is started and the user is told that the
//! state is gone. Line editing and history come from rustyline; the history is kept in a file
//! (see [`history_file`]). The guest's stdin is empty here: the terminal belongs to the prompt.

use std::path::PathBuf;
use std::process::ExitCode;

use eryx_rt::{Failure, Program, Sandbox};
use rustyline::error::ReadlineError;

use crate::interrupt::Interrupts;
use crate::sandbox_args::SandboxArgs;
use crate::{run, status, version};

/// An entry still incomplete at this size is dropped: nothing a person types or pastes is this
/// long, and asking the guest about ever longer source gets slower with each line.
const MAX_ENTRY_BYTES: usize = 1 << 20;

const PROMPT: &str = ">>> ";
const CONTINUATION_PROMPT: &str = "... ";

/// Runs the REPL until Ctrl-D or `sys.exit()`; the exit status is Python's.
pub(crate) fn run(args: &SandboxArgs) -> anyhow::Result<ExitCode> {
    let mut sandbox = args.build()?;
    args.files.put_into(&sandbox)?;
    println!("{}", banner(args));
    let mut editor = rustyline::DefaultEditor::new()?;
    // After the editor: creating it installs rustyline's own SIGINT handler, which this replaces
    // (while a line is read the terminal sends no SIGINT anyway: Ctrl-C is a key then).
    let interrupts = Interrupts::install()?;
    interrupts.watch(sandbox.cancel_handle());
    let history = history_file();
    if let Some(path) = &history {
        // A missing or unreadable history is not worth stopping for.
        let _ = editor.load_history(path);
    }
    let mut lines: Vec<String> = Vec::new();
    let code = 'session: loop {
        let prompt = if lines.is_empty() { PROMPT } else { CONTINUATION_PROMPT };
        let input = match editor.readline(prompt) {
            Ok(input) => input,
            Err(ReadlineError::Interrupted) => {
                println!("KeyboardInterrupt");
                lines.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break status::SUCCESS,
            Err(error) => return Err(error.into()),
        };
        if lines.is_empty() && input.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(input.as_str());
        // A paste may hold several lines: they are taken one by one, as if typed.
        for line in input.split('\n') {
            lines.push(line.trim_end_matches('\r').to_string());
            let entry = lines.join("\n");
            if entry.len() > MAX_ENTRY_BYTES {
                eprintln!("eryx: this entry is over {} KiB and still incomplete: dropped", MAX_ENTRY_BYTES >> 10);
                lines.clear();
                break;
            }
            // When the guest cannot answer, the entry runs and its error shows why.
            let (complete, _) = interrupts.around(|| sandbox.is_complete(&entry).unwrap_or(true));
            if !complete {
                continue;
            }
            lines.clear();
            let (outcome, pressed) = interrupts.around(|| sandbox.run(&Program::statement(entry)));
            match outcome {
                Err(error) if matches!(error.failure, Failure::SystemExit(_)) => {
                    break 'session run::report(Err(error));
                }
                Err(error) if pressed && matches!(error.failure, Failure::Cancelled) => {
                    eprintln!("KeyboardInterrupt");
                    sandbox = restart(args, &interrupts)?;
                }
                Err(error) if error.failure.stops_sandbox() => {
                    run::report(Err(error));
                    sandbox = restart(args, &interrupts)?;
                }
                outcome => {
                    run::report(outcome);
                }
            }
        }
    };
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    args.files.get_from(&sandbox)?;
    Ok(ExitCode::from(code))
}

/// A new sandbox after the previous one was stopped.
fn restart(args: &SandboxArgs, interrupts: &Interrupts) -> anyhow::Result<Sandbox> {
    let sandbox = args.build()?;
    args.files.put_into(&sandbox)?;
    interrupts.watch(sandbox.cancel_handle());
    eprintln!("eryx: the sandbox was stopped; a new one was started (the previous state is gone)");
    Ok(sandbox)
}

/// What the REPL says first: that this is a sandbox, and its limits.
fn banner(args: &SandboxArgs) -> String {
    let fuel = match args.fuel {
        Some(fuel) => format!("{fuel} units of fuel"),
        None => "no fuel limit".to_string(),
    };
    format!(
        "eryx {} - Python in a WebAssembly sandbox: {}, no network, no host environment.\n\
         Limits per entry: {} s wall clock, {} MiB memory, {fuel}.\n\
         Ctrl-C stops a running entry (a new sandbox then starts: the state is lost). Ctrl-D leaves.",
        version::TEXT,
        args.files.describe_host_files(),
        args.timeout,
        args.memory,
    )
}

/// Where the history is kept: `$ERYX_HISTORY` (empty: nowhere), else `~/.eryx_history`, as
/// Python keeps `~/.python_history`.
fn history_file() -> Option<PathBuf> {
    match std::env::var_os("ERYX_HISTORY") {
        Some(path) if path.is_empty() => None,
        Some(path) => Some(PathBuf::from(path)),
        None => std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(|home| PathBuf::from(home).join(".eryx_history")),
    }
}

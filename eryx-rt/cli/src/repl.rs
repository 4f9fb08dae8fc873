//! The interactive prompt: `eryx` with no program and a terminal on stdin.
//!
//! It behaves like Python's own REPL, but every entry runs in one sandbox: state persists
//! from entry to entry, each entry gets the sandbox's limits (a limit stops that sandbox, so a
//! new one is started and the user is told the state is gone). Whether an entry needs more
//! lines is asked of the guest, which decides it with `codeop` as Python's REPL does, so
//! `def`, `for`, decorators and open brackets continue with `... `. Line editing and history
//! come from rustyline; the history is kept in a file (see [`history_file`]).

use std::path::PathBuf;
use std::process::ExitCode;

use eryx_rt::{Failure, Program, Sandbox};
use rustyline::error::ReadlineError;

use crate::sandbox_args::SandboxArgs;
use crate::{interrupt, output, run, status, version};

/// An entry that is still incomplete at this size is dropped: nothing a person types or pastes
/// is this long, and asking the guest about ever longer source gets slower each line.
const MAX_ENTRY_BYTES: usize = 1 << 20;

const PROMPT: &str = ">>> ";
const CONTINUATION_PROMPT: &str = "... ";

/// Runs the REPL until Ctrl-D, `exit()` or `sys.exit()`.
pub fn run(args: &SandboxArgs) -> anyhow::Result<ExitCode> {
    let mut sandbox = args.build()?;
    println!("{}", banner(args));
    let interrupts = interrupt::Interrupts::install()?;
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = history_file();
    if let Some(path) = &history {
        // A missing or unreadable history is not worth stopping for.
        let _ = editor.load_history(path);
    }
    let mut entry = String::new();
    let code = loop {
        let prompt = if entry.is_empty() { PROMPT } else { CONTINUATION_PROMPT };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                println!("KeyboardInterrupt");
                entry.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break status::SUCCESS,
            Err(error) => return Err(error.into()),
        };
        if entry.is_empty() && line.trim().is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(line.as_str());
        // A paste may hold several lines: they are taken one by one, as if typed.
        let mut exit = None;
        for line in line.split('\n') {
            entry.push_str(line);
            entry.push('\n');
            if entry.len() > MAX_ENTRY_BYTES {
                eprintln!("eryx: this entry is over {} KiB and still incomplete: dropped", MAX_ENTRY_BYTES >> 10);
                entry.clear();
                break;
            }
            if !is_complete(&mut sandbox, &entry) {
                continue;
            }
            let statement = std::mem::take(&mut entry);
            let outcome = interrupts.while_running(|| sandbox.run(&Program::statement(statement)));
            match outcome {
                Err(error) if matches!(error.failure, Failure::SystemExit(_)) => {
                    exit = Some(run::report(Err(error)));
                    break;
                }
                Err(error) if error.failure.stops_sandbox() => {
                    run::report(Err(error));
                    sandbox = args.build()?;
                    eprintln!("eryx: a new sandbox was started; the previous state is gone");
                }
                outcome => {
                    run::report(outcome);
                }
            }
        }
        if let Some(code) = exit {
            break code;
        }
    };
    if let Some(path) = &history {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = editor.save_history(path);
    }
    Ok(ExitCode::from(code))
}

/// Asks the guest; when it cannot answer, the entry is run and its error shows why.
fn is_complete(sandbox: &mut Sandbox, entry: &str) -> bool {
    sandbox.is_complete(entry).unwrap_or(true)
}

/// What the REPL says first: that this is a sandbox, and its limits.
fn banner(args: &SandboxArgs) -> String {
    let fuel = match args.fuel {
        Some(fuel) => format!("{fuel} units of fuel"),
        None => "no fuel limit".to_string(),
    };
    format!(
        "eryx {} - Python in a WebAssembly sandbox: no host files, no network, no host environment.\n\
         Limits per entry: {} s wall clock, {} MiB memory, {fuel}. {}\n\
         Ctrl-D leaves.",
        version::TEXT,
        args.timeout,
        args.memory,
        interrupt::HELP,
    )
}

/// Where the history is kept: `$ERYX_HISTORY` (empty: none), else `eryx/history` in the
/// user's data folder.
fn history_file() -> Option<PathBuf> {
    match std::env::var_os("ERYX_HISTORY") {
        Some(path) if path.is_empty() => None,
        Some(path) => Some(PathBuf::from(path)),
        None => dirs::data_dir().map(|dir| dir.join("eryx").join("history")),
    }
}

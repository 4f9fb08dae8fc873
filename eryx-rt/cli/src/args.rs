//! The command line, parsed the way `python` parses its own.
//!
//! eryx's options come first; the program comes next (`-c CODE`, `-m MODULE`, `FILE.py`, or
//! `-` for stdin) and everything after it is the program's: it goes to `sys.argv`, even when it
//! looks like an option of eryx (`eryx -c CODE --timeout 5` gives `sys.argv == ['-c',
//! '--timeout', '5']`). clap does this by itself for a file (a trailing positional list); for
//! `-c` and `-m`, [`Cli::parse_python_style`] inserts `--` right after their value.
//!
//! Subcommands are variants of [`Command`], each with its module; a file whose name equals a
//! subcommand is run as `./NAME`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::sandbox_args::SandboxArgs;
use crate::status;

/// Run Python 3.14 in a WebAssembly sandbox, invoked the way `python` is.
#[derive(Parser, Debug)]
#[command(
    name = "eryx",
    version = crate::version::TEXT,
    override_usage = "eryx [OPTIONS] [-c CODE | -m MODULE | FILE.py | -] [ARG]...\n       eryx <COMMAND> ...",
    after_help = status::HELP,
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) run: RunArgs,
}

/// The subcommands; each lives in a module of its own.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Serve a `run_python` tool to AI agents over the Model Context Protocol (stdio).
    Mcp(crate::mcp::McpArgs),
    /// List, prune or clear the compiled-component cache (`eryx cache list|prune|clear`).
    Cache(crate::cache::CacheArgs),
}

/// Running a program (the default when no subcommand is given).
#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// Runs CODE (`sys.argv[0]` is `-c`); what follows goes to `sys.argv`.
    #[arg(short = 'c', value_name = "CODE", conflicts_with = "module")]
    pub(crate) code: Option<String>,
    /// Runs a module as a script, like `python -m` (a package runs its `__main__`).
    #[arg(short = 'm', value_name = "MODULE")]
    pub(crate) module: Option<String>,
    #[command(flatten)]
    pub(crate) sandbox: SandboxArgs,
    /// The program file (`-`: read it from stdin) and its arguments, or with -c/-m only arguments.
    #[arg(value_name = "ARGS", trailing_var_arg = true, allow_hyphen_values = true)]
    pub(crate) args: Vec<OsString>,
}

/// Where the program comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Program {
    /// `-c CODE`.
    Code(String),
    /// `-m MODULE`.
    Module(String),
    /// A file on the host, read by eryx and run in the guest.
    File(PathBuf),
    /// `-`, or no program with a stdin that is not a terminal.
    Stdin,
}

impl Cli {
    /// Parses `std::env::args_os()` with python's rule that the program's arguments are its own.
    pub(crate) fn parse_python_style() -> Self {
        let args = split_program_arguments(std::env::args_os().collect());
        let matches = Self::command().get_matches_from(args);
        Self::from_arg_matches(&matches).unwrap_or_else(|error| error.exit())
    }
}

impl RunArgs {
    /// The program, or `None` when there is none (then stdin decides: REPL or program).
    pub(crate) fn program(&self) -> Option<Program> {
        if let Some(code) = &self.code {
            return Some(Program::Code(code.clone()));
        }
        if let Some(module) = &self.module {
            return Some(Program::Module(module.clone()));
        }
        match self.args.first() {
            None => None,
            Some(first) if first == "-" => Some(Program::Stdin),
            Some(first) => Some(Program::File(PathBuf::from(first))),
        }
    }

    /// `sys.argv` as python sets it for this invocation (`argv[0]` of `-m` is replaced by the
    /// module's file inside the guest, as runpy does).
    pub(crate) fn argv(&self) -> Vec<String> {
        let rest = self.args.iter().map(|arg| arg.to_string_lossy().into_owned());
        match (&self.code, &self.module, self.args.is_empty()) {
            (Some(_), _, _) => std::iter::once("-c".to_string()).chain(rest).collect(),
            (None, Some(_), _) => std::iter::once("-m".to_string()).chain(rest).collect(),
            (None, None, true) => vec![String::new()],
            (None, None, false) => rest.collect(),
        }
    }
}

/// Inserts `--` after the value of the first `-c`/`-m`, so that clap leaves what follows to the
/// program. Options of eryx that take a value are read from clap's own description, so new
/// options need no change here.
fn split_program_arguments(mut args: Vec<OsString>) -> Vec<OsString> {
    let mut command = Cli::command();
    command.build();
    let takes_value = |arg: &clap::Arg| arg.get_num_args().is_some_and(|n| n.takes_values());
    let long_with_value: Vec<String> = command
        .get_arguments()
        .filter(|arg| takes_value(arg))
        .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
        .collect();
    let short_with_value: Vec<char> =
        command.get_arguments().filter(|arg| takes_value(arg)).filter_map(|arg| arg.get_short()).collect();
    let mut index = 1;
    while index < args.len() {
        let Some(token) = args[index].to_str() else { return args };
        if token == "--" || token == "-" || !token.starts_with('-') {
            return args;
        }
        if token.starts_with("--") {
            index += if !token.contains('=') && long_with_value.iter().any(|long| long == token) { 2 } else { 1 };
            continue;
        }
        // A cluster of short flags: the first one that takes a value takes the rest (or the next token).
        for (position, short) in token.char_indices().skip(1) {
            if !short_with_value.contains(&short) {
                continue;
            }
            let value_is_next = position + short.len_utf8() == token.len();
            let end = index + if value_is_next { 2 } else { 1 };
            if matches!(short, 'c' | 'm') && end <= args.len() {
                args.insert(end, OsString::from("--"));
                return args;
            }
            index = end - 1;
            break;
        }
        index += 1;
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(args: &[&str]) -> Vec<String> {
        let args = std::iter::once("eryx").chain(args.iter().copied()).map(OsString::from).collect();
        split_program_arguments(args).into_iter().skip(1).map(|a| a.into_string().unwrap()).collect()
    }

    fn parse(args: &[&str]) -> Cli {
        let args =
            split_program_arguments(std::iter::once("eryx").chain(args.iter().copied()).map(Into::into).collect());
        Cli::from_arg_matches(&Cli::command().try_get_matches_from(args).unwrap()).unwrap()
    }

    #[test]
    fn code_and_module_keep_what_follows() {
        assert_eq!(split(&["-c", "pass", "--timeout", "5"]), ["-c", "pass", "--", "--timeout", "5"]);
        assert_eq!(split(&["--timeout", "5", "-cpass", "x"]), ["--timeout", "5", "-cpass", "--", "x"]);
        assert_eq!(split(&["--memory=64", "-m", "json.tool", "-h"]), ["--memory=64", "-m", "json.tool", "--", "-h"]);
        assert_eq!(split(&["script.py", "-c", "x"]), ["script.py", "-c", "x"]);
        assert_eq!(split(&["-c"]), ["-c"]);
    }

    #[test]
    fn argv_is_pythons() {
        assert_eq!(parse(&["-c", "pass", "--timeout", "5", "--"]).run.argv(), ["-c", "--timeout", "5", "--"]);
        assert_eq!(parse(&["--timeout", "5", "s.py", "a", "-c", "b"]).run.argv(), ["s.py", "a", "-c", "b"]);
        assert_eq!(parse(&["-m", "json.tool", "x"]).run.argv(), ["-m", "x"]);
        assert_eq!(parse(&["-", "x"]).run.argv(), ["-", "x"]);
        assert_eq!(parse(&[]).run.argv(), [""]);
        assert_eq!(parse(&["--timeout", "5", "s.py", "--timeout"]).run.sandbox.timeout, 5.0);
        assert_eq!(parse(&["s.py"]).run.program(), Some(Program::File("s.py".into())));
        assert_eq!(parse(&["-"]).run.program(), Some(Program::Stdin));
        assert_eq!(parse(&[]).run.program(), None);
    }
}

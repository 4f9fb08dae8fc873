//! [`Program`]: what one [`Sandbox::run`](crate::Sandbox::run) runs, the way `python` runs it.
//!
//! `Sandbox::execute(code)` is the short form for module-level code without inputs. A
//! `Program` adds what a command line gives Python: where the code comes from (a file, `-c`,
//! `-m MODULE`, one REPL entry), `sys.argv`, and the bytes on stdin.

use bytes::Bytes;

use crate::bindings::exports::eryx::sandbox::python as guest;
use crate::stdin::StdinSource;

/// A program for [`Sandbox::run`](crate::Sandbox::run), with its `sys.argv` and stdin.
///
/// ```no_run
/// # let mut sandbox = eryx_rt::Sandbox::builder().build()?;
/// use eryx_rt::Program;
/// let out = sandbox.run(&Program::code("import sys; print(sys.argv, input())").argv(["-c", "a"]).stdin("hi\n"))?;
/// assert_eq!(out.stdout, "['-c', 'a'] hi\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Program {
    mode: guest::Mode,
    source: Vec<u8>,
    filename: String,
    argv: Option<Vec<String>>,
    pub(crate) stdin: StdinSource,
}

impl Program {
    fn new(mode: guest::Mode, source: Vec<u8>, filename: &str) -> Self {
        Program { mode, source, filename: filename.to_string(), argv: None, stdin: StdinSource::default() }
    }

    /// Module-level code, as `python -c CODE` runs it (tracebacks call it `<string>`).
    pub fn code(source: impl Into<String>) -> Self {
        Self::new(guest::Mode::File, source.into().into_bytes(), "<string>")
    }

    /// A file's contents, as `python FILE` runs them: bytes, so that a coding declaration
    /// (PEP 263) is honoured and bad UTF-8 is Python's `SyntaxError`. `filename` is what
    /// tracebacks and `__file__` show; it need not exist in the guest.
    pub fn file(filename: impl Into<String>, source: impl Into<Vec<u8>>) -> Self {
        Self::new(guest::Mode::File, source.into(), &filename.into())
    }

    /// A module run as `python -m NAME` runs it (runpy; a package runs its `__main__`;
    /// `sys.argv[0]` becomes the module's file). A module that cannot be found ends with
    /// [`Failure::SystemExit`](crate::Failure::SystemExit) `1` and a message on stderr, as in Python.
    pub fn module(name: impl Into<String>) -> Self {
        Self::new(guest::Mode::Module, name.into().into_bytes(), "<module>")
    }

    /// One REPL entry, as Python's interactive prompt runs it: the value of an expression
    /// statement is shown through `sys.displayhook` (printed with `repr`, kept in `_`).
    /// Tracebacks call it `<stdin>`. See [`Sandbox::is_complete`](crate::Sandbox::is_complete).
    pub fn statement(source: impl Into<String>) -> Self {
        Self::new(guest::Mode::Statement, source.into().into_bytes(), "<stdin>")
    }

    /// Sets `sys.argv` for this run (by default it stays as the previous run left it,
    /// `['']` at first).
    pub fn argv<I: IntoIterator<Item = S>, S: Into<String>>(mut self, argv: I) -> Self {
        self.argv = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// What the guest reads from stdin (`input()`, `sys.stdin`) during this run; empty by
    /// default, so a read sees the end of the input at once.
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = StdinSource::Bytes(Bytes::from(bytes.into()));
        self
    }

    /// Lets the guest read the host process's own stdin, as `python` does: nothing is read
    /// until the guest reads, and a terminal answers line by line. The `eryx` command uses it.
    pub fn host_stdin(mut self) -> Self {
        self.stdin = StdinSource::Host;
        self
    }

    /// The guest's view of this program.
    pub(crate) fn to_guest(&self) -> guest::Program {
        guest::Program {
            mode: self.mode,
            source: self.source.clone(),
            filename: self.filename.clone(),
            argv: self.argv.clone(),
        }
    }
}

//! The errors of eryx-rt: one enum for creating a sandbox, one for running code in it.
//!
//! Errors keep their causes: `source()` leads to wasmtime's error, the I/O error or the
//! linker's error, so `{:#}` with anyhow (or any error reporter) shows the whole chain, and
//! the message of each level is a sentence naming the thing at fault and, where there is one,
//! the fix.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::output::Output;

/// Why a sandbox (or a runtime) could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The native extensions could not be linked with the base libraries.
    #[error("cannot link the native extensions{}", origins_note(origins))]
    Link {
        /// What the linker refused.
        #[source]
        error: eryx_libs::LinkError,
        /// Which input (wheel, folder) each linked extension came from: (guest path, input).
        origins: Vec<(String, String)>,
    },
    /// A wheel could not be read or is not acceptable.
    #[error(transparent)]
    Wheel(#[from] eryx_libs::WheelError),
    /// wasmtime could not create an engine with eryx's configuration (an unsupported host).
    #[error("cannot create the wasmtime engine")]
    Engine(#[source] wasmtime::Error),
    /// wasmtime rejected the component (it is not valid or cannot be compiled here).
    #[error("cannot compile the component")]
    Compile(#[source] wasmtime::Error),
    /// The precompiler cannot compile for the CPU baseline or target it was given.
    #[error(
        "cannot compile for the CPU {cpu:?}: give a Cranelift preset of the target architecture (x86-64, x86-64-v2, x86-64-v3, haswell, ...), optionally with +has_<feature> settings"
    )]
    Cpu {
        /// The CPU baseline as given.
        cpu: String,
        /// wasmtime's error.
        #[source]
        source: wasmtime::Error,
    },
    /// The component could not be pre-initialised.
    #[error(transparent)]
    Preinit(#[from] PreinitError),
    /// The component could not be instantiated (missing import, start-up trap).
    #[error("cannot instantiate the component")]
    Instantiate(#[source] wasmtime::Error),
    /// A file or folder eryx needs (cache, site-packages) could not be read or written.
    #[error("cannot use {}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A helper thread could not be started.
    #[error("cannot start {what}")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// `from_embedded` was called but the binary embeds no component.
    #[error(
        "no component is embedded in this binary: call eryx_build from build.rs and eryx_rt::include_component!() (see eryx-build's docs)"
    )]
    NothingEmbedded,
    /// Wheels or extensions were added to a builder made by `from_embedded`.
    #[error(
        "an embedded component is linked at build time: list extra wheels in [package.metadata.eryx] instead of adding them at run time"
    )]
    EmbeddedWithInputs,
    /// A wheel or extension file changed on disk while the sandbox was being built (it was read
    /// twice: once recognised by its file identity, then for its contents).
    #[error("the inputs changed on disk while the sandbox was being built ({inputs}): build it again")]
    InputsChanged {
        /// The inputs (paths or names).
        inputs: String,
    },
    /// A host folder could not be mounted.
    #[error(transparent)]
    Mount(#[from] crate::fs::MountError),
}

fn origins_note(origins: &[(String, String)]) -> String {
    let mut inputs: Vec<&str> = origins.iter().map(|(_, origin)| origin.as_str()).filter(|o| !o.is_empty()).collect();
    inputs.sort_unstable();
    inputs.dedup();
    if inputs.is_empty() { String::new() } else { format!(" of {}", inputs.join(", ")) }
}

/// Why a pre-initialised snapshot could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreinitError {
    /// A module listed for pre-initialisation raised while it was imported.
    #[error("cannot pre-initialise the component: importing {imports:?} failed:\n{traceback}{stderr}")]
    Import {
        /// The modules that were to be imported.
        imports: Vec<String>,
        /// Python's traceback of the failure.
        traceback: String,
        /// What the guest printed on stderr meanwhile.
        stderr: String,
    },
    /// The guest trapped (or ran past the time limit of pre-initialisation).
    #[error("cannot pre-initialise the component: the guest trapped{}", stderr_note(stderr))]
    Trap {
        /// wasmtime's error.
        #[source]
        error: wasmtime::Error,
        /// What the guest printed on stderr before it.
        stderr: String,
    },
    /// A step of making the snapshot failed (instrumenting, compiling, instantiating, snapshotting).
    #[error("cannot pre-initialise the component: cannot {step}")]
    Step {
        /// The step, such as `instrument` or `snapshot`.
        step: &'static str,
        /// wasmtime's error.
        #[source]
        error: wasmtime::Error,
    },
}

fn stderr_note(stderr: &str) -> String {
    if stderr.is_empty() { String::new() } else { format!("; it printed:\n{stderr}") }
}

/// A Python exception that escaped the executed code.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PythonException {
    /// The exception's class name, such as `ZeroDivisionError`.
    pub type_name: String,
    /// `str(exception)`.
    pub message: String,
    /// The traceback as Python prints it (ends with `TypeName: message`).
    pub traceback: String,
}

impl PythonException {
    pub(crate) fn new(type_name: String, message: String, traceback: String) -> Self {
        PythonException { type_name, message, traceback }
    }
}

impl std::fmt::Display for PythonException {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.type_name)
        } else {
            write!(f, "{}: {}", self.type_name, self.message)
        }
    }
}

/// A trap of the guest (a crash in native code, stack exhaustion, ...), with wasmtime's error.
#[derive(Clone, Debug)]
pub struct GuestTrap {
    error: Arc<wasmtime::Error>,
}

impl GuestTrap {
    pub(crate) fn new(error: wasmtime::Error) -> Self {
        GuestTrap { error: Arc::new(error) }
    }

    /// wasmtime's error, with the guest's backtrace as its context.
    pub fn error(&self) -> &wasmtime::Error {
        &self.error
    }

    /// The kind of trap, when wasmtime names one.
    pub fn trap_code(&self) -> Option<wasmtime::Trap> {
        self.error.downcast_ref::<wasmtime::Trap>().copied()
    }
}

impl std::fmt::Display for GuestTrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The whole chain: the trap and the guest backtrace wasmtime attached to it.
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for GuestTrap {}

/// Why an execution did not complete normally.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The code raised an exception; the sandbox stays usable. (Boxed: it is the largest
    /// failure, and every `execute` result would otherwise carry its size.)
    #[error("{0}")]
    Python(Box<PythonException>),
    /// The code raised `SystemExit` (`sys.exit()`, `exit()`): it ended early with this exit
    /// status, the one `python` would exit with (`None` is 0; a code that is not an int was
    /// printed to stderr and gives 1; an int keeps its low 32 bits, and a process exit status
    /// its low 8). An error even for status 0, so that a program that exited can be told from
    /// one that ran to its end; the sandbox stays usable. `os._exit(n)` gives status `n` too,
    /// but it ends the sandbox as it ends a process (no clean-up runs; later calls fail with
    /// [`Failure::Stopped`]).
    #[error("the code exited with status {0}")]
    SystemExit(i32),
    /// The wall-clock limit was reached; the sandbox is stopped.
    #[error("execution timed out after {0:?} (raise it with SandboxBuilder::timeout or --timeout)")]
    Timeout(Duration),
    /// The guest needed more memory than allowed; the sandbox is stopped.
    #[error("memory limit of {} MiB reached (raise it with SandboxBuilder::memory_limit or --memory)", limit_bytes >> 20)]
    MemoryLimit {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// The fuel budget ran out; the sandbox is stopped.
    #[error("fuel budget of {0} units exhausted")]
    FuelExhausted(u64),
    /// The guest trapped (stack overflow, a crash in native code); the sandbox is stopped.
    #[error("the guest trapped: {0}")]
    Trap(GuestTrap),
    /// An earlier execution stopped this sandbox; create a new one.
    #[error("this sandbox was stopped by an earlier failure ({0}); create a new sandbox")]
    Stopped(String),
    /// A [`CancelHandle`](crate::CancelHandle) cancelled the execution; the sandbox is stopped.
    #[error("execution cancelled")]
    Cancelled,
}

impl Failure {
    /// True for the failures that end the sandbox (all but a Python exception or an exit).
    pub fn stops_sandbox(&self) -> bool {
        !matches!(self, Failure::Python(_) | Failure::SystemExit(_))
    }

    /// True when a configured limit (time, memory, fuel) was hit.
    pub fn is_limit(&self) -> bool {
        matches!(self, Failure::Timeout(_) | Failure::MemoryLimit { .. } | Failure::FuelExhausted(_))
    }
}

/// A failed execution, with whatever the code printed before it failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{failure}")]
#[non_exhaustive]
pub struct ExecuteError {
    /// What went wrong.
    pub failure: Failure,
    /// What the code printed before it failed.
    pub output: Output,
}

impl ExecuteError {
    pub(crate) fn new(failure: Failure, output: Output) -> Self {
        ExecuteError { failure, output }
    }
}

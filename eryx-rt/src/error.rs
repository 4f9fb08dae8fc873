//! The errors of eryx-rt: one enum for creating a sandbox, one for running code in it.

use std::path::PathBuf;
use std::time::Duration;

use crate::Output;

/// Why a sandbox could not be created.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The native extensions could not be linked with the base libraries.
    #[error("{error}{}", origins_note(origins))]
    Link {
        error: eryx_libs::LinkError,
        /// Which input (wheel, folder) each linked extension came from.
        origins: Vec<(String, String)>,
    },
    /// A wheel could not be read or is not acceptable.
    #[error(transparent)]
    Wheel(#[from] eryx_libs::WheelError),
    /// wasmtime rejected the component (it is not valid or cannot be compiled here).
    #[error("cannot compile the component: {0}")]
    Compile(String),
    /// The component could not be pre-initialised (a pre-initialisation import failed, or
    /// the snapshot could not be taken).
    #[error("cannot pre-initialise the component: {0}")]
    Preinit(String),
    /// The component could not be instantiated (missing import, start-up trap).
    #[error("cannot instantiate the component: {0}")]
    Instantiate(String),
    /// A file eryx needs (cache, site-packages) could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
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
}

fn origins_note(origins: &[(String, String)]) -> String {
    origins.iter().map(|(path, origin)| format!("\n  {path} comes from {origin}")).collect()
}

/// A Python exception that escaped the executed code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonException {
    /// The exception's class name, such as `ZeroDivisionError`.
    pub type_name: String,
    /// `str(exception)`.
    pub message: String,
    /// The traceback as Python prints it (ends with `TypeName: message`).
    pub traceback: String,
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

/// Why an execution did not complete normally.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Failure {
    /// The code raised an exception; the sandbox stays usable.
    #[error("{0}")]
    Python(PythonException),
    /// The wall-clock limit was reached; the sandbox is stopped.
    #[error("execution timed out after {0:?} (raise it with SandboxBuilder::timeout or --timeout)")]
    Timeout(Duration),
    /// The guest needed more memory than allowed; the sandbox is stopped.
    #[error("memory limit of {} MiB reached (raise it with SandboxBuilder::memory_limit or --memory)", limit_bytes >> 20)]
    MemoryLimit { limit_bytes: usize },
    /// The fuel budget ran out; the sandbox is stopped.
    #[error("fuel budget of {0} units exhausted")]
    FuelExhausted(u64),
    /// The guest trapped (stack overflow, a crash in native code); the sandbox is stopped.
    #[error("the guest trapped: {0}")]
    Trap(String),
    /// An earlier execution stopped this sandbox; create a new one.
    #[error("this sandbox was stopped by an earlier failure ({0}); create a new sandbox")]
    Stopped(String),
}

impl Failure {
    /// True for the failures that end the sandbox (all but a Python exception).
    pub fn stops_sandbox(&self) -> bool {
        !matches!(self, Failure::Python(_))
    }

    /// True when a configured limit (time, memory, fuel) was hit.
    pub fn is_limit(&self) -> bool {
        matches!(self, Failure::Timeout(_) | Failure::MemoryLimit { .. } | Failure::FuelExhausted(_))
    }
}

/// A failed execution, with whatever the code printed before it failed.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{failure}")]
pub struct ExecuteError {
    pub failure: Failure,
    pub output: Output,
}

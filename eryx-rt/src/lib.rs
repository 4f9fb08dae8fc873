//! eryx-rt runs untrusted Python 3.14 in a WebAssembly sandbox (wasmtime, component model).
//!
//! ```no_run
//! let mut sandbox = eryx_rt::Sandbox::builder()
//!     .timeout(std::time::Duration::from_secs(5))
//!     .memory_limit(128 << 20)
//!     .build()?;
//! let output = sandbox.execute("print(sum(range(10)))")?;
//! assert_eq!(output.stdout, "45\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Each [`Sandbox`] is one CPython interpreter in its own wasmtime store: its own memory cap,
//! wall-clock timeout (epoch interruption) and optional fuel budget. The guest sees a
//! read-only standard library and nothing else of the host. A limit or a crash stops that
//! sandbox only; the process goes on and can create new ones.
//!
//! Start-up cost is dominated by compiling the component, which happens once per machine:
//! compiled code is cached on disk ([`cache_dir`]) and in memory, so later sandboxes are
//! created in milliseconds.

mod bindings {
    wasmtime::component::bindgen!({
        path: "../libs/wit",
        world: "sandbox",
    });
}

mod cache;
mod embedded;
mod embedded_user;
mod engine;
mod error;
mod late;
mod output;
mod preinit;
mod sandbox;
mod stdlib;

pub use cache::{Source as ComponentSource, cache_dir};
pub use embedded_user::Embedded;
pub use error::{BuildError, ExecuteError, Failure, PythonException};
pub use sandbox::{DEFAULT_MEMORY_LIMIT, DEFAULT_OUTPUT_LIMIT, DEFAULT_TIMEOUT, Output, Sandbox, SandboxBuilder};

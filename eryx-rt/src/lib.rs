//! eryx-rt runs untrusted Python 3.14 in a WebAssembly sandbox (wasmtime, component model).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut sandbox = eryx_rt::Sandbox::builder()
//!     .timeout(std::time::Duration::from_secs(5))
//!     .memory_limit(128 << 20)
//!     .build()?;
//! let output = sandbox.execute("print(sum(range(10)))")?;
//! assert_eq!(output.stdout, "45\n");
//! # Ok(())
//! # }
//! ```
//!
//! Each [`Sandbox`] is one CPython interpreter in its own wasmtime store: its own memory cap,
//! wall-clock timeout (epoch interruption) and optional fuel budget. The guest sees a
//! read-only standard library, its own private scratch space in memory (`/tmp` and the working
//! folder `/home/sandbox`, bounded, gone with the sandbox; the host reaches it through
//! [`Sandbox::files`]), the host folders it was given ([`SandboxBuilder::mount`]), and nothing
//! else of the host. A limit or a crash stops that
//! sandbox only; the process goes on and can create new ones.
//!
//! Start-up cost is dominated by compiling the component and starting Python, which happen
//! once per machine: compiled code and a pre-initialised snapshot are cached on disk and in
//! memory by a [`Runtime`], so later sandboxes are created in about a millisecond.
//! `Sandbox::builder()` uses the default runtime; [`Runtime::builder`] makes others (another
//! cache folder, no snapshots) and [`Runtime::sandbox`] starts a sandbox on one.
//!
//! # Configuration
//!
//! The environment only provides defaults, read when a [`RuntimeBuilder`] is made (so once
//! for the default runtime); each has a builder method that wins over it.
//!
//! | variable | default of | meaning |
//! |---|---|---|
//! | `ERYX_CACHE_DIR` | [`RuntimeBuilder::cache_dir`] | the cache folder; else the user cache folder (`$XDG_CACHE_HOME/eryx`, `~/.cache/eryx`); with neither, a temporary folder removed when the runtime ends or the process exits (if the process is killed, by the next runtime that makes one), and compiled code kept in memory only ([`RuntimeBuilder::no_cache_dir`]) |
//! | `ERYX_CACHE_LIMIT` | [`RuntimeBuilder::cache_limit`] | the cap of everything in the cache folder (compiled code, the standard library, site-packages trees, the link and wheel indexes, downloaded wheels; bytes, or `500M`, `4G`; default [`DEFAULT_CACHE_LIMIT`], 4 GiB): a new compiled entry removes the least recently used entries that no process uses ([`ComponentStore`], `eryx cache`) |
//! | `ERYX_NO_PREINIT` | [`RuntimeBuilder::preinit`] | `1`: sandboxes start Python themselves instead of restoring the snapshot |
//!
//! # Layers
//!
//! Modules depend only on modules below them (no cycles):
//!
//! ```text
//!  sandbox     SandboxBuilder, Sandbox: one match over the source, one load, one instantiation
//!     |
//!  runtime     Runtime, RuntimeBuilder: engines, caches, folder, configuration; load()
//!     |
//!  source      Source: base | embedded | late-linked -> identity, wasm, site tree, imports
//!     |  \---------------------+-----------+
//!  preinit     late           embedded    base      snapshot / late linking + link index /
//!     |          |               |                   eryx-build's outputs / the base component
//!  component   ComponentCache, Loaded: compiled code in memory and on disk, instance-pre
//!     |
//!  host        State, limiter, linkers, guest WASI context         clocks, stdlib, exec
//!     |
//!  host_calls  the guest's calls to host callbacks (per store)
//!     |
//!  fs          scratch space (in memory), its wasi:filesystem, host mounts, Files
//!     |
//!  callbacks   engine      files       output      error           (leaves)
//! ```
//!
//! * `engine`: wasmtime engines (plain, fuel-metering) and the epoch ticker.
//! * `entry_check`: checking a cache file by its recorded identity, hashing it only when that changed.
//! * `bytecode`: bytecode packs of the Python trees, so imports compile nothing (made by a
//!   trusted guest through `preinit`'s engine; sits beside `preinit` in the layers).
//! * `files`: the cache folder, atomic writes and folder installs.
//! * `output`: [`Output`] and the captured stdout/stderr streams.
//! * `error`: [`BuildError`], [`ExecuteError`], [`Failure`].
//! * `host`: the store's host state and the linkers (host interfaces are added there).
//! * `callbacks`: [`Callback`]s the guest can call and their [`CallbackLimits`];
//!   `host_calls`: the WIT `host-calls` interface over them, for one store.
//! * `program`: [`Program`], what [`Sandbox::run`] runs (file, `-c`, `-m`, REPL entry; argv, stdin);
//!   `stdin`: the guest's stdin, refilled before each run (beside `output` in the layers).
//! * `exec`: an execute raced against its deadline and [`CancelHandle`]; the blocking wrapper.
//! * `fs`: the guest's file system: a private, bounded, in-memory scratch space per sandbox
//!   (the scratch folders above), host folders mounted on request, read-only images of the trees a
//!   precompiled binary carries (served from its bytes, never unpacked), and [`Files`] for the host.
//! * `component`: compiled components by key ([`LoadedFrom`] says from where);
//!   `component_store`: their disk entries, capped, least recently used out first, locked
//!   while in use ([`ComponentStore`]; beside `component` in the layers); `cache_entries`: the
//!   cache folder's other entries (trees, the link and wheel indexes, downloads) under the same cap and
//!   locks, and the runtime's hold on the trees it mounts (below `component_store`).
//! * `preinit`: pre-initialised snapshots (wasmtime-wizer); `fixed_metadata`: the host-free
//!   file metadata of reproducible ones (beside `host`).
//! * [`precompile`]: snapshots compiled at build time for embedded components (eryx-build's
//!   `precompile` option) and loading them; beside `preinit` in the layers.
//! * `late`, `embedded`, `base`: the three ways a component is linked; `source` unites them.
//!   `wheel_index`: late-link inputs recognised by their files' identity (below `late`).

/// Host bindings of the guest's world (`libs/wit`), generated by wasmtime. Sandboxes run the
/// guest asynchronously: every import may wait, every export is awaited.
#[allow(missing_docs, unreachable_pub)]
mod bindings {
    wasmtime::component::bindgen!({
        path: "../libs/wit",
        world: "sandbox",
        imports: { default: async },
        exports: { default: async },
    });
}

/// Pre-initialisation runs the guest synchronously, in its own store.
#[allow(missing_docs, unreachable_pub)]
mod preinit_bindings {
    wasmtime::component::bindgen!({
        path: "../libs/wit",
        world: "sandbox",
    });
}

mod base;
mod bytecode;
mod cache_entries;
mod callbacks;
mod clocks;
mod component;
mod component_store;
mod component_walk;
mod embedded;
mod engine;
mod entry_check;
mod error;
mod exec;
mod files;
mod fixed_metadata;
mod fold_globals;
mod fs;
mod host;
mod host_calls;
mod late;
mod late_input;
mod output;
pub mod precompile;
mod preinit;
mod program;
mod runtime;
mod sandbox;
mod source;
mod stdin;
mod stdlib;
mod trim;
mod wheel_index;

pub use callbacks::{Callback, CallbackError, CallbackLimits, CallbackResult};
pub use component::LoadedFrom;
pub use component_store::{
    CacheEntry, ComponentStore, DEFAULT_CACHE_LIMIT, EntryInfo, EntryKind, PruneReport, parse_size, unmanaged,
};
pub use embedded::Embedded;
pub use error::{BuildError, ExecuteError, Failure, GuestTrap, PreinitError, PythonException};
pub use exec::{CancelHandle, block_on};
#[doc(hidden)]
pub use fs::bench_new_scratch;
pub use fs::{
    DEFAULT_SCRATCH_BYTES, DEFAULT_SCRATCH_ENTRIES, FileEntry, FileKind, Files, FilesError, HOME_GUEST_DIR, Mount,
    MountError, ScratchLimits, TMP_GUEST_DIR,
};
pub use output::{DEFAULT_OUTPUT_LIMIT, Output, OutputHandler, Stream};
pub use program::Program;
pub use runtime::{Runtime, RuntimeBuilder};
pub use sandbox::{DEFAULT_MEMORY_LIMIT, DEFAULT_TIMEOUT, Sandbox, SandboxBuilder};

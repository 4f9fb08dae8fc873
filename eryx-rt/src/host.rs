//! The host side of a guest's store: its WASI context, its resource table, its memory limiter,
//! and the linker that offers the host's interfaces to the component.
//!
//! Sandboxes and pre-initialisation use the same [`State`], the same interfaces and the same
//! [`guest_wasi`] mounts, so a snapshot is taken in exactly the world a sandbox restores it
//! into. Host interfaces (callbacks, file systems, ...) are added in both linkers and their
//! state in [`State`]: then both paths see them. Sandboxes run the guest asynchronously
//! ([`async_linker`], see `crate::exec`); pre-initialisation runs it synchronously ([`linker`]).

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::callbacks::Registry;
use crate::error::BuildError;
use crate::fs::{self, Files, FsHost, FsView, Mount, Scratch, ScratchLimits, TreeAt, Trees};
use crate::host_calls::HostCalls;
use crate::output::CapturedOutput;

/// The host state of one guest's store.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    /// When the running call must stop (checked at each epoch tick).
    pub(crate) deadline: Instant,
    /// The guest's calls to host callbacks.
    pub(crate) host_calls: HostCalls,
    /// The guest's private scratch space (`/tmp`, `/home/sandbox`), see [`crate::fs`].
    scratch: Scratch,
}

impl State {
    /// A state whose guest may grow its linear memory up to `memory_limit` bytes, with an empty
    /// scratch space bounded by `scratch_limits`.
    pub(crate) fn new(wasi: WasiCtx, memory_limit: usize, scratch_limits: ScratchLimits) -> Self {
        State {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter { limit: memory_limit, refused: false },
            deadline: Instant::now(),
            host_calls: HostCalls::new(Arc::new(Registry::default())),
            scratch: Scratch::new(scratch_limits),
        }
    }

    /// This state, showing the guest the trees of `trees` that are images (the host folders
    /// among them are preopened in its WASI context by [`guest_wasi`]).
    pub(crate) fn with_trees(mut self, trees: &Trees) -> Self {
        for (tree, guest) in trees.with_guest_paths() {
            if let TreeAt::Image(image) = tree {
                self.scratch.mount_image(image.clone(), guest);
            }
        }
        self
    }

    /// The host's handle on the scratch space.
    pub(crate) fn files(&self) -> Files {
        self.scratch.files()
    }

    /// This state, offering the callbacks of `registry` to the guest.
    pub(crate) fn with_callbacks(mut self, registry: Arc<Registry>) -> Self {
        self.host_calls = HostCalls::new(registry);
        self
    }
}

impl FsHost for State {
    fn fs(&mut self) -> FsView<'_> {
        FsView {
            wasi: wasmtime_wasi::filesystem::WasiFilesystemCtxView {
                ctx: self.wasi.filesystem(),
                table: &mut self.table,
            },
            scratch: &mut self.scratch,
        }
    }
}

/// Selects the host-call state of a [`State`] for the generated `add_to_linker` functions.
struct HostCallsOf;

impl HasData for HostCallsOf {
    type Data<'a> = &'a mut HostCalls;
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Caps linear memory; remembers a refusal so a following trap is reported as the limit.
pub(crate) struct MemoryLimiter {
    limit: usize,
    refused: bool,
}

impl MemoryLimiter {
    /// Whether a memory growth was refused (a trap after it is the memory limit).
    pub(crate) fn refused(&self) -> bool {
        self.refused
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.limit;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// The linker of pre-initialisation: WASI 0.2 (its file system with the scratch space added,
/// [`crate::fs`]) and host calls, synchronous.
pub(crate) fn linker(engine: &Engine) -> Linker<State> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("WASI interfaces register once on a new linker");
    fs::add_to_linker_sync(&mut linker).expect("the scratch file system replaces WASI's once");
    crate::preinit_bindings::eryx::sandbox::host_calls::add_to_linker::<State, HostCallsOf>(&mut linker, |state| {
        &mut state.host_calls
    })
    .expect("host calls register once on a new linker");
    linker
}

/// The linker of sandboxes: WASI 0.2 (its file system with the scratch space added) and host
/// calls, asynchronous (a waiting guest does not block its thread, and its waits can be
/// abandoned at the deadline).
pub(crate) fn async_linker(engine: &Engine) -> Linker<State> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("WASI interfaces register once on a new linker");
    fs::add_to_linker_async(&mut linker).expect("the scratch file system replaces WASI's once");
    crate::bindings::eryx::sandbox::host_calls::add_to_linker::<State, HostCallsOf>(&mut linker, |state| {
        &mut state.host_calls
    })
    .expect("host calls register once on a new linker");
    linker
}

/// The WASI context of every guest, sandbox or pre-initialisation alike: captured stdio, no
/// network, no environment, the standard library and site-packages mounted read-only (those
/// that are host folders; images are added to the [`State`] by [`State::with_trees`]), and
/// the user's host-folder `mounts` (checked by the caller). The scratch space is in [`State`].
pub(crate) fn guest_wasi(
    stdout: &CapturedOutput,
    stderr: &CapturedOutput,
    trees: &Trees,
    mounts: &[Mount],
) -> Result<WasiCtxBuilder, BuildError> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone()).stderr(stderr.clone());
    wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
    for (tree, guest) in trees.with_guest_paths() {
        let TreeAt::Host(host) = tree else { continue };
        wasi.preopened_dir(host, guest, FsPerms::ReadOnly).map_err(|e| BuildError::Io {
            path: host.to_path_buf(),
            source: std::io::Error::other(e.into_boxed_dyn_error()),
        })?;
    }
    for mount in mounts {
        mount.apply(&mut wasi)?;
    }
    Ok(wasi)
}

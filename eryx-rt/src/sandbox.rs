//! [`Sandbox`]: one CPython interpreter in its own wasmtime store, with its own limits.
//!
//! A sandbox is created from a compiled component ([`crate::cache`]) through a pre-resolved
//! [`SandboxPre`](crate::bindings::SandboxPre), so creation is a store plus an instantiation.
//! The guest sees the read-only standard library, optionally read-only site-packages, and
//! nothing else of the host: no other files, no environment variables, no network.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings;
use crate::cache::Source;
use crate::embedded;
use crate::embedded_user::Embedded;
use crate::engine::{EPOCH_TICK, engine};
use crate::error::{BuildError, ExecuteError, Failure, PythonException};
use crate::late::{self, Input};
use crate::output::CapturedOutput;

/// Default wall-clock limit of one `execute` call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on the guest's linear memory.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;
/// Default cap on what one `execute` call may print, per stream.
pub const DEFAULT_OUTPUT_LIMIT: usize = 16 << 20;

/// What one execution printed, and how long it took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    /// True when output beyond the output limit was dropped.
    pub truncated: bool,
}

/// A compiled component, ready to instantiate.
pub(crate) struct Loaded {
    pre: bindings::SandboxPre<State>,
}

impl Loaded {
    pub(crate) fn new(component: Component) -> Result<Self, BuildError> {
        let instance_pre =
            linker().instantiate_pre(&component).map_err(|e| BuildError::Instantiate(format!("{e:#}")))?;
        let pre = bindings::SandboxPre::new(instance_pre).map_err(|e| BuildError::Instantiate(format!("{e:#}")))?;
        Ok(Loaded { pre })
    }
}

fn linker() -> &'static Linker<State> {
    static LINKER: OnceLock<Linker<State>> = OnceLock::new();
    LINKER.get_or_init(|| {
        let mut linker = Linker::new(engine());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("WASI interfaces register once");
        linker
    })
}

/// The host state of one sandbox's store.
pub(crate) struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Caps linear memory; remembers a refusal so a following trap is reported as the limit.
struct MemoryLimiter {
    limit: usize,
    refused: bool,
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

/// Configures and creates a [`Sandbox`].
#[derive(Clone, Debug)]
pub struct SandboxBuilder {
    pub(crate) timeout: Duration,
    pub(crate) memory_limit: usize,
    pub(crate) fuel: Option<u64>,
    pub(crate) output_limit: usize,
    pub(crate) inputs: Vec<Input>,
    /// Modules imported before the snapshot is taken (`None`: no snapshot, see [`crate::preinit`]).
    pub(crate) preinit_imports: Option<Vec<String>>,
    pub(crate) embedded: Option<&'static Embedded>,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        SandboxBuilder {
            timeout: DEFAULT_TIMEOUT,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            fuel: None,
            output_limit: DEFAULT_OUTPUT_LIMIT,
            inputs: Vec::new(),
            preinit_imports: (!crate::preinit::disabled_by_env()).then(Vec::new),
            embedded: None,
        }
    }
}

impl SandboxBuilder {
    /// Wall-clock limit of each `execute` call (enforced by epoch interruption, 10 ms steps).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Cap on the guest's linear memory, in bytes. Python sees `MemoryError` when an
    /// allocation does not fit; a guest that cannot recover is stopped with a memory error.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Budget of wasm fuel (roughly, instructions) for each `execute` call. Unlimited by default.
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// Cap on what one `execute` may print on each of stdout and stderr, in bytes.
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }

    /// Adds a native extension module (a wasm32-wasi PIC shared library). `path` is where it
    /// lives below site-packages, e.g. `mymod.cpython-314-wasm32-wasi.so` or
    /// `pkg/_speedups.cpython-314-wasm32-wasi.so`; `import` finds it there.
    pub fn with_native_extension(mut self, path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.inputs.push(Input::Extension { path: path.into(), bytes: bytes.into().into() });
        self
    }

    /// Adds a wheel file: its files go to site-packages, its native extensions are linked.
    pub fn with_wheel(mut self, path: impl Into<PathBuf>) -> Self {
        self.inputs.push(Input::WheelFile(path.into()));
        self
    }

    /// Adds a wheel from memory; `name` identifies it in error messages.
    pub fn with_wheel_bytes(mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.inputs.push(Input::WheelBytes { name: name.into(), bytes: bytes.into().into() });
        self
    }

    /// Adds the files of an installed site-packages folder (e.g. from `pip install --target`);
    /// `.so` files in it are linked as native extensions.
    pub fn with_site_packages(mut self, dir: impl Into<PathBuf>) -> Self {
        self.inputs.push(Input::SiteDir(dir.into()));
        self
    }

    /// Modules to import before the snapshot of the component is taken, so that sandboxes
    /// start with them in `sys.modules` (code still writes `import json` to use one). The
    /// snapshot is made once per machine and list (cached on disk like compiled code); a
    /// module that fails to import makes `build` fail. Turns snapshots on if they were off.
    pub fn with_preinit_imports<I: IntoIterator<Item = S>, S: Into<String>>(mut self, modules: I) -> Self {
        self.preinit_imports = Some(modules.into_iter().map(Into::into).collect());
        self
    }

    /// Whether sandboxes start from a pre-initialised snapshot (Python already started): on by
    /// default, unless the environment variable `ERYX_NO_PREINIT=1` is set. Off, every
    /// sandbox starts Python on its first `execute` (about half a second).
    pub fn preinit(mut self, enabled: bool) -> Self {
        self.preinit_imports = match (enabled, self.preinit_imports.take()) {
            (true, imports) => Some(imports.unwrap_or_default()),
            (false, _) => None,
        };
        self
    }

    /// Creates the sandbox. Without extensions this uses the pre-linked base component;
    /// with them, a component linked for exactly this set (cached in memory and on disk).
    pub fn build(self) -> Result<Sandbox, BuildError> {
        if let Some(embedded) = self.embedded {
            if !self.inputs.is_empty() {
                return Err(BuildError::EmbeddedWithInputs);
            }
            embedded.check()?;
            let site_dir = embedded.site_dir()?;
            // The crate's `preinit` list applies unless this builder chose its own imports.
            let imports = self
                .preinit_imports
                .as_ref()
                .map(|own| if own.is_empty() { embedded.preinit_imports() } else { own.clone() });
            let (loaded, source) =
                crate::preinit::load(&embedded.cache_key(), imports.as_deref(), site_dir.as_deref(), || {
                    Ok(embedded.wasm())
                })?;
            return self.instantiate(&loaded, source, site_dir.as_deref());
        }
        if self.inputs.is_empty() {
            let imports = self.preinit_imports.as_deref();
            let (loaded, source) =
                crate::preinit::load(
                    &embedded::base_component_key(),
                    imports,
                    None,
                    || Ok(embedded::base_component()),
                )?;
            return self.instantiate(&loaded, source, None);
        }
        let prepared = late::prepare(&self.inputs)?;
        let imports = self.preinit_imports.as_deref();
        let (loaded, source) =
            crate::preinit::load(&prepared.component_key, imports, Some(&prepared.site_dir), || {
                let wasm = prepared.link()?;
                // A snapshot imports from site-packages: the tree must be in place first.
                prepared.install_site()?;
                Ok(wasm)
            })?;
        let site_dir = prepared.install_site()?;
        self.instantiate(&loaded, source, Some(site_dir))
    }

    fn instantiate(&self, loaded: &Loaded, source: Source, site_dir: Option<&Path>) -> Result<Sandbox, BuildError> {
        let started = Instant::now();
        let stdout = CapturedOutput::new(self.output_limit);
        let stderr = CapturedOutput::new(self.output_limit);
        let stdlib = crate::stdlib::stdlib_dir()?;
        let mut wasi = guest_wasi(&stdout, &stderr, stdlib, site_dir)?;
        wasi.monotonic_clock(crate::preinit::SandboxMonotonicClock::new());
        let state = State {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter { limit: self.memory_limit, refused: false },
        };
        let mut store = Store::new(engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(ticks(self.timeout));
        store.epoch_deadline_trap();
        store.set_fuel(u64::MAX).expect("fuel is enabled in the engine");
        let bindings = loaded.pre.instantiate(&mut store).map_err(|e| BuildError::Instantiate(format!("{e:#}")))?;
        tracing::debug!(?source, elapsed = ?started.elapsed(), "sandbox ready");
        let limits = Limits { timeout: self.timeout, memory_limit: self.memory_limit, fuel: self.fuel };
        Ok(Sandbox { store, bindings, stdout, stderr, limits, stopped: None, source })
    }
}

/// The WASI context of every guest, sandbox or pre-initialisation alike: captured stdio, no
/// network, no environment, the standard library and site-packages mounted read-only.
pub(crate) fn guest_wasi(
    stdout: &CapturedOutput,
    stderr: &CapturedOutput,
    stdlib: &Path,
    site_dir: Option<&Path>,
) -> Result<WasiCtxBuilder, BuildError> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone()).stderr(stderr.clone());
    wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
    let mounts = [(Some(stdlib), eryx_libs::STDLIB_GUEST_DIR), (site_dir, eryx_libs::SITE_PACKAGES_GUEST_DIR)];
    for (host, guest) in mounts {
        let Some(host) = host else { continue };
        wasi.preopened_dir(host, guest, FsPerms::ReadOnly).map_err(|e| BuildError::Io {
            path: host.to_path_buf(),
            source: std::io::Error::other(format!("{e:#}")),
        })?;
    }
    Ok(wasi)
}

fn ticks(timeout: Duration) -> u64 {
    (timeout.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64).max(1)
}

/// The per-execute limits a sandbox keeps from its builder (not its inputs: those may be large).
#[derive(Clone, Copy, Debug)]
struct Limits {
    timeout: Duration,
    memory_limit: usize,
    fuel: Option<u64>,
}

/// An isolated CPython 3.14 interpreter. Globals persist from one `execute` to the next.
pub struct Sandbox {
    store: Store<State>,
    bindings: bindings::Sandbox,
    stdout: CapturedOutput,
    stderr: CapturedOutput,
    limits: Limits,
    stopped: Option<String>,
    source: Source,
}

impl Sandbox {
    /// Starts configuring a sandbox.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// Starts configuring a sandbox from the component eryx-build linked into this binary
    /// (see [`include_component!`](crate::include_component)); no linking happens at run time.
    pub fn from_embedded(embedded: &'static Embedded) -> SandboxBuilder {
        SandboxBuilder { embedded: Some(embedded), ..SandboxBuilder::default() }
    }

    /// Where this sandbox's compiled component came from (memory, disk or a fresh compile).
    pub fn component_source(&self) -> Source {
        self.source
    }

    /// Runs `code` as module-level Python code and returns what it printed.
    pub fn execute(&mut self, code: &str) -> Result<Output, ExecuteError> {
        let started = Instant::now();
        if let Some(reason) = &self.stopped {
            return Err(ExecuteError { failure: Failure::Stopped(reason.clone()), output: Output::default() });
        }
        self.store.set_epoch_deadline(ticks(self.limits.timeout));
        let fuel = self.limits.fuel.unwrap_or(u64::MAX);
        self.store.set_fuel(fuel).expect("fuel is enabled in the engine");
        let result = self.bindings.eryx_sandbox_python().call_execute(&mut self.store, code);
        let (stdout, stdout_cut) = self.stdout.take();
        let (stderr, stderr_cut) = self.stderr.take();
        let output = Output { stdout, stderr, duration: started.elapsed(), truncated: stdout_cut || stderr_cut };
        let failure = match result {
            Ok(Ok(())) => return Ok(output),
            Ok(Err(exception)) => Failure::Python(PythonException {
                type_name: exception.type_name,
                message: exception.message,
                traceback: exception.traceback,
            }),
            Err(error) => self.classify_trap(error),
        };
        if failure.stops_sandbox() {
            self.stopped = Some(failure.to_string());
        }
        Err(ExecuteError { failure, output })
    }

    fn classify_trap(&self, error: wasmtime::Error) -> Failure {
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Failure::Timeout(self.limits.timeout),
            Some(Trap::OutOfFuel) => Failure::FuelExhausted(self.limits.fuel.unwrap_or(u64::MAX)),
            _ if self.store.data().limiter.refused => Failure::MemoryLimit { limit_bytes: self.limits.memory_limit },
            _ => Failure::Trap(format!("{error:#}")),
        }
    }
}

//! [`Sandbox`]: one CPython interpreter in its own wasmtime store, with its own limits, and
//! [`SandboxBuilder`], which configures it.
//!
//! Building is one match (which [`Source`] the inputs make) and one [`Runtime::load`]; then a
//! store and an instantiation through the pre-resolved component, so creating a sandbox from a
//! cached component takes about a millisecond. The guest sees the read-only standard library,
//! optionally read-only site-packages, its own in-memory scratch space and the host folders it
//! was given (see `crate::fs`), and nothing else of the host: no other files, no environment
//! variables, no network.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use crate::bindings;
use crate::bindings::exports::eryx::sandbox::python::{self as guest, Failure as GuestFailure};
use crate::callbacks::{Callback, CallbackError, CallbackLimits, CallbackResult, Registry};
use crate::clocks::SandboxMonotonicClock;
use crate::component::LoadedFrom;
use crate::embedded::Embedded;
use crate::engine::Metering;
use crate::error::{BuildError, ExecuteError, Failure, GuestTrap, PythonException};
use crate::exec::{self, CancelHandle, Interrupted};
use crate::fs::{Files, Mount, ScratchLimits};
use crate::host::{State, guest_wasi};
use crate::late_input::Input;
use crate::output::{CapturedOutput, DEFAULT_OUTPUT_LIMIT, Listener, Output, Stream};
use crate::program::Program;
use crate::runtime::{Ready, Runtime};
use crate::source::Source;
use crate::stdin::{SharedStdin, StdinSource};

/// Default wall-clock limit of one `execute` call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on the guest's linear memory.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;

/// Configures and creates a [`Sandbox`].
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use eryx_rt::{Failure, Sandbox};
///
/// let mut sandbox = Sandbox::builder()
///     .timeout(Duration::from_secs(5)) // wall clock per execute
///     .memory_limit(128 << 20) // linear memory, bytes
///     .output_limit(1 << 20) // per stream and execute, bytes
///     .build()?;
/// assert_eq!(sandbox.execute("import json; print(json.dumps([1]))")?.stdout, "[1]\n");
/// let error = sandbox.execute("print('before')\n1/0").unwrap_err();
/// assert_eq!(error.output.stdout, "before\n");
/// assert!(matches!(&error.failure, Failure::Python(e) if e.type_name == "ZeroDivisionError"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct SandboxBuilder {
    runtime: Runtime,
    timeout: Duration,
    memory_limit: usize,
    fuel: Option<u64>,
    output_limit: usize,
    inputs: Vec<Input>,
    /// Modules imported before the snapshot is taken (`None`: no snapshot, see [`crate::preinit`]).
    preinit_imports: Option<Vec<String>>,
    /// Whether the wheels' top-level modules join the snapshot's imports ([`Self::preinit_wheels`]).
    preinit_wheels: bool,
    embedded: Option<&'static Embedded>,
    callbacks: Registry,
    output_handler: Option<Listener>,
    scratch_limits: ScratchLimits,
    mounts: Vec<Mount>,
}

impl Runtime {
    /// Starts configuring a sandbox that uses this runtime's engines and caches.
    pub fn sandbox(&self) -> SandboxBuilder {
        SandboxBuilder {
            runtime: self.clone(),
            timeout: DEFAULT_TIMEOUT,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            fuel: None,
            output_limit: DEFAULT_OUTPUT_LIMIT,
            inputs: Vec::new(),
            preinit_imports: self.preinit_by_default().then(Vec::new),
            preinit_wheels: false,
            embedded: None,
            callbacks: Registry::default(),
            output_handler: None,
            scratch_limits: ScratchLimits::default(),
            mounts: Vec::new(),
        }
    }
}

impl Default for SandboxBuilder {
    /// A builder on the default runtime, like [`Sandbox::builder`].
    fn default() -> Self {
        Runtime::default().sandbox()
    }
}

impl SandboxBuilder {
    /// Wall-clock limit of each `execute` call. It counts everything, computing and waiting
    /// (sleeps, polls, host callbacks): computing guests are checked at each epoch tick (every
    /// 10 ms), waiting ones are abandoned at the deadline. A timed-out sandbox is stopped.
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
    ///
    /// A sandbox with a budget runs on the runtime's fuel-metering engine (created when first
    /// needed; its code is compiled and cached separately), which runs Python code noticeably
    /// slower; sandboxes without one pay nothing for fuel.
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
    /// A non-empty list replaces the default one (asyncio and decimal; json is always imported).
    pub fn with_preinit_imports<I: IntoIterator<Item = S>, S: Into<String>>(mut self, modules: I) -> Self {
        self.preinit_imports = Some(modules.into_iter().map(Into::into).collect());
        self
    }

    /// Imports the top-level packages of the added wheels before the snapshot is taken, so that
    /// `import numpy` in a sandbox finds it in `sys.modules` (a dictionary lookup instead of a
    /// second of imports). The packages come from each wheel's `top_level.txt`, else from its
    /// file list. Off by default: importing runs the packages' module-level code once, at
    /// snapshot time, and every sandbox then shares its results (see the README, "Pre-initialised
    /// imports of wheels", for what that means for random seeds, clocks and secrets). Turns
    /// snapshots on if they were off; a package that fails to import makes `build` fail.
    pub fn preinit_wheels(mut self, enabled: bool) -> Self {
        self.preinit_wheels = enabled;
        if enabled && self.preinit_imports.is_none() {
            self.preinit_imports = Some(Vec::new());
        }
        self
    }

    /// Whether sandboxes start from a pre-initialised snapshot (Python already started): the
    /// runtime's default, which is on unless `ERYX_NO_PREINIT=1` is set. Off, every sandbox
    /// starts Python on its first `execute` (about half a second).
    pub fn preinit(mut self, enabled: bool) -> Self {
        self.preinit_imports = match (enabled, self.preinit_imports.take()) {
            (true, imports) => Some(imports.unwrap_or_default()),
            (false, _) => None,
        };
        self
    }

    /// Uses the component eryx-build linked into this binary (see
    /// [`include_component!`](crate::include_component)); no linking happens at run time, and
    /// no wheels or extensions may be added.
    pub fn embedded(mut self, embedded: &'static Embedded) -> Self {
        self.embedded = Some(embedded);
        self
    }

    /// Offers `callback` to the guest (replacing one of the same name). See [`Callback`] and,
    /// in Python, `from eryx import tools, atools`.
    pub fn with_callback(mut self, callback: Callback) -> Self {
        self.callbacks.add(callback);
        self
    }

    /// Offers an async function over JSON values to the guest: shorthand for
    /// [`with_callback`](Self::with_callback)`(`[`Callback::new`]`(..))`.
    pub fn callback<F, Fut>(
        self,
        name: impl Into<String>,
        description: impl Into<String>,
        schema: serde_json::Value,
        handler: F,
    ) -> Self
    where
        F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CallbackResult> + Send + 'static,
    {
        self.with_callback(Callback::new(name, description, schema, handler))
    }

    /// Offers an async function with typed parameters (a `serde` + `schemars` struct) to the
    /// guest: shorthand for [`with_callback`](Self::with_callback)`(`[`Callback::typed`]`(..))`.
    pub fn typed_callback<P, R, F, Fut>(
        self,
        name: impl Into<String>,
        description: impl Into<String>,
        handler: F,
    ) -> Self
    where
        P: serde::de::DeserializeOwned + schemars::JsonSchema + Send + 'static,
        R: serde::Serialize + Send + 'static,
        F: Fn(P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, CallbackError>> + Send + 'static,
    {
        self.with_callback(Callback::typed(name, description, handler))
    }

    /// Limits on the callbacks (per-call timeout, calls per execute, payload sizes).
    pub fn callback_limits(mut self, limits: CallbackLimits) -> Self {
        self.callbacks.set_limits(limits);
        self
    }

    /// Hands the guest's stdout and stderr to `handler` while the code runs, chunk by chunk in
    /// the order they were written (the collected [`Output`] is still returned). The handler
    /// runs on the thread that runs the guest, while the guest waits: keep it quick.
    pub fn output_handler(mut self, handler: impl Fn(Stream, &[u8]) + Send + Sync + 'static) -> Self {
        self.output_handler = Some(Listener(Arc::new(handler)));
        self
    }

    /// Caps the sandbox's scratch space (`/tmp` and `/home/sandbox`, in memory): bytes of file
    /// data and names, and the number of files, folders and symlinks. Beyond them the guest's
    /// writes fail with `OSError` (`ENOSPC`). Defaults: [`DEFAULT_SCRATCH_BYTES`](crate::DEFAULT_SCRATCH_BYTES)
    /// and [`DEFAULT_SCRATCH_ENTRIES`](crate::DEFAULT_SCRATCH_ENTRIES).
    pub fn scratch_limits(mut self, limits: ScratchLimits) -> Self {
        self.scratch_limits = limits;
        self
    }

    /// Shows the host folder `host` to the guest at `guest` (an absolute path such as `/data`),
    /// read-only. The guest cannot get out of it: `..` past its top, absolute paths and
    /// symlinks leading out are refused.
    pub fn mount(mut self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.mounts.push(Mount { host: host.into(), guest: guest.into(), writable: false });
        self
    }

    /// Like [`mount`](Self::mount), but the guest may also create, change and delete files
    /// there: on the host's disk, without a quota.
    pub fn mount_writable(mut self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.mounts.push(Mount { host: host.into(), guest: guest.into(), writable: true });
        self
    }

    /// Creates the sandbox. Without extensions this uses the pre-linked base component;
    /// with them, a component linked for exactly this set (cached in memory and on disk).
    pub fn build(self) -> Result<Sandbox, BuildError> {
        // A cache miss pre-initialises through synchronous WASI, which must not run on a tokio
        // thread: inside a runtime, building happens on a thread of its own.
        exec::off_runtime(|| self.build_here())
    }

    fn build_here(self) -> Result<Sandbox, BuildError> {
        for mount in &self.mounts {
            mount.check(&self.mounts)?;
        }
        let source = match (self.embedded, self.inputs.is_empty()) {
            (Some(_), false) => return Err(BuildError::EmbeddedWithInputs),
            (Some(embedded), true) => {
                embedded.check()?;
                Source::Embedded(embedded)
            }
            (None, true) => Source::Base,
            (None, false) => self.runtime.prepare(&self.inputs)?,
        };
        // An embedded crate's `preinit` list applies unless this builder chose its own imports.
        let imports = self.preinit_imports.as_ref().map(|own| {
            let mut imports = if own.is_empty() { source.default_preinit_imports() } else { own.clone() };
            if self.preinit_wheels {
                for module in source.wheel_modules() {
                    if !imports.contains(module) {
                        imports.push(module.clone());
                    }
                }
            }
            imports
        });
        let metering = if self.fuel.is_some() { Metering::Fuel } else { Metering::Off };
        let ready = self.runtime.load(&source, imports.as_deref(), metering)?;
        self.instantiate(ready)
    }

    fn instantiate(self, ready: Ready) -> Result<Sandbox, BuildError> {
        let started = Instant::now();
        let stdout = CapturedOutput::new(self.output_limit).with_listener(Stream::Stdout, self.output_handler.clone());
        let stderr = CapturedOutput::new(self.output_limit).with_listener(Stream::Stderr, self.output_handler.clone());
        let mut wasi = guest_wasi(&stdout, &stderr, &ready.trees, &self.mounts)?;
        wasi.monotonic_clock(SandboxMonotonicClock::new());
        let stdin = SharedStdin::default();
        wasi.stdin(stdin.clone());
        let state = State::new(wasi.build(), self.memory_limit, self.scratch_limits)
            .with_callbacks(Arc::new(self.callbacks.clone()))
            .with_trees(&ready.trees);
        let mut store = Store::new(&ready.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Each epoch tick checks the wall clock, so a timeout holds even when the ticker thread
        // is woken late on a loaded machine (counting ticks would stretch it), and otherwise
        // yields, so a waiting execute future can be raced against its deadline and its cancel
        // signal (see crate::exec).
        store.data_mut().deadline = Instant::now() + self.timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|context| {
            if Instant::now() >= context.data().deadline {
                return Err(Trap::Interrupt.into());
            }
            Ok(UpdateDeadline::Yield(1))
        });
        if ready.metering == Metering::Fuel {
            store.set_fuel(u64::MAX).map_err(BuildError::Instantiate)?;
        }
        let bindings =
            exec::block_on(ready.loaded.pre.instantiate_async(&mut store)).map_err(BuildError::Instantiate)?;
        tracing::debug!(source = ?ready.from, elapsed = ?started.elapsed(), "sandbox ready");
        let limits = Limits { timeout: self.timeout, memory_limit: self.memory_limit, fuel: self.fuel };
        let files = store.data().files();
        Ok(Sandbox {
            store,
            bindings,
            stdin,
            stdout,
            stderr,
            limits,
            stopped: None,
            from: ready.from,
            cancel: CancelHandle::default(),
            files,
            _runtime: self.runtime,
        })
    }
}

/// One call into the guest's `python` interface.
#[derive(Clone, Copy)]
enum GuestCall<'a> {
    Execute(&'a str),
    Run(&'a guest::Program),
    IsComplete(&'a str),
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
    stdin: SharedStdin,
    stdout: CapturedOutput,
    stderr: CapturedOutput,
    limits: Limits,
    stopped: Option<String>,
    from: LoadedFrom,
    cancel: CancelHandle,
    files: Files,
    /// Keeps the runtime's folders (a temporary cache folder) alive while the guest mounts them.
    _runtime: Runtime,
}

impl Sandbox {
    /// Starts configuring a sandbox on the default runtime ([`Runtime::default`]).
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// Starts configuring a sandbox from the component eryx-build linked into this binary
    /// (see [`include_component!`](crate::include_component)); no linking happens at run time.
    pub fn from_embedded(embedded: &'static Embedded) -> SandboxBuilder {
        Sandbox::builder().embedded(embedded)
    }

    /// Where this sandbox's compiled component came from (memory, disk or a fresh compile).
    pub fn loaded_from(&self) -> LoadedFrom {
        self.from
    }

    /// The host's handle on this sandbox's scratch space (`/tmp`, `/home/sandbox`): write
    /// files in before an `execute`, read results out after it. See [`Files`].
    pub fn files(&self) -> Files {
        self.files.clone()
    }

    /// Runs `code` as module-level Python code and returns what it printed. The guest's stdin
    /// is empty; [`run`](Self::run) gives it stdin, `sys.argv` and the other ways of running.
    /// `sys.exit()` ends the code with [`Failure::SystemExit`].
    ///
    /// Blocks this thread; from async code use [`execute_async`](Self::execute_async).
    pub fn execute(&mut self, code: &str) -> Result<Output, ExecuteError> {
        exec::block_on(self.execute_async(code))
    }

    /// Runs `code` like [`execute`](Self::execute), without blocking the thread: the guest
    /// yields at every epoch tick and waits (sleeps, host callbacks) asynchronously. Needs a
    /// tokio runtime with timers and I/O enabled. The timeout counts all of it, so the
    /// execute ends at its deadline even while the guest sleeps or waits on a callback.
    pub async fn execute_async(&mut self, code: &str) -> Result<Output, ExecuteError> {
        self.call(GuestCall::Execute(code), StdinSource::default()).await.map(|(output, _)| output)
    }

    /// Runs a [`Program`] (a file, `-c` code, a module, a REPL entry) with its `sys.argv` and
    /// stdin, as `python` runs it; globals persist as with [`execute`](Self::execute).
    ///
    /// Blocks this thread; from async code use [`run_async`](Self::run_async).
    pub fn run(&mut self, program: &Program) -> Result<Output, ExecuteError> {
        exec::block_on(self.run_async(program))
    }

    /// Runs a [`Program`] like [`run`](Self::run), without blocking the thread (see
    /// [`execute_async`](Self::execute_async)).
    pub async fn run_async(&mut self, program: &Program) -> Result<Output, ExecuteError> {
        let guest = program.to_guest();
        self.call(GuestCall::Run(&guest), program.stdin.clone()).await.map(|(output, _)| output)
    }

    /// Whether `source` is a complete REPL entry, decided in the guest as Python's own REPL
    /// decides it (`codeop`): false while it needs more lines (an open block, bracket or
    /// string). `source` is the entry's lines joined by newlines without a final one, as
    /// `code.InteractiveConsole` joins them, so an empty last line ends a block. Invalid source
    /// is complete: running it shows the error. Runs under the sandbox's limits, like an execute.
    pub fn is_complete(&mut self, source: &str) -> Result<bool, ExecuteError> {
        exec::block_on(self.call(GuestCall::IsComplete(source), StdinSource::default())).map(|(_, complete)| complete)
    }

    /// Calls into the guest under this sandbox's limits (timeout, fuel, cancellation), with
    /// `stdin` for the guest to read, and collects what it printed and how it ended. The bool
    /// is what `is-complete` answered (true for the other calls).
    async fn call(&mut self, call: GuestCall<'_>, stdin: StdinSource) -> Result<(Output, bool), ExecuteError> {
        let started = Instant::now();
        if let Some(reason) = &self.stopped {
            return Err(ExecuteError::new(Failure::Stopped(reason.clone()), Output::default()));
        }
        self.store.data_mut().deadline = started + self.limits.timeout;
        self.store.set_epoch_deadline(1);
        if let Some(fuel) = self.limits.fuel {
            self.store.set_fuel(fuel).expect("a sandbox with a fuel budget runs on the fuel-metering engine");
        }
        self.store.data_mut().host_calls.begin_execute();
        let signal = self.cancel.begin();
        let deadline = started + self.limits.timeout;
        self.stdin.set(stdin);
        let python = self.bindings.eryx_sandbox_python();
        let store = &mut self.store;
        let call = async move {
            match call {
                GuestCall::Execute(code) => python.call_execute(store, code).await.map(|r| r.map(|()| true)),
                GuestCall::Run(program) => python.call_run(store, program).await.map(|r| r.map(|()| true)),
                GuestCall::IsComplete(source) => python.call_is_complete(store, source).await.map(Ok),
            }
        };
        let result = exec::race(call, deadline, &signal).await;
        self.stdin.set(StdinSource::default());
        self.cancel.end();
        self.store.data_mut().host_calls.stop_all();
        let (stdout, stdout_cut) = self.stdout.take();
        let (stderr, stderr_cut) = self.stderr.take();
        let output = Output::from_bytes(stdout, stderr, started.elapsed(), stdout_cut || stderr_cut);
        let failure = match result {
            Ok(Ok(Ok(answer))) => return Ok((output, answer)),
            Ok(Ok(Err(GuestFailure::Exit(status)))) => Failure::SystemExit(status),
            Ok(Ok(Err(GuestFailure::Exception(exception)))) => Failure::Python(Box::new(PythonException::new(
                exception.type_name,
                exception.message,
                exception.traceback,
            ))),
            Ok(Err(error)) => match self.process_exit(&error) {
                Some(status) => {
                    // The guest ended itself like a process: its instance is gone.
                    self.stopped = Some(format!("the code ended the sandbox with os._exit({status})"));
                    Failure::SystemExit(status)
                }
                None => self.classify_trap(error),
            },
            Err(Interrupted::Timeout) => Failure::Timeout(self.limits.timeout),
            Err(Interrupted::Cancelled) => Failure::Cancelled,
        };
        if failure.stops_sandbox() {
            self.stopped = Some(failure.to_string());
        }
        Err(ExecuteError::new(failure, output))
    }

    /// A handle that cancels this sandbox's running execute from another thread or task.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// The status of a guest that ended itself through WASI's exit (`os._exit`, or `exit` in C
    /// code): the one it announced (`os._exit(n)` tells the host first, as WASI's exit only
    /// carries success or failure), else 0 or 1 from WASI.
    fn process_exit(&self, error: &wasmtime::Error) -> Option<i32> {
        let exit = error.downcast_ref::<wasmtime_wasi::I32Exit>()?;
        Some(self.store.data().host_calls.exit_status().unwrap_or(exit.0))
    }

    fn classify_trap(&self, error: wasmtime::Error) -> Failure {
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Failure::Timeout(self.limits.timeout),
            Some(Trap::OutOfFuel) => Failure::FuelExhausted(self.limits.fuel.unwrap_or(u64::MAX)),
            _ if self.store.data().limiter.refused() => Failure::MemoryLimit { limit_bytes: self.limits.memory_limit },
            _ => Failure::Trap(GuestTrap::new(error)),
        }
    }
}

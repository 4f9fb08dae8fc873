//! Pre-initialised components: a snapshot of the component taken after Python has started
//! (and after a configurable list of imports), so that a new sandbox skips Python's start-up.
//!
//! [`preinitialize`] instruments the component with `wasmtime-wizer`, instantiates it once in a
//! private store, calls the guest's `init(imports)` and writes every linear memory and global
//! back into a new component. That snapshot is what gets compiled and cached ([`load`]), under
//! a key that includes the import list, so it is made once per machine like compiled code.
//!
//! What a snapshot must not carry, and how it is kept out:
//!
//! * **WASI handles.** Handles to preopened folders, stdio streams and files are indices into the
//!   instance's handle table, which a snapshot does not hold. The guest's `init` ends by having
//!   wasi-libc close every descriptor (`__wasilibc_reset_preopens`); libc opens stdio and the
//!   preopens again on first use, from the restored sandbox's own WASI context.
//! * **Randomness.** A restored sandbox's first call reseeds the generators that Python seeded
//!   at import time (`random`, tempfile's name sequence) from `os.urandom`, i.e. from that
//!   sandbox's WASI random source. The secret of str/bytes hash randomisation is drawn once per
//!   snapshot from the host's CSPRNG: it cannot be renewed, since the interpreter's dicts are
//!   built with it, so sandboxes from one snapshot share it (a new snapshot gets a new one).
//! * **The build host's clocks.** During pre-initialisation the guest reads fixed clocks
//!   ([`PreinitWallClock`], [`PreinitMonotonicClock`]), so nothing of the host's time is baked
//!   in. Sandboxes read the host's wall clock fresh, and a monotonic clock
//!   ([`SandboxMonotonicClock`]) that starts above every reading the snapshot can hold, so it
//!   never seems to go backwards (CPU-time emulation subtracts a start reading taken in init).
//! * **The preview1 adapter's state.** It caches handles too, and only it can forget them; a
//!   component that includes it (an extension built for the preview1 ABI) is not snapshotted.
//! * **Environment, arguments, host paths.** The pre-initialising store has no environment and
//!   no arguments, like a sandbox; the standard library and site-packages are mounted at the
//!   same guest paths as in a sandbox, so no host path is visible to the guest.

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentType, Instance, Lift, Linker, ResourceTable, WasmList};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use crate::bindings;
use crate::cache::{self, Source};
use crate::error::BuildError;
use crate::output::CapturedOutput;
use crate::sandbox::Loaded;

/// Set to `1` to skip snapshots: every sandbox then starts Python itself.
pub const NO_PREINIT_ENV: &str = "ERYX_NO_PREINIT";

/// Longest pre-initialisation allowed (a module that never finishes importing fails).
const PREINIT_TIMEOUT: Duration = Duration::from_secs(300);

/// Where the pre-initialising guest's monotonic clock stops: the snapshot holds no reading
/// above it, and a sandbox's monotonic clock starts there.
const MONOTONIC_CEILING_NS: u64 = 1_000_000_000;
/// How far the pre-initialising guest's clocks advance per reading.
const CLOCK_STEP_NS: u64 = 1_000;
/// The pre-initialising guest's wall clock: 2000-01-01T00:00:00Z plus its readings.
const PREINIT_WALL_CLOCK_START: Duration = Duration::from_secs(946_684_800);

/// Whether snapshots are disabled for this process (`ERYX_NO_PREINIT=1`).
pub(crate) fn disabled_by_env() -> bool {
    std::env::var_os(NO_PREINIT_ENV).is_some_and(|value| !value.is_empty() && value != "0")
}

/// The compiled-component cache key of the snapshot of `component_key` after `imports`.
/// `site_dir` (content-addressed by late linking) is part of it: imported code comes from it.
pub(crate) fn snapshot_key(component_key: &str, imports: &[String], site_dir: Option<&Path>) -> String {
    let mut identity = Sha256::new();
    identity.update(b"eryx-preinit-v1\0");
    identity.update(component_key.as_bytes());
    identity.update([0]);
    identity.update((imports.len() as u64).to_le_bytes());
    for import in imports {
        identity.update((import.len() as u64).to_le_bytes());
        identity.update(import.as_bytes());
    }
    if let Some(site) = site_dir.and_then(Path::file_name) {
        identity.update(b"site\0");
        identity.update(site.as_encoded_bytes());
    }
    cache::component_key(&identity.finalize())
}

/// Loads the component for `component_key`: its snapshot after `imports` when `imports` is
/// given (made from `wasm` on a cache miss), else the component itself.
pub(crate) fn load(
    component_key: &str,
    imports: Option<&[String]>,
    site_dir: Option<&Path>,
    wasm: impl FnOnce() -> Result<Vec<u8>, BuildError>,
) -> Result<(Arc<Loaded>, Source), BuildError> {
    let Some(imports) = imports else {
        return cache::load(component_key, wasm);
    };
    let key = snapshot_key(component_key, imports, site_dir);
    // Threads that want the same snapshot at once wait for the first one to make it (it takes
    // seconds) and then find it in memory, instead of each making it again.
    let in_flight = {
        static IN_FLIGHT: Mutex<Vec<(String, Arc<Mutex<()>>)>> = Mutex::new(Vec::new());
        let mut all = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|(_, lock)| Arc::strong_count(lock) > 1);
        match all.iter().find(|(k, _)| *k == key) {
            Some((_, lock)) => lock.clone(),
            None => {
                let lock = Arc::new(Mutex::new(()));
                all.push((key.clone(), lock.clone()));
                lock
            }
        }
    };
    let _making = in_flight.lock().unwrap_or_else(|e| e.into_inner());
    cache::load(&key, || {
        let wasm = wasm()?;
        let stdlib = crate::stdlib::stdlib_dir()?;
        preinitialize(&wasm, imports, stdlib, site_dir)
    })
}

/// Returns `component` with Python started and `imports` imported, as a new component.
pub(crate) fn preinitialize(
    component: &[u8],
    imports: &[String],
    stdlib_dir: &Path,
    site_dir: Option<&Path>,
) -> Result<Vec<u8>, BuildError> {
    let started = Instant::now();
    if includes_preview1_adapter(component) {
        // The adapter keeps WASI handles in its own state, which the runtime cannot reset
        // (eryx's libraries use wasi-libc's p2 interfaces and never pull it in; an extension
        // built against the preview1 ABI would). Such a component is left as it is.
        tracing::warn!("the component includes the WASI preview1 adapter: not pre-initialised");
        return Ok(component.to_vec());
    }
    let fail = |what: &str, error: wasmtime::Error| BuildError::Preinit(format!("{what}: {error:#}"));
    let wizer = Wizer::new();
    let (context, instrumented) = wizer.instrument_component(component).map_err(|e| fail("cannot instrument", e))?;
    let engine = preinit_engine();
    let compiled = compile_instrumented(&instrumented).map_err(|e| fail("cannot compile", e))?;
    let compiled_at = started.elapsed();

    let stdout = CapturedOutput::new(1 << 20);
    let stderr = CapturedOutput::new(1 << 20);
    let mut wasi = crate::sandbox::guest_wasi(&stdout, &stderr, stdlib_dir, site_dir)?;
    wasi.wall_clock(PreinitWallClock::default()).monotonic_clock(PreinitMonotonicClock::default());
    let mut store = Store::new(engine, PreinitState { wasi: wasi.build(), table: ResourceTable::new() });
    // A pre-initialisation that runs too long (a module that never finishes importing) is
    // stopped: a watchdog ticks the epoch each second while it runs, and each tick checks the
    // time this one has taken (other pre-initialisations may share the engine).
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if started.elapsed() > PREINIT_TIMEOUT {
            wasmtime::bail!("pre-initialisation took longer than {PREINIT_TIMEOUT:?}")
        }
        Ok(wasmtime::UpdateDeadline::Continue(1))
    });
    let (done, finished) = mpsc::channel::<()>();
    let watchdog = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            while finished.recv_timeout(Duration::from_secs(1)) == Err(mpsc::RecvTimeoutError::Timeout) {
                engine.increment_epoch();
            }
        })
    };
    let initialized = (|| {
        let instance =
            preinit_linker().instantiate(&mut store, &compiled).map_err(|e| fail("cannot instantiate", e))?;
        let sandbox = bindings::Sandbox::new(&mut store, &instance).map_err(|e| fail("cannot instantiate", e))?;
        match sandbox.eryx_sandbox_python().call_init(&mut store, imports) {
            Ok(Ok(())) => Ok(instance),
            Ok(Err(exception)) => Err(BuildError::Preinit(format!(
                "importing {imports:?} failed:\n{}{}",
                exception.traceback,
                stderr.take().0
            ))),
            Err(error) => Err(BuildError::Preinit(format!("the guest trapped: {error:#}\n{}", stderr.take().0))),
        }
    })();
    let _ = done.send(());
    let _ = watchdog.join();
    let instance = initialized?;
    let initialized_at = started.elapsed();

    let snapshot = block_on(wizer.snapshot_component(&context, &mut Accessors { store: &mut store, instance }))
        .map_err(|e| fail("cannot snapshot", e))?;
    tracing::info!(
        ?imports,
        compile = ?compiled_at,
        init = ?(initialized_at - compiled_at),
        total = ?started.elapsed(),
        bytes = snapshot.len(),
        "pre-initialised the component"
    );
    Ok(snapshot)
}

/// Whether wit-component added the WASI preview1 adapter (an instance named after its module).
fn includes_preview1_adapter(component: &[u8]) -> bool {
    component.windows(b"wasi_snapshot_preview1".len()).any(|window| window == b"wasi_snapshot_preview1")
}

/// Compiles an instrumented component for the pre-initialisation engine. The last one is kept
/// in memory: snapshots of one component with other import lists reuse it (instrumentation is
/// deterministic), which saves a Cranelift compile of several seconds each.
fn compile_instrumented(instrumented: &[u8]) -> wasmtime::Result<Component> {
    static LAST: Mutex<Option<([u8; 32], Component)>> = Mutex::new(None);
    let digest: [u8; 32] = Sha256::digest(instrumented).into();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((cached, component)) = last.as_ref()
        && *cached == digest
    {
        return Ok(component.clone());
    }
    let component = Component::new(preinit_engine(), instrumented)?;
    *last = Some((digest, component.clone()));
    Ok(component)
}

/// The engine that runs pre-initialisations: no fuel metering (nothing untrusted runs there),
/// epoch interruption only for the watchdog. Its compiled code is never cached.
fn preinit_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        Engine::new(&config).expect("the pre-initialisation engine configuration is valid")
    })
}

struct PreinitState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for PreinitState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

fn preinit_linker() -> &'static Linker<PreinitState> {
    static LINKER: OnceLock<Linker<PreinitState>> = OnceLock::new();
    LINKER.get_or_init(|| {
        let mut linker = Linker::new(preinit_engine());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("WASI interfaces register once");
        linker
    })
}

/// Reads the instrumented instance's memories and globals for wizer, through the accessor
/// functions that its instrumentation exported.
struct Accessors<'a> {
    store: &'a mut Store<PreinitState>,
    instance: Instance,
}

impl Accessors<'_> {
    fn call<R: ComponentType + Lift + Send + Sync + 'static>(&mut self, instance: &str, func: &str) -> R {
        let (_, exported) =
            self.instance.get_export(&mut *self.store, None, instance).expect("wizer exports its accessors");
        let (_, index) =
            self.instance.get_export(&mut *self.store, Some(&exported), func).expect("wizer exports its accessors");
        let func = self.instance.get_typed_func::<(), (R,)>(&mut *self.store, index).expect("accessor types match");
        func.call(&mut *self.store, ()).expect("accessors do not trap").0
    }
}

impl ComponentInstanceState for Accessors<'_> {
    async fn call_func_ret_list_u8(&mut self, instance: &str, func: &str, contents: impl FnOnce(&[u8]) + Send) {
        let list: WasmList<u8> = self.call(instance, func);
        contents(list.as_le_slice(&*self.store));
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func)
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func)
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call::<f32>(instance, func).to_bits()
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call::<f64>(instance, func).to_bits()
    }
}

/// Runs a future that never waits on anything external (wizer's snapshot over sync calls).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::yield_now();
    }
}

/// The pre-initialising guest's wall clock: fixed, advancing only by its own readings.
#[derive(Default)]
pub(crate) struct PreinitWallClock {
    readings: AtomicU64,
}

impl HostWallClock for PreinitWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(CLOCK_STEP_NS)
    }

    fn now(&self) -> Duration {
        PREINIT_WALL_CLOCK_START + Duration::from_nanos(self.readings.fetch_add(1, Ordering::Relaxed) * CLOCK_STEP_NS)
    }
}

/// The pre-initialising guest's monotonic clock: starts at 0, advances by its own readings and
/// stops below [`MONOTONIC_CEILING_NS`].
#[derive(Default)]
pub(crate) struct PreinitMonotonicClock {
    readings: AtomicU64,
}

impl HostMonotonicClock for PreinitMonotonicClock {
    fn resolution(&self) -> u64 {
        CLOCK_STEP_NS
    }

    fn now(&self) -> u64 {
        let reading = self.readings.fetch_add(1, Ordering::Relaxed).saturating_mul(CLOCK_STEP_NS);
        reading.min(MONOTONIC_CEILING_NS - CLOCK_STEP_NS)
    }
}

/// A sandbox's monotonic clock: the host's, counted from the sandbox's creation and starting
/// at [`MONOTONIC_CEILING_NS`], above any reading a snapshot holds.
pub(crate) struct SandboxMonotonicClock {
    created: Instant,
}

impl SandboxMonotonicClock {
    pub(crate) fn new() -> Self {
        SandboxMonotonicClock { created: Instant::now() }
    }
}

impl HostMonotonicClock for SandboxMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        MONOTONIC_CEILING_NS.saturating_add(self.created.elapsed().as_nanos().try_into().unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_keys_depend_on_the_component_the_imports_and_the_site() {
        let imports = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let key = snapshot_key("base", &imports(&["json"]), None);
        assert_eq!(key, snapshot_key("base", &imports(&["json"]), None));
        for other in [
            snapshot_key("other", &imports(&["json"]), None),
            snapshot_key("base", &imports(&[]), None),
            snapshot_key("base", &imports(&["json", "re"]), None),
            snapshot_key("base", &imports(&["js", "on"]), None),
            snapshot_key("base", &imports(&["json"]), Some(Path::new("site-packages/0123"))),
        ] {
            assert_ne!(key, other);
        }
        assert_ne!(key, "base", "a snapshot never takes the un-snapshotted component's key");
    }

    /// The snapshot is made from real inputs with real wasmtime; it must not carry the host
    /// paths of the mounts (the guest only ever sees its own paths).
    #[test]
    fn a_snapshot_holds_no_host_path() {
        let stdlib = crate::stdlib::stdlib_dir().unwrap();
        let site = tempfile::tempdir().unwrap();
        std::fs::write(
            site.path().join("probe_module.py"),
            "import os, sys\nSEEN = (sys.path, dict(os.environ), os.getcwd())\n",
        )
        .unwrap();
        let snapshot =
            preinitialize(&crate::embedded::base_component(), &["probe_module".to_string()], stdlib, Some(site.path()))
                .unwrap();
        assert_eq!(&snapshot[..8], b"\0asm\x0d\x00\x01\x00", "a component");
        let contains = |needle: &str| snapshot.windows(needle.len()).any(|window| window == needle.as_bytes());
        assert!(contains("probe_module"), "the import is in the snapshot");
        for host in [stdlib.to_str().unwrap(), site.path().to_str().unwrap()] {
            assert!(!contains(host), "the snapshot holds the host path {host}");
        }
    }
}

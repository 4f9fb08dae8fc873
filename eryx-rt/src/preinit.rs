//! Pre-initialised components: a snapshot of the component taken after Python has started
//! (and after a configurable list of imports), so that a new sandbox skips Python's start-up.
//!
//! [`Preinitializer::snapshot`] instruments the component with `wasmtime-wizer`, instantiates it
//! once in a private store (the same host state, linker and mounts as a sandbox), calls the
//! guest's `init(imports)` and writes every linear memory and global back into a new component.
//! That snapshot is what the runtime compiles and caches, under [`snapshot_key`], which includes
//! the import list, so it is made once per machine like compiled code.
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
//!   ([`crate::clocks`]), so nothing of the host's time is baked in. Sandboxes read the host's
//!   wall clock fresh, and a monotonic clock that starts above every reading the snapshot can
//!   hold, so it never seems to go backwards (CPU-time emulation subtracts a start reading
//!   taken in init).
//! * **The preview1 adapter's state.** It caches handles too, and only it can forget them; a
//!   component that includes it (an extension built for the preview1 ABI) is not snapshotted.
//! * **Environment, arguments, host paths.** The pre-initialising store has no environment and
//!   no arguments, like a sandbox; the standard library and site-packages are mounted at the
//!   same guest paths as in a sandbox, so no host path is visible to the guest.

use std::future::Future;
use std::pin::pin;
use std::sync::{Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentType, Instance, Lift, Linker, WasmList};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use crate::clocks::{PreinitMonotonicClock, PreinitWallClock};
use crate::error::{BuildError, PreinitError};
use crate::fs::{ScratchLimits, Trees};
use crate::host::{State, guest_wasi, linker};
use crate::output::CapturedOutput;
use crate::preinit_bindings as bindings;
use crate::preinit_bindings::exports::eryx::sandbox::python::Failure as GuestFailure;

/// Longest pre-initialisation allowed (a module that never finishes importing fails).
const PREINIT_TIMEOUT: Duration = Duration::from_secs(300);

/// The identity of the snapshot of the component keyed `component_key` after `imports`, for
/// the compiled-component cache. `site_digest` (the site-packages tree's) is part of it: the
/// imported code comes from there.
pub(crate) fn snapshot_key(component_key: &str, imports: &[String], site_digest: Option<&str>) -> String {
    let mut identity = Sha256::new();
    identity.update(b"eryx-preinit-v1\0");
    identity.update(component_key.as_bytes());
    identity.update([0]);
    identity.update((imports.len() as u64).to_le_bytes());
    for import in imports {
        identity.update((import.len() as u64).to_le_bytes());
        identity.update(import.as_bytes());
    }
    if let Some(site) = site_digest {
        identity.update(b"site\0");
        identity.update(site.as_bytes());
    }
    hex::encode(identity.finalize())
}

/// Makes snapshots with an engine without fuel (nothing untrusted runs there; the snapshot is
/// plain wasm, compiled afterwards for whichever engine needs it).
pub(crate) struct Preinitializer {
    engine: Engine,
    /// Made on first use: a process that finds its snapshot in the cache (every warm
    /// `eryx -c`) never pre-initialises, and building a linker costs a few hundred microseconds.
    linker: OnceLock<Linker<State>>,
    /// The same with file metadata that does not depend on the host, for reproducible
    /// snapshots ([`crate::fixed_metadata`]).
    reproducible_linker: OnceLock<Linker<State>>,
    /// The last two instrumented components compiled: snapshots of one component with other
    /// import lists reuse it (instrumentation is deterministic), and so does the bytecode packer,
    /// which runs the base component; each hit saves a Cranelift compile of several seconds.
    recent_instrumented: Mutex<Vec<([u8; 32], Component)>>,
}

impl Preinitializer {
    /// `engine` must interrupt on epochs and have its epoch ticked (see [`crate::engine`]).
    pub(crate) fn new(engine: Engine) -> Self {
        Preinitializer {
            linker: OnceLock::new(),
            reproducible_linker: OnceLock::new(),
            engine,
            recent_instrumented: Mutex::new(Vec::new()),
        }
    }

    fn linker(&self) -> &Linker<State> {
        self.linker.get_or_init(|| linker(&self.engine))
    }

    fn reproducible_linker(&self) -> &Linker<State> {
        self.reproducible_linker.get_or_init(|| {
            let mut reproducible = linker(&self.engine);
            crate::fixed_metadata::fix_file_metadata(&mut reproducible)
                .expect("wasi:filesystem/types is in the linker with these functions");
            reproducible
        })
    }

    /// Returns `component` with Python started and `imports` imported, as a new component.
    /// With a `seed`, the snapshot is reproducible (the build-time precompiler's): the guest's
    /// random sources are that seed's (its hash secret included) and the file metadata it reads
    /// is fixed ([`crate::fixed_metadata`]); otherwise both are the host's.
    pub(crate) fn snapshot(
        &self,
        component: &[u8],
        imports: &[String],
        trees: &Trees,
        seed: Option<[u8; 32]>,
    ) -> Result<Vec<u8>, BuildError> {
        let started = Instant::now();
        if includes_preview1_adapter(component) {
            // The adapter keeps WASI handles in its own state, which the runtime cannot reset
            // (eryx's libraries use wasi-libc's p2 interfaces and never pull it in; an extension
            // built against the preview1 ABI would). Such a component is left as it is.
            tracing::warn!("the component includes the WASI preview1 adapter: not pre-initialised");
            return Ok(component.to_vec());
        }
        let step = |step: &'static str| move |error| PreinitError::Step { step, error };
        let wizer = Wizer::new();
        let (context, instrumented) = wizer.instrument_component(component).map_err(step("instrument"))?;
        let compiled = self.compile_instrumented(&instrumented).map_err(step("compile"))?;
        let compiled_at = started.elapsed();

        let stdout = CapturedOutput::new(1 << 20);
        let stderr = CapturedOutput::new(1 << 20);
        let mut wasi = guest_wasi(&stdout, &stderr, trees, &[])?;
        wasi.wall_clock(PreinitWallClock::default()).monotonic_clock(PreinitMonotonicClock::default());
        if let Some(seed) = seed {
            wasi.secure_random(wasmtime_wasi::Deterministic::new(seed.to_vec()));
            wasi.insecure_random(wasmtime_wasi::Deterministic::new(seed.to_vec()));
            wasi.insecure_random_seed(u128::from_le_bytes(seed[..16].try_into().expect("16 bytes")));
        }
        let state = State::new(wasi.build(), usize::MAX, ScratchLimits::default()).with_trees(trees);
        let mut store = Store::new(&self.engine, state);
        // A pre-initialisation that runs too long (a module that never finishes importing) is
        // stopped: the engine's ticker advances the epoch, and each tick checks the time taken.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if started.elapsed() > PREINIT_TIMEOUT {
                wasmtime::bail!("pre-initialisation took longer than {PREINIT_TIMEOUT:?}")
            }
            Ok(wasmtime::UpdateDeadline::Continue(1))
        });
        let linker = if seed.is_some() { self.reproducible_linker() } else { self.linker() };
        let instance = linker.instantiate(&mut store, &compiled).map_err(step("instantiate"))?;
        let sandbox = bindings::Sandbox::new(&mut store, &instance).map_err(step("instantiate"))?;
        match sandbox.eryx_sandbox_python().call_init(&mut store, imports) {
            Ok(Ok(())) => {}
            Ok(Err(exception)) => {
                return Err(PreinitError::Import {
                    imports: imports.to_vec(),
                    traceback: exception.traceback,
                    stderr: stderr.take_text(),
                }
                .into());
            }
            Err(error) => return Err(PreinitError::Trap { error, stderr: stderr.take_text() }.into()),
        }
        let initialized_at = started.elapsed();

        let snapshot = block_on(wizer.snapshot_component(&context, &mut Accessors { store: &mut store, instance }))
            .map_err(step("snapshot"))?;
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

    fn compile_instrumented(&self, instrumented: &[u8]) -> wasmtime::Result<Component> {
        let digest: [u8; 32] = Sha256::digest(instrumented).into();
        let mut recent = self.recent_instrumented.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, component)) = recent.iter().find(|(cached, _)| *cached == digest) {
            return Ok(component.clone());
        }
        let component = Component::new(&self.engine, instrumented)?;
        if recent.len() >= 2 {
            recent.remove(0);
        }
        recent.push((digest, component.clone()));
        Ok(component)
    }

    /// Runs trusted `code` in a fresh instance of `component` (instrumented and compiled as for
    /// a snapshot, so a snapshot of the same component in this process reuses the compiled
    /// code) with `wasi` as its context: no fuel, no memory limit, the same time limit as a
    /// pre-initialisation. `Ok(Err(text))` when the code raised (its traceback and stderr).
    pub(crate) fn run_trusted(
        &self,
        component: &[u8],
        mut wasi: WasiCtxBuilder,
        code: &str,
        stderr: &CapturedOutput,
    ) -> Result<Result<(), String>, PreinitError> {
        let started = Instant::now();
        let step = |step: &'static str| move |error| PreinitError::Step { step, error };
        let (_, instrumented) = Wizer::new().instrument_component(component).map_err(step("instrument"))?;
        let compiled = self.compile_instrumented(&instrumented).map_err(step("compile"))?;
        let mut store = Store::new(&self.engine, State::new(wasi.build(), usize::MAX, ScratchLimits::default()));
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if started.elapsed() > PREINIT_TIMEOUT {
                wasmtime::bail!("a trusted guest took longer than {PREINIT_TIMEOUT:?}")
            }
            Ok(wasmtime::UpdateDeadline::Continue(1))
        });
        let instance = self.linker().instantiate(&mut store, &compiled).map_err(step("instantiate"))?;
        let sandbox = bindings::Sandbox::new(&mut store, &instance).map_err(step("instantiate"))?;
        match sandbox.eryx_sandbox_python().call_execute(&mut store, code) {
            Ok(Ok(())) => Ok(Ok(())),
            Ok(Err(GuestFailure::Exception(exception))) => {
                Ok(Err(format!("{}{}", exception.traceback, stderr.take_text())))
            }
            Ok(Err(GuestFailure::Exit(status))) => {
                Ok(Err(format!("exited with status {status}\n{}", stderr.take_text())))
            }
            Err(error) => Err(PreinitError::Trap { error, stderr: stderr.take_text() }),
        }
    }
}

/// Whether wit-component added the WASI preview1 adapter (an instance named after its module).
fn includes_preview1_adapter(component: &[u8]) -> bool {
    component.windows(b"wasi_snapshot_preview1".len()).any(|window| window == b"wasi_snapshot_preview1")
}

/// Reads the instrumented instance's memories and globals for wizer, through the accessor
/// functions that its instrumentation exported.
struct Accessors<'a> {
    store: &'a mut Store<State>,
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
            snapshot_key("base", &imports(&["json"]), Some("0123")),
        ] {
            assert_ne!(key, other);
        }
        assert_ne!(key, "base", "a snapshot never takes the un-snapshotted component's key");
    }

    /// The snapshot is made from real inputs with real wasmtime; it must not carry the host
    /// paths of the mounts (the guest only ever sees its own paths).
    #[test]
    fn a_snapshot_holds_no_host_path() {
        let folder = crate::files::CacheFolder::new(crate::files::default_cache_dir());
        let stdlib = crate::stdlib::install(&folder.root().unwrap()).unwrap();
        let stdlib = stdlib.as_path();
        let engine = crate::engine::new_engine(crate::engine::Metering::Off, Default::default()).unwrap();
        let site = tempfile::tempdir().unwrap();
        std::fs::write(
            site.path().join("probe_module.py"),
            "import os, sys\nSEEN = (sys.path, dict(os.environ), os.getcwd())\n",
        )
        .unwrap();
        let trees = Trees {
            stdlib: crate::fs::TreeAt::Host(stdlib.to_path_buf()),
            site: Some(crate::fs::TreeAt::Host(site.path().to_path_buf())),
        };
        let snapshot = Preinitializer::new(engine)
            .snapshot(&crate::base::base_component(), &["probe_module".to_string()], &trees, None)
            .unwrap();
        assert_eq!(&snapshot[..8], b"\0asm\x0d\x00\x01\x00", "a component");
        let contains = |needle: &str| snapshot.windows(needle.len()).any(|window| window == needle.as_bytes());
        assert!(contains("probe_module"), "the import is in the snapshot");
        for host in [stdlib.to_str().unwrap(), site.path().to_str().unwrap()] {
            assert!(!contains(host), "the snapshot holds the host path {host}");
        }
    }
}

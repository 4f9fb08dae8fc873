//! Compiled components, cached in memory and on disk, ready to instantiate ([`Loaded`]).
//!
//! Compiling a component with Cranelift takes seconds; loading precompiled code takes
//! milliseconds. A [`ComponentCache`] belongs to one engine and keys its entries by
//! [`ComponentCache::key`]: the identity of the wasm (the SHA-256 of a linked component, or of
//! a snapshot's inputs), the engine's fingerprint and eryx's version. On disk an entry is
//! `components/<key>.cwasm` and its check `<key>.cwasm.check` (size, checksum, the file identity
//! it was verified with: [`crate::entry_check`]): an entry whose check is missing or fails
//! (truncated, corrupt, swapped) or that the engine rejects (another wasmtime, another CPU) is
//! compiled again and replaced, never trusted. Entries are written through a
//! temporary file and an atomic rename, so a reader sees a whole entry or none, and two
//! processes filling one key both leave a good entry.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Precompiled};

use crate::bindings;
use crate::engine::fingerprint;
use crate::entry_check;
use crate::error::BuildError;
use crate::files::write_atomic;
use crate::host::{State, async_linker};

/// A compiled component with its imports resolved: a sandbox is a store plus an instantiation.
pub(crate) struct Loaded {
    pub(crate) pre: bindings::SandboxPre<State>,
}

/// Where a sandbox's compiled component came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadedFrom {
    /// The runtime had it in memory (an earlier sandbox of this process used it).
    Memory,
    /// Precompiled code from the cache folder (an earlier process compiled it).
    Disk,
    /// Compiled now (and, with a cache folder, written there for the next process).
    Compiled,
    /// Code compiled ahead of time and embedded in the binary (eryx-build's `precompile`
    /// option), checked by wasmtime against this engine and CPU.
    Precompiled,
}

/// The compiled components of one engine.
pub(crate) struct ComponentCache {
    engine: Engine,
    fingerprint: String,
    linker: Linker<State>,
    memory: Mutex<HashMap<String, Arc<Loaded>>>,
    /// One lock per key being made: threads wanting the same component wait for the first one
    /// (compiling or snapshotting takes seconds) and then find it in memory.
    in_flight: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl ComponentCache {
    pub(crate) fn new(engine: Engine) -> Self {
        ComponentCache {
            fingerprint: fingerprint(&engine),
            linker: async_linker(&engine),
            engine,
            memory: Mutex::default(),
            in_flight: Mutex::default(),
        }
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The cache key of the wasm whose identity is `identity` (for a linked component: the hex
    /// SHA-256 of its bytes, whichever path linked it) when compiled by this engine.
    pub(crate) fn key(&self, identity: &[u8]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"eryx-component-v1\0");
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update([0]);
        hasher.update(self.fingerprint.as_bytes());
        hasher.update([0]);
        hasher.update(identity);
        hex::encode(hasher.finalize())
    }

    /// Returns the loaded component for `key`: from memory, from `precompiled` code (embedded in
    /// the binary; see the `precompile` module) when this engine and CPU accept it, from `disk`
    /// (the persistent cache folder, if any), or by compiling what `wasm` produces (so a hit
    /// never links or snapshots).
    pub(crate) fn load(
        &self,
        key: &str,
        disk: Option<&Path>,
        precompiled: Option<&'static [u8]>,
        wasm: impl FnOnce() -> Result<Vec<u8>, BuildError>,
    ) -> Result<(Arc<Loaded>, LoadedFrom), BuildError> {
        if let Some(loaded) = self.in_memory(key) {
            return Ok((loaded, LoadedFrom::Memory));
        }
        let making = self.in_flight_lock(key);
        let _making = making.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(loaded) = self.in_memory(key) {
            return Ok((loaded, LoadedFrom::Memory));
        }
        let path = disk.map(|dir| dir.join("components").join(format!("{key}.cwasm")));
        let found = precompiled
            .and_then(|code| load_precompiled(&self.engine, code))
            .map(|component| (component, LoadedFrom::Precompiled))
            .or_else(|| path.as_deref().and_then(|path| read_entry(&self.engine, path)).map(|c| (c, LoadedFrom::Disk)));
        let (component, from) = match found {
            Some(found) => found,
            None => {
                let wasm = wasm()?;
                let started = std::time::Instant::now();
                let component = Component::new(&self.engine, &wasm).map_err(BuildError::Compile)?;
                tracing::info!(elapsed = ?started.elapsed(), bytes = wasm.len(), "compiled component");
                if let Some(path) = &path
                    && let Err(error) = write_entry(path, &component)
                {
                    tracing::warn!(path = %path.display(), %error, "cannot write the compiled-component cache");
                }
                (component, LoadedFrom::Compiled)
            }
        };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(BuildError::Instantiate)?;
        let pre = bindings::SandboxPre::new(instance_pre).map_err(BuildError::Instantiate)?;
        let loaded = Arc::new(Loaded { pre });
        self.memory.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_string(), loaded.clone());
        Ok((loaded, from))
    }

    fn in_memory(&self, key: &str) -> Option<Arc<Loaded>> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned()
    }

    fn in_flight_lock(&self, key: &str) -> Arc<Mutex<()>> {
        let mut all = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|_, lock| Arc::strong_count(lock) > 1);
        all.entry(key.to_string()).or_default().clone()
    }
}

/// Reads and checks a disk entry; a bad one is removed so that it is rebuilt.
///
/// The code is memory-mapped by wasmtime, not read. Its check ([`entry_check`]) costs an
/// `fstat` when the file is the one verified before, and a hash of the whole file (XXH3-128,
/// about 6 ms for 40 MB) only when its identity changed: a corrupt, truncated or swapped
/// entry is never trusted.
fn read_entry(engine: &Engine, path: &Path) -> Option<Component> {
    let started = std::time::Instant::now();
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: cache entries are only ever replaced by rename, never written in place, so the
    // mapped file does not change under us (and a change would fail the check).
    let Some(verified) = entry_check::verify(path, &file, || unsafe { memmap2::Mmap::map(&file) }.ok()) else {
        tracing::warn!(path = %path.display(), "corrupt or incomplete compiled-component cache entry; compiling again");
        entry_check::remove(path);
        return None;
    };
    let checked = started.elapsed();
    // SAFETY: the file is exactly what `Component::serialize` wrote (its check says so), and
    // wasmtime itself rejects code from another version, configuration or CPU.
    match unsafe { Component::deserialize_file(engine, path) } {
        Ok(component) => {
            tracing::debug!(?verified, ?checked, total = ?started.elapsed(), "loaded compiled component from disk");
            Some(component)
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "incompatible compiled-component cache entry; compiling again");
            entry_check::remove(path);
            None
        }
    }
}

/// Loads code compiled ahead of time by `Precompiler::compile` (the `precompile` module) into
/// `engine`, or says why not (a warning) and returns `None`, so that the caller compiles instead.
fn load_precompiled(engine: &Engine, code: &'static [u8]) -> Option<Component> {
    let started = std::time::Instant::now();
    if Engine::detect_precompiled(code) != Some(Precompiled::Component) {
        tracing::warn!("the embedded precompiled code is not a wasmtime component; compiling instead");
        return None;
    }
    // SAFETY: the bytes were written by `Engine::precompile_component` in this binary's own
    // build and live in its read-only data (see "Why deserialising these bytes is sound" in
    // the `precompile` module); wasmtime checks their engine configuration and CPU features first.
    match unsafe { Component::deserialize(engine, code) } {
        Ok(component) => {
            tracing::debug!(elapsed = ?started.elapsed(), bytes = code.len(), "loaded the precompiled snapshot");
            Some(component)
        }
        Err(error) => {
            tracing::warn!(
                error = %format!("{error:#}"),
                "the embedded precompiled code does not suit this engine or CPU; compiling instead"
            );
            None
        }
    }
}

/// Writes the code through a temporary file and a rename, then its check.
fn write_entry(path: &Path, component: &Component) -> Result<(), Box<dyn std::error::Error>> {
    let code = component.serialize()?;
    // A reader that finds the new code before its check takes it as incomplete and compiles.
    let _ = std::fs::remove_file(entry_check::sidecar_path(path));
    write_atomic(path, &code)?;
    entry_check::record(path, &code)?;
    Ok(())
}

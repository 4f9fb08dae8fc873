//! Compiled components, cached in memory and on disk, ready to instantiate ([`Loaded`]).
//!
//! Compiling a component with Cranelift takes seconds; loading precompiled code takes
//! milliseconds. A [`ComponentCache`] belongs to one engine and keys its entries by
//! [`ComponentCache::key`]: the identity of the wasm (the SHA-256 of a linked component, or of
//! a snapshot's inputs), the engine's fingerprint and eryx's version. On disk entries live in
//! a [`ComponentStore`] (`components/<key>.cwasm` and its sidecars): written whole or not at
//! all, checked before use ([`crate::entry_check`]), bounded in size (least recently used out
//! first) and never removed while a process maps them. An entry whose check fails (truncated,
//! corrupt, swapped) or that the engine rejects (another wasmtime, another CPU) is compiled
//! again and replaced, never trusted.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Precompiled};

use crate::bindings;
use crate::component_store::{ComponentStore, EntryInfo, Lease};
use crate::engine::fingerprint;
use crate::error::BuildError;
use crate::host::{State, async_linker};
use crate::{fold_globals, trim};

/// A compiled component with its imports resolved: a sandbox is a store plus an instantiation.
pub(crate) struct Loaded {
    pub(crate) pre: bindings::SandboxPre<State>,
    /// Keeps the disk entry that wasmtime maps from removal by any process (see
    /// [`crate::component_store`]).
    _lease: Option<Lease>,
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
        hasher.update(b"eryx-component-v3\0");
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update([0]);
        hasher.update(self.fingerprint.as_bytes());
        hasher.update([0]);
        hasher.update(identity);
        hex::encode(hasher.finalize())
    }

    /// Returns the loaded component for `key`: from memory, from `precompiled` code (embedded in
    /// the binary; see the `precompile` module) when this engine and CPU accept it, from `disk`
    /// (the persistent cache folder's store, if any), or by compiling what `wasm` produces (so
    /// a hit never links or snapshots). `describe` says what a new disk entry holds.
    pub(crate) fn load(
        &self,
        key: &str,
        disk: Option<&ComponentStore>,
        precompiled: Option<&'static [u8]>,
        describe: impl FnOnce() -> EntryInfo,
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
        let found = precompiled
            .and_then(|code| load_precompiled(&self.engine, code))
            .map(|component| (component, None, LoadedFrom::Precompiled))
            .or_else(|| {
                let (component, lease) = read_entry(&self.engine, disk?, key)?;
                Some((component, Some(lease), LoadedFrom::Disk))
            });
        let (component, lease, from) = match found {
            Some(found) => found,
            None => {
                let wasm = wasm()?;
                let started = std::time::Instant::now();
                let component = Component::new(&self.engine, prepared(&wasm)).map_err(BuildError::Compile)?;
                tracing::info!(elapsed = ?started.elapsed(), bytes = wasm.len(), "compiled component");
                if let Some(store) = disk {
                    write_entry(store, key, &component, &describe());
                }
                (component, None, LoadedFrom::Compiled)
            }
        };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(BuildError::Instantiate)?;
        let pre = bindings::SandboxPre::new(instance_pre).map_err(BuildError::Instantiate)?;
        let loaded = Arc::new(Loaded { pre, _lease: lease });
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

/// What is compiled of a linked or snapshotted component: its constant globals folded
/// ([`fold_globals`]), then the exports nothing uses dropped ([`trim`]; folding removes imports,
/// so trimming after it drops the exports that only those imports used).
pub(crate) fn prepared(wasm: &[u8]) -> Cow<'_, [u8]> {
    match fold_globals::fold_constant_globals(wasm) {
        Cow::Borrowed(same) => trim::drop_unused_exports(same),
        Cow::Owned(folded) => Cow::Owned(trim::drop_unused_exports(&folded).into_owned()),
    }
}

/// Loads a disk entry (checked and leased by the store, then mapped by wasmtime); one that
/// the engine rejects is removed so that it is rebuilt.
///
/// The code is memory-mapped by wasmtime, not read. Its check ([`crate::entry_check`]) costs an
/// `fstat` when the file is the one verified before, and a hash of the whole file (XXH3-128,
/// about 6 ms for 40 MB) only when its identity changed: a corrupt, truncated or swapped
/// entry is never trusted.
fn read_entry(engine: &Engine, store: &ComponentStore, key: &str) -> Option<(Component, Lease)> {
    let started = std::time::Instant::now();
    let (path, lease) = store.open(key)?;
    let checked = started.elapsed();
    // SAFETY: the file is exactly what `Component::serialize` wrote (its check says so), entries
    // are never written in place, and the lease keeps it from removal while mapped; wasmtime
    // itself rejects code from another version, configuration or CPU.
    match unsafe { Component::deserialize_file(engine, &path) } {
        Ok(component) => {
            tracing::debug!(?checked, total = ?started.elapsed(), "loaded compiled component from disk");
            Some((component, lease))
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "incompatible compiled-component cache entry; compiling again");
            drop(lease);
            store.discard(key);
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

/// Writes a new entry, then brings the store back under its cap (keeping the new entry).
fn write_entry(store: &ComponentStore, key: &str, component: &Component, info: &EntryInfo) {
    let written = component
        .serialize()
        .map_err(|error| std::io::Error::other(format!("{error:#}")))
        .and_then(|code| store.write(key, &code, info));
    if let Err(error) = written {
        tracing::warn!(dir = %store.dir().display(), %error, "cannot write the compiled-component cache");
        return;
    }
    match store.prune_keeping(store.limit(), Some(key)) {
        Ok(report) if !report.removed.is_empty() || !report.leftovers.is_empty() => tracing::info!(
            removed = report.removed.len(),
            leftovers = report.leftovers.len(),
            remaining_bytes = report.remaining_bytes,
            limit = store.limit(),
            "pruned the compiled-component cache"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(dir = %store.dir().display(), %error, "cannot prune the compiled-component cache"),
    }
}

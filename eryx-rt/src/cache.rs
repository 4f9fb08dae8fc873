//! Compiled components, cached in memory and on disk.
//!
//! Compiling a component with Cranelift takes seconds; loading precompiled code takes
//! milliseconds. Entries are keyed by a SHA-256 over everything that changes the compiled
//! code (see [`component_key`]). On disk an entry is `<key>.cwasm` and its checksum
//! `<key>.cwasm.xxh3`: an entry whose checksum is missing or does not match (truncated,
//! corrupt) or that this engine rejects (another wasmtime, another CPU) is compiled again and
//! replaced, never trusted. Writes go through a temporary file and an atomic rename, so a reader sees a
//! whole entry or none, and two processes filling one key both leave a good entry.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use crate::engine::{config_fingerprint, engine};
use crate::error::BuildError;
use crate::sandbox::Loaded;

/// The cache folder: `$ERYX_CACHE_DIR`, else the user cache folder (`$XDG_CACHE_HOME/eryx`
/// or `~/.cache/eryx` on Linux). `None` when neither exists: then nothing is kept on disk.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ERYX_CACHE_DIR").filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|dir| dir.join("eryx"))
}

/// The cache key of a component: its identity plus the engine and eryx versions.
pub(crate) fn component_key(component_identity: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"eryx-component-v1\0");
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update([0]);
    hasher.update(config_fingerprint().as_bytes());
    hasher.update([0]);
    hasher.update(component_identity);
    hex::encode(hasher.finalize())
}

fn memory() -> &'static Mutex<HashMap<String, Arc<Loaded>>> {
    static MEMORY: OnceLock<Mutex<HashMap<String, Arc<Loaded>>>> = OnceLock::new();
    MEMORY.get_or_init(Default::default)
}

/// Where a component came from, for logs and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Memory,
    Disk,
    Compiled,
}

/// Returns the loaded component for `key`, from memory, from disk, or by compiling the
/// wasm that `wasm` produces (linking happens there, so a hit never links).
pub(crate) fn load(
    key: &str,
    wasm: impl FnOnce() -> Result<Vec<u8>, BuildError>,
) -> Result<(Arc<Loaded>, Source), BuildError> {
    if let Some(loaded) = memory().lock().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Ok((loaded.clone(), Source::Memory));
    }
    let path = cache_dir().map(|dir| dir.join("components").join(format!("{key}.cwasm")));
    let (component, source) = match path.as_deref().and_then(read_entry) {
        Some(component) => (component, Source::Disk),
        None => {
            let wasm = wasm()?;
            let started = std::time::Instant::now();
            let component = Component::new(engine(), &wasm).map_err(|e| BuildError::Compile(format!("{e:#}")))?;
            tracing::info!(elapsed = ?started.elapsed(), bytes = wasm.len(), "compiled component");
            if let Some(path) = &path {
                if let Err(error) = write_entry(path, &component) {
                    tracing::warn!(path = %path.display(), %error, "cannot write the compiled-component cache");
                }
            }
            (component, Source::Compiled)
        }
    };
    let loaded = Arc::new(Loaded::new(component)?);
    let mut memory = memory().lock().unwrap_or_else(|e| e.into_inner());
    let loaded = memory.entry(key.to_string()).or_insert(loaded).clone();
    Ok((loaded, source))
}

/// Reads and checks a disk entry; a bad one is removed so that it is rebuilt.
///
/// The code is memory-mapped, not read: its checksum (XXH3-128 in `<key>.cwasm.xxh3`,
/// written after the code) is computed over the mapping, and wasmtime maps the same file, so
/// a 40 MB entry loads in milliseconds. A missing or different checksum means the entry is
/// incomplete or damaged.
fn read_entry(path: &Path) -> Option<Component> {
    let started = std::time::Instant::now();
    let sidecar = checksum_path(path);
    let expected = std::fs::read(&sidecar).ok();
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: cache entries are only ever replaced by rename, never written in place, so the
    // mapped file does not change under us.
    let mapped = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    let actual = xxhash_rust::xxh3::xxh3_128(&mapped).to_le_bytes();
    if expected.as_deref() != Some(&actual[..]) {
        tracing::warn!(path = %path.display(), "corrupt or incomplete compiled-component cache entry; compiling again");
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_file(&sidecar);
        return None;
    }
    let verified = started.elapsed();
    // SAFETY: the file is exactly what `Component::serialize` wrote (the checksum says so),
    // and wasmtime itself rejects code from another version, configuration or CPU.
    match unsafe { Component::deserialize_file(engine(), path) } {
        Ok(component) => {
            tracing::debug!(?verified, total = ?started.elapsed(), bytes = mapped.len(), "loaded compiled component from disk");
            Some(component)
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "incompatible compiled-component cache entry; compiling again");
            let _ = std::fs::remove_file(path);
            let _ = std::fs::remove_file(&sidecar);
            None
        }
    }
}

fn checksum_path(path: &Path) -> PathBuf {
    path.with_extension("cwasm.xxh3")
}

/// Writes the code, then its checksum; each through a temporary file and a rename.
fn write_entry(path: &Path, component: &Component) -> Result<(), Box<dyn std::error::Error>> {
    let code = component.serialize()?;
    let dir = path.parent().ok_or("cache path has no folder")?;
    std::fs::create_dir_all(dir)?;
    let checksum = xxhash_rust::xxh3::xxh3_128(&code).to_le_bytes();
    for (target, bytes) in [(path.to_path_buf(), &code[..]), (checksum_path(path), &checksum[..])] {
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        file.write_all(bytes)?;
        file.as_file().sync_all()?;
        file.persist(target)?;
    }
    Ok(())
}

/// Marks a folder installed by [`install_dir`] as complete.
pub(crate) const COMPLETE_MARKER: &str = ".eryx-complete";

/// Creates the folder `target` atomically unless it is complete already: `fill` writes into a
/// staging folder beside it, which is then renamed into place. A crash leaves no half folder
/// at `target`; two processes racing both end with one complete folder.
pub(crate) fn install_dir(target: &Path, fill: impl FnOnce(&Path) -> std::io::Result<()>) -> Result<(), BuildError> {
    if target.join(COMPLETE_MARKER).exists() {
        return Ok(());
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    let root = target.parent().expect("cache folders have a parent");
    std::fs::create_dir_all(root).map_err(io(root))?;
    let staging = tempfile::Builder::new().prefix(".tmp-").tempdir_in(root).map_err(io(root))?;
    fill(staging.path()).map_err(io(staging.path()))?;
    std::fs::write(staging.path().join(COMPLETE_MARKER), b"").map_err(io(staging.path()))?;
    if target.exists() && !target.join(COMPLETE_MARKER).exists() {
        // Left incomplete by an older process that did not stage: start over.
        let _ = std::fs::remove_dir_all(target);
    }
    match std::fs::rename(staging.path(), target) {
        Ok(()) => {
            // The folder now lives at `target`; keep the guard from deleting it.
            let _ = staging.keep();
            Ok(())
        }
        // Another process installed it first; ours is dropped.
        Err(_) if target.join(COMPLETE_MARKER).exists() => Ok(()),
        Err(source) => Err(BuildError::Io { path: target.to_path_buf(), source }),
    }
}

/// The cache folder, or a per-process temporary one when there is no cache folder.
pub(crate) fn cache_root() -> PathBuf {
    cache_dir().unwrap_or_else(|| std::env::temp_dir().join(format!("eryx-{}", std::process::id())))
}

//! Snapshots compiled ahead of time, for binaries that embed their component (eryx-build's
//! `precompile` option), so that a machine with an empty cache compiles nothing.
//!
//! Without it, the first sandbox of an embedded component on a fresh machine (a new container
//! of a service, say) makes the pre-initialised snapshot and compiles it with Cranelift: tens
//! of seconds. [`Precompiler`] does that work in the build instead: it makes the snapshot after
//! the crate's `preinit` imports, compiles it for a named CPU baseline
//! ([`Precompiler::compile`], [`DEFAULT_CPU`]) with the configuration of a runtime's plain
//! engine, and hands back the code with the bytecode packs of the standard library and the
//! site-packages tree the snapshot was made with (the `bytecode` module). eryx-build embeds all
//! three; at run time a sandbox without a fuel budget that asks for the crate's own import list
//! loads that code (`component::load_precompiled`) after wasmtime has checked it, and the guest
//! sees the standard library and the site-packages tree with their packs as images served from
//! the binary's bytes (`fs::image`): nothing is unpacked or written to disk.
//!
//! # What is checked when the code is loaded
//!
//! [`Engine::detect_precompiled`] must see a wasmtime component artifact, and
//! `Component::deserialize` then checks, before any code is used, the artifact's metadata
//! against the running engine: the wasmtime version string, the target architecture and
//! operating system, the compiler's shared settings, every CPU feature the code was compiled to
//! use (each must be detected on this CPU: code for a newer CPU is refused), the tunables
//! (fuel, epoch interruption, memory reservation and guards, signal-based traps, ...) and the
//! WebAssembly features. Anything that does not match fails the load; the sandbox then takes
//! the ordinary way (snapshot and compile, cached on disk) and a warning is logged. Sandboxes
//! with a fuel budget, or with another import list, take the ordinary way too (their code
//! differs), without a warning.
//!
//! # Why deserialising these bytes is sound
//!
//! `Component::deserialize` is `unsafe` because wasmtime runs the machine code in the bytes as
//! it finds it: bytes from an attacker, or bytes changed after wasmtime wrote them, could do
//! anything. These bytes are neither. They are written by `Engine::precompile_component` in the
//! build of the binary that carries them, from pinned inputs (the wheels' SHA-256 sums, eryx's
//! own base libraries), and `include_bytes!` puts them in the binary's read-only data: they are
//! never read from a file, a cache folder or anything else a process can write at run time,
//! so whoever can change them can change the binary's own code too. What wasmtime checks
//! (above) covers the remaining risk, code built for another engine or CPU.
//!
//! # Reproducible
//!
//! The same inputs give the same bytes (eryx-build's outputs are checked by rebuilding): the
//! snapshot is taken with fixed clocks (the `clocks` module), with random sources seeded from the
//! inputs' digest and with file metadata that does not depend on the host
//! (the `fixed_metadata` module: times, inode numbers), and the code is compiled for a fixed
//! target and CPU feature set, never for the build machine's CPU. The price of the fixed seed:
//! the secret of str/bytes hash randomisation is the same in
//! every binary built from the same inputs (sandboxes of one snapshot share it anyway).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;

use crate::bytecode::{self, Tree};
use crate::cache_entries::HeldTrees;
use crate::embedded::install_site_tar;
use crate::engine::{Allocation, Metering, config, new_engine};
use crate::error::BuildError;
use crate::files::{CacheFolder, default_cache_dir};
use crate::fs::{TreeAt, Trees};
use crate::preinit::Preinitializer;

/// The CPU baseline code is compiled for unless told otherwise: `x86-64-v2` (SSE4.2, POPCNT,
/// CMPXCHG16B; every x86-64 server CPU since about 2009) on x86-64; Cranelift's defaults for
/// the architecture elsewhere.
pub const DEFAULT_CPU: &str = if cfg!(target_arch = "x86_64") { "x86-64-v2" } else { "" };

/// What the precompiler needs of an embedded component: eryx-build's outputs.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The linked component.
    pub wasm: &'a [u8],
    /// The site-packages tree as eryx-build's reproducible tar (empty: none).
    pub site_tar: &'a [u8],
    /// The digest naming the site-packages tree.
    pub site_sha256: &'a str,
    /// The modules imported before the snapshot.
    pub preinit: &'a [String],
}

/// A snapshot made by [`Precompiler::snapshot`], with the bytecode packs it was made with.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The pre-initialised component (plain wasm).
    pub wasm: Vec<u8>,
    /// The standard library's bytecode pack.
    pub stdlib_pack: Vec<u8>,
    /// The site-packages tree's bytecode pack (empty without a tree).
    pub site_pack: Vec<u8>,
}

/// Makes snapshots and compiles them ahead of time (in a build script: see eryx-build).
pub struct Precompiler {
    folder: CacheFolder,
    preinitializer: Preinitializer,
}

impl std::fmt::Debug for Precompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Precompiler").field("cache_dir", &self.folder.persistent()).finish_non_exhaustive()
    }
}

impl Precompiler {
    /// A precompiler that keeps the unpacked trees and their bytecode packs in eryx's cache
    /// folder (`$ERYX_CACHE_DIR`, else the user cache folder), shared with runtimes: the
    /// standard library's pack is made once per machine.
    pub fn new() -> Result<Self, BuildError> {
        Self::with_cache_dir(default_cache_dir())
    }

    /// The same with another cache folder (`None`: a temporary one).
    pub fn with_cache_dir(dir: Option<PathBuf>) -> Result<Self, BuildError> {
        let engine = new_engine(Metering::Off, Allocation::OnDemand)?;
        Ok(Precompiler { folder: CacheFolder::new(dir), preinitializer: Preinitializer::new(engine) })
    }

    /// Pre-initialises the component after its imports, reproducibly (see the module docs).
    pub fn snapshot(&self, inputs: &Inputs<'_>) -> Result<Snapshot, BuildError> {
        let root = self.folder.root()?;
        // Held until the snapshot is made, so that no process prunes them meanwhile.
        let trees = HeldTrees::default();
        let stdlib = trees.hold_tree(|| crate::stdlib::install(&root))?;
        bytecode::ensure_pack(&self.preinitializer, Tree::Stdlib(&stdlib));
        let stdlib_pack = bytecode::read_pack(&stdlib).ok_or_else(|| no_pack(&stdlib))?;
        let site = match inputs.site_tar.is_empty() {
            true => None,
            false => Some(trees.hold_tree(|| install_site_tar(&root, inputs.site_sha256, inputs.site_tar))?),
        };
        let site_pack = match &site {
            Some(site) => {
                bytecode::ensure_pack(&self.preinitializer, Tree::SitePackages { stdlib: &stdlib, site });
                bytecode::read_pack(site).ok_or_else(|| no_pack(site))?
            }
            None => Vec::new(),
        };

        let trees = Trees { stdlib: TreeAt::Host(stdlib), site: site.map(TreeAt::Host) };
        let wasm = self.preinitializer.snapshot(inputs.wasm, inputs.preinit, &trees, Some(seed(inputs)))?;
        Ok(Snapshot { wasm, stdlib_pack, site_pack })
    }

    /// Compiles `snapshot` for `cpu` with a runtime's plain-engine configuration (no fuel),
    /// for the architecture and system of `target` (a Rust target triple; `None`: this host).
    ///
    /// `cpu` is a Cranelift preset of the architecture (`x86-64-v2`, `x86-64-v3`, `haswell`,
    /// ...), optionally followed by `+setting` for each further CPU feature (`x86-64-v3+has_avx512f`),
    /// or empty for Cranelift's defaults. Unknown names are an error.
    pub fn compile(&self, snapshot: &Snapshot, target: Option<&str>, cpu: &str) -> Result<Vec<u8>, BuildError> {
        let started = std::time::Instant::now();
        let engine = target_engine(target, cpu)?;
        let code =
            engine.precompile_component(&crate::component::prepared(&snapshot.wasm)).map_err(BuildError::Compile)?;
        tracing::info!(elapsed = ?started.elapsed(), cpu, bytes = code.len(), "precompiled the snapshot");
        Ok(code)
    }
}

/// An engine configured like a runtime's plain engine, compiling for `target` and `cpu`.
fn target_engine(target: Option<&str>, cpu: &str) -> Result<Engine, BuildError> {
    let bad_cpu = |source| BuildError::Cpu { cpu: cpu.to_string(), source };
    let mut config = config(Metering::Off, Allocation::OnDemand);
    if let Some(target) = target {
        config.target(target).map_err(bad_cpu)?;
    }
    for name in cpu.split('+').filter(|name| !name.is_empty()) {
        // SAFETY: this engine only compiles; its code runs elsewhere, after loading has had
        // wasmtime check each enabled feature against that CPU. An unknown name makes
        // `Engine::new` fail.
        unsafe { config.cranelift_flag_enable(name) };
    }
    Engine::new(&config).map_err(bad_cpu)
}

fn no_pack(tree: &Path) -> BuildError {
    BuildError::Io {
        path: tree.to_path_buf(),
        source: std::io::Error::other("its bytecode pack could not be made (the log says why)"),
    }
}

/// The seed of the snapshot's random sources: a digest of everything the snapshot depends on.
fn seed(inputs: &Inputs<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"eryx-precompile-seed-v1\0");
    hasher.update(Sha256::digest(inputs.wasm));
    hasher.update(inputs.site_sha256.as_bytes());
    for import in inputs.preinit {
        hasher.update((import.len() as u64).to_le_bytes());
        hasher.update(import.as_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn cpu_baselines_are_cranelift_presets_and_settings() {
        assert!(target_engine(None, DEFAULT_CPU).is_ok());
        assert!(target_engine(None, "x86-64-v3+has_avx512f").is_ok());
        for wrong in ["x86-64-v9", "x86-64-v2+avx9000"] {
            let error = target_engine(None, wrong).unwrap_err();
            assert!(matches!(error, BuildError::Cpu { .. }), "{wrong}: {error}");
            assert!(error.to_string().contains(wrong), "{error}");
        }
    }
}

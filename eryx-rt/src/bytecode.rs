//! Bytecode compiled ahead of time, so that no import in a sandbox compiles Python source.
//!
//! Compiling the standard library's sources at import made the first `import json, decimal,
//! asyncio` of every sandbox take about a second. Each tree of Python files that eryx mounts
//! (the standard library, every site-packages tree) gets a bytecode pack: one file,
//! `.eryx-bytecode.pack` at the tree's root, holding unchecked-hash `.pyc` data for each of its
//! `.py` files. The guest runtime (`libs/runtime/src/bytecode.py`) reads the pack's index at
//! start-up and its normal source loader then reads bytecode from the pack instead of
//! compiling.
//!
//! * **Made by a trusted guest.** The host's Python (if any) is another version with other
//!   bytecode, so the pack is made by this same CPython: a fresh instance of the base component
//!   on the runtime's plain engine, run like a pre-initialisation (no fuel, nothing untrusted runs in it), with the tree
//!   mounted read-only at its guest path and a staging folder read-write. It shares the
//!   compiled code with the snapshot of the base component, so it costs no extra Cranelift
//!   compile when that snapshot is made in the same process.
//! * **Reproducible.** Files in sorted order, fixed clocks and a fixed random source (so a fixed
//!   hash seed): the same tree and runtime give the same bytes (a test checks it).
//! * **Cached and checked like every cache entry.** The pack is written through a temporary
//!   file and a rename and checked with [`entry_check`] (size, checksum, verified file identity;
//!   one `fstat` per process), its check file beside the tree (`<tree>.bytecode.check`, out of
//!   the guest's sight). A missing, corrupt or swapped pack is made again; while it is
//!   missing imports compile sources, as CPython does without bytecode.
//! * **Keys.** A tree's folder is named after its sources (the base libraries' fingerprint, a
//!   site-packages digest), and the pack is a deterministic function of those sources and the
//!   runtime, which the component key covers: snapshot keys need no part for it. The guest
//!   still compares each read against the header the index recorded, so bytecode from a pack
//!   that differs from the indexed one is never run (the source is compiled instead).
//! * **Failure is not fatal.** If the pack cannot be made (a disk error, a guest failure), a
//!   warning is logged and imports compile sources.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::clocks::{PreinitMonotonicClock, PreinitWallClock};
use crate::entry_check;
use crate::error::PreinitError;
use crate::output::CapturedOutput;
use crate::preinit::Preinitializer;

/// Why a pack could not be made (only logged: imports then compile sources).
#[derive(Debug, thiserror::Error)]
enum PackError {
    #[error("cannot use {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Guest(#[from] PreinitError),
    #[error("the packing guest raised:\n{0}")]
    Raised(String),
}

/// The pack's file name at the root of its tree (the guest runtime looks for the same name).
pub(crate) const PACK_NAME: &str = ".eryx-bytecode.pack";

/// Where the packing guest writes its pack (a host staging folder, read-write).
const OUT_GUEST_DIR: &str = "/eryx-bytecode-out";

/// The packing guest's code (its ROOTS and OUT are prepended).
const PACK_SCRIPT: &str = include_str!("bytecode_pack.py");

/// The seed of the packing guest's random source, fixed so the pack is reproducible.
const FIXED_RANDOM: [u8; 32] = *b"eryx bytecode packs: fixed seed.";

/// A tree of Python files and where the guest sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tree<'a> {
    /// The standard library (its sources only are needed to compile it).
    Stdlib(&'a Path),
    /// A site-packages tree, compiled with the standard library mounted beside it.
    SitePackages { stdlib: &'a Path, site: &'a Path },
}

impl Tree<'_> {
    fn root(&self) -> &Path {
        match self {
            Tree::Stdlib(dir) => dir,
            Tree::SitePackages { site, .. } => site,
        }
    }

    fn guest_root(&self) -> &'static str {
        match self {
            Tree::Stdlib(_) => eryx_libs::STDLIB_GUEST_DIR,
            Tree::SitePackages { .. } => eryx_libs::SITE_PACKAGES_GUEST_DIR,
        }
    }
}

/// Packs checked by this process already (a pack is checked once per process).
fn checked() -> &'static Mutex<HashSet<PathBuf>> {
    static CHECKED: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    CHECKED.get_or_init(Default::default)
}

/// Makes sure `tree` has a good bytecode pack: checks it, and when it is missing or bad makes it
/// with `preinitializer`'s engine. Never fails: without a pack, imports compile sources (a
/// warning is logged). (A binary that embeds its packs shows them from memory instead, with
/// its trees: see `fs::image`.)
pub(crate) fn ensure_pack(preinitializer: &Preinitializer, tree: Tree<'_>) {
    let pack = tree.root().join(PACK_NAME);
    if checked().lock().unwrap_or_else(|e| e.into_inner()).contains(&pack) {
        return;
    }
    if !pack_is_good(tree.root(), &pack) {
        let started = Instant::now();
        match make_pack(preinitializer, tree, &pack) {
            Ok(bytes) => tracing::info!(
                elapsed = ?started.elapsed(), bytes, tree = %tree.root().display(), "compiled the bytecode pack"
            ),
            Err(error) => {
                tracing::warn!(tree = %tree.root().display(), %error, "cannot make the bytecode pack; imports compile sources");
                return;
            }
        }
    }
    checked().lock().unwrap_or_else(|e| e.into_inner()).insert(pack);
}

/// The pack's check file: beside the tree, not in it, so the guest sees no host file identity.
fn sidecar(tree_root: &Path) -> PathBuf {
    let mut name = tree_root.as_os_str().to_owned();
    name.push(".bytecode.check");
    PathBuf::from(name)
}

fn pack_is_good(tree_root: &Path, pack: &Path) -> bool {
    let Ok(file) = std::fs::File::open(pack) else { return false };
    let sidecar = sidecar(tree_root);
    // SAFETY: packs are only replaced by rename, never written in place; a change would fail
    // the check anyway.
    if entry_check::verify_beside(pack, &sidecar, &file, || unsafe { memmap2::Mmap::map(&file) }.ok()).is_some() {
        return true;
    }
    tracing::warn!(path = %pack.display(), "corrupt or incomplete bytecode pack; compiling it again");
    let _ = std::fs::remove_file(pack);
    let _ = std::fs::remove_file(&sidecar);
    false
}

/// The bytes of `tree_root`'s pack, if it has a good one (for the precompiler to embed).
pub(crate) fn read_pack(tree_root: &Path) -> Option<Vec<u8>> {
    let pack = tree_root.join(PACK_NAME);
    pack_is_good(tree_root, &pack).then(|| std::fs::read(&pack).ok()).flatten()
}

/// Compiles the pack in a trusted guest and moves it into place; returns its size.
fn make_pack(preinitializer: &Preinitializer, tree: Tree<'_>, pack: &Path) -> Result<usize, PackError> {
    let root = tree.root();
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PackError::Io { path, source }
    };
    let parent = root.parent().unwrap_or(root);
    let staging = tempfile::Builder::new().prefix(".tmp-bytecode-").tempdir_in(parent).map_err(io(parent))?;

    let stdout = CapturedOutput::new(1 << 16);
    let stderr = CapturedOutput::new(1 << 20);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(stdout.clone()).stderr(stderr.clone());
    wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
    wasi.wall_clock(PreinitWallClock::default()).monotonic_clock(PreinitMonotonicClock::default());
    wasi.secure_random(wasmtime_wasi::Deterministic::new(FIXED_RANDOM.to_vec()));
    wasi.insecure_random(wasmtime_wasi::Deterministic::new(FIXED_RANDOM.to_vec()));
    wasi.insecure_random_seed(0);
    let (stdlib, site) = match tree {
        Tree::Stdlib(stdlib) => (stdlib, None),
        Tree::SitePackages { stdlib, site } => (stdlib, Some(site)),
    };
    let mounts = [
        (Some(stdlib), eryx_libs::STDLIB_GUEST_DIR, false),
        (site, eryx_libs::SITE_PACKAGES_GUEST_DIR, false),
        (Some(staging.path()), OUT_GUEST_DIR, true),
    ];
    for (host, guest, writable) in mounts {
        let Some(host) = host else { continue };
        let perms = if writable { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
        wasi.preopened_dir(host, guest, perms)
            .map_err(|e| PackError::Io { path: host.to_path_buf(), source: std::io::Error::other(format!("{e:#}")) })?;
    }

    let out = format!("{OUT_GUEST_DIR}/pack");
    let code = format!("ROOTS = [{:?}]\nOUT = {out:?}\n{PACK_SCRIPT}", tree.guest_root());
    // The base component: the bytecode depends only on the interpreter, which every component shares.
    preinitializer.run_trusted(&crate::base::base_component(), wasi, &code, &stderr)?.map_err(PackError::Raised)?;
    tracing::debug!(summary = %stdout.take_text().trim(), "packed bytecode");

    let written = staging.path().join("pack");
    let bytes = std::fs::read(&written).map_err(io(&written))?;
    let sidecar = sidecar(root);
    // A reader that finds the new pack before its check takes it as incomplete and makes it again.
    let _ = std::fs::remove_file(&sidecar);
    std::fs::rename(&written, pack).map_err(io(pack))?;
    entry_check::record_beside(&sidecar, &bytes).map_err(io(&sidecar))?;
    Ok(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_with_modules() -> tempfile::TempDir {
        let site = tempfile::tempdir().unwrap();
        std::fs::create_dir(site.path().join("pkg")).unwrap();
        std::fs::write(site.path().join("pkg/__init__.py"), "VALUE = {'a', 'b', 'c'}\n").unwrap();
        std::fs::write(site.path().join("pkg/mod.py"), "def f(x):\n    return x in {'x', 'y'}\n").unwrap();
        std::fs::write(site.path().join("broken.py"), "def (:\n").unwrap();
        site
    }

    fn forget_checks() {
        checked().lock().unwrap().clear();
    }

    #[test]
    fn packs_are_reproducible_and_a_corrupt_or_swapped_pack_is_made_again() {
        let folder = crate::files::CacheFolder::new(crate::files::default_cache_dir());
        let stdlib = crate::stdlib::install(&folder.root().unwrap()).unwrap();
        let stdlib = stdlib.as_path();
        let engine = crate::engine::new_engine(crate::engine::Metering::Off, Default::default()).unwrap();
        let preinitializer = Preinitializer::new(engine);
        let ensure_pack = |tree| ensure_pack(&preinitializer, tree);
        let site = tree_with_modules();
        let tree = Tree::SitePackages { stdlib, site: site.path() };
        let pack = site.path().join(PACK_NAME);

        ensure_pack(tree);
        let first = std::fs::read(&pack).expect("the pack is made");
        assert!(first.starts_with(b"eryx-bytecode-pack-v1\n"));
        let index_len = u64::from_le_bytes(first[22..30].try_into().unwrap()) as usize;
        let index = &first[30..30 + index_len];
        let contains = |needle: &[u8]| index.windows(needle.len()).any(|window| window == needle);
        assert!(contains(b"/site-packages/pkg/__pycache__/mod.cpython-314.pyc"), "guest paths are indexed");
        assert!(!contains(b"broken"), "a file that does not compile is left to the source loader");

        // Made again from scratch: the same bytes.
        std::fs::remove_file(&pack).unwrap();
        forget_checks();
        ensure_pack(tree);
        assert_eq!(std::fs::read(&pack).unwrap(), first, "packing is reproducible");

        // Corrupt in place (same size): found by its check and made again.
        let mut corrupt = first.clone();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0xff;
        std::fs::write(&pack, &corrupt).unwrap();
        forget_checks();
        ensure_pack(tree);
        assert_eq!(std::fs::read(&pack).unwrap(), first, "a corrupt pack is made again");

        // Swapped for the pack of another tree (stale): found and made again.
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("other.py"), "X = 1\n").unwrap();
        ensure_pack(Tree::SitePackages { stdlib, site: other.path() });
        std::fs::copy(other.path().join(PACK_NAME), &pack).unwrap();
        forget_checks();
        ensure_pack(tree);
        assert_eq!(std::fs::read(&pack).unwrap(), first, "a swapped pack is made again");
        for dir in [site.path(), other.path()] {
            let _ = std::fs::remove_file(sidecar(dir));
        }
    }
}

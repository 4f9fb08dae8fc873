//! The CPython standard library, unpacked once into the cache folder and mounted read-only.
//!
//! The archive is embedded in eryx-libs; it is unpacked into a temporary folder next to its
//! final place and renamed into place when complete, so a crash mid-way leaves no half tree.
//! The folder name carries the base libraries' fingerprint: another eryx gets another folder.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::cache::cache_dir;
use crate::error::BuildError;

/// The host folder holding the standard library (unpacked on first use).
pub(crate) fn stdlib_dir() -> Result<&'static Path, BuildError> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    if let Some(dir) = DIR.get() {
        return Ok(dir);
    }
    let dir = unpack()?;
    Ok(DIR.get_or_init(|| dir))
}

fn unpack() -> Result<PathBuf, BuildError> {
    let root = match cache_dir() {
        Some(dir) => dir,
        // No cache folder at all: unpack into a temporary folder kept for the process.
        None => std::env::temp_dir().join(format!("eryx-{}", std::process::id())),
    };
    let target = root.join(format!("stdlib-{}", &eryx_libs::FINGERPRINT[..16]));
    if target.join(COMPLETE_MARKER).exists() {
        return Ok(target);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    std::fs::create_dir_all(&root).map_err(io(&root))?;
    let staging = tempfile::Builder::new().prefix(".stdlib-").tempdir_in(&root).map_err(io(&root))?;
    let started = std::time::Instant::now();
    tar::Archive::new(&eryx_libs::base::stdlib_tar()[..]).unpack(staging.path()).map_err(io(staging.path()))?;
    std::fs::write(staging.path().join(COMPLETE_MARKER), b"").map_err(io(staging.path()))?;
    if target.exists() && !target.join(COMPLETE_MARKER).exists() {
        // Left by a process that died before this scheme was in place: start over.
        let _ = std::fs::remove_dir_all(&target);
    }
    match std::fs::rename(staging.path(), &target) {
        Ok(()) => {
            // The folder now lives at `target`; do not let the guard delete it.
            let _ = staging.keep();
        }
        // Another process won the race and its copy is complete: use it, drop ours.
        Err(_) if target.join(COMPLETE_MARKER).exists() => {}
        Err(error) => return Err(BuildError::Io { path: target, source: error }),
    }
    tracing::info!(elapsed = ?started.elapsed(), dir = %target.display(), "unpacked the standard library");
    Ok(target)
}

const COMPLETE_MARKER: &str = ".eryx-complete";

//! The CPython standard library, unpacked once into the cache folder and mounted read-only.
//!
//! The archive is embedded in eryx-libs; it is unpacked into a temporary folder next to its
//! final place and renamed into place when complete, so a crash mid-way leaves no half tree.
//! The folder name carries the base libraries' fingerprint: another eryx gets another folder.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::cache::{cache_root, install_dir};
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
    let target = cache_root().join(format!("stdlib-{}", &eryx_libs::FINGERPRINT[..16]));
    install_dir(&target, |staging| {
        let started = std::time::Instant::now();
        tar::Archive::new(&eryx_libs::base::stdlib_tar()[..]).unpack(staging)?;
        tracing::info!(elapsed = ?started.elapsed(), dir = %target.display(), "unpacked the standard library");
        Ok(())
    })?;
    Ok(target)
}

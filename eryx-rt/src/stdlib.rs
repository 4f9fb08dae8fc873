//! The CPython standard library, unpacked once into the cache folder and mounted read-only.
//!
//! The archive is embedded in eryx-libs; [`install_dir`] unpacks it into a staging folder next
//! to its final place and renames it into place when complete, so a crash mid-way leaves no
//! half tree. The folder name carries the base libraries' fingerprint: another eryx gets another
//! folder.

use std::path::{Path, PathBuf};

use crate::error::BuildError;
use crate::files::install_dir;

/// Unpacks the standard library under `root` (once per folder) and returns its folder.
pub(crate) fn install(root: &Path) -> Result<PathBuf, BuildError> {
    let target = root.join(format!("stdlib-{}", &eryx_libs::FINGERPRINT[..16]));
    install_dir(&target, |staging| {
        let started = std::time::Instant::now();
        tar::Archive::new(&eryx_libs::base::stdlib_tar()[..]).unpack(staging)?;
        tracing::info!(elapsed = ?started.elapsed(), dir = %target.display(), "unpacked the standard library");
        Ok(())
    })?;
    Ok(target)
}

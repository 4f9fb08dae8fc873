//! [`Mount`]: a host folder the user chose to show the guest, read-only unless asked.
//!
//! Mounts are served by wasmtime-wasi's preopens (cap-std), which keep every guest path inside
//! the folder: `..` past the top, absolute symlinks and symlinks leading out are refused by the
//! host's `openat2`-style resolution, not by checks of ours. What is checked here is the mount
//! itself: the host folder must exist, and the guest path must be a clean absolute path that
//! neither hides nor sits inside one of eryx's own folders (the scratch space, the standard
//! library, site-packages), where the guest's longest-prefix lookup would make it ambiguous.

use std::path::{Path, PathBuf};

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// A host folder shown to the guest at a guest path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The folder on the host.
    pub host: PathBuf,
    /// Where the guest sees it, e.g. `/data`.
    pub guest: String,
    /// Whether the guest may create, change and delete files in it.
    pub writable: bool,
}

/// Why a mount was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// The guest path is not usable.
    #[error("cannot mount at guest path {guest:?}: {reason}")]
    GuestPath {
        /// The guest path as given.
        guest: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The host folder cannot be opened.
    #[error("cannot mount host folder {}: {source}", host.display())]
    HostFolder {
        /// The host folder as given.
        host: PathBuf,
        /// Why it cannot be used.
        #[source]
        source: std::io::Error,
    },
}

/// The guest folders eryx itself owns; mounts may not overlap them.
fn reserved() -> [&'static str; 4] {
    [super::TMP_GUEST_DIR, super::HOME_GUEST_DIR, eryx_libs::STDLIB_GUEST_DIR, eryx_libs::SITE_PACKAGES_GUEST_DIR]
}

/// Whether `inner` is `outer` or below it, as guest paths.
fn within(inner: &str, outer: &str) -> bool {
    inner == outer || outer == "/" || inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with('/'))
}

impl Mount {
    /// Checks the guest path against the other mounts and eryx's own folders.
    pub(crate) fn check(&self, others: &[Mount]) -> Result<(), MountError> {
        let refuse = |reason: String| Err(MountError::GuestPath { guest: self.guest.clone(), reason });
        let guest = self.guest.as_str();
        if !guest.starts_with('/') {
            return refuse("it must be absolute, like /data".into());
        }
        if guest.contains('\0') {
            return refuse("it contains a NUL byte".into());
        }
        if guest == "/" {
            return refuse("the root folder cannot be a mount".into());
        }
        if guest[1..].split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return refuse("it must be clean: no empty, `.` or `..` parts, no trailing slash".into());
        }
        for own in reserved() {
            if within(guest, own) || within(own, guest) {
                return refuse(format!("it overlaps eryx's own folder {own}"));
            }
        }
        for other in others {
            if !std::ptr::eq(other, self) && (within(guest, &other.guest) || within(&other.guest, guest)) {
                return refuse(format!("it overlaps the mount at {}", other.guest));
            }
        }
        Ok(())
    }

    /// Adds this mount as a preopen of `wasi`.
    pub(crate) fn apply(&self, wasi: &mut WasiCtxBuilder) -> Result<(), MountError> {
        let host_error = |source| MountError::HostFolder { host: self.host.clone(), source };
        let metadata = std::fs::metadata(&self.host).map_err(host_error)?;
        if !metadata.is_dir() {
            return Err(host_error(std::io::Error::other("not a folder")));
        }
        let perms = if self.writable { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
        wasi.preopened_dir(Path::new(&self.host), &self.guest, perms)
            .map_err(|e| host_error(std::io::Error::other(format!("{e:#}"))))?;
        Ok(())
    }
}

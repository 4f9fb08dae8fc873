//! Downloading pinned wheels into a content-addressed cache outside target/.
//!
//! A wheel is streamed into a temporary file in the cache folder while its SHA-256 is
//! computed, and renamed to `<sha256>.whl` only when the hash matches: the cache never holds
//! a partial or wrong file under a real name. HTTPS only (plain HTTP from loopback addresses,
//! for tests); the proxy comes from the usual environment variables; the size is capped.
//!
//! The downloads count towards eryx's cache cap (eryx-rt's `ComponentStore` evicts them least
//! recently used first): a wheel in use is held by a shared `flock` for the whole build, which
//! eviction respects, and each use sets its modification time (its last use).

use std::fs::File;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, io};

pub(crate) struct Fetcher {
    pub(crate) cache_dir: PathBuf,
    /// Why the build is offline (`CARGO_NET_OFFLINE`, `ERYX_OFFLINE`), if it is.
    pub(crate) offline: Option<String>,
    pub(crate) max_size: u64,
    /// The wheels in use, locked against eviction until the build ends.
    pub(crate) held: std::sync::Mutex<Vec<File>>,
}

/// The environment variable that can point the wheel at `url` to a local file:
/// `ERYX_WHEEL_<DISTRIBUTION>` (from the wheel's file name, e.g. `ERYX_WHEEL_NUMPY`).
///
/// ```
/// let url = "https://example.org/numpy-2.4.6-cp314-cp314-wasi_0_0_0_wasm32.whl";
/// assert_eq!(eryx_build::override_env_var(url), "ERYX_WHEEL_NUMPY");
/// let url = "https://example.org/eryx_test_rust-0.1.0-cp314-cp314-wasi_0_0_0_wasm32.whl";
/// assert_eq!(eryx_build::override_env_var(url), "ERYX_WHEEL_ERYX_TEST_RUST");
/// ```
pub fn override_env_var(url: &str) -> String {
    let file = url.rsplit('/').next().unwrap_or(url);
    let distribution = file.split('-').next().unwrap_or(file);
    format!("ERYX_WHEEL_{}", eryx_libs::normalize_name(distribution).replace('-', "_").to_ascii_uppercase())
}

impl Fetcher {
    /// Returns the path of the verified wheel for `url`.
    pub(crate) fn fetch(&self, url: &str, sha256: &str) -> Result<PathBuf, Error> {
        let env_var = override_env_var(url);
        println!("cargo:rerun-if-env-changed={env_var}");
        if let Some(local) = std::env::var_os(&env_var) {
            let local = PathBuf::from(local);
            let actual = sha256_file(&local)?;
            if actual != sha256 {
                return Err(Error::HashMismatch {
                    wheel: format!("{} (from {env_var})", local.display()),
                    expected: sha256.into(),
                    actual,
                });
            }
            return Ok(local);
        }

        let cached = self.cache_dir.join(format!("{sha256}.whl"));
        if cached.is_file() && self.hold(&cached) {
            if sha256_file(&cached)? == sha256 {
                tracing::debug!(%url, "wheel from the download cache");
                return Ok(cached);
            }
            // Not what its name says (damaged on disk): fetch it again.
            std::fs::remove_file(&cached).map_err(io(&cached))?;
        }
        if let Some(reason) = &self.offline {
            return Err(Error::Offline {
                reason: reason.clone(),
                url: url.into(),
                sha256: sha256.into(),
                cache: self.cache_dir.clone(),
                env_var,
            });
        }
        check_scheme(url)?;
        self.download(url, sha256, &cached)?;
        if !self.hold(&cached) {
            tracing::warn!(path = %cached.display(), "a downloaded wheel was evicted at once; the cache cap is too small");
        }
        Ok(cached)
    }

    /// Locks the wheel at `path` against eviction for the rest of the build and records its
    /// use; false when it was removed before the lock was had.
    fn hold(&self, path: &Path) -> bool {
        let Ok(file) = File::open(path) else { return false };
        if let Err(error) = file.lock_shared() {
            tracing::debug!(path = %path.display(), %error, "cannot lock a downloaded wheel; using it unlocked");
        }
        if !names_file(&file, path) {
            return false;
        }
        if let Ok(writable) = File::options().append(true).open(path) {
            let _ = writable.set_modified(std::time::SystemTime::now());
        }
        self.held.lock().unwrap_or_else(|e| e.into_inner()).push(file);
        true
    }

    fn download(&self, url: &str, sha256: &str, target: &Path) -> Result<(), Error> {
        let failed = |source: Box<dyn std::error::Error + Send + Sync>| Error::Download { url: url.into(), source };
        let mut response = ureq::get(url).call().map_err(|e| failed(e.into()))?;
        let mut reader = response.body_mut().with_config().limit(self.max_size.saturating_add(1)).reader();
        std::fs::create_dir_all(&self.cache_dir).map_err(io(&self.cache_dir))?;
        let mut file = tempfile::NamedTempFile::new_in(&self.cache_dir).map_err(io(&self.cache_dir))?;
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(e) if total >= self.max_size => return Err(too_large(url, self.max_size, e)),
                Err(e) => return Err(failed(e.into())),
            };
            total += read as u64;
            if total > self.max_size {
                return Err(Error::TooLarge { url: url.into(), limit_mib: self.max_size >> 20 });
            }
            hasher.update(&buffer[..read]);
            file.write_all(&buffer[..read]).map_err(io(file.path()))?;
        }
        let actual = hex::encode(hasher.finalize());
        if actual != sha256 {
            return Err(Error::HashMismatch { wheel: url.into(), expected: sha256.into(), actual });
        }
        file.as_file().sync_all().map_err(io(file.path()))?;
        file.persist(target).map_err(|e| Error::Io { path: target.into(), source: e.error })?;
        tracing::info!(%url, bytes = total, "downloaded wheel");
        Ok(())
    }
}

fn too_large(url: &str, limit: u64, _: std::io::Error) -> Error {
    Error::TooLarge { url: url.into(), limit_mib: limit >> 20 }
}

/// HTTPS everywhere; plain HTTP only to a loopback address (local test servers).
fn check_scheme(url: &str) -> Result<(), Error> {
    if url.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split('/').next().unwrap_or_default();
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
            return Ok(());
        }
    }
    Err(Error::Download {
        url: url.into(),
        source: "only https:// URLs are accepted (plain http:// only for loopback addresses)".into(),
    })
}

pub(crate) fn sha256_file(path: &Path) -> Result<String, Error> {
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io(path))?;
    Ok(hex::encode(hasher.finalize()))
}

/// Whether the open `file` is still the one named `path` (not removed or replaced since).
fn names_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::metadata(path)) {
        #[cfg(unix)]
        (Ok(open), Ok(named)) => {
            use std::os::unix::fs::MetadataExt;
            open.dev() == named.dev() && open.ino() == named.ino()
        }
        #[cfg(not(unix))]
        (Ok(_), Ok(_)) => true,
        _ => false,
    }
}

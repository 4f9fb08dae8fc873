//! Late linking: a sandbox with native extensions gets its own component, linked at creation.
//!
//! The inputs (wheels, loose extensions, site-packages folders) are assembled into one
//! site-packages tree with eryx-libs' [`SitePackages`], which is written once into the cache
//! folder (content-addressed, atomically) and mounted read-only at `/site-packages`. Its
//! native extensions are linked with the base libraries by eryx-libs' linker, on a cache miss
//! only. A process that sees the same inputs again skips parsing and hashing the wheels: the
//! prepared result is remembered by a digest of the raw input bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use eryx_libs::{BaseLibraries, NativeExtension, SitePackages, Wheel, WheelError};
use sha2::{Digest, Sha256};

use crate::cache::{self, COMPLETE_MARKER, cache_root, install_dir};
use crate::error::BuildError;

/// One input given to the builder.
#[derive(Clone, Debug)]
pub(crate) enum Input {
    WheelFile(PathBuf),
    WheelBytes { name: String, bytes: Arc<[u8]> },
    Extension { path: String, bytes: Arc<[u8]> },
    SiteDir(PathBuf),
}

/// What a sandbox needs from its inputs: its component's cache key and the tree to mount.
/// Until the first sandbox from it exists, it also holds the tree's files and the extensions
/// to link; nothing is written before linking succeeded, so a failure leaves no cache entry.
pub(crate) struct Prepared {
    pub(crate) component_key: String,
    pub(crate) site_dir: PathBuf,
    pending: Mutex<Option<(SitePackages, Vec<NativeExtension>)>>,
    /// The extensions, once the tree is installed: other components of the same inputs (a
    /// snapshot with another import list, or none) link them again.
    installed_extensions: Mutex<Vec<NativeExtension>>,
}

impl Prepared {
    /// Links the component (on a cache miss only).
    pub(crate) fn link(&self) -> Result<Vec<u8>, BuildError> {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some((site, extensions)) = pending.as_ref() else {
            // These inputs linked before, so they link again: no origins are needed.
            let extensions = self.installed_extensions.lock().unwrap_or_else(|e| e.into_inner());
            return eryx_libs::link_component(base_libraries(), &extensions)
                .map_err(|error| BuildError::Link { error, origins: Vec::new() });
        };
        eryx_libs::link_component(base_libraries(), extensions).map_err(|error| BuildError::Link {
            error,
            origins: extensions
                .iter()
                .map(|e| (e.guest_path.clone(), site.origin_of_guest_path(&e.guest_path)))
                .collect(),
        })
    }

    /// Writes the site-packages tree into the cache (once), after the component loaded.
    pub(crate) fn install_site(&self) -> Result<&Path, BuildError> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((site, _)) = pending.as_ref() {
            install_dir(&self.site_dir, |staging| site.write_to(staging))?;
            let (_, extensions) = pending.take().expect("checked above");
            *self.installed_extensions.lock().unwrap_or_else(|e| e.into_inner()) = extensions;
        }
        Ok(&self.site_dir)
    }
}

fn base_libraries() -> &'static BaseLibraries {
    static BASE: OnceLock<BaseLibraries> = OnceLock::new();
    BASE.get_or_init(BaseLibraries::load)
}

/// Reads the inputs, verifies wheels, writes the site-packages tree, computes the key.
pub(crate) fn prepare(inputs: &[Input]) -> Result<Arc<Prepared>, BuildError> {
    static PREPARED: OnceLock<Mutex<HashMap<[u8; 32], Arc<Prepared>>>> = OnceLock::new();
    let raw = read_inputs(inputs)?;
    let raw_digest = digest_raw(&raw);
    let memo = PREPARED.get_or_init(Default::default);
    if let Some(prepared) = memo.lock().unwrap_or_else(|e| e.into_inner()).get(&raw_digest) {
        // The tree is content-addressed and immutable; it only needs to still exist.
        if prepared.site_dir.join(COMPLETE_MARKER).exists()
            || prepared.pending.lock().unwrap_or_else(|e| e.into_inner()).is_some()
        {
            return Ok(prepared.clone());
        }
    }

    let mut site = SitePackages::new();
    for input in &raw {
        match input {
            Raw::Wheel { origin, bytes } => site.add_wheel(&Wheel::from_bytes(origin.clone(), bytes)?)?,
            Raw::Extension { path, bytes } => site.add_native_extension(path, bytes.to_vec())?,
            Raw::File { path, bytes, origin: _ } if eryx_libs::wheel::is_native_extension(path) => {
                site.add_native_extension(path, bytes.to_vec())?
            }
            Raw::File { path, bytes, origin } => site.add_file(path, bytes.to_vec(), origin)?,
        }
    }
    let extensions = site.native_extensions();
    let site_dir = cache_root().join("site-packages").join(hex::encode(site.digest()));
    let mut identity = Sha256::new();
    identity.update(b"late-linked\0");
    identity.update(eryx_libs::FINGERPRINT.as_bytes());
    for extension in &extensions {
        identity.update((extension.guest_path.len() as u64).to_le_bytes());
        identity.update(extension.guest_path.as_bytes());
        identity.update(Sha256::digest(&extension.bytes));
    }
    let component_key = if extensions.is_empty() {
        crate::embedded::base_component_key()
    } else {
        cache::component_key(&identity.finalize())
    };
    let prepared = Arc::new(Prepared {
        component_key,
        site_dir,
        pending: Mutex::new(Some((site, extensions))),
        installed_extensions: Mutex::new(Vec::new()),
    });
    memo.lock().unwrap_or_else(|e| e.into_inner()).insert(raw_digest, prepared.clone());
    Ok(prepared)
}

enum Raw {
    Wheel { origin: String, bytes: Arc<[u8]> },
    Extension { path: String, bytes: Arc<[u8]> },
    File { path: String, bytes: Arc<[u8]>, origin: String },
}

fn read_inputs(inputs: &[Input]) -> Result<Vec<Raw>, BuildError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Io { path, source }
    };
    let mut raw = Vec::new();
    for input in inputs {
        match input {
            Input::WheelFile(path) => {
                let bytes = std::fs::read(path).map_err(|source| {
                    BuildError::Wheel(WheelError::Read { wheel: path.display().to_string(), source })
                })?;
                raw.push(Raw::Wheel { origin: path.display().to_string(), bytes: bytes.into() });
            }
            Input::WheelBytes { name, bytes } => raw.push(Raw::Wheel { origin: name.clone(), bytes: bytes.clone() }),
            Input::Extension { path, bytes } => raw.push(Raw::Extension { path: path.clone(), bytes: bytes.clone() }),
            Input::SiteDir(dir) => {
                let mut stack = vec![dir.clone()];
                while let Some(current) = stack.pop() {
                    for entry in std::fs::read_dir(&current).map_err(io(&current))? {
                        let entry = entry.map_err(io(&current))?;
                        let path = entry.path();
                        if entry.file_type().map_err(io(&path))?.is_dir() {
                            stack.push(path);
                            continue;
                        }
                        let relative =
                            path.strip_prefix(dir).expect("walked below dir").to_string_lossy().replace('\\', "/");
                        let bytes = std::fs::read(&path).map_err(io(&path))?;
                        raw.push(Raw::File { path: relative, bytes: bytes.into(), origin: dir.display().to_string() });
                    }
                }
            }
        }
    }
    Ok(raw)
}

fn digest_raw(raw: &[Raw]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for input in raw {
        let (tag, name, bytes): (u8, &str, &[u8]) = match input {
            Raw::Wheel { origin, bytes } => (0, origin, bytes),
            Raw::Extension { path, bytes } => (1, path, bytes),
            Raw::File { path, bytes, .. } => (2, path, bytes),
        };
        hasher.update([tag]);
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update(Sha256::digest(bytes));
    }
    hasher.finalize().into()
}

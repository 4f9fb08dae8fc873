//! Late linking: a sandbox with native extensions gets a component linked at its creation.
//!
//! The inputs (wheels, loose extensions, site-packages folders) are assembled into one
//! site-packages tree with eryx-libs' [`SitePackages`] ([`LateLinker::prepare`]); its native
//! extensions are linked with the base libraries by eryx-libs' linker, the one eryx-build and
//! this crate's build script use, so the same inputs give the same bytes on every path.
//!
//! A component's cache key derives from the SHA-256 of its linked bytes, so a cache hit must
//! know that SHA-256 without linking: the linker remembers "input identity → linked SHA-256" in
//! memory and in a small index in the cache folder (`link-index/<identity>`), where the identity
//! is a digest of the extensions' paths and bytes, the base libraries and eryx's version. A
//! process that sees the same inputs again also skips parsing and hashing the wheels: the
//! prepared inputs are remembered by a digest of their raw bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use eryx_libs::{BaseLibraries, NativeExtension, SitePackages, Wheel, WheelError};
use sha2::{Digest, Sha256};

use crate::error::BuildError;
use crate::files::{install_dir, write_atomic};

/// One input given to the builder.
#[derive(Clone, Debug)]
pub(crate) enum Input {
    WheelFile(PathBuf),
    WheelBytes { name: String, bytes: Arc<[u8]> },
    Extension { path: String, bytes: Arc<[u8]> },
    SiteDir(PathBuf),
}

/// Inputs assembled and verified: the site-packages tree and the extensions to link.
pub(crate) struct Prepared {
    site: SitePackages,
    /// Hex digest of the tree: the name of its folder in the cache.
    site_digest: String,
    extensions: Vec<NativeExtension>,
    /// Digest of everything the linked bytes depend on (see the module docs).
    identity: [u8; 32],
    /// The top-level modules of the wheels (see [`Wheel::top_level_modules`]), sorted.
    wheel_modules: Vec<String>,
}

impl Prepared {
    /// Whether there is anything to link (without extensions, the base component serves).
    pub(crate) fn has_extensions(&self) -> bool {
        !self.extensions.is_empty()
    }

    pub(crate) fn site_digest(&self) -> &str {
        &self.site_digest
    }

    /// The top-level modules of the wheels among the inputs, sorted.
    pub(crate) fn wheel_modules(&self) -> &[String] {
        &self.wheel_modules
    }

    /// Writes the site-packages tree under `root` (once) and returns its folder.
    pub(crate) fn install_site(&self, root: &Path) -> Result<PathBuf, BuildError> {
        let target = root.join("site-packages").join(&self.site_digest);
        install_dir(&target, |staging| self.site.write_to(staging))?;
        Ok(target)
    }
}

/// A linked component: its bytes and their hex SHA-256.
pub(crate) struct Linked {
    pub(crate) wasm: Vec<u8>,
    pub(crate) sha256: String,
}

/// The late linker of a runtime: its base libraries and what it remembers.
#[derive(Default)]
pub(crate) struct LateLinker {
    base: OnceLock<BaseLibraries>,
    /// Raw-input digest → prepared inputs.
    prepared: Mutex<HashMap<[u8; 32], Arc<Prepared>>>,
    /// Input identity → hex SHA-256 of the linked component.
    linked: Mutex<HashMap<[u8; 32], String>>,
}

impl LateLinker {
    /// Reads the inputs, verifies wheels and assembles the tree (or finds them prepared already).
    pub(crate) fn prepare(&self, inputs: &[Input]) -> Result<Arc<Prepared>, BuildError> {
        let raw = read_inputs(inputs)?;
        let raw_digest = digest_raw(&raw);
        if let Some(prepared) = self.prepared.lock().unwrap_or_else(|e| e.into_inner()).get(&raw_digest) {
            return Ok(prepared.clone());
        }
        let mut site = SitePackages::new();
        let mut wheel_modules = std::collections::BTreeSet::new();
        for input in &raw {
            match input {
                Raw::Wheel { origin, bytes } => {
                    let wheel = Wheel::from_bytes(origin.clone(), bytes)?;
                    wheel_modules.extend(wheel.top_level_modules());
                    site.add_wheel(&wheel)?
                }
                Raw::Extension { path, bytes } => site.add_native_extension(path, bytes.to_vec())?,
                Raw::File { path, bytes, origin: _ } if eryx_libs::wheel::is_native_extension(path) => {
                    site.add_native_extension(path, bytes.to_vec())?
                }
                Raw::File { path, bytes, origin } => site.add_file(path, bytes.to_vec(), origin)?,
            }
        }
        let extensions = site.native_extensions();
        let mut identity = Sha256::new();
        identity.update(b"eryx-late-link-v2\0");
        identity.update(env!("CARGO_PKG_VERSION").as_bytes());
        identity.update([0]);
        identity.update(eryx_libs::FINGERPRINT.as_bytes());
        for extension in &extensions {
            identity.update((extension.guest_path.len() as u64).to_le_bytes());
            identity.update(extension.guest_path.as_bytes());
            identity.update(Sha256::digest(&extension.bytes));
        }
        let prepared = Arc::new(Prepared {
            site_digest: hex::encode(site.digest()),
            site,
            extensions,
            identity: identity.finalize().into(),
            wheel_modules: wheel_modules.into_iter().collect(),
        });
        self.prepared.lock().unwrap_or_else(|e| e.into_inner()).insert(raw_digest, prepared.clone());
        Ok(prepared)
    }

    /// The SHA-256 of the component these inputs link to, if it is known (from memory, or from
    /// the index in `cache_dir`), without linking.
    pub(crate) fn known_sha256(&self, prepared: &Prepared, cache_dir: Option<&Path>) -> Option<String> {
        if let Some(sha256) = self.linked.lock().unwrap_or_else(|e| e.into_inner()).get(&prepared.identity) {
            return Some(sha256.clone());
        }
        let path = index_path(cache_dir?, &prepared.identity);
        let sha256 = std::fs::read_to_string(&path).ok()?;
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            return None;
        }
        // Its last use, for the cache's least-recently-used order.
        crate::cache_entries::touch_existing(&path);
        self.linked.lock().unwrap_or_else(|e| e.into_inner()).insert(prepared.identity, sha256.clone());
        Some(sha256)
    }

    /// Links the component and remembers its SHA-256 (in memory, and in the index in `cache_dir`).
    pub(crate) fn link(&self, prepared: &Prepared, cache_dir: Option<&Path>) -> Result<Linked, BuildError> {
        let base = self.base.get_or_init(BaseLibraries::load);
        let wasm = eryx_libs::link_component(base, &prepared.extensions).map_err(|error| BuildError::Link {
            error,
            origins: prepared
                .extensions
                .iter()
                .map(|e| (e.guest_path.clone(), prepared.site.origin_of_guest_path(&e.guest_path)))
                .collect(),
        })?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        self.linked.lock().unwrap_or_else(|e| e.into_inner()).insert(prepared.identity, sha256.clone());
        if let Some(dir) = cache_dir {
            let path = index_path(dir, &prepared.identity);
            if let Err(error) = write_atomic(&path, sha256.as_bytes()) {
                tracing::warn!(path = %path.display(), %error, "cannot write the late-link index");
            }
        }
        Ok(Linked { wasm, sha256 })
    }
}

fn index_path(cache_dir: &Path, identity: &[u8; 32]) -> PathBuf {
    cache_dir.join("link-index").join(hex::encode(identity))
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

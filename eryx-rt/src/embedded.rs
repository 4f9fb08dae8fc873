//! Components linked ahead of time by eryx-build in a downstream crate's build script.
//!
//! [`include_component!`](crate::include_component) embeds eryx-build's outputs in the
//! calling crate; [`Sandbox::from_embedded`](crate::Sandbox::from_embedded) starts sandboxes
//! from them with no link step. The component's identity is the SHA-256 of its bytes that
//! eryx-build computed, as for every component: the same inputs linked late share its compiled
//! code. The site-packages tree is unpacked once into the cache folder, under its digest (the
//! folder late linking would make for the same inputs).
//!
//! With eryx-build's `precompile` option the binary also carries the pre-initialised snapshot
//! already compiled by Cranelift for a named CPU baseline, and the bytecode packs of the trees
//! it imports from, so that a machine with an empty cache compiles nothing: see
//! the `precompile` module for how that code is made, checked and why loading it is sound.
//! Such a binary writes nothing to disk for its trees either: the guest sees the standard
//! library and the site-packages tree as images served from the binary's bytes (`fs::image`),
//! each with its pack, made once per process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::bytecode::PACK_NAME;
use crate::error::BuildError;
use crate::files::install_dir;
use crate::fs::{Data, Deferred, Image, ImageError, TreeAt, Trees};

/// The standard library's archive, decompressed (once per process) only if the guest reads one
/// of its files.
static STDLIB_ARCHIVE: Deferred = Deferred::new(eryx_libs::base::stdlib_tar);

/// eryx-build's outputs, embedded with [`include_component!`](crate::include_component).
#[derive(Debug)]
pub struct Embedded {
    wasm: &'static [u8],
    component_sha256: &'static str,
    site_tar: &'static [u8],
    site_sha256: &'static str,
    preinit: &'static str,
    precompiled: Precompiled,
    /// The trees served from memory, made on first use (precompiled binaries only).
    trees: OnceLock<Trees>,
}

/// The precompile option's outputs (all empty without it).
#[derive(Debug)]
struct Precompiled {
    code: &'static [u8],
    stdlib_pack: &'static [u8],
    site_pack: &'static [u8],
}

impl Embedded {
    /// Used by [`include_component!`](crate::include_component) only.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub const fn __new(
        wasm: &'static [u8],
        component_sha256: &'static str,
        site_tar: &'static [u8],
        site_sha256: &'static str,
        preinit: &'static str,
        precompiled: &'static [u8],
        stdlib_pack: &'static [u8],
        site_pack: &'static [u8],
    ) -> Self {
        let precompiled = Precompiled { code: precompiled, stdlib_pack, site_pack };
        Embedded { wasm, component_sha256, site_tar, site_sha256, preinit, precompiled, trees: OnceLock::new() }
    }

    /// Whether the binary carries the snapshot compiled ahead of time (eryx-build's
    /// `precompile` option).
    pub fn is_precompiled(&self) -> bool {
        !self.precompiled.code.is_empty()
    }

    /// The snapshot after [`Self::preinit_imports`], compiled by eryx-build for a runtime's
    /// plain engine (no fuel), if embedded.
    pub(crate) fn precompiled_snapshot(&self) -> Option<&'static [u8]> {
        self.is_precompiled().then_some(self.precompiled.code)
    }

    /// The standard library and the site-packages tree as images of the binary's bytes, each
    /// with the bytecode pack eryx-build made of it; `None` when the binary carries no packs
    /// (built without the precompile option): then the trees are installed in the cache folder.
    pub(crate) fn trees_in_memory(&self) -> Result<Option<Trees>, BuildError> {
        if self.precompiled.stdlib_pack.is_empty() {
            return Ok(None);
        }
        if let Some(trees) = self.trees.get() {
            return Ok(Some(trees.clone()));
        }
        let started = std::time::Instant::now();
        let invalid = |what: &str, error: ImageError| BuildError::Io {
            path: PathBuf::from(format!("the embedded {what}")),
            source: std::io::Error::other(error),
        };
        let pack = |bytes: &'static [u8]| Data::Ready(Bytes::from_static(bytes));
        let mut stdlib = Image::from_index(eryx_libs::base::STDLIB_INDEX, &STDLIB_ARCHIVE)
            .map_err(|e| invalid("standard library's index", e))?;
        stdlib.add_file(PACK_NAME, pack(self.precompiled.stdlib_pack)).map_err(|e| invalid("bytecode pack", e))?;
        let site = match self.site_digest() {
            None => None,
            Some(_) => {
                let mut site = Image::from_tar(self.site_tar).map_err(|e| invalid("site-packages tar", e))?;
                if !self.precompiled.site_pack.is_empty() {
                    site.add_file(PACK_NAME, pack(self.precompiled.site_pack))
                        .map_err(|e| invalid("bytecode pack", e))?;
                }
                Some(TreeAt::Image(Arc::new(site)))
            }
        };
        let trees = Trees { stdlib: TreeAt::Image(Arc::new(stdlib)), site };
        tracing::debug!(elapsed = ?started.elapsed(), "made the in-memory trees");
        Ok(Some(self.trees.get_or_init(|| trees).clone()))
    }

    /// SHA-256 of the embedded component, as eryx-build computed it.
    pub fn component_sha256(&self) -> &'static str {
        self.component_sha256
    }

    /// The modules listed under `preinit` in `[package.metadata.eryx]`.
    pub fn preinit_imports(&self) -> Vec<String> {
        self.preinit.lines().filter(|l| !l.is_empty()).map(String::from).collect()
    }

    pub(crate) fn check(&self) -> Result<(), BuildError> {
        if self.wasm.is_empty() || self.component_sha256.is_empty() { Err(BuildError::NothingEmbedded) } else { Ok(()) }
    }

    pub(crate) fn wasm(&self) -> Vec<u8> {
        self.wasm.to_vec()
    }

    /// The digest of the site-packages tree, `None` when there is none.
    pub(crate) fn site_digest(&self) -> Option<&'static str> {
        (!self.site_tar.is_empty()).then_some(self.site_sha256)
    }

    /// Unpacks the site-packages tree under `root` (once) and returns its folder.
    pub(crate) fn install_site(&self, root: &Path) -> Result<Option<PathBuf>, BuildError> {
        let Some(digest) = self.site_digest() else { return Ok(None) };
        install_site_tar(root, digest, self.site_tar).map(Some)
    }
}

/// Unpacks eryx-build's site-packages tar, named by `digest`, under `root` (once).
pub(crate) fn install_site_tar(root: &Path, digest: &str, tar: &[u8]) -> Result<PathBuf, BuildError> {
    let target = root.join("site-packages").join(digest);
    install_dir(&target, |staging| tar::Archive::new(tar).unpack(staging))?;
    Ok(target)
}

/// Embeds the component that eryx-build linked for the calling crate (in its build.rs).
///
/// It needs eryx-build's outputs in the calling crate's `OUT_DIR`, so it is shown here rather
/// than run; `examples/embedded` in the repository is a whole crate that uses it (and the
/// workspace test `build_time` builds and runs it):
///
/// ```text
/// let mut sandbox = eryx_rt::Sandbox::from_embedded(eryx_rt::include_component!()).build()?;
/// ```
#[macro_export]
macro_rules! include_component {
    () => {{
        static EMBEDDED: $crate::Embedded = $crate::Embedded::__new(
            include_bytes!(concat!(env!("OUT_DIR"), "/eryx/component.wasm")),
            include_str!(concat!(env!("OUT_DIR"), "/eryx/component.sha256")),
            include_bytes!(concat!(env!("OUT_DIR"), "/eryx/site.tar")),
            include_str!(concat!(env!("OUT_DIR"), "/eryx/site.sha256")),
            include_str!(concat!(env!("OUT_DIR"), "/eryx/preinit.txt")),
            include_bytes!(concat!(env!("OUT_DIR"), "/eryx/component.cwasm")),
            include_bytes!(concat!(env!("OUT_DIR"), "/eryx/stdlib.pack")),
            include_bytes!(concat!(env!("OUT_DIR"), "/eryx/site.pack")),
        );
        &EMBEDDED
    }};
}

//! Components linked ahead of time by eryx-build in a downstream crate's build script.
//!
//! [`include_component!`](crate::include_component) embeds eryx-build's outputs in the
//! calling crate; [`Sandbox::from_embedded`](crate::Sandbox::from_embedded) starts sandboxes
//! from them with no link step: the component is compiled once per machine (cached on disk
//! like every component, keyed by its build-time SHA-256), and the site-packages tree is
//! unpacked once into the cache folder.

use std::path::PathBuf;

use crate::cache::{self, cache_root, install_dir};
use crate::error::BuildError;

/// eryx-build's outputs, embedded with [`include_component!`](crate::include_component).
#[derive(Debug)]
pub struct Embedded {
    wasm: &'static [u8],
    component_sha256: &'static str,
    site_tar: &'static [u8],
    site_sha256: &'static str,
    preinit: &'static str,
}

impl Embedded {
    #[doc(hidden)]
    pub const fn __new(
        wasm: &'static [u8],
        component_sha256: &'static str,
        site_tar: &'static [u8],
        site_sha256: &'static str,
        preinit: &'static str,
    ) -> Self {
        Embedded { wasm, component_sha256, site_tar, site_sha256, preinit }
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

    pub(crate) fn cache_key(&self) -> String {
        cache::component_key(format!("embedded\0{}", self.component_sha256).as_bytes())
    }

    pub(crate) fn wasm(&self) -> Vec<u8> {
        self.wasm.to_vec()
    }

    /// Unpacks the site-packages tree into the cache (once) and returns its folder.
    pub(crate) fn site_dir(&self) -> Result<Option<PathBuf>, BuildError> {
        if self.site_tar.is_empty() {
            return Ok(None);
        }
        let target = cache_root().join("site-packages").join(self.site_sha256);
        install_dir(&target, |staging| tar::Archive::new(self.site_tar).unpack(staging))?;
        Ok(Some(target))
    }
}

/// Embeds the component that eryx-build linked for the calling crate (in its build.rs).
///
/// ```ignore
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
        );
        &EMBEDDED
    }};
}

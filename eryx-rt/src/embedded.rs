//! The base component, linked by this crate's build script with eryx-libs' linker.

/// SHA-256 of the base component's bytes, computed at build time (part of cache keys).
pub(crate) const BASE_COMPONENT_SHA256: &str = include_str!(concat!(env!("OUT_DIR"), "/base-component.sha256"));

const BASE_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/base-component.wasm"));

/// The base component (base libraries + guest runtime, no extensions).
pub(crate) fn base_component() -> Vec<u8> {
    BASE_COMPONENT.to_vec()
}

/// The compiled-component cache key of the base component.
pub(crate) fn base_component_key() -> String {
    crate::cache::component_key(BASE_COMPONENT_SHA256.as_bytes())
}

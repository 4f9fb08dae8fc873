//! The base component (base libraries + guest runtime, no extensions), linked by this crate's
//! build script with eryx-libs' linker: the component of every sandbox without extensions.

/// Hex SHA-256 of the base component's bytes, computed at build time: its identity in cache keys.
pub(crate) const BASE_COMPONENT_SHA256: &str = include_str!(concat!(env!("OUT_DIR"), "/base-component.sha256"));

const BASE_COMPONENT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/base-component.wasm"));

/// The base component's bytes.
pub(crate) fn base_component() -> Vec<u8> {
    BASE_COMPONENT.to_vec()
}

//! What `eryx --version` names: eryx's version, the guest's Python and the host's wasmtime.
//!
//! Both are constants so that `--version` needs no sandbox; the command's tests check them
//! against the guest's `sys.version_info` and the workspace's `Cargo.lock`.

/// `eryx --version`'s text (after the command name).
pub(crate) const TEXT: &str = concat!(env!("CARGO_PKG_VERSION"), " (Python ", "3.14.0", ", wasmtime ", "48.0.8", ")");

//! What a sandbox builder is given to late-link: its own module because both the late linker
//! (the `late` module) and the wheel index, which recognises these inputs across processes
//! without reading them, need it, and the late linker uses the wheel index.

use std::path::PathBuf;
use std::sync::Arc;

/// One input given to the builder.
#[derive(Clone, Debug)]
pub(crate) enum Input {
    /// A wheel file on the host.
    WheelFile(PathBuf),
    /// A wheel given as bytes, with its file name.
    WheelBytes { name: String, bytes: Arc<[u8]> },
    /// A loose extension module: its path in the guest and its bytes.
    Extension { path: String, bytes: Arc<[u8]> },
    /// A site-packages folder on the host.
    SiteDir(PathBuf),
}

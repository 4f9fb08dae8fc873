//! Errors of eryx-build; each names the wheel entry or file at fault and how to fix it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} is not set: eryx-build must run inside a build script")]
    NotInBuildScript(&'static str),
    #[error("cannot read the package metadata with `cargo metadata`: {0}")]
    Metadata(String),
    #[error("[package.metadata.eryx] in {manifest}: {message}")]
    Table { manifest: PathBuf, message: String },
    #[error("[package.metadata.eryx] wheels[{index}] in {manifest}: {message}")]
    Entry { manifest: PathBuf, index: usize, message: String },
    #[error(
        "wheel {wheel}: SHA-256 mismatch: expected {expected}, got {actual}; fix the sha256 in [package.metadata.eryx] or the file"
    )]
    HashMismatch { wheel: String, expected: String, actual: String },
    #[error("cannot download wheel {url}: {message}")]
    Download { url: String, message: String },
    #[error("wheel {url} is larger than the {limit_mib} MiB download limit (raise it with Builder::max_download_size)")]
    TooLarge { url: String, limit_mib: u64 },
    #[error(
        "offline build ({reason}) and wheel {url} (sha256 {sha256}) is not in the download cache {}: \
         build once with network access, or point {env_var} at a local copy of the wheel",
        cache.display()
    )]
    Offline { reason: String, url: String, sha256: String, cache: PathBuf, env_var: String },
    #[error(transparent)]
    Wheel(#[from] eryx_libs::WheelError),
    #[error(transparent)]
    Link(#[from] eryx_libs::LinkError),
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

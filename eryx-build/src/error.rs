//! Errors of eryx-build; each names the wheel entry or file at fault and how to fix it.

use std::path::PathBuf;

/// Why a build-time link failed. Its message is what the build script reports to Cargo.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An environment variable that Cargo sets for build scripts is missing.
    #[error("{0} is not set: eryx-build must run inside a build script")]
    NotInBuildScript(&'static str),
    /// `cargo metadata` failed on the crate's manifest.
    #[error("cannot read the package metadata with `cargo metadata`: {0}")]
    Metadata(#[source] cargo_metadata::Error),
    /// The manifest does not describe the package being built.
    #[error("cannot read the package metadata with `cargo metadata`: package {package} not found for {}", manifest.display())]
    PackageNotFound {
        /// The package name looked for (`CARGO_PKG_NAME`).
        package: String,
        /// The manifest that was read.
        manifest: PathBuf,
    },
    /// `[package.metadata.eryx]` as a whole is malformed.
    #[error("[package.metadata.eryx] in {manifest}: {message}")]
    Table {
        /// The crate's Cargo.toml.
        manifest: PathBuf,
        /// What is wrong, and how to fix it.
        message: String,
    },
    /// One entry of `wheels = [...]` is malformed.
    #[error("[package.metadata.eryx] wheels[{index}] in {manifest}: {message}")]
    Entry {
        /// The crate's Cargo.toml.
        manifest: PathBuf,
        /// The entry's position in the list, from 0.
        index: usize,
        /// What is wrong, and how to fix it.
        message: String,
    },
    /// A wheel's content does not match its pinned SHA-256 (nothing is kept).
    #[error(
        "wheel {wheel}: SHA-256 mismatch: expected {expected}, got {actual}; fix the sha256 in [package.metadata.eryx] or the file"
    )]
    HashMismatch {
        /// The wheel's URL or path.
        wheel: String,
        /// The pinned SHA-256.
        expected: String,
        /// The SHA-256 of what was read.
        actual: String,
    },
    /// A download failed (refused URL, network or HTTP error).
    #[error("cannot download wheel {url}: {source}")]
    Download {
        /// The wheel's URL.
        url: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A download is larger than [`crate::Builder::max_download_size`] allows.
    #[error("wheel {url} is larger than the {limit_mib} MiB download limit (raise it with Builder::max_download_size)")]
    TooLarge {
        /// The wheel's URL.
        url: String,
        /// The limit, in MiB.
        limit_mib: u64,
    },
    /// The build is offline and a URL wheel is not in the download cache.
    #[error(
        "offline build ({reason}) and wheel {url} (sha256 {sha256}) is not in the download cache {}: \
         build once with network access, or point {env_var} at a local copy of the wheel",
        cache.display()
    )]
    Offline {
        /// Which setting made the build offline.
        reason: String,
        /// The wheel's URL.
        url: String,
        /// Its pinned SHA-256.
        sha256: String,
        /// The download cache folder that was looked in.
        cache: PathBuf,
        /// The variable that can point at a local copy (see [`crate::override_env_var`]).
        env_var: String,
    },
    /// A wheel could not be read or installed.
    #[error(transparent)]
    Wheel(#[from] eryx_libs::WheelError),
    /// The extensions could not be linked into a component.
    #[error(transparent)]
    Link(#[from] eryx_libs::LinkError),
    /// `precompile = true` was asked of an eryx-build built without its `precompile` feature.
    #[error(
        "[package.metadata.eryx] asks for precompile = true, but eryx-build was built without its `precompile` feature: \
         add features = [\"precompile\"] to eryx-build in [build-dependencies], or remove precompile"
    )]
    PrecompileFeature,
    /// The snapshot could not be made or compiled ahead of time.
    #[cfg(feature = "precompile")]
    #[error("cannot precompile the component (precompile = true in [package.metadata.eryx])")]
    Precompile(#[source] eryx_rt::BuildError),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

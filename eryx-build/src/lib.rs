//! eryx-build: link the wheels a crate lists in `[package.metadata.eryx]` into an eryx
//! component at build time, so its binary starts sandboxes with no link step at run time.
//!
//! ```toml
//! # Cargo.toml
//! [dependencies]
//! eryx-rt = "…"
//! [build-dependencies]
//! eryx-build = "…"
//!
//! [package.metadata.eryx]
//! wheels = [
//!   { url = "https://example.org/pkg-1.0-cp314-cp314-wasi_0_0_0_wasm32.whl", sha256 = "…" },
//!   { path = "wheels/mine-0.1-py3-none-any.whl" },
//! ]
//! ```
//!
//! The whole `build.rs` is `eryx_build::Builder::new().run();`. The same build, run here on a
//! crate written to a temporary folder (with our C test extension as its one wheel):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/wheels");
//! # let wheel = fixtures.join("eryx_test_c-0.1.0-cp314-cp314-wasi_0_0_0_wasm32.whl");
//! let app = tempfile::tempdir()?;
//! # std::fs::create_dir(app.path().join("src"))?;
//! # std::fs::write(app.path().join("src/main.rs"), "fn main() {}")?;
//! std::fs::write(
//!     app.path().join("Cargo.toml"),
//!     format!(
//!         "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\
//!          [package.metadata.eryx]\nwheels = [{{ path = {:?} }}]\n",
//!         wheel.display().to_string()
//!     ),
//! )?;
//! let artifacts = eryx_build::Builder::new()
//!     .manifest_dir(app.path())  // in build.rs: CARGO_MANIFEST_DIR,
//!     .out_dir(app.path().join("out"))  // OUT_DIR
//!     .package("app")  // and CARGO_PKG_NAME are the defaults
//!     .build()?;
//! assert_eq!(artifacts.native_extensions, 1);
//! assert!(artifacts.dir.join("component.wasm").is_file());
//! # Ok(())
//! # }
//! ```
//!
//! The binary then starts sandboxes from the embedded component (`examples/embedded` in this
//! repository is such a crate; `tests/build_time.rs` builds and runs it):
//!
//! ```text
//! // main.rs (Rust; eryx-rt is not a dependency of this crate, so it is not compiled here)
//! let mut sandbox = eryx_rt::Sandbox::from_embedded(eryx_rt::include_component!()).build()?;
//! ```
//!
//! The wheels go through the same parser and the same linker as late linking in eryx-rt
//! (`eryx_libs`), so a component linked here is byte for byte the one eryx-rt would link.
//! Outputs (all in `OUT_DIR/eryx/`): `component.wasm` and its SHA-256, `site.tar` (the
//! site-packages tree, reproducible) and its digest, `preinit.txt`, and `manifest.json`
//! listing every input with its SHA-256. Same inputs, same bytes.
//!
//! Environment: `ERYX_OFFLINE=1` or `CARGO_NET_OFFLINE=true` use only the download cache;
//! `ERYX_WHEEL_<NAME>` points the URL wheel of distribution NAME at a local file (still
//! checked against its sha256); `DOCS_RS` skips all work. Downloaded wheels are kept in
//! `downloads/` of eryx's cache folder, the one every part of eryx shares: `$ERYX_CACHE_DIR`,
//! else the user cache folder (`${XDG_CACHE_HOME:-~/.cache}/eryx` on Linux);
//! `ERYX_DOWNLOAD_CACHE` moves only the download folder.
//!
//! With `precompile = true` (and eryx-build's `precompile` feature), the build also makes the
//! pre-initialised snapshot, compiles it with Cranelift for the CPU baseline `cpu` (default
//! `x86-64-v2`) and writes `component.cwasm`, `stdlib.pack` and `site.pack` (the code and the
//! bytecode packs it was made with; empty files without the option), so that the binary's first
//! sandbox on a fresh machine compiles nothing: see `eryx_rt::precompile`.
//!
//! Build scripts run unoptimised by default, and linking large wheels then takes much longer:
//! downstream crates should set `[profile.release.build-override] opt-level = 3` (and the
//! same for `dev`).

mod error;
mod fetch;
mod output;
mod precompile;
pub mod table;

use std::path::{Path, PathBuf};

pub use error::Error;
pub use fetch::override_env_var;
pub use table::{Table, WheelSource};

/// Default cap on one downloaded wheel.
pub const DEFAULT_MAX_DOWNLOAD_SIZE: u64 = 512 << 20;

/// Configures and runs the build-time link. `Builder::new().run()` is the whole build.rs.
#[derive(Clone, Debug)]
pub struct Builder {
    manifest_dir: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    package: Option<String>,
    download_cache: Option<PathBuf>,
    max_download_size: u64,
    precompile: Option<bool>,
    cpu: Option<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            manifest_dir: None,
            out_dir: None,
            package: None,
            download_cache: None,
            max_download_size: DEFAULT_MAX_DOWNLOAD_SIZE,
            precompile: None,
            cpu: None,
        }
    }
}

/// What a build produced.
#[derive(Clone, Debug)]
pub struct Artifacts {
    /// `OUT_DIR/eryx`.
    pub dir: PathBuf,
    /// SHA-256 of the linked component.
    pub component_sha256: String,
    /// How many native extensions were linked.
    pub native_extensions: usize,
}

impl Builder {
    /// A build with every setting at its default (what a build script wants).
    pub fn new() -> Self {
        Self::default()
    }

    /// The crate folder holding Cargo.toml (default: `CARGO_MANIFEST_DIR`).
    pub fn manifest_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.manifest_dir = Some(dir.into());
        self
    }

    /// Where outputs go (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// The package whose `[package.metadata.eryx]` is read (default: `CARGO_PKG_NAME`).
    pub fn package(mut self, name: impl Into<String>) -> Self {
        self.package = Some(name.into());
        self
    }

    /// Where downloaded wheels are kept (default: `$ERYX_DOWNLOAD_CACHE`, else `downloads/` in
    /// eryx's cache folder: `$ERYX_CACHE_DIR`, else the user cache folder's `eryx/`).
    pub fn download_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.download_cache = Some(dir.into());
        self
    }

    /// Cap on one downloaded wheel, in bytes.
    pub fn max_download_size(mut self, bytes: u64) -> Self {
        self.max_download_size = bytes;
        self
    }

    /// Embeds the pre-initialised snapshot already compiled by Cranelift, so that the binary's
    /// first sandbox on a machine with an empty cache compiles nothing (wins over `precompile`
    /// in `[package.metadata.eryx]`). Needs eryx-build's `precompile` feature; costs build time
    /// (a snapshot and a Cranelift compile, tens of seconds) and binary size (the compiled code
    /// and the bytecode packs: see the README).
    pub fn precompile(mut self, enabled: bool) -> Self {
        self.precompile = Some(enabled);
        self
    }

    /// The CPU baseline of the precompiled code (wins over `cpu` in `[package.metadata.eryx]`):
    /// a Cranelift preset such as `x86-64-v2` (the default on x86-64), `x86-64-v3` or `haswell`,
    /// optionally followed by `+has_<feature>` settings. On a CPU without one of its features the
    /// binary compiles at run time instead (with a warning).
    pub fn cpu(mut self, cpu: impl Into<String>) -> Self {
        self.cpu = Some(cpu.into());
        self
    }

    /// Runs the build; on failure reports the error to Cargo and exits the build script.
    pub fn run(self) {
        if let Err(error) = self.build() {
            // The message and each cause (a wheel's zip error, the linker's error, ...) that the
            // message does not already name.
            let mut text = error.to_string();
            let mut cause = std::error::Error::source(&error);
            while let Some(source) = cause {
                let message = source.to_string();
                if !text.contains(&message) {
                    text.push_str(&format!(": {message}"));
                }
                cause = source.source();
            }
            for line in text.lines() {
                println!("cargo::error={line}");
            }
            std::process::exit(1);
        }
    }

    /// Runs the build and returns what it wrote.
    pub fn build(self) -> Result<Artifacts, Error> {
        let env_path =
            |name: &'static str| std::env::var_os(name).map(PathBuf::from).ok_or(Error::NotInBuildScript(name));
        let manifest_dir = match self.manifest_dir {
            Some(dir) => dir,
            None => env_path("CARGO_MANIFEST_DIR")?,
        };
        let out_dir = match self.out_dir {
            Some(dir) => dir,
            None => env_path("OUT_DIR")?,
        }
        .join("eryx");
        for var in ["DOCS_RS", "ERYX_OFFLINE", "CARGO_NET_OFFLINE", "ERYX_DOWNLOAD_CACHE", "ERYX_CACHE_DIR"] {
            println!("cargo:rerun-if-env-changed={var}");
        }
        let manifest = manifest_dir.join("Cargo.toml");
        println!("cargo:rerun-if-changed={}", manifest.display());
        std::fs::create_dir_all(&out_dir).map_err(error::io(&out_dir))?;
        if std::env::var_os("DOCS_RS").is_some() {
            output::write_placeholder(&out_dir)?;
            return Ok(Artifacts { dir: out_dir, component_sha256: String::new(), native_extensions: 0 });
        }

        let package = match self.package {
            Some(name) => name,
            None => std::env::var("CARGO_PKG_NAME").map_err(|_| Error::NotInBuildScript("CARGO_PKG_NAME"))?,
        };
        let mut table = table::read(&manifest, &package)?;
        if let Some(enabled) = self.precompile {
            table.precompile = enabled;
        }
        if let Some(cpu) = self.cpu {
            table.cpu = Some(cpu);
        }
        let fetcher = fetch::Fetcher {
            cache_dir: match self.download_cache {
                Some(dir) => dir,
                None => default_download_cache(&out_dir),
            },
            offline: offline_reason(),
            max_size: self.max_download_size,
            held: Default::default(),
        };
        output::link_and_write(&table, &manifest_dir, &fetcher, &out_dir)
    }
}

/// `$ERYX_DOWNLOAD_CACHE`, else `downloads/` in eryx's cache folder (the convention the
/// scripts of `libs/` follow too: `$ERYX_CACHE_DIR`, else the user cache folder's `eryx/`).
fn default_download_cache(out_dir: &Path) -> PathBuf {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    download_cache_in(set("ERYX_DOWNLOAD_CACHE"), set("ERYX_CACHE_DIR"), dirs::cache_dir(), out_dir)
}

/// The download folder, given the two settings and the user cache folder. With neither a
/// setting nor a user cache folder, the downloads stay in `OUT_DIR` (never in a shared
/// temporary folder that nobody cleans).
fn download_cache_in(
    download_cache: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
    user_cache: Option<PathBuf>,
    out_dir: &Path,
) -> PathBuf {
    if let Some(dir) = download_cache {
        return dir;
    }
    match cache_dir.or_else(|| user_cache.map(|dir| dir.join("eryx"))) {
        Some(cache) => cache.join("downloads"),
        None => out_dir.join("downloads"),
    }
}

fn offline_reason() -> Option<String> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    if set("ERYX_OFFLINE") {
        Some("ERYX_OFFLINE is set".into())
    } else if set("CARGO_NET_OFFLINE") {
        Some("CARGO_NET_OFFLINE is set".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_download_cache_follows_the_cache_folder_convention() {
        let some = |p: &str| Some(PathBuf::from(p));
        let out = Path::new("/out");
        assert_eq!(download_cache_in(some("/dl"), some("/c"), some("/u"), out), Path::new("/dl"));
        assert_eq!(download_cache_in(None, some("/c"), some("/u"), out), Path::new("/c/downloads"));
        assert_eq!(download_cache_in(None, None, some("/u"), out), Path::new("/u/eryx/downloads"));
        assert_eq!(download_cache_in(None, None, None, out), Path::new("/out/downloads"));
    }
}

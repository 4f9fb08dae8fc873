//! The `[package.metadata.eryx]` table of the crate being built, read with cargo_metadata.
//!
//! ```toml
//! [package.metadata.eryx]
//! wheels = [
//!   { url = "https://example.org/pkg-1.0-cp314-cp314-wasi_0_0_0_wasm32.whl", sha256 = "…" },
//!   { path = "wheels/mine-0.1-py3-none-any.whl" },
//! ]
//! preinit = ["json"]        # modules imported before the start-up snapshot
//! preinit-wheels = true     # and the wheels' top-level packages (default false)
//! precompile = true         # embed the snapshot compiled ahead of time (default false;
//! cpu = "x86-64-v2"         # for this CPU baseline, the default; eryx-build's `precompile` feature)
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

/// Where one wheel comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WheelSource {
    /// Downloaded (HTTPS; plain HTTP only from a loopback address) and checked against `sha256`.
    Url {
        /// Where to download it from.
        url: String,
        /// Its pinned SHA-256 (lowercase hexadecimal).
        sha256: String,
    },
    /// A local file (relative paths are relative to the crate's folder), checked when `sha256` is given.
    Path {
        /// The file (absolute, or relative to the current folder).
        path: PathBuf,
        /// Its SHA-256 (lowercase hexadecimal), if pinned.
        sha256: Option<String>,
    },
}

/// The parsed table.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// The wheels, in the order they are installed.
    pub wheels: Vec<WheelSource>,
    /// Modules to import before a pre-initialised snapshot is taken.
    pub preinit: Vec<String>,
    /// Whether the wheels' top-level packages are imported before the snapshot too.
    pub preinit_wheels: bool,
    /// Whether the snapshot is made and compiled at build time and embedded.
    pub precompile: bool,
    /// The CPU baseline the precompiled code is for (`None`: eryx-rt's default, `x86-64-v2`).
    pub cpu: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    #[serde(default)]
    wheels: Vec<serde_json::Value>,
    #[serde(default)]
    preinit: Vec<String>,
    #[serde(default, rename = "preinit-wheels")]
    preinit_wheels: bool,
    #[serde(default)]
    precompile: bool,
    cpu: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWheel {
    url: Option<String>,
    path: Option<PathBuf>,
    sha256: Option<String>,
}

/// Reads the table of the package `package` whose manifest is `manifest` (absent table: empty).
pub fn read(manifest: &Path, package: &str) -> Result<Table, Error> {
    let metadata =
        cargo_metadata::MetadataCommand::new().manifest_path(manifest).no_deps().exec().map_err(Error::Metadata)?;
    let package = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == package && p.manifest_path.as_std_path() == manifest)
        .ok_or_else(|| Error::PackageNotFound { package: package.into(), manifest: manifest.to_path_buf() })?;
    match package.metadata.get("eryx") {
        None => Ok(Table::default()),
        Some(value) => parse(manifest, value),
    }
}

/// Parses the `eryx` metadata value; `manifest` is used for messages and relative paths.
///
/// ```
/// # use std::path::Path;
/// let value = serde_json::json!({ "wheels": [{ "url": "https://example.org/a.whl", "sha256": "AB".repeat(32) }] });
/// let table = eryx_build::table::parse(Path::new("/app/Cargo.toml"), &value).unwrap();
/// assert_eq!(
///     table.wheels,
///     [eryx_build::WheelSource::Url { url: "https://example.org/a.whl".into(), sha256: "ab".repeat(32) }]
/// );
///
/// let value = serde_json::json!({ "wheels": [{ "url": "https://example.org/a.whl" }] });
/// let error = eryx_build::table::parse(Path::new("/app/Cargo.toml"), &value).unwrap_err();
/// assert!(error.to_string().contains("wheels[0]"), "{error}");
///
/// let value = serde_json::json!({ "precompile": true, "cpu": "x86-64-v3" });
/// let table = eryx_build::table::parse(Path::new("/app/Cargo.toml"), &value).unwrap();
/// assert!(table.precompile && table.cpu.as_deref() == Some("x86-64-v3"));
/// let value = serde_json::json!({ "cpu": "x86-64-v3" });
/// let error = eryx_build::table::parse(Path::new("/app/Cargo.toml"), &value).unwrap_err();
/// assert!(error.to_string().contains("precompile = true"), "{error}");
///
/// let value = serde_json::json!({ "preinit": ["json\nos"] });
/// let error = eryx_build::table::parse(Path::new("/app/Cargo.toml"), &value).unwrap_err();
/// assert!(error.to_string().contains("preinit[0]"), "{error}");
/// ```
pub fn parse(manifest: &Path, value: &serde_json::Value) -> Result<Table, Error> {
    let table_error = |message: String| Error::Table { manifest: manifest.to_path_buf(), message };
    let raw: RawTable = serde_json::from_value(value.clone()).map_err(|e| table_error(e.to_string()))?;
    let root = manifest.parent().unwrap_or(Path::new("."));
    let mut wheels = Vec::new();
    for (index, value) in raw.wheels.into_iter().enumerate() {
        let entry_error = |message: String| Error::Entry { manifest: manifest.to_path_buf(), index, message };
        let entry: RawWheel = serde_json::from_value(value).map_err(|e| entry_error(e.to_string()))?;
        if let Some(sha256) = &entry.sha256
            && (sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(entry_error(format!("sha256 {sha256:?} is not 64 hexadecimal digits")));
        }
        let sha256 = entry.sha256.map(|s| s.to_ascii_lowercase());
        wheels.push(match (entry.url, entry.path) {
            (Some(_), Some(_)) => return Err(entry_error("give either `url` or `path`, not both".into())),
            (None, None) => return Err(entry_error("give `url` (with `sha256`) or `path`".into())),
            (Some(url), None) => {
                let sha256 = sha256.ok_or_else(|| entry_error(format!("`url` {url} needs a `sha256` to pin it")))?;
                WheelSource::Url { url, sha256 }
            }
            (None, Some(path)) => {
                let path = root.join(path);
                if !path.is_file() {
                    return Err(entry_error(format!("`path` {} does not exist", path.display())));
                }
                WheelSource::Path { path, sha256 }
            }
        });
    }
    for (index, name) in raw.preinit.iter().enumerate() {
        if !is_module_name(name) {
            return Err(table_error(format!(
                "preinit[{index}] {name:?} is not a module name: give dotted Python identifiers, like \"json\" or \"xml.dom\""
            )));
        }
    }
    if raw.cpu.is_some() && !raw.precompile {
        return Err(table_error("`cpu` only applies with `precompile = true`: add that, or remove `cpu`".into()));
    }
    Ok(Table {
        wheels,
        preinit: raw.preinit,
        preinit_wheels: raw.preinit_wheels,
        precompile: raw.precompile,
        cpu: raw.cpu,
    })
}

/// Whether `name` is a dotted Python module name (`json`, `xml.dom.minidom`): what `import`
/// accepts, and what survives `preinit.txt`, which holds one name a line.
fn is_module_name(name: &str) -> bool {
    name.split('.').all(|part| {
        let mut chars = part.chars();
        chars.next().is_some_and(|first| first == '_' || first.is_alphabetic())
            && chars.all(|c| c == '_' || c.is_alphanumeric())
    })
}

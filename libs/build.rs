//! Finds the base libraries in the `componentize-py` package that Cargo pinned for us,
//! checks each against `base-libs.sha256`, and copies them (still zstd-compressed) into
//! OUT_DIR, where `src/base.rs` includes them.
//!
//! The package is a `cfg(any())` dependency: locked with its checksum, never compiled.
//! `cargo metadata` makes Cargo download and unpack it and tells us where it is.
//! `ERYX_BASE_LIBS_DIR` can point at a folder holding the same `.zst` files instead.
//! `ERYX_BASE_LIBS_SHA256` names another checksum list to check them against (and says so in
//! a build warning): for experiments with other builds of the libraries, such as
//! `bench/libpython-opt/run.sh`; a release is built against the committed list.
//!
//! It also lists the standard library's archive (`python-lib.index`: where each file's bytes
//! sit in the uncompressed tar), so that eryx-rt can show the guest the tree's names and sizes
//! without decompressing it, and decompress it only if a file's contents are read.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sha2::{Digest, Sha256};

const PACKAGE: &str = "componentize-py";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: eryx-libs cannot obtain its base libraries: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env("OUT_DIR")?);
    println!("cargo:rerun-if-env-changed=ERYX_BASE_LIBS_DIR");
    println!("cargo:rerun-if-env-changed=ERYX_BASE_LIBS_SHA256");
    let list_path = match std::env::var_os("ERYX_BASE_LIBS_SHA256") {
        Some(list) => {
            let list = PathBuf::from(list);
            println!("cargo:warning=base libraries checked against {}, not libs/base-libs.sha256", list.display());
            list
        }
        None => manifest_dir.join("base-libs.sha256"),
    };
    println!("cargo:rerun-if-changed={}", list_path.display());
    let list = fs::read_to_string(&list_path).map_err(|e| format!("{}: {e}", list_path.display()))?;

    let source = match std::env::var_os("ERYX_BASE_LIBS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => locate_package(&manifest_dir)?,
    };
    for line in list.lines().filter(|line| !line.trim().is_empty()) {
        let (expected, name) =
            line.split_once("  ").ok_or_else(|| format!("{}: malformed line {line:?}", list_path.display()))?;
        let path = source.join(name);
        let bytes = fs::read(&path).map_err(|e| {
            format!("{}: {e}. Run `cargo fetch` (or `cargo metadata`) with network access, or set ERYX_BASE_LIBS_DIR to a folder with the files of {PACKAGE} 0.25.1", path.display())
        })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != expected {
            return Err(format!(
                "{} has SHA-256 {actual}, but {} expects {expected}. \
                 The file is corrupt or from another {PACKAGE} version: remove it from Cargo's registry cache and build again",
                path.display(),
                list_path.display()
            ));
        }
        fs::write(out_dir.join(name), &bytes).map_err(|e| format!("{}: {e}", out_dir.display()))?;
        if name == "python-lib.tar.zst" {
            let index = stdlib_index(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            fs::write(out_dir.join("python-lib.index"), index).map_err(|e| format!("{}: {e}", out_dir.display()))?;
        }
    }

    // Everything embedded: the pinned base files (by their verified hashes) and our runtime.
    let runtime_path = manifest_dir.join("runtime/eryx_runtime.so");
    println!("cargo:rerun-if-changed={}", runtime_path.display());
    let runtime = fs::read(&runtime_path).map_err(|e| format!("{}: {e}", runtime_path.display()))?;
    let mut fingerprint = Sha256::new();
    fingerprint.update(list.as_bytes());
    fingerprint.update(Sha256::digest(&runtime));
    let fingerprint = hex::encode(fingerprint.finalize());
    fs::write(out_dir.join("fingerprint.hex"), fingerprint).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    Ok(())
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set; run through cargo"))
}

/// Asks Cargo where it unpacked the pinned package (downloading it on first use).
fn locate_package(manifest_dir: &Path) -> Result<PathBuf, String> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(manifest_dir.join("Cargo.toml"))
        .exec()
        .map_err(|e| format!("`cargo metadata` failed: {e}. With no network, set ERYX_BASE_LIBS_DIR"))?;
    let package = metadata
        .packages
        .iter()
        .find(|package| package.name.as_str() == PACKAGE)
        .ok_or_else(|| format!("{PACKAGE} is missing from Cargo.lock; eryx-libs depends on it under cfg(any())"))?;
    let dir = package.manifest_path.parent().expect("a manifest has a parent folder");
    Ok(dir.as_std_path().to_path_buf())
}

/// Lists the regular files of the zstd-compressed tar `zst`: a first line with the uncompressed
/// archive's length, then one line per file, `offset size path` (offset and size of its bytes in
/// the uncompressed archive), in archive order.
fn stdlib_index(zst: &[u8]) -> Result<String, String> {
    use std::io::Read;
    let mut tar = Vec::new();
    ruzstd::decoding::StreamingDecoder::new(zst)
        .map_err(|e| e.to_string())?
        .read_to_end(&mut tar)
        .map_err(|e| e.to_string())?;
    let mut index = format!("{}\n", tar.len());
    let mut archive = tar::Archive::new(&tar[..]);
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let path = entry.path().map_err(|e| e.to_string())?.to_str().ok_or("a path is not UTF-8")?.to_string();
        if !kind.is_file() || path.contains('\n') {
            return Err(format!("{path:?}: only regular files and folders are expected in the standard library"));
        }
        index.push_str(&format!("{} {} {path}\n", entry.raw_file_position(), entry.size()));
    }
    Ok(index)
}

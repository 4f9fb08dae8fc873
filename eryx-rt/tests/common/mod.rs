//! Shared helpers of the integration tests: fixtures, wheels made on the fly, scratch folders.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The pinned MarkupSafe sdist that `libs/sdist-wheel/build.sh` turns into a WASI wheel.
pub(crate) const MARKUPSAFE_SHA256: &str = "2e9ad7dd851bf45fab9f75cbff4cb493fee9979e8d8c7c9c3ee119022518edd6";
/// Pure-Python wheels from PyPI used by the tests, pinned by SHA-256.
const PINNED_WHEELS: &[(&str, &str)] =
    &[("jinja2==3.1.6", "85ece4451f492d0c13c5dd7c13a64681a86afae63a5f347908daf103ce6d2f67")];

/// The workspace root (the folder of `Cargo.lock`), from any of its crates.
pub(crate) fn repo() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.ancestors().find(|dir| dir.join("Cargo.lock").is_file()).expect("inside the workspace").to_path_buf()
}

/// A committed test-extension wheel (built by tests/extensions/build.sh).
pub(crate) fn fixture_wheel(module: &str) -> PathBuf {
    single_file(&repo().join("tests/fixtures/wheels"), &format!("{module}-"))
}

/// The one file in `dir` whose name contains `pattern`.
pub(crate) fn single_file(dir: &Path, pattern: &str) -> PathBuf {
    let matches: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().contains(pattern))
        .collect();
    assert_eq!(matches.len(), 1, "expected one {pattern} in {}: {matches:?}", dir.display());
    matches.into_iter().next().unwrap()
}

/// A fresh folder under target/ for this test's outputs.
pub(crate) fn scratch_dir(name: &str) -> PathBuf {
    let dir = repo().join("target/test-scratch").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Downloads a pinned wheel with pip and checks its SHA-256.
pub(crate) fn pip_download(requirement: &str) -> PathBuf {
    let (_, sha256) = PINNED_WHEELS.iter().find(|(r, _)| *r == requirement).expect("the wheel is pinned");
    let dir = scratch_dir(&requirement.replace("==", "-"));
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:", "-d"])
        .arg(&dir)
        .arg(requirement)
        .status()
        .expect("pip runs");
    assert!(status.success(), "pip download {requirement} failed");
    let wheel = single_file(&dir, ".whl");
    assert_eq!(
        hex::encode(Sha256::digest(std::fs::read(&wheel).unwrap())),
        *sha256,
        "{requirement} is not the pinned file"
    );
    wheel
}

/// A valid wheel named `name` 0.1 holding `files` and a correct RECORD.
pub(crate) fn make_wheel(name: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    make_wheel_with(name, files, |_, hash| hash)
}

/// Like [`make_wheel`], with `record_hash(path, correct_hash)` choosing each RECORD hash.
pub(crate) fn make_wheel_with(
    name: &str,
    files: &[(&str, &[u8])],
    record_hash: impl Fn(&str, String) -> String,
) -> Vec<u8> {
    let dist_info = format!("{name}-0.1.dist-info");
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n");
    let wheel =
        "Wheel-Version: 1.0\nGenerator: eryx-tests\nRoot-Is-Purelib: false\nTag: cp314-cp314-wasi_0_0_0_wasm32\n";
    let mut all: Vec<(String, Vec<u8>)> = files.iter().map(|(p, b)| (p.to_string(), b.to_vec())).collect();
    all.push((format!("{dist_info}/METADATA"), metadata.into_bytes()));
    all.push((format!("{dist_info}/WHEEL"), wheel.as_bytes().to_vec()));
    let mut record = String::new();
    for (path, bytes) in &all {
        let hash = format!("sha256={}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes)));
        record.push_str(&format!("{path},{},{}\n", record_hash(path, hash), bytes.len()));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    all.push((format!("{dist_info}/RECORD"), record.into_bytes()));

    let mut out = Vec::new();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut out));
    for (path, bytes) in all {
        zip.start_file(path, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
    out
}

/// A minimal wasm shared library (it has a `dylink.0` section) with `extra` WAT fields.
pub(crate) fn wasm_shared_library(extra: &str) -> Vec<u8> {
    // dylink.0 with one mem-info subsection: memory size, alignment, table size, alignment = 0.
    wat::parse_str(format!(
        "(module (@custom \"dylink.0\" \"\\01\\04\\00\\00\\00\\00\") {extra} (func (export \"PyInit_m\") (result i32) i32.const 0))"
    ))
    .unwrap()
}

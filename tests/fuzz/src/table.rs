//! The `[package.metadata.eryx]` table: TOML text as a user writes it in Cargo.toml, turned
//! into the JSON value that `cargo metadata` hands to `eryx_build::table::parse`.
//!
//! The input is a whole manifest (its `package.metadata.eryx` table is used) or, when it has
//! none, the table itself. Relative `path` entries resolve against a folder holding one file,
//! `wheels/mine-0.1-py3-none-any.whl`, so that accepted paths are reachable too.

use std::path::PathBuf;
use std::sync::OnceLock;

use eryx_build::WheelSource;

fn manifest() -> &'static PathBuf {
    static MANIFEST: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &MANIFEST
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("a temporary folder");
            std::fs::create_dir(dir.path().join("wheels")).expect("a folder");
            std::fs::write(dir.path().join("wheels/mine-0.1-py3-none-any.whl"), b"").expect("a file");
            let manifest = dir.path().join("Cargo.toml");
            (dir, manifest)
        })
        .1
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses `data` as a table; when it is accepted, checks what the parser promises.
pub fn check_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(document) = text.parse::<toml::Table>() else { return };
    let eryx = document
        .get("package")
        .and_then(|package| package.get("metadata"))
        .and_then(|metadata| metadata.get("eryx"))
        .cloned()
        .unwrap_or(toml::Value::Table(document));
    let Ok(value) = serde_json::to_value(&eryx) else { return };
    let Ok(table) = eryx_build::table::parse(manifest(), &value) else { return };
    for wheel in &table.wheels {
        match wheel {
            WheelSource::Url { url, sha256 } => {
                assert!(is_sha256(sha256), "url {url} accepted with sha256 {sha256:?}");
            }
            WheelSource::Path { path, sha256 } => {
                assert!(path.is_file(), "accepted path {} is not a file", path.display());
                assert!(sha256.as_deref().is_none_or(is_sha256), "path accepted with sha256 {sha256:?}");
            }
        }
    }
    // eryx-build writes the list one name a line (`preinit.txt`) and eryx-rt reads it back
    // with `lines()`: what was accepted must come back the same.
    let joined = table.preinit.join("\n");
    let read_back: Vec<&str> = joined.lines().filter(|line| !line.is_empty()).collect();
    assert_eq!(read_back, table.preinit, "preinit names do not survive preinit.txt");
}

//! The committed guest runtime must be what its sources build. `libs/runtime/build.sh`
//! records a SHA-256 over its inputs next to it; this recomputes it the same way.
//! (`.ci/run` also rebuilds the runtime and checks that the bytes are identical.)

use std::path::Path;

use sha2::{Digest, Sha256};

/// The inputs, in the order `build.sh` hashes them (`sha256sum` lines, then their SHA-256).
fn sources_digest(libs: &Path) -> String {
    let mut files: Vec<String> =
        ["runtime/Cargo.toml", "runtime/Cargo.lock", "runtime/rust-toolchain.toml", "runtime/build.sh"]
            .map(String::from)
            .to_vec();
    for dir in ["runtime/src", "wit"] {
        let mut names: Vec<String> = std::fs::read_dir(libs.join(dir))
            .unwrap()
            .map(|entry| format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy()))
            .collect();
        names.sort();
        files.extend(names);
    }
    files.push("base-libs.sha256".into());
    let listing: String = files
        .iter()
        .map(|file| format!("{}  {file}\n", hex::encode(Sha256::digest(std::fs::read(libs.join(file)).unwrap()))))
        .collect();
    hex::encode(Sha256::digest(listing.as_bytes()))
}

#[test]
fn committed_runtime_matches_its_sources() {
    let libs = Path::new(env!("CARGO_MANIFEST_DIR"));
    let recorded = std::fs::read_to_string(libs.join("runtime/eryx_runtime.so.sources")).unwrap();
    assert_eq!(
        recorded.trim(),
        sources_digest(libs),
        "libs/runtime/eryx_runtime.so is stale: run libs/runtime/build.sh and commit the result"
    );
}

#[test]
fn committed_runtime_is_a_shared_wasm_module() {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/eryx_runtime.so")).unwrap();
    let has_dylink = wasmparser::Parser::new(0)
        .parse_all(&bytes)
        .any(|payload| matches!(payload, Ok(wasmparser::Payload::CustomSection(s)) if s.name() == "dylink.0"));
    assert!(has_dylink);
}

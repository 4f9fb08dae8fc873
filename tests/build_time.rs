//! eryx-build end to end: the example crate in `examples/embedded` is copied to a scratch
//! folder and built with cargo, its URL wheel served by a real HTTP server on loopback.

mod common;

use std::path::Path;

use common::{Example, WheelServer, assert_success, repo, text};
use sha2::{Digest, Sha256};

fn fixture_server() -> WheelServer {
    WheelServer::start(repo().join("tests/fixtures/wheels"))
}

/// Gives a copy its own package name: copies that share one run cargo's units of one package
/// name in the shared target folder, and a build of one made the other's no-op rebuild dirty.
fn renamed(manifest: String, name: &str) -> String {
    manifest.replace("name = \"eryx-embedded-example\"", &format!("name = \"{name}\""))
}

#[test]
fn embedded_component_end_to_end() {
    let server = fixture_server();
    let example = Example::new(server.port, |t| t);
    assert_success(&example.build(&[]));
    assert_eq!(server.requests(), 1, "the URL wheel is downloaded once");

    // The binary runs both extensions from the embedded component and links nothing.
    let out = example.run(None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "5 hello, embedded\n");
    assert!(text(&out.stderr).contains("link calls in this process: 0"), "{}", text(&out.stderr));

    // A no-op rebuild does not rerun the build script (so links nothing, downloads nothing).
    let component = example.outputs().join("component.wasm");
    let modified = std::fs::metadata(&component).unwrap().modified().unwrap();
    let out = example.build(&[]);
    assert_success(&out);
    let log = text(&out.stderr);
    let reran = log
        .lines()
        .any(|l| l.contains("Running") && l.contains("/eryx-embedded-example-") && l.contains("build-script-build"));
    assert!(!reran, "the build script ran again:\n{log}");
    assert_eq!(std::fs::metadata(&component).unwrap().modified().unwrap(), modified);
    assert_eq!(server.requests(), 1);

    // A clean rebuild gives the same bytes; offline with a warm download cache works.
    let outputs = example.outputs();
    let before: Vec<Vec<u8>> = ["component.wasm", "site.tar", "manifest.json"]
        .iter()
        .map(|f| std::fs::read(outputs.join(f)).unwrap())
        .collect();
    example.clean();
    assert_success(&example.build(&[("ERYX_OFFLINE", "1")]));
    assert_eq!(server.requests(), 1, "offline builds do not download");
    let outputs = example.outputs();
    for (file, old) in ["component.wasm", "site.tar", "manifest.json"].iter().zip(&before) {
        let new = std::fs::read(outputs.join(file)).unwrap();
        assert!(&new == old, "{file} differs after a clean rebuild");
    }

    // The manifest lists every input with its SHA-256.
    let manifest: serde_json::Value = serde_json::from_slice(&before[2]).unwrap();
    let wheels = manifest["wheels"].as_array().unwrap();
    assert_eq!(wheels.len(), 2);
    for wheel in wheels {
        assert_eq!(wheel["sha256"].as_str().unwrap().len(), 64);
    }
    let component_sha = hex::encode(Sha256::digest(&before[0]));
    assert_eq!(manifest["component_sha256"], component_sha);
}

#[test]
fn wrong_sha256_fails_naming_the_wheel_and_both_hashes() {
    let server = fixture_server();
    let wrong = "0".repeat(64);
    let example = Example::new(server.port, |t| {
        let t = renamed(t, "eryx-embedded-example-wrong-sha");
        let start = t.find("sha256 = \"").unwrap() + "sha256 = \"".len();
        format!("{}{wrong}{}", &t[..start], &t[start + 64..])
    });
    let out = example.build(&[]);
    assert!(!out.status.success());
    let log = text(&out.stderr);
    let actual = hex::encode(Sha256::digest(
        std::fs::read(repo().join("tests/fixtures/wheels/eryx_test_rust-0.1.0-cp314-cp314-wasi_0_0_0_wasm32.whl"))
            .unwrap(),
    ));
    assert!(log.contains("eryx_test_rust-0.1.0"), "{log}");
    assert!(log.contains(&wrong) && log.contains(&actual), "both hashes are named:\n{log}");
    assert_eq!(
        std::fs::read_dir(example.downloads.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "whl"))
            .count(),
        0,
        "nothing kept"
    );
}

#[test]
fn offline_with_a_cold_cache_says_how_to_fix_it() {
    let server = fixture_server();
    let example = Example::new(server.port, |t| renamed(t, "eryx-embedded-example-offline"));
    let out = example.build(&[("CARGO_NET_OFFLINE", "true")]);
    assert!(!out.status.success());
    let log = text(&out.stderr);
    assert!(log.contains("offline build"), "{log}");
    assert!(log.contains("build once with network access"), "{log}");
    assert!(log.contains("ERYX_WHEEL_ERYX_TEST_RUST"), "{log}");
    assert_eq!(server.requests(), 0);
}

#[test]
fn malformed_tables_point_at_the_entry() {
    let manifest = Path::new("/crate/Cargo.toml");
    let cases = [
        (r#"{"wheels": [{"url": "https://x/a.whl"}]}"#, "wheels[0]", "needs a `sha256`"),
        (
            r#"{"wheels": [{"path": "a.whl", "url": "https://x/a.whl", "sha256": "00"}]}"#,
            "wheels[0]",
            "not 64 hexadecimal",
        ),
        (r#"{"wheels": [{"path": "a.whl", "url": "https://x/a.whl"}]}"#, "wheels[0]", "not both"),
        (r#"{"wheels": [{"path": "missing.whl"}]}"#, "wheels[0]", "does not exist"),
        (r#"{"wheels": [{"pth": "a.whl"}]}"#, "wheels[0]", "unknown field `pth`"),
        (r#"{"wheel": []}"#, "package.metadata.eryx", "unknown field `wheel`"),
    ];
    for (json, place, message) in cases {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let error = eryx_build::table::parse(manifest, &value).unwrap_err().to_string();
        assert!(error.contains(place) && error.contains(message), "{json}: {error}");
    }
}

/// `precompile = true`: the binary carries the snapshot compiled ahead of time, so its first
/// run on a machine with an empty cache compiles nothing and writes nothing (its trees are
/// served from the binary); the outputs are reproducible.
#[test]
fn precompiled_component_runs_on_an_empty_cache_without_compiling() {
    let server = fixture_server();
    let example = Example::new(server.port, |t| {
        renamed(t, "eryx-embedded-example-precompiled")
            .replace("/eryx-build\" }", "/eryx-build\", features = [\"precompile\"] }")
            .replace("[package.metadata.eryx]\n", "[package.metadata.eryx]\nprecompile = true\n")
    });
    assert_success(&example.build(&[]));

    let fresh = tempfile::tempdir().unwrap();
    let out = example.run_with(None, &[("ERYX_CACHE_DIR", fresh.path().to_str().unwrap())]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "5 hello, embedded\n");
    assert!(text(&out.stderr).contains("code loaded from: Precompiled"), "{}", text(&out.stderr));
    let written: Vec<_> = std::fs::read_dir(fresh.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(written.is_empty(), "the trees are served from the binary, nothing is unpacked: {written:?}");

    let outputs = example.outputs();
    let files = ["component.cwasm", "stdlib.pack", "site.pack", "manifest.json"];
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(outputs.join(f)).unwrap()).collect();
    assert!(before.iter().all(|bytes| !bytes.is_empty()));
    let manifest: serde_json::Value = serde_json::from_slice(&before[3]).unwrap();
    assert_eq!(manifest["precompiled"]["cpu"], "x86-64-v2");
    assert_eq!(manifest["precompiled"]["sha256"], hex::encode(Sha256::digest(&before[0])));

    // A clean rebuild makes the snapshot and compiles it again: the same bytes.
    example.clean();
    assert_success(&example.build(&[]));
    let outputs = example.outputs();
    for (file, old) in files.iter().zip(&before) {
        assert!(&std::fs::read(outputs.join(file)).unwrap() == old, "{file} differs after a clean rebuild");
    }
}

//! Regression tests for what the fuzz targets in tests/fuzz found, one test per finding, each
//! with the (reduced) input that showed it.

use std::io::Write;

use base64::Engine as _;
use eryx_libs::link::check_extension;
use eryx_libs::wheel::WheelFile;
use eryx_libs::{LinkError, NativeExtension, SitePackages, Wheel, WheelError};
use sha2::{Digest, Sha256};

/// A wheel zip with METADATA naming `name`, `files`, and a RECORD with the right hashes.
fn make_wheel(name: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let dist_info = format!("{name}-1.0.dist-info");
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
    let mut members: Vec<(String, Vec<u8>)> = files.iter().map(|(p, b)| (p.to_string(), b.to_vec())).collect();
    members.push((format!("{dist_info}/METADATA"), metadata.into_bytes()));
    let mut record = String::new();
    for (path, bytes) in &members {
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
        record.push_str(&format!("{path},sha256={hash},{}\n", bytes.len()));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    members.push((format!("{dist_info}/RECORD"), record.into_bytes()));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, bytes) in &members {
        zip.start_file(path.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn wheel_error(bytes: &[u8]) -> WheelError {
    Wheel::from_bytes("found.whl", bytes).expect_err("the wheel was accepted")
}

/// `site`: an empty path (and absolute, `..`, empty-segment paths) was accepted by the tree,
/// and `write_to` joins paths to its folder: `/x` would have been written at `/x`.
#[test]
fn site_refuses_paths_that_leave_its_folder() {
    let long = "n".repeat(256);
    for path in ["", "/etc/evil.py", "../evil.py", "pkg/../../evil.py", "a//b.py", "pkg/", "./a.py", &long] {
        let error = SitePackages::new().add_file(path, b"x".to_vec(), "folder site").expect_err(path);
        assert!(matches!(&error, WheelError::UnsafeSitePath { path: p, .. } if p == path), "{path:?}: {error}");
        assert!(error.to_string().contains("folder site"), "the message names the input: {error}");
    }
    let error = SitePackages::new().add_native_extension("../m.cpython-314-wasm32-wasi.so", vec![]).unwrap_err();
    assert!(matches!(error, WheelError::UnsafeSitePath { .. }), "{error}");
    // A `Wheel` can be made by hand (its fields are public): the tree checks its paths too.
    let wheel = Wheel {
        origin: "made.whl".into(),
        name: "made".into(),
        version: "1".into(),
        sha256: [0; 32],
        files: vec![WheelFile { path: "/abs.py".into(), bytes: vec![] }],
    };
    assert!(matches!(SitePackages::new().add_wheel(&wheel), Err(WheelError::UnsafeSitePath { .. })));
    // What stays below still goes in, and is written there.
    let mut site = SitePackages::new();
    site.add_file("pkg/mod.py", b"x".to_vec(), "folder site").unwrap();
    let dir = tempfile::tempdir().unwrap();
    site.write_to(dir.path()).unwrap();
    assert_eq!(std::fs::read(dir.path().join("pkg/mod.py")).unwrap(), b"x");
}

/// `site`: `q.py` and `q.py/p.py` (here from one wheel's `.data/platlib`) were both accepted,
/// and `write_to` failed late with "File exists", naming neither input.
#[test]
fn site_refuses_a_file_that_is_also_a_folder() {
    let bytes = make_wheel("p", &[("p-1.0.data/platlib/q.py", b"2"), ("p-1.0.data/platlib/q.py/p.py", b"1")]);
    let wheel = Wheel::from_bytes("p.whl", &bytes).unwrap();
    let error = SitePackages::new().add_wheel(&wheel).unwrap_err();
    assert!(matches!(&error, WheelError::Conflict { path, .. } if path == "q.py"), "{error}");

    for (first, second) in [("a/b.py", "a"), ("a", "a/b.py"), ("a/b/c.py", "a/b")] {
        let mut site = SitePackages::new();
        site.add_file(first, vec![], "one").unwrap();
        let error = site.add_file(second, vec![], "two").unwrap_err();
        assert!(matches!(error, WheelError::Conflict { .. }), "{first} then {second}: {error}");
        let message = error.to_string();
        assert!(message.contains("one") && message.contains("two"), "{message}");
    }
    // A shared prefix that is not a folder is no conflict.
    let mut site = SitePackages::new();
    site.add_file("a.py", vec![], "one").unwrap();
    site.add_file("a.pyc/x", vec![], "two").unwrap();
    site.add_file("a/x.py", vec![], "two").unwrap();
}

/// `site`/`wheel`: `Name: .` normalised to an empty distribution name, which was accepted.
#[test]
fn wheel_name_must_be_a_distribution_name() {
    for name in [".", "-", "_.", " ", "pkg!", "a b"] {
        let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
        let bytes = make_wheel_metadata(&metadata);
        let error = wheel_error(&bytes);
        assert!(matches!(error, WheelError::BadMetadata { .. }), "{name:?}: {error}");
    }
    for name in ["a", "My_Pkg.2", "x-y"] {
        let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n");
        Wheel::from_bytes("ok.whl", &make_wheel_metadata(&metadata)).unwrap();
    }
}

fn make_wheel_metadata(metadata: &str) -> Vec<u8> {
    let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(metadata));
    let record = format!("w-1.0.dist-info/METADATA,sha256={hash},{}\nw-1.0.dist-info/RECORD,,\n", metadata.len());
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (path, bytes) in [("w-1.0.dist-info/METADATA", metadata), ("w-1.0.dist-info/RECORD", &record)] {
        zip.start_file(path, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// `site`/`wheel`: a member `dego//_x` (an empty segment) was accepted by the wheel reader.
#[test]
fn wheel_member_paths_have_no_empty_segment() {
    let long = format!("pkg/{}", "n".repeat(256));
    for path in ["dego//_x", "a//b.py", &long] {
        let error = wheel_error(&make_wheel("demo", &[(path, b"x")]));
        assert!(matches!(&error, WheelError::UnsafePath { entry, .. } if entry == path), "{path}: {error}");
    }
}

const SO: &str = "/site-packages/m.cpython-314-wasm32-wasi.so";

fn check(bytes: &[u8]) -> Result<(), LinkError> {
    check_extension(&NativeExtension::new(SO, bytes))
}

/// A `dylink.0` custom section with the given subsection bytes.
fn dylink(subsections: &[u8]) -> Vec<u8> {
    let mut body = vec![8];
    body.extend_from_slice(b"dylink.0");
    body.extend_from_slice(subsections);
    let mut section = vec![0, u8::try_from(body.len()).unwrap()];
    section.extend(body);
    section
}

const MODULE: &[u8] = b"\0asm\x01\0\0\0";
const MEM_INFO: &[u8] = &[1, 4, 16, 2, 0, 0];

/// `native_extension`: a component whose nested core module has `dylink.0` passed the check
/// (the section was looked for in nested modules too) and reached the linker.
#[test]
fn component_is_not_a_native_extension() {
    let module = [MODULE, &dylink(MEM_INFO)].concat();
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    component.push(1); // core module section
    component.push(u8::try_from(module.len()).unwrap());
    component.extend(&module);
    let error = check(&component).unwrap_err();
    assert!(
        matches!(&error, LinkError::Unsupported { path, reason } if path == SO && reason.contains("component")),
        "{error}"
    );
    check(&module).expect("the module itself is a shared library");
}

/// `native_extension`: a truncated `dylink.0` subsection (the reduced input below) passed the
/// check; the linker refuses it, and so do unknown subsections and other architectures.
#[test]
fn dylink_section_is_read_before_linking() {
    let found = base64::engine::general_purpose::STANDARD
        .decode("AGFzbQEAAAAANghkeWxpbmsuMAEEEAIAAAIJAQdiLmxjaXNvAwsBCFB5SW5pdF9tAQQDAG4NZXYGbWFsbG9jAAEFAWAIAX8DAgEABwz5B1B5SW5pdF9tAAAKBgEEAEEACw==")
        .unwrap();
    let truncated = [MODULE, &dylink(&[1, 9, 16, 2])].concat();
    let unknown = [MODULE, &dylink(&[MEM_INFO, &[42, 0]].concat())].concat();
    let arch = [MODULE, &dylink(&[MEM_INFO, &[6, 7, 6], b"wasm64"].concat())].concat();
    for (what, bytes) in [("found", &found), ("truncated", &truncated)] {
        let error = check(bytes).expect_err(what);
        assert!(matches!(error, LinkError::NotWasm { .. }), "{what}: {error}");
    }
    for (what, bytes) in [("unknown", &unknown), ("wasm64", &arch)] {
        let error = check(bytes).expect_err(what);
        assert!(matches!(error, LinkError::Unsupported { .. }), "{what}: {error}");
    }
    let wasm32 = [MODULE, &dylink(&[MEM_INFO, &[6, 7, 6], b"wasm32"].concat())].concat();
    check(&wasm32).expect("wasm32 is this target");
}

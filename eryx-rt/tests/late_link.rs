//! Late linking: real wheels (our C and Rust test extensions, MarkupSafe built from its PyPI
//! sdist, Jinja2 from PyPI) linked into real components, and every way a wheel can be bad.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fixture_wheel, make_wheel, wasm_shared_library};
use eryx_libs::{LinkError, WheelError};
use eryx_rt::{BuildError, Embedded, LoadedFrom, Runtime, Sandbox};
use sha2::{Digest, Sha256};

fn stdout_of(sandbox: &mut Sandbox, code: &str) -> String {
    sandbox.execute(code).unwrap_or_else(|e| panic!("{code:?}: {e}\n{}", e.output.stderr)).stdout
}

#[test]
fn c_and_rust_test_extensions_run() {
    let mut sandbox = Sandbox::builder()
        .with_wheel(fixture_wheel("eryx_test_c"))
        .with_wheel(fixture_wheel("eryx_test_rust"))
        .build()
        .unwrap();
    for module in ["eryx_test_c", "eryx_test_rust"] {
        let out = stdout_of(
            &mut sandbox,
            &format!(
                "import {module} as m\n\
                 print(m.add(2, 40), m.greet('eryx'), m.counter(), m.counter(), m.call(lambda v: v * 3, 5))\n\
                 try:\n    m.fail('boom')\nexcept ValueError as e:\n    print('ValueError', e)"
            ),
        );
        assert_eq!(out, "42 hello, eryx 1 2 15\nValueError boom\n", "{module}");
    }
    // The installed metadata is there for importlib.metadata.
    let out = stdout_of(&mut sandbox, "import importlib.metadata as md; print(md.version('eryx_test_c'))");
    assert_eq!(out, "0.1.0\n");
}

#[test]
fn loose_native_extension_and_order_independent_cache() {
    let wheel = eryx_libs::Wheel::from_file(&fixture_wheel("eryx_test_c")).unwrap();
    let so = wheel.native_extensions().next().unwrap();
    let module_file = Path::new(&so.path).file_name().unwrap().to_str().unwrap().to_string();
    let mut sandbox = Sandbox::builder().with_native_extension(module_file.clone(), so.bytes.clone()).build().unwrap();
    let name = module_file.split('.').next().unwrap();
    assert_eq!(stdout_of(&mut sandbox, &format!("import {name} as m; print(m.add(1, 2))")), "3\n");

    // The same set in another order is the same component (an in-memory hit).
    let a = Sandbox::builder()
        .with_wheel(fixture_wheel("eryx_test_c"))
        .with_wheel(fixture_wheel("eryx_test_rust"))
        .build()
        .unwrap();
    let b = Sandbox::builder()
        .with_wheel(fixture_wheel("eryx_test_rust"))
        .with_wheel(fixture_wheel("eryx_test_c"))
        .build()
        .unwrap();
    let _ = a;
    assert_eq!(b.loaded_from(), LoadedFrom::Memory);
}

/// What eryx-build writes for a crate listing `wheel`: the same site-packages assembly, the same
/// linker, the tree as a tar. Returns it as `include_component!` would embed it.
fn linked_like_eryx_build(wheel: &Path) -> &'static Embedded {
    let mut site = eryx_libs::SitePackages::new();
    site.add_wheel(&eryx_libs::Wheel::from_file(wheel).unwrap()).unwrap();
    let component = eryx_libs::link_component(&eryx_libs::BaseLibraries::load(), &site.native_extensions()).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    for (path, contents) in site.installed_files() {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, contents).unwrap();
    }
    let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
    Box::leak(Box::new(Embedded::__new(
        Box::leak(component.clone().into_boxed_slice()),
        leak(hex::encode(Sha256::digest(&component))),
        Box::leak(tar.into_inner().unwrap().into_boxed_slice()),
        leak(hex::encode(site.digest())),
        "",
        // Not precompiled: no code, no bytecode packs.
        &[],
        &[],
        &[],
    )))
}

#[test]
fn build_time_and_late_linking_share_one_compiled_component() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::builder().cache_dir(cache.path()).preinit(false).build().unwrap();
    let wheel = fixture_wheel("eryx_test_c");
    let embedded = linked_like_eryx_build(&wheel);
    let code = "import eryx_test_c as m; print(m.add(2, 40))";

    let mut late = runtime.sandbox().with_wheel(&wheel).build().unwrap();
    assert_eq!(late.loaded_from(), LoadedFrom::Compiled);
    let mut early = runtime.sandbox().embedded(embedded).build().unwrap();
    assert_eq!(early.loaded_from(), LoadedFrom::Memory, "the same linked bytes are one cache entry");
    assert_eq!(stdout_of(&mut late, code), "42\n");
    assert_eq!(stdout_of(&mut early, code), "42\n");
    let compiled: Vec<PathBuf> = walk(&cache.path().join("components"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(compiled.len(), 1, "compiled once: {compiled:?}");

    // Another runtime on the same folder: the embedded one loads that entry from disk, and the
    // late-linked one finds it in memory through the link index, without linking.
    let runtime = Runtime::builder().cache_dir(cache.path()).preinit(false).build().unwrap();
    let mut early = runtime.sandbox().embedded(embedded).build().unwrap();
    assert_eq!(early.loaded_from(), LoadedFrom::Disk);
    let mut late = runtime.sandbox().with_wheel(&wheel).build().unwrap();
    assert_eq!(late.loaded_from(), LoadedFrom::Memory);
    assert_eq!(stdout_of(&mut early, code), "42\n");
    assert_eq!(stdout_of(&mut late, code), "42\n");
    assert_eq!(walk(&cache.path().join("link-index")).len(), 1, "one link recorded");
}

#[test]
fn markupsafe_from_its_sdist_and_jinja2_render() {
    let out = common::scratch_dir("markupsafe");
    let status = Command::new(common::repo().join("libs/sdist-wheel/build.sh"))
        .args(["markupsafe==3.0.4", common::MARKUPSAFE_SHA256])
        .arg(&out)
        .status()
        .expect("libs/sdist-wheel/build.sh runs");
    assert!(status.success(), "building MarkupSafe for wasm32-wasi failed");
    let markupsafe = common::single_file(&out, ".whl");
    let jinja = common::pip_download("jinja2==3.1.6");

    let mut sandbox = Sandbox::builder().with_wheel(&markupsafe).with_wheel(&jinja).build().unwrap();
    let out = stdout_of(
        &mut sandbox,
        "import markupsafe._speedups as s\n\
         print(s._escape_inner('<a>'))\n\
         import markupsafe\n\
         print(markupsafe._escape_inner is s._escape_inner, markupsafe.escape('<a>'))\n\
         import jinja2\n\
         env = jinja2.Environment(autoescape=True)\n\
         print(env.from_string('<p>{{ x }}</p>').render(x='<script>'))",
    );
    assert_eq!(out, "&lt;a&gt;\nTrue &lt;a&gt;\n<p>&lt;script&gt;</p>\n");
}

fn build_error(builder: eryx_rt::SandboxBuilder) -> BuildError {
    match builder.build() {
        Ok(_) => panic!("the sandbox was built"),
        Err(error) => error,
    }
}

fn wheel_error(bytes: Vec<u8>) -> WheelError {
    match build_error(Sandbox::builder().with_wheel_bytes("bad.whl", bytes)) {
        BuildError::Wheel(error) => {
            assert!(error.to_string().contains("bad.whl"), "the message names the wheel: {error}");
            error
        }
        other => panic!("not a wheel error: {other}"),
    }
}

fn link_error(files: &[(&str, &[u8])]) -> LinkError {
    match build_error(Sandbox::builder().with_wheel_bytes("ext.whl", make_wheel("ext", files))) {
        BuildError::Link { error, .. } => error,
        other => panic!("not a link error: {other}"),
    }
}

#[test]
fn not_a_zip() {
    assert!(matches!(wheel_error(b"definitely not a zip".to_vec()), WheelError::NotZip { .. }));
}

#[test]
fn no_metadata() {
    let mut bytes = Vec::new();
    {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut bytes));
        zip.start_file("pkg/__init__.py", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, b"x = 1\n").unwrap();
        zip.finish().unwrap();
    }
    assert!(matches!(wheel_error(bytes), WheelError::NoMetadata { .. }));
}

#[test]
fn record_hash_mismatch() {
    let bytes = common::make_wheel_with("pkg", &[("pkg/__init__.py", b"x = 1\n")], |path, hash| {
        if path == "pkg/__init__.py" { "sha256=AAAA".into() } else { hash }
    });
    match wheel_error(bytes) {
        WheelError::HashMismatch { file, expected, actual, .. } => {
            assert_eq!(file, "pkg/__init__.py");
            assert_eq!(expected, "AAAA");
            assert_ne!(actual, expected);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn unsafe_paths() {
    for path in ["../evil.py", "/etc/evil.py", "pkg/../../evil.py"] {
        let error = wheel_error(make_wheel("pkg", &[(path, b"x")]));
        assert!(matches!(&error, WheelError::UnsafePath { entry, .. } if entry == path), "{path}: {error}");
    }
}

#[test]
fn extension_that_is_not_wasm() {
    let error = link_error(&[("m.cpython-314-wasm32-wasi.so", b"\x7fELF not wasm")]);
    assert!(
        matches!(&error, LinkError::NotWasm { path, .. } if path == "/site-packages/m.cpython-314-wasm32-wasi.so"),
        "{error}"
    );
}

#[test]
fn extension_without_dylink_section() {
    let plain = wat::parse_str("(module (func (export \"PyInit_m\")))").unwrap();
    let error = link_error(&[("m.cpython-314-wasm32-wasi.so", &plain)]);
    assert!(matches!(error, LinkError::NotSharedLibrary { .. }), "{error}");
}

#[test]
fn extension_for_another_python() {
    let so = wasm_shared_library("");
    let error = link_error(&[("m.cpython-311-wasm32-wasi.so", &so)]);
    assert!(matches!(&error, LinkError::WrongPython { tag, .. } if tag == "cpython-311-wasm32-wasi"), "{error}");
}

#[test]
fn unresolved_symbol_is_named() {
    let so = wasm_shared_library("(import \"env\" \"eryx_no_such_symbol\" (func))");
    let error = link_error(&[("m.cpython-314-wasm32-wasi.so", &so)]);
    let message = error.to_string();
    assert!(matches!(error, LinkError::UnresolvedSymbols { .. }), "{message}");
    assert!(message.contains("eryx_no_such_symbol"), "{message}");
    assert!(message.contains("/site-packages/m.cpython-314-wasm32-wasi.so"), "{message}");
}

#[test]
fn same_module_from_two_wheels() {
    let error = build_error(
        Sandbox::builder()
            .with_wheel_bytes("one.whl", make_wheel("one", &[("pkg/mod.py", b"a = 1")]))
            .with_wheel_bytes("two.whl", make_wheel("two", &[("pkg/mod.py", b"a = 2")])),
    );
    let message = error.to_string();
    assert!(matches!(error, BuildError::Wheel(WheelError::Conflict { .. })), "{message}");
    assert!(message.contains("pkg/mod.py") && message.contains("one.whl") && message.contains("two.whl"), "{message}");
}

/// Every file below `dir`.
/// A warm start recognises a wheel file by its identity (the wheel index in the cache folder)
/// instead of reading it; the same path holding other bytes (same size, modification time put
/// back) gives the new content at once; a corrupt index entry is written again.
#[test]
fn wheel_index_serves_warm_starts_and_follows_a_swapped_wheel() {
    // More than the two seconds a file's change time must age before its identity is used.
    let settle = || std::thread::sleep(std::time::Duration::from_millis(2_200));
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("swap-0.1-py3-none-any.whl");
    let one = make_wheel("swap", &[("swap.py", b"VALUE = 1\n")]);
    // Deflate makes sizes depend on the bytes: take the first other value of the same size.
    let (two, second) = (2..100)
        .map(|n| (make_wheel("swap", &[("swap.py", format!("VALUE = {n}\n").as_bytes())]), n))
        .find(|(wheel, _)| wheel.len() == one.len())
        .expect("a wheel of the same size");
    std::fs::write(&path, &one).unwrap();
    settle();
    // A new runtime on the same folder stands for a new process.
    let value = || {
        let runtime = Runtime::builder().cache_dir(cache.path()).preinit(false).build().unwrap();
        stdout_of(&mut runtime.sandbox().with_wheel(&path).build().unwrap(), "import swap; print(swap.VALUE)")
    };
    let entries = || walk(&cache.path().join("wheel-index"));
    assert_eq!(value(), "1\n");
    assert_eq!(entries().len(), 1, "recorded");
    assert_eq!(value(), "1\n");
    assert_eq!(entries().len(), 1, "found again");

    let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
    let mut file = std::fs::File::options().write(true).truncate(true).open(&path).unwrap();
    std::io::Write::write_all(&mut file, &two).unwrap();
    file.set_modified(modified).unwrap();
    drop(file);
    let metadata = std::fs::metadata(&path).unwrap();
    assert_eq!((metadata.len(), metadata.modified().unwrap()), (one.len() as u64, modified));
    assert_eq!(value(), format!("{second}\n"), "swapped just now");
    settle();
    assert_eq!(value(), format!("{second}\n"), "swapped, settled");
    assert_eq!(entries().len(), 2, "a second identity");

    for entry in entries() {
        std::fs::write(entry, "eryx-wheel-index-v1\nsite 0\n").unwrap();
    }
    assert_eq!(value(), format!("{second}\n"), "corrupt entries");
    let valid: Vec<PathBuf> =
        entries().into_iter().filter(|entry| std::fs::read_to_string(entry).unwrap().lines().count() == 6).collect();
    assert_eq!(valid.len(), 1, "the current wheel's entry written again");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().is_dir() {
            files.extend(walk(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    files
}

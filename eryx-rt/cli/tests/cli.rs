//! The `eryx` command, run as a separate process.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{make_wheel, wasm_shared_library};

const ERYX: &str = env!("CARGO_BIN_EXE_eryx");

fn eryx(args: &[&str]) -> Output {
    Command::new(ERYX).args(args).output().expect("eryx runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn prints_the_python_version() {
    let out = eryx(&["-c", "import sys; print(sys.version_info[:2])"]);
    assert_eq!(text(&out.stdout), "(3, 14)\n", "stderr: {}", text(&out.stderr));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn runs_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.py");
    std::fs::write(&file, "print('from a file')\n").unwrap();
    let out = eryx(&[file.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), "from a file\n");
}

#[test]
fn exception_exits_1_with_the_traceback() {
    let out = eryx(&["-c", "1/0"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Traceback (most recent call last):"), "{stderr}");
    assert!(stderr.contains("ZeroDivisionError: division by zero"), "{stderr}");
}

#[test]
fn os_exit_exits_with_its_status_and_no_trap() {
    for status in [0, 3, 7] {
        let out = eryx(&["-c", &format!("import os; print('out', flush=True); os._exit({status})")]);
        assert_eq!(out.status.code(), Some(status), "stderr: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "out\n");
        assert!(!text(&out.stderr).contains("trapped"), "{}", text(&out.stderr));
    }
}

#[test]
fn timeout_exits_2_quickly() {
    let started = Instant::now();
    let out = eryx(&["--timeout", "1", "-c", "while True: pass"]);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("timed out"), "{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[test]
fn memory_limit_is_a_clean_error() {
    let out = eryx(&["--memory", "64", "-c", "x = bytearray(1 << 30)"]);
    let stderr = text(&out.stderr);
    assert!(matches!(out.status.code(), Some(1 | 2)), "{:?} {stderr}", out.status);
    assert!(stderr.contains("MemoryError") || stderr.contains("memory limit"), "{stderr}");
}

#[test]
fn bad_arguments_are_explained() {
    let out = eryx(&["--timeout", "0", "-c", "pass"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("--timeout must be a positive number"), "{}", text(&out.stderr));
    let out = eryx(&["/no/such/file.py"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("can't open file '/no/such/file.py'"), "{}", text(&out.stderr));
}

/// Runs `eryx -c print(1)` with its own cache folder; returns where its component came from.
fn run_with_cache(cache: &Path) -> String {
    let out = Command::new(ERYX)
        .env("ERYX_CACHE_DIR", cache)
        .env("ERYX_NO_PREINIT", "1")
        .env("ERYX_LOG", "eryx_rt=debug")
        .args(["-c", "print(1)"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(text(&out.stdout), "1\n", "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let source = stderr.lines().find(|l| l.contains("sandbox ready")).expect("a sandbox-ready log line").to_string();
    ["Disk", "Compiled", "Memory"].iter().find(|s| source.contains(&format!("source={s}"))).unwrap().to_string()
}

fn entries(cache: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(cache.join("components")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn compiled_code_cache_survives_races_and_corruption() {
    let cache = tempfile::tempdir().unwrap();
    // Two processes fill the same key at once: both succeed, one good entry remains.
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let dir = cache.path().to_path_buf();
            std::thread::spawn(move || run_with_cache(&dir))
        })
        .collect();
    for racer in racers {
        assert_eq!(racer.join().unwrap(), "Compiled");
    }
    let files = entries(cache.path());
    assert_eq!(files.len(), 3, "one .cwasm, its check and its info: {files:?}");
    assert_eq!(run_with_cache(cache.path()), "Disk", "a new process does not compile again");

    // A truncated entry, then a garbage one, are detected and rebuilt.
    let cwasm = files.iter().find(|f| f.extension().is_some_and(|e| e == "cwasm")).unwrap().clone();
    let bytes = std::fs::read(&cwasm).unwrap();
    std::fs::write(&cwasm, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(run_with_cache(cache.path()), "Compiled");
    std::fs::write(&cwasm, vec![0x42; bytes.len()]).unwrap();
    assert_eq!(run_with_cache(cache.path()), "Compiled");
    assert_eq!(run_with_cache(cache.path()), "Disk");

    // Swapped by a rename: a copy of the same bytes passes (after one full check), another
    // file of the same size does not.
    let good = std::fs::read(&cwasm).unwrap();
    let other = cache.path().join("other");
    std::fs::write(&other, &good).unwrap();
    std::fs::rename(&other, &cwasm).unwrap();
    assert_eq!(run_with_cache(cache.path()), "Disk");
    let mut swapped = good.clone();
    swapped[good.len() / 2] ^= 1;
    std::fs::write(&other, &swapped).unwrap();
    std::fs::rename(&other, &cwasm).unwrap();
    assert_eq!(run_with_cache(cache.path()), "Compiled");
}

#[test]
fn preinit_imports_from_the_command_line() {
    let out = eryx(&["--preinit", "json", "-c", "import sys; print('json' in sys.modules)"]);
    assert_eq!(text(&out.stdout), "True\n", "{}", text(&out.stderr));
}

#[test]
fn wheel_from_the_command_line() {
    let wheel = common::fixture_wheel("eryx_test_c");
    let out = Command::new(ERYX)
        .arg("--wheel")
        .arg(&wheel)
        .args(["-c", "import eryx_test_c as m; print(m.add(2, 40))"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "42\n", "{}", text(&out.stderr));
}

#[test]
fn failures_leave_nothing_in_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let wheels = tempfile::tempdir().unwrap();
    let so = wasm_shared_library("(import \"env\" \"eryx_no_such_symbol\" (func))");
    let cases: [(&str, Vec<u8>); 3] = [
        ("garbage.whl", b"garbage".to_vec()),
        ("unresolved.whl", make_wheel("unresolved", &[("m.cpython-314-wasm32-wasi.so", &so)])),
        ("tampered.whl", common::make_wheel_with("t", &[("t.py", b"1")], |_, _| "sha256=AAAA".into())),
    ];
    for (name, bytes) in cases {
        let path = wheels.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = Command::new(ERYX)
            .env("ERYX_CACHE_DIR", cache.path())
            .arg("--wheel")
            .arg(&path)
            .args(["-c", "print(1)"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{name}: {stderr}");
        assert!(stderr.contains(name), "{name}: the error names the wheel: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let left: Vec<PathBuf> = walk(cache.path());
    assert!(left.is_empty(), "the cache holds {left:?}");
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

#[test]
fn writes_every_byte_raw_and_says_when_output_was_cut() {
    let out = eryx(&["-c", "import sys; sys.stdout.write('y' * 200_000); print('END')"]);
    assert_eq!(out.stdout.len(), 200_004, "stderr: {}", text(&out.stderr));
    assert!(out.stdout.ends_with(b"yEND\n"));
    let out = eryx(&["-c", "import os; os.write(1, b'\\xff\\xfe ok'); os.write(2, b'\\x80')"]);
    assert_eq!(out.stdout, b"\xff\xfe ok");
    assert_eq!(out.stderr, b"\x80");
    let out = eryx(&["-c", "print('y' * (17 << 20))"]);
    assert_eq!(out.stdout.len(), eryx_rt::DEFAULT_OUTPUT_LIMIT);
    assert!(text(&out.stderr).contains("output beyond the limit was dropped"), "{}", text(&out.stderr));
}

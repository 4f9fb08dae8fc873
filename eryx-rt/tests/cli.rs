//! The `eryx` command, run as a separate process.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn eryx(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eryx")).args(args).output().expect("eryx runs")
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
    assert!(text(&out.stderr).contains("cannot read /no/such/file.py"), "{}", text(&out.stderr));
}

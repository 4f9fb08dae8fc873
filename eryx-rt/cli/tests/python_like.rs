//! `eryx` invoked the way `python` is: programs from `-c`, files, `-m` and stdin, `sys.argv`,
//! stdin for the guest, exit statuses, `--version`, and bad input of each kind.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const ERYX: &str = env!("CARGO_BIN_EXE_eryx");

/// Runs eryx with `stdin` piped in (empty when `None`).
fn eryx_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(ERYX)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("eryx starts");
    let mut pipe = child.stdin.take().unwrap();
    let bytes = stdin.unwrap_or_default().to_vec();
    let writer = std::thread::spawn(move || {
        // eryx may exit before reading it all (that is not what these tests check).
        let _ = pipe.write_all(&bytes);
    });
    let output = child.wait_with_output().expect("eryx runs");
    writer.join().unwrap();
    output
}

fn eryx(args: &[&str]) -> Output {
    eryx_with_stdin(args, None)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// (status, stdout, stderr)
fn outcome(out: &Output) -> (Option<i32>, String, String) {
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn sys_exit_gives_pythons_statuses() {
    let cases: &[(&str, i32, &str)] = &[
        ("import sys; sys.exit(3)", 3, ""),
        ("import sys; sys.exit()", 0, ""),
        ("import sys; sys.exit(0)", 0, ""),
        ("raise SystemExit(None)", 0, ""),
        ("import sys; sys.exit(-1)", 255, ""),
        ("import sys; sys.exit(256)", 0, ""),
        ("import sys; sys.exit(2**40 + 7)", 7, ""),
        ("import sys; sys.exit(True)", 1, ""),
        ("raise SystemExit('bye')", 1, "bye\n"),
        ("raise SystemExit(3.5)", 1, "3.5\n"),
        ("print('out'); import sys; sys.exit(4)", 4, ""),
    ];
    for (code, status, stderr) in cases {
        let (got_status, _, got_stderr) = outcome(&eryx(&["-c", code]));
        assert_eq!((got_status, got_stderr.as_str()), (Some(*status), *stderr), "{code}");
    }
    let (_, stdout, _) = outcome(&eryx(&["-c", "print('out'); import sys; sys.exit(4)"]));
    assert_eq!(stdout, "out\n", "output before the exit is kept");
}

#[test]
fn argv_is_what_follows_the_program() {
    let (status, stdout, stderr) = outcome(&eryx(&["-c", "import sys; print(sys.argv)", "a", "--timeout", "-c"]));
    assert_eq!((status, stdout.as_str()), (Some(0), "['-c', 'a', '--timeout', '-c']\n"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("show.py");
    std::fs::write(&script, "import sys\nprint(sys.argv[1:], __file__ == sys.argv[0], __name__)\n").unwrap();
    let script = script.to_str().unwrap();
    let (status, stdout, stderr) = outcome(&eryx(&["--timeout", "10", script, "a", "-m", "b"]));
    assert_eq!((status, stdout.as_str()), (Some(0), "['a', '-m', 'b'] True __main__\n"), "{stderr}");
}

#[test]
fn stdin_is_the_program_when_there_is_none() {
    let (status, stdout, stderr) = outcome(&eryx_with_stdin(&[], Some(b"import sys\nprint(sys.argv, 6 * 7)\n")));
    assert_eq!((status, stdout.as_str()), (Some(0), "[''] 42\n"), "{stderr}");
    let (status, stdout, stderr) = outcome(&eryx_with_stdin(&["-", "x"], Some(b"import sys; print(sys.argv)")));
    assert_eq!((status, stdout.as_str()), (Some(0), "['-', 'x']\n"), "{stderr}");
}

#[test]
fn the_hosts_stdin_reaches_the_program() {
    let input = b"first line\nsecond\n";
    let code = "print(repr(input())); import sys; print(repr(sys.stdin.read()))";
    let (status, stdout, stderr) = outcome(&eryx_with_stdin(&["-c", code], Some(input)));
    assert_eq!((status, stdout.as_str()), (Some(0), "'first line'\n'second\\n'\n"), "{stderr}");
    // Binary data on stdin reaches sys.stdin.buffer unchanged.
    let bytes: Vec<u8> = (0..=255u8).collect();
    let code = "import sys, hashlib; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())";
    let (status, stdout, _) = outcome(&eryx_with_stdin(&["-c", code], Some(&bytes)));
    let expected = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
    assert_eq!((status, stdout.trim()), (Some(0), hex::encode(expected).as_str()));
    // An empty stdin is the end of the input: EOFError, as in Python.
    let (status, _, stderr) = outcome(&eryx_with_stdin(&["-c", "input()"], None));
    assert_eq!(status, Some(1));
    assert!(stderr.contains("EOFError"), "{stderr}");
}

#[test]
fn module_runs_as_main_with_runpy() {
    let json = b"{\"b\": 1, \"a\": [1, 2]}";
    let (status, stdout, stderr) = outcome(&eryx_with_stdin(&["-m", "json.tool", "--sort-keys"], Some(json)));
    assert_eq!(
        (status, stdout.as_str()),
        (Some(0), "{\n    \"a\": [\n        1,\n        2\n    ],\n    \"b\": 1\n}\n"),
        "{stderr}"
    );
    // A package runs its __main__ (json has one since 3.14), and sys.argv[0] is its file.
    let (status, stdout, stderr) = outcome(&eryx_with_stdin(&["-m", "json", "--compact"], Some(json)));
    assert_eq!((status, stdout.as_str()), (Some(0), "{\"b\":1,\"a\":[1,2]}\n"), "{stderr}");
}

#[test]
fn missing_module_is_pythons_message_and_status() {
    let (status, stdout, stderr) = outcome(&eryx(&["-m", "no_such_module_here"]));
    assert_eq!((status, stdout.as_str()), (Some(1), ""));
    assert_eq!(stderr, "eryx: No module named no_such_module_here\n");
    let (status, _, stderr) = outcome(&eryx(&["-m", "email"]));
    assert_eq!(status, Some(1));
    assert!(stderr.contains("'email' is a package and cannot be directly executed"), "{stderr}");
}

#[test]
fn bad_program_files() {
    let (status, _, stderr) = outcome(&eryx(&["/no/such/file.py"]));
    assert_eq!(status, Some(2));
    assert!(stderr.starts_with("eryx: can't open file '/no/such/file.py': "), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let latin1 = dir.path().join("latin1.py");
    std::fs::write(&latin1, b"print('caf\xe9')\n").unwrap();
    let (status, _, stderr) = outcome(&eryx(&[latin1.to_str().unwrap()]));
    assert_eq!(status, Some(1));
    assert!(stderr.contains("SyntaxError") && stderr.contains("'utf-8' codec can't decode byte 0xe9"), "{stderr}");
    // With a coding declaration the same bytes are fine, as in Python.
    std::fs::write(&latin1, b"# -*- coding: latin-1 -*-\nprint('caf\xe9')\n").unwrap();
    let (status, stdout, stderr) = outcome(&eryx(&[latin1.to_str().unwrap()]));
    assert_eq!((status, stdout.as_str()), (Some(0), "caf\u{e9}\n"), "{stderr}");

    // Binary data as the program: a SyntaxError, not a crash.
    let (status, _, stderr) = outcome(&eryx_with_stdin(&[], Some(b"\x00\xff\xfe\x01garbage")));
    assert_eq!(status, Some(1));
    assert!(stderr.contains("SyntaxError"), "{stderr}");
}

#[test]
fn version_names_eryx_python_and_wasmtime() {
    let (status, stdout, _) = outcome(&eryx(&["--version"]));
    assert_eq!(status, Some(0));
    let python = text(&eryx(&["-c", "import platform; print(platform.python_version(), end='')"]).stdout);
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    // The wasmtime that eryx-rt is locked to (Cargo.lock names the version where several are locked).
    let eryx_rt = lock.split("[[package]]").find(|package| package.contains("\nname = \"eryx-rt\"\n")).unwrap();
    let dependency = eryx_rt.lines().map(str::trim).find(|line| line.starts_with("\"wasmtime ")).unwrap();
    let wasmtime = dependency.trim_matches(|c| c == '"' || c == ',').strip_prefix("wasmtime ").unwrap();
    let expected = format!("eryx {} (Python {python}, wasmtime {wasmtime})\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(stdout, expected);
}

#[test]
fn help_documents_the_exit_statuses() {
    let (status, stdout, _) = outcome(&eryx(&["--help"]));
    assert_eq!(status, Some(0));
    assert!(stdout.contains("Exit status:") && stdout.contains("sys.exit(N)"), "{stdout}");
    assert!(stdout.contains("-m <MODULE>") && stdout.contains("-c <CODE>"), "{stdout}");
}

//! Every byte the guest writes arrives, in order, up to the output limit; past it the output
//! is marked truncated. Bytes that are not UTF-8 arrive unchanged.

use eryx_rt::Sandbox;

fn big_sandbox() -> Sandbox {
    Sandbox::builder().output_limit(80 << 20).memory_limit(1 << 30).build().expect("the base sandbox builds")
}

#[test]
fn single_writes_of_1_byte_to_64_mib_arrive_whole() {
    let mut sandbox = big_sandbox();
    for size in [1usize, 4095, 4096, 4097, 65535, 65536, 65537, 200_000, 1 << 20, 16 << 20, 64 << 20] {
        for write in ["sys.stdout.write('y' * n)", "print('y' * n, end='')", "sys.stdout.buffer.write(b'y' * n)"] {
            let code = format!("import sys\nn = {size}\n{write}\nprint('END')");
            let output = sandbox.execute(&code).unwrap();
            assert_eq!(output.stdout.len(), size + 4, "{write} with n = {size}");
            assert!(output.stdout[..size].bytes().all(|b| b == b'y'), "{write} with n = {size}");
            assert!(output.stdout.ends_with("END\n"));
            assert!(!output.truncated);
        }
    }
}

#[test]
fn os_write_writes_everything_and_says_so() {
    let mut sandbox = big_sandbox();
    let output = sandbox.execute("import os\nn = os.write(1, b'y' * 200_000)\nprint()\nprint(n)").unwrap();
    assert_eq!(output.stdout.len(), 200_000 + 1 + 7);
    assert!(output.stdout.ends_with("\n200000\n"));
    let output = sandbox.execute("import os\nos.write(2, b'e' * (8 << 20))").unwrap();
    assert_eq!(output.stderr.len(), 8 << 20);
}

/// The text the guest's `PATTERN(n)` makes: a period of 257 letters, so a lost or repeated
/// 64 KiB block cannot go unnoticed.
fn pattern(n: usize) -> String {
    (0..n).map(|i| char::from(b'a' + (i % 257 % 26) as u8)).collect()
}

const PATTERN: &str = "def PATTERN(n):\n\
                       \x20   period = ''.join(chr(97 + i % 257 % 26) for i in range(257))\n\
                       \x20   return (period * (n // 257 + 1))[:n]\n";

#[test]
fn several_mib_through_every_way_to_stdout_and_stderr_arrive_byte_for_byte() {
    let mut sandbox = big_sandbox();
    let sizes = [3 << 20, (5 << 20) + 17];
    for fd in [1, 2] {
        let stream = if fd == 1 { "sys.stdout" } else { "sys.stderr" };
        let writes = [
            format!("print(PATTERN({{n}}), end='', file={stream})"),
            format!("{stream}.write(PATTERN({{n}}))"),
            format!("{stream}.buffer.write(PATTERN({{n}}).encode())"),
            format!("os.write({fd}, PATTERN({{n}}).encode())"),
        ];
        let mut code = format!("import os, sys\n{PATTERN}");
        let mut expected = String::new();
        for write in &writes {
            for n in sizes {
                code.push_str(&write.replace("{n}", &n.to_string()));
                code.push_str(&format!("\nprint('|', file={stream})\n"));
                expected.push_str(&pattern(n));
                expected.push_str("|\n");
            }
        }
        let output = sandbox.execute(&code).unwrap();
        let (got, other) = if fd == 1 { (&output.stdout, &output.stderr) } else { (&output.stderr, &output.stdout) };
        assert_eq!(got.len(), expected.len(), "{stream}: every byte arrives");
        assert!(*got == expected, "{stream}: the bytes arrive in order, unchanged");
        assert!(other.is_empty(), "nothing goes to the other stream");
        assert!(!output.truncated);
    }
}

#[test]
fn many_small_writes_arrive_in_order() {
    let mut sandbox = Sandbox::builder().build().unwrap();
    let output = sandbox.execute("for i in range(100_000): print(i)").unwrap();
    let expected: String = (0..100_000).map(|i| format!("{i}\n")).collect();
    assert_eq!(output.stdout, expected);
    let output = sandbox.execute("import sys\nfor i in range(50_000): sys.stdout.write('.')").unwrap();
    assert_eq!(output.stdout, ".".repeat(50_000));
}

#[test]
fn print_os_write_and_stderr_interleave_in_program_order() {
    let mut sandbox = Sandbox::builder().build().unwrap();
    let output = sandbox
        .execute(
            "import os, sys\n\
             for i in range(2000):\n\
             \x20   print(f'p{i}', end=' ')\n\
             \x20   os.write(1, b'w%d ' % i)\n\
             \x20   sys.stdout.buffer.write(b'b%d ' % i)\n\
             \x20   print(f'e{i}', file=sys.stderr)\n\
             \x20   os.write(2, b'x' * (i % 7))\n\
             \x20   if i % 500 == 0: sys.stdout.write('z' * 70_000)",
        )
        .unwrap();
    let mut stdout = String::new();
    let mut stderr = String::new();
    for i in 0..2000 {
        stdout.push_str(&format!("p{i} w{i} b{i} "));
        if i % 500 == 0 {
            stdout.push_str(&"z".repeat(70_000));
        }
        stderr.push_str(&format!("e{i}\n{}", "x".repeat(i % 7)));
    }
    assert_eq!(output.stdout, stdout);
    assert_eq!(output.stderr, stderr);
}

#[test]
fn bytes_that_are_not_utf8_arrive_unchanged() {
    let mut sandbox = Sandbox::builder().build().unwrap();
    let output = sandbox
        .execute(
            "import os, sys\nsys.stdout.buffer.write(b'a\\xff\\xfe')\nos.write(1, b'\\x80z')\nos.write(2, b'\\xc3')",
        )
        .unwrap();
    assert_eq!(output.stdout_bytes(), b"a\xff\xfe\x80z");
    assert_eq!(output.stdout, "a\u{fffd}\u{fffd}\u{fffd}z");
    assert_eq!(output.stderr_bytes(), b"\xc3");
    // Text written through `print` with surrogate escapes comes back as the original bytes.
    let output = sandbox.execute("print(b'\\xff'.decode('utf-8', 'surrogateescape'), end='')").unwrap();
    assert_eq!(output.stdout_bytes(), b"\xff");
    let output = sandbox.execute("print('héllo ✓')").unwrap();
    assert_eq!(output.stdout_bytes(), "héllo ✓\n".as_bytes());
}

#[test]
fn output_stops_exactly_at_the_limit_and_the_next_execute_is_whole() {
    let mut sandbox = Sandbox::builder().output_limit(100_000).build().unwrap();
    let output = sandbox.execute("import sys\nsys.stdout.write('y' * 99_999)\nprint('ab')\nprint('cd')").unwrap();
    assert_eq!(output.stdout.len(), 100_000);
    assert!(output.stdout.ends_with("ya"));
    assert!(output.truncated);
    let output = sandbox.execute("print('x' * 100_000, end='')").unwrap();
    assert_eq!(output.stdout.len(), 100_000);
    assert!(!output.truncated, "exactly the limit is not truncated");
}

#[test]
fn the_live_handler_gets_every_byte_of_both_streams_in_program_order() {
    let chunks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = chunks.clone();
    let mut sandbox = Sandbox::builder()
        .output_limit(80 << 20)
        .memory_limit(1 << 30)
        .output_handler(move |stream, bytes| seen.lock().unwrap().push((stream, bytes.to_vec())))
        .build()
        .unwrap();
    let code = format!(
        "import os, sys\n{PATTERN}\
         for i in range(300):\n\
         \x20   print(f'o{{i}}')\n\
         \x20   os.write(2, b'e%d\\n' % i)\n\
         \x20   if i % 100 == 0:\n\
         \x20       sys.stdout.write(PATTERN(3 << 20))\n\
         \x20       sys.stderr.buffer.write(PATTERN(1 << 20).encode())\n"
    );
    let output = sandbox.execute(&code).unwrap();
    // One sequence of both streams, as the guest wrote them.
    let mut expected = Vec::new();
    for i in 0..300 {
        expected.push((eryx_rt::Stream::Stdout, format!("o{i}\n")));
        expected.push((eryx_rt::Stream::Stderr, format!("e{i}\n")));
        if i % 100 == 0 {
            expected.push((eryx_rt::Stream::Stdout, pattern(3 << 20)));
            expected.push((eryx_rt::Stream::Stderr, pattern(1 << 20)));
        }
    }
    // Chunks may be split or merged within one stream, never across: merge neighbours.
    let mut merged: Vec<(eryx_rt::Stream, Vec<u8>)> = Vec::new();
    for (stream, bytes) in chunks.lock().unwrap().drain(..) {
        match merged.last_mut() {
            Some((last, text)) if *last == stream => text.extend_from_slice(&bytes),
            _ => merged.push((stream, bytes)),
        }
    }
    let merged: Vec<(eryx_rt::Stream, String)> =
        merged.into_iter().map(|(stream, bytes)| (stream, String::from_utf8(bytes).unwrap())).collect();
    assert_eq!(merged.len(), expected.len(), "one run per write, in order");
    assert!(merged == expected, "the handler saw every byte in program order");
    let stdout: String =
        expected.iter().filter(|(s, _)| *s == eryx_rt::Stream::Stdout).map(|(_, t)| t.as_str()).collect();
    assert!(output.stdout == stdout);
}

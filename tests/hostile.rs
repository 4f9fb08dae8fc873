//! Hostile programs, one test each: every one ends in its documented outcome (a typed eryx
//! error, a named Python exception, or a harmless result) within its limit plus 10%, and the
//! next sandbox of the process works. `HOSTILE.md` (beside this file) has the table of cases
//! and outcomes; keep the two in step. `-- --nocapture` prints each case's outcome and time.
//!
//! It lives in the cross-crate tests for the numpy array bombs: they take the numpy wheel from
//! `common::numpy_wheel` (built once from its sdist and kept in eryx's cache, as for `numpy.rs`,
//! whose late-linked component they share).

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use eryx_rt::{Failure, Output, Sandbox, SandboxBuilder};

/// The limits every case runs under.
const TIMEOUT: Duration = Duration::from_secs(5);
const MEMORY: usize = 128 << 20;
const OUTPUT: usize = 1 << 20;

/// How a case must end.
#[derive(Debug)]
enum Outcome {
    /// Stopped by the wall-clock limit.
    Timeout,
    /// Stopped by the fuel budget.
    Fuel,
    /// A Python `MemoryError` (or numpy's subclass of it), or the sandbox stopped at its memory
    /// limit.
    Memory,
    /// This Python exception escaped.
    Raises(&'static str),
    /// Ran to the end and printed exactly this.
    Prints(&'static str),
    /// Ran to the end; its output was cut at the output limit.
    Truncated,
    /// The code exited with this status (`Failure::SystemExit`).
    Exits(i32),
}

fn builder() -> SandboxBuilder {
    Sandbox::builder().timeout(TIMEOUT).memory_limit(MEMORY).output_limit(OUTPUT)
}

fn sandbox() -> Sandbox {
    builder().build().expect("a sandbox builds")
}

/// Runs `code` in a fresh sandbox and checks its outcome and duration, then that a new
/// sandbox works.
fn check(code: &str, expected: Outcome) {
    check_in(sandbox(), code, expected);
}

fn check_in(sandbox: Sandbox, code: &str, expected: Outcome) {
    check_within(sandbox, TIMEOUT, code, expected);
}

/// Like [`check_in`], for a sandbox whose timeout is `timeout`.
fn check_within(mut sandbox: Sandbox, timeout: Duration, code: &str, expected: Outcome) {
    sandbox.execute("pass").expect("the interpreter starts");
    let started = Instant::now();
    let result = sandbox.execute(code);
    let elapsed = started.elapsed();
    let bound = timeout.mul_f64(1.1);
    assert!(elapsed <= bound, "took {elapsed:?}, more than {bound:?}: {result:?}");
    let describe = |result: &Result<Output, eryx_rt::ExecuteError>| match result {
        Ok(output) => format!("ok, stdout {:?}", output.stdout.chars().take(200).collect::<String>()),
        Err(error) => format!(
            "{:?} {:.300} (stderr {:?})",
            match &error.failure {
                Failure::Trap(trap) => trap.trap_code(),
                _ => None,
            },
            error.to_string(),
            error.output.stderr.chars().take(500).collect::<String>()
        ),
    };
    let matched = match (&expected, &result) {
        (Outcome::Timeout, Err(e)) => matches!(e.failure, Failure::Timeout(_)),
        (Outcome::Fuel, Err(e)) => matches!(e.failure, Failure::FuelExhausted(_)),
        (Outcome::Memory, Err(e)) => match &e.failure {
            Failure::MemoryLimit { .. } => true,
            Failure::Python(exception) => ["MemoryError", "_ArrayMemoryError"].contains(&exception.type_name.as_str()),
            _ => false,
        },
        (Outcome::Raises(name), Err(e)) => matches!(&e.failure, Failure::Python(x) if x.type_name == *name),
        (Outcome::Prints(text), Ok(output)) => output.stdout == *text,
        (Outcome::Truncated, Ok(output)) => output.truncated && output.stdout.len() == OUTPUT,
        (Outcome::Exits(status), Err(e)) => matches!(e.failure, Failure::SystemExit(s) if s == *status),
        _ => false,
    };
    let case = std::thread::current().name().unwrap_or("?").to_string();
    eprintln!("hostile case {case}: {} in {elapsed:.2?}", describe(&result));
    assert!(matched, "expected {expected:?}, got {}", describe(&result));
    drop(sandbox);
    let mut next = self::sandbox();
    assert_eq!(next.execute("print('next')").expect("the next sandbox works").stdout, "next\n");
}

// Loops, in Python and in C.

#[test]
fn python_infinite_loop() {
    check("while True: pass", Outcome::Timeout);
}

#[test]
fn catastrophic_regex_in_c() {
    check("import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')", Outcome::Timeout);
}

#[test]
fn huge_builtin_sum_in_c() {
    check("sum(range(10**15))", Outcome::Timeout);
}

#[test]
fn huge_integer_power_in_c() {
    check("x = 7 ** (10 ** 9)", Outcome::Timeout);
}

#[test]
fn infinite_loop_under_a_fuel_budget() {
    check_in(Sandbox::builder().timeout(TIMEOUT).fuel(50_000_000).build().unwrap(), "while True: pass", Outcome::Fuel);
}

#[test]
fn exception_swallowing_loop() {
    check("while True:\n    try:\n        raise ValueError\n    except BaseException:\n        pass", Outcome::Timeout);
}

// Sleeps and waits, in Python and in host calls.

#[test]
fn long_sleep() {
    check("import time\ntime.sleep(3600)", Outcome::Timeout);
}

#[test]
fn select_with_a_long_timeout() {
    check("import select\nselect.select([], [], [], 3600)", Outcome::Timeout);
}

#[test]
fn asyncio_sleep() {
    check("import asyncio\nasyncio.run(asyncio.sleep(3600))", Outcome::Timeout);
}

#[test]
fn host_callback_that_never_returns() {
    let sandbox = builder()
        .callback("hang", "Never returns", serde_json::json!({}), |_| async {
            std::future::pending::<()>().await;
            Ok(serde_json::Value::Null)
        })
        .build()
        .unwrap();
    check_in(sandbox, "from eryx import tools\ntools.hang()", Outcome::Timeout);
}

#[test]
fn reading_stdin_that_never_comes() {
    check("import sys\nprint(repr(sys.stdin.read()))", Outcome::Prints("''\n"));
}

// Memory bombs.

#[test]
fn list_bomb() {
    check("x = [0] * (10 ** 9)", Outcome::Memory);
}

#[test]
fn growing_list_of_strings() {
    check("x = []\nwhile True: x.append('y' * 10 ** 6)", Outcome::Memory);
}

#[test]
fn str_bomb() {
    check("x = 'y' * (1 << 31)", Outcome::Raises("OverflowError"));
}

#[test]
fn str_bomb_within_the_address_space() {
    check("x = 'y' * (1 << 30)", Outcome::Memory);
}

#[test]
fn bytearray_bomb() {
    check("x = bytearray(1 << 30)", Outcome::Memory);
}

#[test]
fn bytearray_doubling() {
    check("x = bytearray(b'y')\nwhile True: x = x + x", Outcome::Memory);
}

#[test]
fn memory_bomb_under_a_large_timeout_is_stopped_by_memory() {
    let sandbox = Sandbox::builder().timeout(Duration::from_secs(20)).memory_limit(MEMORY).build().unwrap();
    check_in(sandbox, "x = []\nwhile True: x.append(bytearray(1 << 20))", Outcome::Memory);
}

#[test]
fn dict_bomb() {
    check("d = {}\nwhile True: d[len(d)] = bytearray(10**5)", Outcome::Memory);
}

/// A sandbox with numpy (late-linked, without the start-up snapshot, like `numpy.rs`'s) that
/// has imported it: the cases time the bomb, not the import.
fn numpy_sandbox() -> Sandbox {
    // The first build links and compiles the component the others load: one at a time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut sandbox = builder().preinit(false).with_wheel(common::numpy_wheel()).build().expect("numpy links");
    sandbox.execute("import numpy").expect("numpy imports");
    sandbox
}

#[test]
fn numpy_array_bomb() {
    check_in(numpy_sandbox(), "import numpy as np\nx = np.ones(2 * 10**8)", Outcome::Memory);
}

#[test]
fn numpy_arrays_filling_memory() {
    check_in(numpy_sandbox(), "import numpy as np\nxs = []\nwhile True: xs.append(np.ones(10**6))", Outcome::Memory);
}

// Deep recursion, in Python and in C.

#[test]
fn python_recursion() {
    check("def f(n): return f(n + 1)\nf(0)", Outcome::Raises("RecursionError"));
}

#[test]
fn python_recursion_with_the_limit_lifted() {
    // Hundreds of thousands of frames fill the 48 MiB (the sandbox stops at its memory limit, or
    // MemoryError; a huge traceback is cut to its last frames). That takes 4.5 s on a loaded
    // machine: a 20 s timeout, so that memory, not time, ends it.
    let timeout = Duration::from_secs(20);
    let sandbox = builder().timeout(timeout).memory_limit(48 << 20).build().unwrap();
    check_within(
        sandbox,
        timeout,
        "import sys\nsys.setrecursionlimit(10**8)\ndef f(n): return f(n + 1)\nf(0)",
        Outcome::Memory,
    );
}

#[test]
fn deeply_nested_json_in_c() {
    check("import json\njson.loads('[' * 1_000_000 + ']' * 1_000_000)", Outcome::Raises("RecursionError"));
}

#[test]
fn eval_of_nested_brackets() {
    check("eval('[' * 1_000_000 + ']' * 1_000_000)", Outcome::Raises("MemoryError"));
}

#[test]
fn repr_of_a_deeply_nested_list_in_c() {
    // Slow to unwind (2 s here on a loaded machine): a longer timeout.
    let timeout = Duration::from_secs(20);
    let sandbox = builder().timeout(timeout).build().unwrap();
    check_within(
        sandbox,
        timeout,
        "x = []\nfor _ in range(10**5): x = [x]\nrepr(x)",
        Outcome::Raises("RecursionError"),
    );
}

#[test]
fn pickle_of_a_deeply_nested_list_in_c() {
    check("import pickle\nx = []\nfor _ in range(10**5): x = [x]\npickle.dumps(x)", Outcome::Raises("RecursionError"));
}

// Output floods.

#[test]
fn print_flood() {
    check("for _ in range(2 * 10**4): print('y' * 100)", Outcome::Truncated);
}

#[test]
fn endless_print_flood() {
    check("while True: print('y' * 1000)", Outcome::Timeout);
}

#[test]
fn one_huge_write() {
    check("import sys\nsys.stdout.write('y' * (50 << 20))", Outcome::Truncated);
}

#[test]
fn raw_descriptor_flood() {
    check("import os\nfor _ in range(10**4): os.write(1, b'y' * 1000)", Outcome::Truncated);
}

// Files, descriptors and the host's data.

#[test]
fn exhausting_file_descriptors() {
    check("files = []\nwhile True: files.append(open('/usr/local/lib/python3.14/os.py', 'rb'))", Outcome::Memory);
}

#[test]
fn reading_host_files() {
    check("open('/etc/passwd').read()", Outcome::Raises("FileNotFoundError"));
}

#[test]
fn escaping_the_stdlib_mount_with_dot_dot() {
    check("open('/usr/local/lib/python3.14/../../../../etc/passwd').read()", Outcome::Raises("PermissionError"));
}

#[test]
fn listing_the_root() {
    check(
        "import os\ntry:\n    names = os.listdir('/')\nexcept OSError:\n    names = []\n\
         print(sorted(set(names) & {'etc', 'proc', 'root', 'sys', 'dev', 'var', 'bin'}))",
        Outcome::Prints("[]\n"),
    );
}

#[test]
fn reading_the_environment() {
    check("import os\nprint(dict(os.environ), os.getenv('HOME'))", Outcome::Prints("{} None\n"));
}

#[test]
fn writing_into_the_stdlib() {
    check("open('/usr/local/lib/python3.14/os.py', 'a').write('x = 1')", Outcome::Raises("PermissionError"));
}

#[test]
fn creating_a_module_in_the_stdlib() {
    check("open('/usr/local/lib/python3.14/evil.py', 'w').write('x = 1')", Outcome::Raises("PermissionError"));
}

#[test]
fn patching_a_module_stays_in_its_sandbox() {
    check("import json\njson.dumps = None\nimport sys\nsys.modules['os'].sep = '!'", Outcome::Prints(""));
    let mut next = sandbox();
    assert_eq!(next.execute("import json, os\nprint(json.dumps(1), os.sep)").unwrap().stdout, "1 /\n");
}

// Foreign code, network, processes, threads, signals.

#[test]
fn ctypes() {
    check("import ctypes", Outcome::Raises("ModuleNotFoundError"));
}

#[test]
fn socket_connect() {
    check("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)", Outcome::Raises("gaierror"));
}

#[test]
fn urllib_request() {
    check(
        "import urllib.request\nurllib.request.urlopen('http://localhost:8000', timeout=1)",
        Outcome::Raises("URLError"),
    );
}

#[test]
fn many_threads() {
    check(
        "import threading\nfor _ in range(10**6): threading.Thread(target=lambda: None).start()",
        Outcome::Raises("RuntimeError"),
    );
}

#[test]
fn starting_a_thread() {
    check("import threading\nthreading.Thread(target=print).start()", Outcome::Raises("RuntimeError"));
}

#[test]
fn sending_a_signal() {
    check("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", Outcome::Raises("AttributeError"));
}

#[test]
fn signal_alarm() {
    check("import signal\nsignal.alarm(1)", Outcome::Raises("AttributeError"));
}

#[test]
fn fork() {
    check("import os\nos.fork()", Outcome::Raises("AttributeError"));
}

#[test]
fn exec() {
    check("import os\nos.execv('/bin/sh', ['sh'])", Outcome::Raises("AttributeError"));
}

#[test]
fn subprocess() {
    check("import subprocess\nsubprocess.run(['ls'])", Outcome::Raises("OSError"));
}

#[test]
fn exiting_the_process() {
    check("import os\nos._exit(3)", Outcome::Exits(3));
}

// Huge source.

#[test]
fn huge_source() {
    let code = "x = 1\n".repeat(20_000) + "print(x)";
    check(&code, Outcome::Prints("1\n"));
}

#[test]
fn source_too_huge_for_the_memory_limit() {
    let code = "x = 1\n".repeat(5_000_000) + "print(x)";
    check(&code, Outcome::Memory);
}

#[test]
fn deeply_nested_expression_source() {
    let code = format!("x = {}{}", "(".repeat(100_000), ")".repeat(100_000));
    check(&code, Outcome::Raises("MemoryError"));
}

#[test]
fn long_chained_expression_source() {
    let code = format!("x = {}1", "1 + ".repeat(100_000));
    check(&code, Outcome::Raises("RecursionError"));
}

//! The sandbox API against the real base component in real wasmtime.

use std::time::{Duration, Instant};

use eryx_rt::{Failure, Runtime, Sandbox};

fn sandbox() -> Sandbox {
    Sandbox::builder().build().expect("the base sandbox builds")
}

fn run(code: &str) -> String {
    sandbox().execute(code).unwrap_or_else(|e| panic!("{code:?} failed: {e}\n{}", e.output.stderr)).stdout
}

#[test]
fn runs_python_3_14_with_the_stdlib() {
    assert_eq!(run("import sys; print(sys.version_info[:2])"), "(3, 14)\n");
    let out = run("import json, re, decimal, sqlite3, asyncio\n\
                   print(json.dumps({'a': 1}), re.sub('b', 'c', 'abc'), decimal.Decimal('1.1') + 1)\n\
                   con = sqlite3.connect(':memory:'); print(con.execute('select 6*7').fetchone()[0])\n\
                   async def f(): return 5\n\
                   try: f().send(None)\n\
                   except StopIteration as done: print(done.value)");
    assert_eq!(out, "{\"a\": 1} acc 2.1\n42\n5\n");
}

#[test]
fn globals_persist_between_executions() {
    let mut sandbox = sandbox();
    sandbox.execute("x = 41").unwrap();
    assert_eq!(sandbox.execute("print(x + 1)").unwrap().stdout, "42\n");
}

#[test]
fn exceptions_are_typed_and_keep_the_sandbox_usable() {
    let mut sandbox = sandbox();
    let error = sandbox.execute("print('before')\n1/0").unwrap_err();
    assert_eq!(error.output.stdout, "before\n");
    let Failure::Python(exception) = &error.failure else { panic!("not a Python error: {error}") };
    assert_eq!(exception.type_name, "ZeroDivisionError");
    assert_eq!(exception.message, "division by zero");
    assert!(exception.traceback.starts_with("Traceback (most recent call last):\n"), "{}", exception.traceback);
    assert!(exception.traceback.contains("File \"<sandbox>\", line 2"), "{}", exception.traceback);
    assert!(!exception.traceback.contains("bootstrap"), "runtime frames leak: {}", exception.traceback);
    assert_eq!(sandbox.execute("print('after')").unwrap().stdout, "after\n");
}

#[test]
fn stdout_and_stderr_are_captured_including_raw_writes() {
    let out = sandbox()
        .execute("import os, sys\nprint('a')\nos.write(1, b'b\\n')\nsys.stderr.write('c\\n')\nos.write(2, b'd\\n')")
        .unwrap();
    assert_eq!(out.stdout, "a\nb\n", "print and os.write interleave in order (unbuffered stdio)");
    assert_eq!(out.stderr, "c\nd\n");
}

#[test]
fn output_is_capped() {
    let mut sandbox = Sandbox::builder().output_limit(1000).build().unwrap();
    let out = sandbox.execute("print('x' * 5000)").unwrap();
    assert_eq!(out.stdout.len(), 1000);
    assert!(out.truncated);
    assert!(!sandbox.execute("print(1)").unwrap().truncated);
}

#[test]
fn host_files_and_environment_are_invisible() {
    let error = sandbox().execute("open('/etc/passwd')").unwrap_err();
    assert!(matches!(&error.failure, Failure::Python(e) if e.type_name == "FileNotFoundError"), "{error}");
    assert_eq!(run("import os; print(dict(os.environ))"), "{}\n");
    let error = sandbox().execute("import os; os.listdir('/root')").unwrap_err();
    assert!(matches!(&error.failure, Failure::Python(e) if e.type_name == "FileNotFoundError"), "{error}");
    let error = sandbox().execute("open('/usr/local/lib/python3.14/evil.py', 'w')").unwrap_err();
    assert!(matches!(&error.failure, Failure::Python(e) if e.type_name.ends_with("Error")), "{error}");
}

#[test]
fn network_is_unavailable() {
    let error = sandbox()
        .execute("import socket\ns = socket.socket()\ns.settimeout(1)\ns.connect(('127.0.0.1', 9))")
        .unwrap_err();
    assert!(matches!(&error.failure, Failure::Python(e) if e.type_name.contains("Error")), "{error}");
}

#[test]
fn timeout_stops_a_loop_and_the_process_goes_on() {
    let mut sandbox = Sandbox::builder().timeout(Duration::from_millis(1500)).build().unwrap();
    sandbox.execute("pass").unwrap(); // start the interpreter outside the measured call
    let started = Instant::now();
    let error = sandbox.execute("while True: pass").unwrap_err();
    assert!(matches!(error.failure, Failure::Timeout(_)), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert!(matches!(sandbox.execute("print(1)").unwrap_err().failure, Failure::Stopped(_)));
    assert_eq!(run("print('next')"), "next\n");
}

#[test]
fn memory_limit_is_enforced_without_harming_the_host() {
    let mut sandbox = Sandbox::builder().memory_limit(64 << 20).build().unwrap();
    let error = sandbox.execute("x = bytearray(1 << 30)").unwrap_err();
    match &error.failure {
        Failure::Python(e) => assert_eq!(e.type_name, "MemoryError"),
        Failure::MemoryLimit { .. } => {}
        other => panic!("unexpected {other}"),
    }
    let error = sandbox.execute("x = []\nwhile True: x.append(bytearray(1 << 20))").unwrap_err();
    assert!(
        matches!(&error.failure, Failure::MemoryLimit { .. })
            || matches!(&error.failure, Failure::Python(e) if e.type_name == "MemoryError"),
        "{error}"
    );
    assert_eq!(run("print('alive')"), "alive\n");
}

#[test]
fn deep_recursion_ends_cleanly() {
    let error = sandbox().execute("def f(n): return f(n + 1)\nf(0)").unwrap_err();
    assert!(matches!(&error.failure, Failure::Python(e) if e.type_name == "RecursionError"), "{error}");
    let error =
        sandbox().execute("import sys\nsys.setrecursionlimit(10**7)\ndef f(n): return f(n + 1)\nf(0)").unwrap_err();
    assert!(!matches!(error.failure, Failure::Stopped(_)), "{error}");
    assert_eq!(run("print('alive')"), "alive\n");
}

#[test]
fn fuel_limits_work() {
    let mut sandbox = Sandbox::builder().fuel(5_000_000).build().unwrap();
    let error = sandbox.execute("while True: pass").unwrap_err();
    assert!(matches!(error.failure, Failure::FuelExhausted(_)), "{error}");
    assert!(error.failure.is_limit());
}

#[test]
fn fuel_free_and_fuel_sandboxes_work_in_one_process() {
    let runtime = Runtime::default();
    let mut plain = runtime.sandbox().build().unwrap();
    let mut metered = runtime.sandbox().fuel(5_000_000).build().unwrap();
    // The plain engine counts no fuel: a loop far beyond the other's budget runs to its end.
    let out = plain.execute("n = 0\nfor i in range(2_000_000): n += i\nprint(n)").unwrap();
    assert_eq!(out.stdout, "1999999000000\n");
    let error = metered.execute("while True: pass").unwrap_err();
    assert!(matches!(error.failure, Failure::FuelExhausted(5_000_000)), "{error}");
    // Both kinds go on side by side: a budget that suffices, and the plain sandbox.
    let mut enough = runtime.sandbox().fuel(100_000_000).build().unwrap();
    assert_eq!(enough.execute("print(6 * 7)").unwrap().stdout, "42\n");
    assert_eq!(plain.execute("print(n > 0)").unwrap().stdout, "True\n");
    assert!(matches!(metered.execute("print(1)").unwrap_err().failure, Failure::Stopped(_)));
}

#[test]
fn pooling_allocator_runs_sandboxes_up_to_its_limit() {
    let runtime = Runtime::builder().pooling_allocator(2).preinit(false).build().unwrap();
    let mut a = runtime.sandbox().build().unwrap();
    let mut b = runtime.sandbox().build().unwrap();
    assert_eq!(a.execute("print(sum(range(10)))").unwrap().stdout, "45\n");
    assert_eq!(b.execute("print('b')").unwrap().stdout, "b\n");
    let Err(error) = runtime.sandbox().build() else { panic!("a third sandbox fit in a pool of two") };
    assert!(matches!(error, eryx_rt::BuildError::Instantiate(_)), "{error}");
    // A slot is free again once its sandbox is dropped.
    drop(a);
    let mut c = runtime.sandbox().build().unwrap();
    assert_eq!(c.execute("print('c')").unwrap().stdout, "c\n");
}

#[test]
fn sandboxes_run_side_by_side_on_threads() {
    let handles: Vec<_> = (0..4).map(|i| std::thread::spawn(move || run(&format!("x = {i}\nprint(x * 10)")))).collect();
    let outputs: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outputs, ["0\n", "10\n", "20\n", "30\n"]);
}

#[test]
fn sandboxes_do_not_share_state() {
    let mut a = sandbox();
    let mut b = sandbox();
    a.execute("import sys; sys.shared = 1; y = 2").unwrap();
    assert_eq!(
        b.execute("import sys; print(hasattr(sys, 'shared'), 'y' in globals())").unwrap().stdout,
        "False False\n"
    );
}

#[test]
fn text_is_utf8() {
    assert_eq!(run("import sys; print('héllo ✓', sys.stdout.encoding)"), "héllo ✓ utf-8\n");
}

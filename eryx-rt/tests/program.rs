//! `Sandbox::run` with `Program`s (files, `-c` code, modules, REPL entries), `sys.argv`,
//! stdin bytes, `Failure::SystemExit`, and `Sandbox::is_complete`, in real wasmtime.

use eryx_rt::{Failure, Program, Sandbox};

fn sandbox() -> Sandbox {
    Sandbox::builder().build().expect("the base sandbox builds")
}

#[test]
fn system_exit_is_its_own_outcome_and_keeps_the_sandbox() {
    let mut sandbox = sandbox();
    for (code, status, stderr) in [
        ("import sys; print('out'); sys.exit(3)", 3, ""),
        ("import sys; sys.exit()", 0, ""),
        ("raise SystemExit(0)", 0, ""),
        ("import sys; sys.exit(-1)", -1, ""),
        ("import sys; sys.exit(2**40 + 7)", 7, ""),
        ("raise SystemExit('bye')", 1, "bye\n"),
        ("exit(5)", 5, ""),
    ] {
        let error = sandbox.execute(code).unwrap_err();
        assert!(matches!(error.failure, Failure::SystemExit(s) if s == status), "{code}: {error}");
        assert_eq!(error.output.stderr, stderr, "{code}");
        assert!(!error.failure.stops_sandbox());
    }
    let error = sandbox.execute("print('kept'); import sys; sys.exit(4)").unwrap_err();
    assert_eq!(error.output.stdout, "kept\n");
    assert_eq!(sandbox.execute("print('still usable')").unwrap().stdout, "still usable\n");
    // A SystemExit caught by the code is just an exception.
    assert_eq!(
        sandbox.execute("try:\n  raise SystemExit(2)\nexcept SystemExit as e: print(e.code)").unwrap().stdout,
        "2\n"
    );
}

#[test]
fn os_exit_ends_the_sandbox_with_its_status_like_a_process() {
    for (code, status) in [("os._exit(3)", 3), ("os._exit(0)", 0), ("os._exit(-2)", -2), ("os._exit(True)", 1)] {
        let mut sandbox = sandbox();
        let program = format!("import os\nprint('out')\ntry:\n    {code}\nfinally:\n    print('no clean-up runs')");
        let error = sandbox.execute(&program).unwrap_err();
        assert!(matches!(error.failure, Failure::SystemExit(s) if s == status), "{code}: {error}");
        assert_eq!(error.output.stdout, "out\n", "{code}");
        // The instance ended as a process does: the sandbox is stopped, and says why.
        let after = sandbox.execute("print(1)").unwrap_err();
        assert!(
            matches!(&after.failure, Failure::Stopped(why) if why.contains(&format!("os._exit({status})"))),
            "{after}"
        );
    }
    // Wrong arguments raise as in Python, and the sandbox goes on.
    let mut sandbox = sandbox();
    for (code, exception) in [("os._exit('x')", "TypeError"), ("os._exit(2**40)", "OverflowError")] {
        let error = sandbox.execute(&format!("import os; {code}")).unwrap_err();
        assert!(matches!(&error.failure, Failure::Python(e) if e.type_name == exception), "{code}: {error}");
    }
    assert_eq!(sandbox.execute("print('usable')").unwrap().stdout, "usable\n");
}

#[test]
fn a_program_gets_its_argv_and_stdin() {
    let mut sandbox = sandbox();
    let program = Program::code("import sys; print(sys.argv, repr(input()), repr(sys.stdin.read()))")
        .argv(["-c", "a", "b"])
        .stdin("first\nrest\n");
    assert_eq!(sandbox.run(&program).unwrap().stdout, "['-c', 'a', 'b'] 'first' 'rest\\n'\n");
    // The next run's stdin is its own: empty by default, so input() sees the end.
    let error = sandbox.run(&Program::code("input()")).unwrap_err();
    assert!(matches!(&error.failure, Failure::Python(e) if e.type_name == "EOFError"), "{error}");
    // execute's stdin is empty too; argv stays as the last run set it.
    assert_eq!(
        sandbox.execute("import sys; print(sys.argv, sys.stdin.read() == '')").unwrap().stdout,
        "['-c', 'a', 'b'] True\n"
    );
    // Binary stdin reaches sys.stdin.buffer unchanged.
    let bytes: Vec<u8> = (0..=255u8).collect();
    let program =
        Program::code("import sys; data = sys.stdin.buffer.read(); print(len(data), data == bytes(range(256)))");
    assert_eq!(sandbox.run(&program.stdin(bytes)).unwrap().stdout, "256 True\n");
}

#[test]
fn files_are_bytes_with_a_name_and_honour_their_coding() {
    let mut sandbox = sandbox();
    let program =
        Program::file("script.py", b"# -*- coding: latin-1 -*-\nprint('caf\xe9', __file__, __name__)\n".to_vec());
    assert_eq!(sandbox.run(&program).unwrap().stdout, "caf\u{e9} script.py __main__\n");
    let error = sandbox.run(&Program::file("bad.py", b"x = 1\n1/0\n".to_vec())).unwrap_err();
    let Failure::Python(exception) = &error.failure else { panic!("{error}") };
    assert!(exception.traceback.contains("File \"bad.py\", line 2"), "{}", exception.traceback);
}

#[test]
fn modules_run_as_main_through_runpy() {
    let mut sandbox = sandbox();
    let program = Program::module("json.tool").argv(["-m", "--compact"]).stdin("{\"a\": [1, 2]}");
    let output = sandbox.run(&program).unwrap_or_else(|e| panic!("{e}: {}", e.output.stderr));
    assert_eq!(output.stdout, "{\"a\":[1,2]}\n");
    let error = sandbox.run(&Program::module("no_such_module_here")).unwrap_err();
    assert!(matches!(error.failure, Failure::SystemExit(1)), "{error}");
    assert_eq!(error.output.stderr, "eryx: No module named no_such_module_here\n");
}

#[test]
fn repl_entries_echo_values_and_ask_for_more_lines() {
    let mut sandbox = sandbox();
    assert_eq!(sandbox.run(&Program::statement("6 * 7")).unwrap().stdout, "42\n");
    assert_eq!(sandbox.run(&Program::statement("_ + 1")).unwrap().stdout, "43\n");
    assert_eq!(sandbox.run(&Program::statement("None")).unwrap().stdout, "");
    assert_eq!(sandbox.run(&Program::statement("x = 'kept'")).unwrap().stdout, "");
    assert_eq!(sandbox.run(&Program::statement("x")).unwrap().stdout, "'kept'\n");
    let error = sandbox.run(&Program::statement("1/0")).unwrap_err();
    let Failure::Python(exception) = &error.failure else { panic!("{error}") };
    assert!(exception.traceback.contains("File \"<stdin>\", line 1"), "{}", exception.traceback);
    // An entry is its lines joined by newlines, without a final one (as `code.InteractiveConsole`
    // joins them): an empty last line ends a block.
    for (source, complete) in [
        ("1 + 1", true),
        ("def f():", false),
        ("def f():\n    return 1", false),
        ("def f():\n    return 1\n", true),
        ("@decorator", false),
        ("numbers = (1,", false),
        ("numbers = (1,\n 2)", true),
        ("s = '''open", false),
        ("for i in range(3):", false),
        ("1 +* 2", true),
        ("await x", true),
    ] {
        assert_eq!(sandbox.is_complete(source).unwrap(), complete, "{source:?}");
    }
}

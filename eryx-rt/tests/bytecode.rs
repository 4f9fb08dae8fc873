//! Imports read bytecode compiled ahead of time: a fresh sandbox compiles no source of the
//! standard library or of site-packages (counted with an audit hook on `compile`).

mod common;

use eryx_rt::Sandbox;

/// Imports `modules` in `sandbox` and prints, one per line: the files compiled from source
/// during the imports (under the standard library or site-packages), and the loader type of
/// the first module.
fn compiled_during_import(sandbox: &mut Sandbox, modules: &str) -> (Vec<String>, String) {
    let code = format!(
        "import sys\n\
         _compiled = []\n\
         def _hook(event, args):\n\
         \x20   if event == 'compile' and str(args[1]).startswith(('/usr/local/lib/python3.14', '/site-packages')):\n\
         \x20       _compiled.append(str(args[1]))\n\
         sys.addaudithook(_hook)\n\
         import {modules}\n\
         print(repr(_compiled))\n\
         print(type(sys.modules[{first:?}].__spec__.loader).__name__)\n",
        first = modules.split(',').next().unwrap().trim()
    );
    let output = sandbox.execute(&code).unwrap_or_else(|e| panic!("{e}\n{}", e.output.stderr));
    let mut lines = output.stdout.lines();
    let compiled = lines.next().unwrap().trim_matches(['[', ']']).split(", ").filter(|s| !s.is_empty());
    (compiled.map(String::from).collect(), lines.next().unwrap().to_string())
}

#[test]
fn a_fresh_sandbox_imports_the_standard_library_without_compiling() {
    let mut sandbox = Sandbox::builder().build().unwrap();
    let (compiled, loader) =
        compiled_during_import(&mut sandbox, "json, decimal, asyncio, email.message, argparse, dataclasses, typing");
    assert_eq!(compiled, Vec::<String>::new(), "these were compiled from source at import");
    assert_eq!(loader, "PackedSourceLoader");
    // Still a normal source module: its file and traceback lines are the sources'.
    let out = sandbox
        .execute("import json, linecache; print(json.__file__); print(linecache.getline(json.__file__, 1).strip()[:4])")
        .unwrap();
    assert_eq!(out.stdout, "/usr/local/lib/python3.14/json/__init__.py\nr\"\"\"\n");
}

#[test]
fn site_packages_modules_are_imported_without_compiling() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("bytecode_probe")).unwrap();
    std::fs::write(site.path().join("bytecode_probe/__init__.py"), "from .inner import VALUE\n").unwrap();
    std::fs::write(site.path().join("bytecode_probe/inner.py"), "VALUE = 42\n").unwrap();
    let mut sandbox = Sandbox::builder().with_site_packages(site.path()).preinit(false).build().unwrap();
    let (compiled, loader) = compiled_during_import(&mut sandbox, "bytecode_probe");
    assert_eq!(compiled, Vec::<String>::new());
    assert_eq!(loader, "PackedSourceLoader");
    assert_eq!(sandbox.execute("print(bytecode_probe.VALUE)").unwrap().stdout, "42\n");
}

#[test]
fn preinit_wheels_imports_the_wheels_top_level_packages_before_the_snapshot() {
    let wheel = common::make_wheel(
        "warm-probe",
        &[
            ("warm_probe/__init__.py", b"from . import inner\n"),
            ("warm_probe/inner.py", b"VALUE = 7\n"),
            ("warm_single.py", b"X = 1\n"),
            ("_warm_private.py", b"raise RuntimeError('private modules are not imported ahead')\n"),
        ],
    );
    let probe =
        "import sys\nprint(sorted(m for m in ('warm_probe', 'warm_single', '_warm_private') if m in sys.modules))";
    let mut warm =
        Sandbox::builder().with_wheel_bytes("warm-probe", wheel.clone()).preinit_wheels(true).build().unwrap();
    assert_eq!(warm.execute(probe).unwrap().stdout, "['warm_probe', 'warm_single']\n");
    let mut plain = Sandbox::builder().with_wheel_bytes("warm-probe", wheel).build().unwrap();
    assert_eq!(plain.execute(probe).unwrap().stdout, "[]\n");
    assert_eq!(plain.execute("import warm_probe; print(warm_probe.inner.VALUE)").unwrap().stdout, "7\n");
}

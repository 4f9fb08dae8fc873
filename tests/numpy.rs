//! numpy 2.4.6, built from its PyPI sdist by `libs/sdist-wheel/numpy/build.sh`, in the sandbox:
//! late-linked, linked into a downstream crate at build time (served by URL from loopback), and
//! a subset of numpy's own test suite run with pytest inside the sandbox.
//!
//! `cargo test --release -p eryx-tests --test numpy -- --nocapture` shows the figures (link and
//! compile times, pytest counts and failures).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Example, WheelServer, assert_success, numpy_wheel, replace_wheel_list, sha256_file, text};
use eryx_rt::{Sandbox, SandboxBuilder};

/// The three proof lines of the issue.
const PROOF: &str = r#"import numpy as np
print(np.dot(np.array([[1, 2], [3, 4]]), np.array([[5, 6], [7, 8]])))
print(f"Max sin: {np.sin(np.linspace(0, 2*np.pi, 100)).max():.2f}")
print(f"Mean: {np.random.default_rng(42).normal(0, 1, 1000).mean():.3f}")
"#;

fn check_proof(stdout: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "four lines:\n{stdout}");
    assert_eq!(lines[..3], ["[[19 22]", " [43 50]]", "Max sin: 1.00"], "{stdout}");
    let mean: f64 = lines[3].strip_prefix("Mean: ").unwrap_or_else(|| panic!("{stdout}")).parse().unwrap();
    assert!(mean.abs() < 0.1, "the mean of 1000 standard normal samples is near 0: {mean}");
}

/// The late-linked sandboxes of this file run one at a time: they share one component (the
/// key depends on the native extensions only, not on the pure-Python files), linked and
/// compiled by the first of them.
static LATE_LINKED: Mutex<()> = Mutex::new(());

/// numpy without the pre-initialised snapshot: a snapshot is made per site-packages tree (each
/// costs another compile of the whole component), and the two trees here differ. The snapshot
/// path is measured by eryx-rt/examples/numpy_bench.rs.
fn numpy_sandbox() -> SandboxBuilder {
    Sandbox::builder().preinit(false).timeout(Duration::from_secs(600)).memory_limit(2 << 30).with_wheel(numpy_wheel())
}

#[test]
fn late_linked_numpy_prints_the_proof_lines() {
    let _one_at_a_time = LATE_LINKED.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let mut sandbox = numpy_sandbox().build().unwrap();
    let built = started.elapsed();
    let out = sandbox.execute(PROOF).unwrap_or_else(|e| panic!("{e}\n{}", e.output.stderr));
    check_proof(&out.stdout);
    eprintln!(
        "late-linked numpy: sandbox built in {built:.1?} ({:?}), proof ran in {:.1?}",
        sandbox.loaded_from(),
        out.duration
    );
}

#[test]
fn numpy_linked_at_build_time_by_url_prints_the_proof_lines() {
    let wheel = numpy_wheel();
    let sha256 = sha256_file(wheel);
    let name = wheel.file_name().unwrap().to_str().unwrap().to_string();
    let server = WheelServer::start(wheel.parent().unwrap().to_path_buf());
    let example = Example::new(server.port, |manifest| {
        let wheels = format!("  {{ url = \"http://127.0.0.1:{}/{name}\", sha256 = \"{sha256}\" }},", server.port);
        // Its own name, so that its binary does not replace the one tests/build_time.rs runs.
        replace_wheel_list(&manifest, &wheels)
            .replace("name = \"eryx-embedded-example\"", "name = \"eryx-numpy-example\"")
    });
    let started = Instant::now();
    let out = example.build(&[]);
    assert_success(&out);
    assert_eq!(server.requests(), 1, "the wheel is downloaded once");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example.outputs().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["wheels"][0]["sha256"], sha256.as_str(), "{manifest}");
    let built = started.elapsed();

    let started = Instant::now();
    let out = example.run(Some(PROOF));
    assert!(out.status.success(), "{}", text(&out.stderr));
    check_proof(&text(&out.stdout));
    assert!(text(&out.stderr).contains("link calls in this process: 0"), "{}", text(&out.stderr));
    eprintln!(
        "build-time numpy: cargo build {built:.1?}, first run (compiles the component) {:.1?}",
        started.elapsed()
    );
}

/// Test files of numpy's suite run in the sandbox, relative to the sdist's top folder.
/// numpy's wheel ships no tests, so they come from the pinned sdist build.sh builds from.
/// Files that import numpy's C test modules (`_multiarray_tests`, `_umath_tests`,
/// `_rational_tests`: built only with meson's `tests` install tag, which the wheel leaves out)
/// or hypothesis (not installed) at module level are not in the list: test_numeric.py,
/// test_multiarray.py, test_umath.py, test_ufunc.py, lib/tests/test_function_base.py among them.
/// Tests marked `slow` are deselected, as `numpy.test()` does by default.
const NUMPY_TEST_PATHS: &[&str] = &[
    "numpy/linalg/tests",
    "numpy/fft/tests",
    "numpy/random/tests/test_generator_mt19937.py",
    "numpy/random/tests/test_direct.py",
    "numpy/random/tests/test_randomstate.py",
    "numpy/lib/tests/test_shape_base.py",
    "numpy/lib/tests/test_arraysetops.py",
    "numpy/lib/tests/test_nanfunctions.py",
    "numpy/lib/tests/test_histograms.py",
    "numpy/lib/tests/test_twodim_base.py",
    "numpy/lib/tests/test_polynomial.py",
    "numpy/lib/tests/test_index_tricks.py",
    "numpy/lib/tests/test_type_check.py",
    "numpy/lib/tests/test_arraypad.py",
    "numpy/_core/tests/test_einsum.py",
    "numpy/_core/tests/test_shape_base.py",
    "numpy/_core/tests/test_half.py",
    "numpy/_core/tests/test_longdouble.py",
    "numpy/_core/tests/test_getlimits.py",
    "numpy/_core/tests/test_errstate.py",
    "numpy/_core/tests/test_umath_complex.py",
    "numpy/_core/tests/test_datetime.py",
    "numpy/_core/tests/test_item_selection.py",
    "numpy/_core/tests/test_records.py",
    "numpy/_core/tests/test_strings.py",
    "numpy/_core/tests/test_stringdtype.py",
    "numpy/_core/tests/test_indexerrors.py",
    "numpy/_core/tests/test_scalar_ctors.py",
    "numpy/_core/tests/test_regression.py",
    "numpy/polynomial/tests",
    "numpy/ma/tests/test_core.py",
    "numpy/matrixlib/tests",
];

/// Tests left out because they stop the sandbox (see libs/sdist-wheel/numpy/RESULTS.md).
const DESELECTED: &[&str] = &[
    // `copy.copy(numpy scalar)`: numpy's `gentype___copy__` is a METH_NOARGS function declared
    // with one parameter; CPython calls it with two, which wasm's typed indirect calls trap.
    "numpy/_core/tests/test_regression.py::TestRegression::test_scalar_copy",
];

/// The least share of the tests that ran (passed + failed + errors) that must pass. Every failure
/// seen so far (about 30 of 11,000) comes from what the sandbox does not offer (a writable
/// temporary folder, `_ctypes`) or from a known build issue (RESULTS.md); 99% leaves room for
/// those and still fails on a regression of a hundred tests.
const PASS_RATE: f64 = 0.99;

/// A site-packages folder with the test files of [`NUMPY_TEST_PATHS`], numpy's pytest.ini and
/// the plugin that stands in for numpy's conftest.py.
fn numpy_test_tree() -> PathBuf {
    let sdist = common::numpy_sdist();
    let unpacked = common::scratch_dir("numpy-sdist");
    let top = format!("numpy-{}", common::numpy_version());
    let mut wanted: Vec<String> = vec![format!("{top}/pytest.ini")];
    // Whole folders for the listed files: tests import helpers and data beside them.
    for path in NUMPY_TEST_PATHS {
        let folder = if path.ends_with(".py") { Path::new(path).parent().unwrap().to_str().unwrap() } else { path };
        let entry = format!("{top}/{folder}");
        if !wanted.contains(&entry) {
            wanted.push(entry);
        }
    }
    let status = Command::new("tar").arg("-xzf").arg(&sdist).arg("-C").arg(&unpacked).args(&wanted).status().unwrap();
    assert!(status.success(), "tar could not unpack {wanted:?} from {}", sdist.display());
    let tree = unpacked.join(&top);
    std::fs::write(tree.join("eryx_numpy_plugin.py"), include_str!("numpy/eryx_numpy_plugin.py")).unwrap();
    tree
}

/// Runs pytest over [`NUMPY_TEST_PATHS`] and prints the plugin's JSON summary on the last line.
fn pytest_runner() -> String {
    let paths: Vec<String> = NUMPY_TEST_PATHS.iter().map(|p| format!("{p:?}")).collect();
    let deselected: Vec<String> = DESELECTED.iter().map(|p| format!("\"--deselect\", {p:?}")).collect();
    format!(
        r#"import os, sys
sys.dont_write_bytecode = True  # site-packages is read-only
os.chdir("/site-packages")        # pytest returns to its start folder; the guest's "/" does not exist
import pytest
code = pytest.main([{paths},
    "-c", "pytest.ini",           # numpy's own: warnings are errors, strict markers
    "--noconftest", "-p", "eryx_numpy_plugin",
    "-m", "not slow", {deselected},
    "--continue-on-collection-errors",
    "-p", "no:cacheprovider",     # would write .pytest_cache
    "-p", "no:faulthandler",      # needs os.dup, which WASI lacks
    "-p", "no:logging",           # opens os.devnull, which the sandbox does not have
    "--capture=sys",              # fd capture needs os.dup
    "-q", "--tb=line", "-rfE"])
print("pytest exit code", int(code))
import eryx_numpy_plugin  # after the run: pytest warns about (and numpy's pytest.ini fails on) plugins imported before it
print("ERYX_PYTEST", eryx_numpy_plugin.summary())
"#,
        paths = paths.join(", "),
        deselected = deselected.join(", ")
    )
}

#[test]
fn numpy_test_suite_runs_in_the_sandbox() {
    let _one_at_a_time = LATE_LINKED.lock().unwrap_or_else(|e| e.into_inner());
    let wheels = common::pinned_files(&["pytest", "pluggy", "iniconfig", "packaging", "pygments"]);
    let tree = numpy_test_tree();
    let mut builder = numpy_sandbox().with_site_packages(&tree).output_limit(64 << 20);
    for wheel in &wheels {
        builder = builder.with_wheel(wheel);
    }
    let started = Instant::now();
    let mut sandbox = builder.build().unwrap();
    let built = started.elapsed();
    let out =
        sandbox.execute(&pytest_runner()).unwrap_or_else(|e| panic!("{e}\n{}\n{}", e.output.stdout, e.output.stderr));
    let summary = out
        .stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("ERYX_PYTEST "))
        .unwrap_or_else(|| panic!("no summary:\n{}", out.stdout));
    let summary: serde_json::Value = serde_json::from_str(summary).unwrap();
    let count = |key: &str| summary["results"][key].as_u64().unwrap();
    let (passed, failed, errors) = (count("passed"), count("failed"), count("error"));
    let ran = passed + failed + errors;
    eprintln!("{}", out.stdout.lines().filter(|l| !l.starts_with("ERYX_PYTEST")).collect::<Vec<_>>().join("\n"));
    eprintln!(
        "numpy's tests in the sandbox: {passed} passed, {failed} failed, {errors} errors, {} skipped, {} xfailed, {} xpassed \
         (sandbox built in {built:.1?}, pytest ran {:.1?})",
        count("skipped"),
        count("xfailed"),
        count("xpassed"),
        out.duration
    );
    for problem in summary["problems"].as_array().unwrap() {
        eprintln!(
            "  {} {}: {}",
            problem[0].as_str().unwrap(),
            problem[1].as_str().unwrap(),
            problem[2].as_str().unwrap()
        );
    }
    assert!(ran > 10_000, "the suite ran: {ran} tests");
    let rate = passed as f64 / ran as f64;
    assert!(rate >= PASS_RATE, "pass rate {:.2}% is below {:.0}%", rate * 100.0, PASS_RATE * 100.0);
}

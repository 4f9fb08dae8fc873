"""pytest plugin for numpy's tests in the eryx sandbox (loaded with `-p eryx_numpy_plugin`).

numpy's own numpy/conftest.py cannot load there (it imports hypothesis and the C test module
numpy._core._multiarray_tests, which the wheel does not ship), so the run passes --noconftest
and this plugin registers the markers that conftest registers. It also keeps the outcome of
every test for the host to read.
"""

import json

MARKERS = [
    "valgrind_error: Tests that are known to error under valgrind.",
    "leaks_references: Tests that are known to leak references.",
    "slow: Tests that are very slow.",
    "slow_pypy: Tests that are very slow on pypy.",
    "parallel_threads(n): run the given test function in parallel using `n` threads.",
    "iterations(n): run the given test function `n` times in each thread",
    "thread_unsafe: mark the test function as single-threaded",
]

RESULTS = {"passed": 0, "failed": 0, "error": 0, "skipped": 0, "xfailed": 0, "xpassed": 0}
PROBLEMS = []  # (outcome, test id, one-line reason)


def pytest_configure(config):
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)


def _reason(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.splitlines()[0][:200] if crash.message else ""
    if isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
        return str(report.longrepr[2])[:200]
    return str(report.longrepr).strip().splitlines()[-1][:200] if report.longrepr else ""


def pytest_runtest_logreport(report):
    if hasattr(report, "wasxfail"):
        if report.when == "call" or report.skipped:
            RESULTS["xpassed" if report.passed else "xfailed"] += 1
        return
    if report.when == "call":
        if report.passed:
            RESULTS["passed"] += 1
        elif report.failed:
            RESULTS["failed"] += 1
            PROBLEMS.append(("failed", report.nodeid, _reason(report)))
        elif report.skipped:
            RESULTS["skipped"] += 1
    elif report.failed:  # setup or teardown
        RESULTS["error"] += 1
        PROBLEMS.append(("error", report.nodeid, _reason(report)))
    elif report.skipped:  # skipped in setup (skip marks, skipif)
        RESULTS["skipped"] += 1


def pytest_collectreport(report):
    if report.failed:
        RESULTS["error"] += 1
        PROBLEMS.append(("collection error", report.nodeid, _reason(report)))


def summary():
    return json.dumps({"results": RESULTS, "problems": PROBLEMS})

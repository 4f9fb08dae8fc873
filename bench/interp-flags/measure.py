#!/usr/bin/env python3
"""Interleaved measurement of `sum(i*i for i in range(10**6))` (bench/programs.json `compute`) on
CPython 3.11 builds made by build.sh, each under wasmtime and under Node (V8), beside eryx,
Pyodide and the host's python3, all in one run.

    bench/interp-flags/measure.py --eryx target/release/eryx [--work DIR] [--rounds N] VARIANT...

Per round, every runtime runs the program and, as a baseline, an empty program (`pass`; for
Pyodide the `startup` program), each in a fresh process. Reported medians: inner_ms (the
program's own perf_counter time, wall clock) and loop_cpu_ms (the process's CPU time, user +
system, minus the baseline's): on a loaded machine the wall time also counts waiting for a core,
the CPU time does not. A first round is run unrecorded (compiles and caches the modules).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
CODE = "\n".join(json.loads((BENCH / "programs.json").read_text())["compute"]["code"]) + "\n"


def run(argv, cwd=None):
    """Runs argv; returns (inner ms from its RESULT line or None, CPU ms of the process)."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd)
    out = child.stdout.read().decode()
    _, _, usage = os.wait4(child.pid, 0)
    inner = next((json.loads(line[7:])["ms"] for line in out.splitlines() if line.startswith("RESULT ")), None)
    return inner, (usage.ru_utime + usage.ru_stime) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eryx", required=True)
    ap.add_argument("--work", default=str(HERE / ".work"))
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--python", default=None, help="a python with the pinned wasmtime package (default: WORK/venv)")
    ap.add_argument("--out", default=None)
    ap.add_argument("variants", nargs="+")
    args = ap.parse_args()
    work = Path(args.work)
    python = args.python or str(work / "venv" / "bin" / "python")
    if not args.python and not Path(python).exists():
        requirement = subprocess.check_output([str(BENCH.parent / "libs" / "pinned.sh"), "field", "wasmtime-py",
                                               "requirement"], text=True).strip()
        subprocess.check_call([sys.executable, "-m", "venv", str(work / "venv")])
        subprocess.check_call([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement])
    home = str(work / "prefix")
    runtimes = {}
    for v in args.variants:
        wasm = str(work / v / "python.wasm")
        runtimes[f"{v} (wasmtime)"] = ([python, str(HERE / "run_wasmtime.py"), wasm, home, "-S", "-c"], None)
        runtimes[f"{v} (node)"] = (["node", "--no-warnings", str(HERE / "run.mjs"), wasm, home, "-S", "-c"], None)
    runtimes["eryx"] = ([args.eryx, "-c"], None)
    runtimes["host"] = (["python3", "-c"], None)
    pyodide = str(BENCH / "pyodide")
    samples = {name: [] for name in [*runtimes, "pyodide"]}
    for r in range(args.rounds + 1):
        for name, (argv, cwd) in runtimes.items():
            inner, cpu = run(argv + [CODE], cwd)
            _, base = run(argv + ["pass"], cwd)
            if r:
                samples[name].append({"inner_ms": inner, "cpu_ms": cpu, "loop_cpu_ms": cpu - base})
        inner, cpu = run(["node", "bench.mjs", "--child", "compute"], pyodide)
        _, base = run(["node", "bench.mjs", "--child", "startup"], pyodide)
        if r:
            samples["pyodide"].append({"inner_ms": inner, "cpu_ms": cpu, "loop_cpu_ms": cpu - base})
        print(f"round {r}/{args.rounds}", file=sys.stderr)
    out = {"rounds": args.rounds, "load": os.getloadavg(), "runtimes": {}}
    for name, s in samples.items():
        out["runtimes"][name] = {
            key: statistics.median(x[key] for x in s if x[key] is not None) for key in ("inner_ms", "loop_cpu_ms")
        } | {"samples": s}
        m = out["runtimes"][name]
        print(f"{name:28} inner {m['inner_ms']:7.1f} ms   loop CPU {m['loop_cpu_ms']:7.1f} ms")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

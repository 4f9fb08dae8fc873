#!/usr/bin/env python3
"""Side-by-side measurements: eryx and Pyodide run the programs of programs.json.

    measure.py --eryx PATH [--pyodide] [--rounds N] [--programs a,b] [--wheel PATH]...
               [--variant NAME[:VAR=VALUE,...]]... [--host-python PATH] [--numpy-wheel PATH]
               [--host-numpy-python PATH] [--out FILE]

Every measurement is a fresh process: `eryx -c CODE` (plus `--wheel` for the programs that
need wheels), and with --pyodide `node bench/pyodide/bench.mjs --child PROGRAM` (a fresh
Node process that calls loadPyodide() and runs the same code). Per program, runtime and round:
    first_ms: process spawn -> the result line arriving on the child's stdout,
    exit_ms:  process spawn -> exit,
    cpu_ms:   the process's CPU time (user + system, all threads) until exit,
    inner_ms: the Python-side time of the program's timed part (time.perf_counter()),
and for Pyodide load_ms, when loadPyodide() resolved counted from the child's process start.
Programs marked "host" also run on the host's native CPython (--host-python, `python3 -c CODE`),
for ratios to native speed. Programs marked "numpy" run on eryx with --numpy-wheel and on the
host with --host-numpy-python (a python3 that has numpy); Pyodide cannot load numpy offline.
An eryx variant is a set of extra environment variables (e.g. `no-preinit:ERYX_NO_PREINIT=1`);
by default one variant, `default`, with none. Every program runs once per runtime unrecorded
first (warm compiled-code and late-linking caches, warm OS file cache). Each round runs every
program on every runtime, in turn, so a busy machine weighs on all of them alike.
Writes medians and samples as JSON (stdout, or --out).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROGRAMS = json.loads((HERE / "programs.json").read_text())
PYODIDE_SCRIPT = HERE / "pyodide" / "bench.mjs"


def code_of(name):
    code = PROGRAMS[name]["code"]
    return "\n".join(code) + "\n" if isinstance(code, list) else code


def is_result(name, line):
    if name == "startup":
        return line.strip() == str(PROGRAMS["startup"]["expect"])
    return line.startswith("RESULT ")


def argv_for(runtime, name, wheels, eryx, node, hosts=None, numpy_wheel=None):
    program = PROGRAMS[name]
    needs_wheels = program.get("wheels")
    if runtime == "pyodide":
        argv = [node, str(PYODIDE_SCRIPT), "--child", name]
    elif runtime == "host":
        python = hosts["numpy" if program.get("numpy") else "plain"]
        return [python, "-c", "print(1+1)" if name == "startup" else code_of(name)]
    else:
        # eryx parses its options like python: everything after `-c CODE` is the program's argv.
        argv = [eryx, *program.get("eryx_args", [])]
        if program.get("numpy"):
            argv += ["--wheel", str(Path(numpy_wheel).resolve())]
        if needs_wheels:
            for wheel in wheels:
                argv += ["--wheel", str(Path(wheel).resolve())]
        return argv + ["-c", code_of(name)]
    if needs_wheels:
        for wheel in wheels:
            argv += ["--wheel", str(Path(wheel).resolve())]
    return argv


def runs_on(runtime, name, hosts, numpy_wheel):
    """Whether `runtime` runs program `name` in this measurement."""
    program = PROGRAMS[name]
    if runtime == "host":
        return bool(program.get("host")) and hosts.get("numpy" if program.get("numpy") else "plain") is not None
    if runtime == "pyodide":
        return not program.get("numpy")
    return not program.get("numpy") or numpy_wheel is not None


def run_once(argv, label, name, env, cwd=None):
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    first_ms = None
    lines = []
    for raw in proc.stdout:  # line by line, as it arrives
        line = raw.decode("utf-8", "replace")
        lines.append(line)
        if first_ms is None and is_result(name, line):
            first_ms = (time.perf_counter() - start) * 1e3
    err = proc.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)  # the child's CPU time, all its threads
    exit_ms = (time.perf_counter() - start) * 1e3
    code = proc.returncode = os.waitstatus_to_exitcode(status)
    if code != 0 or first_ms is None:
        raise SystemExit(f"{label} {name}: exit {code}, no result\n{''.join(lines)[-2000:]}\n{err[-2000:]}")
    sample = {"first_ms": first_ms, "exit_ms": exit_ms, "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1e3}
    for line in lines:
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
            expect = PROGRAMS[name].get("expect")
            if expect is not None and result["check"] != expect:
                raise SystemExit(f"{label} {name}: check {result['check']!r} != {expect!r}")
            sample["inner_ms"] = result["ms"]
            sample["result"] = result
        elif line.startswith("CHILD "):  # Pyodide's own report
            child = json.loads(line[len("CHILD "):])
            sample["load_ms"] = child["load_ms"]
            sample["version"] = child["version"]
            if "wheels_ms" in child:
                sample["wheels_ms"] = child["wheels_ms"]
    return sample


def parse_variant(text):
    name, _, assignments = text.partition(":")
    env = {}
    for item in filter(None, assignments.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"--variant {text}: expected VAR=VALUE, got {item!r}")
        env[key] = value
    return name, env


def summarise(names, samples):
    programs = {}
    for n in names:
        s = samples[n]
        if not s:
            continue
        entry = {"title": PROGRAMS[n]["title"]}
        for key in ("first_ms", "exit_ms", "cpu_ms", "inner_ms", "load_ms", "wheels_ms"):
            if key in s[0]:
                entry[key] = statistics.median(x[key] for x in s)
        result = s[0].get("result", {})
        if "import_ms" in result:
            entry["import_ms"] = statistics.median(x["result"]["import_ms"] for x in s)
            entry["render_ms"] = statistics.median(x["result"]["render_ms"] for x in s)
        for key in ("already_imported", "modules_at_start", "modules_loaded"):
            if key in result:
                entry[key] = result[key]
        if "speedups" in result:
            entry["markupsafe_speedups"] = result["speedups"]
        entry["samples"] = [{k: v for k, v in x.items() if k != "version"} for x in s]
        programs[n] = entry
    return programs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eryx", required=True, help="the eryx binary")
    ap.add_argument("--pyodide", action="store_true", help="measure Pyodide too (needs npm ci in bench/pyodide)")
    ap.add_argument("--node", default=shutil.which("node") or "node")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--programs", default=None, help="comma-separated; default: all in programs.json")
    ap.add_argument("--wheel", action="append", default=[], help="a wheel for the programs that need wheels")
    ap.add_argument("--variant", action="append", default=[], help="NAME[:VAR=VALUE,...]; repeatable")
    ap.add_argument("--host-python", default=None, help="the host's python3, for programs marked host")
    ap.add_argument("--host-numpy-python", default=None, help="a host python3 with numpy, for numpy programs")
    ap.add_argument("--numpy-wheel", default=None, help="the numpy wasm32-wasi wheel, for numpy programs")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.rounds < 1:
        raise SystemExit("--rounds must be positive")

    names = args.programs.split(",") if args.programs else [k for k in PROGRAMS if not k.startswith("_")]
    skipped = {}
    if not args.wheel:
        for n in names:
            if PROGRAMS[n].get("wheels"):
                skipped[n] = "no --wheel given"
        names = [n for n in names if not PROGRAMS[n].get("wheels")]
    if not args.numpy_wheel:
        for n in names:
            if PROGRAMS[n].get("numpy"):
                skipped[n] = "no --numpy-wheel given"
        names = [n for n in names if not PROGRAMS[n].get("numpy")]
    hosts = {"plain": args.host_python, "numpy": args.host_numpy_python}
    variants = [parse_variant(v) for v in args.variant] or [("default", {})]

    # runtime id -> (label, env, cwd)
    runtimes = {f"eryx:{v}": (f"eryx[{v}]", {**os.environ, **extra}, None) for v, extra in variants}
    if args.pyodide:
        runtimes["pyodide"] = ("pyodide", dict(os.environ), str(PYODIDE_SCRIPT.parent))
    if args.host_python or args.host_numpy_python:
        runtimes["host"] = ("host", dict(os.environ), None)
    samples = {rt: {n: [] for n in names} for rt in runtimes}

    def argv(rt, n):
        runtime = rt if rt in ("pyodide", "host") else "eryx"
        return argv_for(runtime, n, args.wheel, args.eryx, args.node, hosts, args.numpy_wheel)

    def active(rt, n):
        return runs_on(rt if rt in ("pyodide", "host") else "eryx", n, hosts, args.numpy_wheel)

    for rt, (label, env, cwd) in runtimes.items():
        for n in names:  # warm-up, not recorded
            if active(rt, n):
                run_once(argv(rt, n), label, n, env, cwd)
    for r in range(args.rounds):
        for n in names:
            for rt, (label, env, cwd) in runtimes.items():
                if not active(rt, n):
                    continue
                s = run_once(argv(rt, n), label, n, env, cwd)
                samples[rt][n].append(s)
                print(f"{label} {n} round {r + 1}/{args.rounds}: {s['first_ms']:.1f} ms", file=sys.stderr)

    out = {"rounds": args.rounds, "skipped": skipped, "eryx": {"variants": {}}}
    for v, extra in variants:
        out["eryx"]["variants"][v] = {"env": extra, "programs": summarise(names, samples[f"eryx:{v}"])}
    if args.pyodide:
        pkg = json.loads((PYODIDE_SCRIPT.parent / "package.json").read_text())
        node_version = subprocess.run([args.node, "--version"], capture_output=True, text=True).stdout.strip()
        first = samples["pyodide"][names[0]][0]
        out["pyodide"] = {
            "pyodide_version": first.get("version"),
            "pyodide_npm": pkg["dependencies"]["pyodide"],
            "node_version": node_version,
            "programs": summarise(names, samples["pyodide"]),
        }
    if "host" in runtimes:
        versions = {}
        for kind, python in hosts.items():
            if python:
                versions[kind] = subprocess.run(
                    [python, "-c", "import sys, importlib.util as u; print(sys.version.split()[0], "
                     "__import__('numpy').__version__ if u.find_spec('numpy') else '')"],
                    capture_output=True, text=True).stdout.strip()
        out["host"] = {"pythons": versions, "programs": summarise(names, samples["host"])}
    text = json.dumps(out, indent=2) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()

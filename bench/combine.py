#!/usr/bin/env python3
"""Turns the measurements of one run (measure.py's JSON) into bench/results/latest.json.

    combine.py --measurements FILE --preinit yes|no --preinit-var VAR --rounds N
               [--load-start LOAD] [--wheels-note TEXT] > results/latest.json

Adds what identifies the run: the eryx commit, the machine (CPU model, cores, memory), the
tools' versions, the exact commands, and what could not be measured and why.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sh(*argv):
    try:
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def machine():
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "os": f"{platform.system()} {platform.machine()}",
        "load_average_at_end": load,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--measurements", required=True)
    ap.add_argument("--preinit", choices=["yes", "no"], required=True)
    ap.add_argument("--preinit-var", required=True)
    ap.add_argument("--wheels-note", default="")
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--load-start", default=None, help="the 1-minute load average when the run started")
    ap.add_argument("--embedded", default=None, help="bench/embedded_first_run.py's --out file")
    args = ap.parse_args()

    measured = json.loads(Path(args.measurements).read_text())
    eryx = measured["eryx"]
    pyodide = measured["pyodide"]
    pyodide["skipped"] = measured.get("skipped", {})
    rustc = sh("rustc", "--version")
    notes = [
        "Pyodide runs offline from what its npm package ships: the interpreter, its runtime and "
        "the standard library (python_stdlib.zip). loadPackage('micropip') and loadPackage('jinja2') "
        "try to fetch the wheels from Pyodide's CDN, which this machine cannot reach, so micropip "
        "cannot be loaded and Pyodide's own MarkupSafe build (with its C speedups) is not available.",
        "For the Jinja2 row, Pyodide unpacks the same two wheels that eryx uses into its site-packages: "
        "Jinja2 is pure Python; MarkupSafe's wasm32-wasi extension cannot load in Emscripten, so "
        "MarkupSafe falls back to its pure-Python escape there (markupsafe_speedups: false), while "
        "eryx links and uses the C extension (markupsafe_speedups: true).",
    ]
    if args.wheels_note:
        notes.append(args.wheels_note)
    if args.preinit == "no":
        notes.append(
            f"No pre-initialised snapshot at this commit (no {args.preinit_var} switch in eryx-rt): "
            "eryx was measured as it is, in the 'no pre-init' column. bench/run.sh measures both "
            "columns once the switch exists."
        )
    doc = {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rounds": args.rounds,
        "statistic": "median",
        "machine": {**machine(), "load_average_at_start": float(args.load_start) if args.load_start else None},
        "eryx": {
            "commit": sh("git", "rev-parse", "--short=12", "HEAD"),
            "tree": "dirty" if sh("git", "status", "--porcelain", "--untracked-files=no") else "clean",
            "rustc": rustc,
            "preinit": {"available": args.preinit == "yes", "off_switch": f"{args.preinit_var}=1"},
            "variants": eryx["variants"],
            "skipped": measured.get("skipped", {}),
        },
        "pyodide": pyodide,
        "host": measured.get("host"),
        "embedded": json.loads(Path(args.embedded).read_text()) if args.embedded else None,
        "notes": notes,
        "commands": {
            "all": "bench/run.sh",
            "rounds": "BENCH_ROUNDS=9 bench/run.sh",
            "eryx start-up": "target/release/eryx -c 'print(1+1)'",
            "measure": "python3 bench/measure.py --eryx target/release/eryx --pyodide --rounds 7 "
            "--wheel MARKUPSAFE.whl --wheel JINJA2.whl --host-python python3 "
            "--numpy-wheel NUMPY.whl --host-numpy-python bench/.venv/bin/python "
            + (f"--variant preinit --variant no-preinit:{args.preinit_var}=1" if args.preinit == "yes" else "--variant no-preinit"),
            "pyodide alone": "node bench/pyodide/bench.mjs --rounds 7 --wheel MARKUPSAFE.whl --wheel JINJA2.whl",
            "report": "bench/.venv/bin/python bench/report.py",
        },
    }
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()

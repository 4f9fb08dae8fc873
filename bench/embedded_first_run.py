#!/usr/bin/env python3
"""First run of an embedded-component binary on a machine with an empty cache.

    embedded_first_run.py [--rounds N] [--out FILE] NAME=BINARY...

Each BINARY is a build of examples/embedded (for example one with `precompile = true` in its
[package.metadata.eryx] and one without; tests/build_time.rs builds both into the workspace's
target/release). Every round runs every binary once, in turn, as a fresh process with
ERYX_CACHE_DIR set to a new empty folder (what a fresh machine or container has), and records:
    exit_ms:  process spawn -> exit (wall clock),
    first_ms: the example's own "first result after" (process start -> first execute's result),
    cpu_ms:   the process's CPU time (user + system, all threads).
Prints medians (and writes them with the samples as JSON to --out).
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

FIRST = re.compile(r"first result after ([0-9.]+)(ns|µs|us|ms|s)\b")
UNIT_MS = {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1.0, "s": 1000.0}


def run_once(binary):
    with tempfile.TemporaryDirectory(prefix="eryx-empty-cache-") as cache:
        env = dict(os.environ, ERYX_CACHE_DIR=cache)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        out = subprocess.run([binary], env=env, capture_output=True, text=True)
        exit_ms = (time.perf_counter() - started) * 1000
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        sys.exit(f"{binary} failed ({out.returncode}):\n{out.stderr}")
    match = FIRST.search(out.stderr)
    first_ms = float(match.group(1)) * UNIT_MS[match.group(2)] if match else None
    cpu_ms = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    loaded = re.search(r"code loaded from: (\w+)", out.stderr)
    return {"exit_ms": exit_ms, "first_ms": first_ms, "cpu_ms": cpu_ms, "loaded_from": loaded and loaded.group(1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=None)
    ap.add_argument("binaries", nargs="+", help="NAME=BINARY")
    args = ap.parse_args()
    binaries = dict(item.split("=", 1) for item in args.binaries)
    samples = {name: [] for name in binaries}
    for round_ in range(args.rounds):
        for name, binary in binaries.items():
            sample = run_once(binary)
            samples[name].append(sample)
            print(f"round {round_ + 1} {name}: {sample}", file=sys.stderr)
    medians = {
        name: {
            key: statistics.median(s[key] for s in runs if s[key] is not None)
            for key in ("exit_ms", "first_ms", "cpu_ms")
        }
        | {"loaded_from": sorted({s["loaded_from"] for s in runs})}
        for name, runs in samples.items()
    }
    print(f"{'binary':<24} {'exit ms':>10} {'first result ms':>16} {'CPU ms':>10}  loaded from")
    for name, m in medians.items():
        print(f"{name:<24} {m['exit_ms']:>10.1f} {m['first_ms']:>16.1f} {m['cpu_ms']:>10.1f}  {','.join(m['loaded_from'])}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"rounds": args.rounds, "medians": medians, "samples": samples}, f, indent=1)


if __name__ == "__main__":
    main()

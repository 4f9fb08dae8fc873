#!/usr/bin/env python3
"""What a faster matrix-product kernel would give numpy in eryx, measured.

    bench/wasm-gemm/run.py --eryx PATH --numpy-wheel PATH --host-python PATH [--rounds N]

Builds gemm.c's wheel (build.sh), then runs kernels.py in fresh processes, in turn: eryx with
the numpy wheel and that wheel (--preinit-wheels), and the host's python with its numpy (one
BLAS thread). Prints, per kernel, the median over processes of each process's median of 21,
and of its ratio to np.dot in the same process (steadier than the times on a busy machine).
"""
import argparse, json, os, statistics, subprocess, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def result(argv, env=None):
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--eryx", required=True)
    p.add_argument("--numpy-wheel", required=True)
    p.add_argument("--host-python", required=True)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as out:
        wheel = subprocess.run([HERE / "build.sh", out], capture_output=True, text=True, check=True).stdout.split()[-1]
        eryx = [args.eryx, "--wheel", args.numpy_wheel, "--wheel", wheel, "--preinit-wheels", HERE / "kernels.py"]
        host = [args.host_python, HERE / "kernels.py"]
        host_env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        result(eryx)  # warm-up: links, compiles and snapshots once per machine
        samples = {"eryx": [], "host": []}
        for _ in range(args.rounds):
            samples["eryx"].append(result(eryx))
            samples["host"].append(result(host, host_env))
    print(f"medians of {args.rounds} processes: ms, and the ratio to np.dot in the same process")
    for side, runs in samples.items():
        for kernel in runs[0]:
            ms = statistics.median(r[kernel] for r in runs)
            ratio = statistics.median(r["np.dot"] / r[kernel] for r in runs)
            print(f"{side:<5} {kernel:<20} {ms:8.2f} ms {ratio:6.2f}x")


if __name__ == "__main__":
    main()

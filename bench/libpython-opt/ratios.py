#!/usr/bin/env python3
"""Per-program medians of a bench/measure.py result with several eryx variants, and the median of
the per-round ratios (each round runs every runtime back to back, so these are steadier than
ratios of medians): each variant against the first one, and against Pyodide.

    python3 bench/libpython-opt/ratios.py MEASUREMENTS.json
"""
import json
import statistics
import sys


def inner(samples):
    return [sample["inner_ms"] for sample in samples]


def main(path):
    data = json.load(open(path))
    variants = data["eryx"]["variants"]
    first = next(iter(variants))
    pyodide = data.get("pyodide", {}).get("programs", {})
    for program in variants[first]["programs"]:
        base = inner(variants[first]["programs"][program]["samples"])
        line = [program]
        py = inner(pyodide[program]["samples"]) if program in pyodide else None
        if py:
            line.append(f"pyodide {statistics.median(py):.1f} ms")
        for name, variant in variants.items():
            times = inner(variant["programs"][program]["samples"])
            text = f"{name} {statistics.median(times):.1f} ms"
            if name != first:
                text += f" ({statistics.median([t / b for t, b in zip(times, base)]):.3f}x {first})"
            if py:
                text += f" ({statistics.median([t / p for t, p in zip(times, py)]):.3f}x Pyodide)"
            line.append(text)
        print("\n  ".join(line))


if __name__ == "__main__":
    main(sys.argv[1])

#!/usr/bin/env python3
"""Writes BENCHMARKS.md and bench/startup.png from bench/results/latest.json.

    bench/.venv/bin/python bench/report.py [--results FILE] [--markdown FILE] [--png FILE]

(bench/run.sh runs it; matplotlib comes from bench/requirements.txt.)
"""

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET = 500  # issue 15: eryx start-up at least this many times faster than Pyodide's
TARGET_MS = 5  # and process start to first result within this many milliseconds

VARIANT_LABELS = {
    "preinit": "eryx (pre-initialised)",
    "no-preinit": "eryx (no pre-init)",
    "default": "eryx",
}
VARIANT_ORDER = ["preinit", "no-preinit", "default"]

# Programs that also ran on the host's native CPython: (program, row label).
HOST_ROWS = [
    ("compute", "`sum(i*i for i in range(10**6))`"),
    ("richards", "task scheduler (Richards-style), 50,000 steps"),
    ("nbody", "n-body, 5 bodies, 5,000 steps"),
    ("json_roundtrip", "JSON round trip, 3,000 records × 3"),
    ("regex", "regular expressions over 5,000 log lines"),
]

# (program, metric key, row label)
ROWS = [
    ("startup", "first_ms", "start-up: process start → first result (`1+1`)"),
    ("startup", "cpu_ms", "start-up: CPU time of the process (user + system, all threads)"),
    ("import", "inner_ms", "`import json, decimal, asyncio`, in-interpreter time"),
    ("import", "first_ms", "`import json, decimal, asyncio`, process start → result"),
    ("compute", "inner_ms", "`sum(i*i for i in range(10**6))`, in-interpreter time"),
    ("compute", "first_ms", "`sum(i*i for i in range(10**6))`, process start → result"),
    ("jinja2", "import_ms", "MarkupSafe + Jinja2: `import jinja2, markupsafe`"),
    ("jinja2", "render_ms", "MarkupSafe + Jinja2: autoescaped render, 1000 rows"),
    ("jinja2", "first_ms", "MarkupSafe + Jinja2: process start → result"),
]


def fmt_ms(value):
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def fmt_ratio(pyodide, eryx):
    if pyodide is None or eryx is None or eryx <= 0:
        return "n/a"
    r = pyodide / eryx
    return f"{r:.1f}×" if r >= 1 else f"{r:.2f}×"


def columns(doc):
    """The eryx columns: always both pre-init columns (one may be empty), then any other variant."""
    variants = doc["eryx"]["variants"]
    cols = ["preinit", "no-preinit"]
    cols += [v for v in variants if v not in cols]
    return cols


def value(doc, runtime, program, metric):
    if runtime == "pyodide":
        entry = doc["pyodide"]["programs"].get(program)
    elif runtime == "host":
        entry = doc.get("host", {}).get("programs", {}).get(program)
    else:
        variant = doc["eryx"]["variants"].get(runtime)
        entry = variant["programs"].get(program) if variant else None
    return entry.get(metric) if entry else None


def best_eryx(doc, program="startup", metric="first_ms"):
    for v in VARIANT_ORDER + list(doc["eryx"]["variants"]):
        x = value(doc, v, program, metric)
        if x is not None:
            return v, x
    return None, None


def markdown(doc, png_rel):
    cols = columns(doc)
    m = doc["machine"]
    py = doc["pyodide"]
    e = doc["eryx"]
    out = []
    w = out.append
    w("# Benchmarks: eryx and Pyodide side by side")
    w("")
    w("<!-- Written by bench/report.py from bench/results/latest.json; run bench/run.sh to refresh. -->")
    w("")
    v, eryx_start = best_eryx(doc)
    pyo_start = value(doc, "pyodide", "startup", "first_ms")
    if eryx_start and pyo_start:
        ratio = pyo_start / eryx_start
        verdict = "meets" if ratio >= TARGET else "does not yet meet"
        w(
            f"**Start-up to first result: {VARIANT_LABELS.get(v, v)} {fmt_ms(eryx_start)}, Pyodide "
            f"{fmt_ms(pyo_start)}: eryx is {ratio:.1f}× faster, which {verdict} the {TARGET}× target** "
            f"(eryx needs ≤ {fmt_ms(pyo_start / TARGET)} for it); the absolute target, ≤ {TARGET_MS} ms, is "
            + ("met." if eryx_start <= TARGET_MS else "not met.")
        )
        ec, pc = value(doc, v, "startup", "cpu_ms"), value(doc, "pyodide", "startup", "cpu_ms")
        if ec and pc:
            w("")
            w(
                f"By CPU time of the whole process, which a busy machine disturbs less: "
                f"{fmt_ms(ec)} against {fmt_ms(pc)}, {pc / ec:.0f}×."
            )
        w("")
    w(
        f"Medians of {doc['rounds']} rounds, every measurement a fresh process, measured "
        f"{doc['generated']} on {m['cpu']} ({m['cores']} cores, {m['memory_gib']} GiB, {m['os']}); "
        f"eryx at commit `{e['commit']}` ({e['tree']} tree, {e['rustc']}), Pyodide {py['pyodide_version']} "
        f"(npm `pyodide@{py['pyodide_npm']}`) on Node {py['node_version']}."
    )
    ls, le = m.get("load_average_at_start"), m.get("load_average_at_end")
    if ls is not None or le is not None:
        le1 = le[0] if le else None
        w("")
        w(
            f"1-minute load average at the start and end of the run: {ls if ls is not None else 'n/a'} and "
            f"{le1 if le1 is not None else 'n/a'} on {m['cores']} cores"
            + (" (other work was running: absolute figures are noisy; both sides ran in the same window)."
               if max(x for x in (ls, le1) if x is not None) > 0.5 * (m["cores"] or 1) else ".")
        )
    w("")
    head = ["program and figure"] + [VARIANT_LABELS.get(c, c) for c in cols] + ["Pyodide"]
    head += [f"Pyodide ÷ {VARIANT_LABELS.get(c, c)}" for c in cols]
    w("| " + " | ".join(head) + " |")
    w("|" + "---|" + "---:|" * (len(head) - 1))
    for program, metric, label in ROWS:
        pv = value(doc, "pyodide", program, metric)
        evs = [value(doc, c, program, metric) for c in cols]
        if pv is None and all(x is None for x in evs):
            continue
        cells = [label] + [fmt_ms(x) for x in evs] + [fmt_ms(pv)] + [fmt_ratio(pv, x) for x in evs]
        w("| " + " | ".join(cells) + " |")
    w("")
    w("A ratio above 1× means eryx is that many times faster; below 1×, slower. n/a: not measured (see below).")
    w("")
    w_host_tables(doc, cols, w)
    w_embedded_table(doc, w)
    w(f"![start-up figures]({png_rel})")
    w("")
    w("## What is measured")
    w("")
    w(
        "The programs are in `bench/programs.json`, the same text for both sides. Each runs in a fresh "
        "process: `eryx -c CODE` (with `--wheel` twice for the Jinja2 row), and for Pyodide a fresh "
        "`node` process that calls `loadPyodide()` and then `runPython(CODE)` (for start-up, "
        "`runPython(\"1+1\")` and prints the value)."
    )
    w("")
    w(
        "* **process start → result**: from spawning the process to the result line arriving on its "
        "stdout, timed the same way for both by one parent (`bench/measure.py`, "
        "`time.perf_counter()`). For eryx this includes creating the sandbox from the "
        "compiled-code cache (and the pre-initialised snapshot), which is warm: every program runs "
        "once unrecorded first on every runtime (for Pyodide that warms the OS file cache; Node keeps "
        "no compiled-code cache between processes). Each round runs every program on every runtime "
        "in turn, so a busy machine weighs on all columns alike."
    )
    w(
        "* **CPU time**: user + system time of the whole process (all its threads) until it exits, "
        "from `wait4`; less sensitive than wall time to other work on the machine."
    )
    w(
        "* **in-interpreter time**: `time.perf_counter()` around the timed part inside Python, in "
        "the same fresh process; the imports are first imports."
    )
    w(
        "* **MarkupSafe + Jinja2**: `jinja2.Environment(autoescape=True)`, a 1000-row template with "
        "`loop.cycle` and escaped values; both sides produce the same HTML (checked by digest)."
    )
    pl = value(doc, "pyodide", "startup", "load_ms")
    if pl is not None:
        w(
            f"* Pyodide's own `loadPyodide()` resolves {fmt_ms(pl)} (median) after its process starts, "
            "so nearly all of its start-up is loading and instantiating the interpreter."
        )
    mods = {r: value(doc, r, "import", "modules_at_start") for r in cols + ["pyodide"]}
    pre = {r: value(doc, r, "import", "already_imported") for r in cols + ["pyodide"]}
    if any(x is not None for x in mods.values()):
        def names(r):
            return VARIANT_LABELS.get(r, "Pyodide" if r == "pyodide" else r)
        w(
            "* Modules already imported when the user's code starts (`len(sys.modules)`): "
            + ", ".join(f"{names(r)} {mods[r]}" for r in mods if mods[r] is not None)
            + ". Of `json, decimal, asyncio`, already imported then: "
            + ", ".join(f"{names(r)}: {', '.join(pre[r]) or 'none'}" for r in pre if pre[r] is not None)
            + "."
            + (
                f" Pyodide's own runtime has imported {' and '.join(pre['pyodide'])} while it loads, so its "
                "in-interpreter import figure counts only the rest; likewise eryx's pre-initialised snapshot "
                "holds those it lists here (the default snapshot imports json, asyncio and decimal), and "
                "without pre-initialisation eryx's figure counts first imports of all three. The process "
                "start → result figures include everything on both sides."
                if pre.get("pyodide") else ""
            )
        )
    speed = value(doc, "pyodide", "jinja2", "markupsafe_speedups")
    if speed is not None:
        w(
            f"* MarkupSafe's C speedups in use: eryx "
            f"{'yes' if value(doc, cols[0], 'jinja2', 'markupsafe_speedups') or value(doc, cols[-1], 'jinja2', 'markupsafe_speedups') else 'no'}, "
            f"Pyodide {'yes' if speed else 'no'}."
        )
    w("")
    analysis = HERE / "ANALYSIS.md"
    if analysis.exists():
        w(analysis.read_text().rstrip())
        w("")
    w("## What could not be measured offline")
    w("")
    for note in doc.get("notes", []):
        w(f"* {note}")
    skipped = {**doc["eryx"].get("skipped", {}), **{f"pyodide {k}": v for k, v in py.get("skipped", {}).items()}}
    for k, why in skipped.items():
        w(f"* `{k}` skipped: {why}.")
    w("")
    w("## Reproducing")
    w("")
    w("```sh")
    w("bench/run.sh                        # build eryx, npm ci, wheels, measure both, write this file and the plot")
    w("BENCH_ROUNDS=9 bench/run.sh         # more rounds (default 7)")
    w("BENCH_PREINIT=no bench/run.sh       # one eryx column, as it is (yes: force both columns)")
    w("BENCH_REPORT_ONLY=1 bench/run.sh    # redraw from bench/results/latest.json")
    w("```")
    w("")
    w("The parts, from the repository root:")
    w("")
    w("```sh")
    w("cargo build --workspace --all-features --release   # the workspace's feature set, as every build")
    w("(cd bench/pyodide && npm ci)")
    w("libs/sdist-wheel/build.sh markupsafe-sdist bench/.work/wheels")
    w('cp "$(libs/pinned.sh path jinja2)" bench/.work/wheels/')
    w("target/release/eryx -c 'print(1+1)'   # warms the compiled-code cache")
    wheels = {
        "MARKUPSAFE.whl": "bench/.work/wheels/markupsafe-3.0.4-cp314-cp314-wasi_0_0_0_wasm32.whl",
        "JINJA2.whl": "bench/.work/wheels/jinja2-3.1.6-py3-none-any.whl",
    }
    for key, suffix in (("measure", " --out measurements.json"), ("pyodide alone", "   # Pyodide only, prints JSON")):
        command = doc["commands"][key]
        for placeholder, path in wheels.items():
            command = command.replace(placeholder, path)
        w(command + suffix)
    w("```")
    w("")
    w(
        f"The pre-initialised snapshot is switched off with `{e['preinit']['off_switch']}`; "
        + (
            "both eryx columns were measured."
            if e["preinit"]["available"]
            else "that switch did not exist at the measured commit, so only the no-pre-init column was measured."
        )
    )
    w(
        "The raw samples of every round are in `bench/results/latest.json`. The machine is small "
        "and may be busy: compare figures from the same run."
    )
    w("")
    return "\n".join(out)


def w_host_tables(doc, cols, w):
    """Pure-Python programs on eryx, Pyodide and the host's native CPython; numpy rows."""
    host = doc.get("host")
    if not host:
        return
    ev = cols[0] if cols[0] in doc["eryx"]["variants"] else cols[-1]
    label = VARIANT_LABELS.get(ev, ev)
    pythons = host.get("pythons", {})
    w("### Pure Python: eryx, Pyodide and native CPython")
    w("")
    w(
        f"In-interpreter time of the timed part (medians, fresh process each), on {label}, Pyodide and the "
        f"host's own CPython {pythons.get('plain', '').split(' ')[0] or '?'} (native, not sandboxed). "
        "The ratios divide by native time: how many times slower than native each sandbox is."
    )
    w("")
    w(f"| program | {label} | Pyodide | native CPython | {label} ÷ native | Pyodide ÷ native | Pyodide ÷ eryx |")
    w("|---|---:|---:|---:|---:|---:|---:|")

    def ratio(a, b):
        return "n/a" if a is None or b is None or b <= 0 else f"{a / b:.2f}×"

    for program, title in HOST_ROWS:
        e, p, h = (value(doc, r, program, "inner_ms") for r in (ev, "pyodide", "host"))
        if e is None and p is None:
            continue
        w(f"| {title} | {fmt_ms(e)} | {fmt_ms(p)} | {fmt_ms(h)} | {ratio(e, h)} | {ratio(p, h)} | {ratio(p, e)} |")
    w("")
    rows = [
        ("numpy_import", "first_ms", "`import numpy`, process start → result, wheel imported before the snapshot (`--preinit-wheels`)"),
        ("numpy_import", "inner_ms", "`import numpy`, in-interpreter, `--preinit-wheels`"),
        ("numpy_import_plain", "first_ms", "`import numpy`, process start → result, imported at run time (from bytecode)"),
        ("numpy_import_plain", "inner_ms", "`import numpy`, in-interpreter, imported at run time"),
        ("numpy_dot", "inner_ms", "`np.dot` of 200×200 float64, median of 21"),
    ]
    present = [r for r in rows if value(doc, ev, r[0], r[1]) is not None]
    if not present:
        return
    w("### numpy (wasm32-wasi wheel built from its sdist, late-linked)")
    w("")
    w(f"Warm caches. Native: the host's python3 with numpy {pythons.get('numpy', '? ?').split(' ')[-1]} (one OpenBLAS thread). "
      "Pyodide cannot load numpy offline (its packages come from a CDN).")
    w("")
    w(f"| figure | {label} | native CPython + numpy | {label} ÷ native |")
    w("|---|---:|---:|---:|")
    for program, metric, title in present:
        e = value(doc, ev, program, metric)
        h = value(doc, "host", program, metric) if program == "numpy_dot" else None
        w(f"| {title} | {fmt_ms(e)} | {fmt_ms(h)} | {ratio(e, h)} |")
    w("")


def w_embedded_table(doc, w):
    """The embedded example's first run on an empty cache, with and without precompiled code."""
    emb = doc.get("embedded")
    if not emb:
        return
    med = emb["medians"]
    w("### First run on a fresh machine: the embedded example")
    w("")
    w(
        "`examples/embedded` (two native extensions linked into the binary by eryx-build), built "
        "without and with eryx-build's `precompile` option, each run as a fresh process with "
        f"`ERYX_CACHE_DIR` set to a new empty folder (a fresh machine or container); medians of {emb['rounds']} rounds "
        "(`bench/embedded_first_run.py`). Target with `precompile`: ≤ 100 ms to the first result."
    )
    w("")
    w("| build | process start → first result | process start → exit | CPU time | code loaded from |")
    w("|---|---:|---:|---:|---|")
    labels = {"without": "without `precompile`", "precompiled": "with `precompile = true`"}
    for name, m in med.items():
        w(f"| {labels.get(name, name)} | {fmt_ms(m.get('first_ms'))} | {fmt_ms(m.get('exit_ms'))} | "
          f"{fmt_ms(m.get('cpu_ms'))} | {', '.join(m.get('loaded_from') or [])} |")
    w("")


def plot(doc, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = [c for c in columns(doc) if c in doc["eryx"]["variants"]]
    runtimes = cols + ["pyodide"]
    labels = [VARIANT_LABELS.get(c, c) for c in cols] + [f"Pyodide {doc['pyodide']['pyodide_version']}"]
    colours = {"preinit": "#1b7837", "no-preinit": "#7fbf7b", "default": "#7fbf7b", "pyodide": "#762a83"}

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 1.4]})

    # Left: start-up to first result, wall time and the process's CPU time.
    vals = [value(doc, r, "startup", "first_ms") for r in runtimes]
    cpus = [value(doc, r, "startup", "cpu_ms") for r in runtimes]
    ys = list(range(len(runtimes)))[::-1]
    h = 0.38
    ax1.barh([y + h / 2 for y in ys], [v or 0 for v in vals], h, color=[colours.get(r, "#999999") for r in runtimes])
    ax1.barh([y - h / 2 for y in ys], [v or 0 for v in cpus], h, color="white",
             edgecolor=[colours.get(r, "#999999") for r in runtimes], hatch="///", linewidth=1.0)
    ax1.set_yticks(ys, labels)
    if any(vals):
        ax1.set_xscale("log")
    ax1.set_xlabel("ms, log scale (median)")
    ax1.set_title("Process start → first result (1+1)")
    pyo = value(doc, "pyodide", "startup", "first_ms")
    pyo_cpu = value(doc, "pyodide", "startup", "cpu_ms")
    for y, v, c, r in zip(ys, vals, cpus, runtimes):
        if v is not None:
            text = "wall " + fmt_ms(v)
            if r != "pyodide" and pyo:
                text += f"  ({pyo / v:.0f}× faster)" if pyo / v >= 10 else f"  ({pyo / v:.1f}× faster)"
            ax1.text(v * 1.08, y + h / 2, text, va="center", fontsize=8.5)
        if c is not None:
            text = "CPU " + fmt_ms(c)
            if r != "pyodide" and pyo_cpu:
                text += f"  ({pyo_cpu / c:.0f}×)" if pyo_cpu / c >= 10 else f"  ({pyo_cpu / c:.1f}×)"
            ax1.text(c * 1.08, y - h / 2, text, va="center", fontsize=8, color="#444444")
    if pyo:
        ax1.axvline(pyo / TARGET, color="#d6604d", linestyle="--", linewidth=1.2,
                    label=f"{TARGET}× target (wall): ≤ {fmt_ms(pyo / TARGET)}")
    from matplotlib.patches import Patch
    handles, _ = ax1.get_legend_handles_labels()
    handles += [Patch(facecolor="#bbbbbb", label="wall time to result"),
                Patch(facecolor="white", edgecolor="#555555", hatch="///", label="CPU time, all threads")]
    ax1.legend(handles=handles, fontsize=7.5, loc="upper right")
    finite = [v for v in vals + cpus if v] + ([pyo / TARGET] if pyo else [])
    if finite:
        ax1.set_xlim(min(finite) / 2, max(finite) * 12)
    ax1.set_ylim(-0.6, max(ys) + 0.9)

    # Right: process start -> result for every program.
    programs = [p for p in ["startup", "import", "compute", "jinja2"]
                if any(value(doc, r, p, "first_ms") is not None for r in runtimes)]
    names = {"startup": "1+1", "import": "import json,\ndecimal, asyncio", "compute": "sum of squares\n10**6",
             "jinja2": "MarkupSafe +\nJinja2 render"}
    width = 0.8 / len(runtimes)
    for i, (r, label) in enumerate(zip(runtimes, labels)):
        xs = [j + (i - (len(runtimes) - 1) / 2) * width for j in range(len(programs))]
        vs = [value(doc, r, p, "first_ms") for p in programs]
        ax2.bar(xs, [v or 0 for v in vs], width, label=label, color=colours.get(r, "#999999"))
        for x, v in zip(xs, vs):
            if v:
                ax2.text(x, v * 1.06, f"{v / 1000:.2f}s" if v >= 1000 else f"{v:.0f}", ha="center",
                         va="bottom", fontsize=7.5, rotation=90)
    ax2.set_xticks(range(len(programs)), [names[p] for p in programs])
    ax2.set_yscale("log")
    ax2.set_ylabel("ms, log scale (median)")
    ax2.set_title("Process start → result, per program (fresh process each)")
    present = [v for r in runtimes for p in programs if (v := value(doc, r, p, "first_ms"))]
    ax2.set_ylim(min(present) / 2, max(present) * 6)
    ax2.legend(fontsize=8, loc="upper left")

    fig.suptitle(f"eryx vs Pyodide — medians of {doc['rounds']} rounds, {doc['machine']['cores']} cores, "
                 f"eryx {doc['eryx']['commit']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=str(HERE / "results" / "latest.json"))
    ap.add_argument("--markdown", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--png", default=str(HERE / "startup.png"))
    args = ap.parse_args()
    doc = json.loads(Path(args.results).read_text())
    png = Path(args.png).resolve()
    md = Path(args.markdown).resolve()
    try:
        png_rel = png.relative_to(md.parent).as_posix()
    except ValueError:
        png_rel = png.name
    plot(doc, png)
    md.write_text(markdown(doc, png_rel))
    print(f"wrote {md.relative_to(ROOT) if md.is_relative_to(ROOT) else md.name} and "
          f"{png.relative_to(ROOT) if png.is_relative_to(ROOT) else png.name}")


if __name__ == "__main__":
    main()

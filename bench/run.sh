#!/usr/bin/env bash
# Side-by-side benchmarks: eryx and Pyodide run the same programs (bench/programs.json), every
# measurement in a fresh process, medians over BENCH_ROUNDS rounds (default 7).
#
#   bench/run.sh                      build, install, measure, write the report
#   BENCH_ROUNDS=9 bench/run.sh
#   BENCH_EMBEDDED_DIR=DIR            where the embedded example's two builds are (default
#                                     target/release; BENCH_EMBEDDED_ROUNDS, default 3)
#   BENCH_REPORT_ONLY=1 bench/run.sh  only redraw BENCHMARKS.md and bench/startup.png from
#                                     bench/results/latest.json
#
# Writes bench/results/latest.json, BENCHMARKS.md and bench/startup.png.
# Needs: cargo (the workspace's toolchain), node >= 18 with npm, python3 with venv and pip.
# Pure-Python rows also run on the host's python3 (ratios to native CPython); the numpy rows need
# the numpy wasm32-wasi wheel (libs/sdist-wheel/numpy/build.sh, cached) and numpy in bench/.venv.
# The MarkupSafe + Jinja2 row needs the MarkupSafe wasm32-wasi wheel (built from its sdist by
# libs/sdist-wheel/build.sh, cached) and the Jinja2 wheel from PyPI (both pinned in
# libs/pins.txt); without them it is skipped.
#
# Pre-initialised snapshot: when eryx-rt knows the off switch (ERYX_NO_PREINIT, or the name in
# BENCH_PREINIT_VAR), eryx is measured twice, as it is and with VAR=1. Force with
# BENCH_PREINIT=yes|no.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${BENCH_ROUNDS:-7}
PREINIT_VAR=${BENCH_PREINIT_VAR:-ERYX_NO_PREINIT}
WORK=bench/.work
mkdir -p "$WORK/wheels" bench/results

say() { printf '\n== %s\n' "$*" >&2; }

venv() {
    if [ ! -x bench/.venv/bin/python ]; then
        python3 -m venv bench/.venv
    fi
    bench/.venv/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
}

report() {
    say "report (matplotlib in bench/.venv)"
    venv
    bench/.venv/bin/python bench/report.py
}

if [ "${BENCH_REPORT_ONLY:-}" = 1 ]; then
    report
    exit 0
fi

LOAD_START=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || true)

say "build eryx"
# The workspace's feature set (as every build here): `-p eryx-cli` alone resolves other
# features and compiles wasmtime and Cranelift a second time.
cargo build --release --workspace --all-features
ERYX="${CARGO_TARGET_DIR:-target}/release/eryx"

say "install Pyodide (npm ci)"
(cd bench/pyodide && npm ci --no-audit --no-fund)

say "wheels for the MarkupSafe + Jinja2 row"
WHEELS=()
WHEELS_NOTE=""
if MARKUPSAFE=$(libs/sdist-wheel/build.sh markupsafe-sdist "$WORK/wheels" | tail -n 1) \
    && [ -f "$MARKUPSAFE" ]; then
    if JINJA2=$(libs/pinned.sh path jinja2); then
        cp "$JINJA2" "$WORK/wheels/"
        WHEELS=(--wheel "$MARKUPSAFE" --wheel "$WORK/wheels/${JINJA2##*/}")
    else
        WHEELS_NOTE="The Jinja2 wheel could not be downloaded, so the MarkupSafe + Jinja2 row was not measured."
    fi
else
    WHEELS_NOTE="The MarkupSafe wasm32-wasi wheel could not be built, so the MarkupSafe + Jinja2 row was not measured."
fi
[ -z "$WHEELS_NOTE" ] || echo "warning: $WHEELS_NOTE" >&2

say "numpy: the wasm32-wasi wheel (cached build; minutes when cold) and the host's numpy (bench/.venv)"
venv
NUMPY_ARGS=(--host-python python3)
# BENCH_NUMPY_WHEEL=PATH uses a wheel built before (the build's cache key follows its scripts).
if NUMPY_WHEEL=${BENCH_NUMPY_WHEEL:-$(libs/sdist-wheel/numpy/build.sh "$WORK/wheels" | tail -n 1)} \
    && [ -f "$NUMPY_WHEEL" ]; then
    NUMPY_ARGS+=(--numpy-wheel "$NUMPY_WHEEL" --host-numpy-python bench/.venv/bin/python)
else
    WHEELS_NOTE="$WHEELS_NOTE The numpy wasm32-wasi wheel could not be built, so the numpy rows were not measured."
fi
# The native numpy side uses one BLAS thread, like the sandbox.
export OPENBLAS_NUM_THREADS=1

# eryx's caches for this run: its own folder, so that nothing else on the machine (tests that
# corrupt or clear cache entries, say) changes them between rounds. ERYX_CACHE_DIR wins if set.
export ERYX_CACHE_DIR="${ERYX_CACHE_DIR:-$PWD/$WORK/eryx-cache}"
mkdir -p "$ERYX_CACHE_DIR"

say "warm eryx's compiled-code cache (the first run compiles, once)"
"$ERYX" -c 'print(1+1)'

case "${BENCH_PREINIT:-auto}" in
    yes) PREINIT=yes ;;
    no) PREINIT=no ;;
    auto)
        if grep -rqs -- "$PREINIT_VAR" eryx-rt/src libs/src 2>/dev/null; then PREINIT=yes; else PREINIT=no; fi ;;
    *) echo "BENCH_PREINIT must be yes, no or auto" >&2; exit 2 ;;
esac
if [ "$PREINIT" = yes ]; then
    VARIANTS=(--variant preinit --variant "no-preinit:$PREINIT_VAR=1")
else
    VARIANTS=(--variant no-preinit)
fi

say "measure eryx and Pyodide side by side ($ROUNDS rounds, eryx pre-init: $PREINIT)"
python3 bench/measure.py --eryx "$ERYX" --pyodide --rounds "$ROUNDS" "${WHEELS[@]}" "${VARIANTS[@]}" \
    "${NUMPY_ARGS[@]}" --out "$WORK/measurements.json"

# The embedded example's first run on an empty cache, with and without eryx-build's precompile
# option: its two builds come from `cargo test --workspace --all-features --release --test
# build_time` (which puts them in target/release; BENCH_EMBEDDED_DIR names another folder).
EMBEDDED_DIR=${BENCH_EMBEDDED_DIR:-${CARGO_TARGET_DIR:-target}/release}
EMBEDDED_ARGS=()
if [ -x "$EMBEDDED_DIR/eryx-embedded-example" ] && [ -x "$EMBEDDED_DIR/eryx-embedded-example-precompiled" ]; then
    say "the embedded example's first run on an empty cache"
    # Without precompiled code every round compiles for tens of seconds: fewer rounds by default.
    python3 bench/embedded_first_run.py --rounds "${BENCH_EMBEDDED_ROUNDS:-3}" --out "$WORK/embedded.json" \
        "without=$EMBEDDED_DIR/eryx-embedded-example" "precompiled=$EMBEDDED_DIR/eryx-embedded-example-precompiled"
    EMBEDDED_ARGS=(--embedded "$WORK/embedded.json")
else
    WHEELS_NOTE="$WHEELS_NOTE The embedded example's builds were not found in $EMBEDDED_DIR (tests/build_time.rs makes them), so its first-run rows were not measured."
fi

python3 bench/combine.py --measurements "$WORK/measurements.json" "${EMBEDDED_ARGS[@]}" \
    --preinit "$PREINIT" --preinit-var "$PREINIT_VAR" --rounds "$ROUNDS" \
    --load-start "$LOAD_START" --wheels-note "$WHEELS_NOTE" > bench/results/latest.json.new
mv bench/results/latest.json.new bench/results/latest.json

report
say "done: bench/results/latest.json, BENCHMARKS.md, bench/startup.png"

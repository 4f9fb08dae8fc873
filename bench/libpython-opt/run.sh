#!/usr/bin/env bash
# A prototype, not eryx's default: libpython3.14.so re-optimised by binaryen's wasm-opt -O3 after
# componentize-py built it (LLVM -O3 file by file, no link-time optimisation), built into a second
# eryx binary and measured beside the default one and Pyodide (bench/ANALYSIS.md, "libpython
# re-optimised").
#
#   bench/libpython-opt/run.sh [ROUNDS] [PROGRAMS]   default 9 rounds of the pure-Python programs
#
# Writes target/libpython-opt/: the optimised libraries, eryx-default and eryx-wasm-opt, and
# measurements.json. Leaves target/release/eryx built from the committed libraries, as it found it.
# Needs what bench/run.sh needs (node, npm, bench/pyodide installed by it) and zstd.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-9}
programs=${2:-compute,richards,nbody,json_roundtrip,regex}
work=target/libpython-opt
mkdir -p "$work/libs"

say() { printf '\n== %s\n' "$*" >&2; }

say "the committed base libraries, verified, and binaryen (pinned in libs/pins.txt)"
libs/fetch-base.sh "$work/base"
tar -xzf "$(libs/pinned.sh path binaryen)" -C "$work"

say "wasm-opt -O3 on libpython3.14.so (a few minutes: binaryen runs as wasm, single-threaded)"
features=(--enable-bulk-memory --enable-bulk-memory-opt --enable-sign-ext --enable-mutable-globals
  --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types --enable-extended-const)
node --max-old-space-size=12000 "$work/package/bin/wasm-opt" "${features[@]}" -O3 --debuginfo \
  "$work/base/libpython3.14.so" -o "$work/libpython3.14.so"

# The libraries as eryx-libs' build script reads them: zstd files and their checksum list.
while read -r _ file; do
  name=${file%.zst}
  from=$work/base/$name
  [ "$name" = libpython3.14.so ] && from=$work/libpython3.14.so
  zstd -q -f -19 "$from" -o "$work/libs/$file"
done < libs/base-libs.sha256
(cd "$work/libs" && sha256sum -- *.zst) > "$work/libs/base-libs.sha256"

say "build eryx with the optimised libpython, then again with the committed one"
ERYX_BASE_LIBS_DIR=$PWD/$work/libs ERYX_BASE_LIBS_SHA256=$PWD/$work/libs/base-libs.sha256 \
  cargo build --workspace --all-features --release --bin eryx
cp target/release/eryx "$work/eryx-wasm-opt"
cargo build --workspace --all-features --release --bin eryx
cp target/release/eryx "$work/eryx-default"

# One eryx command for bench/measure.py, which chooses the binary through a variant's variable.
printf '#!/bin/sh\nexec "$ERYX_LIBPYTHON_OPT_BIN" "$@"\n' > "$work/eryx"
chmod +x "$work/eryx"
for bin in eryx-default eryx-wasm-opt; do "$work/$bin" -c 'print("compiled")'; done

say "measure side by side ($rounds rounds)"
python3 bench/measure.py --eryx "$work/eryx" --pyodide --host-python python3 --rounds "$rounds" \
  --programs "$programs" \
  --variant "default:ERYX_LIBPYTHON_OPT_BIN=$PWD/$work/eryx-default" \
  --variant "wasm-opt:ERYX_LIBPYTHON_OPT_BIN=$PWD/$work/eryx-wasm-opt" \
  --out "$work/measurements.json"
python3 bench/libpython-opt/ratios.py "$work/measurements.json"

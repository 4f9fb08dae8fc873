#!/usr/bin/env bash
# Builds gemm.c three times (scalar, SIMD128, SIMD128 + relaxed-simd FMA) into one wasm32-wasi
# wheel, `eryx_gemm_proto`, for bench/wasm-gemm/run.py. Needs the toolchain of libs/wasi-toolchain.
#
#   bench/wasm-gemm/build.sh OUTDIR      (prints the wheel's path)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
libs=$(cd "$here/../../libs" && pwd)
out=${1:?usage: bench/wasm-gemm/build.sh OUTDIR}
mkdir -p "$out"
tc=${ERYX_WASI_TOOLCHAIN:-$libs/sdist-wheel/numpy/target/toolchain}
"$libs/wasi-toolchain/fetch.sh" "$tc" >/dev/null 2>&1
# shellcheck disable=SC1091
. "$tc/env.sh"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for variant in "scalar:" "simd:-msimd128" "fma:-msimd128 -mrelaxed-simd"; do
  name=_gemm_${variant%%:*}
  # shellcheck disable=SC2086
  "$CC" -O3 ${variant#*:} -DMODULE="$name" -DMODULE_NAME="\"$name\"" -c "$here/gemm.c" -o "$stage/$name.o"
  "$LDSHARED" "$stage/$name.o" -o "$stage/$name$ERYX_WASI_EXT_SUFFIX"
  rm "$stage/$name.o"
done
python3 "$libs/sdist-wheel/mkwheel.py" --name eryx_gemm_proto --version 0.1 --tag cp314-cp314-wasi_0_0_0_wasm32 \
  --outdir "$out" --summary "prototype matrix products for wasm32 (bench only)" "$stage"

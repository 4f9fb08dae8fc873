#!/usr/bin/env bash
# Builds numpy from its PyPI sdist into a wasm32-wasi wheel for CPython 3.14 (eryx's sandbox).
#
#   libs/sdist-wheel/numpy/build.sh OUTDIR        (prints the wheel's path on stdout)
#
# Steps (details and the reason for every flag and patch: PATCHES.md beside this file):
#  1. toolchain: libs/wasi-toolchain/fetch.sh into $ERYX_WASI_TOOLCHAIN if set, else into
#     libs/sdist-wheel/numpy/target/toolchain (clang-19, wasm-ld-19, WASI sysroot, CPython 3.14
#     headers, base libraries);
#  2. cache: wheels/numpy-<key>/ in eryx's cache folder (`libs/pinned.sh cache-dir`:
#     $ERYX_CACHE_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/eryx), where <key> hashes the sdist's
#     pinned sha256, the toolchain id and the files of this folder; a hit is copied to OUTDIR
#     at once;
#  3. sdist: pin `numpy-sdist` of libs/pins.txt, fetched by libs/pinned.sh (pip download,
#     checked against its sha256, kept in the cache's downloads/<sha256>/);
#  4. build tools: a venv with the pinned Cython and ninja (pins `cython`, `ninja`; under the
#     cache's venvs/); numpy's own vendored meson drives the build;
#  5. build: patches/*.patch applied, meson cross build (cross file written here), ninja,
#     `meson install` of the runtime files into a staging folder;
#  6. wheel: libs/sdist-wheel/mkwheel.py (PEP 427, RECORD with sha256), then every .so is checked
#     by libs/wasi-toolchain/check-so.py (dylink.0, every import exported by the base libraries).
set -euo pipefail

outdir=${1:?usage: libs/sdist-wheel/numpy/build.sh OUTDIR}
start=$(date +%s.%N)
here=$(cd "$(dirname "$0")" && pwd)
libs=$(cd "$here/../.." && pwd)
pinned=$libs/pinned.sh
NUMPY_VERSION=$("$pinned" field numpy-sdist requirement | sed 's/^numpy==//')
NUMPY_SHA256=$("$pinned" field numpy-sdist sha256)
BUILD_REQUIREMENTS=("$("$pinned" field cython requirement)" "$("$pinned" field ninja requirement)")
TAG=cp314-cp314-wasi_0_0_0_wasm32
cache=$("$pinned" cache-dir)
wheel_name=numpy-$NUMPY_VERSION-$TAG.whl
log() { echo "numpy-wheel: $*" >&2; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)"; }
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# 1. toolchain
tc=${ERYX_WASI_TOOLCHAIN:-$here/target/toolchain}
"$libs/wasi-toolchain/fetch.sh" "$tc" 2>/dev/null
# shellcheck disable=SC1091
. "$tc/env.sh"

# 2. cache key: the sdist, the toolchain, the build requirements and every file of this folder
key=$( {
  echo "numpy $NUMPY_VERSION $NUMPY_SHA256 toolchain $ERYX_WASI_TOOLCHAIN_ID ${BUILD_REQUIREMENTS[*]}"
  sha256sum "$here"/build.sh "$here"/wasi-cc.sh "$here"/fake-python.py "$here"/patches/*.patch \
    "$libs/sdist-wheel/mkwheel.py" | cut -d' ' -f1
} | sha256sum | cut -c1-32)
cached=$cache/wheels/numpy-$key
if [ -f "$cached/$wheel_name" ]; then
  cp "$cached/$wheel_name" "$outdir/$wheel_name"
  log "cached build $key ($(elapsed) s)"
  echo "$outdir/$wheel_name"
  exit 0
fi

work=$(mktemp -d -t eryx-numpy.XXXXXX)
# ERYX_NUMPY_KEEP_WORK=1 keeps the work folder (sources, build, logs) for debugging.
if [ -z "${ERYX_NUMPY_KEEP_WORK:-}" ]; then trap 'rm -rf "$work"' EXIT; else log "work folder: $work"; fi

# 3. sdist
sdist=$("$pinned" path numpy-sdist)

# 4. build tools
venv=$cache/venvs/numpy-build-$(echo "${BUILD_REQUIREMENTS[*]} $(python3 -c 'import sys; print(sys.version)')" | sha256sum | cut -c1-16)
if [ ! -x "$venv/bin/cython" ] || [ ! -x "$venv/bin/ninja" ]; then
  log "creating build venv $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${BUILD_REQUIREMENTS[@]}" >&2
fi
py=$venv/bin/python

# 5. build
log "building numpy $NUMPY_VERSION (key $key)"
src=$work/numpy-$NUMPY_VERSION
tar -xzf "$sdist" -C "$work"
for p in "$here"/patches/*.patch; do patch -s -p1 -d "$src" < "$p"; done
build=$work/build
cat > "$work/cross.ini" <<EOF
[binaries]
c = ['$here/wasi-cc.sh', 'cc']
cpp = ['$here/wasi-cc.sh', 'c++']
ar = '$AR'
ranlib = '$RANLIB'
strip = 'llvm-strip-19'
python = '$here/fake-python.py'
cython = '$venv/bin/cython'
pkg-config = 'false'

[properties]
needs_exe_wrapper = true
skip_sanity_check = true
longdouble_format = 'IEEE_QUAD_LE'

[built-in options]
c_args = ['-O2', '-fwrapv', '-ffile-prefix-map=$src=numpy-$NUMPY_VERSION', '-ffile-prefix-map=$build=build']
cpp_args = ['-O2', '-fwrapv', '-fno-exceptions', '-ffile-prefix-map=$src=numpy-$NUMPY_VERSION', '-ffile-prefix-map=$build=build']

[host_machine]
system = 'wasi'
cpu_family = 'wasm32'
cpu = 'wasm32'
endian = 'little'
EOF
export ERYX_HOST_PYTHON=$py PATH=$venv/bin:$PATH
(cd "$src" && "$py" vendored-meson/meson/meson.py setup "$build" --cross-file "$work/cross.ini" \
  --prefix=/usr -Dpython.bytecompile=-1 -Dbuildtype=release -Db_ndebug=true \
  -Dblas=none -Dlapack=none -Dallow-noblas=true \
  -Dcpu-baseline=none -Dcpu-dispatch=none -Ddisable-optimization=true \
  -Ddisable-highway=true -Ddisable-svml=true -Ddisable-intel-sort=true) > "$work/setup.log" 2>&1 || {
  tail -40 "$work/setup.log" >&2; log "error: meson setup failed"; exit 1; }
ninja -C "$build" -j "$(nproc)" > "$work/ninja.log" 2>&1 || {
  grep -A20 FAILED "$work/ninja.log" | head -80 >&2; log "error: build failed"; exit 1; }
"$py" "$src/vendored-meson/meson/meson.py" install -C "$build" --destdir "$work/stage" \
  --tags runtime,python-runtime > "$work/install.log" 2>&1 || {
  tail -20 "$work/install.log" >&2; log "error: meson install failed"; exit 1; }
site=$work/stage/usr/lib/python3.14/site-packages
test -f "$site/numpy/_core/_multiarray_umath.cpython-314-wasm32-wasi.so"
# numpy.show_config() data records the build's compiler commands and flags: keep this machine's
# folders out of it (and the wheel reproducible) by naming them relative to the repository.
sed -i -e "s#$work#<build>#g" -e "s#$here#libs/sdist-wheel/numpy#g" -e "s#$venv#<build-venv>#g" \
  "$site/numpy/__config__.py"

# 6. wheel, checks, cache
# Every License-File the sdist's PKG-INFO names (numpy's own and its vendored code's).
licenses=()
while read -r f; do licenses+=(--license "$src/$f=$f"); done < <(sed -n 's/^License-File: //p' "$src/PKG-INFO")
"$py" "$libs/sdist-wheel/mkwheel.py" --name numpy --version "$NUMPY_VERSION" --tag "$TAG" \
  --outdir "$work/wheel" --metadata "$src/PKG-INFO" "${licenses[@]}" "$site" >/dev/null
test -f "$work/wheel/$wheel_name"
python3 "$libs/wasi-toolchain/check-so.py" --quiet --base "$ERYX_WASI_BASE" \
  --lib libc++.so --lib libc++abi.so --lib libwasi-emulated-mman.so \
  --lib libwasi-emulated-process-clocks.so --lib libwasi-emulated-getpid.so \
  --lib libwasi-emulated-signal.so "$work/wheel/$wheel_name" >&2
mkdir -p "$cached"
cp "$work/wheel/$wheel_name" "$cached/$wheel_name.tmp" && mv "$cached/$wheel_name.tmp" "$cached/$wheel_name"
cp "$cached/$wheel_name" "$outdir/$wheel_name"
log "built $wheel_name ($(du -k "$outdir/$wheel_name" | cut -f1) KiB) in $(elapsed) s"
echo "$outdir/$wheel_name"

#!/usr/bin/env bash
# Builds CPython 3.11.2 for wasm32-wasip1 as a static python.wasm with chosen interpreter build
# flags, to measure what those flags are worth (bench/ANALYSIS.md, "Where the rest goes").
# A stand-in experiment: no CPython 3.14 source is reachable through the registries this
# project may use, and bookworm's python3.11 source package is. Not used by eryx itself.
#
#   bench/interp-flags/build.sh VARIANT [WORK]      (WORK defaults to bench/interp-flags/.work)
#
# VARIANT (all -O3 -fvisibility=hidden, like the base libpython3.14's own flags):
#   pinned-like    -fPIC, without pymalloc   (the base libpython3.14's choices)
#   pymalloc-pic   -fPIC, with pymalloc
#   pymalloc       without -fPIC, with pymalloc
# Writes WORK/VARIANT/python.wasm and, once, WORK/prefix/lib/python3.11 (the stdlib to preopen as
# PYTHONHOME). Takes about 15 minutes of configure and 5-10 of make on 2 busy cores.
#
# Inputs: the upstream tarball of Debian's `python3.11` source package (apt-get source from the
# machine's own Debian suite, through a private sources list; checked against PY_ORIG_SHA256),
# Debian's clang-19 and lld-19, and the wasi-libc sysroot of libs/wasi-toolchain/fetch.sh.
set -euo pipefail

variant=${1:?usage: bench/interp-flags/build.sh pinned-like|pymalloc-pic|pymalloc [WORK]}
here=$(cd "$(dirname "$0")" && pwd)
work=${2:-$here/.work}
mkdir -p "$work"
work=$(cd "$work" && pwd)

PY_ORIG=python3.11_3.11.2.orig.tar.gz
PY_ORIG_SHA256=2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849

case $variant in
  pinned-like)  pic=-fPIC; pymalloc=--without-pymalloc ;;
  pymalloc-pic) pic=-fPIC; pymalloc=--with-pymalloc ;;
  pymalloc)     pic=;      pymalloc=--with-pymalloc ;;
  *) echo "error: unknown variant $variant (pinned-like, pymalloc-pic or pymalloc)" >&2; exit 1 ;;
esac

# The source, through apt-get with a private deb-src list for this machine's own Debian suite.
if ! echo "$PY_ORIG_SHA256  $work/$PY_ORIG" | sha256sum --quiet -c - >/dev/null 2>&1; then
  apt=$work/apt
  mkdir -p "$apt/lists/partial"
  uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
    awk '/^deb / { print $2; exit }' /etc/apt/sources.list)
  suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" > "$apt/sources.list"
  opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt/lists")
  apt-get "${opts[@]}" update >/dev/null
  (cd "$work" && apt-get "${opts[@]}" source --download-only python3.11 >/dev/null 2>&1)
  echo "$PY_ORIG_SHA256  $work/$PY_ORIG" | sha256sum --quiet -c - ||
    { echo "error: $work/$PY_ORIG is missing or does not match PY_ORIG_SHA256" >&2; exit 1; }
fi
src=$work/Python-3.11.2
[ -d "$src" ] || tar -xzf "$work/$PY_ORIG" -C "$work"

# The compiler: Debian's clang-19 with the wasi-libc sysroot. clang-19 looks for the sysroot's
# compiler-rt builtins under its own resource directory, so give it one that has them.
"$here/../../libs/wasi-toolchain/fetch.sh" "$work/toolchain" >/dev/null
sysroot=$work/toolchain/sysroot
rd=$work/resource-dir
mkdir -p "$rd/lib/wasm32-unknown-wasip1"
ln -sfn "$(clang-19 --print-resource-dir)/include" "$rd/include"
cp "$sysroot/lib/wasm32-unknown-wasip1/libclang_rt.builtins.a" "$rd/lib/wasm32-unknown-wasip1/"

build=$work/$variant
rm -rf "$build"
mkdir -p "$build/Modules"
# Extension modules whose libraries the sysroot lacks (configure finds the host's through
# pkg-config) are left out; none is used by the benchmark.
printf '*disabled*\nzlib\n_lzma\n_crypt\n_uuid\n_bz2\n' > "$build/Modules/Setup.local"
cd "$build"
# 3.11.2 predates this wasi-libc: its pthread.h lacks pthread_exit (threads never start on WASI)
# and its CLOCK_* constants are pointers (-Wno-int-conversion keeps them as module constants).
CONFIG_SITE=$src/Tools/wasm/config.site-wasm32-wasi \
CC="clang-19 --target=wasm32-wasip1 --sysroot=$sysroot -resource-dir=$rd" \
AR=llvm-ar-19 RANLIB=llvm-ranlib-19 \
  "$src/configure" --host=wasm32-unknown-wasi --build="$(uname -m)-pc-linux-gnu" \
  --with-build-python=python3.11 "$pymalloc" --disable-test-modules --with-ensurepip=no \
  OPT="-DNDEBUG -fwrapv -O3 -Wall -Wno-int-conversion '-Dpthread_exit(x)=abort()'" CFLAGS="$pic" \
  > configure.log 2>&1 || { tail -20 configure.log >&2; exit 1; }
# The disabled modules' libraries are still named on the link line: drop them.
sed -i -E 's/^(MODULE_(_CRYPT|_UUID|ZLIB|BINASCII|_LZMA)_LDFLAGS)=.*/\1=/; s/^(MODULE_BINASCII_CFLAGS)=.*/\1=/' Makefile
make -j"$(nproc)" python.wasm > make.log 2>&1 || { grep -E 'error|Error' make.log | head -20 >&2; exit 1; }

home=$work/prefix/lib/python3.11
if [ ! -d "$home" ]; then
  mkdir -p "$(dirname "$home")"
  cp -r "$src/Lib" "$home"
  rm -rf "$home/test" "$home/idlelib" "$home/tkinter"
fi
echo "$build/python.wasm"

#!/usr/bin/env bash
# Sets up, in DIR, everything needed to compile CPython 3.14 extensions for wasm32-wasi with
# Debian's clang-19 / wasm-ld-19, and writes DIR/env.sh.
#
#   libs/wasi-toolchain/fetch.sh DIR        (idempotent; a second call only re-checks the stamp)
#   . DIR/env.sh                            (exports CC, CXX, LDSHARED, CFLAGS, LDFLAGS, ...)
#   $CC $CFLAGS -c foo.c -o foo.o
#   $LDSHARED foo.o -o foo.cpython-314-wasm32-wasi.so    (links against libpython3.14.so + libc.so)
#   python3 libs/wasi-toolchain/check-so.py --base "$ERYX_WASI_BASE" foo.cpython-314-wasm32-wasi.so
#
# Inputs, each pinned by version and SHA-256 in libs/pins.txt and fetched by libs/pinned.sh
# (cached in eryx's cache folder, downloads/<sha256>/):
#   - PyPI `wasmpy-build` (pin `wasmpy-build`, a py3-none-any wheel):
#     its wasmpy_build/include/cp314/ holds the CPython 3.14 headers with a WASI pyconfig.h
#     (3.14.4 headers; same ABI as the 3.14.0 libpython3.14.so we link against).
#   - npm `@yowasp/clang` (pin `yowasp-clang`): gen/llvm-resources.tar holds a wasi-libc
#     sysroot (include/wasm32-wasip1), libc++ headers (include/c++/v1, ABI namespace __2 like the
#     base libc++.so) and static libraries (lib/wasm32-wasip1, lib/wasm32-unknown-wasip1).
#     Only the sysroot parts are unpacked: its clang-22 resource headers (stddef.h, ...) are
#     left out so that clang-19 uses its own.
#   - the base libraries (libpython3.14.so, libc.so, libc++.so, ...) from libs/fetch-base.sh.
#
# Layout of DIR:
#   DIR/include/python3.14/        CPython headers (Python.h, pyconfig.h, cpython/, internal/)
#   DIR/sysroot/include/...        wasi-libc + libc++ headers (passed as --sysroot)
#   DIR/sysroot/lib/...            static libs from the same sysroot (libclang_rt.builtins.a, ...)
#   DIR/base/                      base shared libraries to link against (libs/fetch-base.sh)
#   DIR/bin/wasm32-wasi-{cc,c++,ldshared}   wrappers around clang-19 (see env.sh for the flags)
#   DIR/env.sh                     exports; ERYX_WASI_TOOLCHAIN_ID identifies this toolchain
#   DIR/.stamp                     the pins this DIR was made from (re-extracted when it changes)
#
# Link model: every extension is a PIC shared module (wasm-ld --shared --experimental-pic) with
# a dylink.0 section; the base .so files are passed as link inputs so that every import must be
# a symbol they export (no --allow-undefined). C++ extensions add $ERYX_WASI_BASE/libc++.so and
# libc++abi.so (env.sh: LDCXXSHARED).
set -euo pipefail

dest=${1:?usage: libs/wasi-toolchain/fetch.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

CLANG=${ERYX_WASI_CLANG:-clang-19}
command -v "$CLANG" >/dev/null || { echo "error: $CLANG not found (apt-get install clang-19 lld-19)" >&2; exit 1; }
command -v wasm-ld-19 >/dev/null || { echo "error: wasm-ld-19 not found (apt-get install lld-19)" >&2; exit 1; }

pinned=$here/../pinned.sh

stamp="wasmpy-build $("$pinned" field wasmpy-build sha256) yowasp-clang $("$pinned" field yowasp-clang sha256) base $(sha256sum < "$here/../base-libs.sha256" | cut -d' ' -f1) fetch.sh $(sha256sum < "$0" | cut -d' ' -f1)"
if [ "$(cat "$dest/.stamp" 2>/dev/null)" != "$stamp" ]; then
  wheel=$("$pinned" path wasmpy-build)
  tgz=$("$pinned" path yowasp-clang)

  rm -rf "$dest/include" "$dest/sysroot" "$dest/bin" "$dest/base" "$dest/.stamp" "$dest/env.sh"
  mkdir -p "$dest/include/python3.14" "$dest/sysroot" "$dest/bin"
  python3 - "$wheel" "$dest/include/python3.14" <<'EOF'
import os, sys, zipfile
prefix = "wasmpy_build/include/cp314/"
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith(prefix) and not n.endswith("/"):
            out = os.path.join(sys.argv[2], n[len(prefix):])
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with open(out, "wb") as f:
                f.write(z.read(n))
EOF
  test -f "$dest/include/python3.14/pyconfig.h"
  tar -xzf "$tgz" -O package/gen/llvm-resources.tar |
    tar -x -C "$dest/sysroot" --no-same-owner --no-same-permissions \
      include/wasm32-wasip1 include/c++ lib/wasm32-wasip1 lib/wasm32-unknown-wasip1
  "$here/../fetch-base.sh" "$dest/base" >/dev/null
fi

id=$(echo "$stamp clang $("$CLANG" --version | head -1)" | sha256sum | cut -d' ' -f1)
common="--target=wasm32-wasip1 --sysroot=$dest/sysroot -fPIC -ffile-prefix-map=$dest=/eryx-wasi-toolchain -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_PROCESS_CLOCKS -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_MMAN"

cat > "$dest/bin/wasm32-wasi-cc" <<EOF
#!/bin/sh
exec $CLANG $common -I$dest/include/python3.14 "\$@"
EOF
cat > "$dest/bin/wasm32-wasi-c++" <<EOF
#!/bin/sh
exec ${CLANG/clang/clang++} $common -I$dest/include/python3.14 "\$@"
EOF
# The linker wrapper accepts compiler-style arguments (as setuptools passes them), links a PIC
# shared module and adds the base libraries. Extra base libs: ERYX_WASI_EXTRA_LIBS.
# The base libraries do not export compiler-rt builtins (__multi3, __addtf3 for long double, ...),
# so the sysroot's static libclang_rt.builtins.a is linked in (only the members that are used).
cat > "$dest/bin/wasm32-wasi-ldshared" <<EOF
#!/bin/sh
exec $CLANG --target=wasm32-wasip1 --sysroot=$dest/sysroot -fPIC -nostdlib -shared \\
  -fuse-ld=lld -Wl,--experimental-pic -Wl,--no-entry -Wl,--strip-debug \\
  "\$@" \$ERYX_WASI_EXTRA_LIBS $dest/base/libpython3.14.so $dest/base/libc.so \\
  $dest/sysroot/lib/wasm32-unknown-wasip1/libclang_rt.builtins.a
EOF
chmod +x "$dest/bin/"*

cat > "$dest/env.sh" <<EOF
# Generated by libs/wasi-toolchain/fetch.sh: source it to compile CPython 3.14 extensions for wasm32-wasi.
export ERYX_WASI_TOOLCHAIN=$dest
export ERYX_WASI_TOOLCHAIN_ID=$id
export ERYX_WASI_BASE=$dest/base
export ERYX_WASI_SYSROOT=$dest/sysroot
export ERYX_WASI_PYTHON_INCLUDE=$dest/include/python3.14
export ERYX_WASI_EXT_SUFFIX=.cpython-314-wasm32-wasi.so
export CC=$dest/bin/wasm32-wasi-cc
export CXX=$dest/bin/wasm32-wasi-c++
export LDSHARED=$dest/bin/wasm32-wasi-ldshared
export LDCXXSHARED="$dest/bin/wasm32-wasi-ldshared $dest/base/libc++.so $dest/base/libc++abi.so"
export AR=llvm-ar-19
export RANLIB=llvm-ranlib-19
export NM=llvm-nm-19
# Like CPython's own release flags: -DNDEBUG drops the asserts of the CPython headers (which
# would also embed header paths through __FILE__), -fwrapv as CPython is built.
export CFLAGS="-O2 -DNDEBUG -fwrapv"
export CXXFLAGS="-O2 -DNDEBUG -fwrapv"
export LDFLAGS=""
# The same flags for tools that want them spelled out (CC/CXX/LDSHARED above already add them):
export ERYX_WASI_CFLAGS="$common -I$dest/include/python3.14"
export ERYX_WASI_LDFLAGS="--shared --experimental-pic --no-entry --strip-debug $dest/base/libpython3.14.so $dest/base/libc.so $dest/sysroot/lib/wasm32-unknown-wasip1/libclang_rt.builtins.a"
EOF
echo "$stamp" > "$dest/.stamp"
echo "toolchain ready in $dest (source $dest/env.sh)" >&2

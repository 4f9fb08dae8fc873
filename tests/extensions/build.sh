#!/usr/bin/env bash
# Builds the two test extension wheels from our own sources into tests/fixtures/wheels/:
#   eryx_test_c-0.1.0-cp314-cp314-wasi_0_0_0_wasm32.whl     (c/: C, clang-19 + wasm-ld-19)
#   eryx_test_rust-0.1.0-cp314-cp314-wasi_0_0_0_wasm32.whl  (rust/: Rust, -Z build-std, rust-lld)
# and tests/fixtures/wheels/test-wheels.sources (the SHA-256 of every input that shapes them).
#
#   tests/extensions/build.sh          rebuild and overwrite the committed files
#   tests/extensions/build.sh --check  rebuild into tests/extensions/target and fail unless byte-identical
#
# Each wheel holds a package <name>/ with an __init__.py (pure Python, re-exporting the native
# functions) and <name>/_native.cpython-314-wasm32-wasi.so, a PIC wasm32 shared module that
# imports only symbols exported by libpython3.14.so and libc.so (checked by check-so.py).
# Native API of both: add(a, b), greet(name), fail(msg) -> ValueError, counter() (module state),
# call(f, x) -> f(x), and the constant `implementation` ("c" or "rust").
#
# Reproducible: the C compiler is Debian's clang-19 (its version is part of the toolchain stamp),
# the Rust compiler is pinned by rust/rust-toolchain.toml, machine paths are remapped, and the
# zip is written by libs/sdist-wheel/mkwheel.py with fixed timestamps and sorted entries.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
target=$here/target
fixtures=$repo/tests/fixtures/wheels
tag=cp314-cp314-wasi_0_0_0_wasm32
version=0.1.0
suffix=.cpython-314-wasm32-wasi.so

"$repo/libs/wasi-toolchain/fetch.sh" "$target/toolchain" 2>/dev/null
# shellcheck disable=SC1091
. "$target/toolchain/env.sh"

rm -rf "$target/out" "$target/stage" "$target/obj"
mkdir -p "$target/out" "$target/stage/c/eryx_test_c" "$target/stage/rust/eryx_test_rust" "$target/obj"

# --- C ---
cp "$here/c/eryx_test_c/__init__.py" "$target/stage/c/eryx_test_c/"
"$CC" $CFLAGS -Wall -Wextra -Werror -Wno-unused-parameter -ffile-prefix-map="$here"=/eryx/tests/extensions \
  -c "$here/c/_native.c" -o "$target/obj/eryx_test_c_native.o"
"$LDSHARED" "$target/obj/eryx_test_c_native.o" -o "$target/stage/c/eryx_test_c/_native$suffix"

# --- Rust ---
cp "$here/rust/eryx_test_rust/__init__.py" "$target/stage/rust/eryx_test_rust/"
(
  cd "$here/rust"
  sysroot=$(rustc --print sysroot)
  cargo_home=${CARGO_HOME:-$HOME/.cargo}
  export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$target/rust
  export RUSTFLAGS="-C relocation-model=pic --remap-path-prefix=$here/rust=/eryx/tests/extensions/rust --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$sysroot=/rustc"
  cargo build --locked --quiet --release --target wasm32-wasip1 -Z build-std=core,alloc
  host=$(rustc -vV | sed -n 's/^host: //p')
  # rust-lld, not wasm-ld-19: Rust's objects come from a newer LLVM. Not --whole-archive: only
  # the object that defines PyInit__native (and what it needs) is linked, so nothing else of the
  # Rust runtime is exported.
  "$sysroot/lib/rustlib/$host/bin/rust-lld" -flavor wasm --shared --experimental-pic --no-entry \
    -u PyInit__native "$target/rust/wasm32-wasip1/release/liberyx_test_rust.a" \
    "$ERYX_WASI_BASE/libpython3.14.so" "$ERYX_WASI_BASE/libc.so" \
    -o "$target/stage/rust/eryx_test_rust/_native$suffix"
)

python3 "$repo/libs/wasi-toolchain/check-so.py" --quiet --base "$ERYX_WASI_BASE" \
  "$target/stage/c/eryx_test_c/_native$suffix" "$target/stage/rust/eryx_test_rust/_native$suffix"

python3 "$repo/libs/sdist-wheel/mkwheel.py" --name eryx_test_c --version $version --tag $tag \
  --summary "Test extension for eryx, written in C" --outdir "$target/out" "$target/stage/c" >/dev/null
python3 "$repo/libs/sdist-wheel/mkwheel.py" --name eryx_test_rust --version $version --tag $tag \
  --summary "Test extension for eryx, written in Rust" --outdir "$target/out" "$target/stage/rust" >/dev/null

# The inputs that shape the wheels (the compilers are pinned by rust-toolchain.toml and the
# toolchain stamp; clang-19's version is part of ERYX_WASI_TOOLCHAIN_ID).
# The toolchain's downloads are pinned in libs/pins.txt: their sha256s count, not the whole file.
sources=$( (cd "$repo" && sha256sum tests/extensions/build.sh tests/extensions/c/_native.c \
    tests/extensions/c/eryx_test_c/__init__.py tests/extensions/rust/Cargo.toml \
    tests/extensions/rust/Cargo.lock tests/extensions/rust/rust-toolchain.toml \
    tests/extensions/rust/src/lib.rs tests/extensions/rust/eryx_test_rust/__init__.py \
    libs/wasi-toolchain/fetch.sh libs/sdist-wheel/mkwheel.py libs/base-libs.sha256 &&
    libs/pinned.sh field wasmpy-build sha256 && libs/pinned.sh field yowasp-clang sha256) |
  sha256sum | cut -d' ' -f1)
echo "$sources" > "$target/out/test-wheels.sources"

wheels="eryx_test_c-$version-$tag.whl eryx_test_rust-$version-$tag.whl"
if [ "${1:-}" = "--check" ]; then
  for f in $wheels test-wheels.sources; do
    cmp "$target/out/$f" "$fixtures/$f" || {
      echo "error: tests/fixtures/wheels/$f is not what its sources build; run tests/extensions/build.sh and commit" >&2; exit 1; }
  done
  echo "test wheels are up to date and rebuild byte-identically"
else
  mkdir -p "$fixtures"
  rm -f "$fixtures"/eryx_test_c-*.whl "$fixtures"/eryx_test_rust-*.whl
  for f in $wheels test-wheels.sources; do cp "$target/out/$f" "$fixtures/"; done
  for f in $wheels; do echo "wrote tests/fixtures/wheels/$f ($(wc -c < "$fixtures/$f") bytes)"; done
fi

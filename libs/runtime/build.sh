#!/usr/bin/env bash
# Rebuilds libs/runtime/eryx_runtime.so (the guest runtime, a PIC wasm32-wasip1 shared module)
# and libs/runtime/eryx_runtime.so.sources (the SHA-256 of every input that shapes it).
#
#   libs/runtime/build.sh          rebuild and overwrite the committed files
#   libs/runtime/build.sh --check  rebuild into target/ and fail unless it is byte-identical
#
# Reproducible: the compiler is pinned by rust-toolchain.toml, the dependencies by Cargo.lock,
# and every machine-specific path is remapped out of the binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
out=$here/target/out
mkdir -p "$out"

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
cargo_home=${CARGO_HOME:-$HOME/.cargo}
export RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$here/target
export RUSTFLAGS="-C relocation-model=pic --remap-path-prefix=$here=/eryx/runtime --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$sysroot=/rustc"
cargo build --locked --quiet --release --target wasm32-wasip1 -Z build-std=std,panic_abort

"$here/../fetch-base.sh" "$out/base" >/dev/null
"$sysroot/lib/rustlib/$host/bin/rust-lld" -flavor wasm --shared --experimental-pic \
  --whole-archive target/wasm32-wasip1/release/liberyx_runtime.a --no-whole-archive \
  "$out/base/libpython3.14.so" "$out/base/libc.so" -o "$out/eryx_runtime.so"

# The same list of inputs is hashed by the staleness test in libs/tests/runtime_fresh.rs.
sources=$( (cd "$here/.." && sha256sum runtime/Cargo.toml runtime/Cargo.lock runtime/rust-toolchain.toml runtime/build.sh runtime/src/* wit/* base-libs.sha256) | sha256sum | cut -d' ' -f1)
echo "$sources" > "$out/eryx_runtime.so.sources"

if [ "${1:-}" = "--check" ]; then
  cmp "$out/eryx_runtime.so" eryx_runtime.so || { echo "error: libs/runtime/eryx_runtime.so is not what its sources build; run libs/runtime/build.sh and commit" >&2; exit 1; }
  cmp "$out/eryx_runtime.so.sources" eryx_runtime.so.sources || { echo "error: libs/runtime/eryx_runtime.so.sources is stale; run libs/runtime/build.sh and commit" >&2; exit 1; }
  echo "eryx_runtime.so is up to date and rebuilds byte-identically"
else
  cp "$out/eryx_runtime.so" "$out/eryx_runtime.so.sources" .
  echo "wrote libs/runtime/eryx_runtime.so ($(wc -c < eryx_runtime.so) bytes)"
fi

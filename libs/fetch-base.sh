#!/usr/bin/env bash
# Unpacks the verified base libraries (libc, libc++, libpython3.14, ...) into DIR, for the
# scripts that compile and link wasm32-wasi code against them (test extensions, sdist wheels).
# They come from the `componentize-py` crate pinned in Cargo.lock (see libs/Cargo.toml);
# each file is checked against libs/base-libs.sha256 before it is unpacked.
set -euo pipefail
dest=${1:?usage: libs/fetch-base.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cargo metadata --format-version 1 --locked --manifest-path "$here/../Cargo.toml" |
  python3 -c 'import json,sys,os; m=json.load(sys.stdin); print(next(os.path.dirname(p["manifest_path"]) for p in m["packages"] if p["name"]=="componentize-py"))')
(cd "$src" && sha256sum --quiet -c "$here/base-libs.sha256") || {
  echo "error: the base libraries in $src do not match libs/base-libs.sha256" >&2; exit 1; }
mkdir -p "$dest"
while read -r _ f; do
  zstd -q -f -d "$src/$f" -o "$dest/${f%.zst}"
done < "$here/base-libs.sha256"

#!/usr/bin/env bash
# Builds and installs the `eryx` Python package the documented way (`pip install eryx-rt/python`)
# into a private venv, then runs its tests under pytest against real sandboxes, and `eryx mcp`
# end to end with the official MCP Python SDK as the client (tests/test_mcp.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
venv="$target/python-test-venv"
# maturin builds eryx-python alone: its dependencies must resolve the workspace's features, or
# wasmtime and Cranelift compile a second time (check_features.py says which drifted).
python3 "$here/check_features.py"
python3 -m venv "$venv"
pins=()
for name in pytest-host mcp-sdk; do pins+=("$("$root/libs/pinned.sh" field "$name" requirement)"); done
"$venv/bin/pip" install -q --disable-pip-version-check "${pins[@]}"
# The same cargo target folder as the workspace, so the sandbox runtime is not compiled twice.
CARGO_TARGET_DIR="$target" "$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall "$here"
# The `eryx` binary for the MCP tests, built with the workspace's feature set (the same build as
# `cargo build --workspace --all-features --release`, so nothing is compiled twice).
(cd "$root" && CARGO_TARGET_DIR="$target" cargo build -q --workspace --all-features --release --bin eryx)
ERYX_BIN="$target/release/eryx" "$venv/bin/python" -m pytest -q -p no:cacheprovider "$here/tests" "$@"

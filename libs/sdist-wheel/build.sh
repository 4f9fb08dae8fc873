#!/usr/bin/env bash
# Turns a C-extension sdist from PyPI into a wasm32-wasi CPython 3.14 wheel; see build.py.
#   libs/sdist-wheel/build.sh NAME==VERSION SHA256 OUTDIR
#   e.g. libs/sdist-wheel/build.sh markupsafe==3.0.4 2e9ad7dd851bf45fab9f75cbff4cb493fee9979e8d8c7c9c3ee119022518edd6 OUTDIR
# Prints the wheel's path. Built wheels are cached under ${XDG_CACHE_HOME:-$HOME/.cache}/eryx/wheels/.
set -euo pipefail
exec python3 "$(cd "$(dirname "$0")" && pwd)/build.py" "$@"

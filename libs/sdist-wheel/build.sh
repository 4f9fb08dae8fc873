#!/usr/bin/env bash
# Turns a C-extension sdist from PyPI into a wasm32-wasi CPython 3.14 wheel; see build.py.
#   libs/sdist-wheel/build.sh PIN OUTDIR                    (PIN: an sdist of libs/pins.txt)
#   libs/sdist-wheel/build.sh NAME==VERSION SHA256 OUTDIR   (any other sdist)
#   e.g. libs/sdist-wheel/build.sh markupsafe-sdist OUTDIR
# Prints the wheel's path. Built wheels are cached in wheels/ of eryx's cache folder
# ($ERYX_CACHE_DIR, else ${XDG_CACHE_HOME:-$HOME/.cache}/eryx).
set -euo pipefail
exec python3 "$(cd "$(dirname "$0")" && pwd)/build.py" "$@"

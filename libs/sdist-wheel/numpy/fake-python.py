#!/usr/bin/env python3
"""Stands in for the target CPython 3.14 (wasm32-wasi) when meson asks about "python".

meson's python module introspects the interpreter named `python` in the cross file by running
its python_info.py script. We cannot run the wasm interpreter on the build machine, so this script
runs that introspection with the build machine's python3 and then overrides every answer that
describes the target: version 3.14, the extension suffix .cpython-314-wasm32-wasi.so, the
include folder (the CPython 3.14 WASI headers of the toolchain), no libpython to link
(extensions resolve CPython's symbols against libpython3.14.so at component link time), no
pkg-config (LIBPC), and `--version` says 3.14.0. Any other use (numpy's code generators, `python -c ...`) runs the build
machine's python3 unchanged: those scripts only produce C sources and text.

Environment: ERYX_WASI_PYTHON_INCLUDE (from the toolchain's env.sh), ERYX_HOST_PYTHON (the
interpreter to run, defaults to the one running this script).
"""
import json
import os
import subprocess
import sys

host = os.environ.get("ERYX_HOST_PYTHON") or sys.executable
args = sys.argv[1:]
if args in (["--version"], ["-V"]):
    # meson's py.version() (numpy installs numpy.distutils only for Python < 3.12)
    print("Python 3.14.0")
    sys.exit(0)
if not any(os.path.basename(a) == "python_info.py" for a in args):
    os.execv(host, [host] + args)

info = json.loads(subprocess.run([host] + args, check=True, capture_output=True, text=True).stdout)
inc = os.environ["ERYX_WASI_PYTHON_INCLUDE"]
suffix = ".cpython-314-wasm32-wasi.so"
v = info["variables"]
for k in ("LIBPC", "LIBDIR", "LIBRARY", "LDLIBRARY", "LIBPL", "DEBUG_EXT"):
    v.pop(k, None)
v.update({
    "INCLUDEPY": inc,
    "CONFINCLUDEPY": inc,
    "EXT_SUFFIX": suffix,
    "SOABI": "cpython-314-wasm32-wasi",
    "LDVERSION": "3.14",
    "VERSION": "3.14",
    "py_version_nodot": "314",
    "ABIFLAGS": "",
    "Py_GIL_DISABLED": 0,
    "Py_DEBUG": 0,
    "Py_ENABLE_SHARED": 0,
    "LIBPYTHON": "",
    "MULTIARCH": "wasm32-wasi",
    "HOST_GNU_TYPE": "wasm32-unknown-wasip1",
})
for paths in (info["paths"], info["sysconfig_paths"]):
    paths["include"] = inc
    paths["platinclude"] = inc
info["install_paths"].update({
    "include": "include/python3.14", "platinclude": "include/python3.14",
    "purelib": "/lib/python3.14/site-packages", "platlib": "/lib/python3.14/site-packages",
})
info.update({
    "version": "3.14",
    "platform": "wasi-wasm32",
    "is_pypy": False,
    "is_freethreaded": False,
    "link_libpython": False,
    "suffix": suffix,
    "limited_api_suffix": ".abi3.so",
})
print(json.dumps(info))

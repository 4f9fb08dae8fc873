"""Runs a setuptools project's `setup.py build` so that its C/C++ extensions come out as
wasm32-wasi CPython 3.14 extension modules. Started by libs/sdist-wheel/build.py, in the unpacked
sdist, with the pinned setuptools and the environment of libs/wasi-toolchain's env.sh.

usage: python setup_driver.py BUILD_LIB BUILD_TEMP REPORT.json

What it changes in setuptools' build_ext (nothing else of the project's setup is touched):
  - the compiler: CC / CXX (with CFLAGS / CXXFLAGS) compile, LDSHARED / LDCXXSHARED link, AR archives;
    none of the host interpreter's compiler flags are kept;
  - include dirs: the host interpreter's own include dirs are dropped (the wasm32-wasi CPython
    headers come in through CC), library dirs and rpaths are dropped, libpython is not added;
  - file names: every extension is written as <name>.cpython-314-wasm32-wasi.so (from
    ERYX_WASI_EXT_SUFFIX), also for py_limited_api extensions;
  - it records the extensions the project asked for in REPORT.json so that build.py can fail when
    one is missing (some projects fall back to pure Python when build_ext fails).
"""
import json
import os
import runpy
import shlex
import sys
import sysconfig

build_lib, build_temp, report = sys.argv[1:4]

import setuptools  # noqa: E402  (the pinned setuptools; also installs its distutils)
from setuptools.command.build_ext import build_ext  # noqa: E402

SUFFIX = os.environ["ERYX_WASI_EXT_SUFFIX"]
requested = []


def host_include_dirs():
    dirs = set()
    for key in ("include", "platinclude"):
        p = sysconfig.get_paths().get(key)
        if p:
            dirs.add(os.path.realpath(p))
    for var in ("INCLUDEPY", "CONFINCLUDEPY"):
        p = sysconfig.get_config_var(var)
        if p:
            dirs.add(os.path.realpath(p))
    try:
        from distutils import sysconfig as dsc
        dirs.add(os.path.realpath(dsc.get_python_inc()))
        dirs.add(os.path.realpath(dsc.get_python_inc(plat_specific=True)))
    except Exception:  # noqa: BLE001
        pass
    return dirs


def configure_compiler(compiler):
    env = os.environ
    cc = shlex.split(env["CC"]) + shlex.split(env.get("CFLAGS", ""))
    cxx = shlex.split(env["CXX"]) + shlex.split(env.get("CXXFLAGS", ""))
    ld = shlex.split(env["LDSHARED"]) + shlex.split(env.get("LDFLAGS", ""))
    ldxx = shlex.split(env["LDCXXSHARED"]) + shlex.split(env.get("LDFLAGS", ""))
    ex = {
        "preprocessor": cc + ["-E"],
        "compiler": cc,
        "compiler_so": cc,
        "compiler_cxx": cxx,
        "compiler_so_cxx": cxx,
        "linker_so": ld,
        "linker_so_cxx": ldxx,
        "linker_exe": ld,
        "linker_exe_cxx": ldxx,
        "archiver": shlex.split(env.get("AR", "llvm-ar-19")) + ["rcs"],
        "ranlib": None,
    }
    for key, value in ex.items():
        if key in compiler.executables or hasattr(compiler, key):
            if value is None:
                setattr(compiler, key, None)
            else:
                compiler.set_executable(key, value)
    # distutils swaps the linker for compiler_cxx when it links C++; LDCXXSHARED already is the
    # right linker, so leave compiler_cxx empty at link time (compiling uses compiler_so_cxx).
    compiler.compiler_cxx = []
    host = host_include_dirs()
    compiler.include_dirs = [d for d in compiler.include_dirs if os.path.realpath(d) not in host]
    compiler.library_dirs = []
    compiler.runtime_library_dirs = []


_orig_build_extensions = build_ext.build_extensions


def build_extensions(self):
    configure_compiler(self.compiler)
    for ext in self.extensions:
        requested.append({"name": ext.name, "file": self.get_ext_filename(self.get_ext_fullname(ext.name))})
        ext.runtime_library_dirs = []
        ext.library_dirs = []
    return _orig_build_extensions(self)


def get_ext_filename(self, fullname):
    return os.path.join(*fullname.split(".")) + SUFFIX


def get_libraries(self, ext):
    return list(ext.libraries)


build_ext.build_extensions = build_extensions
build_ext.get_ext_filename = get_ext_filename
build_ext.get_libraries = get_libraries

# distutils' own copy (some projects import build_ext from distutils.command)
try:
    from distutils.command import build_ext as dbe
    if dbe.build_ext is not build_ext:
        dbe.build_ext.get_ext_filename = get_ext_filename
        dbe.build_ext.get_libraries = get_libraries
        _orig_d = dbe.build_ext.build_extensions

        def d_build_extensions(self):
            configure_compiler(self.compiler)
            for ext in self.extensions:
                requested.append({"name": ext.name, "file": self.get_ext_filename(self.get_ext_fullname(ext.name))})
            return _orig_d(self)
        dbe.build_ext.build_extensions = d_build_extensions
except ImportError:
    pass

sys.argv = ["setup.py", "build", "--build-lib", build_lib, "--build-temp", build_temp,
            "--build-scripts", os.path.join(build_temp, "scripts")]
try:
    if os.path.exists("setup.py"):
        sys.path.insert(0, os.getcwd())
        runpy.run_path("setup.py", run_name="__main__")
    else:
        setuptools.setup()
finally:
    with open(report, "w") as f:
        json.dump({"extensions": requested}, f)

#!/usr/bin/env python3
"""Turns a C-extension sdist from PyPI into a wasm32-wasi wheel for CPython 3.14.

usage: libs/sdist-wheel/build.sh NAME==VERSION SHA256 OUTDIR     (prints the wheel's path)
  e.g. libs/sdist-wheel/build.sh markupsafe==3.0.4 \
         2e9ad7dd851bf45fab9f75cbff4cb493fee9979e8d8c7c9c3ee119022518edd6 target/wheels

Steps:
 1. the toolchain: libs/wasi-toolchain/fetch.sh into $ERYX_WASI_TOOLCHAIN if that is set, else
    into libs/sdist-wheel/target/toolchain (clang-19 + wasm-ld-19, CPython 3.14 WASI headers);
 2. the cache: ${XDG_CACHE_HOME:-$HOME/.cache}/eryx/wheels/<key>/ where <key> hashes the sdist's
    sha256, the toolchain id (ERYX_WASI_TOOLCHAIN_ID) and these scripts; a hit is copied to OUTDIR
    at once;
 3. the sdist: `pip download --no-binary :all: --no-deps NAME==VERSION`, checked against SHA256
    (cached under .../eryx/sdists/<sha256>/);
 4. the build: the project's own `setup.py build` (or `setuptools.setup()` for pyproject-only
    setuptools projects) runs under a pinned setuptools (a venv cached under
    .../eryx/sdist-wheel/), with setup_driver.py swapping the compiler for the wasm32-wasi one and
    naming each extension <mod>.cpython-314-wasm32-wasi.so. So the project's own extension list,
    sources, macros, include dirs and package data are used as they are. Build requirements other
    than setuptools (Cython, numpy, meson-python, ...) are NOT supported: such projects fail;
 5. checks: every extension the project declared must have been built (MarkupSafe, for one,
    falls back to pure Python when its extension fails), and every .so is checked by
    libs/wasi-toolchain/check-so.py (dylink.0, imports only what libpython3.14.so/libc.so export,
    PyInit_<mod> exported);
 6. the wheel: libs/sdist-wheel/mkwheel.py packs the build folder (pure Python + .so files) with
    the sdist's PKG-INFO as METADATA and its License-File files, tag cp314-cp314-wasi_0_0_0_wasm32.
    The zip is reproducible (fixed timestamps, sorted entries; the sdist's folder is remapped in
    the objects with -ffile-prefix-map).

Note: setup.py runs under the host interpreter (python3.11 here), so a setup.py that looks at
sys.version_info or the host platform sees the host's. The wheel targets CPython 3.14 regardless.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_LIBS = os.path.dirname(HERE)
TAG = "cp314-cp314-wasi_0_0_0_wasm32"
SETUPTOOLS = "setuptools==80.9.0"
SETUPTOOLS_SHA256 = "062d34222ad13e0cc312a4c02d73f059e86a4acbfbdea8f8f76b28c99f306922"
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "eryx")


def log(msg):
    print(f"sdist-wheel: {msg}", file=sys.stderr)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def toolchain():
    """Sets up the toolchain and returns the environment of its env.sh."""
    tc = os.environ.get("ERYX_WASI_TOOLCHAIN") or os.path.join(HERE, "target", "toolchain")
    subprocess.run([os.path.join(REPO_LIBS, "wasi-toolchain", "fetch.sh"), tc], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out = subprocess.run(["bash", "-c", '. "$1" && env -0', "_", os.path.join(tc, "env.sh")],
                         check=True, capture_output=True).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


def fetch_sdist(req, sha):
    dest = os.path.join(CACHE, "sdists", sha)
    if os.path.isdir(dest):
        for fn in os.listdir(dest):
            p = os.path.join(dest, fn)
            if sha256_file(p) == sha:
                return p
    os.makedirs(os.path.join(CACHE, "sdists"), exist_ok=True)
    tmp = tempfile.mkdtemp(dir=os.path.join(CACHE, "sdists"), prefix=".dl.")
    try:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "-d", tmp, req], check=True, stdout=sys.stderr)
        files = os.listdir(tmp)
        if len(files) != 1:
            sys.exit(f"error: pip download {req} gave {files}")
        got = sha256_file(os.path.join(tmp, files[0]))
        if got != sha:
            sys.exit(f"error: {files[0]} has sha256 {got}, expected {sha}")
        os.makedirs(dest, exist_ok=True)
        os.replace(os.path.join(tmp, files[0]), os.path.join(dest, files[0]))
        return os.path.join(dest, files[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_python():
    """A venv holding the pinned setuptools (made once per machine)."""
    venv = os.path.join(CACHE, "sdist-wheel", f"venv-{SETUPTOOLS_SHA256[:16]}")
    py = os.path.join(venv, "bin", "python")
    if os.path.exists(os.path.join(venv, ".ready")):
        return py
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(f"{SETUPTOOLS} --hash=sha256:{SETUPTOOLS_SHA256}\n")
        reqs = f.name
    try:
        subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
                        "--require-hashes", "-r", reqs], check=True, stdout=sys.stderr)
    finally:
        os.unlink(reqs)
    open(os.path.join(venv, ".ready"), "w").close()
    return py


def unpack(sdist, into):
    if sdist.endswith(".zip"):
        with zipfile.ZipFile(sdist) as z:
            z.extractall(into)
    else:
        with tarfile.open(sdist) as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(into, filter="data")
            else:
                t.extractall(into)
    entries = os.listdir(into)
    if len(entries) != 1 or not os.path.isdir(os.path.join(into, entries[0])):
        sys.exit(f"error: {sdist} does not unpack into one folder")
    return os.path.join(into, entries[0])


def pkg_info(path):
    """Name, version and License-File entries of a PKG-INFO (RFC 822 style headers)."""
    name = version = None
    licenses = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                break
            key, _, value = line.partition(":")
            value = value.strip()
            if key == "Name":
                name = value
            elif key == "Version":
                version = value
            elif key == "License-File":
                licenses.append(value)
    return name, version, licenses


def main():
    if len(sys.argv) != 4 or "==" not in sys.argv[1]:
        sys.exit(__doc__)
    req, sha, outdir = sys.argv[1], sys.argv[2].lower(), sys.argv[3]
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        sys.exit("error: SHA256 must be 64 hex digits")
    env = toolchain()
    scripts = "".join(sha256_file(os.path.join(HERE, f)) for f in ("build.py", "setup_driver.py", "mkwheel.py"))
    key = hashlib.sha256(f"{sha}\n{env['ERYX_WASI_TOOLCHAIN_ID']}\n{SETUPTOOLS_SHA256}\n{scripts}\n".encode()).hexdigest()
    cached = os.path.join(CACHE, "wheels", key)
    os.makedirs(outdir, exist_ok=True)
    if os.path.isdir(cached):
        wheels = [w for w in os.listdir(cached) if w.endswith(".whl")]
        if len(wheels) == 1:
            shutil.copyfile(os.path.join(cached, wheels[0]), os.path.join(outdir, wheels[0]))
            log(f"cached: {wheels[0]}")
            print(os.path.abspath(os.path.join(outdir, wheels[0])))
            return

    sdist = fetch_sdist(req, sha)
    py = build_python()
    work = tempfile.mkdtemp(prefix="eryx-sdist-wheel.")
    try:
        src = unpack(sdist, os.path.join(work, "src"))
        build_lib = os.path.join(work, "lib")
        build_temp = os.path.join(work, "temp")
        report = os.path.join(work, "report.json")
        benv = dict(os.environ)
        benv.update({k: v for k, v in env.items() if k.startswith("ERYX_WASI_") or k in (
            "CC", "CXX", "LDSHARED", "LDCXXSHARED", "AR", "RANLIB", "NM", "CFLAGS", "CXXFLAGS", "LDFLAGS")})
        remap = f"-ffile-prefix-map={src}=/sdist -ffile-prefix-map={work}=/build"
        benv["CFLAGS"] = f"{env['CFLAGS']} {remap}"
        benv["CXXFLAGS"] = f"{env['CXXFLAGS']} {remap}"
        benv.pop("CPPFLAGS", None)
        benv["SOURCE_DATE_EPOCH"] = "315532800"
        benv["PYTHONDONTWRITEBYTECODE"] = "1"
        logfile = os.path.join(work, "build.log")
        log(f"building {os.path.basename(sdist)} (setup.py build with the wasm32-wasi compiler)")
        with open(logfile, "w") as lf:
            r = subprocess.run([py, os.path.join(HERE, "setup_driver.py"), build_lib, build_temp, report],
                               cwd=src, env=benv, stdout=lf, stderr=subprocess.STDOUT)
        with open(logfile) as lf:
            text = lf.read()
        if r.returncode != 0:
            sys.stderr.write(text[-20000:])
            sys.exit(f"error: the build of {req} failed (exit {r.returncode})")
        with open(report) as f:
            exts = json.load(f)["extensions"]
        missing = [e["name"] for e in exts if not os.path.exists(os.path.join(build_lib, e["file"]))]
        if not exts or missing:
            sys.stderr.write(text[-20000:])
            sys.exit(f"error: {req}: extensions not built: {missing or 'the project declares none'}")
        sos = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(build_lib) for f in fs if f.endswith(".so"))
        subprocess.run([sys.executable, os.path.join(REPO_LIBS, "wasi-toolchain", "check-so.py"), "--quiet",
                        "--base", env["ERYX_WASI_BASE"], "--lib", "libc++.so", "--lib", "libc++abi.so"] + sos,
                       check=True)
        name, version, license_files = pkg_info(os.path.join(src, "PKG-INFO"))
        lic_args = []
        for lic in license_files:
            if os.path.exists(os.path.join(src, lic)):
                lic_args += ["--license", f"{os.path.join(src, lic)}={lic}"]
        staging = os.path.join(work, "wheel")
        os.makedirs(staging)
        out = subprocess.run([sys.executable, os.path.join(HERE, "mkwheel.py"), "--name", name, "--version", version,
                              "--tag", TAG, "--metadata", os.path.join(src, "PKG-INFO"), "--outdir", staging]
                             + lic_args + [build_lib], check=True, capture_output=True, text=True).stdout.strip()
        wheel = os.path.basename(out)
        os.makedirs(os.path.join(CACHE, "wheels"), exist_ok=True)
        tmpcache = tempfile.mkdtemp(dir=os.path.join(CACHE, "wheels"), prefix=".new.")
        shutil.copyfile(out, os.path.join(tmpcache, wheel))
        shutil.rmtree(cached, ignore_errors=True)
        os.replace(tmpcache, cached)
        shutil.copyfile(out, os.path.join(outdir, wheel))
        log(f"built {wheel} ({len(sos)} extension module(s))")
        print(os.path.abspath(os.path.join(outdir, wheel)))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

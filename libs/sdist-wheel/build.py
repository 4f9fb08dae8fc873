#!/usr/bin/env python3
"""Turns a C-extension sdist from PyPI into a wasm32-wasi wheel for CPython 3.14.

usage: libs/sdist-wheel/build.sh PIN OUTDIR                   (prints the wheel's path)
       libs/sdist-wheel/build.sh NAME==VERSION SHA256 OUTDIR
  e.g. libs/sdist-wheel/build.sh markupsafe-sdist target/wheels
PIN names an sdist pinned in libs/pins.txt; any other sdist is pinned on the command line.

Steps:
 1. the toolchain: libs/wasi-toolchain/fetch.sh into $ERYX_WASI_TOOLCHAIN if that is set, else
    into libs/sdist-wheel/target/toolchain (clang-19 + wasm-ld-19, CPython 3.14 WASI headers);
 2. the cache: wheels/<key>/ in eryx's cache folder (`libs/pinned.sh cache-dir`: $ERYX_CACHE_DIR,
    else ${XDG_CACHE_HOME:-$HOME/.cache}/eryx), where <key> hashes the sdist's sha256, the
    toolchain id (ERYX_WASI_TOOLCHAIN_ID) and these scripts; a hit is copied to OUTDIR at once;
 3. the sdist: `libs/pinned.sh path PIN` (or `fetch pip-sdist NAME==VERSION SHA256`): pip
    download, checked against the pinned sha256, kept in the cache's downloads/<sha256>/;
 4. the build: the project's own `setup.py build` (or `setuptools.setup()` for pyproject-only
    setuptools projects) runs under the pinned setuptools (pin `setuptools`, installed into a
    venv under the cache's venvs/), with setup_driver.py swapping the compiler for the wasm32-wasi one and
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
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_LIBS = os.path.dirname(HERE)
TAG = "cp314-cp314-wasi_0_0_0_wasm32"
PINNED = os.path.join(REPO_LIBS, "pinned.sh")


def pinned(*args):
    """Runs libs/pinned.sh (pinned downloads, pins, the cache folder) and returns its output."""
    return subprocess.run([PINNED, *args], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()


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


def build_python(cache):
    """A venv holding the pinned setuptools (made once per machine)."""
    setuptools_sha256 = pinned("field", "setuptools", "sha256")
    venv = os.path.join(cache, "venvs", f"setuptools-{setuptools_sha256[:16]}")
    py = os.path.join(venv, "bin", "python")
    if os.path.exists(os.path.join(venv, ".ready")):
        return py
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-index",
                    pinned("path", "setuptools")], check=True, stdout=sys.stderr)
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
    if len(sys.argv) == 3:
        pin, outdir = sys.argv[1], sys.argv[2]
        client = pinned("field", pin, "client")
        if not client.startswith("pip-sdist"):
            sys.exit(f"error: pin {pin} is not an sdist (its client is {client}; see libs/pins.txt)")
        req, sha = pinned("field", pin, "requirement"), pinned("field", pin, "sha256")
        fetch_sdist = ["path", pin]
    elif len(sys.argv) == 4 and "==" in sys.argv[1]:
        req, sha, outdir = sys.argv[1], sys.argv[2].lower(), sys.argv[3]
        fetch_sdist = ["fetch", "pip-sdist", req, sha]
    else:
        sys.exit(__doc__)
    cache = pinned("cache-dir")
    env = toolchain()
    scripts = "".join(sha256_file(os.path.join(HERE, f)) for f in ("build.py", "setup_driver.py", "mkwheel.py"))
    setuptools_sha256 = pinned("field", "setuptools", "sha256")
    key = hashlib.sha256(f"{sha}\n{env['ERYX_WASI_TOOLCHAIN_ID']}\n{setuptools_sha256}\n{scripts}\n".encode()).hexdigest()
    cached = os.path.join(cache, "wheels", key)
    os.makedirs(outdir, exist_ok=True)
    if os.path.isdir(cached):
        wheels = [w for w in os.listdir(cached) if w.endswith(".whl")]
        if len(wheels) == 1:
            shutil.copyfile(os.path.join(cached, wheels[0]), os.path.join(outdir, wheels[0]))
            log(f"cached: {wheels[0]}")
            print(os.path.abspath(os.path.join(outdir, wheels[0])))
            return

    sdist = pinned(*fetch_sdist)
    py = build_python(cache)
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
        os.makedirs(os.path.join(cache, "wheels"), exist_ok=True)
        tmpcache = tempfile.mkdtemp(dir=os.path.join(cache, "wheels"), prefix=".new.")
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

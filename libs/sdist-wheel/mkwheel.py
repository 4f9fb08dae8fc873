#!/usr/bin/env python3
"""Writes a reproducible PEP 427 wheel from a staging folder.

usage: mkwheel.py --name NAME --version VERSION --tag TAG --outdir DIR
                  (--summary TEXT | --metadata PKG-INFO) [--license FILE[=NAME] ...] ROOT

Every file under ROOT goes into the wheel at the same relative path (ROOT is what site-packages
would hold). The .dist-info folder gets METADATA (the given PKG-INFO, which has the same format,
or a minimal one built from --summary), WHEEL (Root-Is-Purelib: false, the given tag), the
--license files under licenses/ (as NAME, by default the file's base name), and RECORD with a sha256 and size for every other entry.

The zip is byte-for-byte reproducible: entries sorted (the .dist-info entries last, RECORD at the
very end), every timestamp 1980-01-01 00:00:00, permissions 0644 (0755 for .so files), Unix
origin, deflate level 9. Prints the wheel's path.
"""
import argparse
import base64
import hashlib
import os
import re
import sys
import zipfile

EPOCH = (1980, 1, 1, 0, 0, 0)


def normalize(name):
    """The distribution name as a wheel file name wants it (PEP 427 / PEP 503 escaping)."""
    return re.sub(r"[-_.]+", "_", name).lower()


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def add(zf, arcname, data):
    info = zipfile.ZipInfo(arcname, date_time=EPOCH)
    info.create_system = 3
    mode = 0o755 if arcname.endswith(".so") else 0o644
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)


def build(name, version, tag, outdir, root, metadata, licenses):
    dist = normalize(name)
    distinfo = f"{dist}-{version}.dist-info"
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for fn in filenames:
            if fn.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(dirpath, fn)
            arc = os.path.relpath(path, root).replace(os.sep, "/")
            if arc.startswith(distinfo + "/"):
                sys.exit(f"error: {root} already holds {distinfo}")
            with open(path, "rb") as f:
                files[arc] = f.read()
    meta = {
        f"{distinfo}/METADATA": metadata,
        f"{distinfo}/WHEEL": (
            "Wheel-Version: 1.0\n"
            "Generator: eryx-mkwheel 1\n"
            "Root-Is-Purelib: false\n"
            f"Tag: {tag}\n"
        ).encode(),
    }
    for lic in licenses:
        path, _, arc = lic.partition("=")
        with open(path, "rb") as f:
            meta[f"{distinfo}/licenses/{arc or os.path.basename(path)}"] = f.read()
    entries = sorted(files.items()) + sorted(meta.items())
    record = "".join(f"{arc},{record_hash(data)},{len(data)}\n" for arc, data in entries)
    record += f"{distinfo}/RECORD,,\n"
    entries.append((f"{distinfo}/RECORD", record.encode()))

    os.makedirs(outdir, exist_ok=True)
    wheel = os.path.join(outdir, f"{dist}-{version}-{tag}.whl")
    tmp = wheel + ".tmp"
    with zipfile.ZipFile(tmp, "w") as zf:
        for arc, data in entries:
            add(zf, arc, data)
    os.replace(tmp, wheel)
    return wheel


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--tag", required=True, help="e.g. cp314-cp314-wasi_0_0_0_wasm32")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--summary")
    ap.add_argument("--metadata", help="a PKG-INFO file to use as METADATA")
    ap.add_argument("--license", action="append", default=[], help="FILE or FILE=NAME (NAME under licenses/)")
    ap.add_argument("root")
    args = ap.parse_args()
    if args.metadata:
        with open(args.metadata, "rb") as f:
            metadata = f.read()
    else:
        metadata = (
            "Metadata-Version: 2.1\n"
            f"Name: {args.name}\n"
            f"Version: {args.version}\n"
            f"Summary: {args.summary or ''}\n"
            "Requires-Python: >=3.14\n"
        ).encode()
    print(build(args.name, args.version, args.tag, args.outdir, args.root, metadata, args.license))


if __name__ == "__main__":
    main()

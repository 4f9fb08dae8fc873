#!/usr/bin/env python3
"""Structural check of wasm32-wasi CPython extension modules (PIC shared modules).

usage: check-so.py --base DIR [--lib NAME.so ...] [--quiet] FILE.so|FILE.whl ...

For each .so (also every .so inside a given .whl):
  - it is a wasm module with a `dylink.0` custom section (a PIC shared module);
  - every function/global import from `env` / `GOT.mem` / `GOT.func` names a symbol that the base
    libraries export (libpython3.14.so and libc.so from DIR, plus each --lib, e.g. libc++.so) or
    that the module itself exports; the dynamic-linking globals (memory, __stack_pointer, ...) are
    always allowed;
  - it exports `PyInit_<mod>` where <mod> is the file name up to the first dot.
Exits non-zero and names the problem when a check fails.
"""
import argparse
import io
import os
import sys
import zipfile

LINKER_PROVIDED = {"memory", "__indirect_function_table", "__stack_pointer", "__memory_base",
                   "__table_base", "__tls_base", "__heap_base", "__heap_end"}


def leb(data, pos):
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def name(data, pos):
    n, pos = leb(data, pos)
    return data[pos:pos + n].decode("utf-8"), pos + n


def parse(data):
    """Returns (custom section names, imports [(module, name, kind)], exports {name: kind})."""
    if data[:4] != b"\0asm" or data[4:8] != b"\1\0\0\0":
        raise ValueError("not a core wasm module")
    pos, customs, imports, exports = 8, [], [], {}
    while pos < len(data):
        sid = data[pos]
        size, pos = leb(data, pos + 1)
        body, end = pos, pos + size
        if sid == 0:
            customs.append(name(data, body)[0])
        elif sid == 2:
            count, p = leb(data, body)
            for _ in range(count):
                mod, p = name(data, p)
                nm, p = name(data, p)
                kind = data[p]
                p += 1
                if kind == 0:      # func: type index
                    _, p = leb(data, p)
                elif kind == 1:    # table: reftype + limits
                    p += 1
                    flags = data[p]
                    _, p = leb(data, p + 1)
                    if flags & 1:
                        _, p = leb(data, p)
                elif kind == 2:    # memory: limits
                    flags = data[p]
                    _, p = leb(data, p + 1)
                    if flags & 1:
                        _, p = leb(data, p)
                elif kind == 3:    # global: valtype + mut
                    p += 2
                elif kind == 4:    # tag
                    p += 1
                    _, p = leb(data, p)
                imports.append((mod, nm, "func table memory global tag".split()[kind]))
        elif sid == 7:
            count, p = leb(data, body)
            for _ in range(count):
                nm, p = name(data, p)
                kind = data[p]
                _, p = leb(data, p + 1)
                exports[nm] = "func table memory global tag".split()[kind]
        pos = end
    return customs, imports, exports


def check(label, data, provided):
    problems = []
    try:
        customs, imports, exports = parse(data)
    except Exception as e:  # noqa: BLE001
        return [f"{label}: cannot parse: {e}"], {}
    if "dylink.0" not in customs:
        problems.append(f"{label}: no dylink.0 custom section (not linked with --shared --experimental-pic)")
    unresolved = []
    for mod, nm, kind in imports:
        if mod == "env" and nm in LINKER_PROVIDED:
            continue
        if mod in ("env", "GOT.mem", "GOT.func"):
            if nm not in provided and nm not in exports:
                unresolved.append(f"{mod}.{nm}")
        else:
            unresolved.append(f"{mod}.{nm} (unexpected import module)")
    if unresolved:
        problems.append(f"{label}: imports that no base library exports: {', '.join(unresolved)}")
    mod = os.path.basename(label.split("!")[-1]).split(".")[0]
    if f"PyInit_{mod}" not in exports:
        problems.append(f"{label}: does not export PyInit_{mod}")
    stats = {"imports": len(imports), "exports": len(exports), "bytes": len(data)}
    return problems, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="folder from libs/fetch-base.sh")
    ap.add_argument("--lib", action="append", default=[], help="more base libraries (names in --base, or paths)")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    provided = set()
    for lib in ["libpython3.14.so", "libc.so"] + args.lib:
        path = lib if os.path.sep in lib else os.path.join(args.base, lib)
        with open(path, "rb") as f:
            provided |= set(parse(f.read())[2])
    failed = False
    for path in args.files:
        if path.endswith(".whl"):
            with zipfile.ZipFile(path) as z:
                items = [(f"{path}!{n}", z.read(n)) for n in z.namelist() if n.endswith(".so")]
            if not items:
                print(f"{path}: no .so inside", file=sys.stderr)
                failed = True
        else:
            with open(path, "rb") as f:
                items = [(path, f.read())]
        for label, data in items:
            problems, stats = check(label, data, provided)
            for p in problems:
                print(p, file=sys.stderr)
            failed |= bool(problems)
            if not problems and not args.quiet:
                print(f"ok {label}: {stats['bytes']} bytes, {stats['imports']} imports, {stats['exports']} exports")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

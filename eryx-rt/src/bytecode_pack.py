# Run by eryx-rt in a trusted guest (see bytecode.rs): compiles every `.py` file below ROOTS to
# unchecked-hash `.pyc` data and writes one pack to OUT, in the layout that the guest runtime's
# bytecode.py reads. The guest is this interpreter itself, so the bytecode is what its own
# import system would have made. Deterministic: files in sorted order, fixed clocks and a fixed
# random source (the hash seed) in the guest, no timestamps in the data.
import _imp
import marshal
import os
from importlib import _bootstrap_external as _external

MAGIC = b"eryx-bytecode-pack-v1\n"
# Parts of the standard library that cannot run in the sandbox (no Tk, no subprocesses, no
# pip): not worth compiling at every first start.
SKIP_DIRS = {"__pycache__", "idlelib", "tkinter", "turtledemo", "ensurepip", "venv", "test", "tests"}


def _pack(roots, out):
    entries = {}
    blobs = []
    offset = 0
    skipped = 0
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(name for name in dirnames if name not in SKIP_DIRS)
            for name in sorted(filenames):
                if not name.endswith(".py"):
                    continue
                path = dirpath.rstrip("/") + "/" + name
                with open(path, "rb") as file:
                    source = file.read()
                try:
                    code = compile(source, path, "exec", dont_inherit=True)
                except (SyntaxError, ValueError):
                    # Not importable as it is (a template, Python 2 code): left to the source loader.
                    skipped += 1
                    continue
                source_hash = _imp.source_hash(_imp.pyc_magic_number_token, source)
                data = bytes(_external._code_to_hash_pyc(code, source_hash, False))
                entries[_external.cache_from_source(path)] = (offset, len(data), data[:16])
                blobs.append(data)
                offset += len(data)
    index = marshal.dumps(entries)
    with open(out, "wb") as file:
        file.write(MAGIC)
        file.write(len(index).to_bytes(8, "little"))
        file.write(index)
        for blob in blobs:
            file.write(blob)
    print(f"{len(entries)} modules, {offset} bytes of bytecode, {skipped} files not compilable")


_pack(ROOTS, OUT)  # noqa: F821 (prepended by the host)

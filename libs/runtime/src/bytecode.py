# Loaded by the eryx guest runtime right after the interpreter starts, before bootstrap.py.
#
# Imports read bytecode that the host compiled ahead of time instead of compiling sources.
# The host (a trusted instance of this same runtime, see eryx-rt's bytecode module) packs the
# bytecode of every `.py` file below a `sys.path` entry into one file, `.eryx-bytecode.pack`,
# at the root of that entry: one file is one cache entry the host can check with one `fstat`
# (a tree of a thousand `__pycache__` files would cost a `stat` each per process).
#
# The normal source loader is kept; only where it reads bytecode from changes. A module's
# `__file__`, `__cached__`, tracebacks and `inspect` work as with `__pycache__` folders. The
# bytecode is unchecked-hash `.pyc` data: what the host checks is the pack as a whole. Bytecode
# that is missing or unreadable makes the loader compile the source, as CPython always does.
#
# Pack layout: the magic line, the length of the index (8 bytes, little-endian), the index (a
# marshalled dict: bytecode path as `cache_from_source` names it -> (offset after the index,
# length, the first 16 bytes of the data), then the `.pyc` data. The 16 bytes (magic, flags and
# the hash of the module's source) are compared on every read, so bytecode read from a pack that
# is not the one indexed (another build of it) is refused instead of running another module.
import marshal
import sys
from importlib import _bootstrap_external as _external

PACK_NAME = ".eryx-bytecode.pack"
MAGIC = b"eryx-bytecode-pack-v1\n"

# Bytecode path -> (pack path, absolute offset, length, header). Built once at start-up, so in a
# pre-initialised snapshot it is already there; the pack is opened for each read, never kept
# open (a snapshot holds no file handles).
_index = {}


def _read_exact(file, length):
    """`length` bytes (one read of a WASI file may return fewer), or fewer at the end of file."""
    parts = []
    while length > 0:
        part = file.read(length)
        if not part:
            break
        parts.append(part)
        length -= len(part)
    return b"".join(parts)


def _read_index(pack):
    try:
        with open(pack, "rb", buffering=0) as file:
            if _read_exact(file, len(MAGIC)) != MAGIC:
                return
            size = int.from_bytes(_read_exact(file, 8), "little")
            entries = marshal.loads(_read_exact(file, size))
    except (OSError, ValueError, EOFError, TypeError):
        return
    start = len(MAGIC) + 8 + size
    for path, (offset, length, header) in entries.items():
        _index[path] = (pack, start + offset, length, header)


class PackedSourceLoader(_external.SourceFileLoader):
    """The source loader, reading bytecode from the packs."""

    def get_data(self, path):
        entry = _index.get(path)
        if entry is None:
            return super().get_data(path)
        pack, offset, length, header = entry
        with open(pack, "rb", buffering=0) as file:
            file.seek(offset)
            data = _read_exact(file, length)
        if len(data) != length or data[:16] != header:
            raise OSError(f"bytecode pack {pack} does not match its index")
        return data


def install():
    for entry in sys.path:
        if entry:
            _read_index(entry.rstrip("/") + "/" + PACK_NAME)
    if not _index:
        return
    loaders = [
        (PackedSourceLoader if loader is _external.SourceFileLoader else loader, suffixes)
        for loader, suffixes in _external._get_supported_file_loaders()
    ]
    hook = _external.FileFinder.path_hook(*loaders)
    sys.path_hooks[:] = [
        hook if getattr(existing, "__qualname__", "").startswith("FileFinder.path_hook") else existing
        for existing in sys.path_hooks
    ]
    sys.path_importer_cache.clear()


install()

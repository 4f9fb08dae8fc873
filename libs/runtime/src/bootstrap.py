# Loaded by the eryx guest runtime right after the interpreter starts. It owns the policy of
# running user code: where it runs, how an escaping exception is reported, what is flushed.
import io
import os
import sys
import traceback

from eryx import _TOP_LEVEL_AWAIT, _run_code

# Start in the sandbox's scratch home folder (eryx-rt's `fs` module), so that relative paths
# such as open("out.csv", "w") work. Done at start-up, so a snapshot keeps it too.
try:
    os.chdir("/home/sandbox")
except OSError:
    pass

_main = sys.modules["__main__"].__dict__

_os_exit = os._exit


def _exit(status):
    """os._exit: ends the sandbox at once, with no clean-up, as it ends a process. WASI's exit
    carries only success or failure, so the host is told the status first."""
    import _eryx_host

    status = status.__index__() if hasattr(type(status), "__index__") else status
    if not isinstance(status, int):
        raise TypeError(f"'{type(status).__name__}' object cannot be interpreted as an integer")
    if not -(2**31) <= status < 2**31:
        raise OverflowError("Python int too large to convert to C int")
    _eryx_host.exiting(status)
    _os_exit(status)


_exit.__name__ = _exit.__qualname__ = "_exit"
_exit.__module__ = "posix"
os._exit = _exit


class _WholeWriter(io.RawIOBase):
    """A raw stdio stream whose `write` writes everything it is given.

    With unbuffered stdio (kept so that `print` and `os.write(1, ...)` appear in program
    order), CPython's text streams write straight to a raw FileIO and ignore a short count:
    whatever a short `write` did not take was lost. This raw stream writes the rest.
    """

    def __init__(self, fd, name):
        super().__init__()
        self._fd = fd
        self.name = name
        self.mode = "wb"

    def fileno(self):
        return self._fd

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, data):
        done = os.write(self._fd, data)
        total = len(data) if isinstance(data, bytes) else memoryview(data).nbytes
        if done < total:
            view = memoryview(data).cast("B")
            while done < total:
                written = os.write(self._fd, view[done:])
                if written <= 0:
                    raise OSError(f"{self.name}: the host accepted no bytes")
                done += written
        return total


def _whole_stdio(stream, fd, name):
    raw = _WholeWriter(fd, name)
    return io.TextIOWrapper(raw, encoding=stream.encoding, errors=stream.errors, newline="\n", write_through=True)


sys.stdout = sys.__stdout__ = _whole_stdio(sys.__stdout__, 1, "<stdout>")
sys.stderr = sys.__stderr__ = _whole_stdio(sys.__stderr__, 2, "<stderr>")


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


_MAX_FRAMES = 2000


def _describe(exc, skip_frames):
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None:
            tb = tb.tb_next
    name = type(exc).__qualname__
    try:
        message = str(exc)
    except BaseException:
        message = "<exception str() failed>"
    # A huge traceback (deep recursion) may not fit in the memory or the time that is left
    # (formatting 400,000 frames took longer than a timeout): past _MAX_FRAMES, or when the
    # whole one fails, only its last frames, then the exception line alone.
    depth = 0
    frame = tb
    while frame is not None and depth <= _MAX_FRAMES:
        depth += 1
        frame = frame.tb_next
    for limit in (None, -30) if depth <= _MAX_FRAMES else (-30,):
        try:
            text = "".join(traceback.format_exception(type(exc), exc, tb, limit=limit))
            break
        except BaseException:
            continue
    else:
        text = f"{name}: {message}\n"
    return (name, message, text)


def execute(code):
    """None on success, an int for SystemExit (see `_exit_status`), else the escaping
    exception's (type name, message, traceback)."""
    try:
        _run_code(code, _main)  # eryx.py: runs top-level `await` on an event loop
    except SystemExit as exc:
        return _exit_status(exc)
    except BaseException as exc:
        return _describe(exc, 2)
    finally:
        _flush()
    return None


def import_modules(names):
    """`names` is newline-separated; same result convention as `execute`.

    Called only to make a snapshot. json comes first, always: the eryx module encodes every
    host callback's arguments with it, and importing it costs each new sandbox about 10 ms
    (stateless, so sandboxes can share it)."""
    try:
        for name in ["json", *filter(None, names.split("\n"))]:
            __import__(name)
    except BaseException as exc:
        return _describe(exc, 0)
    finally:
        _flush()
    return None


def after_restore(_):
    """First call in an instance restored from a snapshot taken after `import_modules`.

    Everything the snapshot holds is shared by every sandbox made from it, so what must differ
    between sandboxes is renewed here from this sandbox's own WASI context: the pseudo-random
    generators seeded at import time are seeded again from os.urandom, and clock readings
    taken at import time are taken again. (str/bytes hash
    randomisation cannot be renewed: the interpreter's dicts were built with the secret.)
    """
    random = sys.modules.get("random")
    if random is not None:
        random._inst.seed()
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile._name_sequence = None
    # The snapshot ran on a fixed clock: logging's reference for `relativeCreated` is now.
    logging = sys.modules.get("logging")
    if logging is not None:
        import time
        logging._startTime = time.time_ns()
    return None


# --- Programs as `python` runs them: files, `-c`, `-m`, REPL entries, exit statuses. ---


def _exit_status(exc):
    """The status `python` exits with for this SystemExit, as an int that fits in 32 bits.

    None is 0; an int is the status (wrapped as C's cast to int wraps it); anything else is
    printed to stderr, as Python prints it, and gives 1.
    """
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return ((code + (1 << 31)) % (1 << 32)) - (1 << 31)
    try:
        sys.stderr.write(f"{code}\n")
    except BaseException:
        pass
    return 1


def _run_module(name):
    """`python -m NAME`: what runpy's `_run_module_as_main` does, with eryx's message."""
    import runpy

    try:
        name, spec, code = runpy._get_module_details(name, runpy._Error)
    except runpy._Error as exc:
        raise SystemExit(f"eryx: {exc}") from None
    sys.argv[0] = spec.origin
    runpy._run_code(code, _main, None, "__main__", spec)


def run(mode, source, filename, argv):
    """Runs a program (see `program` in eryx.wit); same result convention as `execute`."""
    try:
        if argv is not None:
            sys.argv = list(argv)
        if mode == "module":
            _run_module(source.decode("utf-8", "surrogateescape"))
        else:
            if mode == "file" and not filename.startswith("<"):
                _main["__file__"] = filename
            _run_code(source, _main, filename, "single" if mode == "statement" else "exec")
    except SystemExit as exc:
        return _exit_status(exc)
    except BaseException as exc:
        return _describe(exc, 2)
    finally:
        _flush()
    return None


def is_complete(source):
    """False when the REPL must ask for more lines, as Python's own REPL decides (codeop)."""
    import codeop

    compiler = codeop.CommandCompiler()
    compiler.compiler.flags |= _TOP_LEVEL_AWAIT
    try:
        return compiler(source, "<stdin>", "single") is not None
    except (SyntaxError, ValueError, OverflowError, MemoryError):
        return True

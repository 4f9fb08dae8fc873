# Loaded by the eryx guest runtime right after the interpreter starts. It owns the policy of
# running user code: where it runs, how an escaping exception is reported, what is flushed.
import sys
import traceback

from eryx import _run_code

_main = sys.modules["__main__"].__dict__


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


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
    # A huge traceback (deep recursion) may not fit in the memory that is left: fall back to
    # its last frames, then to the exception line alone.
    for limit in (None, -30):
        try:
            text = "".join(traceback.format_exception(type(exc), exc, tb, limit=limit))
            break
        except BaseException:
            continue
    else:
        text = f"{name}: {message}\n"
    return (name, message, text)


def execute(code):
    """None on success, else (type name, message, traceback) of the escaping exception."""
    try:
        _run_code(code, _main)  # eryx.py: runs top-level `await` on an event loop
    except SystemExit as exc:
        if exc.code in (None, 0):
            return None
        return _describe(exc, 2)
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

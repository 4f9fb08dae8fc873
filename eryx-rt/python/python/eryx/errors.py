"""The exceptions of eryx: one base class, one subclass per way an execution can fail.

Every exception raised by :meth:`eryx.Sandbox.execute` carries what the guest printed before it
failed (``stdout``, ``stderr``), so nothing is lost when code fails half-way.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every eryx error.

    Attributes:
        stdout: what the guest wrote to stdout before the failure.
        stderr: what the guest wrote to stderr before the failure.
    """

    def __init__(self, message: str, stdout: str = "", stderr: str = "") -> None:
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr


class SandboxError(Error):
    """The sandbox could not be created (a wheel that cannot be read or linked, a bad limit)."""


class BusyError(Error):
    """The sandbox is running code for another thread; a sandbox runs one execution at a time."""


class PythonError(Error):
    """The guest code raised an exception; the sandbox stays usable.

    Attributes:
        type_name: the exception's class name inside the sandbox, such as ``ZeroDivisionError``.
        message: ``str(exception)`` inside the sandbox.
        traceback: the traceback as Python prints it.
    """

    def __init__(self, type_name: str, message: str, traceback: str, stdout: str = "", stderr: str = "") -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name, stdout, stderr)
        self.type_name = type_name
        self.message = message
        self.traceback = traceback


class SystemExitError(Error):
    """The guest code called ``sys.exit()`` (or raised ``SystemExit``); the sandbox stays usable.

    Attributes:
        code: the exit status ``python`` would exit with (``sys.exit()`` and ``sys.exit(None)``
            give 0; a non-int argument is printed to stderr and gives 1).
    """

    def __init__(self, code: int, stdout: str = "", stderr: str = "") -> None:
        super().__init__(f"the code exited with status {code}", stdout, stderr)
        self.code = code


class FilesError(Error):
    """A file operation on the sandbox's scratch space failed.

    Attributes:
        kind: ``"not-found"``, ``"is-a-folder"``, ``"not-a-folder"``, ``"no-space"``,
            ``"invalid-path"``, ``"dropped"`` or ``"other"``.
    """

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


class LimitError(Error):
    """A configured limit was reached; the sandbox is stopped (create a new one)."""


class TimeoutError(LimitError):  # noqa: A001 - the name users look for, inside eryx's namespace
    """The execution ran longer than the sandbox's ``timeout``."""


class MemoryLimitError(LimitError):
    """The guest needed more memory than ``memory_limit``."""


class FuelExhaustedError(LimitError):
    """The execution used up its ``fuel`` budget."""


class CancelledError(Error):
    """The execution was cancelled (``Sandbox.cancel()`` from another thread); the sandbox is stopped.

    A cancelled ``execute_async`` task raises ``asyncio.CancelledError`` as asyncio does, and Ctrl-C
    during ``execute`` raises ``KeyboardInterrupt``; both stop the guest the same way.
    """


class TrapError(Error):
    """The guest crashed (a WebAssembly trap: stack overflow, a fault in native code)."""


class StoppedError(Error):
    """An earlier failure stopped this sandbox; create a new one."""


__all__ = [
    "BusyError",
    "CancelledError",
    "Error",
    "FilesError",
    "FuelExhaustedError",
    "LimitError",
    "MemoryLimitError",
    "PythonError",
    "SandboxError",
    "StoppedError",
    "SystemExitError",
    "TimeoutError",
    "TrapError",
]

"""Run untrusted Python 3.14 in a WebAssembly sandbox (wasmtime), from Python.

>>> import eryx
>>> sandbox = eryx.Sandbox(timeout=5)
>>> sandbox.execute("print(6 * 7)").stdout
'42\\n'

Each :class:`Sandbox` is one CPython 3.14 interpreter inside its own wasmtime store, with its
own limits (wall-clock timeout, memory, optional fuel). It sees a read-only standard library and
nothing of the host: no files, no environment, no network. Globals persist from one ``execute``
to the next. The GIL is released while the guest runs, so sandboxes on many threads run side by
side; one sandbox runs one execution at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterable

from . import errors
from ._eryx import NativeSandbox, __version__
from .errors import (
    BusyError,
    CancelledError,
    Error,
    FuelExhaustedError,
    LimitError,
    MemoryLimitError,
    PythonError,
    SandboxError,
    StoppedError,
    TimeoutError,  # noqa: A004 - eryx.TimeoutError, documented
    TrapError,
)


@dataclasses.dataclass(frozen=True)
class Result:
    """What one successful execution printed, and how long it took.

    Attributes:
        stdout: everything the code wrote to stdout.
        stderr: everything the code wrote to stderr.
        duration: wall-clock seconds the execution took.
        truncated: True when output beyond the sandbox's ``output_limit`` was dropped.
    """

    stdout: str
    stderr: str
    duration: float
    truncated: bool = False


class Sandbox:
    """An isolated CPython 3.14 interpreter in a WebAssembly sandbox.

    Args:
        timeout: wall-clock seconds each ``execute`` may run (default 30).
        memory_limit: cap on the guest's memory, in bytes (default 256 MiB).
        fuel: budget of WebAssembly fuel (about one unit per instruction) per execute;
            unlimited when ``None``.
        output_limit: cap on what one execute may print on each stream, in bytes.
        wheels: paths of wasm32-wasi wheels to install; their native extensions are linked in
            (once per set of wheels and machine; cached).
        preinit: modules imported before the start-up snapshot, so importing them later costs
            nothing.

    Raises:
        SandboxError: the sandbox cannot be created (a wheel that is missing or cannot be linked).
    """

    def __init__(
        self,
        *,
        timeout: float | None = None,
        memory_limit: int | None = None,
        fuel: int | None = None,
        output_limit: int | None = None,
        wheels: Iterable[str | os.PathLike[str]] = (),
        preinit: Iterable[str] | None = None,
    ) -> None:
        wheel_paths = [os.fspath(wheel) for wheel in wheels]
        for path in wheel_paths:
            if not os.path.isfile(path):
                raise SandboxError(f"wheel {path!r} does not exist (pass the path of a .whl file)")
        self._native = NativeSandbox(
            timeout=timeout,
            memory_limit=memory_limit,
            fuel=fuel,
            output_limit=output_limit,
            wheels=wheel_paths,
            preinit=list(preinit) if preinit is not None else None,
        )

    def execute(self, code: str) -> Result:
        """Runs ``code`` as module-level Python code and returns what it printed.

        Raises:
            PythonError: the code raised an exception (the sandbox stays usable).
            TimeoutError, MemoryLimitError, FuelExhaustedError: a limit was hit (the sandbox stops).
            TrapError: the guest crashed (the sandbox stops).
            StoppedError: an earlier failure stopped this sandbox.
            BusyError: another thread is running code in this sandbox.
        """
        if not isinstance(code, str):
            raise TypeError(f"code must be str, not {type(code).__name__}")
        return Result(*self._native.execute(code))

    async def execute_async(self, code: str) -> Result:
        """Like :meth:`execute`, for asyncio: the guest runs on a worker thread, the loop goes on."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.execute, code)


__all__ = [
    "BusyError",
    "CancelledError",
    "Error",
    "FuelExhaustedError",
    "LimitError",
    "MemoryLimitError",
    "PythonError",
    "Result",
    "Sandbox",
    "SandboxError",
    "StoppedError",
    "TimeoutError",
    "TrapError",
    "__version__",
    "errors",
]

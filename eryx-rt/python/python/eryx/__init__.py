"""Run untrusted Python 3.14 in a WebAssembly sandbox (wasmtime), from Python.

>>> import eryx
>>> sandbox = eryx.Sandbox(timeout=5)
>>> sandbox.execute("print(6 * 7)").stdout
'42\\n'

Each :class:`Sandbox` is one CPython 3.14 interpreter inside its own wasmtime store, with its
own limits (wall-clock timeout, memory, optional fuel). It sees a read-only standard library,
a private scratch space in memory (``/tmp`` and ``/home/sandbox``, reached from the host through
:attr:`Sandbox.files`), the host folders it is given (``mounts``) and nothing else of the host:
no environment, no network. Globals persist from one ``execute`` to the next. The GIL is
released while the guest runs, so sandboxes on many threads run side by side; one sandbox runs
one execution at a time.

Host functions are plain Python callables (sync or ``async def``) passed as ``callbacks``; the
guest calls them as ``eryx.tools.NAME(...)`` (or ``await eryx.atools.NAME(...)``), with JSON
values in and out.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import _callbacks, errors
from ._eryx import NativeSandbox, __version__
from .errors import (
    BusyError,
    CancelledError,
    Error,
    FilesError,
    FuelExhaustedError,
    LimitError,
    MemoryLimitError,
    PythonError,
    SandboxError,
    StoppedError,
    SystemExitError,
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


@dataclasses.dataclass(frozen=True)
class FileEntry:
    """One entry of :meth:`Files.list`: its name, ``kind`` (``"file"``, ``"folder"`` or
    ``"symlink"``) and size in bytes."""

    name: str
    kind: str
    size: int


class Files:
    """The host's handle on a sandbox's scratch space (``/tmp`` and ``/home/sandbox``, in memory).

    Write inputs before an ``execute``, read results after it; it also works while the guest
    runs (it sees what the guest wrote so far). Paths are absolute guest paths, or relative to
    ``/home/sandbox`` (the guest's working folder). Failures raise :class:`FilesError`.
    """

    def __init__(self, native: NativeSandbox) -> None:
        self._native = native

    def write(self, path: str, data: bytes | str) -> None:
        """Writes ``data`` (str is UTF-8 encoded) to ``path``, creating folders as needed."""
        self._native.write_file(path, data.encode() if isinstance(data, str) else bytes(data))

    def read(self, path: str) -> bytes:
        """The bytes of the file at ``path``."""
        return self._native.read_file(path)

    def read_text(self, path: str, encoding: str = "utf-8") -> str:
        """The file at ``path`` decoded as text."""
        return self.read(path).decode(encoding)

    def list(self, path: str = "/home/sandbox") -> list[FileEntry]:
        """The entries of the folder at ``path``, by name."""
        return [FileEntry(*entry) for entry in self._native.list_files(path)]

    def remove(self, path: str) -> None:
        """Removes the file, symlink or folder (with its content) at ``path``."""
        self._native.remove_file(path)

    def mkdir(self, path: str) -> None:
        """Creates the folder at ``path`` and any missing folders above it."""
        self._native.make_dirs(path)


OutputHandler = Callable[[str, str], Any]
"""Receives ``(stream, text)`` while the guest runs; ``stream`` is ``"stdout"`` or ``"stderr"``."""


class _LiveOutput:
    """Decodes the guest's output chunks incrementally (a character split across two writes
    arrives whole) and hands them to the user's handler."""

    def __init__(self, handler: OutputHandler) -> None:
        self._handler = handler
        self._decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in ("stdout", "stderr")}

    def __call__(self, stream: str, chunk: bytes) -> None:
        text = self._decoders[stream].decode(chunk)
        if text:
            self._handler(stream, text)


Mount = tuple[str | os.PathLike[str], str] | tuple[str | os.PathLike[str], str, bool]
"""``(host_folder, guest_path)`` (read-only) or ``(host_folder, guest_path, writable)``."""


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
        callbacks: host functions the guest may call: a mapping of names to callables, or
            callables (named by ``__name__``). Sync callables run on a worker thread; ``async``
            ones on the running loop of ``execute_async``, or on a background loop of the
            package for ``execute``. Arguments and results are JSON values; a callable that
            raises, or returns what JSON cannot represent, makes the guest's call raise
            ``eryx.CallbackError`` with the message.
        callback_timeout: seconds one callback call may take (default 30); then the guest's
            call raises ``eryx.CallbackTimeout``.
        output_handler: called with ``(stream, text)`` as the guest prints, while it runs
            (on the thread running the guest; keep it quick). The result still has all output.
        mounts: host folders shown to the guest: ``(host_folder, guest_path)`` read-only, or
            ``(host_folder, guest_path, True)`` writable.

    Raises:
        SandboxError: the sandbox cannot be created (a wheel that is missing or cannot be linked,
            a bad mount).
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
        callbacks: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]] | None = None,
        callback_timeout: float | None = None,
        output_handler: OutputHandler | None = None,
        mounts: Iterable[Mount] = (),
    ) -> None:
        wheel_paths = [os.fspath(wheel) for wheel in wheels]
        for path in wheel_paths:
            if not os.path.isfile(path):
                raise SandboxError(f"wheel {path!r} does not exist (pass the path of a .whl file)")
        mount_specs = []
        for mount in mounts:
            host, guest, *rest = mount
            mount_specs.append((os.fspath(host), guest, bool(rest[0]) if rest else False))
        specs = _callbacks.normalise(callbacks)
        self._native = NativeSandbox(
            timeout=timeout,
            memory_limit=memory_limit,
            fuel=fuel,
            output_limit=output_limit,
            wheels=wheel_paths,
            preinit=list(preinit) if preinit is not None else None,
            callbacks=specs,
            dispatch=_callbacks.dispatch if specs else None,
            callback_timeout=callback_timeout,
            output_handler=_LiveOutput(output_handler) if output_handler is not None else None,
            mounts=mount_specs,
        )
        self._files = Files(self._native)

    @property
    def files(self) -> Files:
        """The sandbox's scratch space (``/tmp``, ``/home/sandbox``): write inputs, read results."""
        return self._files

    def execute(self, code: str) -> Result:
        """Runs ``code`` as module-level Python code and returns what it printed.

        Blocks this thread with the GIL released. Ctrl-C (``KeyboardInterrupt``) cancels the
        guest within about 50 ms and is raised here; the sandbox is then stopped.

        Raises:
            PythonError: the code raised an exception (the sandbox stays usable).
            SystemExitError: the code called ``sys.exit()`` (the sandbox stays usable).
            TimeoutError, MemoryLimitError, FuelExhaustedError: a limit was hit (the sandbox stops).
            CancelledError: :meth:`cancel` was called (the sandbox stops).
            TrapError: the guest crashed (the sandbox stops).
            StoppedError: an earlier failure stopped this sandbox.
            BusyError: another thread or task is running code in this sandbox.
        """
        _check_code(code)
        return Result(*self._native.execute(code))

    async def execute_async(self, code: str) -> Result:
        """Like :meth:`execute`, for asyncio: the guest runs on the Rust core's async path (a
        tokio runtime of the package) and this loop goes on meanwhile. ``async`` callbacks run
        on this loop. Cancelling the awaiting task cancels the guest (the sandbox stops)."""
        _check_code(code)
        running = self._native.execute_async(code, asyncio.get_running_loop())
        try:
            # Shielded: when this task is cancelled, the guest is cancelled through its handle
            # and awaited to its end, so the sandbox is back (stopped) when CancelledError leaves.
            return Result(*await asyncio.shield(running))
        except asyncio.CancelledError:
            self._native.cancel()
            with contextlib.suppress(Exception):
                await running
            raise

    def cancel(self) -> bool:
        """Cancels the running execute, from any thread; returns whether one was running.

        The execute raises :class:`CancelledError` within milliseconds, also while the guest
        sleeps or waits on a callback; the sandbox is then stopped (create a new one).
        """
        return self._native.cancel()


def _check_code(code: object) -> None:
    if not isinstance(code, str):
        raise TypeError(f"code must be str, not {type(code).__name__}")


__all__ = [
    "BusyError",
    "CancelledError",
    "Error",
    "FileEntry",
    "Files",
    "FilesError",
    "FuelExhaustedError",
    "LimitError",
    "MemoryLimitError",
    "Mount",
    "OutputHandler",
    "PythonError",
    "Result",
    "Sandbox",
    "SandboxError",
    "StoppedError",
    "SystemExitError",
    "TimeoutError",
    "TrapError",
    "__version__",
    "errors",
]

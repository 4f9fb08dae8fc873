"""Type stubs of the native module (used through :mod:`eryx`)."""

import asyncio
from collections.abc import Callable
from typing import Any

__version__: str

class NativeSandbox:
    def __init__(
        self,
        *,
        timeout: float | None = None,
        memory_limit: int | None = None,
        fuel: int | None = None,
        output_limit: int | None = None,
        wheels: list[str] = ...,
        preinit: list[str] | None = None,
        callbacks: list[tuple[str, str, str, Callable[..., Any]]] = ...,
        dispatch: Callable[[Callable[..., Any], str, str, asyncio.AbstractEventLoop | None, float], str] | None = None,
        callback_timeout: float | None = None,
        output_handler: Callable[[str, bytes], object] | None = None,
        mounts: list[tuple[str, str, bool]] = ...,
    ) -> None: ...
    def execute(
        self, code: str, event_loop: asyncio.AbstractEventLoop | None = None
    ) -> tuple[str, str, float, bool]: ...
    def execute_async(
        self, code: str, event_loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[tuple[str, str, float, bool]]: ...
    def cancel(self) -> bool: ...
    def write_file(self, path: str, data: bytes) -> None: ...
    def read_file(self, path: str) -> bytes: ...
    def list_files(self, path: str) -> list[tuple[str, str, int]]: ...
    def remove_file(self, path: str) -> None: ...
    def make_dirs(self, path: str) -> None: ...

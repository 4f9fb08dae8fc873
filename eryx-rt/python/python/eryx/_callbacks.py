"""Host callbacks from plain Python callables: their description for the guest, and the call.

A callable's parameters become the callback's JSON Schema (``describe``): parameters without a
default are ``required`` (in their order, so the guest's positional arguments fill them as in
Python); those with a default follow (the guest fills them positionally in name order, as the
Rust API does: pass them by keyword). Annotations of ``int``, ``float``, ``str``, ``bool``,
``list`` and ``dict`` (or their generic forms) give the JSON type; others accept any JSON value.
The description is the docstring's first paragraph.

``dispatch`` runs on a worker thread of the native module, with the GIL: it calls the callable
with the guest's keyword arguments; when the result is awaitable it runs it on the execute's
asyncio loop (the caller's loop for ``execute_async``; for ``execute``, a loop of this module on
a daemon thread) and waits for it. The answer is JSON text; a raised exception, or a result
JSON cannot represent, raises ``CallbackFailed`` whose message the guest sees as
``eryx.CallbackError``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import threading
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_JSON_TYPES: dict[object, str] = {
    int: "integer",
    float: "number",
    str: "string",
    bool: "boolean",
    list: "array",
    tuple: "array",
    dict: "object",
    type(None): "null",
}


class CallbackFailed(Exception):
    """A callback call failed; the message is what the guest's ``eryx.CallbackError`` says."""


def _json_type(annotation: object) -> dict[str, Any]:
    origin = typing.get_origin(annotation) or annotation
    name = _JSON_TYPES.get(origin)
    return {"type": name} if name else {}


def describe(name: str, function: Callable[..., Any]) -> tuple[str, str, str, Callable[..., Any]]:
    """``(name, description, schema as JSON text, function)`` for the native module."""
    if not callable(function):
        raise TypeError(f"callback {name!r} must be callable, not {type(function).__name__}")
    if not name.isidentifier():
        raise ValueError(f"callback name {name!r} is not a Python identifier (the guest calls eryx.tools.{name})")
    try:
        signature = inspect.signature(function)
        hints = typing.get_type_hints(function)
    except (TypeError, ValueError, NameError):
        signature, hints = None, {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    extra = False
    for parameter in signature.parameters.values() if signature else ():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.POSITIONAL_ONLY):
            raise ValueError(
                f"callback {name!r}: parameter {parameter.name!r} cannot be passed by keyword; "
                "the guest's arguments arrive as keywords (use ordinary parameters)"
            )
        if parameter.kind == parameter.VAR_KEYWORD:
            extra = True
            continue
        properties[parameter.name] = _json_type(hints.get(parameter.name, Any))
        if parameter.default is parameter.empty:
            required.append(parameter.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    if not extra and signature is not None:
        schema["additionalProperties"] = False
    doc = inspect.getdoc(function) or ""
    description = doc.split("\n\n", 1)[0].strip()
    return name, description, json.dumps(schema), function


def normalise(callbacks: Mapping[str, Callable[..., Any]] | Iterable[Callable[..., Any]] | None) -> list[tuple]:
    """A mapping of names to callables, or callables named by ``__name__``, as native specs."""
    if callbacks is None:
        return []
    if isinstance(callbacks, Mapping):
        items = list(callbacks.items())
    else:
        items = []
        for function in callbacks:
            name = getattr(function, "__name__", None)
            if not isinstance(name, str):
                raise TypeError(f"callback {function!r} has no __name__; pass callbacks={{'name': function}}")
            items.append((name, function))
    return [describe(name, function) for name, function in items]


_background: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """The loop async callbacks of a blocking ``execute`` run on (started once, a daemon thread)."""
    global _background
    with _background_lock:
        if _background is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="eryx-callbacks", daemon=True).start()
            _background = loop
        return _background


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def dispatch(
    function: Callable[..., Any], name: str, args: str, loop: asyncio.AbstractEventLoop | None, timeout: float
) -> str:
    """Calls ``function`` with the guest's arguments (JSON text); answers JSON text. An
    awaitable result still running a second after ``timeout`` seconds (the guest has had its
    ``CallbackTimeout`` by then) is cancelled on its loop."""
    try:
        result = function(**json.loads(args))
        if inspect.isawaitable(result):
            if loop is None or loop.is_closed():
                loop = background_loop()
            running = asyncio.run_coroutine_threadsafe(_awaited(result), loop)
            try:
                # A second past the call timeout: the guest's CallbackTimeout (raised by the
                # core at the timeout) comes first, then the awaitable is cancelled.
                result = running.result(timeout + 1.0)
            except concurrent.futures.TimeoutError:
                running.cancel()
                raise
    except Exception as error:  # noqa: BLE001 - every failure goes to the guest as CallbackError
        raise CallbackFailed(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__) from None
    try:
        return json.dumps(result, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise CallbackFailed(
            f"callback {name} returned a value JSON cannot represent ({type(result).__name__}: {error}); "
            "return None, bool, int, float, str, or lists and dicts of them"
        ) from None

"""Host callbacks as plain Python callables, called by real guests (real wasmtime)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import eryx


def add(a: int, b: int = 1) -> int:
    """Adds two numbers.

    Longer text that the guest does not see."""
    return a + b


def test_sync_callable_named_by_its_function_name() -> None:
    box = eryx.Sandbox(callbacks=[add])
    assert box.execute("from eryx import tools\nprint(tools.add(2, 3), tools.add(a=4), tools.add(5, b=6))").stdout == (
        "5 5 11\n"
    )


def test_schema_and_description_come_from_the_signature_and_docstring() -> None:
    box = eryx.Sandbox(callbacks={"plus": add})
    out = box.execute(
        "from eryx import tools\n[info] = tools.list()\n"
        "print(info['name'], info['description'])\nprint(info['schema']['required'], info['schema']['properties'])"
    ).stdout
    assert out == "plus Adds two numbers.\n['a'] {'a': {'type': 'integer'}, 'b': {'type': 'integer'}}\n"


def test_json_values_round_trip() -> None:
    def echo(value: object) -> object:
        return {"got": value, "type": type(value).__name__}

    box = eryx.Sandbox(callbacks=[echo])
    out = box.execute(
        "from eryx import tools\n"
        "print(tools.echo([1, 2.5, 'é', None, True, {'k': [1]}]))\nprint(tools.echo(value=7)['type'])"
    ).stdout
    assert out == "{'got': [1, 2.5, 'é', None, True, {'k': [1]}], 'type': 'list'}\nint\n"


def test_a_callable_that_raises_is_a_callback_error_in_the_guest() -> None:
    def weather(city: str) -> str:
        raise ValueError(f"no such city: {city}")

    box = eryx.Sandbox(callbacks=[weather])
    out = box.execute(
        "import eryx\ntry:\n    eryx.tools.weather('Atlantis')\n"
        "except eryx.CallbackError as e:\n    print(type(e).__name__, '|', e.message, '|', e.callback)"
    ).stdout
    assert out == "CallbackError | ValueError: no such city: Atlantis | weather\n"
    # Not caught in the guest: the host sees the guest's exception, and the sandbox goes on.
    with pytest.raises(eryx.PythonError) as caught:
        box.execute("import eryx\neryx.tools.weather('Mu')")
    assert caught.value.type_name == "CallbackError"
    assert "no such city: Mu" in caught.value.message
    assert box.execute("print('still here')").stdout == "still here\n"


def test_a_result_json_cannot_represent_is_a_clear_error() -> None:
    def bad() -> object:
        return {1, 2}

    def nan() -> float:
        return float("nan")

    box = eryx.Sandbox(callbacks=[bad, nan])
    for name, kind in (("bad", "set"), ("nan", "float")):
        out = box.execute(
            f"import eryx\ntry:\n    eryx.tools.{name}()\nexcept eryx.CallbackError as e:\n    print(e.message)"
        ).stdout
        assert f"callback {name} returned a value JSON cannot represent ({kind}" in out


def test_wrong_arguments_and_unknown_names() -> None:
    box = eryx.Sandbox(callbacks=[add])
    out = box.execute(
        "import eryx\ntry:\n    eryx.tools.add(1, c=2)\nexcept eryx.CallbackError as e:\n    print(e.message)\n"
        "try:\n    eryx.tools.nope()\nexcept eryx.CallbackError as e:\n    print(type(e).__name__)"
    ).stdout
    assert "TypeError" in out and "'c'" in out
    assert out.endswith("UnknownCallbackError\n")


def test_async_callable_in_a_blocking_execute_runs_on_a_background_loop() -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def fetch(key: str) -> str:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0.01)
        return key.upper()

    box = eryx.Sandbox(callbacks=[fetch])
    assert box.execute("from eryx import tools\nprint(tools.fetch('a'), tools.fetch('b'))").stdout == "A B\n"
    assert len(loops) == 2 and loops[0] is loops[1]
    assert loops[0].is_running()


def test_async_callables_in_execute_async_run_on_the_callers_loop_concurrently() -> None:
    seen: list[asyncio.AbstractEventLoop] = []
    events: list[str] = []

    async def slow(tag: str) -> str:
        seen.append(asyncio.get_running_loop())
        events.append(f"start {tag}")
        await asyncio.sleep(0.3)
        events.append(f"end {tag}")
        return tag

    async def main() -> tuple[str, asyncio.AbstractEventLoop]:
        box = eryx.Sandbox(callbacks=[slow], timeout=30)
        code = (
            "import asyncio\nfrom eryx import atools\n"
            "async def both():\n    return await asyncio.gather(atools.slow('x'), atools.slow('y'))\n"
            "print(await both())"
        )
        result = await box.execute_async(code)
        return result.stdout, asyncio.get_running_loop()

    out, loop = asyncio.run(main())
    assert out == "['x', 'y']\n"
    assert seen == [loop, loop]
    # Concurrent: both started before either ended.
    assert sorted(events[:2]) == ["start x", "start y"], events


def test_a_stuck_callable_meets_the_callback_timeout() -> None:
    release = threading.Event()

    def stuck() -> None:
        release.wait(10)

    box = eryx.Sandbox(callbacks=[stuck], callback_timeout=0.3)
    started = time.monotonic()
    out = box.execute(
        "import eryx\ntry:\n    eryx.tools.stuck()\nexcept eryx.CallbackTimeout as e:\n    print('timeout')"
    ).stdout
    release.set()
    assert out == "timeout\n"
    assert time.monotonic() - started < 5


def test_an_async_callable_past_the_timeout_is_cancelled_on_its_loop() -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    box = eryx.Sandbox(callbacks=[forever], callback_timeout=0.3)
    out = box.execute(
        "import eryx\ntry:\n    eryx.tools.forever()\nexcept eryx.CallbackTimeout:\n    print('timeout')"
    ).stdout
    assert out == "timeout\n"
    # Started on the loop (a loaded machine may not get there within the timeout: then it is
    # cancelled before its first step), and not left running.
    assert cancelled.wait(5) or not started.is_set(), "the awaitable kept running after the call timed out"


def test_bad_callbacks_are_refused_when_the_sandbox_is_made() -> None:
    with pytest.raises(TypeError, match="callable"):
        eryx.Sandbox(callbacks={"x": 3})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="identifier"):
        eryx.Sandbox(callbacks={"not a name": add})

    def positional_only(a: int, /) -> int:
        return a

    with pytest.raises(ValueError, match="keyword"):
        eryx.Sandbox(callbacks=[positional_only])

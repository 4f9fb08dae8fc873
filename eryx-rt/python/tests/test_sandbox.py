"""The eryx Python package against real sandboxes (real wasmtime, the embedded base component)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import eryx


@pytest.fixture(scope="module")
def sandbox() -> eryx.Sandbox:
    return eryx.Sandbox(timeout=10)


def test_execute_returns_output(sandbox: eryx.Sandbox) -> None:
    result = sandbox.execute("print(6 * 7)")
    assert result.stdout == "42\n"
    assert result.stderr == ""
    assert result.duration > 0
    assert not result.truncated


def test_globals_persist(sandbox: eryx.Sandbox) -> None:
    sandbox.execute("counter = 41")
    assert sandbox.execute("counter += 1; print(counter)").stdout == "42\n"


def test_python_error_carries_type_message_traceback_and_output(sandbox: eryx.Sandbox) -> None:
    with pytest.raises(eryx.PythonError) as caught:
        sandbox.execute("print('before')\n1/0")
    error = caught.value
    assert isinstance(error, eryx.Error)
    assert error.type_name == "ZeroDivisionError"
    assert error.message == "division by zero"
    assert "ZeroDivisionError" in error.traceback
    assert error.stdout == "before\n"
    # The sandbox stays usable after a Python exception.
    assert sandbox.execute("print('after')").stdout == "after\n"


def test_timeout_stops_the_sandbox() -> None:
    box = eryx.Sandbox(timeout=0.5)
    started = time.monotonic()
    with pytest.raises(eryx.TimeoutError) as caught:
        box.execute("print('spinning', flush=True)\nwhile True: pass")
    assert time.monotonic() - started < 5
    assert isinstance(caught.value, eryx.LimitError)
    assert caught.value.stdout == "spinning\n"
    with pytest.raises(eryx.StoppedError):
        box.execute("print(1)")


def test_memory_limit() -> None:
    box = eryx.Sandbox(memory_limit=64 << 20)
    with pytest.raises((eryx.PythonError, eryx.MemoryLimitError)) as caught:
        box.execute("x = bytearray(512 << 20)")
    if isinstance(caught.value, eryx.PythonError):
        assert caught.value.type_name == "MemoryError"


def test_fuel_exhausted() -> None:
    box = eryx.Sandbox(fuel=10_000_000)
    with pytest.raises(eryx.FuelExhaustedError):
        box.execute("while True: pass")


def test_no_host_access(sandbox: eryx.Sandbox) -> None:
    out = sandbox.execute("import os\nprint(sorted(os.environ))\nprint(os.path.exists('/etc/passwd'))").stdout
    assert out == "[]\nFalse\n"


def test_missing_wheel_is_a_clear_error() -> None:
    with pytest.raises(eryx.SandboxError, match="does-not-exist.whl"):
        eryx.Sandbox(wheels=["does-not-exist.whl"])


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timeout"):
        eryx.Sandbox(timeout=-1)
    with pytest.raises(TypeError):
        eryx.Sandbox(timeout=1).execute(b"print(1)")  # type: ignore[arg-type]


def test_code_that_is_not_valid_utf8_or_huge(sandbox: eryx.Sandbox) -> None:
    # A lone surrogate cannot cross into the guest as UTF-8: a clear error, no crash.
    with pytest.raises(UnicodeEncodeError):
        sandbox.execute("print('\udc80')")
    huge = "x = 1\n" * 200_000
    assert sandbox.execute(huge + "print(x)").stdout == "1\n"


def test_many_sandboxes_on_many_threads_run_side_by_side() -> None:
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            box = eryx.Sandbox(timeout=30)
            results[index] = box.execute(f"print(sum(range({index} * 1000)))").stdout
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert results == {i: f"{sum(range(i * 1000))}\n" for i in range(8)}


def test_gil_is_released_while_the_guest_runs() -> None:
    box = eryx.Sandbox(timeout=30)
    ticks = 0
    stop = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    box.execute("total = 0\nfor i in range(3_000_000): total += i")
    stop.set()
    thread.join()
    assert ticks > 10, "a Python thread made no progress while the guest ran"


def test_one_sandbox_used_from_two_threads_at_once() -> None:
    box = eryx.Sandbox(timeout=30)
    started = threading.Event()
    outcome: list[object] = []

    def long_running() -> None:
        started.set()
        outcome.append(box.execute("total = 0\nfor i in range(5_000_000): total += i\nprint('done')").stdout)

    thread = threading.Thread(target=long_running)
    thread.start()
    started.wait()
    time.sleep(0.05)
    with pytest.raises(eryx.BusyError):
        box.execute("print(1)")
    thread.join()
    assert outcome == ["done\n"]


def test_execute_async() -> None:
    async def main() -> list[str]:
        boxes = [eryx.Sandbox(timeout=30) for _ in range(3)]
        results = await asyncio.gather(*(box.execute_async(f"print({i})") for i, box in enumerate(boxes)))
        return [result.stdout for result in results]

    assert asyncio.run(main()) == ["0\n", "1\n", "2\n"]


def test_version() -> None:
    assert eryx.__version__

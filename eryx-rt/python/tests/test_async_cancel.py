"""execute_async on the core's async path, cancellation, Ctrl-C and busy sandboxes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import eryx

SPIN = "while True: pass"


def test_the_loop_goes_on_while_the_guest_runs() -> None:
    async def main() -> tuple[str, int]:
        box = eryx.Sandbox(timeout=30)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        result = await box.execute_async("total = 0\nfor i in range(3_000_000): total += i\nprint('done')")
        task.cancel()
        return result.stdout, ticks

    out, ticks = asyncio.run(main())
    assert out == "done\n"
    assert ticks > 5, "the event loop did not run while the guest computed"


def test_execute_async_raises_the_same_exceptions() -> None:
    async def main() -> None:
        box = eryx.Sandbox(timeout=0.5)
        with pytest.raises(eryx.PythonError) as caught:
            await box.execute_async("print('x')\nraise KeyError('k')")
        assert caught.value.type_name == "KeyError" and caught.value.stdout == "x\n"
        with pytest.raises(eryx.TimeoutError):
            await box.execute_async(SPIN)
        with pytest.raises(eryx.StoppedError):
            await box.execute_async("pass")

    asyncio.run(main())


def test_cancel_from_another_thread() -> None:
    box = eryx.Sandbox(timeout=60)
    assert not box.cancel()
    timer = threading.Timer(0.3, box.cancel)
    timer.start()
    started = time.monotonic()
    with pytest.raises(eryx.CancelledError) as caught:
        box.execute("print('started', flush=True)\n" + SPIN)
    assert time.monotonic() - started < 5
    assert caught.value.stdout == "started\n"
    with pytest.raises(eryx.StoppedError):
        box.execute("pass")


def test_cancel_while_the_guest_sleeps_in_execute_async() -> None:
    async def main() -> float:
        box = eryx.Sandbox(timeout=60)
        asyncio.get_running_loop().call_later(0.3, box.cancel)
        started = time.monotonic()
        with pytest.raises(eryx.CancelledError):
            await box.execute_async("import time\ntime.sleep(30)")
        return time.monotonic() - started

    assert asyncio.run(main()) < 5


def test_cancelling_the_asyncio_task_cancels_the_guest() -> None:
    async def main() -> None:
        box = eryx.Sandbox(timeout=60)
        task = asyncio.create_task(box.execute_async(SPIN))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The guest was cancelled and awaited before CancelledError left: the sandbox is stopped.
        with pytest.raises(eryx.StoppedError, match="cancelled"):
            await box.execute_async("pass")

    asyncio.run(main())


def test_a_sandbox_used_from_two_places_at_once_is_busy() -> None:
    async def main() -> None:
        box = eryx.Sandbox(timeout=30)
        task = asyncio.create_task(box.execute_async("import time\ntime.sleep(0.5)\nprint('first')"))
        await asyncio.sleep(0.1)
        with pytest.raises(eryx.BusyError):
            await box.execute_async("pass")
        with pytest.raises(eryx.BusyError):
            await asyncio.to_thread(box.execute, "pass")
        assert (await task).stdout == "first\n"
        assert (await box.execute_async("print('again')")).stdout == "again\n"

    asyncio.run(main())


def test_many_sandboxes_on_many_threads_with_callbacks() -> None:
    def double(x: int) -> int:
        return 2 * x

    results: dict[int, str] = {}
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            box = eryx.Sandbox(timeout=60, callbacks=[double])
            results[index] = box.execute(f"from eryx import tools\nprint(sum(tools.double(i) for i in range({index})))").stdout
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert results == {i: f"{sum(2 * j for j in range(i))}\n" for i in range(6)}


CTRL_C = """
import os, signal, threading, time
import eryx
# A process started in the background by a shell without job control inherits SIGINT ignored,
# and Python then installs no handler: make Ctrl-C raise KeyboardInterrupt, as in a terminal.
signal.signal(signal.SIGINT, signal.default_int_handler)
box = eryx.Sandbox(timeout=60)
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
started = time.monotonic()
try:
    box.execute("print('spinning', flush=True)\\nwhile True: pass")
except KeyboardInterrupt:
    print(f"interrupted {time.monotonic() - started < 5}")
try:
    box.execute("pass")
except eryx.StoppedError as error:
    print("stopped:", "cancelled" in str(error))
print(eryx.Sandbox().execute("print('fresh')").stdout, end="")
"""


def test_ctrl_c_during_execute_cancels_the_guest(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", CTRL_C], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "interrupted True\nstopped: True\nfresh\n"

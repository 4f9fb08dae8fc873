"""The binding benchmark, from Python: prints medians.

    python eryx-rt/python/bench.py [ROUNDS]

with the `eryx` package installed (`eryx-rt/python/test.sh` leaves a venv with it and the MCP SDK
in the cargo target folder, `python-test-venv`). Times, like `eryx-rt/examples/api_bench.rs` does on
the Rust API (the difference is what the binding adds):

* `eryx.Sandbox()` with the defaults (in-memory cache hit, default snapshot);
* the first `execute("pass")` of a new sandbox, and a warm one (the same sandbox again);
* `execute_async("pass")` awaited from asyncio;
* a callback round trip: the guest calls a host callable that returns None (`tools.noop()`, a
  plain function; `tools.anoop()`, an `async def` one), timed inside the guest per call;
* with the MCP SDK installed and `ERYX_BIN` (or `target/release/eryx`) built: a `run_python`
  call of `pass` through `eryx mcp`, the whole round trip of the client's `call_tool`.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import eryx


def timed(function) -> float:  # noqa: ANN001 - any callable without arguments
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def show(label: str, samples: list[float]) -> None:
    print(f"{label:<40}{statistics.median(samples) * 1000:>10.3f} ms   ({len(samples)} samples)")


def bench_package(rounds: int) -> None:
    started = time.perf_counter()
    eryx.Sandbox().execute("pass")
    print(f"warm-up (may compile or snapshot the component once per machine): {time.perf_counter() - started:.3f} s")
    create, first, warm = [], [], []
    for _ in range(rounds):
        holder: list[eryx.Sandbox] = []
        create.append(timed(lambda: holder.append(eryx.Sandbox())))
        sandbox = holder[0]
        first.append(timed(lambda: sandbox.execute("pass")))
        warm.extend(timed(lambda: sandbox.execute("pass")) for _ in range(10))
    show("eryx.Sandbox()", create)
    show('first execute("pass")', first)
    show('warm execute("pass")', warm)

    async def awaited() -> list[float]:
        sandbox = eryx.Sandbox()
        await sandbox.execute_async("pass")
        samples = []
        for _ in range(rounds * 10):
            started = time.perf_counter()
            await sandbox.execute_async("pass")
            samples.append(time.perf_counter() - started)
        return samples

    show('warm await execute_async("pass")', asyncio.run(awaited()))

    def noop() -> None:
        return None

    async def anoop() -> None:
        return None

    sandbox = eryx.Sandbox(callbacks=[noop, anoop], timeout=300)
    sandbox.execute("from eryx import tools\ntools.noop()\ntools.anoop()")
    for name in ("noop", "anoop"):
        show(f"callback round trip tools.{name}()", [round_trip(sandbox, f"tools.{name}()", 500) for _ in range(9)])


def round_trip(sandbox: eryx.Sandbox, call: str, calls: int) -> float:
    """Seconds per call of `call`, timed inside the guest over `calls` calls (as api_bench does)."""
    code = f"import time\nfrom eryx import tools\nt = time.perf_counter()\nfor _ in range({calls}): {call}\nprint(time.perf_counter() - t)"
    return float(sandbox.execute(code).stdout) / calls


def bench_mcp(rounds: int) -> None:
    try:
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client
    except ImportError:
        print("MCP round trip: skipped (the MCP SDK, `mcp` on PyPI, is not installed)")
        return
    binary = os.environ.get("ERYX_BIN") or str(Path(__file__).resolve().parents[2] / "target" / "release" / "eryx")
    if not os.access(binary, os.X_OK):
        print(f"MCP round trip: skipped (no eryx binary at {binary}; set ERYX_BIN)")
        return

    async def main() -> list[float]:
        params = StdioServerParameters(command=binary, args=["mcp"])
        async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
            await client.initialize()
            await client.call_tool("run_python", {"code": "pass"})  # creates the session's sandbox
            samples = []
            for _ in range(rounds * 10):
                started = time.perf_counter()
                result = await client.call_tool("run_python", {"code": "pass"})
                samples.append(time.perf_counter() - started)
                assert not result.is_error
            return samples

    show('MCP run_python("pass") round trip', asyncio.run(main()))


if __name__ == "__main__":
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    bench_package(rounds)
    bench_mcp(rounds)

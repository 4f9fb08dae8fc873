"""`eryx mcp` end to end, with the official MCP Python SDK as the client (real server process)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

# The binary under test: $ERYX_BIN, else the release build of this repository (`cargo build --workspace --all-features --release`).
ERYX = os.environ.get("ERYX_BIN") or str(Path(__file__).resolve().parents[3] / "target" / "release" / "eryx")


def setup_module() -> None:
    assert os.access(ERYX, os.X_OK), f"no eryx binary at {ERYX}: build it (cargo build --workspace --all-features --release) or set ERYX_BIN"


@asynccontextmanager
async def session(*flags: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=ERYX, args=["mcp", *flags])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        yield client


def text(result) -> str:  # noqa: ANN001 - the SDK's CallToolResult
    return "".join(block.text for block in result.content if block.type == "text")


def test_lists_run_python_with_its_schema() -> None:
    async def main() -> None:
        async with session() as client:
            tools = (await client.list_tools()).tools
            assert [tool.name for tool in tools] == ["run_python"]
            schema = tools[0].input_schema
            assert schema["required"] == ["code"]
            assert "sandbox" in tools[0].description

    asyncio.run(main())


def test_state_persists_between_calls_and_exceptions_are_tool_errors() -> None:
    async def main() -> None:
        async with session() as client:
            first = await client.call_tool("run_python", {"code": "x = 41\nprint('set')"})
            assert not first.is_error
            assert text(first) == "set\n"
            second = await client.call_tool("run_python", {"code": "print(x + 1)"})
            assert text(second) == "42\n"
            failed = await client.call_tool("run_python", {"code": "print('partial')\n1/0"})
            assert failed.is_error
            assert "partial" in text(failed)
            assert "ZeroDivisionError: division by zero" in text(failed)
            # The exception left the session usable.
            again = await client.call_tool("run_python", {"code": "print(x)"})
            assert text(again) == "41\n"

    asyncio.run(main())


def test_fresh_sandbox_per_call() -> None:
    async def main() -> None:
        async with session("--fresh") as client:
            await client.call_tool("run_python", {"code": "x = 1"})
            result = await client.call_tool("run_python", {"code": "print(x)"})
            assert result.is_error
            assert "NameError" in text(result)

    asyncio.run(main())


def test_timeout_is_a_tool_error_and_the_next_call_gets_a_new_sandbox() -> None:
    async def main() -> None:
        async with session("--timeout", "1") as client:
            await client.call_tool("run_python", {"code": "kept = 1"})
            result = await client.call_tool("run_python", {"code": "while True: pass"})
            assert result.is_error
            assert "timed out" in text(result)
            assert "state is lost" in text(result)
            after = await client.call_tool("run_python", {"code": "print('alive', 'kept' in globals())"})
            assert text(after) == "alive False\n"

    asyncio.run(main())


def test_bad_calls_are_errors_and_the_server_keeps_serving() -> None:
    async def main() -> None:
        async with session() as client:
            # Arguments of the wrong shape: a tool error the agent can read and correct (the MCP
            # specification since 2025-11-25 asks for input validation errors as tool errors).
            wrong = await client.call_tool("run_python", {"source": "print(1)"})
            assert wrong.is_error
            assert "missing field `code`" in text(wrong)
            # A tool that does not exist: a JSON-RPC error.
            with pytest.raises(MCPError, match="tool not found"):
                await client.call_tool("no_such_tool", {})
            result = await client.call_tool("run_python", {"code": "print('still serving')"})
            assert text(result) == "still serving\n"

    asyncio.run(main())


def test_malformed_messages_on_the_wire() -> None:
    """What rmcp answers to malformed messages, and that the server keeps serving after each.

    A line that is not JSON is a -32700 parse error with a null id (answered by the filter in
    front of rmcp); JSON that is not a JSON-RPC message is -32600, an unknown method -32601. Every line the server writes is a JSON-RPC message: what the guest prints
    never reaches stdout.
    """
    server = subprocess.Popen(
        [ERYX, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert server.stdin and server.stdout

    def send(message: object | str) -> None:
        line = message if isinstance(message, str) else json.dumps(message)
        server.stdin.write(line.encode() + b"\n")
        server.stdin.flush()

    def receive() -> dict:
        reply = json.loads(server.stdout.readline())
        assert isinstance(reply, dict) and reply["jsonrpc"] == "2.0", reply
        return reply

    def call(request_id: int, code: str) -> dict:
        send({"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
              "params": {"name": "run_python", "arguments": {"code": code}}})
        reply = receive()
        assert reply["id"] == request_id
        return reply["result"]

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
        assert receive()["id"] == 1
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert call(2, "print('printed by the guest')")["content"][0]["text"] == "printed by the guest\n"
        send("{this is not json")
        parse_error = receive()
        assert (parse_error["id"], parse_error["error"]["code"]) == (None, -32700)
        assert "not JSON" in parse_error["error"]["message"]
        server.stdin.write(b"\xff\xfe not even UTF-8\n")
        server.stdin.flush()
        assert receive()["error"]["code"] == -32700
        send({"jsonrpc": "2.0", "id": 3, "method": 42})  # JSON, but not a JSON-RPC request
        assert receive()["error"]["code"] == -32600
        send({"jsonrpc": "2.0", "id": 4, "method": "no/such/method"})
        unknown = receive()
        assert (unknown["id"], unknown["error"]["code"]) == (4, -32601)
        assert call(5, "print(6 * 7)")["content"][0]["text"] == "42\n"
    finally:
        server.stdin.close()
        assert server.wait(timeout=30) == 0


def test_a_cancelled_request_stops_its_guest() -> None:
    """`notifications/cancelled` for a running `run_python` cancels the guest well before its
    timeout; the session goes on with a new sandbox."""
    server = subprocess.Popen(
        [ERYX, "mcp", "--timeout", "120"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert server.stdin and server.stdout

    def send(message: object) -> None:
        server.stdin.write(json.dumps(message).encode() + b"\n")
        server.stdin.flush()

    def reply_to(request_id: int) -> dict:
        while True:
            reply = json.loads(server.stdout.readline())
            if reply.get("id") == request_id:
                return reply

    def call(request_id: int, code: str) -> None:
        send({"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
              "params": {"name": "run_python", "arguments": {"code": code}}})

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}})
        reply_to(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        call(2, "kept = 1")
        reply_to(2)
        started = time.monotonic()
        call(3, "while True: pass")
        time.sleep(0.5)
        send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3, "reason": "test"}})
        call(4, "print('kept' in globals())")
        answer = reply_to(4)["result"]
        assert time.monotonic() - started < 60, "the cancelled guest ran on to its timeout"
        assert answer["content"][0]["text"] == "False\n"  # a new sandbox
    finally:
        server.stdin.close()
        assert server.wait(timeout=30) == 0

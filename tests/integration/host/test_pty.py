"""The PTY WebSocket on a real gVisor sandbox: human, agent and exec modes, resize, reattach."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from chaser.host.client import HostClient
from chaser.host.wire import ExecRequest, VmSpec

from .conftest import Daemon, running_vm
from .streams import Terminal, hello, read_until

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]

VM = "pty-vm"
PROMPT = re.compile(r"root@[^:]+:/workspace#")


def at_prompt(screen: str) -> bool:
    """The last non-empty line of the screen is a bare prompt."""
    lines = [line for line in screen.splitlines() if line.strip()]
    return bool(lines) and PROMPT.fullmatch(lines[-1].strip()) is not None


@pytest.fixture(scope="module")
async def client(module_daemon: Daemon) -> AsyncIterator[HostClient]:
    async with running_vm(module_daemon, VmSpec(vm_id=VM, env={"CHASER_SESSION": "1"})) as client:
        yield client


async def test_human_terminal_prompt_echo_resize_and_top(client: HostClient) -> None:
    async with client.pty_connect(VM, mode="human", cols=80, rows=24) as ws:
        info = await hello(ws)
        assert info["pid"] > 0 and info["replayed"] == 0
        term = Terminal(ws)
        await term.wait_for(at_prompt)
        await term.type("echo hi\r")
        screen = await term.wait_for(lambda s: "\nhi\n" in s and at_prompt(s))
        assert "echo hi" in screen

        await ws.send(json.dumps({"type": "resize", "cols": 100, "rows": 30}))
        term.resize(100, 30)
        await term.type("stty size\r")
        await term.wait_for(lambda s: "\n30 100\n" in s)

        await client.resize_pty(VM, info["pty_id"], cols=90, rows=20)
        term.resize(90, 20)
        await term.type("clear; stty size\r")
        await term.wait_for(lambda s: "20 90" in s)

        # A full-screen program. (Not top or vim: this runsc (2022-12) lacks TCSETSF, i.e.
        # tcsetattr(TCSAFLUSH), and top exits with "failed tty set".)
        await term.type("seq 1000 | less\r")
        await term.wait_for(lambda s: "\n19\n" in s and ":" in s.splitlines()[-1])
        await term.type(" ")  # next page
        await term.wait_for(lambda s: "\n38\n" in s)
        await term.type("q")
        await term.type("clear; echo back\r")
        await term.wait_for(lambda s: "back" in s and at_prompt(s))

        # Keystroke echo latency: one character typed, until its echo arrives.
        samples = []
        for char in "abcdefghij":
            started = time.perf_counter()
            await ws.send(char.encode())
            await read_until(ws, lambda data, c=char: c.encode() in data)
            samples.append((time.perf_counter() - started) * 1000)
        print(f"\npty keystroke echo: median {statistics.median(samples):.1f} ms, max {max(samples):.1f} ms")
        await term.type("\x15exit\r")  # ^U clears the typed letters
        _, texts = await _drain(ws)
        assert {"type": "exit", "code": 0} in texts


async def _drain(ws: ClientConnection) -> tuple[bytes, list[dict[str, object]]]:
    """Everything until the server closes the socket, which must be a normal close (1000)."""
    data = b""
    texts: list[dict[str, object]] = []
    try:
        while True:
            message = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(message, bytes):
                data += message
            else:
                texts.append(json.loads(message))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 1000
    return data, texts


async def test_agent_mode_has_no_prompt_noise(client: HostClient) -> None:
    async with client.pty_connect(VM, mode="agent") as ws:
        await hello(ws)
        await ws.send(b"echo hi; echo $TERM\n")
        data, _ = await read_until(ws, lambda d: b"dumb" in d)
        assert data == b"hi\r\ndumb\r\n"
        await ws.send(b"exit 5\n")
        _, texts = await _drain(ws)
        assert texts == [{"type": "exit", "code": 5}]


async def test_exec_mode_streams_output_then_exit_code(client: HostClient) -> None:
    async with client.pty_connect(VM, mode="exec", command="tty; echo out; exit 7") as ws:
        await hello(ws)
        data, texts = await _drain(ws)
        assert b"/dev/pts/" in data and b"out\r\n" in data
        assert texts == [{"type": "exit", "code": 7}]


async def test_reattach_replays_output_produced_while_detached(client: HostClient) -> None:
    async with client.pty_connect(VM, mode="agent") as ws:
        pty_id = (await hello(ws))["pty_id"]
        await ws.send(b"echo before\n")
        await read_until(ws, lambda d: b"before" in d)
        await ws.send(b"sleep 0.5; echo while-away\n")
    # The socket is gone; the terminal is detached, not killed.
    listed = {p.pty_id: p for p in await client.list_ptys(VM)}
    assert pty_id in listed
    await asyncio.sleep(1.2)
    assert not {p.pty_id: p for p in await client.list_ptys(VM)}[pty_id].attached

    async with client.pty_connect(VM, pty_id=pty_id) as ws:
        info = await hello(ws)
        assert info["pty_id"] == pty_id and info["replayed"] > 0
        data, _ = await read_until(ws, lambda d: b"while-away" in d)
        assert b"before" not in data  # the first socket got that already
        assert {p.pty_id: p for p in await client.list_ptys(VM)}[pty_id].attached
        await ws.send(b"exit\n")
        await _drain(ws)


async def test_sockets_that_cannot_be_served_close_with_a_code(
    client: HostClient, module_daemon: Daemon
) -> None:
    cases = [
        (client.pty_connect(VM, pty_id="pty-nope"), 4404),
        (client.pty_connect("no-such-vm"), 4404),
        (client.pty_connect(VM, mode="bogus"), 4400),
        (client.pty_connect(VM, mode="exec"), 4400),
        (client.pty_connect(VM, cols=5000), 4400),
        (HostClient(module_daemon.url, "wrong").pty_connect(VM), 4401),
    ]
    for connect, code in cases:
        async with connect as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == code, closed.value


async def test_a_second_attach_takes_the_terminal_over(client: HostClient) -> None:
    async with client.pty_connect(VM, mode="agent") as first:
        pty_id = (await hello(first))["pty_id"]
        async with client.pty_connect(VM, pty_id=pty_id, cols=70, rows=20) as second:
            await hello(second)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(first.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4409
            await second.send(b"stty size; exit\n")
            await read_until(second, lambda d: b"20 70" in d)
            _, texts = await _drain(second)
            assert texts == [{"type": "exit", "code": 0}]


async def test_a_detached_terminal_is_killed_after_the_grace_period(image_cache: Path) -> None:
    daemon = Daemon(image_cache, env={"CHASER_HOST_PTY_GRACE_S": "0.5"})
    try:
        daemon.start()
        client = daemon.client()
        await client.create_vm(VmSpec(vm_id="grace"))
        async with client.pty_connect("grace", mode="human") as ws:
            info = await hello(ws)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ptys = {p.pty_id: p for p in await client.list_ptys("grace")}
            if info["pty_id"] not in ptys:
                break
            await asyncio.sleep(0.2)
        assert info["pty_id"] not in ptys  # killed after 0.5 s, forgotten 0.5 s after its exit
        probe = ExecRequest(command=f"kill -0 {info['pid']} && echo alive || true")
        alive = await client.exec("grace", probe)
        assert "alive" not in alive.output
        async with client.pty_connect("grace", pty_id=info["pty_id"]) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
        await client.aclose()
    finally:
        daemon.destroy()

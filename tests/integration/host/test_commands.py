"""Background commands on a real gVisor sandbox: start, events resumable by seq, stdin, kill."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chaser.host.client import HostClient, HostError
from chaser.host.wire import CommandStatus, ExecRequest, VmSpec

from .conftest import Daemon, running_vm

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]

VM = "cmd-vm"


@pytest.fixture(scope="module")
async def client(module_daemon: Daemon) -> AsyncIterator[HostClient]:
    async with running_vm(module_daemon, VmSpec(vm_id=VM, env={"FROM_SPEC": "spec"})) as client:
        yield client


async def events(client: HostClient, command_id: str, after: int = 0) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [e async for e in client.command_events(VM, command_id, after=after)]

    return await asyncio.wait_for(collect(), 20)


def text(evts: list[dict[str, Any]], kind: str) -> str:
    return "".join(e["data"] for e in evts if e["type"] == kind)


async def test_start_returns_at_once_and_events_resume_after_seq(client: HostClient) -> None:
    started = time.perf_counter()
    info = await client.start_command(
        VM, ExecRequest(command='echo "out $FROM_SPEC"; echo err >&2; sleep 0.3; echo late; exit 3')
    )
    assert time.perf_counter() - started < 0.3 + 0.2
    assert info.status is CommandStatus.RUNNING and info.exit_code is None and info.pid > 0

    everything = await events(client, info.command_id)
    assert everything[-1] == {"seq": everything[-1]["seq"], "type": "exit", "exit_code": 3}
    assert [e["seq"] for e in everything] == list(range(1, len(everything) + 1))
    assert text(everything, "stdout") == "out spec\nlate\n" and text(everything, "stderr") == "err\n"

    # Resume after the first event: only later ones come.
    rest = await events(client, info.command_id, after=everything[0]["seq"])
    assert rest == everything[1:]

    done = await client.get_command(VM, info.command_id)
    assert done.status is CommandStatus.EXITED and done.exit_code == 3 and done.ended_at
    assert info.command_id in [c.command_id for c in await client.list_commands(VM)]


async def test_events_follow_a_running_command(client: HostClient) -> None:
    info = await client.start_command(VM, ExecRequest(command="for i in 1 2 3; do echo $i; sleep 0.2; done"))
    seen: list[dict[str, Any]] = []
    async for event in client.command_events(VM, info.command_id):
        seen.append(event)
    assert text(seen, "stdout") == "1\n2\n3\n" and seen[-1]["exit_code"] == 0


async def test_stdin_then_eof_to_cat(client: HostClient) -> None:
    info = await client.start_command(VM, ExecRequest(command="cat", stdin="first\n"))
    await client.command_stdin(VM, info.command_id, data="second\n")
    assert (await client.get_command(VM, info.command_id)).status is CommandStatus.RUNNING
    await client.command_stdin(VM, info.command_id, data="third", eof=True)
    got = await events(client, info.command_id)
    assert text(got, "stdout") == "first\nsecond\nthird" and got[-1]["exit_code"] == 0


async def test_kill_with_a_signal_reaches_the_process_group(client: HostClient) -> None:
    info = await client.start_command(VM, ExecRequest(command="sleep 60 & sleep 60; echo never"))
    killed = await client.kill_command(VM, info.command_id)  # TERM by default
    assert killed.command_id == info.command_id
    got = await events(client, info.command_id)
    assert got[-1]["exit_code"] == 128 + 15 and "never" not in text(got, "stdout")
    final = await client.get_command(VM, info.command_id)
    assert final.status is CommandStatus.KILLED and final.exit_code == 143
    # The background sleep was in the same process group, so it is gone too.
    leftover = await client.exec(VM, ExecRequest(command="pgrep -c -x sleep || true"))
    assert leftover.output.strip() == "0"

    for signal, code in (("INT", 130), (9, 137)):
        running = await client.start_command(VM, ExecRequest(command="sleep 60"))
        await client.kill_command(VM, running.command_id, signal=signal)
        assert (await events(client, running.command_id))[-1]["exit_code"] == code


async def test_output_is_kept_after_exit_and_errors_are_named(client: HostClient) -> None:
    info = await client.start_command(VM, ExecRequest(command="seq 1 5"))
    first = await events(client, info.command_id)
    await asyncio.sleep(0.2)
    assert await events(client, info.command_id) == first  # still readable, same events

    for call in (
        client.get_command(VM, "cmd-nope"),
        client.kill_command(VM, "cmd-nope"),
        client.command_stdin(VM, "cmd-nope", data="x"),
        events(client, "cmd-nope"),
    ):
        with pytest.raises(HostError) as missing:
            await call
        assert (missing.value.status, missing.value.code) == (404, "command_not_found")
    with pytest.raises(HostError) as bad:
        await client.kill_command(VM, info.command_id, signal="NOPE")
    assert (bad.value.status, bad.value.code) == (400, "bad_signal")


async def test_large_output_is_bounded_with_a_dropped_marker(client: HostClient) -> None:
    # ~3 MiB of output through a 1 MiB buffer: the oldest events are dropped.
    info = await client.start_command(VM, ExecRequest(command="head -c 3000000 /dev/zero | tr '\\0' x"))
    while (await client.get_command(VM, info.command_id)).status is CommandStatus.RUNNING:
        await asyncio.sleep(0.1)
    got = await events(client, info.command_id)
    assert got[0]["type"] == "dropped" and got[0]["count"] > 0
    kept = len(text(got, "stdout"))
    assert 512 * 1024 < kept <= 1024 * 1024 and got[-1]["type"] == "exit"

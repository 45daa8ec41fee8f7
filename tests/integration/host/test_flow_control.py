"""Flow control on the agent channel: a client that stops reading stalls the guest process that
writes, instead of piling its output up in the host daemon; nothing is lost when it reads again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chaser.host.client import HostClient
from chaser.host.wire import VmSpec

from .conftest import Daemon, running_vm
from .streams import hello

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]

VM = "flow-vm"
TOTAL = 100_000_000  # bytes the guest writes: far more than the daemon may hold for one channel
STALL_S = 3.0
# Without flow control the daemon grew ~45 MiB in this stall (measured); with it, ~0.
MAX_GROWTH = 16 * 1024 * 1024


@pytest.fixture(scope="module")
async def client(module_daemon: Daemon) -> AsyncIterator[HostClient]:
    async with running_vm(module_daemon, VmSpec(vm_id=VM)) as client:
        yield client


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


async def test_a_stalled_terminal_client_holds_back_the_guest_not_the_daemon(
    client: HostClient, module_daemon: Daemon
) -> None:
    assert module_daemon.proc is not None
    daemon_pid = module_daemon.proc.pid
    # Incompressible: the socket's per-message deflate would otherwise hide 100 MB in a few kB.
    command = f"base64 -w0 /dev/urandom | head -c {TOTAL}"
    async with client.pty_connect(VM, mode="exec", command=command) as ws:
        await hello(ws)
        before = rss(daemon_pid)
        peak = before
        for _ in range(int(STALL_S / 0.25)):  # not reading: the guest must stop, not the daemon grow
            await asyncio.sleep(0.25)
            peak = max(peak, rss(daemon_pid))
        assert peak - before < MAX_GROWTH, f"daemon grew {(peak - before) >> 20} MiB while the client stalled"

        received, exit_code = 0, None
        async for message in ws:
            if isinstance(message, bytes):
                received += len(message) - message.count(b"\r") - message.count(b"\n")
            elif json.loads(message).get("type") == "exit":
                exit_code = json.loads(message)["code"]
        assert exit_code == 0
        assert received == TOTAL, "every byte arrives once the client reads again"

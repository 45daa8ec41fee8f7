"""AgentLink against the real agent connection code, over a unix socket in a temp dir (no VM)."""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from chaser.agent.connection import Connection
from chaser.host.agent_link import AgentLink
from chaser.host.errors import AgentError, AgentUnavailable

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def start_agent(path: Path, token: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(path))
    threading.Thread(target=Connection(sock, token).serve, daemon=True).start()
    return sock


async def connect(link: AgentLink, token: str) -> socket.socket:
    sock = await asyncio.to_thread(start_agent, link.socket_path, token)
    return sock


async def test_call_exec_and_errors() -> None:
    with tempfile.TemporaryDirectory(prefix="al-", dir="/tmp") as tmp:
        link = AgentLink("vm", Path(tmp) / "sock" / "agent.sock", "tok")
        await link.listen()
        agent = await connect(link, "tok")
        assert await link.wait_connected(5)
        assert (await link.call("ping")).result == {}
        reply = await link.call("exec", {"command": "cat; echo done"}, stdin=b"in\n")
        assert bytes(reply.data) == b"in\ndone\n" and reply.result["exit_code"] == 0
        capped = await link.call("exec", {"command": "seq 1000"}, max_data=5)
        assert bytes(capped.data) == b"1\n2\n3" and capped.data_dropped
        with pytest.raises(AgentError) as err:
            await link.call("read_file", {"path": "/nonexistent", "max_bytes": 10})
        assert err.value.agent_code == "file_not_found"
        agent.close()
        await link.close()


async def test_wrong_token_is_refused_and_a_drop_fails_pending_calls() -> None:
    with tempfile.TemporaryDirectory(prefix="al-", dir="/tmp") as tmp:
        link = AgentLink("vm", Path(tmp) / "agent.sock", "right")
        await link.listen()
        impostor = await connect(link, "wrong")
        assert not await link.wait_connected(0.3)
        impostor.close()

        agent = await connect(link, "right")
        assert await link.wait_connected(5)
        pending = asyncio.create_task(link.call("exec", {"command": "sleep 30"}))
        await asyncio.sleep(0.2)
        agent.shutdown(socket.SHUT_RDWR)
        with pytest.raises(AgentUnavailable):
            await asyncio.wait_for(pending, 5)
        assert not link.connected

        # The agent reconnects (as __main__ does) and the link serves it again.
        agent = await connect(link, "right")
        assert await link.wait_connected(5)
        assert (await link.call("ping")).result == {}
        agent.close()
        await link.close()
        with pytest.raises(AgentUnavailable):
            await link.call("ping")


async def test_long_socket_paths_bind() -> None:
    with tempfile.TemporaryDirectory(prefix="al-", dir="/tmp") as tmp:
        deep = Path(tmp) / ("d" * 60) / ("e" * 60) / "agent.sock"
        link = AgentLink("vm", deep, "t")
        await link.listen()
        assert deep.is_socket()
        await link.close()

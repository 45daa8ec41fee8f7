"""The port tunnel WebSocket: bytes to 127.0.0.1:<port> inside a gVisor sandbox (no networking)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from websockets.exceptions import ConnectionClosed

from chaser.host.client import HostClient
from chaser.host.wire import CommandStatus, ExecRequest, VmSpec

from .conftest import Daemon

pytestmark = [pytest.mark.gvisor, pytest.mark.anyio]

VM = "port-vm"
PORT = 8765


@pytest.fixture(scope="module")
async def client(module_daemon: Daemon) -> AsyncIterator[HostClient]:
    client = module_daemon.client()
    await client.create_vm(VmSpec(vm_id=VM))
    await client.write_file(VM, "/workspace/site/index.html", b"<h1>hello from the sandbox</h1>")
    await client.write_file(VM, "/workspace/site/big.bin", b"z" * (8 << 20))
    server = await client.start_command(
        VM, ExecRequest(command=f"python3 -m http.server {PORT} --bind 127.0.0.1", cwd="/workspace/site")
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        probe = await client.exec(VM, ExecRequest(command=f"curl -sf http://127.0.0.1:{PORT}/ >/dev/null"))
        if probe.exit_code == 0:
            break
        assert (await client.get_command(VM, server.command_id)).status is CommandStatus.RUNNING
        await asyncio.sleep(0.1)
    yield client
    await client.stop_vm(VM)
    await client.aclose()


async def http_get(client: HostClient, path: str) -> bytes:
    async with client.port_tunnel(VM, PORT) as ws:
        await ws.send(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        response = b""
        try:
            while True:
                message = await asyncio.wait_for(ws.recv(), 20)
                assert isinstance(message, bytes)
                response += message
        except ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1000  # the server closed its side
        return response


async def test_http_request_through_the_tunnel_gets_the_page(client: HostClient) -> None:
    response = await http_get(client, "/index.html")
    assert response.startswith(b"HTTP/1.0 200") and response.endswith(b"<h1>hello from the sandbox</h1>")


async def test_tunnel_throughput(client: HostClient) -> None:
    started = time.perf_counter()
    response = await http_get(client, "/big.bin")
    elapsed = time.perf_counter() - started
    assert response.endswith(b"z" * 1000) and len(response) > 8 << 20
    print(f"\nport tunnel: 8 MiB in {elapsed * 1000:.0f} ms = {8 / elapsed:.0f} MiB/s")


async def test_a_refused_port_closes_4502(client: HostClient) -> None:
    async with client.port_tunnel(VM, 1) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4502
    assert closed.value.rcvd.reason.startswith("port_refused")


async def test_client_close_ends_the_guest_connection(client: HostClient) -> None:
    # Open and drop a tunnel without sending anything; the server must not be left stuck.
    async with client.port_tunnel(VM, PORT):
        pass
    assert (await http_get(client, "/index.html")).startswith(b"HTTP/1.0 200")

"""A stand-in for the host daemon's interactive surface, for testing the control plane's relays
without a sandbox: port tunnels are real (a WebSocket bridge to 127.0.0.1:<port> on this
machine), the PTY is an echoing socket, and background commands are scripted events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import Server, ServerConnection, serve

from chaser.host.client import HostError
from chaser.host.wire import VmInfo, VmState


@dataclass
class FakeCommand:
    command_id: str
    pid: int
    command: str
    status: str = "running"
    exit_code: int | None = None
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None


class FakeHostClient:
    def __init__(self) -> None:
        self.server: Server | None = None
        self.port = 0
        self.commands: dict[str, FakeCommand] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.stdin: list[tuple[str, str, bool]] = []
        self.open_sockets = 0

    async def start(self) -> None:
        self.server = await serve(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, ws: ServerConnection) -> None:
        self.open_sockets += 1
        try:
            path = ws.request.path if ws.request else "/"
            if path.startswith("/port/"):
                await self._tunnel(ws, int(path.rsplit("/", 1)[1]))
            else:
                await self._pty(ws)
        finally:
            self.open_sockets -= 1

    async def _tunnel(self, ws: ServerConnection, port: int) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await ws.close(4502, f"connection to port {port} refused")
            return

        async def up() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for message in ws:
                    writer.write(message if isinstance(message, bytes) else message.encode())
                    await writer.drain()
            writer.close()

        async def down() -> None:
            while data := await reader.read(65536):
                await ws.send(data)
            await ws.close()

        tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            t.cancel()

    async def _pty(self, ws: ServerConnection) -> None:
        await ws.send(json.dumps({"type": "pty", "pty_id": "p1", "pid": 42, "replayed": 0}))
        async for message in ws:
            if isinstance(message, bytes):
                if message == b"exit\r":
                    await ws.send(json.dumps({"type": "exit", "code": 0}))
                    await ws.close(1000)
                    return
                await ws.send(message)
            else:
                await ws.send(json.dumps({"type": "ack", "got": json.loads(message)}))

    # -- the HostClient surface the control plane uses -----------------------------------------

    @contextlib.asynccontextmanager
    async def port_tunnel(self, vm_id: str, port: int) -> AsyncIterator[ClientConnection]:
        async with websockets.connect(f"ws://127.0.0.1:{self.port}/port/{port}") as ws:
            yield ws

    @contextlib.asynccontextmanager
    async def pty_connect(self, vm_id: str, **params: Any) -> AsyncIterator[ClientConnection]:
        async with websockets.connect(f"ws://127.0.0.1:{self.port}/pty") as ws:
            yield ws

    def add_command(self, command_id: str, events: list[dict[str, Any]]) -> None:
        self.commands[command_id] = FakeCommand(command_id, 100, "fake")
        self.events[command_id] = events

    async def get_command(self, vm_id: str, command_id: str) -> FakeCommand:
        if command_id not in self.commands:
            raise HostError(404, "command_not_found", "no such command")
        return self.commands[command_id]

    async def list_commands(self, vm_id: str) -> list[FakeCommand]:
        return list(self.commands.values())

    async def command_events(
        self, vm_id: str, command_id: str, after: int | None = None
    ) -> AsyncGenerator[dict[str, Any], None]:
        for event in self.events[command_id]:
            if event.get("sleep"):
                await asyncio.sleep(event["sleep"])
                continue
            if after is None or event["seq"] > after:
                yield event

    async def command_stdin(self, vm_id: str, command_id: str, data: str, eof: bool) -> FakeCommand:
        self.stdin.append((command_id, data, eof))
        return await self.get_command(vm_id, command_id)

    async def stop_vm(self, vm_id: str) -> None:
        return None

    async def get_vm(self, vm_id: str) -> VmInfo:
        return VmInfo(
            vm_id=vm_id,
            state=VmState.RUNNING,
            runtime="fake",
            accel="none",
            image="base",
            disk_id=None,
            created_at=time.time(),
        )

    async def list_vms(self) -> list[VmInfo]:
        return []

"""A Server-Sent Events response that relays a background command's events under a connection
lease. One ASGI callable owns the whole stream (lease, pump, disconnect watch), so however the
client goes away the lease is released in this task, never by a garbage-collected generator."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from chaser.domain.commands import EventSource
from chaser.domain.errors import ChaserError
from chaser.domain.leases import Leases

log = logging.getLogger("chaser.api.sse")

KEEPALIVE_S = 15.0
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def format_event(event: dict[str, Any]) -> bytes:
    """`id: <seq>`, `event: <type>`, `data: <json>`: stdout/stderr carry `{"data"}`, exit
    `{"exit_code"}`, dropped `{"count"}` (events lost to the bounded buffer)."""
    kind = str(event.get("type", "message"))
    if kind == "exit":
        data: dict[str, Any] = {"exit_code": event.get("exit_code")}
    elif kind == "dropped":
        data = {"count": event.get("count")}
    else:
        data = {"data": event.get("data", "")}
    lines = []
    if event.get("seq") is not None:
        lines.append(f"id: {event['seq']}")
    lines.append(f"event: {kind}")
    lines.append(f"data: {json.dumps(data, ensure_ascii=False)}")
    return ("\n".join(lines) + "\n\n").encode()


class CommandStream(Response):
    media_type = "text/event-stream"

    def __init__(self, source: EventSource, leases: Leases) -> None:
        # As StreamingResponse does: no `body`, so no Content-Length is computed.
        self.status_code = 200
        self.background = None
        self.init_headers(HEADERS)
        self.source = source
        self.leases = leases

    async def _pump(self, out: MemoryObjectSendStream[dict[str, Any]]) -> None:
        events = self.source.events()
        try:
            async with out:
                async for event in events:
                    await out.send(event)
        except ChaserError as exc:
            log.warning("command stream of %s ended early: %s", self.source.command_id, exc.message)
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await events.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        closer = anyio.CancelScope()
        async with self.leases.hold(self.source.session_id, "stream", closer.cancel):
            with closer, contextlib.suppress(OSError):
                async with anyio.create_task_group() as tg:

                    async def watch_disconnect() -> None:
                        while (await receive())["type"] != "http.disconnect":
                            pass
                        tg.cancel_scope.cancel()

                    tg.start_soon(watch_disconnect)
                    await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
                    out, events = anyio.create_memory_object_stream[dict[str, Any]](256)
                    tg.start_soon(self._pump, out)
                    async with events:
                        while True:
                            with anyio.move_on_after(KEEPALIVE_S) as idle:
                                try:
                                    event = await events.receive()
                                except anyio.EndOfStream:
                                    break
                            if idle.cancelled_caught:
                                await send(
                                    {
                                        "type": "http.response.body",
                                        "body": b": keepalive\n\n",
                                        "more_body": True,
                                    }
                                )
                                continue
                            await send(
                                {"type": "http.response.body", "body": format_event(event), "more_body": True}
                            )
                            if event.get("type") == "exit":
                                break
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    tg.cancel_scope.cancel()

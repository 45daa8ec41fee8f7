"""WebSocket plumbing shared by the public routes and the gateway: credentials, the close code
for each error, and the two-way relay to an upstream socket (the host daemon's PTY or port tunnel).

A socket that can't be served is accepted and then closed with `4000 + HTTP status` (4401, 4403,
4404, 4409, 4400, 4502, 4503) and the error message as reason, because a close before accept
reaches browsers as a bare 403.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from chaser.api.errors import status_for
from chaser.domain.errors import ChaserError
from chaser.domain.leases import Leases

log = logging.getLogger("chaser.api.sockets")

SESSION_COOKIE = "chaser_session_{session_id}"
TERMINATED = (4409, "the session was terminated")


def cookie_name(session_id: str) -> str:
    return SESSION_COOKIE.format(session_id=session_id.lower())


def credential(
    headers: Mapping[str, str], query: Mapping[str, str], cookies: Mapping[str, str], session_id: str
) -> str | None:
    """`Authorization: Bearer`, else `?token=` / `?chaser_token=`, else the session's cookie."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return query.get("token") or query.get("chaser_token") or cookies.get(cookie_name(session_id)) or None


def close_code_for(code: str) -> int:
    status = status_for(code)
    return 1011 if status == 500 else 4000 + status


def _reason(text: str) -> str:
    """Close reasons are capped at 123 bytes of UTF-8."""
    raw = text.encode()[:123]
    return raw.decode(errors="ignore")


async def refuse(websocket: WebSocket, error: ChaserError) -> None:
    with contextlib.suppress(Exception):
        if websocket.application_state == WebSocketState.CONNECTING:
            await websocket.accept()
        await websocket.close(close_code_for(error.code), _reason(error.message))


async def close(websocket: WebSocket, code: int, reason: str = "") -> None:
    if code in (1005, 1006):  # reserved: never sent in a close frame
        code, reason = (1000, "") if code == 1005 else (1011, reason or "the upstream connection was lost")
    with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
        if websocket.application_state != WebSocketState.DISCONNECTED:
            await websocket.close(code, _reason(reason))


async def relay(client: WebSocket, upstream: ClientConnection) -> tuple[int, str] | None:
    """Pump messages both ways (binary stays binary, text stays text) until one side ends.

    Returns the upstream's close `(code, reason)` when it ended first, None when the client
    went away. The caller closes the other side."""
    ended: list[tuple[int, str] | None] = []

    async def down() -> None:
        try:
            async for message in upstream:
                if isinstance(message, bytes):
                    await client.send_bytes(message)
                else:
                    await client.send_text(message)
        except ConnectionClosed:
            pass
        except (WebSocketDisconnect, OSError, RuntimeError):
            ended.append(None)  # the client vanished while we wrote to it
            tg.cancel_scope.cancel()
            return
        ended.append((upstream.close_code or 1005, upstream.close_reason or ""))
        tg.cancel_scope.cancel()

    async def up() -> None:
        try:
            while True:
                message = await client.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes") is not None:
                    await upstream.send(message["bytes"])
                elif message.get("text") is not None:
                    await upstream.send(message["text"])
        except ConnectionClosed:
            # The upstream ended while we wrote to it; `down` reports how.
            await anyio.sleep_forever()
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass
        ended.append(None)
        tg.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(down)
        tg.start_soon(up)
    return ended[0] if ended else None


async def finish(client: WebSocket, upstream: ClientConnection, outcome: tuple[int, str] | None) -> None:
    """After `relay`: pass the upstream's close code on, or close the upstream for a gone client."""
    if outcome is not None:
        await close(client, *outcome)
    with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
        await upstream.close()


async def relay_held(
    websocket: WebSocket, upstream: ClientConnection, leases: Leases, session_id: str, kind: str
) -> None:
    """Accept, then relay under a connection lease; a forced terminate closes it with 4409."""
    scope = anyio.CancelScope()
    outcome: tuple[int, str] | None = None
    try:
        await websocket.accept()
        async with leases.hold(session_id, kind, scope.cancel):
            with scope:
                outcome = await relay(websocket, upstream)
            if scope.cancelled_caught:
                outcome = TERMINATED
    finally:
        await finish(websocket, upstream, outcome)

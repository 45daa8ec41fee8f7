"""What the interactive routes share: the VmManager, token checks, WebSocket error closes.

A WebSocket that cannot be served is accepted and then closed with 4000 + the HTTP status its
error would have had (4400 bad parameters, 4401 unauthorized, 4404 vm/pty/command not found,
4409 vm not running, 4502 guest port refused, 4503 agent unavailable; anything else 4500),
with "<code>: <message>" as the close reason.
"""

from __future__ import annotations

import contextlib
import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketState

from chaser.host.errors import AGENT_CODE_STATUS, AgentError, DaemonError
from chaser.host.vms import VmManager

WS_STATUSES = (400, 401, 403, 404, 409, 413, 502, 503)
MAX_REASON_BYTES = 123  # a close frame's reason is at most 123 bytes


def _vms(request: Request) -> VmManager:
    manager: VmManager = request.app.state.vms
    return manager


Vms = Annotated[VmManager, Depends(_vms)]


def token_ok(connection: HTTPConnection) -> bool:
    header = connection.headers.get("authorization", "")
    return hmac.compare_digest(header.encode(), f"Bearer {connection.app.state.token}".encode())


def ws_vms(websocket: WebSocket) -> VmManager:
    manager: VmManager = websocket.app.state.vms
    return manager


def status_and_code(exc: DaemonError) -> tuple[int, str]:
    if isinstance(exc, AgentError):
        return AGENT_CODE_STATUS.get(exc.agent_code, 500), exc.agent_code
    return exc.status, exc.code


async def close_ws(websocket: WebSocket, status: int, code: str, message: str) -> None:
    ws_code = 4000 + status if status in WS_STATUSES else 4500
    reason = f"{code}: {message}".encode()[:MAX_REASON_BYTES].decode(errors="ignore")
    if websocket.client_state is WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):  # the client left first
            await websocket.close(ws_code, reason)


async def close_ws_error(websocket: WebSocket, exc: DaemonError) -> None:
    status, code = status_and_code(exc)
    await close_ws(websocket, status, code, exc.message)


async def accept_authorized(websocket: WebSocket) -> bool:
    """Accept, then close 4401 unless the handshake carried the host token."""
    await websocket.accept()
    if token_ok(websocket):
        return True
    await close_ws(websocket, 401, "unauthorized", "missing or wrong bearer token")
    return False

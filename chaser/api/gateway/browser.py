"""What a browser session's control endpoint adds to the gateway: CDP (`/json...`,
`/devtools/...`, see `cdp.py`) and the live view (`/live/`, see `live.py`)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from chaser.api.gateway import cdp, live
from chaser.api.gateway.routing import Target


def handles(rest: str) -> bool:
    return cdp.is_cdp_path(rest) or live.is_live_path(rest)


async def serve_http(scope: Scope, receive: Receive, send: Send, t: Target, headers: Headers) -> None:
    if live.is_live_path(t.rest):
        await live.serve_http(scope, receive, send, t, headers)
        return
    await cdp.serve_http(scope, receive, send, t, headers)


async def serve_websocket(websocket: WebSocket, t: Target, headers: Headers) -> None:
    await cdp.serve_websocket(websocket, t, headers)

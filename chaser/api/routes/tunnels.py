"""`GET /v1/sessions/{id}/ports/{port}/tunnel`: a raw byte tunnel (WebSocket, binary frames both
ways) to `127.0.0.1:<port>` inside the sandbox, as `chaser forward` uses it."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, WebSocket

from chaser.api import sockets
from chaser.domain import connections
from chaser.domain.errors import ChaserError, InvalidField
from chaser.domain.host import Host, host_errors

router = APIRouter(prefix="/v1/sessions", tags=["tunnels"])


@router.websocket("/{session_id}/ports/{port}/tunnel")
async def tunnel(websocket: WebSocket, session_id: str, port: str) -> None:
    """Bytes both ways; either side closing ends it. Nothing listening → close 4502. Auth as the
    PTY socket (`Authorization: Bearer`, or `?token=`); scope `exec.write`."""
    app = websocket.app
    host: Host = app.state.host
    query = dict(websocket.query_params)
    async with contextlib.AsyncExitStack() as stack:
        try:
            if not port.isdigit():
                raise InvalidField("port: must be an integer")
            connections.check_port(int(port))
            async with app.state.sessionmaker() as db:
                cred = sockets.credential(websocket.headers, query, websocket.cookies, session_id)
                _, s = await connections.authorize(db, app.state.token_secret, cred, session_id)
            with host_errors("open tunnel"):
                upstream = await stack.enter_async_context(
                    host.client.port_tunnel(s.host_vm_id or s.id, int(port))
                )
        except ChaserError as exc:
            await sockets.refuse(websocket, exc)
            return
        await sockets.relay_held(websocket, upstream, app.state.leases, s.id, "tunnel")

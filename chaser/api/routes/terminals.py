"""Terminals: `GET /v1/sessions/{id}/pty` (WebSocket, relayed to the host daemon's PTY socket) and
`POST /v1/sessions/{id}/resize`. The same socket is served behind the gateway at `/pty`."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, WebSocket
from pydantic import Field

from chaser.api import sockets
from chaser.api.deps import Db, HostDep, Requires
from chaser.api.schemas.common import Body
from chaser.domain import connections, terminals
from chaser.domain.errors import ChaserError, InvalidField
from chaser.domain.host import Host, host_errors
from chaser.domain.leases import Leases
from chaser.domain.principal import Principal

router = APIRouter(prefix="/v1/sessions", tags=["terminals"])
Executor = Annotated[Principal, Requires("exec.write")]


class ResizeIn(Body):
    cols: int = Field(description="1 to 1000")
    rows: int = Field(description="1 to 1000")
    pty_id: str | None = Field(
        default=None, description="One terminal; omitted: every terminal of the session"
    )


class ResizeOut(Body):
    resized: list[str]


@router.post("/{session_id}/resize")
async def resize(session_id: str, body: ResizeIn, who: Executor, db: Db, host: HostDep) -> ResizeOut:
    """Resize a terminal (or all of them); the PTY socket's `resize` message does the same."""
    return ResizeOut(
        resized=await terminals.resize(db, host, who, session_id, body.cols, body.rows, body.pty_id)
    )


def _int(query: dict[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidField(f"{name}: must be an integer") from None


def pty_params(query: dict[str, str]) -> terminals.PtyParams:
    params = terminals.PtyParams(
        mode=query.get("mode") or "human",
        cols=_int(query, "cols", 80),
        rows=_int(query, "rows", 24),
        command=query.get("command") or None,
        pty_id=query.get("pty_id") or None,
    )
    terminals.check(params)
    return params


@router.websocket("/{session_id}/pty")
async def pty(websocket: WebSocket, session_id: str) -> None:
    """Terminal bytes both ways as binary frames; text frames carry JSON control messages:
    first `{"type": "pty", "pty_id", "pid", "replayed"}` from the server, `{"type": "resize",
    "cols", "rows"}` from the client, `{"type": "exit", "code"}` before a 1000 close.
    `?mode=human|agent|exec&cols&rows&command&pty_id` (`pty_id` reattaches). Auth:
    `Authorization: Bearer`, or `?token=` (a key or a session token). Scope `exec.write`."""
    await serve_pty(websocket, session_id)


async def serve_pty(websocket: WebSocket, session_id: str) -> None:
    app = websocket.app
    host: Host = app.state.host
    leases: Leases = app.state.leases
    query = dict(websocket.query_params)
    async with contextlib.AsyncExitStack() as stack:
        try:
            params = pty_params(query)
            async with app.state.sessionmaker() as db:
                cred = sockets.credential(websocket.headers, query, websocket.cookies, session_id)
                _, s = await connections.authorize(db, app.state.token_secret, cred, session_id)
            with host_errors("open terminal"):
                upstream = await stack.enter_async_context(
                    host.client.pty_connect(
                        s.host_vm_id or s.id,
                        mode=params.mode,
                        cols=params.cols,
                        rows=params.rows,
                        command=params.command,
                        pty_id=params.pty_id,
                    )
                )
        except ChaserError as exc:
            await sockets.refuse(websocket, exc)
            return
        await sockets.relay_held(websocket, upstream, leases, s.id, "pty")

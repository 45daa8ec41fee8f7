"""`WS /vms/{vm_id}/pty`, `GET /vms/{vm_id}/ptys`, `POST /vms/{vm_id}/ptys/{pty_id}/resize`.

The relay holds one agent `pty` channel per socket. When the socket goes, the channel is closed
with {"delivered": offset} and the terminal detaches (it is not killed: a reattach with pty_id
within the grace period gets what this socket missed). When the process ends, the agent's exit
event becomes {"type": "exit", "code"} and the socket closes with 1000.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from fastapi import APIRouter
from starlette.websockets import WebSocket, WebSocketDisconnect

from chaser.agent.protocol import FrameType
from chaser.host.agent_link import Stream
from chaser.host.errors import AgentUnavailable, DaemonError, InvalidRequest
from chaser.host.routes.deps import Vms, accept_authorized, close_ws, close_ws_error, ws_vms
from chaser.host.routes.relay import first_of
from chaser.host.wire import PtyInfo, PtyMode, PtyResize

router = APIRouter(tags=["pty"])
socket_router = APIRouter(tags=["pty"])


@router.get("/vms/{vm_id}/ptys")
async def list_ptys(vm_id: str, vms: Vms) -> list[PtyInfo]:
    link = await vms.ready_link(vm_id)
    reply = await link.call("pty_list")
    return [PtyInfo.model_validate(p) for p in reply.result or []]


@router.post("/vms/{vm_id}/ptys/{pty_id}/resize")
async def resize_pty(vm_id: str, pty_id: str, size: PtyResize, vms: Vms) -> PtyInfo:
    link = await vms.ready_link(vm_id)
    reply = await link.call("pty_resize", {"pty_id": pty_id, "cols": size.cols, "rows": size.rows})
    return PtyInfo.model_validate(reply.result)


@socket_router.websocket("/vms/{vm_id}/pty")
async def pty_socket(websocket: WebSocket, vm_id: str) -> None:
    if not await accept_authorized(websocket):
        return
    vms = ws_vms(websocket)
    try:
        args, resize = _args(dict(websocket.query_params))
        link = await vms.ready_link(vm_id)
        args["env"] = vms.spec_env(vm_id)
        args["grace_s"] = websocket.app.state.pty_grace_s  # HostSettings.pty_grace_s
        async with link.stream("pty", args) as stream:
            first = await stream.recv()
            info = first.json() if first.type is FrameType.EVENT else {}
            if info.get("type") != "pty":
                raise AgentUnavailable(f"vm {vm_id!r}: the agent did not start the terminal")
            hello = {key: info[key] for key in ("type", "pty_id", "pid", "replayed")}
            await websocket.send_text(json.dumps(hello))
            if resize is not None:
                stream.send_event({"type": "resize", "cols": resize[0], "rows": resize[1]})
            await _relay(websocket, stream, int(info.get("offset", 0)))
    except DaemonError as exc:
        await close_ws_error(websocket, exc)
    except WebSocketDisconnect:
        pass


async def _relay(websocket: WebSocket, stream: Stream, offset: int) -> None:
    delivered = offset
    exited = False

    async def from_agent() -> str:
        nonlocal delivered, exited
        while True:
            frame = await stream.recv()
            try:
                if frame.type is FrameType.DATA:
                    await websocket.send_bytes(frame.payload)
                    delivered += len(frame.payload)
                elif frame.type is FrameType.EVENT:
                    body = frame.json()
                    if body.get("type") == "exit":
                        exited = True
                        await websocket.send_text(json.dumps({"type": "exit", "code": body.get("code")}))
                elif frame.type is FrameType.CLOSE:
                    return "agent"
            except (WebSocketDisconnect, RuntimeError, OSError):
                return "client"

    async def from_client() -> str:
        while True:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError, OSError):
                return "client"
            if message["type"] == "websocket.disconnect":
                return "client"
            if message.get("bytes"):
                stream.send(message["bytes"])
                await stream.drain()
            elif message.get("text"):
                control = _control(message["text"])
                if control is not None:
                    stream.send_event(control)

    ended = await first_of(from_agent(), from_client())
    if ended == "agent" and exited:
        await _close_normal(websocket)
    elif ended == "agent":  # another socket attached to this terminal and took it over
        await close_ws(websocket, 409, "pty_taken", "another socket attached to this terminal")
    else:
        stream.close_body = {"delivered": delivered}


async def _close_normal(websocket: WebSocket) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(1000)


def _control(text: str) -> dict[str, Any] | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("type") != "resize":
        return None
    try:
        size = PtyResize.model_validate({"cols": body.get("cols"), "rows": body.get("rows")})
    except ValueError:
        return None
    return {"type": "resize", "cols": size.cols, "rows": size.rows}


def _args(query: dict[str, str]) -> tuple[dict[str, Any], tuple[int, int] | None]:
    """Query → the agent's pty args, and a resize to apply after a reattach (if cols/rows given)."""
    try:
        mode = PtyMode(query.get("mode") or "human")
    except ValueError:
        raise InvalidRequest("mode must be human, agent or exec") from None
    try:
        size = PtyResize(cols=int(query.get("cols") or 80), rows=int(query.get("rows") or 24))
    except ValueError:
        raise InvalidRequest("cols and rows must be integers within 1..1000") from None
    pty_id = query.get("pty_id") or None
    if pty_id is not None:
        resize = (size.cols, size.rows) if ("cols" in query or "rows" in query) else None
        return {"pty_id": pty_id}, resize
    command = query.get("command") or None
    if mode is PtyMode.EXEC and not (command and command.strip()):
        raise InvalidRequest("mode=exec needs a command")
    args: dict[str, Any] = {"mode": mode.value, "cols": size.cols, "rows": size.rows, "command": command}
    for key in ("cwd", "user"):
        if query.get(key):
            args[key] = query[key]
    return args, None

"""`WS /vms/{vm_id}/ports/{port}`: a raw byte tunnel to 127.0.0.1:<port> inside the sandbox.

Binary messages both ways (text messages are sent as their UTF-8 bytes). The guest closing its
side ends the socket with 1000; the client closing ends the agent's connection. Refused: 4502.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.websockets import WebSocket, WebSocketDisconnect

from chaser.agent.protocol import FrameType
from chaser.host.agent_link import Stream
from chaser.host.errors import DaemonError, InvalidRequest
from chaser.host.routes.deps import accept_authorized, close_ws_error, ws_vms
from chaser.host.routes.relay import first_of

socket_router = APIRouter(tags=["ports"])


@socket_router.websocket("/vms/{vm_id}/ports/{port}")
async def port_tunnel(websocket: WebSocket, vm_id: str, port: str) -> None:
    if not await accept_authorized(websocket):
        return
    vms = ws_vms(websocket)
    try:
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise InvalidRequest(f"port {port!r} is not within 1..65535")
        link = await vms.ready_link(vm_id)
        async with link.stream("connect", {"port": int(port)}) as stream:
            await stream.recv()  # {"type": "connected"}, or AgentError port_refused
            ended = await first_of(_from_agent(websocket, stream), _from_client(websocket, stream))
        if ended == "agent":
            await _close(websocket)
    except DaemonError as exc:
        await close_ws_error(websocket, exc)
    except WebSocketDisconnect:
        pass


async def _close(websocket: WebSocket) -> None:
    try:
        await websocket.close(1000)
    except Exception:
        return


async def _from_agent(websocket: WebSocket, stream: Stream) -> str:
    while True:
        frame = await stream.recv()
        if frame.type in (FrameType.EOF, FrameType.CLOSE):
            return "agent"
        if frame.type is FrameType.DATA:
            try:
                await websocket.send_bytes(frame.payload)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return "client"


async def _from_client(websocket: WebSocket, stream: Stream) -> str:
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError, OSError):
            return "client"
        if message["type"] == "websocket.disconnect":
            return "client"
        data = message.get("bytes") or (message.get("text") or "").encode()
        if data:
            stream.send(data)
            await stream.drain()

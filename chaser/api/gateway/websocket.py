"""Forward a WebSocket to a port inside the sandbox: a client handshake to the guest server over
the host's port tunnel (websockets' sans-I/O `ClientProtocol`), then messages relayed both ways
under a connection lease. The client is accepted only once the guest has accepted, with the
subprotocol the guest chose."""

from __future__ import annotations

import contextlib

import anyio
import httpcore
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from chaser.api import sockets
from chaser.api.gateway import headers as h
from chaser.api.gateway.routing import Forward
from chaser.api.gateway.tunnel import PortRefused, TunnelStream
from chaser.domain.errors import ChaserError, PortUnreachable
from chaser.domain.host import Host, host_errors
from chaser.domain.leases import Leases
from chaser.store.models import Session

MAX_MESSAGE = 16 * 1024 * 1024
READ = 64 * 1024


class _Guest:
    """The guest side: protocol state plus the tunnel it speaks over."""

    def __init__(self, proto: ClientProtocol, stream: TunnelStream) -> None:
        self.proto = proto
        self.stream = stream
        self._lock = anyio.Lock()  # frames from both directions must not interleave mid-frame
        self.broken = False

    async def flush(self) -> None:
        """Write what the protocol has queued. A tunnel that is already gone is not an error
        here (the guest may close right after its close frame); reads report the end."""
        async with self._lock:
            try:
                for chunk in self.proto.data_to_send():
                    if chunk:
                        await self.stream.write(chunk)
            except (httpcore.WriteError, PortRefused, OSError):
                self.broken = True

    async def feed(self) -> bool:
        """Read once from the tunnel into the protocol; False at EOF."""
        data = await self.stream.read(READ)
        if data:
            self.proto.receive_data(data)
        else:
            self.proto.receive_eof()
        await self.flush()  # pongs and close replies
        return bool(data)


async def _handshake(guest: _Guest) -> Response:
    while True:
        alive = await guest.feed()
        for event in guest.proto.events_received():
            if isinstance(event, Response):
                if guest.proto.handshake_exc is not None:
                    raise PortUnreachable(
                        f"the server inside the session refused the WebSocket upgrade "
                        f"(HTTP {event.status_code})"
                    )
                return event
        if not alive:
            raise PortUnreachable("the server inside the session closed the connection during the handshake")


async def forward_websocket(
    websocket: WebSocket,
    *,
    host: Host,
    leases: Leases,
    session: Session,
    fwd: Forward,
    cookie_name: str,
    original_host: str,
) -> None:
    scope = websocket.scope
    query = h.without_token(scope.get("query_string", b""))
    path = fwd.path + ("?" + query.decode("latin-1") if query else "")
    requested = [Subprotocol(p) for p in scope.get("subprotocols") or []]
    proto = ClientProtocol(
        parse_uri(f"ws://localhost:{fwd.port}{path}"), subprotocols=requested or None, max_size=MAX_MESSAGE
    )
    request = proto.connect()
    for name, value in h.request_headers(
        scope["headers"],
        cookie_name=cookie_name,
        port=fwd.port,
        client_ip=scope["client"][0] if scope.get("client") else None,
        scheme="https" if scope.get("scheme") == "wss" else "http",
        original_host=original_host,
        prefix=fwd.prefix,
        websocket=True,
    ):
        if name != b"host":
            request.headers[name.decode("latin-1")] = value.decode("latin-1")
    tunnel = contextlib.AsyncExitStack()
    try:
        with host_errors("open tunnel"):
            upstream = await tunnel.enter_async_context(
                host.client.port_tunnel(session.host_vm_id or session.id, fwd.port)
            )
        guest = _Guest(proto, TunnelStream(upstream))
        try:
            proto.send_request(request)
            await guest.flush()
            await _handshake(guest)
        except PortRefused as exc:
            raise PortUnreachable(
                f"nothing is listening on port {fwd.port} inside the session ({exc})"
            ) from exc
        except OSError as exc:
            raise PortUnreachable(f"port {fwd.port}: {exc}") from exc
    except ChaserError as exc:
        await sockets.refuse(websocket, exc)
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await tunnel.aclose()
        return

    closer = anyio.CancelScope()
    outcome: tuple[int, str] | None = None
    try:
        await websocket.accept(subprotocol=proto.subprotocol)
        async with leases.hold(session.id, "websocket", closer.cancel):
            with closer:
                outcome = await _relay(websocket, guest)
            if closer.cancelled_caught:
                outcome = sockets.TERMINATED
                with contextlib.suppress(Exception), anyio.CancelScope(shield=True):
                    proto.send_close(1001, "session terminated")
                    await guest.flush()
    finally:
        if outcome is not None:
            await sockets.close(websocket, *outcome)
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await tunnel.aclose()


async def _relay(client: WebSocket, guest: _Guest) -> tuple[int, str] | None:
    """Messages both ways until one side closes. Returns the guest's close (code, reason) when it
    ended first, None when the client went away."""
    ended: list[tuple[int, str] | None] = []
    proto = guest.proto

    async def down() -> None:
        parts: list[bytes] = []
        opcode = Opcode.BINARY
        try:
            while True:
                alive = await guest.feed()
                for frame in proto.events_received():
                    if not isinstance(frame, Frame):
                        continue
                    if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
                        opcode, parts = frame.opcode, [bytes(frame.data)]
                    elif frame.opcode == Opcode.CONT:
                        parts.append(bytes(frame.data))
                    else:
                        if frame.opcode == Opcode.CLOSE:
                            rcvd = Close.parse(frame.data) if frame.data else None
                            ended.append((rcvd.code, rcvd.reason) if rcvd else (1005, ""))
                            tg.cancel_scope.cancel()
                            return
                        continue  # ping / pong: answered by the protocol
                    if frame.fin:
                        data = b"".join(parts)
                        parts = []
                        if opcode == Opcode.TEXT:
                            await client.send_text(data.decode("utf-8", errors="replace"))
                        else:
                            await client.send_bytes(data)
                if not alive:
                    ended.append((1006, "the server inside the session went away"))
                    tg.cancel_scope.cancel()
                    return
        except (WebSocketDisconnect, RuntimeError):
            ended.append(None)
        except (PortRefused, OSError):
            ended.append((1011, "the tunnel to the session broke"))
        tg.cancel_scope.cancel()

    async def up() -> None:
        code = 1000
        try:
            while True:
                message = await client.receive()
                if message["type"] == "websocket.disconnect":
                    code = message.get("code") or 1000
                    break
                if message.get("bytes") is not None:
                    proto.send_binary(message["bytes"])
                elif message.get("text") is not None:
                    proto.send_text(message["text"].encode())
                await guest.flush()
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        with contextlib.suppress(Exception):
            proto.send_close(code if 1000 <= code < 5000 and code not in (1005, 1006) else 1000)
            await guest.flush()
        ended.append(None)
        tg.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(down)
        tg.start_soon(up)
    return ended[0] if ended else None

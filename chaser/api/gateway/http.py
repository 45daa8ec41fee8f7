"""Forward one HTTP request to a port inside the sandbox: HTTP/1.1 over the host's port tunnel
(httpcore's connection on a `TunnelStream`), both bodies streamed, under a connection lease."""

from __future__ import annotations

import contextlib
import typing
from collections.abc import AsyncIterator

import anyio
import httpcore
from starlette.types import Message, Receive, Scope, Send

from chaser.api.gateway import headers as h
from chaser.api.gateway.routing import Forward
from chaser.api.gateway.tunnel import PortRefused, TunnelStream
from chaser.domain.errors import HostFailure, PortUnreachable
from chaser.domain.host import Host, host_errors
from chaser.domain.leases import Leases
from chaser.store.models import Session


class _ClientGone(Exception):
    pass


def _has_body(scope: Scope) -> tuple[bool, bytes | None]:
    """(has a body, its Content-Length if given)."""
    length = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = value
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if length is not None:
        return length.strip() not in (b"", b"0"), length
    return chunked, None


async def forward_http(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    host: Host,
    leases: Leases,
    session: Session,
    fwd: Forward,
    cookie_name: str,
    original_host: str,
) -> None:
    has_body, length = _has_body(scope)
    body_done = anyio.Event()

    async def body() -> AsyncIterator[bytes]:
        try:
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone()
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return
        finally:
            body_done.set()

    req_headers = h.request_headers(
        scope["headers"],
        cookie_name=cookie_name,
        port=fwd.port,
        client_ip=scope["client"][0] if scope.get("client") else None,
        scheme=scope.get("scheme", "http"),
        original_host=original_host,
        prefix=fwd.prefix,
    )
    if has_body and length is None:
        req_headers.append((b"transfer-encoding", b"chunked"))
    query = h.without_token(scope.get("query_string", b""))
    target = scope.get("raw_path") or scope["path"].encode()
    # raw_path is the full original path; the guest sees only what follows the prefix.
    guest_path = fwd.path.encode() if not scope.get("raw_path") else _strip_prefix(target, fwd)
    if query:
        guest_path += b"?" + query
    if not has_body:
        body_done.set()

    tunnel = contextlib.AsyncExitStack()
    with host_errors("open tunnel"):
        ws = await tunnel.enter_async_context(
            host.client.port_tunnel(session.host_vm_id or session.id, fwd.port)
        )
    stream = TunnelStream(ws)
    connection = httpcore.AsyncHTTP11Connection(
        origin=httpcore.Origin(b"http", b"localhost", fwd.port), stream=stream
    )
    request = httpcore.Request(
        scope["method"],
        httpcore.URL(scheme=b"http", host=b"localhost", port=fwd.port, target=guest_path),
        headers=req_headers,
        content=body() if has_body else b"",
    )
    sent = _Sent()
    closer = anyio.CancelScope()
    error: Exception | None = None
    try:
        async with leases.hold(session.id, "forward", closer.cancel):
            with closer:
                async with anyio.create_task_group() as tg:

                    async def watch_disconnect() -> None:
                        await body_done.wait()
                        while (await receive())["type"] != "http.disconnect":
                            pass
                        tg.cancel_scope.cancel()

                    tg.start_soon(watch_disconnect)
                    try:
                        await _exchange(connection, request, stream, send, fwd, sent)
                    except Exception as exc:  # raised below, outside the task group's ExceptionGroup
                        error = exc
                    tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await connection.aclose()
            await tunnel.aclose()
    if error is None or isinstance(error, _ClientGone):
        return
    if sent.started:
        return  # mid-body: the response is under way; all we can do is stop it
    if isinstance(error, PortRefused):
        raise PortUnreachable(f"nothing is listening on port {fwd.port} inside the session ({error})")
    if isinstance(error, httpcore.ProtocolError | httpcore.NetworkError | OSError):
        if not stream.received_any:
            raise PortUnreachable(
                f"port {fwd.port} inside the session closed the connection without answering; "
                "is an HTTP server listening there?"
            )
        raise HostFailure(f"the forwarded request failed: {error}")
    raise error


class _Sent:
    started = False


async def _exchange(
    connection: httpcore.AsyncHTTP11Connection,
    request: httpcore.Request,
    stream: TunnelStream,
    send: Send,
    fwd: Forward,
    sent: _Sent,
) -> None:
    response = await connection.handle_async_request(request)
    try:
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": h.response_headers(response.headers, fwd.prefix),
            }
        )
        sent.started = True
        async for chunk in typing.cast(typing.AsyncIterable[bytes], response.stream):
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await response.aclose()


def _strip_prefix(raw_path: bytes, fwd: Forward) -> bytes:
    """The guest's path from the raw (still percent-encoded) request path."""
    prefix = fwd.prefix.encode()
    if raw_path.lower().startswith(prefix.lower()):
        rest = raw_path[len(prefix) :]
        return rest if rest.startswith(b"/") else b"/" + rest
    return fwd.path.encode()

"""CDP behind a browser session's control endpoint (both forms), for Playwright's
`connect_over_cdp` and Puppeteer's `connect`:

- `/json`, `/json/list`, `/json/version`, `/json/new`, ... (with or without a trailing slash):
  relayed to Chromium's DevTools HTTP server inside the VM; every `ws://localhost:9222/...` in the
  answer is rewritten to this endpoint (and keeps the caller's `?chaser_token=`), so tools that
  discover the WebSocket URL connect through the gateway too.
- `/devtools/browser/<anything>`: the browser target. Chromium's browser id changes whenever it
  restarts, so any id here (the session's `endpoints.control` uses the session id) is mapped to
  the current one.
- `/devtools/page/<id>` and the rest of `/devtools/...`: relayed as they are.

Chromium listens on 127.0.0.1:9222 in the VM only; everything goes through the agent's port relay.
Every CDP WebSocket holds a connection lease (the forward's). Auth is the gateway's: bearer key
with `exec.write`, `?chaser_token=`, or the session cookie; a token in the query is used as is
(no cookie redirect: CDP clients do not follow one)."""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from chaser.api import sockets
from chaser.api.gateway import headers as h
from chaser.api.gateway.routing import Forward, Target
from chaser.api.gateway.tunnel import PortRefused
from chaser.api.gateway.websocket import forward_websocket
from chaser.domain import browsers
from chaser.domain.errors import ChaserError, NotFound, PortUnreachable
from chaser.domain.host import Host, host_errors
from chaser.store.models import Session

CDP_PORT = 9222
MAX_JSON_BYTES = 8 * 1024 * 1024
JSON_RE = re.compile(r"^/json(/[A-Za-z]+)?(/[^?]*)?/?$")
BROWSER_RE = re.compile(r"^/devtools/browser(/[^/]*)?$")
GUEST_WS_RE = re.compile(r"(wss?)://(?:localhost|127\.0\.0\.1):9222/")
GUEST_WS_BARE_RE = re.compile(r"(?<=[=\"])(?:localhost|127\.0\.0\.1):9222/")


def is_cdp_path(rest: str) -> bool:
    return rest == "/json" or rest.startswith(("/json/", "/devtools/"))


def credential(scope: Scope, headers: Headers, t: Target) -> tuple[str | None, str | None]:
    query = QueryParams(scope.get("query_string", b""))
    token = query.get(h.TOKEN_PARAM)
    cookies = {}
    with contextlib.suppress(Exception):
        cookies = {
            k.strip(): v
            for part in headers.get("cookie", "").split(";")
            if "=" in part
            for k, v in [part.split("=", 1)]
        }
    return token, token or sockets.credential(headers, {}, cookies, t.session_id)


def _public_base(scope: Scope, headers: Headers, t: Target) -> str:
    """`<host><base>` as the caller reached us (ws URLs are built on it)."""
    return f"{headers.get('host', '')}{t.base}"


def _ws_scheme(scope: Scope, headers: Headers) -> str:
    proto = headers.get("x-forwarded-proto", scope.get("scheme", "http"))
    return "wss" if proto in ("https", "wss") else "ws"


def rewrite(body: bytes, public_base: str, scheme: str, token: str | None) -> bytes:
    """Chromium's `ws://localhost:9222/<path>` (and the bare `localhost:9222/<path>` inside
    `devtoolsFrontendUrl`) → this endpoint; a query token is appended to the WebSocket URLs."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    suffix = f"?{h.TOKEN_PARAM}={token}" if token else ""

    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _fix_field(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    def _fix_field(key: str, value: Any) -> Any:
        if not isinstance(value, str):
            return fix(value)
        if key == "webSocketDebuggerUrl":
            return GUEST_WS_RE.sub(f"{scheme}://{public_base}/", value) + suffix
        if key == "devtoolsFrontendUrl":
            return GUEST_WS_BARE_RE.sub(f"{public_base}/", value)
        return value

    return json.dumps(fix(data), indent=2).encode()


async def guest_request(host: Host, session: Session, method: str, path: str) -> tuple[int, bytes]:
    """One HTTP/1.1 request to Chromium's DevTools server through the port tunnel."""
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: localhost:{CDP_PORT}\r\nConnection: close\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode("latin-1")
    try:
        with host_errors("open tunnel"):
            async with host.client.port_tunnel(session.host_vm_id or session.id, CDP_PORT) as ws:
                await ws.send(request)
                buf = b""
                status, length, head_end = 0, None, -1
                while True:
                    try:
                        message = await ws.recv()
                    except Exception as exc:
                        if ws.close_code == 4502:
                            raise PortRefused(ws.close_reason or "refused") from exc
                        break
                    buf += message.encode() if isinstance(message, str) else message
                    if head_end < 0 and b"\r\n\r\n" in buf:
                        head_end = buf.index(b"\r\n\r\n") + 4
                        head = buf[:head_end].decode("latin-1").split("\r\n")
                        status = int(head[0].split(" ")[1])
                        for line in head[1:]:
                            name, _, value = line.partition(":")
                            if name.strip().lower() == "content-length":
                                length = int(value.strip())
                    if head_end >= 0 and length is not None and len(buf) - head_end >= length:
                        break
                    if len(buf) > MAX_JSON_BYTES:
                        break
    except PortRefused as exc:
        raise PortUnreachable("the browser's DevTools port is not answering (Chromium restarting?)") from exc
    if head_end < 0:
        raise PortUnreachable("the browser's DevTools server closed the connection")
    body = buf[head_end:]
    return status, body[:length] if length is not None else body


async def browser_path(host: Host, session: Session) -> str:
    """Chromium's current `/devtools/browser/<uuid>`."""
    status, body = await guest_request(host, session, "GET", "/json/version")
    try:
        url = json.loads(body)["webSocketDebuggerUrl"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PortUnreachable(f"the browser answered /json/version with HTTP {status}") from exc
    return "/" + str(url).split("/", 3)[3]


async def serve_http(scope: Scope, receive: Receive, send: Send, t: Target, headers: Headers) -> None:
    from chaser.api.gateway.middleware import _error  # the gateway's one error writer

    state = scope["app"].state
    request_id = scope.setdefault("state", {}).get("request_id") or ""
    try:
        if not JSON_RE.match(t.rest):
            raise NotFound(f"no HTTP endpoint {t.rest} on a browser; use /json/version or /json/list")
        token, cred = credential(scope, headers, t)
        async with state.sessionmaker() as db:
            _, session = await browsers.authorize(db, state.token_secret, cred, t.session_id)
        query = h.without_token(scope.get("query_string", b"")).decode("latin-1")
        path = t.rest + ("?" + query if query else "")
        status, body = await guest_request(state.host, session, scope["method"], path)
        body = rewrite(body, _public_base(scope, headers, t), _ws_scheme(scope, headers), token)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json; charset=UTF-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
    except ChaserError as exc:
        await _error(send, exc, request_id)


async def serve_websocket(websocket: WebSocket, t: Target, headers: Headers) -> None:
    state = websocket.scope["app"].state
    try:
        _, cred = credential(websocket.scope, headers, t)
        async with state.sessionmaker() as db:
            _, session = await browsers.authorize(db, state.token_secret, cred, t.session_id)
        path = await browser_path(state.host, session) if BROWSER_RE.match(t.rest) else t.rest
    except ChaserError as exc:
        await sockets.refuse(websocket, exc)
        return
    await forward_websocket(
        websocket,
        host=state.host,
        leases=state.leases,
        session=session,
        fwd=Forward(port=CDP_PORT, path=path, prefix=t.base),
        cookie_name=sockets.cookie_name(t.session_id),
        original_host=headers.get("host", ""),
    )

"""The gateway: a session's control endpoint, in front of the API (outermost ASGI middleware).

`http://<session_id>.<base_domain>/...` and `<public_url>/s/<session_id>/...` both lead to:
- `/` — a small JSON description of the session's endpoints;
- `/pty` — the terminal WebSocket (as `GET /v1/sessions/{id}/pty`);
- `/forward/<port>/<path>` — HTTP (any method, streamed both ways) and WebSocket upgrades relayed
  to that port inside the sandbox.
Auth: `Authorization: Bearer <key with exec.write>`, or a session token: `?chaser_token=` (a
GET/HEAD is redirected to the same URL without it, setting the `chaser_session_<id>` cookie) or
that cookie. The gateway never applies the API's body limits: forwarded bodies stream through.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from chaser.api import sockets
from chaser.api.errors import status_for
from chaser.api.gateway import browser, routing
from chaser.api.gateway import headers as h
from chaser.api.gateway.http import forward_http
from chaser.api.gateway.websocket import forward_websocket
from chaser.api.routes.terminals import serve_pty
from chaser.domain import connections, tokens
from chaser.domain.errors import ChaserError, InvalidField, NotFound
from chaser.store.models import Session, utcnow

log = logging.getLogger("chaser.gateway")


class Gateway:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        headers = Headers(scope=scope)
        t = routing.target(headers.get("host", ""), scope["path"], state.settings.resolved_base_domain())
        if t is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, t, headers)
        else:
            await self._http(scope, receive, send, t, headers)

    # -- HTTP ---------------------------------------------------------------------------------

    async def _http(
        self, scope: Scope, receive: Receive, send: Send, t: routing.Target, headers: Headers
    ) -> None:
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        state = scope["app"].state
        query = QueryParams(scope.get("query_string", b""))
        try:
            if t.rest == "":  # `/s/<id>` → `/s/<id>/`, like a directory
                await _redirect(send, f"{t.base}/" + _qs(scope.get("query_string", b"")), request_id)
                return
            if browser.handles(t.rest):  # CDP discovery and the live view (browser sessions)
                await browser.serve_http(scope, receive, send, t, headers)
                return
            token = query.get(h.TOKEN_PARAM)
            cred = token or sockets.credential(headers, {}, _cookies(headers), t.session_id)
            async with state.sessionmaker() as db:
                _, session = await connections.authorize(db, state.token_secret, cred, t.session_id)
            if token and scope["method"] in ("GET", "HEAD"):
                await _set_cookie_and_redirect(scope, send, t, token, state.token_secret, request_id)
                return
            fwd = routing.forward(t)
            if fwd is not None:
                connections.check_port(fwd.port)
                if t.rest == f"/forward/{fwd.port}":
                    await _redirect(send, f"{fwd.prefix}/" + _qs(scope.get("query_string", b"")), request_id)
                    return
                await forward_http(
                    scope,
                    receive,
                    _with_request_id(send, request_id),
                    host=state.host,
                    leases=state.leases,
                    session=session,
                    fwd=fwd,
                    cookie_name=sockets.cookie_name(t.session_id),
                    original_host=headers.get("host", ""),
                )
                return
            if t.rest == "/" and scope["method"] in ("GET", "HEAD"):
                await _json(send, 200, _describe(session, t, state.settings, headers), request_id)
                return
            raise NotFound(f"no endpoint {t.rest} on the session; use /, /pty or /forward/<port>/<path>")
        except ChaserError as exc:
            await _error(send, exc, request_id)
        except Exception:
            log.exception("gateway error on %s %s", scope["method"], scope["path"])
            await _error(send, ChaserError("internal error; the server log has the details"), request_id)

    # -- WebSocket ----------------------------------------------------------------------------

    async def _websocket(
        self, scope: Scope, receive: Receive, send: Send, t: routing.Target, headers: Headers
    ) -> None:
        websocket = WebSocket(scope, receive, send)
        state = scope["app"].state
        if t.rest == "/pty":
            await serve_pty(websocket, t.session_id)
            return
        if browser.handles(t.rest):  # CDP sockets (browser sessions)
            await browser.serve_websocket(websocket, t, headers)
            return
        query = dict(websocket.query_params)
        try:
            fwd = routing.forward(t)
            if fwd is None:
                raise NotFound(f"no WebSocket endpoint {t.rest} on the session; use /pty or /forward/<port>/")
            connections.check_port(fwd.port)
            cred = sockets.credential(
                headers, {"chaser_token": query.get(h.TOKEN_PARAM, "")}, websocket.cookies, t.session_id
            )
            async with state.sessionmaker() as db:
                _, session = await connections.authorize(db, state.token_secret, cred, t.session_id)
        except ChaserError as exc:
            await sockets.refuse(websocket, exc)
            return
        await forward_websocket(
            websocket,
            host=state.host,
            leases=state.leases,
            session=session,
            fwd=fwd,
            cookie_name=sockets.cookie_name(t.session_id),
            original_host=headers.get("host", ""),
        )


def _qs(query_string: bytes) -> str:
    return "?" + query_string.decode("latin-1") if query_string else ""


def _cookies(headers: Headers) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for value in headers.getlist("cookie"):
        try:
            jar.load(value)
        except Exception:  # a malformed cookie header from some other app: ignore it
            continue
    return {k: m.value for k, m in jar.items()}


def _describe(session: Session, t: routing.Target, settings: Any, headers: Headers) -> dict[str, Any]:
    public = settings.resolved_public_url()
    path_style = f"{public}/s/{session.id}/"
    subdomain_style = f"http://{session.id}.{settings.resolved_base_domain()}/"
    here = f"http://{headers.get('host', '')}{t.base}/"
    return {
        "session_id": session.id,
        "session_type": session.session_type,
        "status": session.status,
        "endpoints": {"path_style": path_style, "subdomain_style": subdomain_style},
        "pty": here.replace("http://", "ws://", 1) + "pty",
        "forward": here + "forward/{port}/",
    }


def _with_request_id(send: Send, request_id: str) -> Send:
    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", [])
            message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
        await send(message)

    return wrapped


async def _json(
    send: Send,
    status: int,
    body: dict[str, Any],
    request_id: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(raw)).encode()),
                (b"x-request-id", request_id.encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


async def _error(send: Send, exc: ChaserError, request_id: str) -> None:
    body = {"error": {"code": exc.code, "message": exc.message, "request_id": request_id}}
    extra = [(b"retry-after", b"1")] if exc.code == "host_unavailable" else []
    with contextlib.suppress(RuntimeError, OSError):  # the response had already started
        await _json(send, status_for(exc.code), body, request_id, extra)


async def _redirect(
    send: Send, location: str, request_id: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [
                (b"location", location.encode("latin-1")),
                (b"content-length", b"0"),
                (b"cache-control", b"no-store"),
                (b"x-request-id", request_id.encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def _set_cookie_and_redirect(
    scope: Scope, send: Send, t: routing.Target, token: str, secret: bytes, request_id: str
) -> None:
    """Trade `?chaser_token=` for the session cookie, then reload the URL without it (so the
    token leaves the address bar and the history)."""
    grant = tokens.verify(secret, token, utcnow())
    if grant is None:  # authorize() accepted it a moment ago; only expiry in between can do this
        raise InvalidField("chaser_token: expired")
    max_age = max(0, int((grant.expires_at - datetime.now(UTC)).total_seconds()))
    cookie = f"{sockets.cookie_name(t.session_id)}={token}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax"
    path = scope.get("raw_path") or scope["path"].encode()
    location = path.decode("latin-1") + _qs(h.without_token(scope.get("query_string", b"")))
    await _redirect(send, location, request_id, [(b"set-cookie", cookie.encode())])

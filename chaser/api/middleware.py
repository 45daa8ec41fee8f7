"""Pure ASGI middleware: a request id on every request, and the body-size limits.

The size check runs before any route reads the body: JSON bodies are capped at 1 MiB; multipart
uploads at 16 MiB of file content plus room for the multipart framing (the exact 16 MiB check on
the file itself happens in the route).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_LIMIT = 1024 * 1024
UPLOAD_LIMIT = 16 * 1024 * 1024 + 256 * 1024


def _limit_for(scope: Scope) -> int:
    headers = dict(scope.get("headers") or [])
    ctype = headers.get(b"content-type", b"").decode("latin-1").lower()
    return UPLOAD_LIMIT if ctype.startswith("multipart/") else JSON_LIMIT


class RequestContext:
    """Gives each request an id (`X-Request-Id`, echoed in error bodies) and enforces body limits."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        limit = _limit_for(scope)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = False
            if too_big:
                await _too_large(send_with_id, request_id, limit)
                return
            await self.app(scope, receive, send_with_id)
            return
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            # Chunked body: buffer it (bounded) so the limit holds without Content-Length.
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    await _too_large(send_with_id, request_id, limit)
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_with_id)
            return
        await self.app(scope, receive, send_with_id)


async def _too_large(send: Send, request_id: str, limit: int) -> None:
    body: dict[str, Any] = {
        "error": {
            "code": "too_large",
            "message": f"request body above {limit} bytes",
            "request_id": request_id,
        }
    }
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw})

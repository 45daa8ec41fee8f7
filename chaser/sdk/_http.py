"""One HTTP transport for every resource: configuration (arguments, then `CHASER_*` environment),
auth headers, JSON in and out, and the single place where responses become exceptions."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from chaser.sdk._errors import ChaserError, ConnectionFailed, error_for

__all__ = ["DEFAULT_API_URL", "Config", "Http"]

DEFAULT_API_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Config:
    """Where and as whom to call: `api_url`, `api_key`, `account` (id, exact name or `personal`)."""

    api_url: str
    api_key: str | None
    account: str | None
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def resolve(
        cls,
        api_url: str | None = None,
        api_key: str | None = None,
        account: str | None = None,
        timeout_s: float | None = None,
    ) -> Config:
        """Arguments win; otherwise `CHASER_API_URL`, `CHASER_API_KEY`, `CHASER_ACCOUNT`."""
        url = api_url or os.environ.get("CHASER_API_URL") or DEFAULT_API_URL
        return cls(
            api_url=url.rstrip("/"),
            api_key=api_key or os.environ.get("CHASER_API_KEY") or None,
            account=account or os.environ.get("CHASER_ACCOUNT") or None,
            timeout_s=timeout_s if timeout_s is not None else DEFAULT_TIMEOUT_S,
        )

    def headers(self) -> dict[str, str]:
        headers = {"User-Agent": "chaser-sdk-python"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if self.account:
            headers["X-Chaser-Account"] = self.account
        return headers

    def ws_url(self, path: str, params: dict[str, Any] | None = None) -> str:
        """The WebSocket URL of an API path (`http` → `ws`, `https` → `wss`)."""
        base = self.api_url
        if base.startswith("https://"):
            base = "wss://" + base[len("https://") :]
        elif base.startswith("http://"):
            base = "ws://" + base[len("http://") :]
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        return base + path + (("?" + urlencode(query)) if query else "")


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def raise_for(resp: httpx.Response) -> None:
    """Turns an error response into the matching `ChaserError` subclass."""
    if resp.status_code < 400:
        return
    try:
        body: Any = resp.json()
    except ValueError:
        body = None
    raise error_for(resp.status_code, body, dict(resp.headers))


class Http:
    """Async JSON calls against the API; owns one `httpx.AsyncClient`."""

    def __init__(self, config: Config, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._client = httpx.AsyncClient(
            base_url=config.api_url,
            headers=config.headers(),
            timeout=httpx.Timeout(config.timeout_s, connect=10.0),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        files: Any = None,
        data: Any = None,
        timeout_s: float | None = None,
    ) -> Any:
        """Sends one request and returns the decoded JSON body (or raises)."""
        resp = await self._send(method, path, json_body, params, files, data, timeout_s)
        raise_for(resp)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise ChaserError(
                f"{method} {path}: the server answered something that is not JSON", status=resp.status_code
            ) from exc

    async def request_bytes(self, method: str, path: str, *, params: dict[str, Any] | None = None) -> bytes:
        resp = await self._send(method, path, None, params, None, None, None)
        raise_for(resp)
        return resp.content

    async def _send(
        self,
        method: str,
        path: str,
        json_body: Any,
        params: dict[str, Any] | None,
        files: Any,
        data: Any,
        timeout_s: float | None,
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {}
        if json_body is not None:
            kwargs["json"] = json_body
        if files is not None:
            kwargs["files"] = files
        if data is not None:
            kwargs["data"] = data
        if timeout_s is not None:
            kwargs["timeout"] = httpx.Timeout(timeout_s, connect=10.0)
        try:
            return await self._client.request(method, path, params=_clean(params), **kwargs)
        except httpx.TimeoutException as exc:
            raise ConnectionFailed(
                f"{method} {path}: no answer from {self.config.api_url} in time ({exc.__class__.__name__})",
                code="timeout",
            ) from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(
                f"cannot reach the Chaser API at {self.config.api_url} ({exc}); "
                "is `chaser server` running? Set --api-url or CHASER_API_URL",
                code="connection_failed",
            ) from exc

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """A streamed response (SSE); errors are raised before the body is yielded."""
        try:
            async with self._client.stream(
                method,
                path,
                params=_clean(params),
                headers=headers,
                timeout=httpx.Timeout(None, connect=10.0),
            ) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    raise_for(resp)
                yield resp
        except httpx.TransportError as exc:
            raise ConnectionFailed(
                f"{method} {path}: the stream from {self.config.api_url} broke ({exc})",
                code="connection_failed",
            ) from exc


def _clean(params: dict[str, Any] | None) -> dict[str, str] | None:
    if params is None:
        return None
    return {k: _param(v) for k, v in params.items() if v is not None}

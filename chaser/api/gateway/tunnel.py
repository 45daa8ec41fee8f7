"""The host daemon's port tunnel (a WebSocket carrying raw bytes) as a byte stream: what
httpcore's HTTP/1.1 connection reads and writes, and what the WebSocket forward speaks over."""

from __future__ import annotations

import contextlib
import ssl
import typing

import httpcore
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

PORT_REFUSED = 4502


class PortRefused(Exception):
    """The host closed the tunnel with 4502: nothing listens on the port in the sandbox."""


class TunnelStream(httpcore.AsyncNetworkStream):
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._pending = b""
        self.received_any = False

    def _closed(self, exc: ConnectionClosed | None = None) -> None:
        if self.ws.close_code == PORT_REFUSED:
            raise PortRefused(self.ws.close_reason or "connection refused") from exc

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if not self._pending:
            try:
                message = await self.ws.recv()
            except ConnectionClosed as exc:
                self._closed(exc)
                return b""  # EOF
            self._pending = message.encode() if isinstance(message, str) else message
            self.received_any = True
        chunk, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        return chunk

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            await self.ws.send(buffer)
        except ConnectionClosed as exc:
            self._closed(exc)
            raise httpcore.WriteError("the tunnel to the sandbox closed") from exc

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise NotImplementedError("the tunnel carries plain HTTP")

    def get_extra_info(self, info: str) -> typing.Any:
        return None
